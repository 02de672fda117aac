"""Train Stable-Baselines3 agents on the registered grids, with presets in RL Zoo's YAML format.

A run directory holds:

- ``model.zip``: the SB3 model;
- ``config.json``: env id and kwargs, algo, gamma, seed, hyperparameters, package versions;
- ``tb/``: TensorBoard logs (SB3's own, plus ``exact/*`` from :class:`ExactEvalCallback`);
- ``exact_eval.csv``: the exact metrics over training;
- ``monitor/`` and ``eval/``: SB3's ``Monitor`` episodes and ``EvalCallback`` results.

Runs are written to a temporary directory and renamed into place when complete, so a run
directory that exists is always whole.
"""

from __future__ import annotations

import json
import platform
import time
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import yaml

import envs  # noqa: F401  (registers the suite)
from agents.callbacks import ExactEvalCallback
from agents.rundir import atomic_run_dir

__all__ = ["ALGOS", "load_hyperparams", "train", "load", "PRESETS_DIR"]

PRESETS_DIR = Path(__file__).parent / "hyperparams"
ALGOS = ("ppo", "a2c", "dqn", "qrdqn")
_NOT_MODEL_KWARGS = {"n_timesteps", "n_envs", "policy", "normalize", "eval_freq"}


def _algo_class(algo: str) -> type:
    from sb3_contrib import QRDQN
    from stable_baselines3 import A2C, DQN, PPO

    classes = {"ppo": PPO, "a2c": A2C, "dqn": DQN, "qrdqn": QRDQN}
    if algo not in classes:
        raise ValueError(f"unknown algo {algo!r}; expected one of {', '.join(ALGOS)}")
    return classes[algo]


def _read_yaml(path: Path) -> dict[str, Any]:
    with open(path) as f:
        data = yaml.load(f, Loader=yaml.UnsafeLoader) or {}  # RL Zoo files use !!float tags
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping of env ids to hyperparameters")
    return data


def load_hyperparams(env_id: str, algo: str, hyperparams: dict[str, Any] | str | Path | None = None) -> dict[str, Any]:
    """Hyperparameters for (env_id, algo): shipped ``default``, then the shipped entry for ``env_id``,
    then the user's (a dict, or a YAML file in RL Zoo's format, keyed by env id or flat).

    Example:
        >>> load_hyperparams("gridlab/FourRooms-v0", "ppo")["n_envs"]
        8
    """
    _algo_class(algo)
    shipped = _read_yaml(PRESETS_DIR / f"{algo}.yml")
    hp = {**shipped.get("default", {}), **shipped.get(env_id, {})}
    if hyperparams is None:
        return hp
    if isinstance(hyperparams, (str, Path)):
        path = Path(hyperparams)
        if not path.is_file():
            raise ValueError(f"hyperparameter file {str(path)!r} does not exist")
        user = _read_yaml(path)
        if env_id in user or "default" in user:
            user = {**user.get("default", {}), **user.get(env_id, {})}
    else:
        user = dict(hyperparams)
    return {**hp, **user}


def _policy_kwargs(value: Any) -> dict[str, Any]:
    """RL Zoo writes policy_kwargs as a Python expression string: ``"dict(net_arch=[64, 64])"``."""
    if value is None or isinstance(value, dict):
        return value or {}
    import torch.nn as nn

    return eval(str(value), {"__builtins__": {}}, {"dict": dict, "nn": nn})  # noqa: S307 (RL Zoo's format)


def _schedule(value: Any) -> Any:
    """RL Zoo's ``lin_<x>``: a rate decaying linearly from x to 0 over training (SB3 passes the
    remaining progress, 1 -> 0). Other values pass through."""
    if isinstance(value, str) and value.startswith("lin_"):
        start = float(value[4:])
        return lambda progress_remaining: progress_remaining * start
    return value


def _versions() -> dict[str, str]:
    import sb3_contrib
    import stable_baselines3
    import torch

    return {"python": platform.python_version(), "gymnasium": gym.__version__, "stable_baselines3": stable_baselines3.__version__,
            "sb3_contrib": sb3_contrib.__version__,
            "torch": torch.__version__, "numpy": np.__version__}


def _resolve_device(device: str) -> str:
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


def train(
    env_id: str,
    algo: str = "ppo",
    total_timesteps: int | None = None,
    seed: int = 0,
    gamma: float = 0.99,
    env_kwargs: dict[str, Any] | None = None,
    hyperparams: dict[str, Any] | str | Path | None = None,
    n_envs: int | None = None,
    out_dir: str | Path | None = None,
    progress_bar: bool = True,
    device: str = "auto",
    eval_freq: int | None = None,
) -> Any:
    """Train an SB3 agent on a registered grid and save a complete run directory.

    Arguments:
        env_id: a registered id, e.g. ``"gridlab/FourRooms-v0"``.
        algo: ``"ppo"``, ``"a2c"``, ``"dqn"`` (SB3) or ``"qrdqn"`` (sb3-contrib's quantile-regression DQN).
        total_timesteps: environment steps; defaults to the preset's ``n_timesteps``.
        seed: seeds the model, the vector envs and the evaluation (same seed, same result on CPU).
        gamma: the agent's discount (also the default gamma of its exact comparison).
        env_kwargs: keyword arguments of the env (``slip``, ``obs_mode``, ``layout``...).
        hyperparams: overrides of the shipped presets: a dict or a YAML file in RL Zoo's format.
        n_envs: number of parallel envs; defaults to the preset's.
        out_dir: the run directory; default ``runs/<algo>_<env>_s<seed>_<time>``. Must not exist.
        progress_bar: SB3's tqdm + rich progress bar.
        device: ``"auto"``, ``"cpu"`` or ``"cuda"``. Small MLPs run fastest on one CPU thread,
            so on CPU torch is set to one thread.
        eval_freq: timesteps between evaluations (Monte Carlo ``EvalCallback`` and exact
            ``ExactEvalCallback``); default 20 evaluations per run.

    Returns:
        The trained model; ``model.run_dir`` is the run directory.
    """
    import torch
    from stable_baselines3.common.callbacks import CallbackList, EvalCallback
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.utils import set_random_seed

    cls = _algo_class(algo)
    if env_id not in gym.registry:
        raise ValueError(f"unknown env id {env_id!r}")
    if not 0.0 < gamma <= 1.0:
        raise ValueError(f"gamma must be in (0, 1], got {gamma}")
    hp = load_hyperparams(env_id, algo, hyperparams)
    if hp.get("normalize"):
        raise ValueError("normalize (VecNormalize) is not supported: exact comparison needs unscaled rewards")
    total = int(total_timesteps if total_timesteps is not None else hp.get("n_timesteps", 100_000))
    n = int(n_envs if n_envs is not None else hp.get("n_envs", 1))
    env_kwargs = dict(env_kwargs or {})
    device = _resolve_device(device)
    if device == "cpu":
        torch.set_num_threads(1)

    run_dir = Path(out_dir) if out_dir else Path("runs") / f"{algo}_{env_id.split('/')[-1]}_s{seed}_{time.strftime('%Y%m%d-%H%M%S')}"
    with atomic_run_dir(run_dir) as tmp:
        set_random_seed(seed)
        venv = make_vec_env(env_id, n_envs=n, seed=seed, env_kwargs=env_kwargs, monitor_dir=str(tmp / "monitor"))
        eval_env = make_vec_env(env_id, n_envs=1, seed=seed + 10_000, env_kwargs=env_kwargs)
        exact_env = gym.make(env_id, **env_kwargs)
        model_kwargs = {k: v for k, v in hp.items() if k not in _NOT_MODEL_KWARGS}
        model_kwargs["policy_kwargs"] = _policy_kwargs(model_kwargs.get("policy_kwargs"))
        for key in ("learning_rate", "clip_range"):
            if key in model_kwargs:
                model_kwargs[key] = _schedule(model_kwargs[key])
        model = cls(hp.get("policy", "MlpPolicy"), venv, gamma=gamma, seed=seed, device=device,
                    tensorboard_log=str(tmp / "tb"), verbose=0, **model_kwargs)
        every = int(eval_freq or hp.get("eval_freq") or max(total // 20, 1))
        calls = max(every // n, 1)
        callbacks = CallbackList([
            EvalCallback(eval_env, n_eval_episodes=10, eval_freq=calls, log_path=str(tmp / "eval"),
                         best_model_save_path=None, deterministic=True, verbose=0),
            ExactEvalCallback(exact_env, eval_freq=calls, csv_path=tmp / "exact_eval.csv"),
        ])
        t0 = time.perf_counter()
        model.learn(total_timesteps=total, callback=callbacks, progress_bar=progress_bar, tb_log_name="run")
        seconds = time.perf_counter() - t0
        model.save(tmp / "model.zip")
        config = {
            "env_id": env_id, "env_kwargs": env_kwargs, "algo": algo, "gamma": gamma, "seed": seed,
            "total_timesteps": total, "n_envs": n, "device": device, "hyperparams": hp,
            "train_seconds": seconds, "versions": _versions(),
        }
        (tmp / "config.json").write_text(json.dumps(config, indent=1, default=str))
    model.run_dir = run_dir
    return model


def load(run_dir: str | Path, device: str = "auto") -> tuple[Any, gym.Env]:
    """Load a run directory written by :func:`train`: returns ``(model, env)``.

    The env is made fresh from the run's env id and kwargs.
    """
    run_dir = Path(run_dir)
    cfg_path = run_dir / "config.json"
    if not cfg_path.is_file():
        raise ValueError(f"{str(run_dir)!r} is not a complete run directory (no config.json)")
    config = json.loads(cfg_path.read_text())
    cls = _algo_class(config["algo"])
    env = gym.make(config["env_id"], **config.get("env_kwargs", {}))
    model = cls.load(run_dir / "model.zip", device=_resolve_device(device))
    model.run_dir = run_dir
    model.config = config
    return model, env
