"""``gridlab world train|score|rollout``: glue between the command line and ``generative.run``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from gridlab.envspec import UsageError, make_env

__all__ = ["world_train", "world_score", "world_rollout", "format_score"]


def world_train(env_id: str, family: str, obs_mode: str, samples: int, epochs: int | None, device: str,
                seed: int, kwargs: dict[str, Any], out: str | None, progress: bool = True) -> Path:
    """Train a world model into a run directory (``generative.run.train``); returns its path."""
    from generative import run

    if obs_mode == "index":
        raise UsageError("world models need vector or frame observations: --obs-mode onehot, coords, image or pixels")
    make_env(env_id, kwargs, obs_mode=obs_mode)  # a bad id or argument: one line, before any work
    try:
        model = run.train(env_id, family, env_kwargs={**kwargs, "obs_mode": obs_mode}, samples=samples, seed=seed,
                          device=device, epochs=epochs, out_dir=out, progress=progress)
    except ValueError as e:  # an existing run directory, a sample count too large for memory, ...
        raise UsageError(str(e)) from None
    return model.run_dir


def _load(run_dir: str):
    from generative import run

    try:
        return run.load(run_dir)
    except ValueError as e:
        raise UsageError(str(e)) from None


def format_score(result: dict[str, Any]) -> str:
    """``score``'s result as a table, each metric beside a perfect model's (the noise floor)."""
    from generative.scoring import SCORE_KEYS

    floor = result.get("noise_floor", {})
    lines = [f"{'':20s} {'model':>8s} {'perfect model (noise floor)':>28s}"]
    lines += [f"{k:20s} {result[k]: .4f} {floor[k]: 28.4f}" if k in floor else f"{k:20s} {result[k]: .4f}" for k in SCORE_KEYS]
    rt = result["rollout_tv"]
    lines.append(f"{'rollout_tv (k=1..H)':20s} " + " ".join(f"{v:.3f}" for v in rt))
    if floor:
        lines.append(f"{'  perfect model':20s} " + " ".join(f"{v:.3f}" for v in floor["rollout_tv"]))
    for k, v in result.get("pixel", {}).items():  # pixel observations: the video-prediction metrics
        lines.append(f"{k:20s} {v: .4f}")
    if "nll" in result:
        lines.append(f"{'held-out NLL':20s} {result['nll']: .4f}  (true conditional entropy {result['true_conditional_entropy']:.4f})")
    return "\n".join(lines)


def world_score(run_dir: str, samples: int = 1000, horizon: int = 20) -> tuple[dict[str, Any], list[Path]]:
    """Score a saved world model; writes ``score.json`` and ``score.png`` together."""
    from generative import run, score

    model, held = _load(run_dir)
    try:
        result = score(model, n_samples=samples, horizon=horizon, held_out=held)
    except (TypeError, ValueError) as e:  # checked before anything is computed or written
        raise UsageError(str(e)) from None
    return result, run.save_score(run_dir, model, result)


def world_rollout(run_dir: str, policy: str = "uniform", horizon: int = 10, seed: int = 0) -> Path:
    """Write ``rollout.png``: one imagined rollout (top row) above one real rollout (bottom row)."""
    from agents import dp
    from generative.plotting import plot_rollouts

    model, _ = _load(run_dir)
    mdp = model.env.mdp
    if policy == "optimal":
        pi = dp.solve(mdp).policy
    elif policy == "uniform":
        pi = "uniform"
    else:
        raise UsageError(f"--policy must be 'uniform' or 'optimal', got {policy!r}")
    rng = np.random.default_rng(seed)
    s0 = int(rng.choice(mdp.n_states, p=mdp.initial))
    return plot_rollouts(model, s0, pi, horizon, rng, Path(run_dir) / "rollout.png", f"{model.family}, {policy} policy",
                         seed=seed)
