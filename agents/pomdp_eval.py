r"""Exact values of policies without memory in a POMDP, and the best such policy of a small one.

A memoryless policy :math:`\pi(a \mid o)` acts on the last observation alone (``"start"``,
index ``Z``, before the first action, as :class:`~envs.pomdp_env.POMDPEnv` gives it). With it the
pair (hidden state, last observation) is a Markov chain,

.. math:: P\big((s', o') \mid (s, o)\big) = \sum_a \pi(a \mid o)\, T(s' \mid s, a)\, O(o' \mid s', a),
          \qquad r(s, o) = \sum_a \pi(a \mid o) R(s, a),

so its value solves :math:`(I - \gamma P_\pi) V = r`, read at :math:`(s \sim b_0, o = \text{start})`:
exact to ``CHAIN_TOL`` (:func:`chain_value`), as :func:`agents.dp.policy_evaluation` is for MDPs.
This is how far an agent that remembers nothing can get; :func:`agents.pomdp.solve` bounds what
memory can add.

Example:
    >>> from envs.pomdp_worlds import t_maze
    >>> m = t_maze(4)
    >>> right_then_up = np.zeros((m.n_observations + 1, m.n_actions)); right_then_up[:, 1] = 1
    >>> right_then_up[m.observations.index("junction")] = [1, 0, 0, 0]
    >>> round(memoryless_value(m, right_then_up), 6) == round(0.98 ** 4 * (0.5 * 4 - 0.5 * 0.1), 6)
    True
"""

from __future__ import annotations

import itertools
from typing import Callable

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from envs.pomdp import TabularPOMDP

__all__ = ["memoryless_value", "window_value", "best_memoryless", "chain_value", "MAX_ENUMERATED", "MAX_CHAIN",
           "CHAIN_TOL"]

MAX_ENUMERATED = 5_000  # deterministic memoryless policies best_memoryless enumerates at most (about 1.5 ms each)
MAX_CHAIN = 2_000_000  # (state, window) pairs window_value builds at most
DENSE_CHAIN = 600  # best_memoryless solves chains of up to this many (state, observation) pairs densely, in batches
CHAIN_TOL = 1e-10  # chain_value's certified error, relative to max(1, max |V|)
CHAIN_SWEEPS = 5_000  # chain_value's sweeps before the direct sparse solve takes over
DIRECT_CHAIN = 5_000  # chain_value solves chains of up to this many pairs directly (fast there, no fill-in to fear)


def chain_value(P: sp.spmatrix, r: np.ndarray, gamma: float, tol: float = CHAIN_TOL,
                max_sweeps: int = CHAIN_SWEEPS) -> np.ndarray:
    r""":math:`V = r + \gamma P V` of a Markov chain with rewards (``P`` substochastic, :math:`\gamma < 1`).

    Iterates :math:`V_{k+1} = r + \gamma P V_k` from 0 until
    :math:`\frac{\gamma}{1 - \gamma} \lVert V_{k+1} - V_k \rVert_\infty \le` ``tol`` :math:`\cdot
    \max(1, \lVert V_{k+1} \rVert_\infty)`, which bounds :math:`\lVert V_{k+1} - V \rVert_\infty` by the same
    (the a-posteriori bound of a :math:`\gamma`-contraction). A chain whose episodes end
    contracts much faster than :math:`\gamma`: on the T-maze (corridor 6), a 6-frame window policy's
    chain of 53,254 pairs was solved in 0.5 s where SuperLU's direct solve took 12.2 s, the two
    agreeing to 2e-10 (``python -m benchmarks.window_value``). A chain of at most ``DIRECT_CHAIN`` pairs, or one still moving after
    ``max_sweeps`` sweeps (a chain that rarely ends at a discount near 1), is solved directly,
    :math:`(I - \gamma P)^{-1} r`, instead.

    Example:
        >>> P = sp.csr_matrix([[0.0, 1.0], [0.0, 0.5]])  # state 1 ends with probability 0.5 a step
        >>> chain_value(P, np.array([1.0, 2.0]), 0.9).round(6).tolist()  # V1 = 2 / (1 - 0.45)
        [4.272727, 3.636364]
    """
    P = sp.csr_matrix(P)
    if len(r) <= DIRECT_CHAIN:
        max_sweeps = 0
    V = np.zeros(len(r))
    scale = gamma / (1.0 - gamma)
    for _ in range(max_sweeps):
        new = r + gamma * (P @ V)
        change, V = float(np.max(np.abs(new - V))), new
        if scale * change <= tol * max(1.0, float(np.max(np.abs(V)))):
            return V
    return np.asarray(spla.spsolve((sp.identity(len(r), format="csr") - gamma * P).tocsc(), r)).reshape(-1)


def _policy_array(pomdp: TabularPOMDP, policy: np.ndarray) -> np.ndarray:
    Z1, A = pomdp.n_observations + 1, pomdp.n_actions
    pi = np.asarray(policy, dtype=np.float64)
    if pi.shape == (Z1,):  # one action per observation
        if pi.min() < 0 or pi.max() >= A or not np.all(pi == np.round(pi)):
            raise ValueError(f"a deterministic policy gives an action in [0, {A}) per observation, got {policy!r}")
        pi = np.eye(A)[pi.astype(np.int64)]
    if pi.shape != (Z1, A):
        raise ValueError(f"a memoryless policy is ({Z1}, {A}) probabilities (observations + 'start', actions) "
                         f"or ({Z1},) actions, got shape {pi.shape}")
    if np.any(pi < 0) or np.any(np.abs(pi.sum(axis=1) - 1.0) > 1e-9):
        raise ValueError("each row of a memoryless policy must be a distribution over actions")
    return pi


def memoryless_value(pomdp: TabularPOMDP, policy: np.ndarray) -> float:
    r""":math:`V^\pi(b_0)` of a memoryless policy, exactly (module doc).

    Arguments:
        pomdp: the model (discount below 1).
        policy: ``(Z + 1, A)`` probabilities :math:`\pi(a \mid o)`, the last row for ``"start"``;
            or ``(Z + 1,)`` actions for a deterministic policy.
    """
    if not pomdp.gamma < 1.0:
        raise ValueError(f"memoryless_value needs a discount below 1, got {pomdp.gamma:g}")
    pi = _policy_array(pomdp, policy)
    S, Z, A = pomdp.n_states, pomdp.n_observations, pomdp.n_actions
    Z1 = Z + 1
    # chain index s * Z1 + o; P_pi built as a sum over actions of kron-structured blocks
    blocks = []
    for a in range(A):
        w = pi[:, a]  # (Z1,): the probability of a after each last observation
        if not w.any():
            continue
        TO = _sparse_to(pomdp, a)  # (S, S * Z): T(s'|s,a) O(o'|s',a)
        # columns (s', o') with o' in 0..Z-1 moved to s' * Z1 + o' (the start observation never recurs)
        cols = (np.arange(S * Z) // Z) * Z1 + np.arange(S * Z) % Z
        TOfull = sp.csr_matrix((TO.data, cols[TO.indices], TO.indptr), shape=(S, S * Z1))
        blocks.append(sp.kron(TOfull, sp.csr_matrix(w[:, None]), format="csr"))
    P = sum(blocks[1:], blocks[0]).tocsr()
    r = (pomdp.R[:, None, :] * pi[None, :, :]).sum(axis=2).reshape(S * Z1)
    V = chain_value(P, r, pomdp.gamma)
    return float(pomdp.b0 @ V.reshape(S, Z1)[:, Z])


def _sparse_to(pomdp: TabularPOMDP, a: int) -> sp.csr_matrix:
    """``(S, S * Z)``: :math:`T(s'|s,a) O(o'|s',a)` at column ``s' * Z + o'``, built from T's entries."""
    Ta = pomdp.T[a].tocoo()
    Z = pomdp.n_observations
    rows = np.repeat(Ta.row, Z)
    cols = (np.repeat(Ta.col, Z) * Z + np.tile(np.arange(Z), Ta.nnz))
    data = np.repeat(Ta.data, Z) * pomdp.O[a][Ta.col].ravel()
    return sp.csr_matrix((data, (rows, cols)), shape=(pomdp.n_states, pomdp.n_states * Z))


def best_memoryless(pomdp: TabularPOMDP) -> tuple[float, np.ndarray]:
    r"""The best *deterministic* memoryless policy and its exact value, by enumerating all
    :math:`A^{Z+1}` of them (refused above ``MAX_ENUMERATED``). A stochastic memoryless policy can
    do better than every deterministic one in a POMDP (Singh, Jaakkola & Jordan 1994), so this is
    a floor on what memoryless agents can reach, not a ceiling.

    Returns:
        ``(value, actions)``: :math:`V^\pi(b_0)` and the ``(Z + 1,)`` actions, one per observation.

    Example:
        >>> from envs.pomdp_worlds import t_maze
        >>> m = t_maze(2, gamma=0.9)
        >>> value, actions = best_memoryless(m)
        >>> round(value, 6), [m.actions[actions[(*m.observations, "start").index(o)]] for o in ("start", "cue-up", "cue-down", "junction")]
        (1.62, ['right', 'right', 'left', 'up'])

        Walk right and turn up; after the down cue, step back and shuttle forever, which earns 0
        rather than the wrong arm's -0.1: :math:`0.5 \cdot 4\gamma^2 = 1.62`, above the
        :math:`\gamma^2 (0.5 \cdot 4 - 0.5 \cdot 0.1) = 1.5795` of turning up whatever the cue.
    """
    Z1, A, S = pomdp.n_observations + 1, pomdp.n_actions, pomdp.n_states
    if A ** Z1 > MAX_ENUMERATED:
        raise ValueError(f"{A}^{Z1} = {A ** Z1:,} deterministic memoryless policies: more than the "
                         f"{MAX_ENUMERATED:,} best_memoryless enumerates")
    if not pomdp.gamma < 1.0:
        raise ValueError(f"best_memoryless needs a discount below 1, got {pomdp.gamma:g}")
    policies = np.array(list(itertools.product(range(A), repeat=Z1)), dtype=np.int64)
    n = S * Z1
    if n > DENSE_CHAIN:  # a large chain: one sparse solve per policy
        values = np.array([memoryless_value(pomdp, actions) for actions in policies])
    else:  # the chain's rows for each action once, then batches of dense solves
        cols = (np.arange(S * (Z1 - 1)) // (Z1 - 1)) * Z1 + np.arange(S * (Z1 - 1)) % (Z1 - 1)
        rows = np.zeros((A, S, n))
        for a in range(A):
            rows[a][:, cols] = _sparse_to(pomdp, a).toarray()  # (s, (s', o')): T(s'|s,a) O(o'|s',a)
        values = np.empty(len(policies))
        eye = np.eye(n)
        for lo in range(0, len(policies), 256):
            chunk = policies[lo:lo + 256]  # (B, Z1): the action after each last observation
            P = rows[chunk[:, None, :], np.arange(S)[None, :, None]].reshape(len(chunk), n, n)
            r = pomdp.R[np.arange(S)[None, :, None], chunk[:, None, :]].reshape(len(chunk), n)
            V = np.linalg.solve(eye - pomdp.gamma * P, r[..., None])[..., 0]
            values[lo:lo + 256] = V.reshape(len(chunk), S, Z1)[:, :, Z1 - 1] @ pomdp.b0
    best = int(np.argmax(values))
    return float(values[best]), policies[best]


Window = tuple[tuple[int, int], ...]


def window_value(pomdp: TabularPOMDP, policy: Callable[[Window], np.ndarray], k: int, batched: bool = False) -> float:
    r""":math:`V^\pi(b_0)` of a policy acting on its last ``k`` (action, observation) pairs, exactly:
    the frame-stacked agent's value.

    The window starts as ``k`` copies of ``(-1, Z)`` (no action yet, the ``"start"``
    observation); after acting ``a`` and seeing ``o`` the oldest pair drops out and ``(a, o)``
    comes in. (hidden state, window) is then a Markov chain, built over the pairs reachable from
    :math:`b_0` and solved exactly, as in :func:`memoryless_value`.

    Arguments:
        pomdp: the model (discount below 1).
        policy: maps a window (a tuple of ``k`` ``(action, observation)`` pairs, oldest first) to
            ``(A,)`` action probabilities.
        k: the window's length, >= 1.
        batched: ``policy`` takes a list of windows and returns ``(n, A)`` probabilities (a
            network read once per wave of new windows instead of once per window).

    Raises:
        ValueError: more than ``MAX_CHAIN`` reachable (state, window) pairs, or a policy that does
            not return a distribution.

    Example:
        >>> from envs.pomdp_worlds import t_maze
        >>> m = t_maze(2, gamma=0.9)
        >>> def two_steps(window):  # at the junction the cue is still in the window
        ...     (_, before), (_, now) = window
        ...     turn = [0, 0, 0, 0]; turn[0 if before == 0 else 2] = 1
        ...     return turn if now == 3 else [0, 1, 0, 0]
        >>> round(window_value(m, two_steps, 2), 6)
        3.24
    """
    if not pomdp.gamma < 1.0:
        raise ValueError(f"window_value needs a discount below 1, got {pomdp.gamma:g}")
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k must be an integer >= 1, got {k!r}")
    S, Z, A = pomdp.n_states, pomdp.n_observations, pomdp.n_actions
    start: Window = ((-1, Z),) * int(k)
    index: dict[tuple[int, Window], int] = {}
    frontier = []
    for s in np.flatnonzero(pomdp.b0 > 0):
        index[(int(s), start)] = len(index)
        frontier.append((int(s), start))
    rows, cols, vals, rewards = [], [], [], []
    cache: dict[Window, np.ndarray] = {}
    acts: dict[Window, list[tuple[int, float]]] = {}  # each window's (action, probability > 0)
    # (s', T(s'|s,a)) of each (a, s) and (o, O(o|s',a)) of each (a, s'), as Python lists: read once, not per pair
    T = [Ta.tocsr() for Ta in pomdp.T]
    succ = [[list(zip(Ta.indices[lo:hi].tolist(), Ta.data[lo:hi].tolist())) for lo, hi in zip(Ta.indptr, Ta.indptr[1:])]
            for Ta in T]
    seen = [[[(int(o), float(pomdp.O[a, x, o])) for o in np.flatnonzero(pomdp.O[a, x])] for x in range(S)]
            for a in range(A)]

    def read(windows: list[Window]) -> None:  # the policy at windows not seen yet, checked
        if batched:
            got = np.asarray(policy(windows), dtype=np.float64).reshape(len(windows), -1)
        else:
            got = [np.asarray(policy(w), dtype=np.float64) for w in windows]
        for w, pi in zip(windows, got):
            if pi.shape != (A,) or np.any(pi < 0) or abs(pi.sum() - 1.0) > 1e-9:
                raise ValueError(f"the policy must return {A} action probabilities summing to 1; for window {w} "
                                 f"it returned {pi!r}")
            cache[w] = pi
            acts[w] = [(int(a), float(pi[a])) for a in np.flatnonzero(pi)]

    wave: list[tuple[int, Window]] = []
    while frontier or wave:
        if not wave:  # the next wave: every pair found so far, its new windows read at once
            wave, frontier = frontier, []
            read(list(dict.fromkeys(w for _, w in wave if w not in cache)))
        s, w = wave.pop()
        i = index[(s, w)]
        rewards.append((i, float(cache[w] @ pomdp.R[s])))
        rest = w[1:]
        for a, pa in acts[w]:
            for s2, p in succ[a][s]:
                for o, q in seen[a][s2]:
                    key = (s2, rest + ((a, o),))
                    j = index.get(key)
                    if j is None:
                        if len(index) >= MAX_CHAIN:
                            raise ValueError(f"more than {MAX_CHAIN:,} reachable (state, window) pairs: k = {k} is "
                                             "too long a window for this model")
                        j = index[key] = len(index)
                        frontier.append(key)
                    rows.append(i)
                    cols.append(j)
                    vals.append(pa * p * q)
    n = len(index)
    P = sp.csr_matrix((vals, (rows, cols)), shape=(n, n))
    r = np.zeros(n)
    for i, value in rewards:
        r[i] = value
    V = chain_value(P, r, pomdp.gamma)
    return float(sum(pomdp.b0[s] * V[index[(int(s), start)]] for s in np.flatnonzero(pomdp.b0 > 0)))
