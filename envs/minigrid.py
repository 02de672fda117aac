r"""The exact model of a Farama MiniGrid world, enumerated through the env's own ``step``.

:func:`exact_model` resets a MiniGrid env with a seed and visits every state reachable from that
reset by calling the env's ``step`` on each (state, action), restoring the state before each call.
No dynamics are re-implemented: whatever ``step`` does (doors, keys, boxes, the goal, lava, an
env's own success rule such as Unlock's door or KeyCorridor's object) is what the model holds. The
one exception is for speed: Dynamic-Obstacles' ``step``, which branches on every draw of its
balls, is derived from its code (:mod:`envs.dynamic_obstacles`), and a sample of states is checked
against ``step`` itself on every enumeration (``derived_step=False`` runs ``step`` throughout).

**A state** is everything ``step`` reads: the agent's cell and direction, the carried object, the
cell of every object that can move (keys, balls and boxes, and what a box holds), and each door's
open and locked flags. Objects keep their identity (an env's references, such as Unlock's
``door`` or KeyCorridor's ``obj``, stay valid); walls, goals and lava never change. The key is a
tuple of integers, so two states are one exactly when every one of these agrees (``env.hash()``
and ``grid.encode()`` lose the identity of objects of the same type and colour). Observations are
not generated while enumerating: ``gen_obs`` is switched off for the enumeration's own env.

**The native objective.** An episode of ``max_steps`` steps :math:`T`; reaching the goal (or an
env's success) at step :math:`k` (1-based, ``step_count`` after the step) pays
:math:`1 - 0.9\,k/T` and ends the episode; lava ends it with 0; the episode is truncated after
step :math:`T`. The value of state :math:`s` with :math:`t` steps already taken is
:math:`V^*(s, t)`, with :math:`V^*(\cdot, T) = 0`.

*Closed form for deterministic worlds* (:attr:`MiniGridModel.deterministic`). Let :math:`d(s)` be
the fewest steps from :math:`s` to a success, counting the success step (:math:`\infty` if none).
Then :math:`V^*(s, t) = 1 - 0.9\,(t + d(s))/T` if :math:`t + d(s) \le T`, else 0.
*Proof.* From :math:`(s, t)` a policy in a deterministic world makes one path. If the path succeeds
at its :math:`k`-th step, within the episode (:math:`t + k \le T`), the return is
:math:`1 - 0.9 (t + k)/T > 0`; otherwise (lava, truncation, never) it is 0, since no other step pays
anything (the enumeration refuses a world where one does). Every path to a success has
:math:`k \ge d(s)`, and the return decreases in :math:`k`, so the best return is at :math:`k = d(s)`:
a shortest path, when :math:`t + d(s) \le T`. When :math:`t + d(s) > T` no path succeeds in time
and every return is 0. :math:`\square` Hence the greedy action at every :math:`t` is one on a
shortest path: the same action whatever the time, as long as the goal is still in reach.
:meth:`MiniGridModel.V_star_table` computes the same values by backward induction over
:math:`(s, t)`, which holds for any world; the tests check that the two agree.

Example:
    >>> m = exact_model("MiniGrid-Empty-5x5-v0", seed=0)
    >>> m.n_states, m.max_steps, round(m.V_star(m.start, 0), 4)  # 8 cells x 4 directions; the goal 5 steps away
    (32, 100, 0.955)
"""

from __future__ import annotations

import hashlib
from array import array
from collections import deque
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Callable

import gymnasium as gym
import numpy as np
import scipy.sparse as sp

from envs.mdp import TabularMDP
from envs import minigrid_draws

__all__ = ["exact_model", "MiniGridModel", "MiniGridMismatch", "verify_minigrid", "check_kernel", "is_minigrid",
           "ensure_registered",
           "reset_distribution", "expected_optimal_return", "MINIGRID_HINT", "require_minigrid",
           "MAX_STATES"]

MINIGRID_HINT = "MiniGrid worlds need the minigrid package: pip install minigrid (make installs it with the minigrid extra)"
MAX_STATES = 5_000_000  # enumeration stops with an error past this many states
# the process's peak memory per (state, action) enumerated: 1.17 GB for DoorKey-16x16's 2,503,760
# (benchmarks/minigrid.py, 2026-12-02): the state dict, the key tuples, the rows and the arrays
BYTES_PER_TRANSITION = 470
SUCCESS_TOL = 1e-9  # a success's reward must be 1 - 0.9 k / T within this


def is_minigrid(env_id: str) -> bool:
    """Whether ``env_id`` names a Farama MiniGrid world (its ids start ``MiniGrid-``)."""
    return str(env_id).startswith("MiniGrid-")


def ensure_registered(env_id: str) -> None:
    """Import minigrid when ``env_id`` is one of its worlds (importing it registers them), or raise
    ``ImportError`` with ``MINIGRID_HINT``; any other id is left to Gymnasium."""
    if is_minigrid(env_id):
        require_minigrid()


def require_minigrid() -> Any:
    """The ``minigrid`` module, or ``ImportError`` with ``MINIGRID_HINT`` (one line)."""
    try:
        import minigrid
    except ImportError:
        raise ImportError(MINIGRID_HINT) from None
    return minigrid


class MiniGridMismatch(AssertionError):
    """The real env and the model disagree on a step (raised by :func:`verify_minigrid`)."""


def _movable(obj: Any) -> bool:
    return obj.can_pickup() or obj.type == "box"


class _Codec:
    """Reads and writes the state of one MiniGrid env (module doc) as a tuple of integers:
    ``(agent cell, direction, carried object or -1, each movable object's cell (-1 carried, -2 not
    on the grid), each door's flags (1 open + 2 locked))``."""

    def __init__(self, env: Any) -> None:
        self.env = env
        self.width = env.grid.width
        self.movable: list[Any] = []
        seen: set[int] = set()

        def add(obj: Any) -> None:
            while obj is not None and id(obj) not in seen and _movable(obj):
                seen.add(id(obj))
                self.movable.append(obj)
                obj = obj.contains  # a box's content moves once the box is opened

        for obj in env.grid.grid:
            if obj is not None:
                add(obj)
        add(env.carrying)
        self.doors = [obj for obj in env.grid.grid if obj is not None and obj.type == "door"]
        self.index = {id(obj): i for i, obj in enumerate(self.movable)}
        self.loc = self._scan()

    def _scan(self) -> list[int]:
        g, carrying = self.env.grid.grid, self.env.carrying
        where = {id(obj): j for j, obj in enumerate(g) if obj is not None}
        return [-1 if obj is carrying else where.get(id(obj), -2) for obj in self.movable]

    def read(self) -> tuple[int, ...]:
        """The env's current state, after a ``step``."""
        env, loc = self.env, self.loc
        g, carrying = env.grid.grid, env.carrying
        for i, obj in enumerate(self.movable):
            p = loc[i]
            if p >= 0 and g[p] is obj:
                continue
            if obj is carrying:
                loc[i] = -1
                continue
            pos = obj.cur_pos  # where place_obj, drop or a box's opening put it, if anywhere
            j = -2 if pos is None else int(pos[1]) * self.width + int(pos[0])
            if not (0 <= j < len(g) and g[j] is obj):  # moved, released from a box, or gone
                j = next((j for j, c in enumerate(g) if c is obj), -2)
            loc[i] = j
        if carrying is not None and id(carrying) not in self.index:
            raise ValueError(f"the agent carries a {carrying.color} {carrying.type} the model never saw on the grid")
        x, y = env.agent_pos
        return (int(y) * self.width + int(x), int(env.agent_dir),
                -1 if carrying is None else self.index[id(carrying)], *loc,
                *[int(d.is_open) + 2 * int(d.is_locked) for d in self.doors])

    def write(self, key: tuple[int, ...]) -> None:
        """Put the env in state ``key`` (its step counter at 0)."""
        env, W, n = self.env, self.width, len(self.movable)
        g = env.grid.grid
        for i, obj in enumerate(self.movable):
            p = self.loc[i]
            if p >= 0 and g[p] is obj:
                g[p] = None
        target = key[3:3 + n]
        for i, obj in enumerate(self.movable):
            p = target[i]
            if p >= 0:
                g[p] = obj
                obj.cur_pos = (p % W, p // W)
        env.carrying = self.movable[key[2]] if key[2] >= 0 else None
        for door, flags in zip(self.doors, key[3 + n:]):
            door.is_open, door.is_locked = bool(flags & 1), bool(flags & 2)
        env.agent_pos = (key[0] % W, key[0] // W)
        env.agent_dir = key[1]
        env.step_count = 0
        self.loc = list(target)


def _signature(obj: Any) -> tuple:
    """How an object of a live env is matched to the model's: type, colour, where it was placed."""
    pos = getattr(obj, "init_pos", None)
    return obj.type, obj.color, None if pos is None else (int(pos[0]), int(pos[1]))


def layout_digest(env: Any) -> str:
    """SHA-256 (first 16 hex digits) of a freshly reset env's ``grid.encode()``, agent cell and direction."""
    h = hashlib.sha256(np.ascontiguousarray(env.grid.encode()).tobytes())
    h.update(np.array([*map(int, env.agent_pos), int(env.agent_dir)], dtype=np.int64).tobytes())
    return h.hexdigest()[:16]


@dataclass(eq=False)
class MiniGridModel:
    r"""The exact model of one MiniGrid instance: (env id, minigrid version, seed).

    Live states are ``0..n_states-1`` (0 is the reset state); :attr:`mdp` adds one absorbing state,
    ``end``, that every ending transition enters.

    Attributes:
        env_id, seed, minigrid_version: the instance.
        layout: ``grid.encode()`` of the reset env, and ``layout_digest`` its digest (with the
            agent's start), checked by :meth:`check_layout`.
        max_steps: :math:`T`, the episode's length.
        keys: each live state's key (see the module doc).
        outcome_ptr: ``(S * A + 1,)``: the outcomes of ``(s, a)`` are entries
            ``outcome_ptr[s * A + a]`` to ``outcome_ptr[s * A + a + 1]`` of the four arrays below
            (ragged, as a CSR matrix's rows: a deterministic world has one outcome per pair,
            Dynamic-Obstacles-6x6 up to 729); :meth:`outcomes` gives the slice.
        next_state: ``(n,)`` next live state of each outcome (``-1``: the episode ends);
            ``prob``: ``(n,)`` each outcome's probability.
        success: ``(n,)`` bool, the outcome is a success (pays :math:`1 - 0.9 k/T`);
            ``penalty``: ``(n,)`` any other reward it pays (Dynamic-Obstacles' -1).
        actions: the action names.

    Example:
        >>> m = exact_model("MiniGrid-Empty-5x5-v0", seed=0)
        >>> m.optimal_action(m.start, 0), m.actions[2]
        (2, 'forward')
    """

    env_id: str
    seed: int | None
    minigrid_version: str
    layout: np.ndarray
    layout_digest: str
    max_steps: int
    keys: list[tuple[int, ...]]
    outcome_ptr: np.ndarray
    next_state: np.ndarray
    prob: np.ndarray
    success: np.ndarray
    penalty: np.ndarray
    actions: tuple[str, ...]
    signatures: list[tuple] | None = field(repr=False, default_factory=list)
    obstacle_slots: list[int] | None = field(repr=False, default=None)
    n_doors: int = 0
    width: int = 0
    enumeration_seconds: float = 0.0

    def __post_init__(self) -> None:
        self.index = {k: i for i, k in enumerate(self.keys)}
        self._d: np.ndarray | None = None
        self._table: np.ndarray | None = None

    # ------------------------------------------------------------------ sizes
    @property
    def n_states(self) -> int:
        """Live states (the absorbing ``end`` of :attr:`mdp` not counted)."""
        return len(self.keys)

    @property
    def n_actions(self) -> int:
        """The env's actions."""
        return (len(self.outcome_ptr) - 1) // len(self.keys)

    @property
    def n_transitions(self) -> int:
        """(state, action, outcome) triples of positive probability."""
        return int((self.prob > 0).sum())

    def outcomes(self, s: int, a: int) -> slice:
        """The slice of ``next_state``, ``prob``, ``success`` and ``penalty`` holding the outcomes of
        action ``a`` in live state ``s``.

        Example:
            >>> m = exact_model("MiniGrid-Empty-5x5-v0", seed=0)
            >>> o = m.outcomes(m.start, 2)  # forward, from the reset state
            >>> m.next_state[o].tolist(), m.prob[o].tolist()
            ([3], [1.0])
        """
        i = int(s) * self.n_actions + int(a)
        return slice(int(self.outcome_ptr[i]), int(self.outcome_ptr[i + 1]))

    def _pairs(self) -> np.ndarray:
        """``(n,)``: each outcome's (state, action) row, ``s * A + a``."""
        return np.repeat(np.arange(len(self.outcome_ptr) - 1), np.diff(self.outcome_ptr))

    @property
    def start(self) -> int:
        """The reset state's index (0)."""
        return 0

    @property
    def deterministic(self) -> bool:
        """Every (state, action) has one outcome."""
        return len(self.next_state) == len(self.outcome_ptr) - 1

    # ------------------------------------------------------------------ the time-free MDP
    @cached_property
    def mdp(self) -> TabularMDP:
        """The time-free :class:`~envs.mdp.TabularMDP` of the reachable states plus ``end``.

        ``R(s, a)`` is the undated reward: a success counts 1 (the native objective pays
        :math:`1 - 0.9 k/T` for it, see :meth:`V_star`), plus any penalty. Its ``gamma`` is 1,
        the native objective being undiscounted; a discounted variant is a different objective.
        """
        S, A = self.n_states, self.n_actions
        end = S
        cols = np.where(self.next_state < 0, end, self.next_state)
        P = sp.csr_matrix((self.prob, (self._pairs(), cols)), shape=((S + 1) * A, S + 1))
        P = P + sp.csr_matrix((np.ones(A), (np.arange(S * A, (S + 1) * A), np.full(A, end))), shape=P.shape)
        _, p_success, penalty = self._backup
        R = np.zeros((S + 1, A))
        R[:S] = (p_success + penalty).reshape(S, A)
        terminal = np.zeros(S + 1, dtype=bool)
        terminal[end] = True
        initial = np.zeros(S + 1)
        initial[0] = 1.0
        return TabularMDP(P.tocsr(), R, terminal, initial, gamma=1.0,
                          info={"source": f"minigrid {self.env_id} seed {self.seed}", "objective": "undated",
                                "absorbing_state": end})

    # ------------------------------------------------------------------ the native objective
    def success_reward(self, k: np.ndarray | int) -> np.ndarray | float:
        """MiniGrid's :math:`1 - 0.9\\,k/T` for a success at step ``k`` (1-based)."""
        return 1.0 - 0.9 * np.asarray(k, dtype=np.float64) / self.max_steps

    def distance(self) -> np.ndarray:
        """``(S,)``: :math:`d(s)`, the fewest steps to a success (``inf`` where none); deterministic worlds only."""
        if not self.deterministic:
            raise ValueError(f"{self.env_id} is stochastic: the shortest-path closed form does not hold; "
                             "use V_star_table (backward induction)")
        if self._d is None:
            S, A = self.n_states, self.n_actions
            nxt, succ = self.next_state.reshape(S, A), self.success.reshape(S, A)
            d = np.full(S, np.inf)
            d[succ.any(axis=1)] = 1
            src, act = np.nonzero(nxt >= 0)
            dst = nxt[src, act]
            back = sp.csr_matrix((np.ones(len(src)), (dst, src)), shape=(S, S))  # who leads to each state
            frontier = np.flatnonzero(d == 1)
            k = 1
            while frontier.size:
                k += 1
                prev = np.unique(back[frontier].indices)
                prev = prev[np.isinf(d[prev])]
                d[prev] = k
                frontier = prev
            self._d = d
        return self._d

    def V_star(self, s: int, t: int = 0) -> float:
        """:math:`V^*(s, t)` under the native objective (closed form when deterministic, else the table)."""
        self._check_time(t)
        if self.deterministic:
            k = t + self.distance()[s]
            return float(self.success_reward(k)) if k <= self.max_steps else 0.0
        return float(self.V_star_table()[t, s])

    def V_star_at(self, t: int) -> np.ndarray:
        """``(S,)``: :math:`V^*(\\cdot, t)` of every state, ``t`` in ``[0, max_steps]`` (0 at the end)."""
        if not 0 <= t <= self.max_steps:
            raise ValueError(f"t must be in [0, {self.max_steps}] (max_steps), got {t}")
        if t == self.max_steps:
            return np.zeros(self.n_states)
        if not self.deterministic:
            return self.V_star_table()[t]
        k = t + self.distance()
        return np.where(k <= self.max_steps, self.success_reward(np.minimum(k, self.max_steps)), 0.0)

    def optimal_action(self, s: int, t: int = 0) -> int:
        """An action optimal at ``(s, t)``: on a shortest path when deterministic (module doc)."""
        self._check_time(t)
        if self.deterministic:
            d = self.distance()
            if not t + d[s] <= self.max_steps:
                return 0  # the goal is out of reach: every action is worth 0
            A = self.n_actions
            nxt, succ = self.next_state[s * A:(s + 1) * A], self.success[s * A:(s + 1) * A]
            ahead = np.where(nxt >= 0, d[np.maximum(nxt, 0)], np.inf)
            return int(np.flatnonzero(succ | (ahead == d[s] - 1))[0])
        return int(self.q_values(s, t).argmax())

    def q_values(self, s: int, t: int = 0, V_next: np.ndarray | None = None) -> np.ndarray:
        """``(A,)``: :math:`Q(s, a, t) = \\Pr[\\text{success}]\\,(1 - 0.9 (t+1)/T) + E[\\text{penalty}] +
        \\sum_{s'} p(s'|s,a)\\,V(s', t+1)` of one state, from its own rows of ``_backup`` (not the whole
        product: a stochastic world has tens of millions of outcomes); ``V_next`` defaults to
        :math:`V^*(\\cdot, t+1)`."""
        self._check_time(t)
        V_next = self.V_star_at(t + 1) if V_next is None else V_next
        P, p_success, penalty = self._backup
        rows = slice(s * self.n_actions, (s + 1) * self.n_actions)
        return p_success[rows] * self.success_reward(t + 1) + penalty[rows] + P[rows] @ V_next

    def _check_time(self, t: int) -> None:
        if not 0 <= t < self.max_steps:
            raise ValueError(f"t must be in [0, {self.max_steps}) (max_steps), got {t}")

    @cached_property
    def _backup(self) -> tuple[sp.csr_matrix, np.ndarray, np.ndarray]:
        """The one-step operator: ``P`` (S * A, S) to live states, and per pair the probability of
        a success and the expected penalty (built once; the outcome arrays are not to be changed after)."""
        S, A = self.n_states, self.n_actions
        rows, live = self._pairs(), self.next_state >= 0
        P = sp.csr_matrix((self.prob[live], (rows[live], self.next_state[live])), shape=(S * A, S))
        return (P, np.bincount(rows, self.prob * self.success, minlength=S * A),
                np.bincount(rows, self.prob * self.penalty, minlength=S * A))

    def _q(self, t: int, V_next: np.ndarray, gamma: float = 1.0) -> np.ndarray:
        """``(S, A)``: :math:`Q(s, a) = \\Pr[\\text{success}]\\,(1 - 0.9 (t+1)/T) + E[\\text{penalty}]
        + \\gamma \\sum_{s'} p(s'|s,a) V(s', t+1)` given :math:`V(\\cdot, t+1)` (``V_next``)."""
        P, p_success, penalty = self._backup
        q = p_success * self.success_reward(t + 1) + penalty + gamma * (P @ V_next)
        return q.reshape(self.n_states, self.n_actions)

    def V_star_table(self) -> np.ndarray:
        """``(T + 1, S)``: :math:`V^*(s, t)` by backward induction over :math:`(s, t)`, any world."""
        if self._table is None:
            from envs.resources import require_memory

            require_memory(8.0 * (self.max_steps + 1) * self.n_states, f"the value table of {self.env_id}")
            V = np.zeros((self.max_steps + 1, self.n_states))
            for t in range(self.max_steps - 1, -1, -1):
                V[t] = self._q(t, V[t + 1]).max(axis=1)
            self._table = V
        return self._table

    def value(self, policy: np.ndarray | Callable[[int], np.ndarray], t: int = 0, gamma: float = 1.0,
              every_state: bool = False) -> float | np.ndarray:
        r"""The exact native-objective value of a stationary policy from the reset state at time ``t``.

        :math:`V^\pi(s, t) = \sum_a \pi(a|s) \sum_{s'} p(s'|s,a)\,[r_t(s,a,s') + \gamma V^\pi(s', t+1)]`,
        by backward induction from :math:`V^\pi(\cdot, T) = 0`; :math:`\gamma = 1` is MiniGrid's
        objective, and a discount below 1 gives the discounted return of the same episodes (what an
        SB3 critic is trained toward).

        Arguments:
            policy: ``(S, A)`` action probabilities per live state, or a function of the state
                index returning them.
            t: the steps already taken.
            gamma: the discount of the return.
            every_state: return :math:`V^\pi(\cdot, t)` of every state instead of the reset state's.
        """
        self._check_time(t)
        pi = np.asarray([policy(s) for s in range(self.n_states)] if callable(policy) else policy, dtype=np.float64)
        if pi.shape != (self.n_states, self.n_actions):
            raise ValueError(f"policy must give ({self.n_states}, {self.n_actions}) probabilities, got {pi.shape}")
        if np.any(pi < 0) or np.any(np.abs(pi.sum(axis=1) - 1) > 1e-6):
            raise ValueError("policy rows must be probabilities that sum to 1")
        V = np.zeros(self.n_states)
        for u in range(self.max_steps - 1, t - 1, -1):
            V = (pi * self._q(u, V, gamma)).sum(axis=1)
        return V if every_state else float(V[self.start])

    # ------------------------------------------------------------------ what an agent sees
    def observations(self, wrapper: Callable[[Any], Any] | None = None) -> np.ndarray:
        """``(S, ...)``: each state's observation as an agent sees it, computed once per state.

        The env's own ``gen_obs()`` in that state (its ``image``), or, with ``wrapper`` (an
        observation wrapper class such as ``minigrid.wrappers.FlatObsWrapper``, the RL Zoo's), the
        wrapper's ``observation`` of it.

        Example:
            >>> from minigrid.wrappers import FlatObsWrapper
            >>> exact_model("MiniGrid-Empty-5x5-v0", seed=0).observations(FlatObsWrapper).shape
            (32, 2835)
        """
        env = self.fresh_env()
        base = env.unwrapped
        codec = _Codec(base)
        chain = []  # the observation wrappers between the env and the agent, innermost first
        outer = wrapper(env) if wrapper is not None else env
        while isinstance(outer, gym.Wrapper):
            if isinstance(outer, gym.ObservationWrapper):
                chain.insert(0, outer)
            outer = outer.env
        out = []
        for key in self.keys:
            codec.write(key)
            obs = base.gen_obs()
            for w in chain:
                obs = w.observation(obs)
            out.append(np.asarray(obs if chain else obs["image"]))
        return np.stack(out)

    def aliasing(self, observations: np.ndarray) -> dict[str, int]:
        """How many states share an observation, which no memoryless policy can tell apart.

        Returns ``{"states", "observations" (distinct ones), "aliased_states" (states whose
        observation another state shares), "largest_group"}``.

        Example:
            >>> m = exact_model("MiniGrid-Empty-5x5-v0", seed=0)
            >>> m.aliasing(m.observations())["states"]
            32
        """
        flat = np.asarray(observations).reshape(len(observations), -1)
        _, inverse, counts = np.unique(flat, axis=0, return_inverse=True, return_counts=True)
        shared = counts[np.ravel(inverse)] > 1
        return {"states": int(len(flat)), "observations": int(len(counts)), "aliased_states": int(shared.sum()),
                "largest_group": int(counts.max())}

    # ------------------------------------------------------------------ views
    def situations(self) -> list[tuple[int, ...]]:
        """The distinct rest-of-the-world parts of the states (carried object, objects' cells,
        doors' flags: a key without its first two entries), the reset's first, then the others by
        how many agent (cell, direction) pairs reach them."""
        counts: dict[tuple[int, ...], int] = {}
        for key in self.keys:
            counts[key[2:]] = counts.get(key[2:], 0) + 1
        first = self.keys[self.start][2:]
        return [first] + sorted((k for k in counts if k != first), key=lambda k: (-counts[k], k))

    def describe(self, situation: tuple[int, ...]) -> str:
        """A situation in words: what the agent carries, which objects moved, and the doors."""
        n = len(self.signatures or [])
        carry, locs, doors = situation[0], situation[1:1 + n], situation[1 + n:]
        start = self.keys[self.start][3:3 + n]
        words = []
        if self.signatures:
            if carry >= 0:
                words.append(f"carrying the {self.signatures[carry][1]} {self.signatures[carry][0]}")
            moved = [i for i in range(n) if locs[i] != start[i] and i != carry]
            words += [f"the {self.signatures[i][1]} {self.signatures[i][0]} "
                      f"{'gone' if locs[i] == -2 else 'at (%d, %d)' % (locs[i] % self.width, locs[i] // self.width)}"
                      for i in moved]
        names = {0: "closed", 1: "open", 2: "locked", 3: "locked"}
        words += [f"door {j}: {names[f]}" for j, f in enumerate(doors)]
        return "; ".join(words) or "as at reset"

    def value_grid(self, situation: tuple[int, ...] | None = None, t: int = 0) -> np.ndarray:
        """``(4, height, width)``: :math:`V^*(s, t)` of the state with the agent in each cell facing
        each direction (0 east, 1 south, 2 west, 3 north: MiniGrid's) and the rest of the world in
        ``situation`` (default: as at reset); NaN where no such state is reachable."""
        self._check_time(t)
        situation = self.keys[self.start][2:] if situation is None else tuple(situation)
        W, H = self.layout.shape[0], self.layout.shape[1]
        out = np.full((4, H, W), np.nan)
        for s, key in enumerate(self.keys):
            if key[2:] == situation:
                out[key[1], key[0] // W, key[0] % W] = self.V_star(s, t)
        return out

    # ------------------------------------------------------------------ live envs
    def state_of(self, env: Any) -> int:
        """The model's index of a live env's current state (an env of this instance, mid-episode)."""
        env = env.unwrapped
        if self.signatures is None:
            raise ValueError(f"{self.env_id}: objects of one type and colour placed at one cell cannot be told "
                             "apart in a live env")
        n = len(self.signatures)
        where = {sig: i for i, sig in enumerate(self.signatures)}
        loc = [-2] * n
        carry = -1
        found = [(j, obj) for j, obj in enumerate(env.grid.grid) if obj is not None and _movable(obj)]
        if env.carrying is not None:
            found.append((-1, env.carrying))
        if self.obstacle_slots is not None:  # Dynamic-Obstacles' balls: matched by their order, as step moves them
            for slot, ball in zip(self.obstacle_slots, env.obstacles):
                loc[slot] = int(ball.cur_pos[1]) * self.width + int(ball.cur_pos[0])
            balls = {id(ball) for ball in env.obstacles}
            found = [(j, obj) for j, obj in found if id(obj) not in balls]
        for j, obj in found:
            i = where.get(_signature(obj))
            if i is None:
                raise ValueError(f"the env holds a {obj.color} {obj.type} placed at {_signature(obj)[2]} that "
                                 f"{self.env_id} seed {self.seed} does not have: another seed or layout?")
            loc[i] = j
            if j == -1:
                carry = i
        doors = [int(o.is_open) + 2 * int(o.is_locked) for o in env.grid.grid if o is not None and o.type == "door"]
        x, y = env.agent_pos
        key = (int(y) * self.width + int(x), int(env.agent_dir), carry, *loc, *doors)
        if key not in self.index:
            raise ValueError(f"the env's state {key} is not among the {self.n_states} states of {self.env_id} seed "
                             f"{self.seed}: another seed or layout, or a step the model does not know")
        return self.index[key]

    def fresh_env(self) -> Any:
        """A new ``gym.make`` env of this instance, reset with its seed, its layout checked against
        the stored digest (a numpy or minigrid build may draw another layout from the seed)."""
        if self.seed is None:
            raise ValueError(f"this model of {self.env_id} is of a layout from reset_distribution, not of a seed")
        env = _make(self.env_id)
        env.reset(seed=self.seed)
        digest = layout_digest(env.unwrapped)
        if digest != self.layout_digest:
            raise ValueError(f"{self.env_id} seed {self.seed} now generates layout {digest}, not the model's "
                             f"{self.layout_digest}: this numpy or minigrid build draws another layout from the seed")
        return env

    def check_layout(self) -> None:
        """Reset a fresh env with this seed; raise if its layout's digest differs from the stored one."""
        self.fresh_env()


def _make(env_id: str, **kwargs: Any) -> Any:
    require_minigrid()
    import minigrid  # noqa: F401  (registers the MiniGrid ids)

    return gym.make(env_id, **kwargs)


def _unwrap_minigrid(env_or_id: Any) -> tuple[Any, str]:
    """A fresh unwrapped MiniGrid env and its id, or one line saying what is wrong."""
    require_minigrid()
    from minigrid.minigrid_env import MiniGridEnv

    if isinstance(env_or_id, str):
        env = _make(env_or_id)
        env_id = env_or_id
    else:
        spec = getattr(env_or_id, "spec", None)
        if not isinstance(getattr(env_or_id, "unwrapped", None), MiniGridEnv) or spec is None:
            raise TypeError(f"exact_model needs a MiniGrid env or id, got {type(env_or_id).__name__}"
                            f"{'' if spec is None else ' (' + spec.id + ')'}")
        env_id = spec.id
        env = _make(env_id, **spec.kwargs)
    if not isinstance(env.unwrapped, MiniGridEnv):
        raise TypeError(f"exact_model needs a MiniGrid env, and {env_id} is a {type(env.unwrapped).__name__}")
    return env.unwrapped, env_id


def estimate_states(env: Any) -> int:
    """An upper bound on the reachable states of a reset env, for refusing what cannot fit.

    free cells x 4 directions x (free cells + 2)^(movable objects) x 4^(doors).
    """
    free = sum(1 for obj in env.grid.grid if obj is None or obj.can_overlap() or _movable(obj) or obj.type == "door")
    codec = _Codec(env)
    return int(free * 4 * float(free + 2) ** len(codec.movable) * 4 ** len(codec.doors))


def reset_distribution(env_or_id: Any, max_layouts: int = 5000, max_choices: int = 64,
                       progress: bool = False) -> list[tuple[float, MiniGridModel]]:
    r"""Every layout ``reset`` can draw, with its exact probability and its exact model.

    ``reset`` is run once per path of its random choices (``_rand_int``, ``place_obj``, RoomGrid's
    ``place_agent``, each with its exact probabilities); paths that draw the
    same layout are merged. :math:`E[V^*(s_0)] = \sum_\ell P(\ell)\,V^*_\ell(s_0, 0)`.

    Arguments:
        env_or_id: a MiniGrid id or env.
        max_layouts: stop with :class:`~envs.minigrid_draws.NotEnumerable` past this many paths.
        max_choices: random choices allowed on one path (a rejection loop exceeds it).

    Raises:
        envs.minigrid_draws.NotEnumerable: the reset draws in a way this cannot enumerate (``np_random`` used directly,
            a rejection loop), or draws too many layouts; use :func:`expected_optimal_return` with seeds.

    Example:
        >>> dist = reset_distribution("MiniGrid-Empty-Random-5x5-v0")
        >>> len(dist), round(sum(p for p, _ in dist), 12)   # 8 cells x 4 directions, one layout each
        (32, 1.0)
    """
    env, env_id = _unwrap_minigrid(env_or_id)
    env.reset(seed=0)
    draws = minigrid_draws.ResetDraws(env, max_choices)
    models: dict[str, MiniGridModel] = {}
    count = [0]

    def reset() -> str:
        draws.install()
        try:
            env.reset()
        finally:
            draws.remove()
        return layout_digest(env)

    def counted() -> None:  # a first pass, resets only: refuse before building any model
        count[0] += 1
        if count[0] > max_layouts:
            raise minigrid_draws.NotEnumerable(f"{env_id} draws more than {max_layouts:,} layouts (max_layouts)")
        reset()

    draws.paths(counted)

    def run() -> str:
        digest = reset()
        if digest not in models:
            models[digest] = _enumerate(env, env_id, None)
            if progress and len(models) % 100 == 0:
                print(f"{env_id}: {len(models):,} layouts", flush=True)
        return digest

    merged: dict[str, float] = {}
    for p, digest in draws.paths(run):
        merged[digest] = merged.get(digest, 0.0) + p
    return [(p, models[d]) for d, p in merged.items()]


def expected_optimal_return(env_id: str, seeds: Any = None, **kwargs: Any) -> dict[str, Any]:
    """:math:`E[V^*(s_0, 0)]` over the reset distribution (exact, :func:`reset_distribution`) or, with
    ``seeds``, the mean over those seeds' layouts.

    Returns:
        ``{"value", "over": "reset distribution" | "seeds", "layouts", "seeds"}``.
    """
    if seeds is None:
        dist = reset_distribution(env_id, **kwargs)
        return {"value": float(sum(p * m.V_star(m.start, 0) for p, m in dist)), "over": "reset distribution",
                "layouts": len(dist), "seeds": None}
    values = [exact_model(env_id, seed=int(s)).V_star(0, 0) for s in seeds]
    return {"value": float(np.mean(values)), "over": "seeds", "layouts": len(values), "seeds": [int(s) for s in seeds]}


def exact_model(env_or_id: Any, seed: int = 0, max_states: int = MAX_STATES, progress: bool = False,
                derived_step: bool = True) -> MiniGridModel:
    """Enumerate the states reachable from ``reset(seed=seed)`` through the env's own ``step``.

    Arguments:
        env_or_id: a MiniGrid id (``"MiniGrid-DoorKey-5x5-v0"``) or a MiniGrid env made by
            ``gym.make`` (a fresh one of the same spec is enumerated; the env passed is not touched).
        seed: the reset seed: with the id and the minigrid version, the instance.
        max_states: stop with an error past this many states.
        progress: print the count every 100,000 states.
        derived_step: Dynamic-Obstacles only: take its outcomes from
            :class:`envs.dynamic_obstacles.ObstacleKernel` (its ``step`` derived from the code, ball
            kernel once per state; 32 states (``KERNEL_CHECKS``) are then checked against ``step``
            itself), instead of one run of ``step`` per path of the balls' draws (``False``: the
            reference, several times slower).

    Raises:
        TypeError: not a MiniGrid env.
        ImportError: minigrid is missing.
        MemoryError: the estimate, or the count, does not fit.
        ValueError: a step pays a reward the model cannot express.
        MiniGridMismatch: the derived step disagrees with the env's own on a checked state.

    Example:
        >>> m = exact_model("MiniGrid-DoorKey-5x5-v0", seed=1)
        >>> m.deterministic, m.n_states, round(m.V_star(m.start, 0), 4)
        (True, 260, 0.9748)
    """
    env, env_id = _unwrap_minigrid(env_or_id)
    env.reset(seed=int(seed))
    return _enumerate(env, env_id, int(seed), max_states=max_states, progress=progress, derived_step=derived_step)


KERNEL_CHECKS = 32  # states whose derived Dynamic-Obstacles outcomes are checked against step itself


class _Stepper:
    """Runs the env's own ``step`` from a state key: every outcome, as ``{(next key or None,
    success, penalty): probability}`` (one run per path of ``place_obj``'s draws where ``step``
    places objects, as Dynamic-Obstacles does)."""

    def __init__(self, env: Any, env_id: str, codec: _Codec) -> None:
        self.env, self.env_id, self.codec = env, env_id, codec
        self.first_reward = 1.0 - 0.9 / env.max_steps
        self.stochastic = hasattr(env, "obstacles")  # Dynamic-Obstacles: balls moved by place_obj inside step
        self.brancher = minigrid_draws.Branching(env)

    def run(self, key: tuple[int, ...], a: int) -> tuple[tuple[int, ...] | None, bool, float]:
        """One run of ``step(a)`` from ``key``: (next key or None, success, penalty)."""
        self.codec.write(key)
        _, reward, terminated, _, _ = self.env.step(a)
        new = self.codec.read()  # always: the codec must know where every object is before the next write
        reward = float(reward)
        if terminated:
            if reward > 0 and abs(reward - self.first_reward) > SUCCESS_TOL:
                raise ValueError(f"{self.env_id}: action {a} from state {key} pays {reward!r} on ending, not "
                                 f"MiniGrid's 1 - 0.9 k / max_steps = {self.first_reward!r} at k = 1")
            return None, reward > 0, min(reward, 0.0)
        if reward != 0.0:
            raise ValueError(f"{self.env_id}: action {a} from state {key} pays {reward!r} without ending the episode; "
                             "the model holds only MiniGrid's success reward and ending penalties")
        return new, False, 0.0

    def outcomes(self, key: tuple[int, ...], a: int) -> dict[tuple[tuple[int, ...] | None, bool, float], float]:
        if not self.stochastic:
            return {self.run(key, a): 1.0}
        merged: dict[tuple[tuple[int, ...] | None, bool, float], float] = {}
        for p, result in self.brancher.paths(lambda: self.run(key, a)):
            merged[result] = merged.get(result, 0.0) + p
        return merged

    def __enter__(self) -> "_Stepper":
        self.env.gen_obs = lambda: None  # the enumeration's own env: observations are computed afterwards, if at all
        if self.stochastic:
            self.env.place_obj = self.brancher
        return self

    def __exit__(self, *exc: Any) -> None:
        del self.env.gen_obs
        if self.stochastic:
            del self.env.place_obj


def _check_derived(kernel: Any, stepper: _Stepper, keys: list[tuple[int, ...]], A: int, checks: int) -> None:
    """The derived Dynamic-Obstacles outcomes of ``checks`` states (the start and a seeded sample)
    against ``step`` itself; raise :class:`MiniGridMismatch` naming the first that differs."""
    rng = np.random.default_rng(0)
    sample = [0, *rng.choice(np.arange(1, len(keys)), size=min(checks, len(keys)) - 1, replace=False)]
    for s in sample:
        key = keys[int(s)]
        placements = kernel.placements(key)
        for a in range(A):
            derived = {(new, won, pen): p for p, new, won, pen in kernel.outcomes(key, placements, a)}
            real = stepper.outcomes(key, a)
            diff = [(o, derived.get(o, 0.0), real.get(o, 0.0)) for o in {*derived, *real}
                    if abs(derived.get(o, 0.0) - real.get(o, 0.0)) > 1e-12]
            if diff:
                o, p_derived, p_real = max(diff, key=lambda d: abs(d[1] - d[2]))
                raise MiniGridMismatch(
                    f"{stepper.env_id}: Dynamic-Obstacles' derived step disagrees with the env's own step from state "
                    f"{key}, action {a}: outcome {o} has probability {p_derived!r} derived, {p_real!r} by step "
                    f"(minigrid {require_minigrid().__version__}); enumerate with derived_step=False")


def _enumerate(env: Any, env_id: str, seed: int | None, max_states: int = MAX_STATES,
               progress: bool = False, derived_step: bool = True) -> MiniGridModel:
    """The model of the states reachable from the env's current (just reset) state."""
    import time

    from envs.dynamic_obstacles import ObstacleKernel, is_dynamic_obstacles
    from envs.resources import require_memory

    minigrid = require_minigrid()
    t0 = time.perf_counter()
    layout, digest = env.grid.encode().copy(), layout_digest(env)
    A = int(env.action_space.n)
    bound = estimate_states(env)
    try:
        require_memory(min(bound, max_states) * A * BYTES_PER_TRANSITION, f"the exact model of {env_id} (at most "
                       f"{bound:,} states by the estimate)")
    except MemoryError as e:
        raise MemoryError(str(e)) from None
    codec = _Codec(env)
    signatures = [_signature(obj) for obj in codec.movable]
    if len(set(signatures)) != len(signatures):
        signatures = None  # objects a live env could not tell apart: state_of unavailable
    start = codec.read()
    index = {start: 0}
    keys = [start]
    stepper = _Stepper(env, env_id, codec)
    kernel = ObstacleKernel(env, codec) if derived_step and is_dynamic_obstacles(env) else None

    def visit(new: tuple[int, ...] | None) -> int:
        """The index of a next state (-1: the episode ended), a new state queued."""
        if new is None:
            return -1
        i = index.get(new)
        if i is None:
            i = index[new] = len(keys)
            keys.append(new)
            queue.append(new)
            if len(keys) > max_states:
                raise MemoryError(f"{env_id} seed {seed} has more than {max_states:,} reachable states (max_states); "
                                  f"the estimate was {bound:,}")
            if progress and len(keys) % 100_000 == 0:
                print(f"{env_id}: {len(keys):,} states found, {len(queue):,} to expand", flush=True)
        return i

    # outcomes go straight into flat typed arrays (ragged rows, one per (state, action)): a
    # stochastic world has hundreds of outcomes per pair, which dense (S, A, K) arrays would pad
    ptr, nxt, prob, won_, pen_ = array("q", [0]), array("q"), array("d"), array("b"), array("d")
    with stepper:
        queue = deque([start])
        while queue:
            key = queue.popleft()
            placements = kernel.placements(key) if kernel is not None else None
            for a in range(A):
                rows = (kernel.outcomes(key, placements, a) if kernel is not None else
                        ((p, *o) for o, p in stepper.outcomes(key, a).items()))
                for p, new, won, pen in rows:
                    nxt.append(visit(new))
                    prob.append(p)
                    won_.append(won)
                    pen_.append(pen)
                ptr.append(len(nxt))
        if kernel is not None:
            _check_derived(kernel, stepper, keys, A, KERNEL_CHECKS)
    next_state = np.frombuffer(nxt, dtype=np.int64).astype(np.int32 if len(keys) < 2**31 else np.int64)
    outcome_ptr, prob = np.frombuffer(ptr, dtype=np.int64).copy(), np.frombuffer(prob, dtype=np.float64).copy()
    success, penalty = np.frombuffer(won_, dtype=np.int8).astype(bool), np.frombuffer(pen_, dtype=np.float64).copy()
    obstacle_slots = [codec.index[id(o)] for o in env.obstacles] if stepper.stochastic else None
    model = MiniGridModel(env_id=env_id, seed=seed, minigrid_version=minigrid.__version__, layout=layout,
                          layout_digest=digest, max_steps=int(env.max_steps), keys=keys, outcome_ptr=outcome_ptr,
                          next_state=next_state, prob=prob,
                          success=success, penalty=penalty, actions=tuple(act.name for act in env.actions)[:A],
                          signatures=signatures, obstacle_slots=obstacle_slots, n_doors=len(codec.doors),
                          width=codec.width, enumeration_seconds=time.perf_counter() - t0)
    return model


# ---------------------------------------------------------------------- the check against the real env
def verify_minigrid(model: MiniGridModel, episodes: int = 3, seed: int = 0,
                    policies: tuple[str, ...] = ("uniform", "optimal", "worst")) -> dict[str, Any]:
    """Replay the real ``gym.make`` env against the model, step by step; raise on the first mismatch.

    Each policy plays ``episodes`` episodes of the real env reset with the model's seed:

    - ``uniform``: uniformly random actions;
    - ``optimal``: :meth:`MiniGridModel.optimal_action` at each ``(s, t)``; its return must equal
      :math:`V^*(s_0, 0)` exactly (to 1e-12);
    - ``worst``: the action of least :math:`Q(s, t)`, a deliberately bad policy.

    At every step the env's next state (by :meth:`MiniGridModel.state_of`), reward, terminated
    and truncated must be what the model gives. The layout digest is checked first.

    Returns:
        ``{"steps": n, "episodes": {policy: [returns]}}``.

    Raises:
        MiniGridMismatch: naming the policy, episode, step, state, action and both sides.
    """
    if model.signatures is None:
        raise ValueError(f"{model.env_id}: objects of one type and colour placed at one cell cannot be told apart "
                         "in a live env, so the replay check cannot run")
    rng = np.random.default_rng(seed)
    env = model.fresh_env()
    steps, returns = 0, {}
    for name in policies:
        returns[name] = []
        for episode in range(episodes):
            env.reset(seed=model.seed)  # the instance's start; then an independent stream for what step draws
            env.unwrapped.np_random = np.random.default_rng([seed, len(returns), episode])
            s, total = _state_or_unknown(model, env), 0.0
            if s != model.start:
                raise MiniGridMismatch(f"{model.env_id} seed {model.seed}: the env's reset state is not the model's "
                                       f"start {model.keys[model.start]}")
            for t in range(model.max_steps):
                if name == "uniform":
                    a = int(rng.integers(model.n_actions))
                elif name == "optimal":
                    a = model.optimal_action(s, t)
                elif name == "worst":
                    a = int(model.q_values(s, t).argmin())
                else:
                    raise ValueError(f"unknown policy {name!r}; use uniform, optimal or worst")
                _, r, terminated, truncated, _ = env.step(a)
                steps += 1
                total += float(r)
                got = -1 if terminated else _state_or_unknown(model, env)
                o = model.outcomes(s, a)
                nxt, prob = model.next_state[o], model.prob[o]
                live = np.flatnonzero(prob > 0)
                rewards = np.where(model.success[o], model.success_reward(t + 1), model.penalty[o])
                want_trunc = t + 1 >= model.max_steps
                ok = bool(truncated) == want_trunc and any(
                    nxt[j] == got and abs(float(r) - rewards[j]) <= 1e-12 for j in live)
                if not ok:
                    said = "; ".join(f"state {'end' if nxt[j] < 0 else model.keys[nxt[j]]}"
                                     f", reward {float(rewards[j])!r}, terminated {bool(nxt[j] < 0)}"
                                     f"{'' if model.deterministic else f' (p = {prob[j]:.3g})'}"
                                     for j in live[:3])
                    raise MiniGridMismatch(
                        f"{model.env_id} seed {model.seed}, {name} policy, episode {episode}, step {t + 1}: action "
                        f"{model.actions[a]!r} from state {model.keys[s]}: the model gives {said}{' ...' if live.size > 3 else ''}"
                        f" (truncated {want_trunc}); the env gives state "
                        f"{'end' if got == -1 else got if got == 'unknown' else model.keys[got]}, reward {float(r)!r}, "
                        f"terminated {bool(terminated)}, truncated {bool(truncated)}")
                if terminated or truncated:
                    break
                s = got
            returns[name].append(total)
        if name == "optimal":
            _check_optimal_returns(model, np.asarray(returns[name]))
    return {"steps": steps, "episodes": returns}


def _check_optimal_returns(model: MiniGridModel, returns: np.ndarray) -> None:
    """Deterministic: every return is V*(s0, 0) to 1e-12; stochastic: their mean within 4 standard errors."""
    v = model.V_star(model.start, 0)
    if model.deterministic:
        bad = np.flatnonzero(np.abs(returns - v) > 1e-12)
        if bad.size:
            raise MiniGridMismatch(f"{model.env_id} seed {model.seed}: the optimal policy earned {returns[bad[0]]!r} "
                                   f"in the env; the model's V*(s0, 0) is {v!r}")
    elif returns.size > 1:
        se = returns.std(ddof=1) / np.sqrt(returns.size)
        if abs(returns.mean() - v) > 4 * se + 1e-9:
            raise MiniGridMismatch(f"{model.env_id} seed {model.seed}: the optimal policy earned {returns.mean():.4f} "
                                   f"+- {se:.4f} over {returns.size} episodes in the env; the model's V*(s0, 0) is {v:.4f}")


def check_kernel(model: MiniGridModel, steps: int = 3000, seed: int = 0, alpha: float = 1e-6) -> Any:
    """Sampled steps of the real env, from states the model puts it in, against the model's outcomes.

    :func:`envs.verify.check_model` on the real env seen through its state index (each (state,
    action) drawn uniformly; the env steps with its own random generator): every next state must
    have positive probability, the reward and end must match, and the next states' frequencies
    must pass a Kolmogorov-Smirnov test at ``alpha``. For Dynamic-Obstacles this checks the ball
    kernel derived from the env's code (a stand-in for ``place_obj``) against the env's sampling.

    Returns:
        :class:`envs.verify.ModelCheck`; raises ``ValueError`` naming the pair that differs.
    """
    from envs.verify import check_model

    return check_model(_IndexedEnv(model), model.mdp, steps=steps, seed=seed, alpha=alpha)


class _IndexedEnv(gym.Env):
    """The real env of a model's instance with its state as an index, ``.s`` (toy_text's convention),
    for :func:`envs.verify.check_model`. A success pays the undated 1 (:attr:`MiniGridModel.mdp`);
    ``reset`` keeps the layout (MiniGrid would draw a new one) and the env's generator running."""

    def __init__(self, model: MiniGridModel) -> None:
        self.model, self.real = model, None
        self.action_space = gym.spaces.Discrete(model.n_actions)
        self.observation_space = gym.spaces.Discrete(model.n_states + 1)
        self.codec: _Codec | None = None
        self._s = 0

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[int, dict]:
        if self.codec is None:
            self.real = self.model.fresh_env().unwrapped
            self.codec = _Codec(self.real)
        self.s = self.model.start
        return self._s, {}

    @property
    def s(self) -> int:
        return self._s

    @s.setter
    def s(self, state: int) -> None:
        self.codec.write(self.model.keys[int(state)])
        self._s = int(state)

    def step(self, action: int) -> tuple[int, float, bool, bool, dict]:
        _, reward, terminated, _, _ = self.real.step(int(action))
        key = self.codec.read()
        self._s = self.model.n_states if terminated else self.model.index[key]
        return self._s, (1.0 if terminated and float(reward) > 0 else float(reward)), bool(terminated), False, {}


def _state_or_unknown(model: MiniGridModel, env: Any) -> int | str:
    try:
        return model.state_of(env)
    except ValueError:
        return "unknown"
