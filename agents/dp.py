r"""Exact dynamic programming on a ``TabularMDP``, with certified error bounds.

Every solver returns a :class:`Solution` whose ``error_bound`` is a certified bound on
:math:`\lVert V - V^* \rVert_\infty`. For :math:`\gamma < 1` it follows from the Bellman residual
:math:`r = \lVert T V - V \rVert_\infty`:

.. math:: \lVert V - V^* \rVert_\infty \le \frac{r}{1 - \gamma}

since :math:`T` is a :math:`\gamma`-contraction. For :math:`\gamma = 1` (stochastic shortest path)
no residual certifies anything (T may have many fixed points); the bound comes from
:func:`agents.ssp.certify_ssp`: a verified lower bound (the exact value of a proper greedy policy)
and a verified super-solution above :math:`V^*`. Where no finite bound can be had the solution
says ``converged=False`` with a warning naming why; it never claims convergence with an infinite
bound. Staying forever in a set of states that pays exactly 0 is worth 0 (a wall to bump into);
a model where a policy can earn forever is refused at gamma = 1.

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
import scipy.sparse.linalg as spla

from agents.solvers import METHODS, load_method
from envs.resources import resolve_device
from agents.ssp import (SSPCertificate, certify_ssp, end_components, proper_greedy_policy, recurrent_classes,
                        unbounded_reason)
from envs.mdp import TabularMDP

__all__ = [
    "Solution",
    "bellman_backup",
    "bellman_residual",
    "greedy_policy",
    "value_iteration",
    "topological_value_iteration",
    "policy_evaluation",
    "backward_induction",
    "FiniteHorizonSolution",
    "policy_iteration",
    "modified_policy_iteration",
    "gauss_seidel_value_iteration",
    "solve",
    "certify",
    "certified_solution",
    "check_gamma",
    "check_tol",
]

TIE_TOL = 1e-12  # relative margin an action must win by to replace the current one (rounding, not model ties)


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
def check_gamma(mdp: TabularMDP, gamma: float | None) -> float:
    """The discount to solve with: ``gamma``, or the model's own when None; refuses one outside (0, 1]."""
    if not isinstance(mdp, TabularMDP):
        raise TypeError(f"mdp must be a TabularMDP, got {type(mdp).__name__}")
    g = mdp.gamma if gamma is None else float(gamma)
    if not 0.0 < g <= 1.0:  # also refuses nan
        raise ValueError(f"gamma must be in (0, 1], got {gamma}")
    return g


def check_tol(tol: float) -> float:
    """A certified-bound target: a finite number > 0 (a tol of 0 or below could never be met)."""
    t = float(tol)
    if not (np.isfinite(t) and t > 0.0):
        raise ValueError(f"tol must be a finite number > 0, got {tol}")
    return t


def bellman_backup(mdp: TabularMDP, V: np.ndarray, gamma: float | None = None) -> np.ndarray:
    r"""Action values of V: :math:`Q(s,a) = R(s,a) + \gamma \sum_{s'} P(s'|s,a) V(s')`, 0 at terminals.

    Example:
        >>> from envs import GridWorldEnv
        >>> mdp = GridWorldEnv("S.G").mdp
        >>> bellman_backup(mdp, np.zeros(3), 0.9)[1].tolist()
        [0.0, 1.0, 0.0, 0.0]
    """
    g = check_gamma(mdp, gamma)
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


def _linear_solve(A: sp.spmatrix, b: np.ndarray) -> np.ndarray:
    return np.asarray(spla.spsolve(A.tocsc(), b)).reshape(-1)


def policy_evaluation(
    mdp: TabularMDP, policy: np.ndarray, gamma: float | None = None, horizon: int | None = None
) -> np.ndarray:
    r"""Exact value of a policy: solves :math:`(I - \gamma P_\pi) V = r_\pi` on the live states.

    With ``horizon=H`` it is instead the value of an episode cut after H steps (what an env with
    ``max_episode_steps=H`` returns on average), by backward recursion:
    :math:`V_0 = 0,\ V_{k+1} = r_\pi + \gamma P_\pi V_k`, returning :math:`V_H`.

    Arguments:
        mdp: the model.
        policy: deterministic ``(S,)`` actions or stochastic ``(S, A)`` probabilities.
        gamma: discount in (0, 1]; defaults to ``mdp.gamma``. At ``gamma = 1`` the value is the
            expected total reward: a policy that loops forever among states paying exactly 0 is
            worth 0 there (a wall bumped into forever); one that loops forever through nonzero
            rewards has no finite value and ``ValueError`` names a state where it does.

        horizon: optional episode length H >= 0 (finite-horizon value); default infinite.

    Returns:
        ``(S,)`` array :math:`V^\pi`, 0 at terminal states.

    Example:
        >>> from envs import GridWorldEnv
        >>> mdp = GridWorldEnv("S.G").mdp
        >>> policy_evaluation(mdp, np.array([1, 1, 0]), 0.9).round(3).tolist()
        [0.9, 1.0, 0.0]
        >>> policy_evaluation(mdp, np.array([1, 1, 0]), 0.9, horizon=1).tolist()  # one step: only state 1 arrives
        [0.0, 1.0, 0.0]
    """
    g = check_gamma(mdp, gamma)
    P_pi, r_pi = mdp.policy_matrix(policy)
    if horizon is not None:
        H = _horizon(horizon)
        live = ~mdp.terminal
        V = np.zeros(mdp.n_states)
        for _ in range(H):
            V = np.where(live, r_pi + g * (P_pi @ V), 0.0)
        return V
    live = mdp.live
    if g == 1.0:
        forever = recurrent_classes(P_pi, ~mdp.terminal) >= 0
        paying = np.flatnonzero(forever & (r_pi != 0.0))
        if paying.size:
            raise ValueError(
                f"at gamma = 1 the policy loops forever through state {paying[0]}, which pays {r_pi[paying[0]]:g} "
                f"a step ({paying.size} such states); its total reward is infinite or undefined - use gamma < 1 "
                "or a policy that terminates"
            )
        live = np.flatnonzero(~mdp.terminal & ~forever)  # the looping states are worth 0
    V = np.zeros(mdp.n_states)
    if live.size:
        A = sp.identity(live.size, format="csr") - g * P_pi[live][:, live]
        V[live] = _linear_solve(A, r_pi[live])
    return V


def _horizon(horizon: int) -> int:
    if isinstance(horizon, bool) or not isinstance(horizon, (int, np.integer)) or horizon < 0:
        raise ValueError(f"horizon must be an integer >= 0, got {horizon!r}")
    return int(horizon)


@dataclass
class FiniteHorizonSolution:
    """Optimal values and (non-stationary) policy of episodes cut after ``horizon`` steps.

    Attributes:
        V: ``(S,)`` :math:`V^*_H`, the best expected return of an episode of at most H steps.
        policy: ``(H, S)`` actions; row k is the action to take with k + 1 steps left.
        horizon, gamma: the episode length and discount.
    """

    V: np.ndarray
    policy: np.ndarray
    horizon: int
    gamma: float


def backward_induction(mdp: TabularMDP, horizon: int, gamma: float | None = None) -> FiniteHorizonSolution:
    r"""Exact optimal values of episodes cut after H steps: :math:`V^*_0 = 0`,
    :math:`V^*_{k+1}(s) = \max_a [R(s,a) + \gamma \sum_{s'} P(s'|s,a) V^*_k(s')]`.

    This is what an env with ``max_episode_steps=H`` can return at best on average; the optimal
    policy depends on the steps left. Exact after H backups (no tolerance), at any gamma in (0, 1].

    Arguments:
        mdp: the model.
        horizon: episode length H >= 0.
        gamma: discount in (0, 1]; defaults to ``mdp.gamma``.

    Example:
        >>> from envs import GridWorldEnv
        >>> fh = backward_induction(GridWorldEnv("S..G").mdp, 2, 1.0)
        >>> fh.V.tolist(), int(fh.policy[0, 2])  # state 0 is 3 steps away; with 1 step left, 2 goes right
        ([0.0, 1.0, 1.0, 0.0], 1)
    """
    g = check_gamma(mdp, gamma)
    H = _horizon(horizon)
    V = np.zeros(mdp.n_states)
    dtype = np.int8 if mdp.n_actions <= 127 else np.int64
    policy = np.zeros((H, mdp.n_states), dtype=dtype)
    for k in range(H):
        Q = bellman_backup(mdp, V, g)
        policy[k] = np.argmax(Q, axis=1)
        V = Q.max(axis=1)
    return FiniteHorizonSolution(V, policy, H, g)


def certify(mdp: TabularMDP, V: np.ndarray, gamma: float | None = None) -> tuple[np.ndarray, float, float]:
    """Q of V, the Bellman residual of V and the certified bound on ||V - V*||_inf (see module doc).

    Example:
        >>> from envs import GridWorldEnv
        >>> _, residual, bound = certify(GridWorldEnv("S.G").mdp, np.array([0.9, 1.0, 0.0]), 0.9)
        >>> residual, bound
        (0.0, 0.0)
    """
    Q, residual, bound, _ = _certify(mdp, V, check_gamma(mdp, gamma))
    return Q, residual, bound


def _certify(mdp: TabularMDP, V: np.ndarray, g: float,
             cert: SSPCertificate | None = None) -> tuple[np.ndarray, float, float, SSPCertificate | None]:
    """Q, residual and bound of V; at gamma = 1 ``cert`` is V's certificate when already computed."""
    Q = bellman_backup(mdp, V, g)
    residual = float(np.max(np.abs(Q.max(axis=1) - V))) if V.size else 0.0
    if g < 1.0:
        return Q, residual, residual / (1.0 - g), None
    cert = cert if cert is not None else certify_ssp(mdp, V, Q)
    return Q, residual, cert.bound, cert


def certified_solution(mdp, V, g, method, it, converged, sweeps, t0, tol, prior_bound=np.inf, policy=None, cert=None,
                       **info) -> Solution:
    """The :class:`Solution` of a solver that stopped at ``V``: certified here, whatever computed V.

    Every solver (and every backend: ``agents.dp_torch``) ends through this function, so the
    bound a solution states is always the one :func:`certify` (gamma < 1) or
    ``agents.ssp.certify_ssp`` (gamma = 1) gives in float64, never a solver's own estimate.

    Arguments:
        mdp, V, g: the model, the final values, the discount.
        method: the solver's name (recorded, and named in warnings).
        it, sweeps, t0: iterations, Bellman-sweep equivalents and the start time, for the record.
        converged: whether the solver met its own stopping rule; at gamma = 1 it is withdrawn,
            with a warning, when the certificate does not reach ``tol``.
        tol: the target bound (0: any finite bound, for policy iteration at gamma = 1).
        prior_bound: a bound the solver already proved (a contraction bound from its last sweep).
        policy: the solver's current policy, kept where its actions tie (gamma < 1).
        cert: the gamma = 1 certificate of V when the solver already computed it.
        info: extra fields recorded in ``Solution.info``.
    """
    Q, residual, bound, cert = _certify(mdp, V, g, cert)
    if g < 1.0:
        # floating-point rounding of the residual itself: a few ulps of |V|, amplified like the residual
        rounding = 8 * np.finfo(np.float64).eps * max(1.0, float(np.max(np.abs(V))) if V.size else 1.0)
        bound = float(min(bound, prior_bound) + rounding / (1.0 - g))
        pol = greedy_policy(Q, policy) if policy is not None else np.argmax(Q, axis=1)
    else:
        pol = cert.policy  # the proper-preferring greedy policy its lower bound evaluated
        certified = bound <= tol if tol > 0.0 else np.isfinite(bound)  # tol 0: policy iteration, any finite bound
        if converged and not certified:
            converged = False
            why = cert.reason or f"its certified bound {bound:.3g} exceeds tol {tol:g}"
            warnings.warn(f"{method} at gamma = 1 cannot certify its values: {why}", RuntimeWarning, stacklevel=3)
            info["certificate"] = why
    if not converged and "certificate" not in info:
        warnings.warn(
            f"{method} stopped at its iteration cap ({it} iterations) with error bound {bound:.3g} > tol {tol:g}",
            RuntimeWarning,
            stacklevel=3,
        )
    return Solution(V, Q, pol, it, residual, bound, method, g, converged, sweeps + 1, time.perf_counter() - t0, info)


def _refuse_unbounded(mdp: TabularMDP, g: float, method: str, t0: float) -> Solution | None:
    """At gamma = 1, a model where a policy may earn forever: no iterations, a warning, no claim."""
    reason = unbounded_reason(mdp) if g == 1.0 else ""
    if not reason:
        return None
    warnings.warn(f"{method} at gamma = 1 cannot certify its values: {reason}", RuntimeWarning, stacklevel=3)
    S, A = mdp.n_states, mdp.n_actions
    return Solution(np.zeros(S), np.zeros((S, A)), np.zeros(S, dtype=np.int64), 0, float("inf"), float("inf"), method, g,
                    False, 0.0, time.perf_counter() - t0, {"certificate": reason})


class _SSPCheckpoints:
    """When a gamma = 1 iteration certifies: once its change is at most tol, then each time the
    iteration count has doubled since the last try (a certificate costs a few sweeps). It gives
    up when the iteration has reached a fixed point that does not certify, or when, past 1,000
    iterations, the certified bound failed to halve over three doublings in a row: progress of
    probability p needs about 1/p sweeps, which policy iteration does not."""

    def __init__(self) -> None:
        self.next_it, self.last_bound, self.stalls = 0, np.inf, 0
        self.cert: SSPCertificate | None = None  # the last certificate, handed to certified_solution

    def due(self, mdp: TabularMDP, V: np.ndarray, delta: float, it: int, tol: float) -> bool | None:
        """True: certified within tol; None: give up; False: go on."""
        if delta > tol or it < self.next_it:
            return False
        self.next_it = 2 * it
        self.cert = certify_ssp(mdp, V)
        bound = self.cert.bound
        if bound <= tol:
            return True
        self.stalls = self.stalls + 1 if it >= 1000 and bound > 0.5 * self.last_bound else 0
        self.last_bound = bound
        return None if delta == 0.0 or self.stalls >= 3 else False


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
    g = check_gamma(mdp, gamma)
    tol = check_tol(tol)
    t0 = time.perf_counter()
    if (refused := _refuse_unbounded(mdp, g, "value_iteration", t0)) is not None:
        return refused
    V = np.zeros(mdp.n_states)
    it = 0
    bound = np.inf
    checks = _SSPCheckpoints()
    while True:
        Q = bellman_backup(mdp, V, g)
        V_new = Q.max(axis=1)
        delta = float(np.max(np.abs(V_new - V))) if V.size else 0.0
        V = V_new
        it += 1
        if g < 1.0:
            bound = g * delta / (1.0 - g)
            if bound <= tol:
                return certified_solution(mdp, V, g, "value_iteration", it, True, it, t0, tol, bound)
        elif checks.due(mdp, V, delta, it, tol) is not False:
            return certified_solution(mdp, V, g, "value_iteration", it, True, it, t0, tol, cert=checks.cert)
        if max_iter is not None and it >= max_iter:
            return certified_solution(mdp, V, g, "value_iteration", it, False, it, t0, tol, bound)


def _ssp_start_policy(mdp: TabularMDP) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A policy with a finite total reward, for policy iteration at gamma = 1.

    States of a zero-reward end component stay in it (worth 0); every other state takes an
    action descending the breadth-first layers towards termination or such a component.
    Returns the policy, the zero-reward component labels and the ``(S, A)`` mask of their
    internal pairs.
    """
    zero_ec, zero_inside = end_components(mdp, mdp.R == 0.0)
    in_z = zero_ec >= 0
    targets = mdp.terminal | in_z
    if not targets.any():
        raise ValueError("at gamma = 1 the MDP needs terminal states; it has none - use gamma < 1")
    fake = TabularMDP(mdp.P, mdp.R, targets, mdp.initial, validate=False)
    policy = proper_greedy_policy(fake, np.zeros(mdp.R.shape), np.ones(mdp.R.shape, bool))
    policy[in_z] = np.argmax(zero_inside[in_z], axis=1)
    # states whose every route avoids both termination and free loops: value -inf
    P_pi, _ = mdp.policy_matrix(policy)
    stuck = np.flatnonzero((recurrent_classes(P_pi, ~targets) >= 0))
    if stuck.size:
        raise ValueError(
            f"at gamma = 1 state {stuck[0]} can never reach a terminal state and every way of staying out costs reward "
            f"({stuck.size} such states); its value is -inf - use gamma < 1"
        )
    return policy, zero_ec, zero_inside


def policy_iteration(
    mdp: TabularMDP,
    gamma: float | None = None,
    max_iter: int | None = None,
    policy: np.ndarray | None = None,
    tol: float | None = None,
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
        tol: at gamma = 1, the certified bound the result must meet to count as converged
            (default: any finite bound).

    Example:
        >>> from envs import GridWorldEnv
        >>> policy_iteration(GridWorldEnv("S.G").mdp, 0.9).policy[:2].tolist()
        [1, 1]
    """
    g = check_gamma(mdp, gamma)
    if tol is not None:
        tol = check_tol(tol)
    t0 = time.perf_counter()
    if (refused := _refuse_unbounded(mdp, g, "policy_iteration", t0)) is not None:
        return refused
    zero_ec = None
    if g == 1.0:
        start, zero_ec, zero_inside = _ssp_start_policy(mdp)
        policy = start if policy is None else policy
        in_z = zero_ec >= 0
        stay = np.argmax(zero_inside, axis=1)
    elif policy is None:
        policy = np.argmax(mdp.R, axis=1)
    policy = np.asarray(policy, dtype=np.int64)
    seen = {policy.tobytes()}
    it = 0
    while True:
        V = policy_evaluation(mdp, policy, g)
        Q = bellman_backup(mdp, V, g)
        new = greedy_policy(Q, policy)
        if zero_ec is not None:  # looping for free is worth 0: better than any negative option
            margin = TIE_TOL * max(1.0, float(np.max(np.abs(Q))) if Q.size else 1.0)
            free = in_z & (Q.max(axis=1) < -margin)
            new[free] = stay[free]
        it += 1
        if np.array_equal(new, policy) or new.tobytes() in seen:
            return certified_solution(mdp, V, g, "policy_iteration", it, True, it, t0, tol if tol is not None else 0.0, policy=policy)
        policy = new
        seen.add(policy.tobytes())
        if max_iter is not None and it >= max_iter:
            V = policy_evaluation(mdp, policy, g)
            return certified_solution(mdp, V, g, "policy_iteration", it, False, it, t0, 0.0, policy=policy)


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
    g = check_gamma(mdp, gamma)
    if m < 0:
        raise ValueError(f"m must be >= 0, got {m}")
    tol = check_tol(tol)
    t0 = time.perf_counter()
    if (refused := _refuse_unbounded(mdp, g, "modified_policy_iteration", t0)) is not None:
        return refused
    S, A = mdp.n_states, mdp.n_actions
    V = np.zeros(S)
    policy = None
    it, sweeps = 0, 0.0
    live = ~mdp.terminal
    checks = _SSPCheckpoints()
    while True:
        Q = bellman_backup(mdp, V, g)
        sweeps += 1
        policy = greedy_policy(Q, policy)
        TV = Q.max(axis=1)
        residual = float(np.max(np.abs(TV - V))) if S else 0.0
        it += 1
        if g < 1.0:
            if residual / (1.0 - g) <= tol:
                return certified_solution(mdp, V, g, "modified_policy_iteration", it, True, sweeps, t0, tol, policy=policy)
        elif checks.due(mdp, V, residual, it, tol) is not False:
            return certified_solution(mdp, V, g, "modified_policy_iteration", it, True, sweeps, t0, tol, cert=checks.cert)
        if max_iter is not None and it >= max_iter:
            return certified_solution(mdp, V, g, "modified_policy_iteration", it, False, sweeps, t0, tol, policy=policy)
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

    g, tol = _check_gauss_seidel(mdp, gamma, tol, m, "gauss_seidel_value_iteration")
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
            return certified_solution(mdp, V, g, "gauss_seidel_value_iteration", it, True, sweeps, t0, tol, bound)
        if max_iter is not None and it >= max_iter:
            return certified_solution(mdp, V, g, "gauss_seidel_value_iteration", it, False, sweeps, t0, tol, bound)
        for _ in range(m):  # in the direction of the Bellman sweep just made (measured: fewer sweeps than alternating)
            gs_policy_sweep(mdp, V, g, orders[(it - 1) % 2], policy)
        sweeps += m / mdp.n_actions


def _check_gauss_seidel(mdp: TabularMDP, gamma: float | None, tol: float, m: int, name: str) -> tuple[float, float]:
    """The discount and tolerance of a Gauss-Seidel solver, checked (gamma < 1, m an integer >= 0)."""
    g = check_gamma(mdp, gamma)
    if g == 1.0:
        raise ValueError(f"{name} needs gamma < 1; use policy_iteration at gamma = 1")
    if isinstance(m, bool) or not isinstance(m, (int, np.integer)) or m < 0:
        raise ValueError(f"m must be an integer >= 0, got {m!r}")
    return g, check_tol(tol)


def topological_value_iteration(
    mdp: TabularMDP,
    gamma: float | None = None,
    tol: float = 1e-8,
    m: int = 64,
    max_iter: int | None = None,
    threads: int | None = None,
) -> Solution:
    r"""Topological Gauss-Seidel value iteration (numba kernels, see ``agents.topological``).

    The strongly connected components of the state graph are solved one at a time, sinks first,
    each by Gauss-Seidel modified policy iteration over its own states in breadth-first order from
    the terminal states (nearest first), evaluating each greedy policy until a policy sweep
    changes the values by at most a tenth of the last Bellman sweep's change, starting from its
    median best reward :math:`/ (1 - \gamma)`, and, in a
    closed class, with an Aitken step on the uniform error that sweeps remove only at rate
    :math:`\gamma`. A component whose state graph is a tree (a perfect maze, a corridor) is solved
    by policy iteration instead, each policy's values computed exactly by Gaussian elimination
    leaves first, which makes no fill-in on a tree (``info["tree_components"]`` counts them).
    Those values then go through Gauss-Seidel sweeps of every live state in the
    same order, the first of which usually certifies them:
    :math:`\lVert V - V^* \rVert_\infty \le \gamma\delta / (1 - \gamma) \le` ``tol``, confirmed
    in float64 by :func:`certified_solution`. The components only decide the speed; the bound
    does not depend on them.

    Arguments:
        mdp: the model.
        gamma: discount in (0, 1); defaults to ``mdp.gamma``. For gamma = 1 use policy iteration.
        tol: target bound on :math:`\lVert V - V^* \rVert_\infty`.
        m: the most policy sweeps per Bellman sweep, inside components and after.
        max_iter: optional cap on the certifying loop's Bellman sweeps (warns when reached).
        threads: a component of at least ``2 * agents.topological.BLOCK_MIN`` states (40,000) is
            cut into this many contiguous blocks of its sweep order, swept at once, one thread
            each (Gauss-Seidel inside a block, the others' values from the sweep's start). None:
            numba's thread count (the machine's cores, or ``NUMBA_NUM_THREADS``), at most
            ``agents.topological.MAX_BLOCKS`` (8); 1: one thread. The values are the same from
            run to run for a given count. Measured at 10^6 states on this 2-core machine: the
            work in sweeps is within 2% of one thread's with 2 and 4 blocks (8: up to 12% more),
            and a sweep in 2 blocks runs 1.6-1.9x faster than in one (BENCHMARKS.md).

    Example:
        >>> from envs import GridWorldEnv
        >>> sol = topological_value_iteration(GridWorldEnv("S.>.G", step_reward=-1.0).mdp, 0.9, tol=1e-9)
        >>> bool(sol.error_bound <= 1e-9), sol.info["components"]  # the door splits the corridor
        (True, 2)
    """
    from agents import topological

    g, tol = _check_gauss_seidel(mdp, gamma, tol, m, "topological_value_iteration")
    t0 = time.perf_counter()
    if threads is not None and (isinstance(threads, bool) or not isinstance(threads, (int, np.integer)) or threads < 1):
        raise ValueError(f"threads must be an integer >= 1 or None, got {threads!r}")
    V, policy, bound, it, sweeps, n_components, trees, split = topological.solve(mdp, g, tol, m, max_iter, blocks=threads)
    return certified_solution(mdp, V, g, "topological_value_iteration", it, bound <= tol, sweeps, t0, tol, bound,
                              components=n_components, tree_components=trees, blocks=split)


def solve(
    mdp: TabularMDP,
    gamma: float | None = None,
    tol: float = 1e-6,
    method: str = "auto",
    backend: str = "numpy",
    device: str | None = None,
) -> Solution:
    """Solve an MDP exactly to a certified ``error_bound <= tol``.

    ``method="auto"`` picks, by the measurements of ``benchmarks/solvers.py`` and
    ``benchmarks/solver_families.py`` (BENCHMARKS.md), without the user naming the map's family:

    - gamma = 1: policy iteration (exact sparse linear solves), where contraction bounds do not apply;
    - fewer than 10,000 states while the numba kernels are not loaded yet: plain value
      iteration, which finishes in milliseconds there, sooner than numba loads the kernels (seconds,
      once per process: BENCHMARKS.md);
    - otherwise topological Gauss-Seidel (``"tvi"``, :func:`topological_value_iteration`): on the
      benchmark's seven families it needed 8-46 sweep-equivalents at 10^5 states where
      Gauss-Seidel modified policy iteration (``"gs"``, the choice before) needed 21-456 in the
      same runs (cost-to-go rooms, regions cut off from the goal, one-way doors, mazes and random
      sparse MDPs 4.8-55x fewer, the scaled-up rooms 2.3-2.6x, the reward-at-goal room 1.0-1.5x),
      with no family slower at 10^5 and 10^6 (at 2,500 states the reward-at-goal room takes 4 ms
      against 3.5 ms). It needs no flag for the structure it meets: components are
      found from the model's edges, and a component whose state graph is a tree (a perfect maze,
      a corridor) is solved by policy iteration with exact evaluations, which took the 10^5 maze
      from 87.5 to 5.5 sweeps of work at gamma 0.99 and from 858 to 17.5 at 0.999, and a large
      component is swept in blocks, one per numba thread (1.3-1.6x faster solves at 10^6 on 2
      cores, the same values every run), its policy sweeps reading the greedy policy's rows kept
      side by side (1.1-1.6x faster solves at 10^6). At 10^6 states it needed 16-71
      sweep-equivalents (median 27) on the seven families as gridlab writes them, and the same work
      within 1.2x however a model is written (a goal absorbing instead of terminal, the states
      numbered at random, per-action matrices from another library): its sweep order comes from
      the model's graph. A randomly numbered model takes up to 2.6x the time for that work (its
      component search reads memory at random); BENCHMARKS.md has each figure. Policy iteration
      stays out below gamma = 1: its iteration count grows with the grid's diameter (126 sparse
      direct solves on a 100 x 100 slippery room), and exact sparse LU evaluations inside it
      cost hundreds of sweeps on open 2-D grids (BENCHMARKS.md).

    Arguments:
        mdp: the model.
        gamma: discount in (0, 1]; defaults to ``mdp.gamma``.
        tol: target bound on ``|V - V*|``.
        method: ``"auto"`` or a registered solver's name (``agents.solvers.METHODS``: ``"vi"``,
            ``"pi"``, ``"mpi"``, ``"gs"``, ``"vi_torch"``, ...).
        backend: ``"numpy"``, or ``"torch"`` for value iteration as torch sparse products on
            ``device`` (``"cuda"`` for a GPU; default ``"cuda"`` when available, else ``"cpu"``),
            certified in float64 on the host. Importing torch happens only for this backend.

    Example:
        >>> from envs import GridWorldEnv
        >>> sol = solve(GridWorldEnv("S.G").mdp, 0.9)
        >>> sol.error_bound <= 1e-6
        True
    """
    g = check_gamma(mdp, gamma)
    tol = check_tol(tol)
    if backend not in ("numpy", "torch"):
        raise ValueError(f"backend must be 'numpy' or 'torch', got {backend!r}")
    if backend == "torch":
        if method not in ("auto", "vi", "vi_torch"):
            raise ValueError(f"the torch backend runs value iteration; method must be 'auto' or 'vi', got {method!r}")
        method = "vi_torch"
    elif method == "auto":
        from agents import topological

        small_and_cold = mdp.n_states < 10_000 and not topological.kernels_loaded()
        method = "pi" if g == 1.0 else "vi" if small_and_cold else "tvi"
    run = load_method(method)
    if METHODS[method].backend != "torch":
        return run(mdp, gamma, tol=tol)
    return run(mdp, g, tol=tol, device=resolve_device(device or "auto"))
