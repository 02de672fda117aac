"""Train Stable-Baselines3 agents on the registered grids, with presets in RL Zoo's YAML format.

A run directory holds:

- ``model.zip``: the SB3 model;
- ``config.json``: env id and kwargs, algo, gamma, seed, hyperparameters, package versions;
- ``tb/``: TensorBoard logs (SB3's own, plus ``exact/*`` from :class:`~agents.callbacks.ExactEvalCallback`);
- ``exact_eval.csv``: the exact metrics over training;
- ``monitor/`` and ``eval/``: SB3's ``Monitor`` episodes and ``EvalCallback`` results.

Runs are written to a temporary directory and renamed into place when complete, so a run
directory that exists is always whole.

Loading runs no code from a file. Presets are YAML read with ``yaml.safe_load`` (RL Zoo's
``!!float`` tags are standard YAML); ``policy_kwargs`` strings are parsed, not evaluated (literals,
``dict(...)`` and ``torch.nn`` classes only). SB3 stores spaces, schedules and classes in
``model.zip`` with cloudpickle, which runs whatever code the file names when unpickled:
:func:`load_model` rebuilds every such entry from the env and the hyperparameters instead, and
the weights are read by SB3 with torch's ``weights_only=True``.
"""

from __future__ import annotations

import ast
import json
import platform
import time
import warnings
import zipfile
from pathlib import Path
from typing import Any, Callable

import gymnasium as gym
import numpy as np
import yaml

import envs  # noqa: F401  (registers the suite)
from agents.algos import ALGOS, ZOO_NAMES, load_algo
from agents.callbacks import ExactEvalCallback
from envs.minigrid import ensure_registered, is_minigrid
from agents.vecnormalize import load_stats, load_zoo_pickle, normalize_kwargs, save_stats
from envs.pomdp_env import POMDPEnv
from envs.resources import resolve_device
from envs.rundir import atomic_run_dir, regular_file

__all__ = ["ALGOS", "load_hyperparams", "model_kwargs", "env_wrapper", "preset_callbacks", "train", "load", "load_model", "PRESETS_DIR"]

PRESETS_DIR = Path(__file__).parent / "hyperparams"
EVAL_EPISODES = 10  # Monte Carlo episodes of each evaluation (EvalCallback), beside the exact one
_NOT_MODEL_KWARGS = {"n_timesteps", "n_envs", "policy", "normalize", "eval_freq", "env_wrapper", "callback"}


def _read_yaml(path: Path, loader: type[yaml.SafeLoader] = yaml.SafeLoader, kind: str = "a plain YAML file of hyperparameters",
               expected: str = "a mapping of env ids to hyperparameters") -> dict[str, Any]:
    """A YAML mapping read with a safe loader (RL Zoo's !!float tags are standard YAML)."""
    try:
        with open(path) as f:
            data = yaml.load(f, Loader=loader) or {}  # noqa: S506 (SafeLoader or a subclass)
    except yaml.YAMLError as e:
        raise ValueError(f"{path}: not {kind} ({str(e).splitlines()[0]})") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected {expected}")
    return data


class _ZooLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that also reads the ``OrderedDict`` tag RL Zoo writes into a run's
    ``config.yml`` and ``args.yml`` (a list of pairs, turned into a dict; nothing is called)."""


_ZooLoader.add_constructor(
    "tag:yaml.org,2002:python/object/apply:collections.OrderedDict",
    lambda loader, node: dict(loader.construct_sequence(node.value[0], deep=True)) if node.value else {},
)


def _read_zoo_yaml(path: Path) -> dict[str, Any]:
    return _read_yaml(path, _ZooLoader, "an RL Zoo run file", "a mapping")


def _zoo_block(data: dict[str, Any], env_id: str, where: str) -> dict[str, Any]:
    """RL Zoo's rule: the env id's own block, else ``default``; never a merge of the two."""
    block = data.get(env_id, data.get("default"))
    if not isinstance(block, dict):
        raise ValueError(f"{where}: no block for {env_id!r} and no 'default' block")
    return dict(block)


def load_hyperparams(env_id: str, algo: str, hyperparams: dict[str, Any] | str | Path | None = None) -> dict[str, Any]:
    """Hyperparameters for (env_id, algo), read as RL Baselines3 Zoo reads them.

    The shipped preset file gives the env id's block, or ``default`` for an id without one (each
    block is complete: the zoo never merges blocks). ``hyperparams`` then changes it: a YAML file
    in the zoo's format (keyed by env id or ``default``) replaces the presets as the zoo's
    ``--conf-file`` does; a flat YAML file or a dict overrides single keys, as the zoo's
    ``--hyperparams key:value`` does.

    Example:
        >>> load_hyperparams("gridlab/FourRooms-v0", "ppo")["n_envs"]
        8
        >>> load_hyperparams("gridlab/FourRooms-v0", "ppo", {"n_envs": 2})["n_envs"]
        2
    """
    load_algo(algo)
    hp = _zoo_block(_read_yaml(PRESETS_DIR / f"{algo}.yml"), env_id, f"{algo}.yml")
    if hyperparams is None:
        return hp
    if isinstance(hyperparams, (str, Path)):
        path = regular_file(hyperparams, "hyperparameter file")
        user = _read_yaml(path)
        if env_id in user or "default" in user:
            return _zoo_block(user, env_id, str(path))
    elif isinstance(hyperparams, dict):
        user = dict(hyperparams)
    else:
        raise TypeError(f"hyperparams must be a dict or a YAML file path, got {type(hyperparams).__name__}")
    return {**hp, **user}


def _policy_kwargs(value: Any) -> dict[str, Any]:
    """RL Zoo writes policy_kwargs as a Python expression string: ``"dict(net_arch=[64, 64])"``.

    It is parsed, not evaluated: literals, ``dict(...)`` calls and ``nn.<Module class>`` names
    (``nn.ReLU``; also spelled ``th.nn.`` or ``torch.nn.``) are all it may hold.

    Example:
        >>> _policy_kwargs("dict(net_arch=dict(pi=[32], vf=[32]), activation_fn=nn.Tanh)")["activation_fn"].__name__
        'Tanh'
    """
    if value is None or isinstance(value, dict):
        return value or {}
    try:
        tree = ast.parse(str(value), mode="eval")
    except SyntaxError:
        raise ValueError(f"policy_kwargs {value!r} is not a Python expression") from None
    result = _literal(tree.body, str(value))
    if not isinstance(result, dict):
        raise ValueError(f"policy_kwargs {value!r} must be a dict, got {type(result).__name__}")
    return result


def _literal(node: ast.AST, source: str) -> Any:
    import torch.nn as nn

    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, (ast.List, ast.Tuple)):
        items = [_literal(e, source) for e in node.elts]
        return items if isinstance(node, ast.List) else tuple(items)
    if isinstance(node, ast.Dict) and None not in node.keys:
        return {_literal(k, source): _literal(v, source) for k, v in zip(node.keys, node.values)}
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "dict" and not node.args:
        return {kw.arg: _literal(kw.value, source) for kw in node.keywords if kw.arg is not None}
    if isinstance(node, ast.Attribute) and ast.unparse(node.value) in ("nn", "th.nn", "torch.nn"):
        found = getattr(nn, node.attr, None)
        if isinstance(found, type) and issubclass(found, nn.Module):
            return found
    raise ValueError(f"policy_kwargs {source!r}: {ast.unparse(node)!r} is not allowed "
                     "(literals, dict(...) and torch.nn classes only)")


def _schedule(value: Any) -> Any:
    """RL Zoo's ``lin_<x>``: a rate decaying linearly from x to 0 over training (SB3 passes the
    remaining progress, 1 -> 0). Other values pass through."""
    if isinstance(value, str) and value.startswith("lin_"):
        start = float(value[4:])
        return lambda progress_remaining: progress_remaining * start
    return value


def model_kwargs(hp: dict[str, Any]) -> dict[str, Any]:
    """The algorithm's constructor arguments from RL Zoo-format hyperparameters (what is not the
    env's, the wrapper's or the budget's), schedules and ``policy_kwargs`` parsed.

    Example:
        >>> model_kwargs({"n_timesteps": 1e5, "n_envs": 4, "learning_rate": "lin_1e-3", "gamma": 0.9})["gamma"]
        0.9
    """
    kwargs = {k: v for k, v in hp.items() if k not in _NOT_MODEL_KWARGS}
    kwargs["policy_kwargs"] = _policy_kwargs(kwargs.get("policy_kwargs"))
    for key in ("learning_rate", "clip_range"):
        if key in kwargs:
            kwargs[key] = _schedule(kwargs[key])
    return kwargs


def _named_classes(hp: dict[str, Any], key: str, base: type, what: str) -> list[tuple[type, dict[str, Any]]]:
    """The classes a preset's ``key`` names, as RL Zoo reads ``env_wrapper`` and ``callback``:
    ``module.Class``, or a list of such names, each optionally a one-key mapping to its keyword
    arguments (``{module.Class: {k: v}}``). Unlike the zoo, each must subclass ``base``, so a
    preset file can name no other callable."""
    import importlib

    names = hp.get(key)
    if names is None:
        return []
    classes = []
    for item in names if isinstance(names, list) else [names]:
        name, kwargs = next(iter(item.items())) if isinstance(item, dict) and len(item) == 1 else (item, {})
        module, _, attr = str(name).rpartition(".")
        try:
            cls = getattr(importlib.import_module(module), attr) if module else None
        except (ImportError, AttributeError):
            cls = None
        if not (isinstance(cls, type) and issubclass(cls, base)) or not isinstance(kwargs or {}, dict):
            raise ValueError(f"{key}: {item!r} is not an importable {what} as module.Class[: kwargs]")
        classes.append((cls, dict(kwargs or {})))
    return classes


def env_wrapper(hp: dict[str, Any]) -> Callable[[gym.Env], gym.Env] | None:
    """The training envs' wrapper named by a preset's ``env_wrapper``, read as RL Zoo reads it.

    ``env_wrapper: envs.wrappers.ExploringStarts``, or a list of such names (applied in order),
    each optionally a one-key mapping to its keyword arguments (``{module.Class: {k: v}}``).
    Unlike the zoo, only subclasses of ``gymnasium.Wrapper`` are accepted, so a preset file can
    name no other callable.

    Raises:
        ValueError: a name that is not ``module.Class``, cannot be imported, or is no ``gymnasium.Wrapper``.

    Example:
        >>> env_wrapper({"env_wrapper": "envs.wrappers.ExploringStarts"}) is not None
        True
    """
    wrappers = _named_classes(hp, "env_wrapper", gym.Wrapper, "gymnasium.Wrapper")
    if not wrappers:
        return None

    def wrap(env: gym.Env) -> gym.Env:
        for cls, kwargs in wrappers:
            env = cls(env, **kwargs)
        return env

    return wrap


def preset_callbacks(hp: dict[str, Any]) -> list[Any]:
    """The SB3 callbacks a preset's ``callback`` key names, built, as RL Zoo builds them
    (``callback: agents.callbacks.EntropySchedule``, or a list, each optionally with its keyword
    arguments); only subclasses of SB3's ``BaseCallback`` are accepted.

    Raises:
        ValueError: a name that is not ``module.Class``, cannot be imported, or is no ``BaseCallback``;
            arguments the callback refuses.

    Example:
        >>> preset_callbacks({"callback": [{"agents.callbacks.EntropySchedule": {"final": 0.0}}]})[0].final
        0.0
    """
    from stable_baselines3.common.callbacks import BaseCallback

    built = []
    for cls, kwargs in _named_classes(hp, "callback", BaseCallback, "stable_baselines3 BaseCallback"):
        try:
            built.append(cls(**kwargs))
        except TypeError as e:
            raise ValueError(f"callback {cls.__module__}.{cls.__name__}: {e}") from None
    return built


def _versions() -> dict[str, str]:
    import sb3_contrib
    import stable_baselines3
    import torch

    return {"python": platform.python_version(), "gymnasium": gym.__version__, "stable_baselines3": stable_baselines3.__version__,
            "sb3_contrib": sb3_contrib.__version__,
            "torch": torch.__version__, "numpy": np.__version__}


def train(
    env_id: str,
    algo: str = "ppo",
    total_timesteps: int | None = None,
    seed: int = 0,
    gamma: float | None = None,
    env_kwargs: dict[str, Any] | None = None,
    hyperparams: dict[str, Any] | str | Path | None = None,
    n_envs: int | None = None,
    out_dir: str | Path | None = None,
    progress_bar: bool = True,
    device: str = "auto",
    eval_freq: int | None = None,
    on_evaluation: Callable[[dict[str, float]], None] | None = None,
) -> Any:
    """Train an SB3 agent on a registered grid and save a complete run directory.

    Arguments:
        env_id: a registered id, e.g. ``"gridlab/FourRooms-v0"``.
        algo: ``"ppo"``, ``"a2c"``, ``"dqn"`` (SB3), ``"qrdqn"`` (sb3-contrib's quantile-regression DQN) or,
            on a POMDP, ``"recurrentppo"`` (sb3-contrib's PPO with an LSTM policy).
        total_timesteps: environment steps; defaults to the preset's ``n_timesteps``.
        seed: seeds the model, the vector envs and the evaluation (same seed, same result on CPU).
        gamma: the agent's discount (also the default gamma of its exact comparison); default a
            POMDP's own discount (its exact comparison is at that discount), else 0.99.
        env_kwargs: keyword arguments of the env (``slip``, ``obs_mode``, ``layout``...).
        hyperparams: overrides of the shipped presets: a dict or a YAML file in RL Zoo's format.
        n_envs: number of parallel envs; defaults to the preset's.
        out_dir: the run directory; default ``runs/<algo>_<env>_s<seed>_<time>``. Must not exist.
        progress_bar: SB3's tqdm + rich progress bar.
        device: ``"auto"``, ``"cpu"`` or ``"cuda"``. Small MLPs run fastest on one CPU thread:
            set ``torch.set_num_threads(1)`` in your entry point (the CLI does).
        eval_freq: timesteps between evaluations (Monte Carlo ``EvalCallback`` and exact
            ``ExactEvalCallback``); default 20 evaluations per run.
        on_evaluation: called with each exact evaluation's row (``ExactEvalCallback``).

    Returns:
        The trained model; ``model.run_dir`` is the run directory and ``model.config`` what
        ``config.json`` holds (as :func:`load` gives them).
    """
    from stable_baselines3.common.callbacks import CallbackList, EvalCallback
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.utils import set_random_seed

    cls = load_algo(algo)
    ensure_registered(env_id)  # a MiniGrid id: registered by importing minigrid, or a line saying how to install it
    if env_id not in gym.registry:
        raise ValueError(f"unknown env id {env_id!r}")
    env_kwargs = dict(env_kwargs or {})
    exact_env = gym.make(env_id, **env_kwargs)
    if gamma is None:
        gamma = exact_env.unwrapped.pomdp.gamma if isinstance(exact_env.unwrapped, POMDPEnv) else 0.99
    if not 0.0 < gamma <= 1.0:
        raise ValueError(f"gamma must be in (0, 1], got {gamma}")
    hp = load_hyperparams(env_id, algo, hyperparams)
    for name, value in (("total_timesteps", total_timesteps), ("n_envs", n_envs)):
        if value is not None and (isinstance(value, bool) or int(value) != value or value < 1):
            raise ValueError(f"{name} must be an integer >= 1, got {value}")
    minigrid = is_minigrid(env_id)
    normalize = normalize_kwargs(hp.get("normalize"), gamma)
    if normalize is not None and not minigrid:
        raise ValueError("normalize (VecNormalize) is not supported: exact comparison needs unscaled rewards "
                         "(MiniGrid runs excepted: their comparison scales the critic back)")
    wrapper = env_wrapper(hp)
    extra_callbacks = preset_callbacks(hp)
    total = int(total_timesteps if total_timesteps is not None else hp.get("n_timesteps", 100_000))
    n = int(n_envs if n_envs is not None else hp.get("n_envs", 1))
    device = resolve_device(device)

    run_dir = Path(out_dir) if out_dir else Path("runs") / f"{algo}_{env_id.split('/')[-1]}_s{seed}_{time.strftime('%Y%m%d-%H%M%S')}"
    with atomic_run_dir(run_dir) as tmp:
        set_random_seed(seed)
        venv = make_vec_env(env_id, n_envs=n, seed=seed, env_kwargs=env_kwargs, monitor_dir=str(tmp / "monitor"),
                            wrapper_class=wrapper)  # training envs only: evaluation starts where the env does
        # a MiniGrid agent sees the world through its wrapper (FlatObsWrapper) in evaluation too
        # one env per Monte Carlo evaluation episode, stepped together: the policy is read once per
        # step for all of them (SB3's evaluate_policy runs each env's own episode to its end)
        eval_env = make_vec_env(env_id, n_envs=EVAL_EPISODES, seed=seed + 10_000, env_kwargs=env_kwargs,
                                wrapper_class=wrapper if minigrid else None)
        if normalize is not None:  # the zoo's normalize: true; EvalCallback syncs the eval env's statistics
            from stable_baselines3.common.vec_env import VecNormalize

            venv = VecNormalize(venv, **normalize)
            eval_env = VecNormalize(eval_env, **{**normalize, "training": False, "norm_reward": False})
        model = cls(hp.get("policy", "MlpPolicy"), venv, gamma=gamma, seed=seed, device=device,
                    tensorboard_log=str(tmp / "tb"), verbose=0, **model_kwargs(hp))
        every = int(eval_freq or hp.get("eval_freq") or max(total // 20, 1))
        calls = max(every // n, 1)
        callbacks = CallbackList([
            EvalCallback(eval_env, n_eval_episodes=EVAL_EPISODES, eval_freq=calls, log_path=str(tmp / "eval"),
                         best_model_save_path=None, deterministic=True, verbose=0),
            ExactEvalCallback(exact_env, eval_freq=calls, csv_path=tmp / "exact_eval.csv", on_evaluation=on_evaluation,
                              wrapper=wrapper or "flat"),
            *extra_callbacks,
        ])
        t0 = time.perf_counter()
        model.learn(total_timesteps=total, callback=callbacks, progress_bar=progress_bar, tb_log_name="run")
        seconds = time.perf_counter() - t0
        model.save(tmp / "model.zip")
        if normalize is not None:
            save_stats(venv, tmp / "vecnormalize.json")
        config = {
            "env_id": env_id, "env_kwargs": env_kwargs, "algo": algo, "gamma": gamma, "seed": seed,
            "total_timesteps": total, "n_envs": n, "device": device, "hyperparams": hp,
            "train_seconds": seconds, "versions": _versions(),
        }
        (tmp / "config.json").write_text(json.dumps(config, indent=1, default=str))
    model.run_dir = run_dir
    model.config = config
    model.vec_normalize = model.get_env() if normalize is not None else None  # as load() gives it
    return model


def load(run_dir: str | Path, device: str = "auto") -> tuple[Any, gym.Env]:
    """Load a run directory written by :func:`train`, or by RL Zoo's ``rl_zoo3.train``: returns ``(model, env)``.

    The env is made fresh from the run's env id and kwargs. A zoo run folder
    (``logs/ppo/gridlab-FourRooms-v0_1``) is read from its ``<env>.zip`` and ``<env>/config.yml``
    and ``args.yml``; ``model.config`` then holds the same keys as a lab run's.
    """
    run_dir = Path(run_dir)
    cfg_path = run_dir / "config.json"
    if not cfg_path.is_file():
        zoo = sorted(run_dir.glob("*/args.yml"))
        if zoo:
            return _load_zoo_run(run_dir, zoo[0].parent, device)
        raise ValueError(f"{str(run_dir)!r} is not a complete run directory (no config.json)")
    try:
        config = json.loads(cfg_path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"{cfg_path}: not a readable run config ({e})") from None
    if not isinstance(config, dict) or "algo" not in config or "env_id" not in config:
        kind = "a world-model run (use gridlab world score)" if (run_dir / "model.pt").exists() else "not an agent run"
        raise ValueError(f"{str(run_dir)!r} is {kind}: its config.json names no algo and env_id")
    env = _agent_env(config["env_id"], config.get("env_kwargs", {}), config.get("hyperparams") or {})
    model = load_model(run_dir / "model.zip", config["algo"], env, config.get("hyperparams"), device=device)
    model.run_dir = run_dir
    model.config = config
    model.vec_normalize = load_stats(run_dir / "vecnormalize.json", env) if (run_dir / "vecnormalize.json").is_file() \
        else None
    return model, env


def _agent_env(env_id: str, env_kwargs: dict[str, Any], hp: dict[str, Any]) -> gym.Env:
    """The env a saved agent acts in: a MiniGrid world behind its preset's wrapper (the agent's
    observation space), any other as registered."""
    ensure_registered(env_id)
    env = gym.make(env_id, **env_kwargs)
    wrap = env_wrapper(hp) if is_minigrid(env_id) else None
    return wrap(env) if wrap is not None else env


def _load_zoo_run(run_dir: Path, params: Path, device: str) -> tuple[Any, gym.Env]:
    args = _read_zoo_yaml(params / "args.yml")
    hp = _read_zoo_yaml(params / "config.yml")
    algo, env_id = str(args.get("algo")), str(args.get("env"))
    algo = {zoo: ours for ours, zoo in ZOO_NAMES.items()}.get(algo, algo)  # the zoo's ppo_lstm is recurrentppo
    env_kwargs = dict(args.get("env_kwargs") or {})
    zips = sorted(run_dir.glob("*.zip"))
    if not zips:
        raise ValueError(f"{str(run_dir)!r} is an RL Zoo run folder without a saved model (.zip)")
    env = _agent_env(env_id, env_kwargs, hp)
    model = load_model(zips[0], algo, env, hp, device=device)
    model.run_dir = run_dir
    model.vec_normalize = load_zoo_pickle(params / "vecnormalize.pkl") if (params / "vecnormalize.pkl").is_file() \
        else None
    model.config = {"env_id": env_id, "env_kwargs": env_kwargs, "algo": algo, "gamma": float(model.gamma),
                    "seed": args.get("seed"), "hyperparams": hp, "source": "rl_zoo3"}
    return model, env


def load_model(path: str | Path, algo: str, env: gym.Env, hyperparams: dict[str, Any] | None = None,
               device: str = "auto") -> Any:
    """Load an SB3 ``model.zip`` (the lab's, or RL Zoo's) without unpickling anything from it.

    SB3 keeps some attributes in the zip as cloudpickle (observation and action spaces, the
    policy class and its kwargs, schedules, buffer classes); unpickling runs any code the file
    names. Each is taken instead from a fresh model built for ``env`` with ``hyperparams`` (RL
    Zoo's format, the run's own; SB3's defaults without them), which is what SB3 held when it
    saved; the last observations and episode buffers start empty (SB3 restarts them when
    learning resumes). A zip holding a pickled entry no fresh model has is refused.
    The weights are read by SB3 with ``torch.load(weights_only=True)``.

    Arguments:
        path: the ``.zip`` file.
        algo: a registered algorithm (``agents.algos.ALGOS``).
        env: the env the model acts in (its spaces are used).
        hyperparams: the hyperparameters it was trained with (for schedules; default SB3's).
        device: ``"auto"``, ``"cpu"`` or ``"cuda"``.
    """
    cls = load_algo(algo)
    path = Path(path)
    hp = dict(hyperparams or {})
    try:
        with zipfile.ZipFile(path) as z:
            data = json.loads(z.read("data"))
    except (OSError, KeyError, zipfile.BadZipFile, json.JSONDecodeError) as e:
        raise ValueError(f"{str(path)!r} is not a readable SB3 model.zip ({e})") from None
    # every pickled attribute is taken from a fresh model built with the same hyperparameters
    # (what SB3 held when it saved), the training state left empty (SB3 restarts it on learn)
    with warnings.catch_warnings():  # a one-env fresh model may warn about batch sizes it never uses
        warnings.simplefilter("ignore", UserWarning)
        fresh = cls(hp.get("policy", "MlpPolicy"), env, device="cpu", **model_kwargs(hp))
    training_state = {"_last_obs", "_last_original_obs", "_last_episode_starts", "ep_info_buffer", "ep_success_buffer"}
    pickled = [k for k, v in data.items() if isinstance(v, dict) and ":serialized:" in v]
    unknown = [k for k in pickled if k not in training_state and k not in vars(fresh)]
    if unknown:
        raise ValueError(f"{str(path)!r} stores {', '.join(map(repr, unknown))} as a pickle, which loading would run "
                         "as code; the lab does not unpickle model files")
    rebuilt = {k: None if k in training_state else vars(fresh)[k] for k in pickled}
    if "replay_buffer_class" in rebuilt and getattr(fresh, "n_steps", 1) > 1 and "replay_buffer_class" not in hp:
        rebuilt["replay_buffer_class"] = None  # SB3 sets its n-step buffer up again (given one, it warns n_steps is ignored)
    return cls.load(path, env=None, device=resolve_device(device), custom_objects=rebuilt)
