r"""Classic POMDPs written from their published definitions (no other project's files copied).

- :func:`tiger`: Kaelbling, Littman & Cassandra (1998), "Planning and acting in partially
  observable stochastic domains", Artificial Intelligence 101. A tiger is behind one of two
  doors; listening costs 1 and reports the correct side with probability 0.85; opening the
  tiger's door costs 100, the other pays 10, and either resets the problem (the tiger placed
  uniformly again, the observation then uninformative). At discount 0.95 from the uniform
  belief :math:`V^*(b_0) = 19.3714` (Cassandra's published value).
- :func:`t_maze`: the T-maze memory task after Bakker (2002), "Reinforcement learning with long
  short-term memory", NIPS 14. The goal is up or down at the end of a corridor of cells
  ``0..L``; the agent starts in cell 0 and sees which way only on entering cell 1, then
  "corridor" until the junction, cell ``L``. At the junction up or down ends the episode, paying
  4 on the goal's side and -0.1 on the other; bumping into a wall costs -0.1. With memory,
  :math:`V^*(b_0) = 4\gamma^{L}` (walk right ``L`` cells, then turn the right way); without, a
  deterministic policy turns the same way whatever the cue. (The cue is in cell 1, not in the
  start cell, because an observation follows an action: the first is seen after the first move.)
- :func:`wall_sensor_grid`: any gridworld layout seen through a wall sensor: after each move the
  agent senses, for each of its four neighbours, whether it is a wall, each reading flipped
  with probability ``sensor_noise`` (16 observations). The hidden MDP is the layout's
  :class:`~envs.gridworld.GridWorldEnv` model, so aliased corridors make the belief spread.
- :func:`maze_4x3`: the 4x3 world of Russell & Norvig (AIMA, Fig. 17.1) made partially observable
  as Parr & Russell (1995), "Approximating optimal policies for partially observable stochastic
  domains", IJCAI, did: a move goes the intended way with probability 0.8 and to either side with
  0.1 (into a wall or the pillar: no move); the agent senses only whether there is a wall to its
  west and to its east (four observations), and "good" or "bad" in the +1 and -1 cells. Being in
  the +1 (-1) cell pays +1 (-1), any other cell ``step_reward``; from either, the next state is
  drawn uniformly from the other nine cells (the problem restarts, as it does from the start).
- :func:`tag`: Tag, Pineau, Gordon & Thrun (2003), "Point-based value iteration", IJCAI. A robot
  chases an opponent on a 29-cell map (two rows of ten, and a column three wide and three long
  below their middle); it always knows its own cell and sees the opponent only when they share it.
  Moves are deterministic and cost 1; ``tag`` pays +10 and ends the episode when they share the
  cell, else costs 10. The opponent moves away: along each axis it steps away from the robot with
  probability 0.4 (0.2 each way when they are level on that axis), and stays with probability
  0.2; a step into a wall is no step. Both start in independent uniform cells. 29 x 30 = 870
  states (the opponent's 29 cells and "tagged"), 5 actions, 30 observations (the robot's cell,
  and "same cell").
- :func:`rock_sample`: RockSample[n, k], Smith & Simmons (2004), "Heuristic search value iteration
  for POMDPs", UAI. A rover on an n x n grid knows its own cell; each of k rocks at known cells is
  good or bad, each with probability 1/2 at the start. Moves are deterministic and free; moving
  east off the map ends the episode and pays +10 (north, south or west off the map ends it at
  -100, as in the problem generator's files; never optimal). ``sample`` at a rock's cell pays +10
  if it is good and -10 if bad, and leaves it bad; elsewhere it ends the episode at -100. ``check_i`` reports
  rock i's type correctly with probability :math:`(1 + 2^{-d/d_0})/2`, ``d`` the Euclidean
  distance to the rock and :math:`d_0 = 20` the half-efficiency distance; every other action
  observes ``none``. :math:`n^2 2^k + 1` states, :math:`5 + k` actions. The default, RockSample[4,4]
  (257 states), uses the layout of the DESPOT authors' ``Init_4_4`` (rocks at (x, y) = (3, 1),
  (2, 1), (1, 3), (1, 0); start (0, 2)), whose 7x8 layout matches SARSOP's RockSample_7_8 file.

Example:
    >>> m = tiger()
    >>> m.states, m.actions, m.observations
    (('tiger-left', 'tiger-right'), ('listen', 'open-left', 'open-right'), ('tiger-left', 'tiger-right'))
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from envs.mdp import TabularMDP
from envs.pomdp import TabularPOMDP

__all__ = ["tiger", "t_maze", "wall_sensor_grid", "maze_4x3", "MAZE_4X3", "tag", "TAG_MAP", "rock_sample", "ROCKSAMPLE_4_4"]


def tiger(listen_accuracy: float = 0.85, gamma: float = 0.95) -> TabularPOMDP:
    """The tiger problem (module doc), with its listening accuracy and discount as parameters.

    Arguments:
        listen_accuracy: probability that listening reports the tiger's true side, in [0.5, 1].
        gamma: the discount, in (0, 1).
    """
    if not 0.5 <= listen_accuracy <= 1.0:
        raise ValueError(f"listen_accuracy must be in [0.5, 1], got {listen_accuracy}")
    p = float(listen_accuracy)
    T = np.stack([np.eye(2), np.full((2, 2), 0.5), np.full((2, 2), 0.5)])  # listen; open-left; open-right
    O = np.stack([[[p, 1 - p], [1 - p, p]], np.full((2, 2), 0.5), np.full((2, 2), 0.5)])
    R = np.array([[-1.0, -100.0, 10.0],   # tiger-left: listen, open-left (the tiger), open-right
                  [-1.0, 10.0, -100.0]])  # tiger-right
    return TabularPOMDP.from_arrays(T, R, O, b0=[0.5, 0.5], gamma=gamma, states=("tiger-left", "tiger-right"),
                                    actions=("listen", "open-left", "open-right"),
                                    observations=("tiger-left", "tiger-right"), info={"source": "tiger"})


def t_maze(length: int = 6, gamma: float = 0.98) -> TabularPOMDP:
    """The T-maze (module doc): states ``c<i>-up`` / ``c<i>-down`` for corridor cell ``i`` in
    ``0..length`` (cell ``length`` is the junction) and the goal's side, then one terminal ``end``.

    Arguments:
        length: the junction's cell ``L`` (cells ``0..L``; the cue in cell 1), >= 2.
        gamma: the discount, in (0, 1).

    Example:
        >>> m = t_maze(3)
        >>> m.n_states, m.observations
        (9, ('cue-up', 'cue-down', 'corridor', 'junction', 'end'))
    """
    if isinstance(length, bool) or not isinstance(length, (int, np.integer)) or length < 2:
        raise ValueError(f"length must be an integer >= 2, got {length!r}")
    L = int(length)
    names = [f"c{i}-{side}" for i in range(L + 1) for side in ("up", "down")] + ["end"]
    S, end = len(names), len(names) - 1
    up, right, down, left = range(4)
    T, R = np.zeros((4, S, S)), np.zeros((S, 4))
    O = np.zeros((4, S, 5))
    for i in range(L + 1):
        for g, side in enumerate(("up", "down")):
            s = 2 * i + g
            T[right, s, 2 * min(i + 1, L) + g] = 1.0
            T[left, s, 2 * max(i - 1, 0) + g] = 1.0
            R[s, right] = -0.1 if i == L else 0.0
            R[s, left] = -0.1 if i == 0 else 0.0
            for a, arm in ((up, 0), (down, 1)):
                if i == L:  # the junction: either arm ends the episode
                    T[a, s, end] = 1.0
                    R[s, a] = 4.0 if arm == g else -0.1
                else:
                    T[a, s, s] = 1.0
                    R[s, a] = -0.1
            o = g if i == 1 else (3 if i == L else 2)  # entering cell 1: cue-up / cue-down; the junction; corridor
            O[:, s, o] = 1.0
    T[:, end, end] = 1.0
    O[:, end, 4] = 1.0
    terminal = np.zeros(S, dtype=bool)
    terminal[end] = True
    b0 = np.zeros(S)
    b0[[0, 1]] = 0.5
    return TabularPOMDP.from_arrays(T, R, O, b0=b0, gamma=gamma, terminal=terminal, states=tuple(names),
                                    actions=("up", "right", "down", "left"),
                                    observations=("cue-up", "cue-down", "corridor", "junction", "end"),
                                    info={"source": f"t_maze(length={L})"})


def wall_sensor_grid(layout: str | list[str], sensor_noise: float = 0.1, gamma: float = 0.95, **grid_kwargs) -> TabularPOMDP:
    """A gridworld seen through four noisy wall sensors (module doc).

    Observation ``o`` is a 4-bit number, bit ``k`` set when the neighbour in direction ``k``
    (0 up, 1 right, 2 down, 3 left, as the actions) reads as a wall; off the map counts as a wall.
    :math:`O(o \\mid s', a) = \\prod_k (1 - \\epsilon)^{[o_k = w_k(s')]}\\, \\epsilon^{[o_k \\ne w_k(s')]}`.

    Arguments:
        layout: the map (``envs.layouts``' characters).
        sensor_noise: the probability :math:`\\epsilon` that one reading is flipped, in [0, 0.5].
        gamma: the discount.
        **grid_kwargs: ``slip``, ``goal_reward``, ``hole_reward``, ``step_reward`` of the hidden
            :class:`~envs.gridworld.GridWorldEnv`.

    Example:
        >>> m = wall_sensor_grid("S.#\\n..G", sensor_noise=0.0)
        >>> m.n_states, m.n_observations, m.observations[m.O[0, 0].argmax()]
        (5, 16, 'up+left')
    """
    from envs.gridworld import GridWorldEnv

    if not 0.0 <= sensor_noise <= 0.5:
        raise ValueError(f"sensor_noise must be in [0, 0.5], got {sensor_noise}")
    world = GridWorldEnv(layout, gamma=gamma, **grid_kwargs)
    grid = world.layout.grid
    H, W = grid.shape
    walls = np.zeros((world.n_states, 4), dtype=bool)
    for s, (r, c) in enumerate(world.state_rc):
        for k, (dr, dc) in enumerate(((-1, 0), (0, 1), (1, 0), (0, -1))):
            rr, cc = r + dr, c + dc
            walls[s, k] = not (0 <= rr < H and 0 <= cc < W) or grid[rr, cc] == "#"
    bits = (np.arange(16)[:, None] >> np.arange(4)[None, :]) & 1  # (16, 4): observation o's readings
    match = bits[None, :, :] == walls[:, None, :]  # (S, 16, 4)
    O_s = np.where(match, 1.0 - sensor_noise, sensor_noise).prod(axis=2)  # (S, 16)
    names = tuple("+".join(d for k, d in enumerate(("up", "right", "down", "left")) if o >> k & 1) or "open"
                  for o in range(16))
    return TabularPOMDP(world.mdp, np.broadcast_to(O_s, (world.mdp.n_actions, *O_s.shape)).copy(),
                        states=tuple(f"r{r}c{c}" for r, c in world.state_rc), actions=("up", "right", "down", "left"),
                        observations=names, info={"source": "wall_sensor_grid", "sensor_noise": sensor_noise,
                                                          "layout": ["".join(row) for row in grid],
                                                          "state_rc": [tuple(map(int, rc)) for rc in world.state_rc]})


MAZE_4X3 = ("...G", ".#.B", "....")  # rows top to bottom; G: +1, B: -1, #: the pillar


def maze_4x3(step_reward: float = -0.04, gamma: float = 0.95) -> TabularPOMDP:
    """The 4x3 maze POMDP (module doc): 11 cells, actions north, south, east, west.

    Arguments:
        step_reward: the reward for being in any cell but the +1 and -1 ones (AIMA's -0.04).
        gamma: the discount.

    Example:
        >>> m = maze_4x3()
        >>> m.n_states, m.actions, m.observations
        (11, ('n', 's', 'e', 'w'), ('left', 'right', 'neither', 'both', 'good', 'bad'))
        >>> [m.observations[m.O[0, s].argmax()] for s in range(4)]  # the top row: a wall west of the first cell
        ['left', 'neither', 'neither', 'good']
    """
    if not np.isfinite(step_reward):
        raise ValueError(f"step_reward must be a finite number, got {step_reward}")
    cells = [(r, c) for r in range(3) for c in range(4) if MAZE_4X3[r][c] != "#"]
    index = {rc: i for i, rc in enumerate(cells)}
    S = len(cells)
    goal = index[next(rc for rc in cells if MAZE_4X3[rc[0]][rc[1]] == "G")]
    bad = index[next(rc for rc in cells if MAZE_4X3[rc[0]][rc[1]] == "B")]
    restart = np.array([0.0 if s in (goal, bad) else 1.0 for s in range(S)])
    restart /= restart.sum()
    moves = {"n": (-1, 0), "s": (1, 0), "e": (0, 1), "w": (0, -1)}
    sides = {"n": "ew", "s": "ew", "e": "ns", "w": "ns"}

    def go(rc, d):
        r, c = rc[0] + moves[d][0], rc[1] + moves[d][1]
        return index.get((r, c), index[rc])  # off the map or into the pillar: no move

    T = np.zeros((4, S, S))
    for a, d in enumerate("nsew"):
        for s, rc in enumerate(cells):
            if s in (goal, bad):
                T[a, s] = restart
                continue
            T[a, s, go(rc, d)] += 0.8
            for side in sides[d]:
                T[a, s, go(rc, side)] += 0.1
    names = ("left", "right", "neither", "both", "good", "bad")
    O = np.zeros((4, S, len(names)))
    for s, (r, c) in enumerate(cells):
        west, east = (r, c - 1) not in index, (r, c + 1) not in index
        o = "good" if s == goal else "bad" if s == bad else {(True, False): "left", (False, True): "right",
                                                                (False, False): "neither", (True, True): "both"}[(west, east)]
        O[:, s, names.index(o)] = 1.0
    R = np.full((S, 4), float(step_reward))
    R[goal], R[bad] = 1.0, -1.0
    layout = ["".join("G" if ch == "G" else "H" if ch == "B" else ch for ch in row) for row in MAZE_4X3]
    return TabularPOMDP.from_arrays(T, R, O, b0=restart, gamma=gamma, states=tuple(f"r{r}c{c}" for r, c in cells),
                                    actions=("n", "s", "e", "w"), observations=names,
                                    info={"source": "maze_4x3", "layout": layout, "state_rc": cells})


TAG_MAP = ("..........", "..........", "#####...##", "#####...##", "#####...##")  # Tag's 29 cells


def tag(gamma: float = 0.95, layout: tuple[str, ...] = TAG_MAP) -> TabularPOMDP:
    """Tag (module doc): the robot's cell x the opponent's cell or ``tagged``.

    Arguments:
        gamma: the discount (0.95 in the literature).
        layout: the map, rows of ``.`` (a cell) and ``#``; default Pineau et al.'s 29 cells.

    Example:
        >>> m = tag()
        >>> m.n_states, m.n_actions, m.n_observations, m.actions
        (870, 5, 30, ('north', 'south', 'east', 'west', 'tag'))
        >>> int(m.mdp.terminal.sum())  # tagged, wherever the robot is
        29
    """
    cells = [(r, c) for r, row in enumerate(layout) for c, ch in enumerate(row) if ch == "."]
    index = {rc: i for i, rc in enumerate(cells)}
    C = len(cells)
    S = C * (C + 1)  # state robot * (C + 1) + opponent; opponent C: tagged
    moves = {"north": (-1, 0), "south": (1, 0), "east": (0, 1), "west": (0, -1)}

    def step(i, d):
        r, c = cells[i][0] + moves[d][0], cells[i][1] + moves[d][1]
        return index.get((r, c), i)

    def opponent(robot, target):  # the opponent's next cell distribution
        (rr, rc), (tr, tc) = cells[robot], cells[target]
        out = np.zeros(C)
        out[target] += 0.2
        for away, mine, theirs in ((("south", "north"), tr, rr), (("east", "west"), tc, rc)):
            if mine > theirs:
                out[step(target, away[0])] += 0.4
            elif mine < theirs:
                out[step(target, away[1])] += 0.4
            else:
                out[step(target, away[0])] += 0.2
                out[step(target, away[1])] += 0.2
        return out

    actions = ("north", "south", "east", "west", "tag")
    T = np.zeros((5, S, S))
    R = np.zeros((S, 5))
    terminal = np.zeros(S, dtype=bool)
    for robot in range(C):
        done = robot * (C + 1) + C
        terminal[done] = True
        T[:, done, done] = 1.0
        for target in range(C):
            s = robot * (C + 1) + target
            move = opponent(robot, target)
            for a, d in enumerate(actions[:4]):
                nxt = step(robot, d)
                T[a, s, nxt * (C + 1):nxt * (C + 1) + C] = move
                R[s, a] = -1.0
            if robot == target:
                T[4, s, done] = 1.0
                R[s, 4] = 10.0
            else:
                T[4, s, robot * (C + 1):robot * (C + 1) + C] = move
                R[s, 4] = -10.0
    O = np.zeros((5, S, C + 1))
    for robot in range(C):
        for target in range(C + 1):
            O[:, robot * (C + 1) + target, C if target == robot else robot] = 1.0
    b0 = np.where(terminal, 0.0, 1.0)
    names = tuple(f"r{r}c{c}" for r, c in cells)
    return TabularPOMDP.from_arrays(T, R, O, b0=b0 / b0.sum(), gamma=gamma, terminal=terminal,
                                    states=tuple(f"{a}-{b}" for a in names for b in (*names, "tagged")),
                                    actions=actions, observations=(*names, "same cell"), info={"source": "tag"})


# RockSample[4,4]: rocks at (x, y), x east and y north from the south-west cell, and the rover's start
ROCKSAMPLE_4_4 = {"size": 4, "rocks": ((3, 1), (2, 1), (1, 3), (1, 0)), "start": (0, 2)}


def rock_sample(size: int = ROCKSAMPLE_4_4["size"], rocks: tuple[tuple[int, int], ...] = ROCKSAMPLE_4_4["rocks"],
                start: tuple[int, int] = ROCKSAMPLE_4_4["start"], half_efficiency: float = 20.0,
                gamma: float = 0.95) -> TabularPOMDP:
    r"""RockSample[``size``, ``len(rocks)``] (module doc); the default is RockSample[4,4].

    A state is the rover's cell and the rocks' types, ``(y * size + x) * 2**k + bits`` (bit ``i``
    set: rock ``i`` is good), and a last one, ``exit``, where every episode ends.

    Arguments:
        size: the grid's side ``n``.
        rocks: each rock's cell ``(x, y)``, ``0 <= x, y < size``, all different.
        start: the rover's first cell ``(x, y)``.
        half_efficiency: :math:`d_0`, the distance at which a check is right with probability 3/4.
        gamma: the discount (0.95 in the literature).

    Example:
        >>> m = rock_sample()
        >>> m.n_states, m.n_actions, m.n_observations
        (257, 9, 3)
        >>> m.actions[:6], m.observations
        (('north', 'south', 'east', 'west', 'sample', 'check0'), ('none', 'good', 'bad'))
        >>> float(m.O[5, 0b0001, 1].round(6))  # check rock 0, at (3, 1), from (0, 0) when it is good: d = sqrt(10)
        0.948098
    """
    n, k = int(size), len(rocks)
    cells = [tuple(map(int, rc)) for rc in (*rocks, start)]
    if n < 1 or any(not (0 <= x < n and 0 <= y < n) for x, y in cells):
        raise ValueError(f"every rock and the start must lie on the {n}x{n} grid, got rocks {rocks} and start {start}")
    if len(set(cells[:k])) != k:
        raise ValueError(f"rocks must be on different cells, got {rocks}")
    if not half_efficiency > 0:
        raise ValueError(f"half_efficiency must be > 0, got {half_efficiency}")
    B = 2 ** k
    S = n * n * B + 1
    exit_ = S - 1
    actions = ("north", "south", "east", "west", "sample", *(f"check{i}" for i in range(k)))
    A = len(actions)
    moves = ((0, 1), (0, -1), (1, 0), (-1, 0))
    rock_at = {rc: i for i, rc in enumerate(cells[:k])}
    nxt = np.full((S, A), exit_, dtype=np.int64)  # every action is deterministic: its next state
    R = np.zeros((S, A))
    O = np.zeros((A, S, 3))
    O[:, :, 0] = 1.0  # "none", but after a check
    for y in range(n):
        for x in range(n):
            for bits in range(B):
                s = (y * n + x) * B + bits
                for a, (dx, dy) in enumerate(moves):
                    nx, ny = x + dx, y + dy
                    if 0 <= nx < n and 0 <= ny < n:
                        nxt[s, a] = (ny * n + nx) * B + bits
                    else:
                        R[s, a] = 10.0 if (dx, dy) == (1, 0) else -100.0
                rock = rock_at.get((x, y))
                nxt[s, 4] = exit_ if rock is None else s & ~(1 << rock)
                R[s, 4] = -100.0 if rock is None else 10.0 if bits >> rock & 1 else -10.0
                nxt[s, 5:] = s
                for i, (rx, ry) in enumerate(cells[:k]):
                    right = 0.5 * (1.0 + 2.0 ** (-np.hypot(x - rx, y - ry) / half_efficiency))
                    O[5 + i, s] = (0.0, right, 1.0 - right) if bits >> i & 1 else (0.0, 1.0 - right, right)
    P = sp.csr_matrix((np.ones(S * A), nxt.ravel(), np.arange(S * A + 1)), shape=(S * A, S))  # row s * A + a
    terminal = np.zeros(S, dtype=bool)
    terminal[exit_] = True
    b0 = np.zeros(S)
    first = (cells[k][1] * n + cells[k][0]) * B
    b0[first:first + B] = 1.0 / B
    states = tuple(f"x{x}y{y}-" + "".join("G" if bits >> i & 1 else "B" for i in range(k))
                   for y in range(n) for x in range(n) for bits in range(B)) + ("exit",)
    return TabularPOMDP(TabularMDP(P, R, terminal, b0, gamma=gamma), O, states=states, actions=actions,
                        observations=("none", "good", "bad"),
                        info={"source": "rock_sample", "size": n, "rocks": [list(rc) for rc in cells[:k]],
                              "start": list(cells[k])})
