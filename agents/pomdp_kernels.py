"""The certified POMDP solver's inner loop, compiled (numba): the sawtooth upper bound at many beliefs.

It lives apart from :mod:`agents.pomdp` so that importing the solver does not compile anything;
numba caches the compiled kernel next to this file.
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["sawtooth"]


@njit(cache=True)  # serial: a call scores the A x Z successors of one belief, too few rows to share out
def sawtooth(B: np.ndarray, base: np.ndarray, ptr: np.ndarray, idx: np.ndarray, inv: np.ndarray, drop: np.ndarray,
             out: np.ndarray) -> None:  # pragma: no cover (compiled; tested through agents.pomdp.solve)
    r"""``out[r] = min(base[r], min_k base[r] + drop[k] * min_{s in supp(b_k)} B[r, s] / b_k(s))``.

    Point ``k``'s support and :math:`1 / b_k(s)` there are ``idx[ptr[k]:ptr[k+1]]`` and
    ``inv[ptr[k]:ptr[k+1]]`` (CSR); ``drop[k] <= 0`` is how far its value lies below the corners'
    interpolation. A ratio of 0 (the belief is 0 somewhere on the point's support) ends that
    point's scan: it cannot lower the bound.
    """
    n = B.shape[0]
    K = ptr.shape[0] - 1
    for r in range(n):
        best = base[r]
        for k in range(K):
            ratio = np.inf
            for j in range(ptr[k], ptr[k + 1]):
                x = B[r, idx[j]] * inv[j]
                if x < ratio:
                    ratio = x
                    if ratio == 0.0:
                        break
            v = base[r] + drop[k] * ratio
            if v < best:
                best = v
        out[r] = best
