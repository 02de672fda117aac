"""The numbers the compiled solver kernels (``agents.kernels``) and their Python drivers
(``agents.gauss_seidel``, ``agents.topological``) share.

They live in a module of their own, which imports nothing, so that the kernels and the drivers
both read them without importing each other (the kernels import numba, which ``import agents``
does not pay for). The algorithms they tune are documented in ``agents.topological``.
"""

from __future__ import annotations

__all__ = ["TINY", "POLICY_STOP", "CLOSED_M", "TREE_PI_CAP", "BLOCK_MIN", "MAX_BLOCKS"]

# values below this are stored as 0, far below any certified bound: gamma^d far from a reward would
# otherwise become a subnormal float, whose arithmetic is ~100x slower on x86 (agents.topological)
TINY = 1e-200
# policy sweeps stop once one changes V by at most this fraction of the last Bellman sweep's change
POLICY_STOP = 0.1
# a closed class makes min(m, CLOSED_M) policy sweeps an iteration, so consecutive ones shrink alike (Aitken)
CLOSED_M = 16
# policy iterations on a tree component before Gauss-Seidel sweeps take over (policy iteration
# needs a handful: see agents.topological's module doc)
TREE_PI_CAP = 100
# a component is swept in parallel blocks (one per thread) of at least this many states
BLOCK_MIN = 20_000
# the most blocks (threads) a sweep is cut into by default: up to 4 the work is within 2% of one
# block's at 10^6 states, with 8 up to 12% more (BENCHMARKS.md)
MAX_BLOCKS = 8
