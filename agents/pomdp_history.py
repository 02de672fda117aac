r"""The value of a policy with memory in a POMDP: a certified interval from its history tree, or a
Monte Carlo estimate with a stated 95% interval.

A recurrent agent (an LSTM policy, RecurrentPPO's) acts on its whole history of observations, so no
finite chain holds its value as one does a memoryless or frame-stacked agent's
(:mod:`agents.pomdp_eval`). Its value is a sum over the tree of histories
:math:`h_t = (o_0, a_1, o_1, \dots, a_t, o_t)`:

.. math:: V^\pi(b_0) = \sum_{t \ge 0} \gamma^t \sum_{h_t} \sum_a \pi(a \mid h_t)\, \alpha_{h_t}^\top R_{:, a},
          \qquad \alpha_{h, a, o}(s') = \pi(a \mid h)\, O(o \mid s', a) \sum_s \alpha_h(s)\, T(s' \mid s, a),

where :math:`\alpha_h` is the unnormalised belief of history :math:`h` (its mass is the probability of
reaching it with the hidden state not yet terminal). :func:`history_tree_value` expands the tree
best-first, always the nodes whose unexpanded future is the widest, and bounds every node it has not
expanded by the hidden MDP's worst and best values,
:math:`\alpha_h^\top \underline V \le (\text{value below } h) \le \alpha_h^\top V^*_{MDP}`
(no policy on the observations does better than one that sees the state, nor worse than the worst
policy that does). The result is a certified interval that narrows as the node budget grows; when
the policy puts all its mass on few branches (a greedy policy in a world whose observations are
mostly certain) it closes. Where it cannot, :func:`monte_carlo_value` samples the model's episodes
and states a 95% interval instead, which is not a certificate.

Both read the policy through :class:`RecurrentPolicy`: batches of observations in, action
probabilities and the next memory out.

Example:
    >>> from envs.pomdp_worlds import t_maze
    >>> m = t_maze(2, gamma=0.9)
    >>> class Remember:  # go right; at the junction turn towards the cue seen at the start
    ...     def initial_state(self, n): return np.full(n, -1)
    ...     def step(self, obs, state, first):
    ...         cue = np.where(obs <= 1, obs, state)  # 0 cue-up, 1 cue-down
    ...         probs = np.zeros((len(obs), 4)); probs[:, 1] = 1
    ...         junction = obs == m.observations.index("junction")
    ...         probs[junction] = 0; probs[junction & (cue == 0), 0] = 1; probs[junction & (cue == 1), 2] = 1
    ...         return probs, cue
    >>> r = history_tree_value(m, Remember(), tol=1e-9)
    >>> round(r.lower, 6), round(r.upper, 6)
    (3.24, 3.24)
"""

from __future__ import annotations

import heapq
import math
import time
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from envs.pomdp import TabularPOMDP

__all__ = ["RecurrentPolicy", "HistoryValue", "value_range", "history_tree_value", "monte_carlo_value",
           "MAX_BELIEF_FLOATS"]

MAX_BELIEF_FLOATS = 50_000_000  # history_tree_value keeps at most this many belief entries (400 MB)
BATCH = 256  # nodes expanded per call of the policy


class RecurrentPolicy(Protocol):
    """A policy with memory, read in batches.

    ``obs`` are observation indices (``Z``, the env's ``"start"``, at the first step), ``state`` is
    whatever memory :meth:`initial_state` returned (an array, or a tuple of arrays, with the batch
    on axis 0, or on axis 1 for torch's ``(layers, batch, hidden)`` LSTM states), and ``first``
    marks the first step of an episode.
    """

    def initial_state(self, n: int) -> Any:
        """The memory of ``n`` fresh episodes."""

    def step(self, obs: np.ndarray, state: Any, first: np.ndarray) -> tuple[np.ndarray, Any]:
        """``(n, A)`` action probabilities after seeing ``obs``, and the memory after it."""


@dataclass(frozen=True)
class HistoryValue:
    r"""An interval on a policy's :math:`V^\pi(b_0)`.

    Attributes:
        lower, upper: the interval.
        method: ``"history tree"`` (certified: the true value lies in it) or ``"monte carlo"`` (a
            95% confidence interval of the mean discounted return, widened by the horizon's cut-off).
        nodes: histories expanded (tree), or episodes sampled (Monte Carlo).
        depth: the deepest history expanded, or the horizon episodes were cut at.
        seconds: wall time.
    """

    lower: float
    upper: float
    method: str
    nodes: int
    depth: int
    seconds: float

    @property
    def value(self) -> float:
        """The interval's midpoint."""
        return 0.5 * (self.lower + self.upper)

    @property
    def width(self) -> float:
        """``upper - lower``."""
        return self.upper - self.lower


def value_range(pomdp: TabularPOMDP) -> tuple[np.ndarray, np.ndarray]:
    r"""Per hidden state, the hidden MDP's worst and best values :math:`\underline V(s) \le V^\pi \le V^*_{MDP}(s)`
    (each solved to 1e-10 and widened by its certified error), 0 on terminal states. Every policy of
    the POMDP, with memory or without, earns between :math:`\alpha^\top \underline V` and
    :math:`\alpha^\top V^*_{MDP}` from an unnormalised belief :math:`\alpha`.

    Example:
        >>> from envs.pomdp_worlds import tiger
        >>> lo, hi = value_range(tiger())
        >>> bool(np.all(lo < hi)), round(float(hi[0]), 3)
        (True, 200.0)
    """
    from agents import dp
    from envs.mdp import TabularMDP

    mdp = pomdp.mdp
    best = dp.solve(mdp, pomdp.gamma, tol=1e-10)
    flipped = TabularMDP(P=mdp.P, R=-mdp.R, terminal=mdp.terminal, initial=mdp.initial, gamma=pomdp.gamma,
                         reward_matrix=None, validate=False)
    worst = dp.solve(flipped, pomdp.gamma, tol=1e-10)
    lo = -worst.V - worst.error_bound
    hi = best.V + best.error_bound
    lo[mdp.terminal], hi[mdp.terminal] = 0.0, 0.0
    return lo, hi


def _take(state: Any, idx: np.ndarray) -> Any:
    """Rows ``idx`` of a batched memory (tuples elementwise; torch LSTM states on axis 1)."""
    if isinstance(state, tuple):
        return tuple(_take(x, idx) for x in state)
    if np.ndim(state) == 3:  # (layers, batch, hidden)
        return state[:, idx]
    return state[idx]


def _join(states: list[Any]) -> Any:
    """Concatenate batched memories along the batch axis."""
    first = states[0]
    if isinstance(first, tuple):
        return tuple(_join([s[i] for s in states]) for i in range(len(first)))
    if type(first).__module__.startswith("torch"):
        import torch

        return torch.cat(states, dim=1 if first.ndim == 3 else 0)
    return np.concatenate(states, axis=1 if np.ndim(first) == 3 else 0)


def _check_probs(probs: np.ndarray, n: int, A: int) -> np.ndarray:
    probs = np.asarray(probs, dtype=np.float64)
    if probs.shape != (n, A) or np.any(probs < 0) or np.any(np.abs(probs.sum(axis=1) - 1.0) > 1e-6):
        raise ValueError(f"the policy must return ({n}, {A}) action probabilities summing to 1, got shape "
                         f"{probs.shape}")
    return probs / probs.sum(axis=1, keepdims=True)


def history_tree_value(pomdp: TabularPOMDP, policy: RecurrentPolicy, tol: float = 1e-3, max_nodes: int = 200_000,
                       time_limit: float = 60.0, value_bounds: tuple[np.ndarray, np.ndarray] | None = None) -> HistoryValue:
    r"""A certified interval on :math:`V^\pi(b_0)` of a policy with memory, from its history tree (module doc).

    Expands histories best-first by the width :math:`\gamma^t \alpha_h^\top (V^*_{MDP} - \underline V)`
    of their unexpanded future, in batches of ``BATCH`` policy calls, until the interval is narrower
    than ``tol``, ``max_nodes`` histories are expanded, or ``time_limit`` seconds pass.

    Arguments:
        pomdp: the model (discount below 1).
        policy: a :class:`RecurrentPolicy`.
        tol: the interval width to stop at.
        max_nodes: histories to expand at most (also capped so beliefs fit ``MAX_BELIEF_FLOATS``).
        time_limit: seconds.
        value_bounds: :func:`value_range` of the model, when already computed.

    Returns:
        A :class:`HistoryValue` with ``method="history tree"``.
    """
    if not pomdp.gamma < 1.0:
        raise ValueError(f"history_tree_value needs a discount below 1, got {pomdp.gamma:g}")
    if not tol > 0:
        raise ValueError(f"tol must be > 0, got {tol!r}")
    t0 = time.perf_counter()
    S, A, Z, gamma = pomdp.n_states, pomdp.n_actions, pomdp.n_observations, pomdp.gamma
    lo_v, hi_v = value_bounds if value_bounds is not None else value_range(pomdp)
    span = hi_v - lo_v
    live = ~pomdp.mdp.terminal
    T = [Ta.tocsr() for Ta in pomdp.T]
    max_nodes = int(min(max_nodes, MAX_BELIEF_FLOATS // max(S * A * Z, 1)))
    # a node: (unnormalised belief alpha, discount gamma^t, observation to feed, memory before it, depth)
    root = np.where(live, pomdp.b0, 0.0)
    nodes: list[tuple[np.ndarray, float, int, Any, int]] = [(root, 1.0, Z, policy.initial_state(1), 0)]
    heap = [(-float(root @ span), 0)]
    base = float(root @ lo_v)  # sum of the frontier's lower ends plus the rewards earned so far
    width = float(root @ span)
    expanded, depth = 0, 0
    while heap and width > tol and expanded < max_nodes and time.perf_counter() - t0 < time_limit:
        batch = [heapq.heappop(heap)[1] for _ in range(min(BATCH, len(heap), max_nodes - expanded))]
        obs = np.array([nodes[i][2] for i in batch])
        first = np.array([nodes[i][4] == 0 for i in batch])
        memory = _join([nodes[i][3] for i in batch])
        probs, after = policy.step(obs, memory, first)
        probs = _check_probs(probs, len(batch), A)
        for j, i in enumerate(batch):
            alpha, disc, _, _, d = nodes[i]
            nodes[i] = (None, 0.0, 0, None, d)  # free it
            base -= disc * float(alpha @ lo_v)
            width -= disc * float(alpha @ span)
            base += disc * float(alpha @ pomdp.R @ probs[j])
            mine = _take(after, [j])
            for a in np.flatnonzero(probs[j] > 0):
                moved = probs[j, a] * (alpha @ T[a])
                for o in range(Z):
                    child = moved * pomdp.O[a, :, o]
                    child[~live] = 0.0
                    if not child.any():
                        continue
                    cdisc = disc * gamma
                    w = cdisc * float(child @ span)
                    base += cdisc * float(child @ lo_v)
                    width += w
                    nodes.append((child, cdisc, o, mine, d + 1))
                    heapq.heappush(heap, (-w, len(nodes) - 1))
            depth = max(depth, d)
        expanded += len(batch)
    width = max(width, 0.0)
    slack = 1e-9 * max(1.0, abs(base) + width)  # the running sums' rounding
    return HistoryValue(lower=base - slack, upper=base + width + slack, method="history tree", nodes=expanded,
                        depth=depth, seconds=time.perf_counter() - t0)


def monte_carlo_value(pomdp: TabularPOMDP, policy: RecurrentPolicy, episodes: int = 2000, seed: int = 0,
                      tol: float = 1e-3, value_bounds: tuple[np.ndarray, np.ndarray] | None = None) -> HistoryValue:
    r"""A 95% confidence interval on :math:`V^\pi(b_0)` from ``episodes`` sampled episodes of the model.

    Episodes run in one batch, without the env's time limit, until every one has reached a terminal
    state or the horizon :math:`H` where what is left, at most
    :math:`\gamma^H \max_s \max(|\underline V(s)|, |V^*_{MDP}(s)|)`, is below ``tol / 10``; that
    cut-off is added to the interval's ends. The interval is the mean discounted return plus or
    minus 1.96 standard errors: a statistical statement, not a certificate.

    Arguments:
        pomdp: the model (discount below 1).
        policy: a :class:`RecurrentPolicy`.
        episodes: episodes sampled, >= 2.
        seed: seeds the sampling (hidden states, observations, actions).
        tol: sets the horizon (above).
        value_bounds: :func:`value_range` of the model, when already computed.
    """
    if not pomdp.gamma < 1.0:
        raise ValueError(f"monte_carlo_value needs a discount below 1, got {pomdp.gamma:g}")
    if isinstance(episodes, bool) or int(episodes) != episodes or episodes < 2:
        raise ValueError(f"episodes must be an integer >= 2, got {episodes!r}")
    t0 = time.perf_counter()
    n, S, A, Z, gamma = int(episodes), pomdp.n_states, pomdp.n_actions, pomdp.n_observations, pomdp.gamma
    lo_v, hi_v = value_bounds if value_bounds is not None else value_range(pomdp)
    biggest = float(max(np.abs(lo_v).max(), np.abs(hi_v).max(), 1e-12))
    horizon = max(1, math.ceil(math.log((tol / 10) / biggest) / math.log(gamma))) if biggest > tol / 10 else 1
    rng = np.random.default_rng(seed)
    dense = S <= 2_000  # rows read as dense arrays while small
    T = [Ta.toarray() if dense else Ta.tocsr() for Ta in pomdp.T]
    state = rng.choice(S, size=n, p=pomdp.b0)
    obs = np.full(n, Z)
    alive = ~pomdp.mdp.terminal[state]
    memory = policy.initial_state(n)
    returns = np.zeros(n)
    disc = 1.0
    for t in range(horizon):
        if not alive.any():
            break
        probs, memory = policy.step(obs, memory, np.full(n, t == 0))
        probs = _check_probs(probs, n, A)
        action = (probs.cumsum(axis=1) > rng.random((n, 1))).argmax(axis=1)
        returns += np.where(alive, disc * pomdp.R[state, action], 0.0)
        nxt = np.empty(n, dtype=np.int64)
        for a in np.unique(action):
            rows = np.flatnonzero(action == a)
            P = T[a][state[rows]] if dense else T[a][state[rows]].toarray()
            nxt[rows] = (P.cumsum(axis=1) > rng.random((len(rows), 1))).argmax(axis=1)
            Po = pomdp.O[a][nxt[rows]]
            obs[rows] = (Po.cumsum(axis=1) > rng.random((len(rows), 1))).argmax(axis=1)
        state = nxt
        alive &= ~pomdp.mdp.terminal[state]
        disc *= gamma
    cut = disc * biggest if alive.any() else 0.0
    half = 1.96 * returns.std(ddof=1) / math.sqrt(n)
    mean = float(returns.mean())
    return HistoryValue(lower=mean - half - cut, upper=mean + half + cut, method="monte carlo", nodes=n,
                        depth=t + 1, seconds=time.perf_counter() - t0)
