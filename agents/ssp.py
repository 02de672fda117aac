r"""Undiscounted (stochastic shortest path) structure of a ``TabularMDP`` and a sound certificate.

At :math:`\gamma = 1` the Bellman operator :math:`T` is no contraction, a small residual
:math:`\lVert TV - V \rVert` certifies nothing, and :math:`T` can have many fixed points: a wall a
policy can bump into forever at zero reward makes every constant a fixed point there. This module
gives what the solvers need to stay exact anyway:

- :func:`end_components`: the maximal end components (sets of live states in which some policy
  can stay forever) of a model, optionally restricted to some (s, a) pairs. Staying forever in a
  *zero-reward* end component is worth exactly 0; in any other one it is worth
  :math:`-\infty` unless some action inside it pays a positive reward, a case we refuse.
- :func:`recurrent_classes`: the closed classes a fixed policy's chain ends in.
- :func:`proper_greedy_policy`: a greedy policy that, among actions tied within a margin, takes
  one that moves towards termination (a raw argmax can pick a wall-bumping self-loop).
- :func:`certify_ssp`: a two-sided bound :math:`L \le V^* \le U` and so a bound on
  :math:`\lVert V - V^* \rVert_\infty`, both sides verified numerically.

References:
    de Alfaro, *Formal verification of probabilistic systems*, PhD thesis, Stanford (1997):
    end components. Bertsekas & Tsitsiklis, *Neuro-Dynamic Programming* (1996), ch. 2 (SSP).
    Haddad & Monmege, "Interval iteration algorithm for MDPs and IMDPs", TCS 735 (2018), and
    Baier et al., "Ensuring the reliability of your model checker: interval iteration for
    Markov decision processes", CAV 2017: bounds from both sides, end components collapsed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import scipy.sparse.csgraph as csgraph
import scipy.sparse.linalg as spla

from envs.mdp import TabularMDP

__all__ = ["end_components", "recurrent_classes", "proper_greedy_policy", "unbounded_reason", "SSPCertificate", "certify_ssp"]

EPS = np.finfo(np.float64).eps


def _entries(P: sp.csr_matrix) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(row, column, probability) of every stored positive entry of a CSR matrix."""
    rows = np.repeat(np.arange(P.shape[0]), np.diff(P.indptr))
    keep = P.data > 0
    return rows[keep], P.indices[keep], P.data[keep]


def _strong_components(n: int, src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    G = sp.csr_matrix((np.ones(src.size), (src, dst)), shape=(n, n))
    return csgraph.connected_components(G, directed=True, connection="strong")[1]


def _bfs_layers(n: int, src: np.ndarray, dst: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Fewest edges from each node to the target set along edges src -> dst (inf if none)."""
    # reversed edges plus a virtual node n pointing at every target
    rows = np.concatenate([dst, np.full(targets.size, n)])
    cols = np.concatenate([src, targets])
    G = sp.csr_matrix((np.ones(rows.size), (rows, cols)), shape=(n + 1, n + 1))
    return csgraph.shortest_path(G, unweighted=True, indices=n, directed=True)[:n] - 1.0


def end_components(mdp: TabularMDP, allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Maximal end components of the live states, using only the ``allowed`` (s, a) pairs.

    An end component is a set C of live states with, for each state, at least one action whose
    successors all lie in C, such that C is strongly connected through those actions: a policy
    can stay in C forever and visit all of it. The standard refinement (de Alfaro 1997): drop
    actions that can leave, split into strongly connected components, repeat.

    Arguments:
        mdp: the model.
        allowed: optional ``(S, A)`` bool mask of the pairs that may be used; default all.

    Returns:
        ``(labels, inside)``: ``labels`` is ``(S,)`` int, the component of each state (``-1`` for
        states in none); ``inside`` is ``(S, A)`` bool, the pairs that keep a state in its component.

    Example:
        >>> from envs import GridWorldEnv
        >>> labels, inside = end_components(GridWorldEnv("S.G").mdp)  # 0 and 1 can bump walls forever
        >>> labels.tolist(), inside[0].tolist()
        ([0, 0, -1], [True, True, True, True])
    """
    S, A = mdp.n_states, mdp.n_actions
    row, dst, _ = _entries(mdp.P)
    src = row // A
    ok = np.repeat(~mdp.terminal, A)
    if allowed is not None:
        ok &= np.asarray(allowed, bool).reshape(S * A)
    while True:
        alive = np.zeros(S, bool)
        alive[np.flatnonzero(ok) // A] = True
        used = ok[row]
        leaving = used & ~alive[dst]
        if leaving.any():
            ok[row[leaving]] = False
            continue
        comp = _strong_components(S, src[used], dst[used])
        crossing = used & (comp[src] != comp[dst])
        if not crossing.any():
            break
        ok[row[crossing]] = False
    labels = np.full(S, -1)
    if alive.any():
        labels[alive] = np.unique(comp[alive], return_inverse=True)[1]
    return labels, ok.reshape(S, A)


def recurrent_classes(P_pi: sp.csr_matrix, live: np.ndarray) -> np.ndarray:
    """Closed classes of a policy's chain among the live states: ``(S,)`` labels, -1 elsewhere.

    A live state in a closed class never terminates; every other live state is transient.
    """
    n = P_pi.shape[0]
    r, c, _ = _entries(P_pi)
    comp = _strong_components(n, r, c)
    leaks = np.zeros(comp.max() + 1 if n else 0, bool)
    leaks[comp[r[comp[r] != comp[c]]]] = True
    leaks[comp[~live]] = True  # a class holding a terminal state is that state alone
    closed = ~leaks[comp]
    return np.where(closed, comp, -1)


def proper_greedy_policy(mdp: TabularMDP, Q: np.ndarray, near: np.ndarray) -> np.ndarray:
    """A greedy policy that moves towards termination wherever a near-greedy action can.

    Among the ``near`` (near-greedy) actions of each state, it takes the one most likely to reach
    a state fewer near-greedy steps from termination (breadth-first layers of the graph of
    near-greedy actions); a state with no such action takes its argmax.
    Wherever some near-greedy path reaches a terminal state, the policy terminates with
    probability 1 (each state has a positive chance of descending a layer).

    Arguments:
        mdp: the model.
        Q: ``(S, A)`` action values.
        near: ``(S, A)`` bool, the actions allowed (at least the argmax of each live state).
    """
    S, A = mdp.n_states, mdp.n_actions
    row, dst, _ = _entries(mdp.P)
    src = row // A
    usable = near.reshape(S * A)[row] & ~mdp.terminal[src]
    dist = _bfs_layers(S, src[usable], dst[usable], np.flatnonzero(mdp.terminal))
    _, _, prob = _entries(mdp.P)
    descend = np.zeros(S * A)
    down = usable & (dist[dst] < dist[src])
    np.add.at(descend, row[down], prob[down])
    descend = descend.reshape(S, A)
    # the near-greedy actions are tied up to the margin: take the one most likely to descend
    return np.where(descend.max(axis=1) > 0, np.argmax(descend, axis=1), np.argmax(np.where(near, Q, -np.inf), axis=1))


def _backup(mdp: TabularMDP, V: np.ndarray) -> np.ndarray:
    Q = mdp.R + (mdp.P @ V).reshape(mdp.n_states, mdp.n_actions)
    Q[mdp.terminal] = 0.0
    return Q


def _solve(A: sp.spmatrix, b: np.ndarray) -> np.ndarray:
    return np.asarray(spla.spsolve(A.tocsc(), b)).reshape(-1)


def _longest_expected_steps(mdp: TabularMDP, tight: np.ndarray, zero_ec: np.ndarray, max_iter: int = 200) -> np.ndarray | None:
    """w = 1 + max over tight actions of E[w(next)], with each zero-reward end component merged
    into one node (its internal moves are free) and terminal states at 0; ``None`` if unbounded.

    Solved by policy iteration on the merged graph; a state with no tight action has w = 1.
    """
    S, A = mdp.n_states, mdp.n_actions
    live = ~mdp.terminal
    node = np.where(zero_ec >= 0, S + zero_ec, np.arange(S))
    node = np.where(live, node, -1)
    ids, node_live = np.unique(node[live], return_inverse=True)
    n = ids.size
    node[live] = node_live
    pairs = np.flatnonzero((tight & live[:, None]).reshape(-1))
    owner = node[pairs // A]
    M = mdp.P[pairs]
    r, c, p = _entries(M)
    to_live = live[c]
    M = sp.csr_matrix((p[to_live], (r[to_live], node[c[to_live]])), shape=(pairs.size, n))  # terminal: w = 0
    # a proper start: each node takes a pair descending the layers towards "w known" nodes
    has_pair = np.zeros(n, bool)
    has_pair[owner] = True
    mr, mc, _ = _entries(M)
    leaks = np.asarray(M.sum(axis=1)).ravel() < 1.0 - 1e-12
    sinks = ~has_pair  # nodes without a tight pair: w = 1
    dist = _bfs_layers(n + 1, np.concatenate([owner[mr], owner[leaks]]), np.concatenate([mc, np.full(leaks.sum(), n)]),
                       np.concatenate([np.flatnonzero(sinks), [n]]))[:n]
    if np.isinf(dist[has_pair]).any():
        return None
    desc = np.zeros(pairs.size, bool)
    np.logical_or.at(desc, mr, dist[mc] < dist[owner[mr]])
    desc |= leaks
    order = np.lexsort((~desc, owner))  # per node, descending pairs first
    first = np.ones(order.size, bool)
    first[1:] = owner[order][1:] != owner[order][:-1]
    choice = np.full(n, -1)
    choice[owner[order][first]] = order[first]
    for _ in range(max_iter):
        act = np.flatnonzero(choice >= 0)
        place = sp.csr_matrix((np.ones(act.size), (act, np.arange(act.size))), shape=(n, act.size))
        chain = (place @ M[choice[act]]).tocsr()  # nodes without a tight pair have empty rows: w = 1
        if _has_stuck(chain):
            return None
        w = np.ones(n)
        w[act] = _solve(sp.identity(act.size, format="csr") - chain[act][:, act], 1.0 + chain[act][:, sinks] @ w[sinks])
        if not np.all(np.isfinite(w)):
            return None
        val = 1.0 + M @ w
        best = np.full(n, -np.inf)
        np.maximum.at(best, owner, val)
        better = act[best[act] > val[choice[act]] * (1.0 + 1e-12) + 1e-12]
        if not better.size:
            out = np.zeros(S)
            out[live] = w[node[live]]
            return out
        is_best = val >= best[owner] - 1e-12 * np.abs(best[owner])
        pick = np.full(n, -1)
        pick[owner[is_best][::-1]] = np.flatnonzero(is_best)[::-1]  # first best pair of each node
        choice[better] = pick[better]
    return None


def _has_stuck(P: sp.csr_matrix) -> bool:
    """Whether some node of a substochastic chain can never reach a leaking row (one summing below 1)."""
    n = P.shape[0]
    r, c, _ = _entries(P)
    leaks = np.asarray(P.sum(axis=1)).ravel() < 1.0 - 1e-12
    dist = _bfs_layers(n, r, c, np.flatnonzero(leaks))
    return bool(np.isinf(dist).any())


def unbounded_reason(mdp: TabularMDP) -> str:
    """Why the total reward may be unbounded (a positive reward inside an end component), or ''.

    Example:
        >>> unbounded_reason(TabularMDP.from_arrays(np.ones((1, 1, 1)), np.array([2.0])))
        'state 0, action 0 pays 2 inside a set of states a policy can stay in forever, so the total reward may be unbounded; use gamma < 1'
    """
    _, inside = end_components(mdp)
    earning = inside & (mdp.R > 0)
    if not earning.any():
        return ""
    s, a = np.argwhere(earning)[0]
    return (f"state {s}, action {a} pays {mdp.R[s, a]:g} inside a set of states a policy can stay in forever, "
            "so the total reward may be unbounded; use gamma < 1")


@dataclass
class SSPCertificate:
    """Certified bounds :math:`L \\le V^* \\le U` at gamma = 1, the policy achieving L, and why
    the bound is infinite when it is (``reason``)."""

    lower: np.ndarray
    upper: np.ndarray
    policy: np.ndarray
    bound: float
    reason: str = ""


def _fail(mdp: TabularMDP, policy: np.ndarray, reason: str) -> SSPCertificate:
    S = mdp.n_states
    return SSPCertificate(np.full(S, -np.inf), np.full(S, np.inf), policy, float("inf"), reason)


def certify_ssp(mdp: TabularMDP, V: np.ndarray, Q: np.ndarray | None = None) -> SSPCertificate:
    r"""Sound two-sided bounds on :math:`V^*` at :math:`\gamma = 1`, and so on :math:`\lVert V - V^*\rVert_\infty`.

    :math:`V^*(s)` is the supremum over policies of the expected total reward (0 at terminal
    states). Let :math:`Z` be the union of the zero-reward end components (:func:`end_components`
    using only pairs with :math:`R(s,a) = 0`). We require that no end component contains a pair
    with :math:`R(s,a) > 0` (otherwise a policy may earn without end; ``bound = inf``).

    *Upper side.* If :math:`U \ge TU` on live states, :math:`U = 0` on terminal states and
    :math:`U \ge 0` on :math:`Z`, then :math:`U \ge V^*`. Proof sketch: for any policy,
    :math:`U(s_t) + \sum_{k<t} r_k` is a supermartingale, so
    :math:`\mathbb{E}\sum_{k<n} r_k \le U(s_0) - \mathbb{E}\,U(s_n)`. Almost surely a run either
    terminates (:math:`U(s_n) \to 0`), or ends up in an end component using each of its actions
    infinitely often (de Alfaro 1997): inside :math:`Z` then (:math:`U \ge 0`), or using a pair of
    negative reward infinitely often (total :math:`-\infty`). So
    :math:`\limsup_n \mathbb{E}\sum_{k<n} r_k \le U(s_0)`.
    We build :math:`U = V_c + c\,w`: :math:`V_c` is V made constant on each zero-reward end
    component (its maximum there, at least 0: the value of staying forever); :math:`c` is the
    largest excess :math:`\max_a Q_{V_c}(s,a) - V_c(s)` plus a rounding allowance; :math:`w` is the
    longest expected number of steps to termination using near-tight actions, each zero-reward
    component merged into one node. Then :math:`U \ge TU` is *checked* pair by pair in float64
    with a margin covering the rounding of that check.

    *Lower side.* For the policy :math:`\mu` of :func:`proper_greedy_policy`, any :math:`L` with
    :math:`L \le T_\mu L` on the states :math:`\mu` leaves and :math:`L \le 0` on the zero-reward
    classes it stays in forever satisfies :math:`L \le V^\mu \le V^*` (the same martingale
    argument, reversed). We take :math:`L = V^\mu - \delta N_\mu` (exact evaluation, minus an
    allowance times the expected steps to absorption) and check :math:`L \le T_\mu L` in float64.

    The bound is :math:`\max(\max(U - V), \max(V - L))`. It grows with the expected time to
    termination, through which float64 rounding accumulates: on the gamble of ``tests/test_ssp.py``
    whose optimal policy needs :math:`10^{10}` expected steps, policy iteration's exact V is
    certified to 1.4e-4 only (and so not to a ``tol`` of 1e-6: ``converged=False``).

    Arguments:
        mdp: the model.
        V: ``(S,)`` candidate values.
        Q: optional ``T V`` already computed (unused for the certificate itself).

    Returns:
        An :class:`SSPCertificate` (``bound = inf`` with a ``reason`` when no finite bound holds).

    Example:
        >>> from envs import GridWorldEnv
        >>> mdp = GridWorldEnv("S..G", slip=0.2).mdp
        >>> cert = certify_ssp(mdp, np.array([1.0, 1.0, 1.0, 0.0]))
        >>> bool(cert.bound < 1e-12), cert.policy[:3].tolist()
        (True, [1, 1, 1])
    """
    S = mdp.n_states
    live = ~mdp.terminal
    V = np.asarray(V, dtype=np.float64)
    if V.shape != (S,):
        raise ValueError(f"V must have shape ({S},), got {V.shape}")
    Q0 = _backup(mdp, V) if Q is None else Q
    greedy = np.argmax(Q0, axis=1)
    if not np.all(np.isfinite(V)):
        return _fail(mdp, greedy, "V has non-finite entries")
    reason = unbounded_reason(mdp)
    if reason:
        return _fail(mdp, greedy, reason)
    zero_ec, zero_inside = end_components(mdp, mdp.R == 0.0)
    in_z = zero_ec >= 0
    Vc = np.where(live, V, 0.0)
    if in_z.any():
        top = np.zeros(zero_ec.max() + 1)  # staying forever is worth 0
        np.maximum.at(top, zero_ec[in_z], V[in_z])
        Vc[in_z] = top[zero_ec[in_z]]
    Qc = _backup(mdp, Vc)
    row_nnz = int(np.diff(mdp.P.indptr).max(initial=1))
    sums = np.asarray(mdp.P.sum(axis=1)).ravel()
    drift = float(np.max(np.abs(sums - 1.0), initial=0.0))  # rows sum to 1 within ROW_SUM_TOL

    def rounding(values: np.ndarray) -> float:  # error of one float64 backup of these values, with slack
        scale = max(1.0, float(np.max(np.abs(values), initial=0.0)), float(np.max(np.abs(mdp.R), initial=0.0)))
        return 4.0 * (row_nnz + 2) * EPS * scale + drift * scale

    check = live[:, None] & ~zero_inside
    excess = np.where(check, Qc - Vc[:, None], -np.inf)
    top_excess = max(0.0, float(excess.max(initial=-np.inf)))
    scale = max(1.0, float(np.max(np.abs(Vc), initial=0.0)))

    # upper side: U = Vc + c w, then U >= TU checked with a margin that covers the check's rounding
    upper, why = None, "no near-tight action set gives a finite longest time to termination"
    margin = rounding(Vc)
    c = top_excess + 2.0 * margin
    for theta in (64.0 * c, 1e-9 * scale, 1e-6 * scale, 1e-3 * scale):
        if theta < 64.0 * c:
            continue
        w = _longest_expected_steps(mdp, excess >= -theta, zero_ec)
        if w is None:
            continue
        for _ in range(3):  # a large c w enlarges the check's own rounding: widen c and retry
            U = Vc + c * w
            room = rounding(U)
            if np.all((_backup(mdp, U) - U[:, None])[check] <= -room) and np.all(U[in_z] >= 0.0):
                upper = U
                break
            c = top_excess + 2.0 * room
        if upper is not None:
            break
        why = "the super-solution check failed (V is too far from V* for this certificate)"
    # lower side: the exact value of a proper-preferring near-greedy policy, checked
    near = (Qc >= Qc.max(axis=1, keepdims=True) - max(64.0 * c, 1e-12)) | ~live[:, None]
    mu = proper_greedy_policy(mdp, Qc, near)
    P_mu, r_mu = mdp.policy_matrix(mu)
    rec = recurrent_classes(P_mu, live)
    in_rec = rec >= 0
    if upper is None:
        return _fail(mdp, mu, why)
    if np.any(r_mu[in_rec] != 0.0):
        return _fail(mdp, mu, "the greedy policy loops forever through rewards; V is far from V*")
    trans = np.flatnonzero(live & ~in_rec)
    L = np.zeros(S)
    if trans.size:
        M = sp.identity(trans.size, format="csr") - P_mu[trans][:, trans]
        V_mu = _solve(M, r_mu[trans])
        N_mu = _solve(M, np.ones(trans.size))
        if not (np.all(np.isfinite(V_mu)) and np.all(np.isfinite(N_mu))):
            return _fail(mdp, mu, "the greedy policy's evaluation is singular")
        full = np.zeros(S)
        full[trans] = V_mu
        resid = float(np.max(np.abs(r_mu[trans] + P_mu[trans] @ full - V_mu), initial=0.0))
        delta = resid + 4.0 * rounding(full)
        full[trans] = V_mu - delta * N_mu
        gain = r_mu[trans] + P_mu[trans] @ full - full[trans]
        if not np.all(gain >= rounding(full)):
            return _fail(mdp, mu, "the sub-solution check of the greedy policy's value failed")
        L = full
    if np.any(L > upper + 4.0 * rounding(upper)):
        return _fail(mdp, mu, "lower bound above upper bound: the model breaks the certificate's assumptions")
    bound = float(max(np.max(upper - V, initial=0.0), np.max(V - L, initial=0.0), 0.0))
    return SSPCertificate(L, upper, mu, bound)
