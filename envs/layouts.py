"""ASCII layouts of the registered worlds, a layout parser and a seeded maze generator.

Cell characters:

===========  =============================================================================
``#``        wall (not a state)
``.``        floor
``S``        start (one or more; the initial distribution is uniform over them)
``G``        goal: terminal, pays ``goal_reward`` on entry
``H``        hole: terminal, pays ``hole_reward`` on entry
``^ > v <``  one-way door: floor that can only be entered moving in the arrow's direction
===========  =============================================================================
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from envs.resources import BYTES_PER_CELL, require_memory

__all__ = [
    "CELL_CHARS",
    "Layout",
    "parse_layout",
    "open_room",
    "random_maze",
    "OPEN_ROOM",
    "FOUR_ROOMS",
    "CLIFF_WALK",
    "SLIPPERY_LAKE",
    "RISKY_SHORTCUT",
    "ONE_WAY",
]

WALL, FLOOR, START, GOAL, HOLE = "#", ".", "S", "G", "H"
ONE_WAY_CHARS = "^>v<"  # index = action (up, right, down, left) that may enter the cell
CELL_CHARS = WALL + FLOOR + START + GOAL + HOLE + ONE_WAY_CHARS


@dataclass(frozen=True)
class Layout:
    """A parsed layout: a ``(H, W)`` array of cell characters."""

    grid: np.ndarray

    @property
    def shape(self) -> tuple[int, int]:
        return self.grid.shape  # type: ignore[return-value]

    def rows(self) -> list[str]:
        return ["".join(r) for r in self.grid]

    def __str__(self) -> str:
        return "\n".join(self.rows())


def parse_layout(layout: str | list[str] | tuple[str, ...] | Layout) -> Layout:
    """Parse an ASCII layout given as one multi-line string or a list of row strings.

    Raises ``ValueError`` for an unknown character, ragged rows, an empty layout or no start.

    Example:
        >>> parse_layout("S.G").shape
        (1, 3)
    """
    if isinstance(layout, Layout):
        return layout
    if isinstance(layout, str):
        rows = [r.strip() for r in layout.strip("\n").splitlines()]
        rows = [r for r in rows if r]
    else:
        rows = [str(r) for r in layout]
    if not rows or not rows[0]:
        raise ValueError("layout is empty")
    width = len(rows[0])
    for i, r in enumerate(rows):
        if len(r) != width:
            raise ValueError(f"layout rows must all have length {width}; row {i} {r!r} has length {len(r)}")
    grid = np.array(rows).view("<U1").reshape(len(rows), width)
    bad = ~np.isin(grid, list(CELL_CHARS))
    if bad.any():
        i, j = np.argwhere(bad)[0]
        raise ValueError(f"unknown layout character {str(grid[i, j])!r} at row {i}, column {j}; expected one of {CELL_CHARS!r}")
    if not (grid == START).any():
        raise ValueError("layout has no start cell 'S'")
    return Layout(grid)


def open_room(height: int, width: int | None = None) -> str:
    """An open room with a start in the top-left and a goal in the bottom-right, no walls inside.

    ``open_room(1000)`` is a 10^6-state world for scale tests.
    """
    width = height if width is None else width
    if height < 1 or width < 2:
        raise ValueError(f"open room needs height >= 1 and width >= 2, got {height} x {width}")
    require_memory(float(height) * width * BYTES_PER_CELL, f"a {height} x {width} room's model")
    g = np.full((height, width), FLOOR)
    g[0, 0], g[-1, -1] = START, GOAL
    return "\n".join("".join(r) for r in g)


def random_maze(size: int = 7, seed: int = 0) -> str:
    """A perfect maze of ``size x size`` rooms carved by a seeded depth-first search.

    The grid is ``(2*size + 1)`` cells square; start top-left, goal bottom-right.

    Arguments:
        size: rooms per side (>= 2).
        seed: seed of the carving; the same seed gives the same maze.
    """
    if size < 2:
        raise ValueError(f"maze size must be >= 2, got {size}")
    require_memory(float(2 * size + 1) ** 2 * BYTES_PER_CELL, f"a maze of size {size} ({2 * size + 1} cells square)")
    rng = np.random.default_rng(seed)
    n = 2 * size + 1
    g = np.full((n, n), WALL)
    seen = np.zeros((size, size), bool)
    stack = [(0, 0)]
    seen[0, 0] = True
    g[1, 1] = FLOOR
    while stack:
        r, c = stack[-1]
        nbrs = [(r + dr, c + dc) for dr, dc in ((-1, 0), (0, 1), (1, 0), (0, -1))
                if 0 <= r + dr < size and 0 <= c + dc < size and not seen[r + dr, c + dc]]
        if not nbrs:
            stack.pop()
            continue
        nr, nc = nbrs[rng.integers(len(nbrs))]
        seen[nr, nc] = True
        g[2 * nr + 1, 2 * nc + 1] = FLOOR
        g[r + nr + 1, c + nc + 1] = FLOOR
        stack.append((nr, nc))
    g[1, 1], g[n - 2, n - 2] = START, GOAL
    return "\n".join("".join(r) for r in g)


OPEN_ROOM = open_room(5)

# Sutton, Precup & Singh (1999), Figure 2: four rooms joined by four doorways.
FOUR_ROOMS = """
#############
#S....#.....#
#.....#.....#
#...........#
#.....#.....#
#.....#.....#
##.####.....#
#.....###.###
#.....#.....#
#.....#.....#
#...........#
#.....#....G#
#############
"""

# Sutton & Barto (2018), Example 6.6, with the cliff as terminal holes (hole_reward = -100).
CLIFF_WALK = """
............
............
............
SHHHHHHHHHHG
"""

# The 8x8 frozen lake of Gymnasium's FrozenLake-v1.
SLIPPERY_LAKE = """
S.......
........
...H....
.....H..
...H....
.HH...H.
.H..H.H.
...H...G
"""

# A short corridor above a row of holes against a long detour between walls: with slip > 0 and
# gamma near 1 the detour is optimal; with slip = 0, or a small gamma, the corridor is.
RISKY_SHORTCUT = """
###########
#.........#
#.#######.#
#.#######.#
#S.......G#
#HHHHHHHHH#
###########
"""

# One-way doors: the short way through the middle can be walked only eastwards.
ONE_WAY = """
#########
#S..#...#
#...>...#
#...#...#
#.#####.#
#...<..G#
#########
"""
