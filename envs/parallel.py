"""numba's parallel kernels without OpenMP, so that they leave torch's thread count alone.

On Linux numba's default threading layer is OpenMP, and every parallel region it launches sets
OpenMP's thread count to numba's (all cores). torch reads the same setting: after
``torch.set_num_threads(1)``, one belief filter or one solve put torch back on every core, and
small networks trained next to it ran many times slower (the sequence notebook's quick run: 15 s
as a script, 231 s in a kernel, its RSSM scored after a filter). gridlab's parallel kernels
(:mod:`envs.belief_kernel`, :mod:`agents.kernels`) therefore ask numba for its own work-queue
layer, which uses no OpenMP, as fast on these kernels (a 490,000-state solve took 1.64-1.65 s
against 1.65-1.71 s with OpenMP).

This sets ``numba.config.THREADING_LAYER``, which is process-wide, so only where nothing else
decided it: not when ``NUMBA_THREADING_LAYER`` names a layer, and not once numba has started its
threads (then the layer is fixed and its choice stands). The work-queue layer does not let two
threads run parallel kernels at the same time (numba stops the process); gridlab never does. A
program that solves or filters from several threads at once sets ``NUMBA_THREADING_LAYER=tbb``
(with the ``tbb`` package) or ``omp``, and with ``omp`` sets torch's thread count again after
each solve.

Example:
    >>> from envs.parallel import prefer_workqueue
    >>> prefer_workqueue() in ("workqueue", "omp", "tbb", "default", "safe", "threadsafe", "forksafe")
    True
"""

from __future__ import annotations

import os

__all__ = ["prefer_workqueue"]


def prefer_workqueue() -> str:
    """Ask numba for the work-queue layer unless the layer is already chosen; return the layer
    numba will use (or, once started, uses)."""
    import numba
    from numba.np.ufunc import parallel

    if parallel._is_initialized:
        return numba.threading_layer()
    if not os.environ.get("NUMBA_THREADING_LAYER") and numba.config.THREADING_LAYER == "default":
        numba.config.THREADING_LAYER = "workqueue"
    return numba.config.THREADING_LAYER
