r"""Exact dynamic programming on a ``TabularMDP``, with certified error bounds.

Every solver returns a :class:`Solution` whose ``error_bound`` is a certified bound on
:math:`\lVert V - V^* \rVert_\infty`. For :math:`\gamma < 1` it follows from the Bellman residual
:math:`r = \lVert T V - V \rVert_\infty`:

.. math:: \lVert V - V^* \rVert_\infty \le \frac{r}{1 - \gamma}

since :math:`T` is a :math:`\gamma`-contraction. For :math:`\gamma = 1` (stochastic shortest path)
the bound is :math:`r \cdot \max_s \mathbb{E}_\mu[\text{steps to termination from } s]` for the greedy
policy :math:`\mu`, which must terminate; solvers that cannot reach that say so with a ``ValueError``.

Terminal states are absorbing with value 0. All solvers are vectorised sparse products over the
``(S*A, S)`` transition matrix: no Python loop over states.

References:
    Puterman, *Markov Decision Processes* (1994), chapters 6 (discounted) and 7 (SSP).
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp
import scipy.sparse.csgraph as csgraph
import scipy.sparse.linalg as spla

from envs.mdp import TabularMDP

__all__ = [
    "Solution",
    "bellman_backup",
    "bellman_residual",
    "greedy_policy",
    "value_iteration",
    "policy_evaluation",
    "policy_iteration",
    "modified_policy_iteration",
    "gauss_seidel_value_iteration",
    "solve",
    "certify",
]

TIE_TOL = 1e-9  # relative margin an action must win by to replace the current one


@dataclass
class Solution:
    """The result of a solver.

    Attributes:
        V: ``(S,)`` state values.
        Q: ``(S, A)`` action values :math:`Q(s,a) = R(s,a) + \\gamma \\sum_{s'} P(s'|s,a) V(s')`.
        policy: ``(S,)`` greedy actions.
        iterations: outer iterations the method ran.
        residual: Bellman residual :math:`\\lVert T V - V \\rVert_\\infty` of ``V``.
        error_bound: certified bound on :math:`\\lVert V - V^* \\rVert_\\infty`.
        method: the method's name.
        gamma: the discount used.
        converged: False when an iteration cap stopped the method before ``tol``.
        sweeps: Bellman sweeps over all (s, a) pairs (policy sweeps count 1/A, linear solves not at all).
        seconds: wall time.
    """

    V: np.ndarray
    Q: np.ndarray
    policy: np.ndarray
    iterations: int
    residual: float
    error_bound: float
    method: str
    gamma: float
    converged: bool = True
    sweeps: float = 0.0
    seconds: float = 0.0
    info: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "gamma": self.gamma,
            "iterations": self.iterations,
            "residual": self.residual,
            "error_bound": self.error_bound,
            "converged": self.converged,
            "sweeps": self.sweeps,
            "seconds": self.seconds,
            "V": self.V.tolist(),
            "policy": self.policy.tolist(),
        }


# ---------------------------------------------------------------------- building blocks
def _gamma(mdp: TabularMDP, gamma: float | None) -> float:
    g = mdp.gamma if gamma is None else float(gamma)
    if not 0.0 < g <= 1.0:
        raise ValueError(f"gamma must be in (0, 1], got {gamma}")
    return g


def bellman_backup(mdp: TabularMDP, V: np.ndarray, gamma: float | None = None) -> np.ndarray:
    r"""Action values of V: :math:`Q(s,a) = R(s,a) + \gamma \sum_{s'} P(s'|s,a) V(s')`, 0 at terminals.

    Example:
        >>> from envs import GridWorldEnv
        >>> mdp = GridWorldEnv("S.G").mdp
        >>> bellman_backup(mdp, np.zeros(3), 0.9)[1].tolist()
        [0.0, 1.0, 0.0, 0.0]
    """
    g = _gamma(mdp, gamma)
    Q = mdp.R + g * (mdp.P @ V).reshape(mdp.n_states, mdp.n_actions)
    Q[mdp.terminal] = 0.0
    return Q


def greedy_policy(Q: np.ndarray, current: np.ndarray | None = None, tol: float = TIE_TOL) -> np.ndarray:
    """Greedy actions of Q; with ``current``, a state keeps its action unless another beats it by more than tol.

    The margin is relative to ``max(1, max|Q|)``. Keeping the current action on ties is what
    stops policy iteration cycling between equally good policies.
    """
    best = np.argmax(Q, axis=1)
    if current is None:
        return best
    S = Q.shape[0]
    margin = tol * max(1.0, float(np.max(np.abs(Q))) if Q.size else 1.0)
    keep = Q[np.arange(S), best] <= Q[np.arange(S), current] + margin
    return np.where(keep, current, best)


def bellman_residual(mdp: TabularMDP, V: np.ndarray, gamma: float | None = None) -> float:
    r""":math:`\lVert T V - V \rVert_\infty` over all states."""
    return float(np.max(np.abs(bellman_backup(mdp, V, gamma).max(axis=1) - V)))


def _never_terminating(mdp: TabularMDP, P_pi: sp.csr_matrix) -> np.ndarray:
    """Live states from which the chain P_pi never reaches a terminal state."""
    S = mdp.n_states
    if not mdp.terminal.any():
        return mdp.live
    # reversed graph plus a virtual source S pointing at every terminal; BFS finds all that can terminate
    coo = P_pi.tocoo()
    mask = coo.data > 0
    term = np.flatnonzero(mdp.terminal)
    rows = np.concatenate([coo.col[mask], np.full(term.size, S)])
    cols = np.concatenate([coo.row[mask], term])
    G = sp.csr_matrix((np.ones(rows.size), (rows, cols)), shape=(S + 1, S + 1))
    reached = np.zeros(S + 1, bool)
    reached[csgraph.breadth_first_order(G, S, directed=True, return_predecessors=False)] = True
    return np.flatnonzero(~reached[:S] & ~mdp.terminal)


def _linear_solve(A: sp.spmatrix, b: np.ndarray) -> np.ndarray:
    return np.asarray(spla.spsolve(A.tocsc(), b)).reshape(-1)


def policy_evaluation(mdp: TabularMDP, policy: np.ndarray, gamma: float | None = None) -> np.ndarray:
    r"""Exact value of a policy: solves :math:`(I - \gamma P_\pi) V = r_\pi` on the live states.

    Arguments:
        mdp: the model.
        policy: deterministic ``(S,)`` actions or stochastic ``(S, A)`` probabilities.
        gamma: discount in (0, 1]; defaults to ``mdp.gamma``. At ``gamma = 1`` every live state must
            reach a terminal state under the policy, else ``ValueError`` names one that does not.

    Returns:
        ``(S,)`` array :math:`V^\pi`, 0 at terminal states.

    Example:
        >>> from envs import GridWorldEnv
        >>> mdp = GridWorldEnv("S.G").mdp
        >>> policy_evaluation(mdp, np.array([1, 1, 0]), 0.9).round(3).tolist()
        [0.9, 1.0, 0.0]
    """
    g = _gamma(mdp, gamma)
    P_pi, r_pi = mdp.policy_matrix(policy)
    if g == 1.0:
        stuck = _never_terminating(mdp, P_pi)
        if stuck.size:
            raise ValueError(
                f"at gamma = 1 the policy never terminates from state {stuck[0]} "
                f"({stuck.size} such states); its value is undefined - use gamma < 1 or a policy that terminates"
            )
    live = mdp.live
    V = np.zeros(mdp.n_states)
    if live.size:
        A = sp.identity(live.size, format="csr") - g * P_pi[live][:, live]
        V[live] = _linear_solve(A, r_pi[live])
    return V


def _expected_steps(mdp: TabularMDP, policy: np.ndarray) -> float:
    """max_s E[steps to termination] under a deterministic policy (inf if it may never terminate)."""
    P_pi, _ = mdp.policy_matrix(policy)
    if _never_terminating(mdp, P_pi).size:
        return float("inf")
    live = mdp.live
    if not live.size:
        return 0.0
    A = sp.identity(live.size, format="csr") - P_pi[live][:, live]
    return float(np.max(_linear_solve(A, np.ones(live.size))))


def certify(mdp: TabularMDP, V: np.ndarray, gamma: float | None = None) -> tuple[np.ndarray, float, float]:
    """Q of V, the Bellman residual of V and the certified bound on ||V - V*||_inf (see module doc)."""
    g = _gamma(mdp, gamma)
    Q = bellman_backup(mdp, V, g)
    residual = float(np.max(np.abs(Q.max(axis=1) - V))) if V.size else 0.0
    if g < 1.0:
        return Q, residual, residual / (1.0 - g)
    if residual == 0.0:
        return Q, residual, 0.0
    return Q, residual, residual * _expected_steps(mdp, np.argmax(Q, axis=1))


def _finish(mdp, V, g, method, it, converged, sweeps, t0, tol, prior_bound=np.inf, policy=None, **info) -> Solution:
    Q, residual, bound = certify(mdp, V, g)
    # floating-point rounding of the residual itself: a few ulps of |V|, amplified like the residual
    rounding = 8 * np.finfo(np.float64).eps * max(1.0, float(np.max(np.abs(V))) if V.size else 1.0)
    bound = float(min(bound, prior_bound) + (rounding / (1.0 - g) if g < 1.0 else 0.0))
    if not converged:
        warnings.warn(
            f"{method} stopped at its iteration cap ({it} iterations) with error bound {bound:.3g} > tol {tol:g}",
            RuntimeWarning,
            stacklevel=3,
        )
    pol = greedy_policy(Q, policy) if policy is not None else np.argmax(Q, axis=1)
    return Solution(V, Q, pol, it, residual, bound, method, g, converged, sweeps + 1, time.perf_counter() - t0, info)


# ---------------------------------------------------------------------- solvers
def value_iteration(
    mdp: TabularMDP, gamma: float | None = None, tol: float = 1e-8, max_iter: int | None = None
) -> Solution:
    r"""Value iteration :math:`V_{k+1} = \max_a [R + \gamma P V_k]` until the certified bound is below tol.

    For :math:`\gamma < 1` it stops when :math:`\frac{\gamma}{1-\gamma}\lVert V_{k+1} - V_k\rVert_\infty \le`
    ``tol``, which bounds :math:`\lVert V_{k+1} - V^*\rVert_\infty`.

    Arguments:
        mdp: the model.
        gamma: discount in (0, 1]; defaults to ``mdp.gamma``.
        tol: target bound on :math:`\lVert V - V^* \rVert_\infty`.
        max_iter: optional cap; reaching it warns and returns ``converged=False``. No cap by default.

    Example:
        >>> from envs import GridWorldEnv
        >>> sol = value_iteration(GridWorldEnv("S.G").mdp, 0.9, tol=1e-10)
        >>> round(float(sol.V[0]), 6), bool(sol.error_bound <= 1e-10)
        (0.9, True)
    """
    g = _gamma(mdp, gamma)
    t0 = time.perf_counter()
    V = np.zeros(mdp.n_states)
    it = 0
    bound = np.inf
    while True:
        Q = bellman_backup(mdp, V, g)
        V_new = Q.max(axis=1)
        delta = float(np.max(np.abs(V_new - V))) if V.size else 0.0
        V = V_new
        it += 1
        if g < 1.0:
            bound = g * delta / (1.0 - g)
            if bound <= tol:
                return _finish(mdp, V, g, "value_iteration", it, True, it, t0, tol, bound)
        elif delta <= tol * 1e-3:
            sol = _finish(mdp, V, g, "value_iteration", it, True, it, t0, tol)
            if sol.error_bound <= tol or delta == 0.0:
                return sol
        if max_iter is not None and it >= max_iter:
            return _finish(mdp, V, g, "value_iteration", it, False, it, t0, tol, bound)


def _proper_policy(mdp: TabularMDP) -> np.ndarray:
    """A policy that terminates from every state that can terminate (for gamma = 1 starts).

    Each state takes an action with positive probability of stepping one layer closer to a
    terminal state in the breadth-first layering of the 'some action reaches' graph.
    """
    S, A = mdp.n_states, mdp.n_actions
    coo = mdp.P.tocoo()
    src = coo.row // A
    G = sp.csr_matrix((np.ones(coo.nnz), (coo.col, src)), shape=(S, S))  # reversed edges
    term = np.flatnonzero(mdp.terminal)
    if not term.size:
        raise ValueError("at gamma = 1 the MDP needs terminal states; it has none - use gamma < 1")
    dist = csgraph.shortest_path(G, unweighted=True, indices=term, directed=True).min(axis=0)
    unreachable = np.flatnonzero(np.isinf(dist) & ~mdp.terminal)
    if unreachable.size:
        raise ValueError(
            f"at gamma = 1 state {unreachable[0]} can never reach a terminal state "
            f"({unreachable.size} such states); its value is undefined - use gamma < 1"
        )
    # for each (s, a): does it reach a state with dist < dist[s] with positive probability?
    good = np.zeros(S * A, bool)
    np.logical_or.at(good, coo.row, (dist[coo.col] < dist[src]) & (coo.data > 0))
    good = good.reshape(S, A)
    good[mdp.terminal] = True
    return np.argmax(good, axis=1)


def policy_iteration(
    mdp: TabularMDP,
    gamma: float | None = None,
    max_iter: int | None = None,
    policy: np.ndarray | None = None,
) -> Solution:
    r"""Howard's policy iteration: exact evaluation, then greedy improvement, until the policy is stable.

    Evaluation is a sparse linear solve of :math:`(I - \gamma P_\pi) V = r_\pi`. Improvement keeps a
    state's action unless another is better by more than a relative ``TIE_TOL``, so ties cannot
    make it cycle. At :math:`\gamma = 1` it starts from a policy that terminates and raises
    ``ValueError`` if improvement would lead to one that does not.

    Arguments:
        mdp: the model.
        gamma: discount in (0, 1]; defaults to ``mdp.gamma``.
        max_iter: optional cap on improvement steps (warns when reached).
        policy: optional starting policy ``(S,)``.

    Example:
        >>> from envs import GridWorldEnv
        >>> policy_iteration(GridWorldEnv("S.G").mdp, 0.9).policy[:2].tolist()
        [1, 1]
    """
    g = _gamma(mdp, gamma)
    t0 = time.perf_counter()
    if policy is None:
        policy = _proper_policy(mdp) if g == 1.0 else np.argmax(mdp.R, axis=1)
    policy = np.asarray(policy, dtype=np.int64)
    it = 0
    while True:
        V = policy_evaluation(mdp, policy, g)
        Q = bellman_backup(mdp, V, g)
        new = greedy_policy(Q, policy)
        it += 1
        if np.array_equal(new, policy):
            return _finish(mdp, V, g, "policy_iteration", it, True, it, t0, 0.0, policy=policy)
        policy = new
        if max_iter is not None and it >= max_iter:
            V = policy_evaluation(mdp, policy, g)
            return _finish(mdp, V, g, "policy_iteration", it, False, it, t0, 0.0, policy=policy)


def modified_policy_iteration(
    mdp: TabularMDP,
    gamma: float | None = None,
    tol: float = 1e-8,
    m: int = 20,
    max_iter: int | None = None,
) -> Solution:
    r"""Modified policy iteration (Puterman & Shin 1978): greedy step, then m partial evaluation sweeps.

    Each iteration computes :math:`Q = T V`, takes the greedy policy :math:`\pi`, then applies
    :math:`T_\pi` ``m`` times. It stops when the certified bound of V is at most ``tol``.

    Arguments:
        mdp: the model.
        gamma: discount in (0, 1]; defaults to ``mdp.gamma``.
        tol: target bound on :math:`\lVert V - V^* \rVert_\infty`.
        m: partial evaluation sweeps per iteration (m = 0 is value iteration).
        max_iter: optional cap (warns when reached).
    """
    g = _gamma(mdp, gamma)
    if m < 0:
        raise ValueError(f"m must be >= 0, got {m}")
    t0 = time.perf_counter()
    S, A = mdp.n_states, mdp.n_actions
    V = np.zeros(S)
    policy = None
    it, sweeps = 0, 0.0
    live = ~mdp.terminal
    while True:
        Q = bellman_backup(mdp, V, g)
        sweeps += 1
        policy = greedy_policy(Q, policy)
        TV = Q.max(axis=1)
        residual = float(np.max(np.abs(TV - V))) if S else 0.0
        it += 1
        if g < 1.0:
            if residual / (1.0 - g) <= tol:
                return _finish(mdp, V, g, "modified_policy_iteration", it, True, sweeps, t0, tol, policy=policy)
        elif residual <= tol * 1e-3:
            sol = _finish(mdp, V, g, "modified_policy_iteration", it, True, sweeps, t0, tol, policy=policy)
            if sol.error_bound <= tol or residual == 0.0:
                return sol
        if max_iter is not None and it >= max_iter:
            return _finish(mdp, V, g, "modified_policy_iteration", it, False, sweeps, t0, tol, policy=policy)
        P_pi, r_pi = mdp.policy_matrix(policy)
        V = TV
        for _ in range(m):
            V = np.where(live, r_pi + g * (P_pi @ V), 0.0)
        sweeps += m / A


def gauss_seidel_value_iteration(
    mdp: TabularMDP,
    gamma: float | None = None,
    tol: float = 1e-8,
    m: int = 16,
    max_iter: int | None = None,
) -> Solution:
    r"""Gauss-Seidel modified policy iteration (numba kernels, see ``agents.gauss_seidel``).

    Each iteration is one in-place Gauss-Seidel Bellman sweep (which also records the greedy
    policy), then ``m`` in-place Gauss-Seidel sweeps of that policy's operator :math:`T_\pi`
    (a quarter of the work each on four actions) in the same direction. Iterations alternate
    between descending and ascending state order, so values flow across the grid both ways. A Gauss-Seidel
    Bellman sweep is a :math:`\gamma`-contraction with fixed point :math:`V^*` whatever V it
    starts from, so a sweep that changed V by :math:`\delta` certifies
    :math:`\lVert V - V^* \rVert_\infty \le \gamma\delta / (1 - \gamma)`; it stops there and
    confirms with one float64 Jacobi Bellman sweep.

    Arguments:
        mdp: the model.
        gamma: discount in (0, 1); defaults to ``mdp.gamma``. For gamma = 1 use policy iteration.
        tol: target bound on :math:`\lVert V - V^* \rVert_\infty`.
        m: policy sweeps per iteration (0: Gauss-Seidel value iteration). Default 16, measured
            best on slippery rooms of 10^4-10^6 states (BENCHMARKS.md).
        max_iter: optional cap on iterations (warns when reached).

    Example:
        >>> from envs import GridWorldEnv
        >>> sol = gauss_seidel_value_iteration(GridWorldEnv("S..G", slip=0.2).mdp, 0.9, tol=1e-9)
        >>> bool(sol.error_bound <= 1e-9)
        True
    """
    from agents.gauss_seidel import gs_policy_sweep, gs_sweep

    g = _gamma(mdp, gamma)
    if g == 1.0:
        raise ValueError("gauss_seidel_value_iteration needs gamma < 1; use policy_iteration at gamma = 1")
    if m < 0:
        raise ValueError(f"m must be >= 0, got {m}")
    t0 = time.perf_counter()
    V = np.zeros(mdp.n_states)
    policy = np.zeros(mdp.n_states, dtype=np.int64)
    ascending = mdp.live.astype(np.int64)
    orders = (ascending[::-1].copy(), ascending)
    it, sweeps = 0, 0.0
    while True:
        delta = gs_sweep(mdp, V, g, orders[it % 2], policy)
        it += 1
        sweeps += 1
        bound = g * delta / (1.0 - g)
        if bound <= tol:
            return _finish(mdp, V, g, "gauss_seidel_value_iteration", it, True, sweeps, t0, tol, bound)
        if max_iter is not None and it >= max_iter:
            return _finish(mdp, V, g, "gauss_seidel_value_iteration", it, False, sweeps, t0, tol, bound)
        for _ in range(m):  # in the direction of the Bellman sweep just made (measured: fewer sweeps than alternating)
            gs_policy_sweep(mdp, V, g, orders[(it - 1) % 2], policy)
        sweeps += m / mdp.n_actions


METHODS = {"vi": value_iteration, "pi": policy_iteration, "mpi": modified_policy_iteration,
           "gs": gauss_seidel_value_iteration}


def solve(
    mdp: TabularMDP,
    gamma: float | None = None,
    tol: float = 1e-6,
    method: str = "auto",
    backend: str = "numpy",
    device: str | None = None,
) -> Solution:
    """Solve an MDP exactly to a certified ``error_bound <= tol``.

    ``method="auto"`` picks, by the measurements of ``benchmarks/solvers.py`` (BENCHMARKS.md):

    - gamma = 1: policy iteration (exact sparse linear solves), where contraction bounds do not apply;
    - fewer than 10,000 states while the Gauss-Seidel kernels are not loaded yet: plain value
      iteration, which finishes in milliseconds there, sooner than numba loads the kernels (about
      0.3 s, once per process);
    - otherwise Gauss-Seidel modified policy iteration (``"gs"``): a Gauss-Seidel sweep carries
      values across the grid and costs about half a plain Bellman sweep, where policy
      iteration's iteration count grows with the grid's diameter (121 sparse direct solves on a
      100 x 100 slippery room) and plain value iteration needs thousands of sweeps at gamma = 0.99.

    Arguments:
        mdp: the model.
        gamma: discount in (0, 1]; defaults to ``mdp.gamma``.
        tol: target bound on ``|V - V*|``.
        method: ``"auto"``, ``"vi"``, ``"pi"``, ``"mpi"`` or ``"gs"``.
        backend: ``"numpy"``, or ``"torch"`` for value iteration as torch sparse products on
            ``device`` (``"cuda"`` for a GPU; default ``"cuda"`` when available, else ``"cpu"``),
            certified in float64 on the host. Importing torch happens only for this backend.

    Example:
        >>> from envs import GridWorldEnv
        >>> sol = solve(GridWorldEnv("S.G").mdp, 0.9)
        >>> sol.error_bound <= 1e-6
        True
    """
    g = _gamma(mdp, gamma)
    if backend == "torch":
        if method not in ("auto", "vi"):
            raise ValueError(f"the torch backend runs value iteration; method must be 'auto' or 'vi', got {method!r}")
        import torch

        from agents.dp_torch import value_iteration_torch

        dev = device or ("cuda" if torch.cuda.is_available() else "cpu")
        return value_iteration_torch(mdp, g, tol=tol, device=dev)
    if backend != "numpy":
        raise ValueError(f"backend must be 'numpy' or 'torch', got {backend!r}")
    if method == "auto":
        from agents import gauss_seidel

        small_and_cold = mdp.n_states < 10_000 and not gauss_seidel.kernels_loaded()
        method = "pi" if g == 1.0 else "vi" if small_and_cold else "gs"
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; expected one of 'auto', {', '.join(map(repr, METHODS))}")
    if method == "pi":
        return policy_iteration(mdp, gamma)
    return METHODS[method](mdp, gamma, tol=tol)
