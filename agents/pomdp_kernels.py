r"""The certified POMDP solver's inner loop, compiled (numba): one HSVI2 trial, descent and backups.

:func:`agents.pomdp.solve` keeps its state in flat arrays and calls :func:`trial` once per
search; everything a trial does (the successors of a belief, the sawtooth upper bound at each,
the lower bound, the point-based backups of both bounds, pruning of dominated alpha vectors)
runs here without returning to Python. The mathematics is in :mod:`agents.pomdp`'s docstring.

It lives apart from :mod:`agents.pomdp` so that importing the solver does not compile anything;
numba caches the compiled kernels next to this file.

The arrays, as :func:`agents.pomdp.solve` builds them:

- the model ``M = (ptr, idx, val, O, R, reach, fib, gamma)``: :math:`T(s'|s,a)` as one CSR per
  action (row ``s`` of action ``a`` is ``idx/val[ptr[a, s]:ptr[a, s+1]]``), ``O`` ``(A, S, Z)``,
  ``R`` ``(S, A)``, ``reach[a, o, s'] = \sum_s T(s'|s,a) O(o|s',a)`` (where each observation can
  lead), the fast informed bound ``fib`` ``(S, A)``;
- the bounds ``B = (alphas, alpha_actions, reach_best, reach_value, pptr, pidx, pinv, pvalue, pcorner,
  corner, counts)``: alpha vectors (rows ``< counts[0]``) and their actions; for each
  ``(a, o)`` the vector best at ``reach[a, o]`` and its value there (the plan an observation the
  belief cannot produce still needs); the sawtooth points (``counts[1]`` of them) as CSR
  supports with :math:`1/b_i(s)`, their values and :math:`c^\top b_i`; the corner values
  :math:`c`; ``counts = [alphas, points, support entries, full]`` (``full`` is set when a
  buffer had no room: the caller grows them);
- the work space ``W = (nxt, probs, unext, psupp, pm, pred, mark, q, g, alpha, best, path, supp)``.
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["trial", "upper_at", "lower_at", "support_of"]

EPS = 1e-12  # a backup improves a bound only by more than this


@njit(cache=True)
def support_of(b: np.ndarray, out: np.ndarray) -> int:  # pragma: no cover (compiled)
    """The states where ``b > 0`` into ``out``; returns how many."""
    m = 0
    for s in range(b.shape[0]):
        if b[s] > 0.0:
            out[m] = s
            m += 1
    return m


@njit(cache=True)
def upper_at(b, supp, m, corner, fib, pptr, pidx, pinv, pvalue, pcorner, n_points):  # pragma: no cover (compiled)
    r""":math:`U(b) = \min(\text{FIB}(b), c^\top b, \min_i c^\top b + (v_i - c^\top b_i)\min_{s} b(s)/b_i(s))`.

    ``supp[:m]`` holds every state where ``b > 0`` (it may hold more). A ratio of 0 (the belief is
    0 somewhere on a point's support) ends that point's scan: it cannot lower the bound.
    """
    base = 0.0
    for j in range(m):
        base += corner[supp[j]] * b[supp[j]]
    informed = -np.inf  # FIB itself, tighter than its corners inside the simplex
    for a in range(fib.shape[1]):
        t = 0.0
        for j in range(m):
            t += fib[supp[j], a] * b[supp[j]]
        if t > informed:
            informed = t
    best = base
    for k in range(n_points):
        drop = pvalue[k] - pcorner[k]
        if drop >= 0.0:
            continue
        ratio = np.inf
        for j in range(pptr[k], pptr[k + 1]):
            x = b[pidx[j]] * pinv[j]
            if x < ratio:
                ratio = x
                if ratio == 0.0:
                    break
        v = base + drop * ratio
        if v < best:
            best = v
    return min(best, informed)


@njit(cache=True)
def lower_at(b, supp, m, alphas, n_alphas):  # pragma: no cover (compiled)
    r""":math:`L(b) = \max_k \alpha_k^\top b` over the first ``n_alphas`` rows; returns (value, k)."""
    best, arg = -np.inf, 0
    for k in range(n_alphas):
        t = 0.0
        for j in range(m):
            t += alphas[k, supp[j]] * b[supp[j]]
        if t > best:
            best, arg = t, k
    return best, arg


@njit(cache=True)
def _q_upper(b, supp, m, M, B, W):  # pragma: no cover (compiled)
    r"""The upper bound's :math:`Q(b, a)` into ``W.q``; ``W.nxt[a, o]`` the next beliefs (support
    ``W.psupp[a, :W.pm[a]]``), ``W.probs[a, o]`` :math:`P(o|b,a)`, ``W.unext[a, o]`` their upper bounds."""
    ptr, idx, val, O, R, reach, fib, gamma = M
    alphas, alpha_actions, reach_best, reach_value, pptr, pidx, pinv, pvalue, pcorner, corner, counts = B
    nxt, probs, unext, psupp, pm, pred, mark, q, g, alpha, best, path, bsupp = W
    A, Z = probs.shape
    for a in range(A):
        for j in range(pm[a]):  # clear the previous call's next beliefs
            t = psupp[a, j]
            for o in range(Z):
                nxt[a, o, t] = 0.0
        n = 0
        for j in range(m):
            s = supp[j]
            w = b[s]
            for e in range(ptr[a, s], ptr[a, s + 1]):
                t = idx[e]
                if mark[t] == 0:
                    mark[t] = 1
                    psupp[a, n] = t
                    n += 1
                pred[t] += w * val[e]
        pm[a] = n
        qa = 0.0
        for j in range(m):
            qa += b[supp[j]] * R[supp[j], a]
        future = 0.0
        for o in range(Z):
            tot = 0.0
            for j in range(n):
                t = psupp[a, j]
                x = pred[t] * O[a, t, o]
                nxt[a, o, t] = x
                tot += x
            probs[a, o] = tot
            unext[a, o] = 0.0
            if tot > 0.0:
                for j in range(n):
                    nxt[a, o, psupp[a, j]] /= tot
                unext[a, o] = upper_at(nxt[a, o], psupp[a], n, corner, fib, pptr, pidx, pinv, pvalue, pcorner,
                                       counts[1])
                future += tot * unext[a, o]
        for j in range(n):
            pred[psupp[a, j]] = 0.0
            mark[psupp[a, j]] = 0
        q[a] = qa + gamma * future


@njit(cache=True)
def _add_point(b, supp, m, v, B):  # pragma: no cover (compiled)
    """A sawtooth point ``(b, v)``: a vertex lowers its corner; a belief seen before keeps the lower value."""
    alphas, alpha_actions, reach_best, reach_value, pptr, pidx, pinv, pvalue, pcorner, corner, counts = B
    n_supp, vertex = 0, -1
    for j in range(m):
        if b[supp[j]] > 0.0:
            n_supp += 1
            if b[supp[j]] == 1.0:
                vertex = supp[j]
    if n_supp == 1 and vertex >= 0:
        if v < corner[vertex]:
            corner[vertex] = v
            for k in range(counts[1]):  # c^T b_k changes with c
                t = 0.0
                for j in range(pptr[k], pptr[k + 1]):
                    t += corner[pidx[j]] / pinv[j]
                pcorner[k] = t
        return
    for k in range(counts[1]):
        if pptr[k + 1] - pptr[k] != n_supp:
            continue
        same = True
        for j in range(pptr[k], pptr[k + 1]):
            if abs(b[pidx[j]] - 1.0 / pinv[j]) > EPS:
                same = False
                break
        if same:
            if v < pvalue[k]:
                pvalue[k] = v
            return
    k, e = counts[1], counts[2]
    if k + 2 > pptr.shape[0] or e + n_supp > pidx.shape[0]:
        counts[3] = 1  # full: the caller grows the buffers; leaving a point out only loosens the bound
        return
    cb = 0.0
    for j in range(m):
        s = supp[j]
        if b[s] > 0.0:
            pidx[e] = s
            pinv[e] = 1.0 / b[s]
            cb += corner[s] * b[s]
            e += 1
    pptr[k + 1] = e
    pvalue[k] = v
    pcorner[k] = cb
    counts[1] = k + 1
    counts[2] = e


@njit(cache=True)
def _add_alpha(new, action, M, B):  # pragma: no cover (compiled)
    """Append ``new`` unless a kept vector dominates it; drop the vectors it dominates; keep ``reach_best``."""
    ptr, idx, val, O, R, reach, fib, gamma = M
    alphas, alpha_actions, reach_best, reach_value, pptr, pidx, pinv, pvalue, pcorner, corner, counts = B
    K, S = counts[0], new.shape[0]
    if K >= alphas.shape[0]:
        counts[3] = 1  # full (checked before any vector is dropped, so the bound never falls)
        return
    for k in range(K):
        dominated = True
        for s in range(S):
            if alphas[k, s] < new[s] - EPS:
                dominated = False
                break
        if dominated:
            return
    A, Z = reach_best.shape
    remap = np.empty(K + 1, dtype=np.int64)
    kept = 0
    for k in range(K):
        dominates = True
        for s in range(S):
            if new[s] < alphas[k, s]:
                dominates = False
                break
        if dominates:
            remap[k] = -1
        else:
            if kept != k:
                alphas[kept] = alphas[k]
                alpha_actions[kept] = alpha_actions[k]
            remap[k] = kept
            kept += 1
    alphas[kept] = new
    alpha_actions[kept] = action
    counts[0] = kept + 1
    for a in range(A):
        for o in range(Z):
            old = remap[reach_best[a, o]]
            t = 0.0
            for s in range(S):
                t += reach[a, o, s] * new[s]
            if old < 0 or t > reach_value[a, o]:  # a dropped vector is dominated by new, so new is at least as good
                reach_best[a, o], reach_value[a, o] = kept, t
            else:
                reach_best[a, o] = old


@njit(cache=True)
def _backup(b, M, B, W):  # pragma: no cover (compiled)
    """Both bounds backed up at ``b``: a sawtooth point if it lowers U(b), an alpha vector if it raises L(b)."""
    ptr, idx, val, O, R, reach, fib, gamma = M
    alphas, alpha_actions, reach_best, reach_value, pptr, pidx, pinv, pvalue, pcorner, corner, counts = B
    nxt, probs, unext, psupp, pm, pred, mark, q, g, alpha, best, path, bsupp = W
    m = support_of(b, bsupp)
    _q_upper(b, bsupp, m, M, B, W)
    v = q.max()
    u = upper_at(b, bsupp, m, corner, fib, pptr, pidx, pinv, pvalue, pcorner, counts[1])
    if v < u - EPS:
        _add_point(b, bsupp, m, v, B)
    A, Z = probs.shape
    S = b.shape[0]
    K = counts[0]
    chosen = np.empty(Z, dtype=np.int64)
    best_value, best_action = -np.inf, -1
    for a in range(A):
        for o in range(Z):
            if probs[a, o] > 0.0:  # the best vector at the belief this observation brings
                chosen[o] = lower_at(nxt[a, o], psupp[a], pm[a], alphas, K)[1]
            else:  # one b cannot produce still needs a plan: the best where it can lead from anywhere
                chosen[o] = reach_best[a, o]
        for t in range(S):  # g(s') = sum_o O(o|s',a) alpha_o(s'): the plan's value after landing in s'
            x = 0.0
            for o in range(Z):
                w = O[a, t, o]
                if w > 0.0:
                    x += w * alphas[chosen[o], t]
            g[t] = x
        value = 0.0
        for s in range(S):
            x = 0.0
            for e in range(ptr[a, s], ptr[a, s + 1]):
                x += val[e] * g[idx[e]]
            alpha[s] = R[s, a] + gamma * x
            value += alpha[s] * b[s]
        if value > best_value:
            best_value, best_action = value, a
            best[:] = alpha
    if best_value > lower_at(b, bsupp, m, alphas, K)[0] + EPS:
        _add_alpha(best, best_action, M, B)


@njit(cache=True)
def trial(b0, tol, max_depth, M, B, W):  # pragma: no cover (compiled)
    r"""One HSVI2 trial from ``b0``; returns its depth.

    Descend by the action best for the upper bound and the observation of largest weighted excess
    gap :math:`P(o|b,a)((U - L)(b^{a,o}) - \epsilon\gamma^{-t-1})` until none is left or the
    gap at the belief is within :math:`\epsilon\gamma^{-t}`; then back both bounds up along the
    path, deepest first. ``W.path`` needs ``max_depth + 1`` rows.
    """
    ptr, idx, val, O, R, reach, fib, gamma = M
    alphas, alpha_actions, reach_best, reach_value, pptr, pidx, pinv, pvalue, pcorner, corner, counts = B
    nxt, probs, unext, psupp, pm, pred, mark, q, g, alpha, best, path, bsupp = W
    path[0] = b0
    depth = 0
    for t in range(max_depth):
        b = path[depth]
        m = support_of(b, bsupp)
        gap = (upper_at(b, bsupp, m, corner, fib, pptr, pidx, pinv, pvalue, pcorner, counts[1])
               - lower_at(b, bsupp, m, alphas, counts[0])[0])
        if gap <= tol * gamma ** (-t):
            break
        _q_upper(b, bsupp, m, M, B, W)
        a = np.argmax(q)
        threshold = tol * gamma ** (-(t + 1))
        best_excess, best_o = 0.0, -1
        for o in range(probs.shape[1]):
            p = probs[a, o]
            if p > 0.0:
                excess = p * (unext[a, o] - lower_at(nxt[a, o], psupp[a], pm[a], alphas, counts[0])[0] - threshold)
                if excess > best_excess:
                    best_excess, best_o = excess, o
        if best_o < 0:
            break
        depth += 1
        path[depth] = nxt[a, best_o]
    for d in range(depth, -1, -1):
        _backup(path[d], M, B, W)
    return depth
