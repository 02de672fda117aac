r"""Topological Gauss-Seidel value iteration: strongly connected components, downstream first.

The state graph (an edge s -> s' when some action reaches s' from s with positive probability)
splits into strongly connected components (SCCs). A component's optimal values depend only on
its own states and on components downstream of it, so solving the components in reverse
topological order (sinks first), each with the values below it already final, visits every
state in only as many sweeps as its *own* component needs (topological value iteration: Dai,
Mausam, Weld & Goldsmith, "Topological value iteration algorithms", JAIR 2011). A region cut off
from every terminal state, a closed class, a chain of one-way doors: each is a component solved
on its own, instead of slowing every sweep of the whole model.

Inside a component, Gauss-Seidel modified policy iteration (as in ``agents.gauss_seidel``), its
states swept in breadth-first order from the terminal states, nearest first in every sweep,
renumbered so that this order is contiguous in memory. After each Bellman sweep (change
:math:`\delta`), Gauss-Seidel sweeps of the greedy policy's operator evaluate that policy until
one changes the values by at most ``POLICY_STOP`` :math:`\delta` (0.1), or ``m`` sweeps (64).
Measured on the benchmark's families at 10^5 states (BENCHMARKS.md), this needs 16-50% less work
(median 31%) than the earlier rule, a fixed 16 policy sweeps with the sweep direction alternating: a reward flows
from the exits outwards, so the sweep that visits the nearest states first carries it furthest,
and a fixed count evaluates a policy that is nearly right too little and a policy still far from
it too much. The start guess is the component's median of :math:`\max_a R(s, a)`, divided by :math:`1 - \gamma`,
the value of collecting a typical state's best reward forever. Far from any exit a value *is*
close to that (a cost-to-go world's :math:`-1/(1-\gamma)`, a reward-at-goal world's 0), and the
error left to remove is then small where the sweeps remove it slowest (errors there contract only
at rate :math:`\gamma` under any sweep order). A component is done when its last Gauss-Seidel
Bellman sweep changed it by :math:`\delta` with :math:`\gamma\delta/(1-\gamma) \le` ``tol / 2``.
Values below ``TINY`` (1e-200) are stored as 0, so that :math:`\gamma^d` far from a reward
never becomes a subnormal float (measured: a 10^5-state maze swept 6x slower for it). The start
guess, the per-component stopping rule and this floor only decide speed: Gauss-Seidel sweeps
over every live state then go on from these values until one certifies
:math:`\gamma\delta/(1-\gamma) \le` ``tol`` (usually the first), and
``agents.dp.certified_solution`` checks the result in float64.

A component whose state graph (undirected, self-loops left out) is a tree (a perfect maze, a
corridor, a chain, a single state) is solved by policy iteration instead: after each Gauss-Seidel
Bellman sweep, the greedy policy's values are computed exactly, :math:`(I - \gamma P_\pi) V = R_\pi`
by Gaussian elimination with the leaves first. Eliminating a leaf changes only its parent's
equation (no fill-in), so an exact evaluation costs about two policy sweeps. Gauss-Seidel
sweeps are slow exactly there: in a slippery corridor a state's value waits on the state behind
it (the slip's moves back), so a sweep carries the goal's value only a few cells against them,
and the sweep count grows with the corridor's length and with :math:`1/(1-\gamma)`. Measured on a
perfect maze of 10^5 states: 87.5 sweeps of work at gamma 0.99 and 858 at 0.999 by Gauss-Seidel
modified policy iteration, 5.5 and 17.5 this way. Whether a component is a tree is read
from its edges once (a graph with more than :math:`2(n - 1)` distinct edges is refused after half
its rows). Should the greedy policy stop changing before ``tol`` is certified (a ``tol`` below
the values' rounding), Gauss-Seidel sweeps take over.

In a closed class (no transition leaves the component) the error that sweeps remove slowest is a
uniform shift of every value; when the mean change of consecutive iterations shrinks by a steady
ratio, the rest of that geometric series is added at once (Aitken's extrapolation): a random
sparse MDP of 10^5 states needs 3x fewer sweeps for it. There every iteration makes
``min(m, CLOSED_M)`` (16) policy sweeps, so that consecutive iterations shrink the shift alike.
"""

from __future__ import annotations

import numpy as np

from envs.mdp import TabularMDP

__all__ = ["components", "solve", "load_kernels", "kernels_loaded"]

_KERNEL = None
# values below this are stored as 0: a value of gamma^d far from a reward (d = 70,000 steps at gamma
# 0.99 in a 10^5-state maze) would otherwise sink into subnormal floats, whose arithmetic is ~100x
# slower on x86; the change is far below any certified bound (the certificate is computed after)
TINY = 1e-200
# policy sweeps stop once one changes V by at most this fraction of the last Bellman sweep's change
POLICY_STOP = 0.1
CLOSED_M = 16
# policy iterations on a tree component before Gauss-Seidel sweeps take over (policy iteration
# needs a handful: see the module doc)
TREE_PI_CAP = 100


def components(mdp: TabularMDP) -> tuple[np.ndarray, np.ndarray]:
    """Live states grouped by strongly connected component, sinks first (Tarjan's algorithm).

    Returns:
        ``(order, ptr)``: component ``c`` is ``order[ptr[c]:ptr[c + 1]]``, its states by
        breadth-first distance from the terminal states (nearest first; then by index), and no
        transition leads from a component to a later one.

    Example:
        >>> from envs import GridWorldEnv
        >>> order, ptr = components(GridWorldEnv("S.>.G").mdp)  # the door splits the corridor
        >>> [order[ptr[c]:ptr[c + 1]].tolist() for c in range(len(ptr) - 1) if ptr[c] < ptr[c + 1]]
        [[3], [2, 1, 0]]
    """
    P = mdp.P
    # rows s*A .. s*A + A - 1 are contiguous in CSR: the state graph shares P's arrays
    return _kernels()[1](P.indptr[::mdp.n_actions].copy(), P.indices, ~mdp.terminal)


def _kernels():
    global _KERNEL
    if _KERNEL is None:
        import numba

        from agents.gauss_seidel import _kernel as gauss_seidel_kernels

        backup = gauss_seidel_kernels()[2]

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
                w, csp = root, 0  # w: a state to visit next (-1: none)
                while True:
                    if w >= 0:  # number w and push it on both stacks
                        index[w] = counter
                        low[w] = counter
                        counter += 1
                        stack[sp] = w
                        sp += 1
                        onstack[w] = True
                        call_node[csp] = w
                        call_edge[csp] = indptr[w]
                        csp += 1
                        w = -1
                    if csp == 0:
                        break
                    v = call_node[csp - 1]
                    e = call_edge[csp - 1]
                    if e < indptr[v + 1]:
                        call_edge[csp - 1] = e + 1
                        t = indices[e]
                        if index[t] == -1:
                            w = t
                        elif onstack[t] and index[t] < low[v]:
                            low[v] = index[t]
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
            # breadth-first levels from the terminal states over reversed edges (S: never reaches one)
            indeg = np.zeros(S + 1, np.int64)
            for e in range(indices.shape[0]):
                indeg[indices[e] + 1] += 1
            indeg = np.cumsum(indeg)
            rev = np.empty(indices.shape[0], np.int32)
            fill = indeg[:-1].copy()
            for s in range(S):
                for e in range(indptr[s], indptr[s + 1]):
                    t = indices[e]
                    rev[fill[t]] = s
                    fill[t] += 1
            level = np.full(S, S, np.int64)
            queue = np.empty(S, np.int64)
            head, tail = 0, 0
            for s in range(S):
                if not live[s]:
                    level[s] = 0
                    queue[tail] = s
                    tail += 1
            while head < tail:
                t = queue[head]
                head += 1
                for e in range(indeg[t], indeg[t + 1]):
                    s = rev[e]
                    if level[s] == S:
                        level[s] = level[t] + 1
                        queue[tail] = s
                        tail += 1
            # live states by component, and inside one by level (then index): two stable counting sorts
            by_level = np.zeros(S + 2, np.int64)
            for s in range(S):
                by_level[level[s] + 1] += 1
            by_level = np.cumsum(by_level)
            sorted_states = np.empty(S, np.int64)
            for s in range(S):
                sorted_states[by_level[level[s]]] = s
                by_level[level[s]] += 1
            ptr = np.zeros(n_comp + 1, np.int64)
            for s in range(S):
                if live[s]:
                    ptr[comp[s] + 1] += 1
            ptr = np.cumsum(ptr)
            cfill = ptr[:-1].copy()
            order = np.empty(ptr[n_comp], np.int64)
            for i in range(S):
                s = sorted_states[i]
                if live[s]:
                    order[cfill[comp[s]]] = s
                    cfill[comp[s]] += 1
            return order, ptr

        @numba.njit(cache=True, nogil=True)
        def bellman_sweep(indptr, indices, data, R, lo, hi, V, gamma, A, policy):  # pragma: no cover - compiled
            # one Gauss-Seidel Bellman sweep of states lo..hi-1 in order, the greedy policy with it;
            # returns (the largest change, whether any state's greedy action changed)
            delta, changed = 0.0, False
            for s in range(lo, hi):
                bq, arg = backup(indptr, indices, data, R, V, gamma, A, s)  # values below TINY stored as 0
                if abs(bq - V[s]) > delta:
                    delta = abs(bq - V[s])
                V[s] = bq
                if policy[s] != arg:
                    changed = True
                policy[s] = arg
            return delta, changed

        @numba.njit(cache=True, nogil=True)
        def solve_range(indptr, indices, data, R, lo, hi, V, gamma, A, policy, tol, m, closed, max_iter):  # pragma: no cover
            # Gauss-Seidel modified policy iteration on states lo..hi-1 (the rest fixed), every sweep
            # nearest the terminal states first, until a Bellman sweep's change delta certifies
            # gamma * delta / (1 - gamma) <= tol, or max_iter sweeps (-1: none)
            work, it, bound = 0.0, 0, np.inf
            # mean change of the previous iteration, and the ratio of that change to the one before
            step_prev, ratio_prev = 0.0, 0.0
            while True:
                before = 0.0
                if closed:
                    for s in range(lo, hi):
                        before += V[s]
                delta = bellman_sweep(indptr, indices, data, R, lo, hi, V, gamma, A, policy)[0]
                work += hi - lo
                it += 1
                bound = gamma * delta / (1.0 - gamma)
                if bound <= tol or it == max_iter:
                    return work, bound, it
                # evaluate the greedy policy until a sweep changes V by <= POLICY_STOP * delta; in a closed
                # class always min(m, CLOSED_M) sweeps: the Aitken step needs iterations of equal length
                for _ in range(min(m, CLOSED_M) if closed else m):
                    change = 0.0
                    for s in range(lo, hi):
                        row = s * A + policy[s]
                        acc = 0.0
                        for k in range(indptr[row], indptr[row + 1]):
                            acc += data[k] * V[indices[k]]
                        v = R[row] + gamma * acc
                        if abs(v) < TINY:
                            v = 0.0
                        if abs(v - V[s]) > change:
                            change = abs(v - V[s])
                        V[s] = v
                    work += (hi - lo) / A
                    if change <= POLICY_STOP * delta and not closed:
                        break
                if not closed:
                    continue
                after = 0.0
                for s in range(lo, hi):
                    after += V[s]
                step = (after - before) / (hi - lo)
                ratio = step / step_prev if step_prev != 0.0 else 0.0
                if 0.0 < ratio < 1.0 and abs(ratio - ratio_prev) <= 0.05 * ratio:
                    # a closed class whose error is mostly one uniform shift, shrinking by `ratio`
                    # every iteration (sweeps remove it only at rate gamma): add the rest of the
                    # geometric series now (Aitken); the certifying loop checks the values
                    shift = step * ratio / (1.0 - ratio)
                    for s in range(lo, hi):
                        V[s] += shift
                    step, ratio = 0.0, 0.0
                step_prev, ratio_prev = step, ratio

        @numba.njit(cache=True, nogil=True)
        def tree_order(indptr, indices, A, lo, hi, mark, parent, order):  # pragma: no cover - compiled
            # whether the component lo..hi's state graph (undirected, self-loops left out) is a tree;
            # if so parent[s] (-1: the root) and order[lo:hi-1], every state before its parent.
            # Returns (is_tree, states read): a graph with more than 2(n - 1) distinct internal
            # edges is no tree, so a grid's component is refused after reading about half its rows
            n = hi - lo
            cap = 2 * (n - 1)
            src = np.empty(max(cap, 1), np.int64)
            dst = np.empty(max(cap, 1), np.int64)
            E = 0
            for s in range(lo, hi):
                for k in range(indptr[s * A], indptr[(s + 1) * A]):
                    t = indices[k]
                    if t == s or t < lo or t >= hi or mark[t] == s:
                        continue
                    mark[t] = s
                    if E == cap:
                        return False, s - lo + 1
                    src[E] = s
                    dst[E] = t
                    E += 1
            # undirected adjacency, each neighbour once (stamps -s - 2, apart from the first pass's s)
            ptr = np.zeros(n + 1, np.int64)
            for e in range(E):
                ptr[src[e] - lo + 1] += 1
                ptr[dst[e] - lo + 1] += 1
            ptr = np.cumsum(ptr)
            fill = ptr[:-1].copy()
            adj = np.empty(2 * E, np.int64)
            for e in range(E):
                adj[fill[src[e] - lo]] = dst[e] - lo
                fill[src[e] - lo] += 1
                adj[fill[dst[e] - lo]] = src[e] - lo
                fill[dst[e] - lo] += 1
            end = np.empty(n, np.int64)
            degree = np.empty(n, np.int64)
            total = 0
            for i in range(n):
                w = ptr[i]
                for k in range(ptr[i], ptr[i + 1]):
                    j = adj[k]
                    if mark[lo + j] != -i - lo - 2:
                        mark[lo + j] = -i - lo - 2
                        adj[w] = j
                        w += 1
                end[i] = w
                degree[i] = w - ptr[i]
                total += degree[i]
            if total != 2 * (n - 1):  # connected (strongly, even) with n - 1 edges: a tree
                return False, n
            removed = np.zeros(n, np.bool_)
            queue = np.empty(n, np.int64)
            head, tail, count = 0, 0, 0
            for i in range(n):
                if degree[i] <= 1:
                    queue[tail] = i
                    tail += 1
            while head < tail:  # strip leaves: each state's one neighbour left is its parent
                i = queue[head]
                head += 1
                removed[i] = True
                p = -1
                for k in range(ptr[i], end[i]):
                    if not removed[adj[k]]:
                        p = adj[k]
                        break
                if p == -1:
                    parent[lo + i] = -1
                    order[hi - 1] = lo + i
                    continue
                parent[lo + i] = lo + p
                order[lo + count] = lo + i
                count += 1
                degree[p] -= 1
                if degree[p] == 1:
                    queue[tail] = p
                    tail += 1
            return count == n - 1, n

        @numba.njit(cache=True, nogil=True)
        def tree_evaluate(indptr, indices, data, R, lo, hi, V, gamma, A, policy, parent, order, a, b, up, down):  # pragma: no cover
            # V^pi on a tree component, exactly: (I - gamma P_pi) V = R_pi by Gaussian elimination
            # leaves first, where eliminating a state changes only its parent's equation (no
            # fill-in), then back-substitution from the root; states outside are constants
            for s in range(lo, hi):
                down[s] = 0.0
            for s in range(lo, hi):
                row = s * A + policy[s]
                diag, rhs, to_parent = 1.0, R[row], 0.0
                for k in range(indptr[row], indptr[row + 1]):
                    t = indices[k]
                    w = gamma * data[k]
                    if t == s:
                        diag -= w
                    elif t < lo or t >= hi:
                        rhs += w * V[t]
                    elif t == parent[s]:
                        to_parent += w
                    else:  # a child of s
                        down[t] += w
                a[s], b[s], up[s] = diag, rhs, to_parent
            for i in range(lo, hi - 1):  # x = (b[x] + up[x] V[parent]) / a[x] into the parent's equation
                x = order[i]
                p = parent[x]
                f = down[x] / a[x]
                a[p] -= f * up[x]
                b[p] += f * b[x]
            root = order[hi - 1]
            for i in range(hi - 1, lo - 1, -1):
                x = order[i]
                v = b[x] / a[x] if x == root else (b[x] + up[x] * V[parent[x]]) / a[x]
                V[x] = 0.0 if abs(v) < TINY else v

        @numba.njit(cache=True, nogil=True)
        def solve_tree(indptr, indices, data, R, lo, hi, V, gamma, A, policy, tol, parent, order, a, b, up, down):  # pragma: no cover
            # policy iteration on a tree component: a Bellman sweep, then the greedy policy's values
            # exactly (tree_evaluate), until a sweep certifies tol; returns (work, done). Not done:
            # the greedy policy stopped changing, or TREE_PI_CAP iterations, before tol was reached
            # (a tol below the values' rounding): Gauss-Seidel sweeps take it from there
            work = 0.0
            for _ in range(TREE_PI_CAP):
                delta, changed = bellman_sweep(indptr, indices, data, R, lo, hi, V, gamma, A, policy)
                work += hi - lo
                if gamma * delta / (1.0 - gamma) <= tol:
                    return work, True
                tree_evaluate(indptr, indices, data, R, lo, hi, V, gamma, A, policy, parent, order, a, b, up, down)
                work += 2.0 * (hi - lo) / A  # the policy's rows, then the elimination
                if not changed:
                    break
            return work, False

        @numba.njit(cache=True, nogil=True)
        def solve_components(indptr, indices, data, R, ptr, V, gamma, A, policy, tol, m, max_iter):  # pragma: no cover
            # components (contiguous ranges, sinks first) each to tol / 2 from its start guess, then
            # the certifying loop over every live state from those values
            work = 0.0  # state updates of Bellman sweeps, plus policy-sweep updates / A
            trees = 0
            S = V.shape[0]
            mark = np.full(S, -1, np.int64)  # tree_order's scratch; parent and order are its answer
            parent, order = np.empty(S, np.int64), np.empty(S, np.int64)
            diag, rhs, up, down = np.empty(S), np.empty(S), np.empty(S), np.empty(S)  # tree_evaluate's scratch
            for c in range(ptr.shape[0] - 1):
                lo, hi = ptr[c], ptr[c + 1]
                if hi == lo:
                    continue
                best = np.empty(hi - lo)
                for s in range(lo, hi):
                    b = -np.inf
                    for a in range(A):
                        b = max(b, R[s * A + a])
                    best[s - lo] = b
                start = np.median(best) / (1.0 - gamma)
                for s in range(lo, hi):
                    V[s] = start
                closed = True  # no transition leaves the component
                for k in range(indptr[lo * A], indptr[hi * A]):
                    if indices[k] < lo or indices[k] >= hi:
                        closed = False
                        break
                is_tree, read = tree_order(indptr, indices, A, lo, hi, mark, parent, order)
                work += read
                if is_tree:
                    trees += 1
                    w, done = solve_tree(indptr, indices, data, R, lo, hi, V, gamma, A, policy, tol / 2, parent, order,
                                         diag, rhs, up, down)
                    work += w
                    if done:
                        continue
                work += solve_range(indptr, indices, data, R, lo, hi, V, gamma, A, policy, tol / 2, m, closed, -1)[0]
            w, bound, it = solve_range(indptr, indices, data, R, 0, ptr[-1], V, gamma, A, policy, tol, m, False, max_iter)
            return work + w, bound, it, trees

        @numba.njit(cache=True, nogil=True)
        def permute(indptr, indices, data, R, perm, A):  # pragma: no cover - compiled
            S = perm.shape[0]
            inv = np.empty(S, np.int64)
            for i in range(S):
                inv[perm[i]] = i
            new_indptr = np.zeros(S * A + 1, np.int64)
            for i in range(S):
                for a in range(A):
                    row = perm[i] * A + a
                    new_indptr[i * A + a + 1] = indptr[row + 1] - indptr[row]
            new_indptr = np.cumsum(new_indptr)
            new_indices = np.empty(indices.shape[0], np.int32)  # S < 2^31: 4 bytes less to read per entry
            new_data = np.empty(indices.shape[0])
            new_R = np.empty(S * A)
            for i in range(S):
                for a in range(A):
                    row, new_row = perm[i] * A + a, i * A + a
                    new_R[new_row] = R[row]
                    k0 = new_indptr[new_row]
                    for k in range(indptr[row], indptr[row + 1]):
                        new_indices[k0] = inv[indices[k]]
                        new_data[k0] = data[k]
                        k0 += 1
            return new_indptr, new_indices, new_data, new_R

        _KERNEL = (solve_components, tarjan, permute)
    return _KERNEL


def solve(mdp: TabularMDP, gamma: float, tol: float, m: int = 64,
          max_iter: int | None = None) -> tuple[np.ndarray, np.ndarray, float, int, float, int]:
    """Solve every component (see the module doc), then certify: the certifying loop runs
    Gauss-Seidel sweeps over every live state, in the same order, until a sweep's change
    certifies ``tol`` (or ``max_iter`` sweeps).

    The model is first renumbered so that each component's states, in their sweep order, are
    contiguous in memory (one pass over P, counted in the work): a sweep in breadth-first order
    then reads its neighbours' values from nearby memory.

    Returns:
        ``(V, policy, bound, iterations, sweeps, components, trees)``: the values and greedy policy,
        the certifying loop's contraction bound and its Bellman sweeps, the work done in full
        Bellman sweeps of the model, the number of non-empty components, and how many of them are
        trees (solved by policy iteration with exact evaluations).
    """
    P, A, S = mdp.P, mdp.n_actions, mdp.n_states
    solve_components, _, permute = _kernels()
    order, ptr = components(mdp)
    perm = np.concatenate([order, np.flatnonzero(mdp.terminal)])
    indptr, indices, data, R = permute(P.indptr, P.indices, P.data, np.ascontiguousarray(mdp.R.reshape(-1)), perm, A)
    W, pol = np.zeros(S), np.zeros(S, np.int64)
    work, bound, it, trees = solve_components(indptr, indices, data, R, ptr, W, float(gamma), A, pol, float(tol), m,
                                       -1 if max_iter is None else int(max_iter))
    V, policy = np.empty(S), np.empty(S, np.int64)
    V[perm], policy[perm] = W, pol
    return V, policy, float(bound), int(it), float(work) / max(S, 1) + 1.0, int(np.count_nonzero(np.diff(ptr))), int(trees)


def load_kernels() -> float:
    """Compile (or load from numba's disk cache) these kernels now, and ``agents.gauss_seidel``'s,
    so that a caller timing several solvers (the suite table, the benchmarks) times no compiling;
    returns the seconds it took."""
    import time

    from agents import gauss_seidel
    from envs import GridWorldEnv

    t = time.perf_counter()
    gauss_seidel.load_kernels()
    solve(GridWorldEnv("S.>.G").mdp, 0.5, 1e-3)  # numba compiles on the first call with concrete types
    return time.perf_counter() - t


def kernels_loaded() -> bool:
    """Whether this module's kernels are compiled or loaded in this process already (what
    ``agents.dp.solve``'s ``auto`` needs to know; the Gauss-Seidel ones do not matter to it)."""
    return _KERNEL is not None
