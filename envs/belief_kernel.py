"""The forward algorithm's inner loop, compiled (numba): one belief update per sequence and step.

It lives apart from ``envs.pomdp`` so that ``import envs`` does not import numba; the filter
imports it when it first runs. numba caches the compiled kernel next to this file.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from envs.parallel import prefer_workqueue

__all__ = ["forward"]

prefer_workqueue()  # numba's OpenMP layer would reset torch's thread count (envs.parallel)


@njit(parallel=True, cache=True)
def forward(indptr: np.ndarray, indices: np.ndarray, data: np.ndarray, Oz: np.ndarray, acts: np.ndarray,
            obs: np.ndarray, B0: np.ndarray, beliefs: np.ndarray, keep_all: bool, log_prob: np.ndarray,
            impossible_at: np.ndarray) -> None:  # pragma: no cover (compiled; tested through TabularPOMDP.filter)
    """Filter ``N`` sequences in place.

    ``indptr, indices, data``: the CSR of every action's :math:`T_a^\\top` stacked, row ``a*S + s'``
    holding :math:`T(s' \\mid s, a)` at column ``s``; ``Oz[a, o, s']`` the emissions. ``beliefs`` is
    ``(N, T + 1, S)`` (``keep_all``) or ``(N, 1, S)`` for the last belief; ``log_prob`` and
    ``impossible_at`` are ``(N,)`` zeros on entry.
    """
    N, steps = acts.shape
    S = B0.shape[1]
    for n in prange(N):
        b = B0[n].copy()
        nb = np.empty(S)
        for t in range(steps):
            a, o = acts[n, t], obs[n, t]
            total = 0.0
            for s2 in range(S):
                acc = 0.0
                row = a * S + s2
                for j in range(indptr[row], indptr[row + 1]):
                    acc += data[j] * b[indices[j]]
                acc *= Oz[a, o, s2]
                nb[s2] = acc
                total += acc
            if total <= 0.0:
                impossible_at[n] = t + 1
                log_prob[n] = -np.inf
                if keep_all:
                    for k in range(t + 1, steps + 1):
                        beliefs[n, k] = b
                break
            log_prob[n] += np.log(total)
            for s2 in range(S):
                b[s2] = nb[s2] / total
            if keep_all:
                beliefs[n, t + 1] = b
        if not keep_all:
            beliefs[n, 0] = b
