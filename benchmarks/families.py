"""The solver benchmark's families of MDPs, each buildable at any size (issue 12).

Every builder takes ``n``, the approximate number of states, and a seed, and returns a
``TabularMDP``; grids are slippery (``slip=0.2``) gridlab worlds. The families are chosen for
the structures that make value-based solvers slow in different ways:

- ``goal_room``: open room, reward +1 on entering the goal in the far corner (values near 0 far away);
- ``cost_room``: open room, -1 per step until the goal (values near -1/(1 - gamma) far away);
- ``cost_walls``: -1 per step, 20% of cells walls at random, so some floor regions cannot reach the goal;
- ``maze``: a perfect maze (one long corridor system), reward +1 at the goal;
- ``one_way``: -1 per step, an open grid crossed by rows of one-way doors (the flow runs one way);
- ``rooms``: FourRooms-style rooms of 10 x 10 cells joined by doorways, scaled up, +1 at the goal;
- ``random_sparse``: ``TabularMDP.from_arrays``, 4 actions, each (s, a) with 3 random successors
  and a reward uniform in [0, 1]; no terminal state.

Each family is written in several *forms* (issue 28), the same world as other libraries and
papers write it; a solver's work should not depend on which:

- ``terminal``: the goal a state flagged terminal (how gridlab builds its worlds);
- ``absorbing``: the goal an absorbing state with a zero-reward self-loop, flagged nothing (how
  pymdptoolbox, QuantEcon's DiscreteDP and most papers write it);
- ``shuffled``: the terminal form with its states numbered in a random order;
- ``arrays``: the absorbing form, shuffled, handed over as another library would and read with
  ``TabularMDP.from_arrays``: one sparse ``(S, S)`` matrix per action and ``R`` of shape ``(S, A)``
  (pymdptoolbox's sparse convention; dense ``(A, S, S)`` arrays of 10^5 states would take 80 GB,
  so the tests hand small models over dense).

Example:
    >>> mdp = build("cost_walls", 2_500, seed=0)
    >>> 2_000 < mdp.n_states < 2_600
    True
    >>> absorbing = build("cost_walls", 2_500, seed=0, form="absorbing")
    >>> int(mdp.terminal.sum()), int(absorbing.terminal.sum())
    (1, 0)
"""

from __future__ import annotations

import math

import numpy as np

from envs import GridWorldEnv, TabularMDP, open_room, random_maze

__all__ = ["FAMILIES", "FORMS", "build", "in_form"]

SLIP = 0.2


def _side(n: int, fill: float = 1.0) -> int:
    return max(3, int(round(math.sqrt(n / fill))))


def goal_room(n: int, seed: int = 0) -> TabularMDP:
    return GridWorldEnv(open_room(_side(n)), slip=SLIP).mdp


def cost_room(n: int, seed: int = 0) -> TabularMDP:
    return GridWorldEnv(open_room(_side(n)), slip=SLIP, step_reward=-1.0, goal_reward=-1.0).mdp


def cost_walls(n: int, seed: int = 0, density: float = 0.2) -> TabularMDP:
    side = _side(n, 1.0 - density)
    g = np.full((side, side), ".")
    g[np.random.default_rng(seed).random((side, side)) < density] = "#"
    g[0, 0], g[-1, -1] = "S", "G"
    return GridWorldEnv("\n".join("".join(r) for r in g), slip=SLIP, step_reward=-1.0, goal_reward=-1.0).mdp


def maze(n: int, seed: int = 0) -> TabularMDP:
    # a maze of k x k rooms has 2k^2 - 1 floor cells
    return GridWorldEnv(random_maze(max(2, int(round(math.sqrt((n + 1) / 2)))), seed), slip=SLIP).mdp


def one_way(n: int, seed: int = 0, every: int = 8) -> TabularMDP:
    side = _side(n)
    g = np.full((side, side), ".")
    rng = np.random.default_rng(seed)
    for r in range(every, side - 1, every):  # a row of downward doors every `every` rows, random wall gaps
        g[r, :] = "v"
        g[r, rng.random(side) < 0.3] = "#"
    g[0, 0], g[-1, -1] = "S", "G"
    return GridWorldEnv("\n".join("".join(r) for r in g), slip=SLIP, step_reward=-1.0, goal_reward=-1.0).mdp


def rooms(n: int, seed: int = 0, room: int = 10) -> TabularMDP:
    k = max(2, int(round(math.sqrt(n) / room)))  # k^2 rooms of room^2 floor cells
    side = k * (room + 1) + 1
    g = np.full((side, side), ".")
    g[::room + 1, :] = "#"
    g[:, ::room + 1] = "#"
    rng = np.random.default_rng(seed)
    for i in range(k):
        for j in range(k):
            r0, c0 = i * (room + 1), j * (room + 1)
            if j + 1 < k:  # a doorway east
                g[r0 + 1 + rng.integers(room), c0 + room + 1] = "."
            if i + 1 < k:  # a doorway south
                g[r0 + room + 1, c0 + 1 + rng.integers(room)] = "."
    g[1, 1], g[-2, -2] = "S", "G"
    return GridWorldEnv("\n".join("".join(r) for r in g), slip=SLIP).mdp


def random_sparse(n: int, seed: int = 0, actions: int = 4, successors: int = 3) -> TabularMDP:
    import scipy.sparse as sp

    rng = np.random.default_rng(seed)
    P = []
    for _ in range(actions):  # P[a][s, s'], pymdptoolbox's convention
        p = rng.random((n, successors)) + 0.1
        P.append(sp.csr_matrix((p.ravel() / np.repeat(p.sum(axis=1), successors), rng.integers(0, n, n * successors),
                                np.arange(0, n * successors + 1, successors)), shape=(n, n)))
    return TabularMDP.from_arrays(P, rng.random((n, actions)))


FAMILIES = {f.__name__: f for f in (goal_room, cost_room, cost_walls, maze, one_way, rooms, random_sparse)}


FORMS = ("terminal", "absorbing", "shuffled", "arrays")


def in_form(mdp: TabularMDP, form: str, seed: int = 0, dense: bool = False) -> TabularMDP:
    """``mdp`` (goals flagged terminal) written in another ``form`` of :data:`FORMS`. A renumbered
    form records its numbering in ``info["renumbered"]``: its state ``i`` is ``mdp``'s state
    ``info["renumbered"][i]``.

    Arguments:
        mdp: the family's model as built (its terminal states are zero-reward self-loops).
        form: one of ``FORMS``.
        seed: the shuffled forms' permutation.
        dense: the ``arrays`` form hands ``from_arrays`` a dense ``(A, S, S)`` array (small models).

    Example:
        >>> base = build("goal_room", 100)
        >>> m = in_form(base, "shuffled", seed=1)
        >>> m.n_states, int(m.terminal.sum()), bool(m.terminal[base.terminal[m.info["renumbered"]]].all())
        (100, 1, True)
    """
    if form not in FORMS:
        raise ValueError(f"unknown form {form!r}; expected one of {', '.join(FORMS)}")
    if form == "terminal":
        return mdp
    S, A = mdp.n_states, mdp.n_actions
    P, R, terminal, initial = mdp.P, mdp.R, mdp.terminal, mdp.initial
    if form in ("absorbing", "arrays"):
        terminal = np.zeros(S, bool)  # a terminal state's rows already are zero-reward self-loops
    if form == "absorbing":
        return TabularMDP(P, R, terminal, initial, gamma=mdp.gamma)
    perm = np.random.default_rng(seed).permutation(S)  # new state i is old state perm[i]
    inv = np.empty(S, np.int64)
    inv[perm] = np.arange(S)
    rows = (perm[:, None] * A + np.arange(A)[None, :]).ravel()
    Pn = P[rows]
    Pn = type(Pn)((Pn.data, inv[Pn.indices], Pn.indptr), shape=Pn.shape)
    Pn.sort_indices()
    if form == "shuffled":
        out = TabularMDP(Pn, R[perm], terminal[perm], initial[perm], gamma=mdp.gamma)
    else:
        per_action = [Pn[a::A] for a in range(A)]  # P[a][s, s']
        if dense:
            per_action = np.stack([m.toarray() for m in per_action])
        out = TabularMDP.from_arrays(per_action, R[perm], initial=initial[perm], gamma=mdp.gamma)
    out.info["renumbered"] = perm
    return out


def build(family: str, n: int, seed: int = 0, form: str = "terminal") -> TabularMDP:
    """The family's MDP with about ``n`` states, written in ``form`` (:func:`in_form`)."""
    if family not in FAMILIES:
        raise ValueError(f"unknown family {family!r}; expected one of {', '.join(FAMILIES)}")
    return in_form(FAMILIES[family](n, seed), form, seed)
