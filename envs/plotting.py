"""Values and policies drawn on the grid (matplotlib, imported lazily)."""

from __future__ import annotations

from typing import Any

import numpy as np

from envs.gridworld import ARROWS, DELTAS, GridWorldEnv
from envs.layouts import GOAL, HOLE, WALL

__all__ = ["value_grid", "format_value_grid", "format_policy_grid", "plot_values"]


def value_grid(env: GridWorldEnv, V: np.ndarray) -> np.ndarray:
    """``(H, W)`` array of V on the floor cells, NaN on walls."""
    grid = np.full((env.height, env.width), np.nan)
    r, c = env.state_rc.T
    grid[r, c] = V
    return grid


def format_value_grid(env: GridWorldEnv, V: np.ndarray, digits: int = 2) -> str:
    """V as text laid out on the grid, walls as ``#``."""
    width = digits + 5
    lines = []
    for r in range(env.height):
        cells = []
        for c in range(env.width):
            s = env.cell_to_state[r, c]
            cells.append("#".center(width) if s < 0 else f"{V[s]:{width}.{digits}f}")
        lines.append(" ".join(cells))
    return "\n".join(lines)


def format_policy_grid(env: GridWorldEnv, policy: np.ndarray) -> str:
    """The policy as arrows on the grid; walls ``#``, goals ``G``, holes ``H``."""
    g = env.layout.grid
    lines = []
    for r in range(env.height):
        row = []
        for c in range(env.width):
            ch = g[r, c]
            if ch in (WALL, GOAL, HOLE):
                row.append(ch)
            else:
                row.append(ARROWS[int(policy[env.cell_to_state[r, c]])])
        lines.append("".join(row))
    return "\n".join(lines)


def plot_values(
    ax: Any,
    env: GridWorldEnv,
    V: np.ndarray,
    policy: np.ndarray | None = None,
    title: str = "",
    cmap: str = "viridis",
    vmin: float | None = None,
    vmax: float | None = None,
    annotate: bool | None = None,
) -> Any:
    """Heatmap of V on the grid with optional greedy-policy arrows; returns the image artist.

    Arguments:
        ax: a matplotlib Axes.
        env: the grid the values belong to.
        V: ``(S,)`` values.
        policy: optional ``(S,)`` actions drawn as arrows on live cells.
        title: axes title.
        annotate: write the numbers in the cells (default: when the grid has at most 150 cells).
    """
    import matplotlib.pyplot as plt  # noqa: F401  (registers the colormaps)

    grid = value_grid(env, V)
    masked = np.ma.masked_invalid(grid)
    cm = plt.get_cmap(cmap).with_extremes(bad=(0.25, 0.25, 0.28))
    im = ax.imshow(masked, cmap=cm, vmin=vmin, vmax=vmax, interpolation="nearest")
    layout = env.layout.grid
    for ch, colour in ((GOAL, "white"), (HOLE, "red")):
        rr, cc = np.nonzero(layout == ch)
        ax.scatter(cc, rr, marker="s" if ch == GOAL else "x", s=40, c=colour, linewidths=1.5)
    if policy is not None:
        live = ~env.mdp.terminal
        rc = env.state_rc[live]
        d = DELTAS[np.asarray(policy)[live]]
        ax.quiver(rc[:, 1], rc[:, 0], d[:, 1] * 0.35, d[:, 0] * 0.35, color="white", scale=1, scale_units="xy",
                  angles="xy", width=0.006, headwidth=4, pivot="middle")
    if annotate is None:
        annotate = env.height * env.width <= 150
    if annotate:
        for s, (r, c) in enumerate(env.state_rc):
            ax.text(c, r + 0.32, f"{V[s]:.2f}", ha="center", va="center", fontsize=6, color="white")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title, fontsize=9)
    return im
