"""The sparse transition model of a grid from its one-step moves.

Each (state, action) has three outcomes: the intended move with probability 1 - slip and the two
perpendicular ones with slip/2 each; outcomes that land on the same cell are merged, zero
probabilities dropped, terminal states made absorbing. Small grids use vectorised numpy; grids of
``NUMBA_ABOVE`` states or more use a numba kernel that writes the CSR arrays in one pass (the
numpy path makes a dozen full-size temporaries, which dominates building a 10^6-state model).
Both give the same model (tested).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

__all__ = ["grid_transitions", "NUMBA_ABOVE"]

NUMBA_ABOVE = 50_000
_KERNEL = None


def grid_transitions(move: np.ndarray, slip: float, terminal: np.ndarray, entry: np.ndarray,
                     use_numba: bool | None = None) -> tuple[sp.csr_matrix, np.ndarray]:
    r"""``(P, R)`` of a grid whose transitions pay ``entry[s']`` (0 out of terminal states).

    Arguments:
        move: ``(4, S)`` the state reached by a deterministic move in each direction.
        slip: probability of a perpendicular move.
        terminal: ``(S,)`` absorbing states (self-loop, reward 0).
        entry: ``(S,)`` reward paid on entering each state.
        use_numba: force a path; default by size (``NUMBA_ABOVE``).

    Returns:
        ``P`` as canonical CSR of shape ``(4S, S)`` and ``R`` of shape ``(S, 4)``,
        :math:`R(s,a) = \sum_{s'} P(s'|s,a)\, \text{entry}[s']` for live ``s``. The reward matrix
        is not built here: ``TabularMDP(entry_reward=...)`` builds it from ``entry`` when asked.
    """
    S = move.shape[1]
    if use_numba is None:
        use_numba = S >= NUMBA_ABOVE
    if use_numba:
        indptr, indices, data, R = _numba_rows(move, float(slip), terminal, entry)
    else:
        indptr, indices, data, R = _numpy_rows(move, float(slip), terminal, entry)
    P = sp.csr_matrix((data, indices, indptr), shape=(4 * S, S))
    P.has_canonical_format = True
    return P, R.reshape(S, 4)


def _index_dtype(n: int) -> type:
    return np.int32 if n < 2**31 - 1 else np.int64


def _numpy_rows(move, slip, terminal, entry):
    S, A = move.shape[1], 4
    actions = np.arange(A)
    outcome_dirs = np.stack([actions, (actions + 1) % 4, (actions + 3) % 4], axis=1)  # (A, 3)
    c = list(np.ascontiguousarray(move[outcome_dirs].transpose(1, 2, 0)).reshape(3, S * A).astype(np.int64))
    p = [np.full(S * A, 1.0 - slip), np.full(S * A, slip / 2), np.full(S * A, slip / 2)]
    dead = np.repeat(terminal, A)
    own = np.repeat(np.arange(S), A)[dead]
    for i, value in enumerate((1.0, 0.0, 0.0)):
        c[i][dead], p[i][dead] = own, value
    for i, j in ((0, 1), (1, 2), (0, 1)):  # sort the three entries of each row by column
        swap = c[i] > c[j]
        c[i], c[j] = np.where(swap, c[j], c[i]), np.where(swap, c[i], c[j])
        p[i], p[j] = np.where(swap, p[j], p[i]), np.where(swap, p[i], p[j])
    keep = [p[0] > 0, p[1] > 0, p[2] > 0]
    for i, j in ((1, 2), (0, 1)):  # merge equal columns right to left, so triples collapse into entry 0
        dup = (c[i] == c[j]) & keep[j]
        p[i] = np.where(dup, p[i] + p[j], p[i])
        keep[j] = keep[j] & ~dup
        keep[i] = keep[i] | dup
    keep = np.stack([keep[i] & (p[i] > 0) for i in range(3)], axis=1).reshape(-1)
    indptr = np.zeros(S * A + 1, dtype=np.int64)
    np.cumsum(keep.reshape(-1, 3).sum(axis=1), out=indptr[1:])
    take = np.flatnonzero(keep)
    data = np.stack(p, axis=1).reshape(-1).take(take)
    indices = np.stack(c, axis=1).reshape(-1).take(take)
    R = np.add.reduceat(data * entry[indices], indptr[:-1])
    R[dead] = 0.0
    dt = _index_dtype(max(S, int(indptr[-1])))
    return indptr.astype(dt), indices.astype(dt), data, R


def _numba_rows(move, slip, terminal, entry):
    global _KERNEL
    if _KERNEL is None:
        import numba

        @numba.njit(cache=True, nogil=True)
        def kernel(move, slip, terminal, entry, indptr, indices, data, R):  # pragma: no cover - compiled
            S = move.shape[1]
            cs = np.empty(3, np.int64)
            ps = np.empty(3)
            pos = 0
            for s in range(S):
                for a in range(4):
                    row = 4 * s + a
                    if terminal[s]:
                        indices[pos] = s
                        data[pos] = 1.0
                        pos += 1
                        R[row] = 0.0
                        indptr[row + 1] = pos
                        continue
                    cs[0], cs[1], cs[2] = move[a, s], move[(a + 1) % 4, s], move[(a + 3) % 4, s]
                    ps[0], ps[1], ps[2] = 1.0 - slip, slip / 2, slip / 2
                    for i, j in ((0, 1), (1, 2), (0, 1)):
                        if cs[i] > cs[j]:
                            cs[i], cs[j] = cs[j], cs[i]
                            ps[i], ps[j] = ps[j], ps[i]
                    r = 0.0
                    start = pos
                    for k in range(3):
                        if ps[k] <= 0.0:
                            continue
                        if pos > start and indices[pos - 1] == cs[k]:
                            data[pos - 1] += ps[k]
                        else:
                            indices[pos] = cs[k]
                            data[pos] = ps[k]
                            pos += 1
                        r += ps[k] * entry[cs[k]]
                    R[row] = r
                    indptr[row + 1] = pos
            return pos

        _KERNEL = kernel
    S = move.shape[1]
    dt = _index_dtype(12 * S)
    indptr = np.zeros(4 * S + 1, dtype=dt)
    indices = np.empty(12 * S, dtype=dt)
    data = np.empty(12 * S)
    R = np.empty(4 * S)
    n = _KERNEL(move, slip, terminal, entry.astype(np.float64), indptr, indices, data, R)
    return indptr, indices[:n], data[:n], R
