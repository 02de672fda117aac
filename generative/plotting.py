"""Figures of world-model scores and rollouts: one colour scale per quantity across models.

Drawn on ``matplotlib.figure.Figure`` (no pyplot, no backend switch); the ``plot_*`` functions
write them as PNGs sized for a 1100-pixel page column.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["score_figure", "score_limits", "per_state", "strip_figure", "plot_score", "plot_strip", "plot_rollouts",
           "sequence_score_figure"]


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
    im = plot_values(axes[0], env, per_state(result, "tv", env.n_states), title=f"TV per state (mean over actions), {model.family}",
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


def per_state(result: dict[str, Any], key: str, n_states: int) -> np.ndarray:
    """A per-pair metric of ``score``'s result (``"tv"``, ``"hallucinated_mass"``, ...) averaged
    over each state's scored actions (0 where none was scored: terminal states).

    Example:
        >>> r = {"per_pair": {"pairs": [[0, 0], [0, 1], [1, 0]], "tv": [0.1, 0.3, 0.5]}}
        >>> per_state(r, "tv", 3).tolist()
        [0.2, 0.5, 0.0]
    """
    pairs = np.asarray(result["per_pair"]["pairs"]).reshape(-1, 2)
    total, count = np.zeros(n_states), np.zeros(n_states)
    np.add.at(total, pairs[:, 0], np.asarray(result["per_pair"][key]))
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
        "tv": top([float(per_state(r, "tv", 1 + int(np.max(np.asarray(r["per_pair"]["pairs"]), initial=0))).max())
                   for r in results]),
        "kl": top([r[k] for r in results + floors for k in ("forward_kl", "reverse_kl")]),
        "rollout_tv": top([max(r["rollout_tv"]) for r in results + floors], at_least=0.1),
    }


def plot_strip(env, imagined: np.ndarray, real: np.ndarray, png: Path, title: str) -> Path:
    """Write :func:`strip_figure` as a PNG; returns ``png``."""
    strip_figure(env, imagined, real, title).savefig(png, dpi=100)
    return png


def plot_rollouts(model, s0: int, policy: Any, horizon: int, rng: np.random.Generator, png: Path, title: str,
                  seed: int = 0) -> Path:
    """One imagined rollout of ``model`` (``seed``) above one real rollout of its world (``rng``),
    both from state ``s0`` under ``policy`` (``"uniform"`` or state -> action), as a
    :func:`strip_figure` PNG; returns ``png``."""
    env = model.env
    imagined = model.rollout(env.encode_batch([s0]), policy, horizon, n=1, seed=seed)["states"][0]
    real = env.mdp.sample_states(policy, horizon, rng, start=s0)
    return plot_strip(env, imagined, real, png, title)


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


def sequence_score_figure(results: dict[str, Any] | list[dict[str, Any]]) -> Any:
    r"""A world model with memory against the forward algorithm: the KL by step
    (:math:`\mathrm{KL}(p \,\|\, q)` at each step of history, mean over episodes), the k-step
    open-loop TV beside a perfect model's noise floor, and the belief probe's held-out KL beside
    shuffled features.

    Arguments:
        results: what ``generative.sequence_scoring.score_sequence`` returned, for one model or
            several (drawn together, one colour each, on the same axes).
    """
    from envs.plotting import PAGE_WIDTH, new_figure

    results = [results] if isinstance(results, dict) else list(results)
    fig, axes = new_figure(1, 3, figsize=(PAGE_WIDTH, 3.3))
    for r in results:
        kl = np.asarray(r["kl_by_step"])
        axes[0].plot(np.arange(1, len(kl) + 1), kl, lw=1.2, label=f"{r['family']} (rate {r['kl_rate']:.3f})")
        ks = np.arange(1, len(r["open_loop_tv"]) + 1)
        axes[1].plot(ks, r["open_loop_tv"], marker=".", label=r["family"])
    floor = results[0]["open_loop_floor"]
    axes[1].plot(np.arange(1, len(floor) + 1), floor, ls="--", color="gray", label="perfect model (noise floor)")
    axes[0].set_xlabel("step t")
    axes[0].set_ylabel("nats")
    axes[0].set_title("KL(p || q) of the next observation, by step", fontsize=10)
    axes[1].set_xlabel("open-loop steps k")
    axes[1].set_title(f"open-loop TV from step {results[0]['open_loop_t0']}", fontsize=10)
    for ax in axes[:2]:
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    probed = [r for r in results if "probe" in r]
    if probed:
        x = np.arange(len(probed))
        axes[2].bar(x - 0.2, [r["probe"]["kl"] for r in probed], 0.4, label="probe on the model's state")
        axes[2].bar(x + 0.2, [r["probe"]["kl_shuffled"] for r in probed], 0.4, color="lightgray", label="shuffled state")
        axes[2].set_xticks(x, [r["family"] for r in probed])
        axes[2].legend(fontsize=8)
    axes[2].set_title("belief probe: held-out KL(b || b_hat)", fontsize=10)
    return fig

