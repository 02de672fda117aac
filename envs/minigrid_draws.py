r"""The random draws of MiniGrid's code, enumerated: each draw a choice point with its exact
probabilities, and the code run once per path of choices.

:class:`ChoicePaths` walks the paths depth-first.

Two programs are enumerated this way by :mod:`envs.minigrid`:

- a ``reset`` (:class:`ResetDraws` stands in for ``_rand_int``, ``_rand_bool``, ``_rand_pos``,
  ``place_obj`` and RoomGrid's ``place_agent``), for :func:`envs.minigrid.reset_distribution`;
- a ``step`` that places objects (:class:`Branching` stands in for ``place_obj``: Dynamic-Obstacles
  moves its balls with it), for the enumeration of the world's outcomes.

Example:
    >>> draws = ChoicePaths()
    >>> sorted(draws.paths(lambda: draws.choose([("a", 0.25), ("b", 0.75)]) + draws.choose([("x", 0.5), ("y", 0.5)])))
    [(0.125, 'ax'), (0.125, 'ay'), (0.375, 'bx'), (0.375, 'by')]
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

__all__ = ["ChoicePaths", "Branching", "ResetDraws", "Trap", "NotEnumerable", "window_cells", "put"]


class NotEnumerable(ValueError):
    """A reset draws in a way :func:`envs.minigrid.reset_distribution` cannot enumerate exactly (use a seed set)."""


class ChoicePaths:
    """Depth-first over the paths of a program's random choices: :meth:`paths` runs the program once
    per path; each :meth:`choose` is a choice point among ``(value, probability)`` options."""

    def __init__(self, max_choices: int | None = None) -> None:
        self.script: list[int] = []
        self.sizes: list[int] = []
        self.depth = 0
        self.p = 1.0
        self.max_choices = max_choices

    def choose(self, options: list[tuple[Any, float]]) -> Any:
        """A choice point: this path's option among ``(value, probability)`` pairs, its probability
        multiplied into the path's."""
        if self.depth == len(self.script):
            if self.max_choices is not None and self.depth >= self.max_choices:
                raise NotEnumerable(f"more than {self.max_choices} random choices on one path (a rejection loop?)")
            self.script.append(0)
            self.sizes.append(len(options))
        value, p = options[self.script[self.depth]]
        self.depth += 1
        self.p *= p
        return value

    def paths(self, run: Callable[[], Any]) -> list[tuple[float, Any]]:
        """``run()`` once per path of choices, each result with its probability."""
        self.script, self.sizes, out = [], [], []
        while True:
            self.depth, self.p = 0, 1.0
            result = run()
            del self.script[self.depth:], self.sizes[self.depth:]
            out.append((self.p, result))
            d = len(self.script) - 1
            while d >= 0 and self.script[d] + 1 >= self.sizes[d]:
                d -= 1
            if d < 0:
                return out
            self.script[d] += 1
            del self.script[d + 1:], self.sizes[d + 1:]


def window_cells(env: Any, top: Any, size: Any, reject_fn: Any,
            cells: dict | None = None) -> tuple[int, list[tuple[int, int]]]:
    """``place_obj``'s window: its cell count, and the cells it would accept (empty, not the agent's,
    not rejected). ``cells`` caches each window's in-bounds cells (with their grid indices) between
    calls on one grid."""
    W, H = env.grid.width, env.grid.height
    top = (0, 0) if top is None else (max(top[0], 0), max(top[1], 0))
    size = (W, H) if size is None else tuple(size)
    window = None if cells is None else cells.get((top, size))
    if window is None:
        window = [((x, y), y * W + x) for x in range(top[0], min(top[0] + size[0], W))
                  for y in range(top[1], min(top[1] + size[1], H))]
        if cells is not None:
            cells[top, size] = window
    g, agent = env.grid.grid, tuple(map(int, env.agent_pos))
    return len(window), [p for p, j in window if g[j] is None and p != agent and not (reject_fn and reject_fn(env, p))]


def put(env: Any, obj: Any, cell: tuple[int, int]) -> tuple[int, int]:
    env.grid.set(cell[0], cell[1], obj)
    if obj is not None:
        obj.init_pos = obj.cur_pos = cell
    return cell


class Branching(ChoicePaths):
    r"""Stands in for ``MiniGridEnv.place_obj`` while enumerating a world that places objects inside
    ``step`` (Dynamic-Obstacles moves each ball with ``place_obj(ball, top, (3, 3), max_tries=100)``).

    ``place_obj`` draws a cell of its window uniformly up to ``max_tries + 1`` times and keeps the
    first that is empty and not the agent's; if none is kept it raises, and Dynamic-Obstacles then
    leaves the ball where it was. With ``n`` cells in the window and ``k`` of them acceptable, the
    exact outcome is each acceptable cell with probability :math:`(1 - (1 - k/n)^{m+1})/k` and the
    failure with :math:`(1 - k/n)^{m+1}` (``m = max_tries``). Each call is a choice point; the
    caller runs ``step`` once per path of choices (:meth:`ChoicePaths.paths`), each path with its probability.
    """

    def __init__(self, env: Any) -> None:
        super().__init__()
        self.env = env
        self.windows: dict = {}

    def __call__(self, obj: Any, top: Any = None, size: Any = None, reject_fn: Any = None,
                 max_tries: float = float("inf")) -> tuple[int, int]:
        n, valid = window_cells(self.env, top, size, reject_fn, self.windows)
        k = len(valid)
        if k == 0:
            fail = 1.0
        elif k == n or max_tries == float("inf"):
            fail = 0.0
        else:
            fail = (1.0 - k / n) ** (max_tries + 1)
        options = [(p, (1.0 - fail) / k) for p in valid] + ([(None, fail)] if fail > 0 else [])
        cell = self.choose(options)
        if cell is None:
            raise RecursionError("rejection sampling failed in place_obj")
        return put(self.env, obj, cell)


class Trap:
    """Stands in for ``np_random`` during :func:`envs.minigrid.reset_distribution`: a draw it cannot enumerate."""

    def __getattr__(self, name: str) -> Any:
        raise NotEnumerable(f"the reset draws with np_random.{name} directly")


class ResetDraws(ChoicePaths):
    """The random draws of a MiniGrid ``reset``, each a choice point with its exact probabilities.

    ``_rand_int``, ``_rand_bool`` and ``_rand_pos`` are uniform; ``place_obj`` is uniform over the
    cells it would accept (its rejection sampling, given that it succeeds); RoomGrid's
    ``place_agent``, which redraws the cell and direction until the cell ahead is empty or a wall,
    is uniform over the accepted (cell, direction) pairs. Any other draw (``np_random`` used
    directly) raises :class:`NotEnumerable`.
    """

    def __init__(self, env: Any, max_choices: int = 64) -> None:
        super().__init__(max_choices)
        self.env = env

    def install(self) -> None:
        from minigrid.core.roomgrid import RoomGrid

        env = self.env
        env._rand_int = lambda low, high: self.choose([(v, 1.0 / (high - low)) for v in range(low, high)])
        env._rand_bool = lambda: self.choose([(True, 0.5), (False, 0.5)])
        env._rand_pos = lambda x0, x1, y0, y1: (env._rand_int(x0, x1), env._rand_int(y0, y1))
        env.place_obj = self.place_obj
        if isinstance(env, RoomGrid):
            env.place_agent = self.room_place_agent
        env._np_random = Trap()

    def remove(self) -> None:
        for name in ("_rand_int", "_rand_bool", "_rand_pos", "place_obj", "place_agent"):
            self.env.__dict__.pop(name, None)
        self.env._np_random = np.random.default_rng(0)

    def place_obj(self, obj: Any, top: Any = None, size: Any = None, reject_fn: Any = None,
                  max_tries: float = float("inf")) -> tuple[int, int]:
        _, valid = window_cells(self.env, top, size, reject_fn)
        if not valid:
            raise NotEnumerable("place_obj has no cell to accept on this path: the reset itself would fail")
        return put(self.env, obj, self.choose([(p, 1.0 / len(valid)) for p in valid]))

    def room_place_agent(self, i: int | None = None, j: int | None = None, rand_dir: bool = True) -> Any:
        env = self.env
        i = env._rand_int(0, env.num_cols) if i is None else i
        j = env._rand_int(0, env.num_rows) if j is None else j
        room = env.room_grid[j][i]
        env.agent_pos = (-1, -1)
        _, cells = window_cells(env, room.top, room.size, None)
        from minigrid.core.constants import DIR_TO_VEC

        pairs = []
        for cell in cells:
            for d in (range(4) if rand_dir else [env.agent_dir]):
                ahead = env.grid.get(cell[0] + int(DIR_TO_VEC[d][0]), cell[1] + int(DIR_TO_VEC[d][1]))
                if ahead is None or ahead.type == "wall":
                    pairs.append((cell, d))
        if not pairs:
            raise NotEnumerable(f"no cell of room ({i}, {j}) can take the agent")
        env.agent_pos, env.agent_dir = self.choose([(pair, 1.0 / len(pairs)) for pair in pairs])
        return env.agent_pos
