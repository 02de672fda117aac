"""``gridlab world train|score|rollout``: generative world models of a grid, scored exactly."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from agents.rundir import atomic_run_dir, atomic_write_text
from gridlab.envspec import UsageError, make_env

__all__ = ["world_train", "world_score", "world_rollout", "format_score", "score_figure", "score_limits",
           "strip_figure", "plot_score", "plot_strip"]

SCORE_KEYS = ("tv", "forward_kl", "reverse_kl", "jsd", "mode_recall", "hallucinated_mass")


def world_train(env_id: str, family: str, obs_mode: str, samples: int, epochs: int | None, device: str,
                seed: int, kwargs: dict[str, Any], out: str | None, progress: bool = True) -> Path:
    """Collect transitions, train a world model, save ``model.pt``, ``data.npz``, ``config.json``."""
    from generative import collect_transitions, train_world_model

    if obs_mode == "index":
        raise UsageError("world models need vector observations: --obs-mode onehot, coords or image")
    env = make_env(env_id, kwargs, obs_mode=obs_mode)
    run_dir = Path(out) if out else Path("runs") / f"world_{family}_{env_id.split('/')[-1]}_s{seed}_{time.strftime('%Y%m%d-%H%M%S')}"
    if run_dir.exists() and any(run_dir.iterdir()):
        raise UsageError(f"run directory {str(run_dir)!r} already exists and is not empty")
    with atomic_run_dir(run_dir) as tmp:
        data = collect_transitions(env, samples, seed=seed)
        train, held = data.split(0.9, seed=seed)
        model = train_world_model(train, family, seed=seed, device=device, epochs=epochs, progress=progress)
        model.save(tmp / "model.pt")
        held.save(tmp / "held_out.npz")
        (tmp / "config.json").write_text(json.dumps({
            "env_id": env_id, "env_kwargs": kwargs, "obs_mode": obs_mode, "family": family, "samples": samples,
            "epochs": epochs, "seed": seed, "device": str(model.device), "train_seconds": model.train_seconds,
            "history": model.history}, indent=1))
    return run_dir


def _load(run_dir: str):
    from generative import TransitionDataset, WorldModel

    path = Path(run_dir)
    if not (path / "model.pt").is_file():
        raise UsageError(f"{run_dir!r} is not a world-model run directory (no model.pt)")
    held = TransitionDataset.load(path / "held_out.npz") if (path / "held_out.npz").is_file() else None
    try:
        return path, WorldModel.load(path / "model.pt", device="cpu"), held
    except ValueError as e:  # a truncated or foreign model.pt
        raise UsageError(f"{run_dir}: {e}") from None


def format_score(result: dict[str, Any]) -> str:
    floor = result.get("noise_floor", {})
    lines = [f"{'':20s} {'model':>8s} {'perfect model (noise floor)':>28s}"]
    lines += [f"{k:20s} {result[k]: .4f} {floor[k]: 28.4f}" if k in floor else f"{k:20s} {result[k]: .4f}" for k in SCORE_KEYS]
    rt = result["rollout_tv"]
    lines.append(f"{'rollout_tv (k=1..H)':20s} " + " ".join(f"{v:.3f}" for v in rt))
    if floor:
        lines.append(f"{'  perfect model':20s} " + " ".join(f"{v:.3f}" for v in floor["rollout_tv"]))
    if "nll" in result:
        lines.append(f"{'held-out NLL':20s} {result['nll']: .4f}  (true conditional entropy {result['true_conditional_entropy']:.4f})")
    return "\n".join(lines)


def world_score(run_dir: str, samples: int = 1000, horizon: int = 20) -> tuple[dict[str, Any], list[Path]]:
    """Score a saved world model; writes ``score.json`` and ``score.png``."""
    from generative import score

    path, model, held = _load(run_dir)
    try:
        result = score(model, n_samples=samples, horizon=horizon, held_out=held)
    except (TypeError, ValueError) as e:  # checked before anything is computed or written
        raise UsageError(str(e)) from None
    # both files or neither: the figure is drawn under a temporary name before either is replaced
    tmp_png = path / ".score.png.tmp"
    try:
        plot_score(model, result, tmp_png)
        atomic_write_text(path / "score.json", json.dumps(result))
        os.replace(tmp_png, path / "score.png")
    finally:
        tmp_png.unlink(missing_ok=True)
    return result, [path / "score.json", path / "score.png"]


def plot_score(model, result: dict[str, Any], png: Path, limits: dict[str, float] | None = None) -> Path:
    """Write :func:`score_figure` as a PNG, 1100 pixels wide; returns ``png``."""
    score_figure(model, result, limits).savefig(png, dpi=110, format="png")
    return png


def score_figure(model, result: dict[str, Any], limits: dict[str, float] | None = None) -> Any:
    """Per-state TV (mean over actions) on the grid, both KL directions, and rollout TV by horizon.

    Arguments:
        model: the scored world model (its env draws the grid).
        result: what ``generative.score`` returned for it.
        limits: upper ends of the axes, ``{"tv": ..., "kl": ..., "rollout_tv": ...}``; pass the same
            to every model's figure so the same quantity is drawn on the same scale
            (:func:`score_limits` computes them). By default each figure fits its own numbers.
    """
    from envs.plotting import PAGE_WIDTH, new_figure, plot_values

    limits = score_limits([result]) if limits is None else limits
    env = model.env
    fig, axes = new_figure(1, 3, figsize=(PAGE_WIDTH, 3.3))
    im = plot_values(axes[0], env, _tv_per_state(result, env.n_states), title=f"TV per state (mean over actions), {model.family}",
                     cmap="magma", vmin=0.0, vmax=limits["tv"], annotate=False)
    fig.colorbar(im, ax=axes[0], fraction=0.046)
    keys = ["forward_kl", "reverse_kl"]
    floor = result.get("noise_floor")
    bars = axes[1].bar(["KL(P||Q)", "KL(Q||P)"], [result[k] for k in keys], color=["tab:blue", "tab:orange"])
    axes[1].bar_label(bars, fmt="%.3f", fontsize=8)  # readable however small on the shared scale
    if floor:  # what a perfect model scores with the same sample sizes
        axes[1].scatter(["KL(P||Q)", "KL(Q||P)"], [floor[k] for k in keys], marker="_", s=900, color="black",
                        zorder=3, label="perfect model (noise floor)")
        axes[1].legend(fontsize=8)
    axes[1].set_ylim(0, limits["kl"])
    axes[1].set_title("both KL directions (mean over (s, a))", fontsize=10)
    ks = np.arange(1, len(result["rollout_tv"]) + 1)
    axes[2].plot(ks, result["rollout_tv"], marker=".", label=model.family)
    if floor:
        axes[2].plot(ks, floor["rollout_tv"], ls="--", color="gray", label="perfect model (noise floor)")
        axes[2].legend(fontsize=8)
    axes[2].set_xlabel("horizon k")
    axes[2].set_title("rollout TV: imagined vs exact k-step\nstate distribution", fontsize=10)
    axes[2].set_ylim(0, limits["rollout_tv"])
    axes[2].grid(alpha=0.3)
    return fig


def _tv_per_state(result: dict[str, Any], n_states: int) -> np.ndarray:
    """Mean TV over each state's scored actions (0 where none was scored: terminal states)."""
    pairs = np.asarray(result["per_pair"]["pairs"]).reshape(-1, 2)
    total, count = np.zeros(n_states), np.zeros(n_states)
    np.add.at(total, pairs[:, 0], np.asarray(result["per_pair"]["tv"]))
    np.add.at(count, pairs[:, 0], 1.0)
    return total / np.maximum(count, 1.0)


def score_limits(results: list[dict[str, Any]]) -> dict[str, float]:
    """Common upper ends of :func:`plot_score`'s axes for several models' ``score`` results.

    Each is the largest value any model (or its noise floor) reaches, 10% above it; rollout TV
    is drawn up to at least 0.1, so a near-perfect model does not fill the axis with noise.
    """
    def top(values, at_least: float = 1e-3) -> float:
        return max(at_least, 1.1 * max(values))

    floors = [r["noise_floor"] for r in results if r.get("noise_floor")]
    return {
        "tv": top([float(_tv_per_state(r, 1 + int(np.max(np.asarray(r["per_pair"]["pairs"]), initial=0))).max())
                   for r in results]),
        "kl": top([r[k] for r in results + floors for k in ("forward_kl", "reverse_kl")]),
        "rollout_tv": top([max(r["rollout_tv"]) for r in results + floors], at_least=0.1),
    }


def world_rollout(run_dir: str, policy: str = "uniform", horizon: int = 10, seed: int = 0) -> Path:
    """Write ``rollout.png``: one imagined rollout (top row) above one real rollout (bottom row)."""
    from agents import dp

    path, model, _ = _load(run_dir)
    env, mdp = model.env, model.env.mdp
    if policy == "optimal":
        pi = dp.solve(mdp).policy
    elif policy == "uniform":
        pi = "uniform"
    else:
        raise UsageError(f"--policy must be 'uniform' or 'optimal', got {policy!r}")
    rng = np.random.default_rng(seed)
    s0 = int(rng.choice(mdp.n_states, p=mdp.initial))
    imagined = model.rollout(env.encode_batch([s0]), pi, horizon, n=1, seed=seed)["states"][0]
    real = mdp.sample_states(pi, horizon, rng, start=s0)
    return plot_strip(env, imagined, real, path / "rollout.png", f"{model.family}, {policy} policy")


def plot_strip(env, imagined: np.ndarray, real: np.ndarray, png: Path, title: str) -> Path:
    """Write :func:`strip_figure` as a PNG; returns ``png``."""
    strip_figure(env, imagined, real, title).savefig(png, dpi=100)
    return png


def strip_figure(env, imagined: np.ndarray, real: np.ndarray, title: str) -> Any:
    """Imagined states above real ones from the same start, one frame per step, with a colour legend.

    The two rows are independent draws (the model's sampler and the env's share no random
    numbers), and the figure says so: read them as two samples of the same process, not frame
    by frame. A frame whose observation decodes to no state is grey.
    """
    from envs.plotting import PAGE_WIDTH, cell_legend, new_figure

    T = len(real)
    frame_w = min(1.3, (PAGE_WIDTH - 0.8) / T)
    fig, axes = new_figure(2, T, figsize=(0.8 + frame_w * T, 1.35 + 2 * frame_w * env.height / env.width),
                           squeeze=False)
    for row, (states, label) in enumerate(((imagined, "imagined"), (real, "real"))):
        for t in range(T):
            ax = axes[row, t]
            s = int(states[t])
            frame = env.render_rgb(s) if s >= 0 else np.full_like(env.render_rgb(0), 128)
            ax.imshow(frame)
            ax.set_xticks([])
            ax.set_yticks([])
            if row == 0:
                ax.set_title(f"t={t}", fontsize=8)
            if t == 0:
                ax.set_ylabel(label, fontsize=9)
    fig.suptitle(f"{title}: independent samples from the same start, not to be compared frame by frame", fontsize=9)
    cell_legend(fig, undecodable=bool(np.any(np.asarray(imagined) < 0)), loc="outside lower center", ncols=8)
    return fig
