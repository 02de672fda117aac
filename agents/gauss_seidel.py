r"""Gauss-Seidel value iteration in a value-ordered sweep (numba kernel).

A Gauss-Seidel sweep updates :math:`V(s) \leftarrow \max_a [R(s,a) + \gamma \sum_{s'} P(s'|s,a) V(s')]`
state by state *in place*, so a state already sees the new values of the states swept before
it. Like the Jacobi Bellman operator it is a :math:`\gamma`-contraction with fixed point
:math:`V^*`, whatever the order, so after a sweep that changed V by :math:`\delta`

.. math:: \lVert V_{k+1} - V^* \rVert_\infty \le \frac{\gamma\, \delta}{1 - \gamma}.

The order decides the speed: a sweep carries values all the way across the grid in the
direction it runs, so sweeps alternate between descending and ascending state order. The
kernels read the CSR arrays sequentially and fuse the max over actions, so one Gauss-Seidel
sweep costs about half a scipy CSR Bellman sweep (measured in ``benchmarks/solver_sizes.py``).

References:
    Bertsekas & Tsitsiklis, *Parallel and Distributed Computation* (1989), 2.6 (Gauss-Seidel);
    Dai & Hansen, "Prioritizing Bellman backups without a priority queue", ICAPS 2007.
"""

from __future__ import annotations

import numpy as np

from agents.solver_constants import TINY  # noqa: F401  (agents.gauss_seidel.TINY, as documented)
from envs.mdp import TabularMDP

__all__ = ["gs_sweep", "gs_policy_sweep", "kernels_loaded", "load_kernels"]

_KERNEL = None


def _kernel():
    global _KERNEL
    if _KERNEL is None:
        from agents import kernels  # imports numba: only when a kernel first runs

        _KERNEL = (kernels.sweep, kernels.policy_sweep, kernels.backup)
    return _KERNEL


def load_kernels() -> float:
    """Compile (or load from numba's disk cache) the kernels now; returns the seconds it took."""
    import time

    t = time.perf_counter()
    sweep, policy_sweep, _ = _kernel()
    # numba compiles on the first call with concrete types: make that call on a 1-state model
    args = (np.array([0, 1], np.int32), np.array([0], np.int32), np.array([1.0]), np.zeros(1), np.array([0], np.int64),
            np.zeros(1), 0.5, 1, np.zeros(1, np.int64))
    sweep(*args)
    policy_sweep(*args)
    return time.perf_counter() - t


def kernels_loaded() -> bool:
    """Whether the numba kernels are compiled or loaded in this process already."""
    return _KERNEL is not None


def gs_sweep(mdp: TabularMDP, V: np.ndarray, gamma: float, order: np.ndarray, policy: np.ndarray) -> float:
    """One in-place Gauss-Seidel Bellman sweep over the states in ``order``; returns ``max |change|``.

    The greedy action of each swept state is written into ``policy``.
    """
    P = mdp.P
    R = np.ascontiguousarray(mdp.R.reshape(-1))
    return float(_kernel()[0](P.indptr, P.indices, P.data, R, order, V, float(gamma), mdp.n_actions, policy))


def gs_policy_sweep(mdp: TabularMDP, V: np.ndarray, gamma: float, order: np.ndarray, policy: np.ndarray) -> None:
    """One in-place Gauss-Seidel sweep of the policy's Bellman operator T_pi (1/A of a full sweep's work)."""
    P = mdp.P
    R = np.ascontiguousarray(mdp.R.reshape(-1))
    _kernel()[1](P.indptr, P.indices, P.data, R, order, V, float(gamma), mdp.n_actions, policy)
