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
``tol`` at :math:`b_0`, the time limit, or the belief budget.

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


class _Grow:
    """Rows appended in amortised O(1): a view of the filled part of a doubling buffer."""

    def __init__(self, rows: np.ndarray) -> None:
        self.buf, self.n = rows.copy(), len(rows)

    @property
    def rows(self) -> np.ndarray:
        return self.buf[:self.n]

    def append(self, row: np.ndarray) -> None:
        if self.n == len(self.buf):
            self.buf = np.concatenate([self.buf, np.empty((max(self.n, 8),) + self.buf.shape[1:], self.buf.dtype)])
        self.buf[self.n] = row
        self.n += 1

    def extend(self, rows: np.ndarray) -> None:
        while self.n + len(rows) > len(self.buf):
            self.buf = np.concatenate([self.buf, np.empty((max(len(self.buf), 8),) + self.buf.shape[1:], self.buf.dtype)])
        self.buf[self.n:self.n + len(rows)] = rows
        self.n += len(rows)

    def keep(self, mask: np.ndarray) -> None:
        kept = self.rows[mask]
        self.buf[:len(kept)] = kept
        self.n = len(kept)


def _stack_to(pomdp: TabularPOMDP, a: int) -> np.ndarray | list[sp.csr_matrix]:
    """:math:`T(s'|s,a) O(o|s',a)` for every ``o``: ``(Z, S, S')`` dense while small, else CSRs."""
    from envs.pomdp import DENSE_MAX

    S, Z = pomdp.n_states, pomdp.n_observations
    if S * S * Z <= DENSE_MAX:
        return pomdp.T[a].toarray()[None, :, :] * pomdp.O[a].T[:, None, :]
    return [pomdp.T[a].multiply(pomdp.O[a, :, o][None, :]).tocsr() for o in range(Z)]


class _Bounds:
    """The two bounds of one solve: alpha vectors below, sawtooth points above."""

    def __init__(self, pomdp: TabularPOMDP, fib: np.ndarray, TO: list[Any]) -> None:
        self.m = pomdp
        S = pomdp.n_states
        self.fib = fib
        self.corner = fib.max(axis=1)
        self.points = _Grow(np.empty((0, S)))
        self.support_ptr = _Grow(np.zeros((1, 1), dtype=np.int64))  # each point's support, CSR:
        self.support = _Grow(np.empty((0, 1), dtype=np.int64))  # the states where b_i(s) > 0 ...
        self.inverse = _Grow(np.empty((0, 1)))  # ... and 1 / b_i(s) there
        self.values = _Grow(np.empty((0, 1)))
        self.alphas = _Grow(blind_lower_bound(pomdp))
        self.actions = _Grow(np.arange(pomdp.n_actions, dtype=np.float64)[:, None])
        self.TO = TO  # T(s'|s,a) O(o|s',a) per action (_stack_to)
        # per action: (Z, S') where each observation can lead, from any state, and the observations it can follow
        self.reach = [T.sum(axis=1) if isinstance(T, np.ndarray) else np.stack([np.asarray(To.sum(axis=0)).ravel() for To in T])
                      for T in TO]
        self.emits = [np.flatnonzero(r.any(axis=1)) for r in self.reach]

    def lower(self, B: np.ndarray) -> np.ndarray:
        return (B @ self.alphas.rows.T).max(axis=-1)

    def upper(self, B: np.ndarray) -> np.ndarray:
        B = np.atleast_2d(B)
        base = B @ self.corner
        informed = (B @ self.fib).max(axis=1)  # FIB itself, tighter than its corners inside the simplex
        if not self.values.n:
            return np.minimum(base, informed)
        from agents.pomdp_kernels import sawtooth

        drop = self.values.rows[:, 0] - self.points.rows @ self.corner  # <= 0: how far each point lies below
        out = np.empty(len(B))
        sawtooth(np.ascontiguousarray(B, dtype=np.float64), base, self.support_ptr.rows[:, 0], self.support.rows[:, 0],
                 self.inverse.rows[:, 0], drop, out)
        return np.minimum(out, informed)

    def successors(self, b: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The unnormalised next beliefs :math:`O(o|s',a) \\sum_s b(s) T(s'|s,a)` as ``(A, Z, S)``,
        ``P(o | b, a)`` as ``(A, Z)`` and the next beliefs as ``(A, Z, S)`` (zeros where P = 0)."""
        joint = np.stack([self.m.predict(b, a)[None, :] * self.m.O[a].T for a in range(self.m.n_actions)])
        probs = joint.sum(axis=2)
        nxt = np.divide(joint, probs[..., None], out=np.zeros_like(joint), where=probs[..., None] > 0)
        return joint, probs, nxt

    def q_upper(self, b: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The upper bound's Q-values at ``b`` as ``(A,)``, then :meth:`successors`' three arrays."""
        joint, probs, nxt = self.successors(b)
        U = self.upper(nxt.reshape(-1, self.m.n_states)).reshape(probs.shape)
        U = np.where(probs > 0, U, 0.0)
        return b @ self.m.R + self.m.gamma * (probs * U).sum(axis=1), joint, probs, nxt

    def add_point(self, b: np.ndarray, v: float) -> None:
        onehot = np.flatnonzero(b == 1.0)
        if onehot.size == 1:  # a vertex: its corner value improves
            self.corner[onehot[0]] = min(self.corner[onehot[0]], v)
            return
        if self.points.n:
            same = np.flatnonzero(np.abs(self.points.rows - b).max(axis=1) <= 1e-12)
            if same.size:  # the same belief again: keep the lower value
                self.values.buf[same[0], 0] = min(self.values.buf[same[0], 0], v)
                return
        self.points.append(b)
        support = np.flatnonzero(b > 0)
        self.support.extend(support[:, None])
        self.inverse.extend(1.0 / b[support][:, None])
        self.support_ptr.append(np.array([self.support.n]))
        self.values.append(np.array([v]))

    def add_alpha(self, alpha: np.ndarray, action: int) -> None:
        rows = self.alphas.rows
        if np.any(np.all(rows >= alpha - 1e-12, axis=1)):  # dominated everywhere: it adds nothing
            return
        keep = ~np.all(alpha[None, :] >= rows, axis=1)  # drop the vectors it dominates everywhere
        if not keep.all():
            self.alphas.keep(keep)
            self.actions.keep(keep)
        self.alphas.append(alpha)
        self.actions.append(np.array([float(action)]))

    def backup(self, b: np.ndarray) -> None:
        """Both bounds backed up at ``b``."""
        q, joints, _, _ = self.q_upper(b)
        v = float(q.max())
        if v < float(self.upper(b)[0]) - 1e-12:
            self.add_point(b, v)
        alphas, gamma = self.alphas.rows, self.m.gamma
        best, best_value = None, -np.inf
        for a in range(self.m.n_actions):
            alpha = self.m.R[:, a].copy()
            joint = joints[a]  # (Z, S): the unnormalised next beliefs
            # the best vector after each observation; an observation b cannot produce still needs a
            # vector (the new one is a conditional plan's value at every state, not only on b's
            # support): the best at where that observation can lead from anywhere
            seen = joint.any(axis=1)
            chosen = np.argmax(joint @ alphas.T, axis=1)
            if not seen.all():
                chosen[~seen] = np.argmax(self.reach[a][~seen] @ alphas.T, axis=1)
            live = self.emits[a]
            if isinstance(self.TO[a], np.ndarray):
                alpha += gamma * np.einsum("zst,zt->s", self.TO[a][live], alphas[chosen[live]])
            else:
                for o in live:
                    alpha += gamma * (self.TO[a][o] @ alphas[chosen[o]])
            value = float(alpha @ b)
            if value > best_value:
                best, best_value = (a, alpha), value
        if best_value > float(self.lower(b)) + 1e-12:
            self.add_alpha(best[1], best[0])


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
    TO = [_stack_to(pomdp, a) for a in range(pomdp.n_actions)]  # built once, for FIB and the backups
    fib = fib_bound(pomdp, qmdp=qmdp, TO=TO)
    bounds = _Bounds(pomdp, fib, TO)
    b0, gamma = pomdp.b0, pomdp.gamma
    first_gap = max(float(bounds.upper(b0)[0] - bounds.lower(b0)), tol)
    if max_depth is None:
        max_depth = int(math.ceil(math.log(tol / first_gap) / math.log(gamma))) + 1 if first_gap > tol else 1
    trials, reason = 0, "gap"
    while True:
        gap = float(bounds.upper(b0)[0] - bounds.lower(b0))
        if gap <= tol:
            reason = "gap"
            break
        if time.perf_counter() - t0 > time_limit:
            reason = "time"
            break
        if bounds.values.n + bounds.alphas.n >= max_points:
            reason = "beliefs"
            break
        trials += 1
        path, b = [b0], b0
        for t in range(max_depth):
            if float(bounds.upper(b)[0] - bounds.lower(b)) <= tol * gamma ** (-t):
                break
            q, _, probs, nxt = bounds.q_upper(b)
            a = int(np.argmax(q))
            gaps = bounds.upper(nxt[a]) - bounds.lower(nxt[a])
            excess = np.where(probs[a] > 0, probs[a] * (gaps - tol * gamma ** (-(t + 1))), -np.inf)
            o = int(np.argmax(excess))
            if excess[o] <= 0:
                break
            b = nxt[a, o]
            path.append(b)
        for b in reversed(path):
            bounds.backup(b)
    lower, upper = float(bounds.lower(b0)), float(bounds.upper(b0)[0])
    alphas, actions = bounds.alphas.rows.copy(), bounds.actions.rows[:, 0].astype(np.int64)
    return POMDPSolution(lower=lower, upper=upper, alphas=alphas, alpha_actions=actions,
                         policy=AlphaVectorPolicy(pomdp, alphas, actions),
                         qmdp=float((b0 @ qmdp).max()), fib=float((b0 @ fib).max()),
                         seconds=time.perf_counter() - t0, stop_reason=reason, trials=trials,
                         points=bounds.values.n)
