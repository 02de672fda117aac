"""The compiled (numba) kernels of ``agents.gauss_seidel`` and ``agents.topological``.

They live at module level, not in closures, so that numba's disk cache finds them again in every
process: a kernel that calls another through a closure is cached under a key holding that
dispatcher's pickle, which differs in every process, so it was compiled anew each time (measured:
4.4-5.1 s per process to "load" the topological kernels, 0.4 s from the cache now). This module
imports numba, so the solvers import it only when a kernel first runs (``import agents`` stays
light). The algorithms are documented in those two modules.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from agents.solver_constants import BLOCK_MIN, CLOSED_M, POLICY_STOP, TINY, TREE_PI_CAP
from envs.parallel import prefer_workqueue

prefer_workqueue()  # numba's OpenMP layer would reset torch's thread count (envs.parallel)

__all__ = ["backup", "sweep", "policy_sweep", "tarjan", "bellman_sweep", "policy_row_ptr", "rows_sweep", "halo",
           "encode_rows", "block_sweep", "solve_range", "tree_order", "tree_evaluate", "solve_tree",
           "solve_components", "permute"]


# ---------------------------------------------------------------------- agents.gauss_seidel
@njit(cache=True, nogil=True)
def backup(indptr, indices, data, R, V, gamma, A, s):  # pragma: no cover - compiled
    # max_a R(s, a) + gamma P(s, a) V and its first maximising action
    best = -np.inf
    arg = 0
    for a in range(A):
        row = s * A + a
        acc = 0.0
        for k in range(indptr[row], indptr[row + 1]):
            acc += data[k] * V[indices[k]]
        q = R[row] + gamma * acc
        if q > best:
            best = q
            arg = a
    if abs(best) < TINY:  # no subnormal floats (they are ~100x slower)
        best = 0.0
    return best, arg


@njit(cache=True, nogil=True)
def sweep(indptr, indices, data, R, order, V, gamma, A, policy):  # pragma: no cover - compiled
    delta = 0.0
    for i in range(order.shape[0]):
        s = order[i]
        best, arg = backup(indptr, indices, data, R, V, gamma, A, s)
        d = abs(best - V[s])
        if d > delta:
            delta = d
        V[s] = best
        policy[s] = arg
    return delta


@njit(cache=True, nogil=True)
def policy_sweep(indptr, indices, data, R, order, V, gamma, A, policy):  # pragma: no cover - compiled
    for i in range(order.shape[0]):
        s = order[i]
        row = s * A + policy[s]
        acc = 0.0
        for k in range(indptr[row], indptr[row + 1]):
            acc += data[k] * V[indices[k]]
        v = R[row] + gamma * acc
        V[s] = v if abs(v) >= TINY else 0.0


# ---------------------------------------------------------------------- agents.topological
@njit(cache=True, nogil=True)
def tarjan(indptr, indices, live, best):  # pragma: no cover - compiled
    # per-state arrays as int32 (S < 2^31): on a model numbered at random every edge reads one of
    # them at a random place, and half the bytes keep twice as many of them in the cache
    S = indptr.shape[0] - 1
    index = np.full(S, -1, np.int32)
    low = np.zeros(S, np.int32)
    comp = np.full(S, -1, np.int32)
    onstack = np.zeros(S, np.bool_)
    stack = np.empty(S, np.int32)
    call_node = np.empty(S, np.int32)
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
    # each component's sweep order: breadth-first over reversed edges from its exits (states with
    # a transition into a component ordered already, or into a terminal state), nearest the
    # sinks first. An exit's distance is one more than that of the nearest state it leads to
    # (terminal states and a closed class's root: 0), so the search runs on from the distances
    # the components below found, as one search from the sinks over the whole graph would. Ties
    # go by the order of discovery, an exit's by the place of the state it leads to. A closed
    # class starts from its state of best reward. Nothing but the graph (and ties' indices)
    # decides the order, whatever the model's numbering
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
    ptr = np.zeros(n_comp + 1, np.int64)
    for s in range(S):
        if live[s]:
            ptr[comp[s] + 1] += 1
    ptr = np.cumsum(ptr)
    members = np.empty(ptr[n_comp], np.int64)  # each component's live states, by index
    cfill = ptr[:-1].copy()
    for s in range(S):
        if live[s]:
            members[cfill[comp[s]]] = s
            cfill[comp[s]] += 1
    place = np.empty(S, np.int32)  # a live state's place in `order`; a terminal state's: below all
    level = np.zeros(S, np.int32)  # distance to the sinks, as the search found it
    for s in range(S):
        place[s] = s - S
    seen = np.zeros(S, np.bool_)
    order = np.empty(ptr[n_comp], np.int64)
    key = np.empty(S, np.int64)  # an exit's (distance * W + place of the state it leads to + S)
    exits = np.empty(S, np.int64)
    W = 2 * S + 1
    big = np.iinfo(np.int64).max
    for c in range(n_comp):  # sinks first: a component's exits lead to components placed already
        lo, hi = ptr[c], ptr[c + 1]
        if hi == lo:
            continue
        n_exits = 0
        for i in range(lo, hi):
            s = members[i]
            k = big
            for e in range(indptr[s], indptr[s + 1]):
                t = indices[e]
                if comp[t] != c or not live[t]:
                    k = min(k, (np.int64(level[t]) + 1) * W + place[t] + S)
            if k != big:
                key[n_exits] = k
                exits[n_exits] = s
                n_exits += 1
        if n_exits == 0:  # a closed class
            s = members[lo]
            for i in range(lo, hi):
                if best[members[i]] > best[s]:
                    s = members[i]
            key[0], exits[0], n_exits = 0, s, 1
        rank = np.argsort(key[:n_exits], kind="mergesort")
        head, tail, nxt = lo, lo, 0
        while head < hi:
            if head == tail and nxt == n_exits:  # only a terminal state inside the component leads on
                for i in range(lo, hi):
                    if not seen[members[i]]:
                        key[0], exits[0], rank[0], nxt, n_exits = 0, members[i], 0, 0, 1
                        break
            # the next state: the queue's head, or the next exit if it is no farther
            if nxt < n_exits and (head == tail or key[rank[nxt]] // W <= level[order[head]]):
                s, d = exits[rank[nxt]], key[rank[nxt]] // W
                nxt += 1
                if seen[s]:
                    continue
                seen[s] = True
                level[s] = d
                order[tail] = s
                tail += 1
                continue
            t = order[head]
            place[t] = head
            head += 1
            for e in range(indeg[t], indeg[t + 1]):
                s = rev[e]
                if not seen[s] and live[s] and comp[s] == c:
                    seen[s] = True
                    level[s] = level[t] + 1
                    order[tail] = s
                    tail += 1
    return order, ptr


@njit(cache=True, nogil=True)
def policy_row_ptr(indptr, A, S):  # pragma: no cover - compiled
    # slots of the policy's rows: state s gets max_a (entries of row (s, a)) of them
    pptr = np.zeros(S + 1, np.int64)
    for s in range(S):
        w = 0
        for a in range(A):
            w = max(w, indptr[s * A + a + 1] - indptr[s * A + a])
        pptr[s + 1] = pptr[s] + w
    return pptr


@njit(cache=True, nogil=True, inline="always")
def _block(lo, hi, b, blocks):  # pragma: no cover - compiled
    # block b of `blocks` contiguous blocks cutting lo..hi-1: (first state, one past the last)
    return lo + (hi - lo) * b // blocks, lo + (hi - lo) * (b + 1) // blocks


@njit(cache=True, nogil=True, inline="always")
def _other_block(j, lo, hi, blo, bhi):  # pragma: no cover - compiled
    # whether state j is in lo..hi-1 but not in the block blo..bhi-1: a blocked sweep reads its
    # value as the sweep began
    return j >= lo and j < hi and (j < blo or j >= bhi)


@njit(cache=True, nogil=True, inline="always")
def _write_row(indptr, indices, data, R, A, s, a, rows, lo, hi, blo, bhi, S):  # pragma: no cover - compiled
    # copy row (s, a) into state s's slots of the policy's rows (padded with 0 * V[s]); in pcolx a
    # state of lo..hi-1 outside s's block blo..bhi-1 is S + its place in the halo (see encode_rows)
    pptr, pcol, pval, pR, written, pcolx, hidx = rows
    row = s * A + a
    k0 = pptr[s]
    for k in range(indptr[row], indptr[row + 1]):
        j = indices[k]
        pcol[k0] = j
        pcolx[k0] = S + hidx[j] if _other_block(j, lo, hi, blo, bhi) else j
        pval[k0] = data[k]
        k0 += 1
    for k in range(k0, pptr[s + 1]):
        pcol[k] = s
        pcolx[k] = s
        pval[k] = 0.0
    pR[s] = R[row]
    written[s] = a


@njit(cache=True, nogil=True)
def bellman_sweep(indptr, indices, data, R, lo, hi, V, gamma, A, policy, rows,
                  keep_rows):  # pragma: no cover - compiled
    # one Gauss-Seidel Bellman sweep of states lo..hi-1 in order, the greedy policy with it, and
    # (keep_rows) each state's greedy row copied into the policy's rows where its action changed;
    # returns (the largest change, whether any state's greedy action changed)
    written = rows[4]
    delta, changed = 0.0, False
    for s in range(lo, hi):
        bq, arg = backup(indptr, indices, data, R, V, gamma, A, s)  # values below TINY stored as 0
        if abs(bq - V[s]) > delta:
            delta = abs(bq - V[s])
        V[s] = bq
        if policy[s] != arg:
            changed = True
        policy[s] = arg
        if keep_rows and written[s] != arg:
            _write_row(indptr, indices, data, R, A, s, arg, rows, lo, hi, lo, hi, V.shape[0])
    return delta, changed


@njit(cache=True, nogil=True)
def rows_sweep(lo, hi, V, gamma, rows, X, cols):  # pragma: no cover - compiled
    # a Gauss-Seidel sweep of the policy's operator on states lo..hi-1, reading the policy's rows:
    # their values X[cols[k]] (X = V and the raw columns rows[1]; or, in a block of a blocked
    # sweep, V's array and the encoded columns rows[5]: see encode_rows); the largest change
    pptr, pval, pR = rows[0], rows[2], rows[3]
    change = 0.0
    for s in range(lo, hi):
        acc = 0.0
        for k in range(pptr[s], pptr[s + 1]):
            acc += pval[k] * X[cols[k]]
        v = pR[s] + gamma * acc
        if abs(v) < TINY:
            v = 0.0
        if abs(v - V[s]) > change:
            change = abs(v - V[s])
        V[s] = v
    return change


@njit(cache=True, nogil=True)
def halo(indptr, indices, A, lo, hi, blocks, seen):  # pragma: no cover - compiled
    # the states of lo..hi-1 that some row (any action) of a state in another block reads: all a
    # blocked sweep needs of the values it began from. seen: scratch of S False, left False
    out = np.empty(hi - lo, np.int64)
    n = 0
    for b in range(blocks):
        blo, bhi = _block(lo, hi, b, blocks)
        for k in range(indptr[blo * A], indptr[bhi * A]):
            j = indices[k]
            if _other_block(j, lo, hi, blo, bhi) and not seen[j]:
                seen[j] = True
                out[n] = j
                n += 1
    for i in range(n):
        seen[out[i]] = False
    return out[:n].copy()


@njit(cache=True, nogil=True)
def encode_rows(lo, hi, blocks, halo, rows, S):  # pragma: no cover - compiled
    # the policy's rows of lo..hi-1 swept in `blocks` blocks read, in pcolx, a state of another
    # block at S + its place in the halo: where a blocked policy sweep keeps the value the sweep
    # began from, so that it reads one array with no test per entry
    pptr, pcol, pcolx, hidx = rows[0], rows[1], rows[5], rows[6]
    for i in range(halo.shape[0]):
        hidx[halo[i]] = i
    for b in range(blocks):
        blo, bhi = _block(lo, hi, b, blocks)
        for k in range(pptr[blo], pptr[bhi]):
            j = pcol[k]
            pcolx[k] = S + hidx[j] if _other_block(j, lo, hi, blo, bhi) else j


@njit(cache=True, nogil=True)
def _sweep_block(indptr, indices, data, R, lo, hi, blo, bhi, V, Vold, X, gamma, A, policy, rows,
                 bellman):  # pragma: no cover - compiled
    if not bellman:  # the halo's values in X[S:], read through the encoded columns
        return rows_sweep(blo, bhi, V, gamma, rows, X, rows[5])
    written = rows[4]
    change = 0.0
    for s in range(blo, bhi):
        best, arg = -np.inf, 0
        for a in range(A):
            row = s * A + a
            acc = 0.0
            for k in range(indptr[row], indptr[row + 1]):
                j = indices[k]
                acc += data[k] * (Vold[j] if _other_block(j, lo, hi, blo, bhi) else V[j])
            q = R[row] + gamma * acc
            if q > best:
                best, arg = q, a
        policy[s] = arg
        if written[s] != arg:
            _write_row(indptr, indices, data, R, A, s, arg, rows, lo, hi, blo, bhi, V.shape[0])
        if abs(best) < TINY:
            best = 0.0
        if abs(best - V[s]) > change:
            change = abs(best - V[s])
        V[s] = best
    return change


@njit(cache=True, nogil=True, parallel=True)
def block_sweep(indptr, indices, data, R, lo, hi, V, Vold, X, edge, gamma, A, policy, rows, blocks, bellman,
                whole):  # pragma: no cover - compiled
    # one sweep of states lo..hi-1 cut into `blocks` contiguous blocks swept at once (a thread
    # each): Gauss-Seidel inside a block, the other blocks' values as they were when the sweep
    # began, so that the result does not depend on the threads' timing. bellman: a Bellman sweep
    # (the greedy policy and its rows written), reading those values from Vold (every state's
    # copied when `whole`, else only `edge`'s, the halo: the states a block reads from another);
    # else a sweep of the policy's operator on its rows, reading them from X[S + i] for the halo's
    # i-th state (X: V's array, V = X[:S]; see encode_rows). Returns the largest change.
    if bellman and whole:
        for s in prange(lo, hi):
            Vold[s] = V[s]
    elif bellman:
        for i in prange(edge.shape[0]):
            Vold[edge[i]] = V[edge[i]]
    else:
        S = V.shape[0]
        for i in prange(edge.shape[0]):
            X[S + i] = V[edge[i]]
    changes = np.zeros(blocks)
    for b in prange(blocks):
        blo, bhi = _block(lo, hi, b, blocks)
        changes[b] = _sweep_block(indptr, indices, data, R, lo, hi, blo, bhi, V, Vold, X, gamma, A, policy, rows,
                                  bellman)
    return changes.max()


@njit(cache=True, nogil=True)
def solve_range(indptr, indices, data, R, lo, hi, V, gamma, A, policy, tol, m, closed, max_iter, Vold, X, seen,
                rows, blocks):  # pragma: no cover - compiled
    # Gauss-Seidel modified policy iteration on states lo..hi-1 (the rest fixed), every sweep
    # nearest the terminal states first, until a Bellman sweep's change delta certifies
    # gamma * delta / (1 - gamma) <= tol, or max_iter sweeps (-1: none). Policy sweeps read the
    # policy's rows (`rows`), which each Bellman sweep keeps up to date
    work, it, bound = 0.0, 0, np.inf
    nb = min(blocks, (hi - lo) // BLOCK_MIN)  # blocks of at least BLOCK_MIN states
    split = nb > 1
    edge = np.empty(0, np.int64)  # the halo, found after the first sweep if there are more
    # mean change of the previous iteration, and the ratio of that change to the one before
    step_prev, ratio_prev = 0.0, 0.0
    while True:
        before = 0.0
        if closed:
            for s in range(lo, hi):
                before += V[s]
        if split:
            delta = block_sweep(indptr, indices, data, R, lo, hi, V, Vold, X, edge, gamma, A, policy, rows, nb, True,
                                it == 0)
        else:
            delta = bellman_sweep(indptr, indices, data, R, lo, hi, V, gamma, A, policy, rows, True)[0]
        work += hi - lo
        it += 1
        bound = gamma * delta / (1.0 - gamma)
        if bound <= tol or it == max_iter:
            return work, bound, it
        if split and it == 1:  # (the certifying loop's first sweep usually certifies: no halo needed)
            edge = halo(indptr, indices, A, lo, hi, nb, seen)
            encode_rows(lo, hi, nb, edge, rows, V.shape[0])
            work += hi - lo  # reading the range's rows once
        # evaluate the greedy policy until a sweep changes V by <= POLICY_STOP * delta; in a closed
        # class always min(m, CLOSED_M) sweeps: the Aitken step needs iterations of equal length
        for _ in range(min(m, CLOSED_M) if closed else m):
            if split:
                change = block_sweep(indptr, indices, data, R, lo, hi, V, Vold, X, edge, gamma, A, policy, rows, nb,
                                     False, False)
            else:
                change = rows_sweep(lo, hi, V, gamma, rows, V, rows[1])
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


@njit(cache=True, nogil=True)
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


@njit(cache=True, nogil=True)
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


@njit(cache=True, nogil=True)
def solve_tree(indptr, indices, data, R, lo, hi, V, gamma, A, policy, rows, tol, parent, order, a, b, up,
               down):  # pragma: no cover - compiled
    # policy iteration on a tree component: a Bellman sweep, then the greedy policy's values
    # exactly (tree_evaluate), until a sweep certifies tol; returns (work, done). Not done:
    # the greedy policy stopped changing, or TREE_PI_CAP iterations, before tol was reached
    # (a tol below the values' rounding): Gauss-Seidel sweeps take it from there
    work = 0.0
    for _ in range(TREE_PI_CAP):
        delta, changed = bellman_sweep(indptr, indices, data, R, lo, hi, V, gamma, A, policy, rows, False)
        work += hi - lo
        if gamma * delta / (1.0 - gamma) <= tol:
            return work, True
        tree_evaluate(indptr, indices, data, R, lo, hi, V, gamma, A, policy, parent, order, a, b, up, down)
        work += 2.0 * (hi - lo) / A  # the policy's rows, then the elimination
        if not changed:
            break
    return work, False


@njit(cache=True, nogil=True)
def solve_components(indptr, indices, data, R, ptr, V, gamma, A, policy, tol, m, max_iter, blocks):  # pragma: no cover
    # components (contiguous ranges, sinks first) each to tol / 2 from its start guess, then
    # the certifying loop over every live state from those values
    work = 0.0  # state updates of Bellman sweeps, plus policy-sweep updates / A
    trees = 0
    S = V.shape[0]
    out = V  # the values are computed in X[:S]: X[S:] holds a blocked policy sweep's halo values
    X = np.empty(2 * S if blocks > 1 else S)
    X[:S] = out  # (terminal states keep their given values)
    V = X[:S]
    mark = np.full(S, -1, np.int64)  # tree_order's scratch; parent and order are its answer
    parent, order = np.empty(S, np.int64), np.empty(S, np.int64)
    diag, rhs, up, down = np.empty(S), np.empty(S), np.empty(S), np.empty(S)  # tree_evaluate's scratch
    Vold = np.empty(S if blocks > 1 else 0)  # block_sweep's copy of the values a sweep began from (its halo's)
    seen = np.zeros(S if blocks > 1 else 0, np.bool_)  # halo's scratch
    # the greedy policy's rows, side by side in sweep order (policy sweeps read them in order):
    # (slot pointers, columns, probabilities, rewards, written, columns as a blocked sweep reads
    # them, the halo's places); written[s]: the action whose row state s's slots hold (-1: none
    # yet). Columns in X, below 2S: S < 2^30
    pptr = policy_row_ptr(indptr, A, S)
    nslots = pptr[S]
    rows = (pptr, np.empty(nslots, np.int32), np.empty(nslots), np.empty(S), np.full(S, -1, np.int64),
            np.empty(nslots, np.int32), np.zeros(S, np.int64))
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
            w, done = solve_tree(indptr, indices, data, R, lo, hi, V, gamma, A, policy, rows, tol / 2, parent,
                                 order, diag, rhs, up, down)
            work += w
            if done:
                continue
        work += solve_range(indptr, indices, data, R, lo, hi, V, gamma, A, policy, tol / 2, m, closed, -1, Vold,
                            X, seen, rows, blocks)[0]
    w, bound, it = solve_range(indptr, indices, data, R, 0, ptr[-1], V, gamma, A, policy, tol, m, False, max_iter,
                               Vold, X, seen, rows, blocks)
    out[:] = V
    return work + w, bound, it, trees


@njit(cache=True, nogil=True, parallel=True)
def permute(indptr, indices, data, R, perm, A):  # pragma: no cover - compiled
    # the model renumbered: new state i is old state perm[i] (rows copied in parallel)
    S = perm.shape[0]
    inv = np.empty(S, np.int64)
    for i in prange(S):
        inv[perm[i]] = i
    new_indptr = np.zeros(S * A + 1, np.int64)
    for i in prange(S):
        for a in range(A):
            row = perm[i] * A + a
            new_indptr[i * A + a + 1] = indptr[row + 1] - indptr[row]
    new_indptr = np.cumsum(new_indptr)
    new_indices = np.empty(indices.shape[0], np.int32)  # S < 2^31: 4 bytes less to read per entry
    new_data = np.empty(indices.shape[0])
    new_R = np.empty(S * A)
    for i in prange(S):
        for a in range(A):
            row, new_row = perm[i] * A + a, i * A + a
            new_R[new_row] = R[row]
            k0 = new_indptr[new_row]
            for k in range(indptr[row], indptr[row + 1]):
                new_indices[k0] = inv[indices[k]]
                new_data[k0] = data[k]
                k0 += 1
    return new_indptr, new_indices, new_data, new_R
