r"""Certified planning in a POMDP: lower and upper bounds on :math:`V^*(b_0)` that close in on each other.

:func:`solve` brackets the optimal value of a :class:`~envs.pomdp.TabularPOMDP` from its initial
belief, :math:`L \le V^*(b_0) \le U`, and returns a controller that achieves at least :math:`L`.

**Upper bounds.** Three, each tighter than the last:

- QMDP: :math:`U_{\text{QMDP}}(b) = \max_a \sum_s b(s) Q^*_{\text{MDP}}(s, a)`, the value if the
  state were revealed after one step (the hidden MDP solved by :func:`agents.dp.solve`, its
  certified bound added to :math:`Q`);
- the fast informed bound (FIB, Hauskrecht 2000): vectors :math:`\alpha_a` with
  :math:`\alpha_a(s) = R(s,a) + \gamma \sum_o \max_{a'} \sum_{s'} T(s'|s,a) O(o|s',a) \alpha_{a'}(s')`,
  the value if the state were revealed after each observation. The operator is a monotone
  :math:`\gamma`-contraction and its iterates start from QMDP, above its fixed point, so every
  iterate is an upper bound;
- the sawtooth bound over belief points :math:`(b_i, v_i)` (Hauskrecht 2000): with corner values
  :math:`c(s)` (FIB at the vertices),
  :math:`U(b) = \min\big(c^\top b,\ \min_i c^\top b + (v_i - c^\top b_i)\min_{s: b_i(s) > 0} b(s)/b_i(s)\big)`,
  an upper bound because :math:`V^*` is convex; the bound used is the smaller of it and FIB. A point is added by the Bellman backup of
  :math:`U`, :math:`v = \max_a R(b,a) + \gamma \sum_o P(o|b,a) U(b^{a,o})`, an upper bound since
  :math:`U` is.

**Lower bound.** A set :math:`\Gamma` of alpha vectors, each the exact value of a finite policy:
first the blind policies ("always :math:`a`", :math:`\alpha_a = (I - \gamma T_a)^{-1} R_a`, by a
sparse solve), then point-based backups at the beliefs the search visits,
:math:`\alpha = R_a + \gamma \sum_o \sum_{s'} T(s'|\cdot,a) O(o|s',a) \alpha_{o}(s')` with
:math:`\alpha_o = \arg\max_{\alpha' \in \Gamma} b^{a,o} \cdot \alpha'`: the value of "do :math:`a`,
then follow :math:`\alpha_o`'s policy". Hence :math:`L(b) = \max_{\alpha \in \Gamma} \alpha^\top b \le V^*(b)`,
and the controller that tracks the belief and plays the action of the best vector at each step
achieves at least :math:`\alpha^\top b` (each vector was backed up from vectors of
:math:`\Gamma`, which the re-selection can only better).

**Search.** The beliefs come from HSVI2's heuristic (Smith & Simmons 2005): from :math:`b_0`, the
action best for the upper bound and the observation of largest weighted excess gap
:math:`P(o|b,a)\,(U - L)(b^{a,o}) - \epsilon\gamma^{-t-1}`, until the excess is gone; then both
bounds are backed up along the path, deepest first. Trials repeat until :math:`U - L \le`
``tol`` at :math:`b_0`, the time limit, or the belief budget. Each trial runs compiled, descent and backups
together (:func:`agents.pomdp_kernels.trial`); Python only checks the stopping rules between trials.

Example:
    >>> from envs.pomdp_worlds import tiger
    >>> sol = solve(tiger(), tol=1e-3)
    >>> sol.lower <= 19.3714 <= sol.upper, sol.gap <= 1e-3
    (True, True)
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from envs.pomdp import TabularPOMDP

__all__ = ["solve", "POMDPSolution", "AlphaVectorPolicy", "qmdp_bound", "fib_bound", "blind_lower_bound",
           "STOP_REASONS"]

STOP_REASONS = ("gap", "time", "beliefs")


class AlphaVectorPolicy:
    """The controller of a set of alpha vectors: track the belief, play the best vector's action.

    ``reset()`` goes back to :math:`b_0`; ``act(observation)`` takes the observation that followed
    the previous action (``None`` at the start) and returns the next action.

    Example:
        >>> from envs.pomdp_worlds import tiger
        >>> policy = solve(tiger(), tol=1e-2).policy
        >>> policy.reset(); policy.actions[policy.act(None)]
        'listen'
    """

    def __init__(self, pomdp: TabularPOMDP, alphas: np.ndarray, alpha_actions: np.ndarray) -> None:
        self.pomdp, self.alphas, self.alpha_actions = pomdp, alphas, alpha_actions
        self.actions = pomdp.actions
        self.belief = pomdp.b0.copy()
        self.last_action: int | None = None

    def reset(self) -> None:
        """Back to the initial belief, before any action."""
        self.belief = self.pomdp.b0.copy()
        self.last_action = None

    def act(self, observation: int | None) -> int:
        """The next action, after ``observation`` (the one the previous action brought; ``None`` first)."""
        if observation is not None:
            if self.last_action is None:
                raise ValueError("act(observation) before any action: call act(None) first, after reset()")
            self.belief = self.pomdp.belief_update(self.belief, self.last_action, observation)
        self.last_action = int(self.alpha_actions[int(np.argmax(self.alphas @ self.belief))])
        return self.last_action


@dataclass
class POMDPSolution:
    """What :func:`solve` returns.

    Attributes:
        lower, upper: certified bounds on :math:`V^*(b_0)`.
        alphas: ``(K, S)`` the lower bound's alpha vectors; ``alpha_actions`` their first actions.
        policy: the controller of ``alphas`` (:class:`AlphaVectorPolicy`), achieving at least ``lower``.
        qmdp, fib: the QMDP and fast-informed upper bounds at :math:`b_0`, for comparison.
        seconds: the time spent; ``stop_reason`` one of ``STOP_REASONS``; ``trials`` the searches made;
        ``points`` the upper bound's belief points.
    """

    lower: float
    upper: float
    alphas: np.ndarray
    alpha_actions: np.ndarray
    policy: AlphaVectorPolicy
    qmdp: float
    fib: float
    seconds: float
    stop_reason: str
    trials: int
    points: int
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def gap(self) -> float:
        """``upper - lower``."""
        return self.upper - self.lower


def _check(pomdp: TabularPOMDP) -> None:
    from envs.mdp import TabularMDP

    if isinstance(pomdp, TabularMDP):
        raise TypeError("solve bounds a partially observed model; this TabularMDP is fully observed: solve it exactly "
                        "with agents.dp.solve")
    if not isinstance(pomdp, TabularPOMDP):
        raise TypeError(f"pomdp must be a TabularPOMDP, got {type(pomdp).__name__}")
    if not pomdp.gamma < 1.0:
        raise ValueError(f"solve needs a discount below 1, got {pomdp.gamma:g}: at gamma = 1 no bound is finite "
                         "without terminal states reached for sure")


def qmdp_bound(pomdp: TabularPOMDP) -> np.ndarray:
    r"""``(S, A)``: :math:`Q^*` of the hidden MDP plus its certified error, an upper bound on :math:`Q^*`.

    Example:
        >>> from envs.pomdp_worlds import tiger
        >>> float((tiger().b0 @ qmdp_bound(tiger())).max().round(2))  # listen, then know: -1 + 0.95 * 10 / 0.05
        189.0
    """
    from agents import dp

    _check(pomdp)
    sol = dp.solve(pomdp.mdp, pomdp.gamma, tol=1e-9)
    return sol.Q + sol.error_bound


def fib_bound(pomdp: TabularPOMDP, tol: float = 1e-9, max_iter: int = 100_000, qmdp: np.ndarray | None = None,
              TO: list[Any] | None = None) -> np.ndarray:
    r"""``(S, A)``: the fast informed bound's vectors :math:`\alpha_a(s)` (module doc), an upper bound.

    Iterated from :func:`qmdp_bound` until a sweep changes them by at most ``tol`` (every iterate
    is an upper bound, so stopping early loses tightness, never soundness). ``qmdp`` and ``TO``
    (the products :math:`T(s'|s,a) O(o|s',a)` per action, ``_stack_to``) are the caller's when it
    has them already.

    Example:
        >>> from envs.pomdp_worlds import tiger
        >>> m = tiger()
        >>> bool((m.b0 @ fib_bound(m)).max() <= (m.b0 @ qmdp_bound(m)).max())
        True
    """
    alpha = qmdp_bound(pomdp) if qmdp is None else qmdp
    TO = TO if TO is not None else [_stack_to(pomdp, a) for a in range(pomdp.n_actions)]
    for _ in range(max_iter):
        new = pomdp.R.copy()
        for a in range(pomdp.n_actions):
            for o in range(pomdp.n_observations):
                new[:, a] += pomdp.gamma * np.asarray(TO[a][o] @ alpha).max(axis=1)
        new = np.minimum(new, alpha)  # the operator is monotone from above: the min keeps both bounds
        change = float(np.max(np.abs(new - alpha)))
        alpha = new
        if change <= tol:
            break
    return alpha


def blind_lower_bound(pomdp: TabularPOMDP) -> np.ndarray:
    r"""``(A, S)``: the exact value of each blind policy "always :math:`a`", :math:`(I - \gamma T_a)^{-1} R_a`.

    Example:
        >>> from envs.pomdp_worlds import tiger
        >>> blind_lower_bound(tiger())[0].round(1)   # always listen: -1 / (1 - 0.95)
        array([-20., -20.])
    """
    _check(pomdp)
    I = sp.identity(pomdp.n_states, format="csc")
    return np.stack([spla.spsolve((I - pomdp.gamma * pomdp.T[a]).tocsc(), pomdp.R[:, a])
                     for a in range(pomdp.n_actions)]).reshape(pomdp.n_actions, pomdp.n_states)


def _stack_to(pomdp: TabularPOMDP, a: int) -> np.ndarray | list[sp.csr_matrix]:
    """:math:`T(s'|s,a) O(o|s',a)` for every ``o``: ``(Z, S, S')`` dense while small, else CSRs."""
    from envs.pomdp import DENSE_MAX

    S, Z = pomdp.n_states, pomdp.n_observations
    if S * S * Z <= DENSE_MAX:
        return pomdp.T[a].toarray()[None, :, :] * pomdp.O[a].T[:, None, :]
    return [pomdp.T[a].multiply(pomdp.O[a, :, o][None, :]).tocsr() for o in range(Z)]


def _grown(buf: np.ndarray, size: int) -> np.ndarray:
    """``buf`` with at least ``size`` rows (doubling), the filled part kept."""
    if len(buf) >= size:
        return buf
    out = np.zeros((max(size, 2 * len(buf)),) + buf.shape[1:], buf.dtype)
    out[:len(buf)] = buf
    return out


class _Bounds:
    """The two bounds of one solve as the flat arrays :mod:`agents.pomdp_kernels` works on.

    Alpha vectors below (``alphas[:counts[0]]``), sawtooth points above (``counts[1]`` CSR
    supports); :meth:`trial` runs one compiled HSVI2 trial, growing the buffers first.
    """

    def __init__(self, pomdp: TabularPOMDP, fib: np.ndarray, blind: np.ndarray, max_depth: int) -> None:
        S, A, Z = pomdp.n_states, pomdp.n_actions, pomdp.n_observations
        T = [Ta.tocsr() for Ta in pomdp.T]
        offsets = np.cumsum([0] + [Ta.nnz for Ta in T])
        ptr = np.stack([Ta.indptr.astype(np.int64) + offsets[a] for a, Ta in enumerate(T)])
        idx = np.concatenate([Ta.indices.astype(np.int64) for Ta in T])
        val = np.concatenate([Ta.data.astype(np.float64) for Ta in T])
        O = np.ascontiguousarray(pomdp.O, dtype=np.float64)
        # reach[a, o, s']: where each observation can lead, from any state (its fallback plan is judged there)
        reach = np.ascontiguousarray(np.stack([(np.asarray(Ta.sum(axis=0)).ravel()[:, None] * O[a]).T
                                               for a, Ta in enumerate(T)]))
        self.model = (ptr, idx, val, O, np.ascontiguousarray(pomdp.R, dtype=np.float64), reach,
                      np.ascontiguousarray(fib, dtype=np.float64), float(pomdp.gamma))
        self.alphas = np.zeros((max(64, 2 * A), S))
        self.alphas[:A] = blind
        self.alpha_actions = np.zeros(len(self.alphas), dtype=np.int64)
        self.alpha_actions[:A] = np.arange(A)
        values = np.einsum("azs,ks->azk", reach, blind)
        self.reach_best = np.ascontiguousarray(values.argmax(axis=2), dtype=np.int64)
        self.reach_value = np.ascontiguousarray(values.max(axis=2))
        self.pptr = np.zeros(64, dtype=np.int64)
        self.pidx = np.zeros(16 * S, dtype=np.int64)
        self.pinv = np.zeros(16 * S)
        self.pvalue = np.zeros(64)
        self.pcorner = np.zeros(64)
        self.corner = np.ascontiguousarray(fib.max(axis=1))
        self.counts = np.array([A, 0, 0, 0], dtype=np.int64)
        self.max_depth = max_depth
        self.work = (np.zeros((A, Z, S)), np.zeros((A, Z)), np.zeros((A, Z)), np.zeros((A, S), dtype=np.int64),
                     np.zeros(A, dtype=np.int64), np.zeros(S), np.zeros(S, dtype=np.int64), np.zeros(A), np.zeros(S),
                     np.zeros(S), np.zeros(S), np.zeros((max_depth + 1, S)), np.zeros(S, dtype=np.int64))

    @property
    def arrays(self) -> tuple[np.ndarray, ...]:
        """The bounds' arrays in the order :mod:`agents.pomdp_kernels` reads them."""
        return (self.alphas, self.alpha_actions, self.reach_best, self.reach_value, self.pptr, self.pidx, self.pinv,
                self.pvalue, self.pcorner, self.corner, self.counts)

    def at(self, b: np.ndarray) -> tuple[float, float]:
        """``(L(b), U(b))``."""
        from agents.pomdp_kernels import lower_at, support_of, upper_at

        supp = np.empty(len(b), dtype=np.int64)
        m = support_of(b, supp)
        lower = lower_at(b, supp, m, self.alphas, self.counts[0])[0]
        upper = upper_at(b, supp, m, self.corner, self.model[6], self.pptr, self.pidx, self.pinv, self.pvalue,
                         self.pcorner, self.counts[1])
        return float(lower), float(upper)

    def trial(self, b0: np.ndarray, tol: float) -> int:
        """One compiled HSVI2 trial from ``b0`` (:func:`agents.pomdp_kernels.trial`), after making room."""
        from agents.pomdp_kernels import trial

        grow = 2 if self.counts[3] else 1  # a buffer was full last time: ask for twice the room
        self.counts[3] = 0
        room = grow * (self.max_depth + 2)  # a trial adds at most one vector and one point per belief on its path
        self.alphas = _grown(self.alphas, self.counts[0] + room)
        self.alpha_actions = _grown(self.alpha_actions, len(self.alphas))
        self.pptr = _grown(self.pptr, self.counts[1] + room + 1)
        self.pvalue = _grown(self.pvalue, len(self.pptr))
        self.pcorner = _grown(self.pcorner, len(self.pptr))
        S = len(b0)
        self.pidx = _grown(self.pidx, self.counts[2] + grow * min(room * S, max(16 * S, self.counts[2])))
        self.pinv = _grown(self.pinv, len(self.pidx))
        return int(trial(b0, tol, self.max_depth, self.model, self.arrays, self.work))


def solve(pomdp: TabularPOMDP, tol: float = 1e-3, time_limit: float = 60.0, max_points: int = 100_000,
          max_depth: int | None = None) -> POMDPSolution:
    r"""Bounds on :math:`V^*(b_0)` closed to ``tol`` by HSVI2-style search (module doc).

    Arguments:
        pomdp: the model; its discount must be below 1.
        tol: stop once ``upper - lower <= tol`` at :math:`b_0`.
        time_limit: seconds before stopping with the bounds reached (``stop_reason="time"``).
        max_points: the most belief points and alpha vectors kept (``stop_reason="beliefs"``).
        max_depth: the deepest a search goes; by default the depth past which
            :math:`\gamma^t` times the initial gap is below ``tol``.

    Returns:
        A :class:`POMDPSolution`: bounds, the alpha vectors and their controller, QMDP and FIB at
        :math:`b_0`, the time and why it stopped.

    Raises:
        ValueError: a discount of 1, or a ``tol`` or ``time_limit`` that is not positive.
    """
    _check(pomdp)
    if not tol > 0 or not time_limit > 0:
        raise ValueError(f"tol and time_limit must be > 0, got {tol} and {time_limit}")
    t0 = time.perf_counter()
    qmdp = qmdp_bound(pomdp)
    fib = fib_bound(pomdp, qmdp=qmdp)
    blind = blind_lower_bound(pomdp)
    b0 = np.ascontiguousarray(pomdp.b0, dtype=np.float64)
    first_gap = max(float((b0 @ fib).max() - (blind @ b0).max()), tol)
    if max_depth is None:
        max_depth = int(math.ceil(math.log(tol / first_gap) / math.log(pomdp.gamma))) + 1 if first_gap > tol else 1
    bounds = _Bounds(pomdp, fib, blind, max_depth)
    trials, reason = 0, "gap"
    while True:
        lower, upper = bounds.at(b0)
        if upper - lower <= tol:
            reason = "gap"
            break
        if time.perf_counter() - t0 > time_limit:
            reason = "time"
            break
        if bounds.counts[0] + bounds.counts[1] >= max_points:
            reason = "beliefs"
            break
        trials += 1
        bounds.trial(b0, tol)
    K = int(bounds.counts[0])
    alphas, actions = bounds.alphas[:K].copy(), bounds.alpha_actions[:K].copy()
    return POMDPSolution(lower=lower, upper=upper, alphas=alphas, alpha_actions=actions,
                         policy=AlphaVectorPolicy(pomdp, alphas, actions),
                         qmdp=float((b0 @ qmdp).max()), fib=float((b0 @ fib).max()),
                         seconds=time.perf_counter() - t0, stop_reason=reason, trials=trials,
                         points=int(bounds.counts[1]))
