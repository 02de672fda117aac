r"""Dynamic-Obstacles' step, derived from its code, for enumerating its exact model fast.

MiniGrid's ``DynamicObstaclesEnv.step`` (minigrid 3.x) does, in order:

1. ``not_clear``: the cell in front of the agent holds something other than the goal;
2. for each ball, in the order of ``env.obstacles``: ``place_obj(ball, top=cell - (1, 1),
   size=(3, 3), max_tries=100)``, then clear the ball's old cell; if ``place_obj`` fails the ball
   stays where it was;
3. ``MiniGridEnv.step(action)`` on the grid the balls left: ``left``/``right`` turn the agent,
   ``forward`` moves it to the front cell if that cell is now empty (or the goal, which ends the
   episode with :math:`1 - 0.9\,k/T`);
4. ``forward`` with ``not_clear`` ends the episode with reward -1, wherever the agent is now.

``place_obj`` draws a cell of its window uniformly (each coordinate by ``_rand_int``) up to
``max_tries + 1 = 101`` times and keeps the first that is empty and not the agent's cell. With
:math:`n` cells in the window and :math:`k` acceptable, a ball moves to each acceptable cell with
probability :math:`(1 - (1 - k/n)^{101})/k` and stays with :math:`(1 - k/n)^{101}` (1 when
:math:`k = 0`). A ball's own cell is never acceptable (it is occupied by the ball), so distinct
paths of draws end in distinct placements. The balls move before the agent, where it stands, so
their kernel from a state is the same for every action: it is computed once per state.

The derivation's outcomes are the products and sums :class:`envs.minigrid_draws.Branching` computes when
it runs ``step`` once per path of draws, in the same order, so the two agree to the last bit on each
(state, action) but for the summation order of merged endings. :func:`envs.minigrid.exact_model`
checks a sample of states against ``step`` itself and fails naming the first disagreement, so a
minigrid whose ``step`` differs from the one above is caught, not modelled wrongly.

Example:
    >>> from envs.minigrid import exact_model
    >>> m = exact_model("MiniGrid-Dynamic-Obstacles-5x5-v0", seed=0)  # its outcomes from ObstacleKernel
    >>> # turning left at the start: one outcome per placement of the balls
    >>> m.n_states, m.n_transitions, int(m.outcome_ptr[1] - m.outcome_ptr[0])
    (1344, 52854, 22)
"""

from __future__ import annotations

from typing import Any, Iterator

__all__ = ["ObstacleKernel", "is_dynamic_obstacles", "PLACE_TRIES"]

PLACE_TRIES = 101  # place_obj(..., max_tries=100) draws at most 101 times
DIR_TO_VEC = ((1, 0), (0, 1), (-1, 0), (0, -1))  # MiniGrid's agent directions: right, down, left, up
LEFT, RIGHT, FORWARD = 0, 1, 2


def is_dynamic_obstacles(env: Any) -> bool:
    """The unwrapped env runs minigrid's own ``DynamicObstaclesEnv.step`` (not an override of it)."""
    try:
        from minigrid.envs.dynamicobstacles import DynamicObstaclesEnv
    except ImportError:
        return False
    return isinstance(env, DynamicObstaclesEnv) and type(env).step is DynamicObstaclesEnv.step


class ObstacleKernel:
    """The outcomes of Dynamic-Obstacles' ``step`` from a state key (``envs.minigrid._Codec``'s:
    ``(agent cell, direction, carried, ball cells...)``), derived as in the module doc.

    Arguments:
        env: a reset ``DynamicObstaclesEnv`` (unwrapped); its walls, goal and balls are read once.
        codec: the enumeration's codec of that env, whose key slots the balls occupy.
    """

    def __init__(self, env: Any, codec: Any) -> None:
        if not is_dynamic_obstacles(env):
            raise TypeError(f"{type(env).__name__} does not run minigrid's DynamicObstaclesEnv.step")
        grid = env.grid
        self.W, self.H = grid.width, grid.height
        balls = {id(ball) for ball in env.obstacles}
        self.static = [obj is not None and id(obj) not in balls for obj in grid.grid]  # walls and the goal
        self.goal = [obj is not None and obj.type == "goal" for obj in grid.grid]
        self.slots = [3 + codec.index[id(ball)] for ball in env.obstacles]  # key positions, in step's order
        if len(codec.doors) or len(codec.movable) != len(self.slots):
            raise TypeError("a Dynamic-Obstacles grid holding objects other than its balls")
        self.windows: dict[int, tuple[int, list[int]]] = {}

    def _window(self, cell: int) -> tuple[int, list[int]]:
        """``place_obj``'s window around ``cell``: its cell count and its cells that are not static."""
        w = self.windows.get(cell)
        if w is None:
            x0, y0 = max(cell % self.W - 1, 0), max(cell // self.W - 1, 0)
            cells = [y * self.W + x for x in range(x0, min(x0 + 3, self.W)) for y in range(y0, min(y0 + 3, self.H))]
            w = self.windows[cell] = (len(cells), [c for c in cells if not self.static[c]])
        return w

    def placements(self, key: tuple[int, ...]) -> list[tuple[float, list[int]]]:
        """Every placement of the balls after step 2 of the module doc, with its probability: one
        list per placement, the key with the balls' new cells."""
        agent = key[0]
        out = [(1.0, list(key))]
        for slot in self.slots:
            new = []
            for p, cur in out:
                n, cells = self._window(cur[slot])
                taken = {cur[s] for s in self.slots}
                valid = [c for c in cells if c not in taken and c != agent]
                k = len(valid)
                fail = 1.0 if k == 0 else 0.0 if k == n else (1.0 - k / n) ** PLACE_TRIES
                if k:
                    q = p * ((1.0 - fail) / k)
                    for c in valid:
                        nxt = cur.copy()
                        nxt[slot] = c
                        new.append((q, nxt))
                if fail > 0:
                    new.append((p * fail, cur))
            out = new
        return out

    def outcomes(self, key: tuple[int, ...], placements: list[tuple[float, list[int]]],
                 action: int) -> Iterator[tuple[float, tuple[int, ...] | None, bool, float]]:
        """``(probability, next key or None when the episode ends, success, penalty)`` of ``action``
        from ``key``, given its :meth:`placements`."""
        agent, d = key[0], key[1]
        if action in (LEFT, RIGHT):
            d = (d - 1) % 4 if action == LEFT else (d + 1) % 4
            for p, cur in placements:
                cur[0], cur[1] = agent, d
                yield p, tuple(cur), False, 0.0
            return
        if action != FORWARD:
            raise ValueError(f"action {action} is not one of Dynamic-Obstacles' left, right, forward (0-2)")
        dx, dy = DIR_TO_VEC[d]
        front = agent + dy * self.W + dx
        balls_before = {key[s] for s in self.slots}
        if self.goal[front] or self.static[front] or front in balls_before:  # the episode ends
            total = 0.0
            for p, _ in placements:
                total += p
            yield total, None, bool(self.goal[front]), 0.0 if self.goal[front] else -1.0
            return
        for p, cur in placements:
            cur[1] = d
            blocked = any(cur[s] == front for s in self.slots)
            cur[0] = agent if blocked else front
            yield p, tuple(cur), False, 0.0
