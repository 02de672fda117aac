r"""Gauss-Seidel value iteration in a value-ordered sweep (numba kernel).

A Gauss-Seidel sweep updates :math:`V(s) \leftarrow \max_a [R(s,a) + \gamma \sum_{s'} P(s'|s,a) V(s')]`
state by state *in place*, so a state already sees the new values of the states swept before
it. Like the Jacobi Bellman operator it is a :math:`\gamma`-contraction with fixed point
:math:`V^*`, whatever the order, so after a sweep that changed V by :math:`\delta`

.. math:: \lVert V_{k+1} - V^* \rVert_\infty \le \frac{\gamma\, \delta}{1 - \gamma}.

The order decides the speed. Values flow from the rewarding terminal states outwards, so the
sweeps visit states in decreasing current value (a Dijkstra-like order, re-sorted as the values
settle); the first sweeps, before values exist, go outwards from the terminal states in
breadth-first order. On a slippery grid this needs tens of sweeps where plain (Jacobi) value
iteration needs thousands.

References:
    Bertsekas & Tsitsiklis, *Parallel and Distributed Computation* (1989), 2.6 (Gauss-Seidel);
    Dai & Hansen, "Prioritizing Bellman backups without a priority queue", ICAPS 2007.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import scipy.sparse.csgraph as csgraph

from envs.mdp import TabularMDP

__all__ = ["gs_sweep", "outward_order"]

_KERNEL = None


def _kernel():
    global _KERNEL
    if _KERNEL is None:
        import numba

        @numba.njit(cache=True, nogil=True, fastmath=False)
        def sweep(indptr, indices, data, R, order, V, gamma, A):  # pragma: no cover - compiled
            delta = 0.0
            for i in range(order.shape[0]):
                s = order[i]
                best = -np.inf
                for a in range(A):
                    row = s * A + a
                    acc = 0.0
                    for k in range(indptr[row], indptr[row + 1]):
                        acc += data[k] * V[indices[k]]
                    q = R[row] + gamma * acc
                    if q > best:
                        best = q
                d = abs(best - V[s])
                if d > delta:
                    delta = d
                V[s] = best
            return delta

        _KERNEL = sweep
    return _KERNEL


def gs_sweep(mdp: TabularMDP, V: np.ndarray, gamma: float, order: np.ndarray) -> float:
    """One in-place Gauss-Seidel sweep over the live states in ``order``; returns max |change|."""
    P = mdp.P
    R = np.ascontiguousarray(mdp.R.reshape(-1))
    return float(_kernel()(P.indptr, P.indices, P.data, R, order, V, float(gamma), mdp.n_actions))


def outward_order(mdp: TabularMDP) -> np.ndarray:
    """Live states in breadth-first order outwards from the terminal states (unreached ones last)."""
    S, A = mdp.n_states, mdp.n_actions
    live = mdp.live
    term = np.flatnonzero(mdp.terminal)
    if not term.size:
        return live
    P = mdp.P
    src = np.repeat(np.arange(S * A) // A, np.diff(P.indptr))
    # reversed edges s' -> s, plus a virtual node S pointing at every terminal state
    rows = np.concatenate([P.indices, np.full(term.size, S)])
    cols = np.concatenate([src, term])
    G = sp.csr_matrix((np.ones(rows.size, np.int8), (rows, cols)), shape=(S + 1, S + 1))
    bfs = csgraph.breadth_first_order(G, S, directed=True, return_predecessors=False)
    bfs = bfs[(bfs < S)]
    bfs = bfs[~mdp.terminal[bfs]]
    seen = np.zeros(S, bool)
    seen[bfs] = True
    return np.concatenate([bfs, live[~seen[live]]]).astype(np.int64)
