"""``gridlab train`` and ``gridlab compare``: SB3 agents on the grids, measured exactly."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from gridlab.envspec import UsageError

__all__ = ["train_run", "compare_run", "minigrid_comparison"]


def train_run(env_id: str, algo: str, steps: int | None, seed: int, gamma: float, n_envs: int | None,
              hyperparams: str | None, kwargs: dict[str, Any], out: str | None, device: str,
              progress_bar: bool = True) -> Path:
    """Train and return the run directory; user errors become one-line ``UsageError``."""
    import gymnasium as gym

    from agents import sb3
    from gridlab.envspec import make_env

    make_env(env_id, kwargs)  # validates the id and kwargs with the CLI's messages
    try:
        model = sb3.train(env_id, algo, total_timesteps=steps, seed=seed, gamma=gamma, env_kwargs=kwargs,
                          hyperparams=hyperparams, n_envs=n_envs, out_dir=out, progress_bar=progress_bar,
                          device=device)
    except (ValueError, gym.error.Error) as e:
        raise UsageError(str(e)) from None
    return model.run_dir


def minigrid_comparison(model: Any) -> Any:
    """A MiniGrid run (``sb3.load`` or ``sb3.train``'s model) judged on the layouts of seeds
    ``EVAL_SEEDS``, seen through its preset's wrapper and its own VecNormalize."""
    from agents import sb3
    from agents.minigrid_compare import EVAL_SEEDS, compare_minigrid_seeds

    wrap = sb3.env_wrapper(model.config.get("hyperparams") or {})
    return compare_minigrid_seeds(model, model.config["env_id"], EVAL_SEEDS, wrapper=wrap or "flat",
                                  env=model.vec_normalize)


def compare_run(run_dir: str, gamma: float | None = None, weighting: str = "uniform",
                time_limit: float = 60.0) -> tuple[Any, list[Path]]:
    """Compare a saved run exactly; writes ``comparison.json``, ``comparison.png`` and ``learning_curves.png``.

    A run on a POMDP is judged by :func:`agents.pomdp_compare.compare_pomdp` (``gamma`` and
    ``weighting`` do not apply; ``time_limit`` bounds its solve and a recurrent agent's history tree).
    A run on a MiniGrid world (the lab's or the RL Zoo's) is judged under MiniGrid's own objective on
    the layouts of seeds ``EVAL_SEEDS`` by :func:`agents.minigrid_compare.compare_minigrid_seeds`.
    """
    import gymnasium as gym

    from agents import sb3
    from agents.compare import compare, plot_learning_curves
    from envs.minigrid import is_minigrid
    from agents.pomdp_compare import compare_pomdp, plot_pomdp_learning_curves
    from envs.pomdp_env import POMDPEnv
    from envs.rundir import atomic_write_text

    path = Path(run_dir)
    try:
        model, env = sb3.load(path, device="cpu")
        if is_minigrid(model.config["env_id"]):
            if gamma is not None:
                raise ValueError("a MiniGrid run is judged under MiniGrid's own objective; --gamma does not apply")
            c = minigrid_comparison(model)
            curves = None
        elif isinstance(env.unwrapped, POMDPEnv):
            if gamma is not None:
                raise ValueError("a POMDP run is compared at its model's own discount; --gamma does not apply")
            c = compare_pomdp(model, env, time_limit=time_limit, tree_time_limit=time_limit,
                              seed=int(model.config.get("seed") or 0))
            curves = plot_pomdp_learning_curves
        else:
            c = compare(model, env, gamma=gamma, weighting=weighting)
            curves = plot_learning_curves
    except (ValueError, ImportError, gym.error.Error) as e:
        raise UsageError(str(e)) from None
    written = []
    atomic_write_text(path / "comparison.json", json.dumps(
        {"run_dir": str(path), "env_id": model.config["env_id"], "algo": model.config["algo"], **c.to_dict()}, indent=1))
    written.append(path / "comparison.json")
    written.append(Path(c.plot(str(path / "comparison.png"))))
    if curves is not None and (path / "exact_eval.csv").is_file():
        written.append(Path(curves(str(path / "exact_eval.csv"), str(path / "learning_curves.png"))))
    return c, written
