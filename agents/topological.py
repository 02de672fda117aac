r"""Topological Gauss-Seidel value iteration: strongly connected components, downstream first.

The state graph (an edge s -> s' when some action reaches s' from s with positive probability)
splits into strongly connected components (SCCs). A component's optimal values depend only on
its own states and on components downstream of it, so solving the components in reverse
topological order (sinks first), each with the values below it already final, visits every
state in only as many sweeps as its *own* component needs (topological value iteration: Dai,
Mausam, Weld & Goldsmith, "Topological value iteration algorithms", JAIR 2011). A region cut off
from every terminal state, a closed class, a chain of one-way doors: each is a component solved
on its own, instead of slowing every sweep of the whole model.

Inside a component, Gauss-Seidel modified policy iteration (``agents.gauss_seidel``) from a
start guess: the component's median of :math:`\max_a R(s, a)`, divided by :math:`1 - \gamma`,
the value of collecting a typical state's best reward forever. Far from any exit a value *is*
close to that (a cost-to-go world's :math:`-1/(1-\gamma)`, a reward-at-goal world's 0), and the
error left to remove is then small where the sweeps remove it slowest (errors there contract only
at rate :math:`\gamma` under any sweep order). A component is done when its last Gauss-Seidel
Bellman sweep changed it by :math:`\delta` with :math:`\gamma\delta/(1-\gamma) \le` ``tol / 2``.
The start guess and the per-component stopping rule only decide speed: the returned solution
is certified by a full Gauss-Seidel sweep and ``agents.dp.certified_solution``, and the global
Gauss-Seidel loop goes on from these values until the certified bound is below ``tol``.
"""

from __future__ import annotations

import numpy as np

from envs.mdp import TabularMDP

__all__ = ["components", "component_sweeps"]

_KERNEL = None


def components(mdp: TabularMDP) -> tuple[np.ndarray, np.ndarray]:
    """Live states grouped by strongly connected component, sinks first (Tarjan's algorithm).

    Returns:
        ``(order, ptr)``: component ``c`` is ``order[ptr[c]:ptr[c + 1]]`` (ascending state
        index), and no transition leads from a component to a later one.

    Example:
        >>> from envs import GridWorldEnv
        >>> order, ptr = components(GridWorldEnv("S.>.G").mdp)  # the door splits the corridor
        >>> [order[ptr[c]:ptr[c + 1]].tolist() for c in range(len(ptr) - 1) if ptr[c] < ptr[c + 1]]
        [[3], [0, 1, 2]]
    """
    S, A = mdp.n_states, mdp.n_actions
    P = mdp.P
    # rows s*A .. s*A + A - 1 are contiguous in CSR: the state graph shares P's arrays
    return _kernels()[1](P.indptr[::A].copy(), P.indices, ~mdp.terminal)


def _kernels():
    global _KERNEL
    if _KERNEL is None:
        import numba

        @numba.njit(cache=True, nogil=True)
        def tarjan(indptr, indices, live):  # pragma: no cover - compiled
            S = indptr.shape[0] - 1
            index = np.full(S, -1, np.int64)
            low = np.zeros(S, np.int64)
            comp = np.full(S, -1, np.int64)
            onstack = np.zeros(S, np.bool_)
            stack = np.empty(S, np.int64)
            call_node = np.empty(S, np.int64)
            call_edge = np.empty(S, np.int64)
            counter = 0
            sp = 0
            n_comp = 0
            for root in range(S):
                if index[root] != -1:
                    continue
                index[root] = counter
                low[root] = counter
                counter += 1
                stack[sp] = root
                sp += 1
                onstack[root] = True
                call_node[0] = root
                call_edge[0] = indptr[root]
                csp = 1
                while csp > 0:
                    v = call_node[csp - 1]
                    e = call_edge[csp - 1]
                    if e < indptr[v + 1]:
                        call_edge[csp - 1] = e + 1
                        w = indices[e]
                        if index[w] == -1:
                            index[w] = counter
                            low[w] = counter
                            counter += 1
                            stack[sp] = w
                            sp += 1
                            onstack[w] = True
                            call_node[csp] = w
                            call_edge[csp] = indptr[w]
                            csp += 1
                        elif onstack[w] and index[w] < low[v]:
                            low[v] = index[w]
                    else:
                        csp -= 1
                        if csp > 0:
                            u = call_node[csp - 1]
                            if low[v] < low[u]:
                                low[u] = low[v]
                        if low[v] == index[v]:  # v roots a component: every component it reaches is numbered
                            while True:
                                sp -= 1
                                x = stack[sp]
                                onstack[x] = False
                                comp[x] = n_comp
                                if x == v:
                                    break
                            n_comp += 1
            # live states grouped by component (counting sort: ascending state index within one)
            ptr = np.zeros(n_comp + 1, np.int64)
            for s in range(S):
                if live[s]:
                    ptr[comp[s] + 1] += 1
            for c in range(n_comp):
                ptr[c + 1] += ptr[c]
            fill = ptr[:-1].copy()
            order = np.empty(ptr[n_comp], np.int64)
            for s in range(S):
                if live[s]:
                    order[fill[comp[s]]] = s
                    fill[comp[s]] += 1
            return order, ptr

        @numba.njit(cache=True, nogil=True)
        def solve_components(indptr, indices, data, R, order, ptr, V, gamma, A, policy, tol, m):  # pragma: no cover
            n_comp = ptr.shape[0] - 1
            work = 0.0  # state updates of Bellman sweeps, plus policy-sweep updates / A
            for c in range(n_comp):
                lo, hi = ptr[c], ptr[c + 1]
                if hi == lo:
                    continue
                best = np.empty(hi - lo)
                for i in range(lo, hi):
                    s = order[i]
                    b = -np.inf
                    for a in range(A):
                        if R[s * A + a] > b:
                            b = R[s * A + a]
                    best[i - lo] = b
                start = np.median(best) / (1.0 - gamma)
                for i in range(lo, hi):
                    V[order[i]] = start
                it = 0
                while True:
                    ascending = it % 2 == 1
                    delta = 0.0
                    for j in range(hi - lo):
                        s = order[lo + j] if ascending else order[hi - 1 - j]
                        bq = -np.inf
                        arg = 0
                        for a in range(A):
                            row = s * A + a
                            acc = 0.0
                            for k in range(indptr[row], indptr[row + 1]):
                                acc += data[k] * V[indices[k]]
                            q = R[row] + gamma * acc
                            if q > bq:
                                bq = q
                                arg = a
                        d = abs(bq - V[s])
                        if d > delta:
                            delta = d
                        V[s] = bq
                        policy[s] = arg
                    work += hi - lo
                    it += 1
                    if gamma * delta / (1.0 - gamma) <= tol:
                        break
                    for _ in range(m):
                        for j in range(hi - lo):
                            s = order[lo + j] if ascending else order[hi - 1 - j]
                            row = s * A + policy[s]
                            acc = 0.0
                            for k in range(indptr[row], indptr[row + 1]):
                                acc += data[k] * V[indices[k]]
                            V[s] = R[row] + gamma * acc
                        work += (hi - lo) / A
            return work

        _KERNEL = (solve_components, tarjan)
    return _KERNEL


def component_sweeps(mdp: TabularMDP, V: np.ndarray, gamma: float, order: np.ndarray, ptr: np.ndarray,
                     policy: np.ndarray, tol: float, m: int = 16) -> float:
    """Solve every component in place (see the module doc); returns the work in full Bellman sweeps."""
    P = mdp.P
    R = np.ascontiguousarray(mdp.R.reshape(-1))
    work = _kernels()[0](P.indptr, P.indices, P.data, R, order, ptr, V, float(gamma), mdp.n_actions, policy, float(tol), m)
    return float(work) / max(mdp.n_states, 1)
