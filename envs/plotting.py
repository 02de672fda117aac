"""Values and policies drawn on the grid (matplotlib, imported lazily)."""

from __future__ import annotations

import functools
import io
from typing import Any

import numpy as np

from envs.gridworld import AGENT_COLOUR, ARROWS, CELL_COLOURS, DELTAS, GridWorldEnv
from envs.layouts import FLOOR, GOAL, HOLE, ONE_WAY_CHARS, START, WALL

__all__ = ["value_grid", "format_value_grid", "format_policy_grid", "plot_values", "new_figure", "cell_legend", "value_figure", "PAGE_WIDTH"]

PAGE_WIDTH = 10.0  # inches: at the 110 dpi the figures are saved with, the report's 1100-pixel column


def new_figure(nrows: int = 1, ncols: int = 1, figsize: tuple[float, float] = (PAGE_WIDTH, 4.0), **kwargs: Any):
    """A matplotlib ``Figure`` and its axes, made without pyplot.

    No backend is selected and no global state is touched, so library code can draw in any
    process (a notebook's inline backend, a headless server) and the caller keeps the figure:
    ``fig.savefig(path)`` writes it, a notebook displays it (as a PNG, through ``_repr_png_``).

    Example:
        >>> fig, ax = new_figure(figsize=(4, 3))
        >>> fig.savefig("v.png")  # doctest: +SKIP
    """
    fig = _figure_class()(figsize=figsize, layout="constrained")
    return fig, fig.subplots(nrows, ncols, **kwargs)


@functools.cache
def _figure_class() -> type:
    """``Figure`` that a notebook shows as a PNG (``_repr_png_``) without pyplot's inline backend."""
    from matplotlib.figure import Figure

    class NotebookFigure(Figure):
        def _repr_png_(self) -> bytes:
            buffer = io.BytesIO()
            self.savefig(buffer, format="png", dpi=100)
            return buffer.getvalue()

    return NotebookFigure


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


def _rgb(colour: tuple[int, int, int]) -> tuple[float, ...]:
    return tuple(c / 255 for c in colour)


def cell_legend(fig: Any, undecodable: bool = False, **kwargs: Any) -> Any:
    """A legend of the rendered frames' colours (``GridWorldEnv.render_rgb``) placed on ``fig``.

    Arguments:
        fig: the matplotlib Figure.
        undecodable: also name the grey frame drawn for an observation that decodes to no state.
        kwargs: passed to ``fig.legend`` (``loc``, ``ncols``, ...).
    """
    from matplotlib.patches import Patch

    kinds = [(AGENT_COLOUR, "agent"), (CELL_COLOURS[FLOOR], "floor"), (CELL_COLOURS[START], "start"),
             (CELL_COLOURS[GOAL], "goal"), (CELL_COLOURS[HOLE], "hole"), (CELL_COLOURS[WALL], "wall"),
             (CELL_COLOURS[ONE_WAY_CHARS[0]], "one-way")]
    if undecodable:
        kinds.append(((128, 128, 128), "decodes to no state"))
    handles = [Patch(facecolor=_rgb(c), edgecolor="0.6", label=label) for c, label in kinds]
    return fig.legend(handles=handles, fontsize=8, frameon=False, **kwargs)


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
    import matplotlib

    grid = value_grid(env, V)
    masked = np.ma.masked_invalid(grid)
    cm = matplotlib.colormaps[cmap].with_extremes(bad=(0.25, 0.25, 0.28))
    im = ax.imshow(masked, cmap=cm, vmin=vmin, vmax=vmax, interpolation="nearest")
    layout = env.layout.grid
    for ch in (GOAL, HOLE):  # in the colours of the rendered frames (CELL_COLOURS), edged in white
        rr, cc = np.nonzero(layout == ch)
        ax.scatter(cc, rr, marker="s", s=40, color=_rgb(CELL_COLOURS[ch]), edgecolors="white", linewidths=0.8)
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


def value_figure(env: GridWorldEnv, V: np.ndarray, policy: np.ndarray | None = None, title: str = "",
                 width: float = 5.5) -> Any:
    """One heatmap of V with its colour bar and policy arrows, sized to the grid's aspect.

    Example:
        >>> sol = agents.dp.solve(env.unwrapped.mdp, 0.99)  # doctest: +SKIP
        >>> value_figure(env.unwrapped, sol.V, sol.policy, "V*").savefig("vstar.png")  # doctest: +SKIP
    """
    fig, ax = new_figure(figsize=(width, 0.5 + (width - 1.0) * env.height / env.width))
    im = plot_values(ax, env, V, policy, title=title)
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    return fig
