"""The exact model of a finite MDP: sparse transitions, rewards, terminals and start distribution."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
import scipy.sparse as sp

__all__ = ["TabularMDP"]

ROW_SUM_TOL = 1e-9


class _LazyRewardMatrix:
    """``TabularMDP.reward_matrix``: the stored matrix, or one built from ``entry_reward`` on first
    access (a data descriptor; dataclasses take its ``__get__(None, cls)`` as the field default)."""

    KEY = "_reward_matrix"  # where an instance keeps its matrix (a data descriptor's per-instance slot)

    def stored(self, mdp: TabularMDP) -> sp.csr_matrix | None:
        """The matrix the model holds now, without building one from ``entry_reward``."""
        return mdp.__dict__.get(self.KEY)

    def store(self, mdp: TabularMDP, value: sp.csr_matrix | None) -> None:
        mdp.__dict__[self.KEY] = value

    def __get__(self, mdp: TabularMDP | None, owner: type) -> sp.csr_matrix | None:
        if mdp is None:
            return None
        rm = self.stored(mdp)
        if rm is None and getattr(mdp, "entry_reward", None) is not None:
            P = mdp.P
            live_row = np.repeat(~mdp.terminal, mdp.n_actions)
            rm = sp.csr_matrix((np.where(np.repeat(live_row, np.diff(P.indptr)), mdp.entry_reward[P.indices], 0.0),
                                P.indices, P.indptr), shape=P.shape)
            rm.has_canonical_format = True
            rm.built_from = (P, mdp.entry_reward)  # dataclasses.replace hands it back with these
            self.store(mdp, rm)
        return rm

    def __set__(self, mdp: TabularMDP, value: sp.csr_matrix | None) -> None:
        self.store(mdp, None if value is self else value)  # the field's default is this descriptor


_REWARD_MATRIX = _LazyRewardMatrix()


@dataclass(eq=False)
class TabularMDP:
    r"""A finite Markov decision process held exactly.

    The model is the tuple (S, A, P, R, terminal, initial, gamma):

    - ``P``: scipy CSR of shape ``(S*A, S)``; row ``s*A + a`` is :math:`P(\cdot \mid s, a)`.
    - ``R``: ``(S, A)`` expected immediate reward :math:`R(s,a) = \sum_{s'} P(s'|s,a)\, r(s,a,s')`.
    - ``terminal``: ``(S,)`` bool. A terminal state is absorbing and pays nothing
      (its rows of ``P`` are self-loops and its rewards are 0).
    - ``initial``: ``(S,)`` start distribution.
    - ``gamma``: the discount the world is meant to be solved with (solvers default to it).
    - ``reward_matrix``: optional CSR with the sparsity of ``P`` holding :math:`r(s,a,s')`,
      so an env can pay the reward of the transition it sampled. When absent, a step pays
      ``R[s, a]``.
    - ``entry_reward``: optional ``(S,)``, the compact form of ``reward_matrix`` for worlds that
      pay on entering a state (gridworlds): :math:`r(s,a,s') = \text{entry\_reward}[s']` for
      live ``s`` and 0 from terminal ``s``. ``reward_matrix`` is then built from it on first
      use, which keeps a 10^6-state model 96 MB lighter until something needs it.

    Every array is validated on construction; an inconsistent model raises ``ValueError``
    naming the offending state and action. ``validate=False`` skips the O(nnz) checks of P for
    builders that guarantee them by construction (``GridWorldEnv``, whose builder is tested).

    Example:
        >>> import numpy as np
        >>> mdp = TabularMDP.from_arrays(np.array([[[0., 1.], [0., 1.]]]), np.array([0., 1.]))
        >>> mdp.n_states, mdp.n_actions
        (2, 1)
    """

    P: sp.csr_matrix
    R: np.ndarray
    terminal: np.ndarray
    initial: np.ndarray
    gamma: float = 0.99
    reward_matrix: sp.csr_matrix | None = field(default=_REWARD_MATRIX, repr=False)
    info: dict[str, Any] = field(default_factory=dict)
    validate: bool = field(default=True, repr=False)
    entry_reward: np.ndarray | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        R = np.asarray(self.R, dtype=np.float64)
        if R.ndim != 2:
            raise ValueError(f"R must have shape (S, A), got {R.shape}")
        S, A = R.shape
        P = self.P if isinstance(self.P, sp.csr_matrix) and self.P.dtype == np.float64 else sp.csr_matrix(self.P, dtype=np.float64)
        if P.shape != (S * A, S):
            raise ValueError(f"P must have shape (S*A, S) = ({S * A}, {S}) to match R {R.shape}, got {P.shape}")
        P.sum_duplicates()
        P.sort_indices()
        self.P, self.R = P, R
        self.terminal = np.asarray(self.terminal, dtype=bool).reshape(-1)
        self.initial = np.asarray(self.initial, dtype=np.float64).reshape(-1)
        if self.terminal.shape != (S,):
            raise ValueError(f"terminal must have shape ({S},), got {self.terminal.shape}")
        if self.initial.shape != (S,):
            raise ValueError(f"initial must have shape ({S},), got {self.initial.shape}")
        if not 0.0 < self.gamma <= 1.0:
            raise ValueError(f"gamma must be in (0, 1], got {self.gamma}")
        if self.entry_reward is not None:
            given = _REWARD_MATRIX.stored(self)
            built_from = getattr(given, "built_from", None)
            if built_from is not None and built_from[0] is self.P and np.array_equal(built_from[1], self.entry_reward):
                _REWARD_MATRIX.store(self, None)  # the matrix this model's entry_reward gives: rebuilt lazily
            elif given is not None:
                raise ValueError("give reward_matrix or entry_reward, not both")
            self.entry_reward = np.asarray(self.entry_reward, dtype=np.float64).reshape(-1)
            if self.entry_reward.shape != (S,):
                raise ValueError(f"entry_reward must have shape ({S},), got {self.entry_reward.shape}")
        if self.validate:
            self._validate()

    # ------------------------------------------------------------------ validation
    def _name(self, row: int) -> str:
        s, a = divmod(int(row), self.n_actions)
        return f"state {s}, action {a}"

    def _validate(self) -> None:
        P = self.P
        if not np.all(np.isfinite(P.data)):
            row = _row_of(P, int(np.flatnonzero(~np.isfinite(P.data))[0]))
            raise ValueError(f"P has a non-finite entry at {self._name(row)}")
        if np.any(P.data < 0):
            row = _row_of(P, int(np.flatnonzero(P.data < 0)[0]))
            raise ValueError(f"P has a negative entry at {self._name(row)}")
        sums = np.asarray(P.sum(axis=1)).ravel()
        bad = np.flatnonzero(np.abs(sums - 1.0) > ROW_SUM_TOL)
        if bad.size:
            raise ValueError(
                f"P(.|s,a) must sum to 1 (tolerance {ROW_SUM_TOL}); {self._name(bad[0])} sums to {float(sums[bad[0]]):.12g}"
            )
        if not np.all(np.isfinite(self.R)):
            s, a = np.argwhere(~np.isfinite(self.R))[0]
            raise ValueError(f"R has a non-finite entry at state {s}, action {a}")
        if np.any(self.initial < 0) or abs(self.initial.sum() - 1.0) > 1e-9:
            raise ValueError(f"initial must be a probability vector, it sums to {float(self.initial.sum()):.12g}")
        if self.entry_reward is not None and not np.all(np.isfinite(self.entry_reward)):
            raise ValueError(f"entry_reward has a non-finite entry at state {int(np.flatnonzero(~np.isfinite(self.entry_reward))[0])}")
        if _REWARD_MATRIX.stored(self) is not None:
            Rm = sp.csr_matrix(self.reward_matrix, dtype=np.float64)
            if Rm.shape != P.shape:
                raise ValueError(f"reward_matrix must have shape {P.shape}, got {Rm.shape}")
            self.reward_matrix = Rm

    # ------------------------------------------------------------------ sizes
    @property
    def n_states(self) -> int:
        return self.R.shape[0]

    @property
    def n_actions(self) -> int:
        return self.R.shape[1]

    @property
    def live(self) -> np.ndarray:
        """Indices of the non-terminal states."""
        return np.flatnonzero(~self.terminal)

    def transitions(self, s: int, a: int) -> tuple[np.ndarray, np.ndarray]:
        """Successor states and their probabilities for the pair (s, a)."""
        row = s * self.n_actions + a
        lo, hi = self.P.indptr[row], self.P.indptr[row + 1]
        return self.P.indices[lo:hi], self.P.data[lo:hi]

    def transition_reward(self, s: int, a: int, s_next: int) -> float:
        """r(s, a, s'): the reward paid for the transition, or R[s, a] without a reward matrix."""
        if self.reward_matrix is None:  # builds it from entry_reward when that is how it is held
            return float(self.R[s, a])
        return float(self.reward_matrix[s * self.n_actions + a, s_next])

    # ------------------------------------------------------------------ policies
    def policy_matrix(self, policy: np.ndarray | str) -> tuple[sp.csr_matrix, np.ndarray]:
        r"""Transition matrix and reward vector of a policy.

        :math:`P_\pi(s, s') = \sum_a \pi(a|s) P(s'|s,a)` and :math:`r_\pi(s) = \sum_a \pi(a|s) R(s,a)`.

        Arguments:
            policy: deterministic ``(S,)`` integer actions, or stochastic ``(S, A)`` rows summing to 1.

        Returns:
            ``(P_pi, r_pi)``: a CSR ``(S, S)`` and an ``(S,)`` array.
        """
        pi = self.policy_probs(policy)
        S, A = self.n_states, self.n_actions
        if np.asarray(policy).ndim == 1:  # deterministic: select rows, cheaper than a product
            actions = pi.argmax(axis=1)
            return self.P[np.arange(S) * A + actions], self.R[np.arange(S), actions]
        rows = np.repeat(np.arange(S), A)
        Pi = sp.csr_matrix((pi.ravel(), (rows, np.arange(S * A))), shape=(S, S * A))
        Pi.eliminate_zeros()
        return (Pi @ self.P).tocsr(), (pi * self.R).sum(axis=1)

    def policy_probs(self, policy: np.ndarray | str) -> np.ndarray:
        """A policy as an ``(S, A)`` matrix of action probabilities, validated.

        ``policy``: ``"uniform"``, deterministic ``(S,)`` actions or ``(S, A)`` probabilities.
        """
        S, A = self.n_states, self.n_actions
        if isinstance(policy, str):
            if policy != "uniform":
                raise ValueError(f"policy must be 'uniform' or an array, got {policy!r}")
            return np.full((S, A), 1.0 / A)
        policy = np.asarray(policy)
        if policy.shape == (S,):
            if not np.issubdtype(policy.dtype, np.integer):
                if not np.all(np.equal(np.mod(policy, 1), 0)):
                    raise ValueError("a deterministic policy must hold integer actions")
                policy = policy.astype(np.int64)
            if policy.min(initial=0) < 0 or policy.max(initial=0) >= A:
                s = int(np.flatnonzero((policy < 0) | (policy >= A))[0])
                raise ValueError(f"policy action {policy[s]} at state {s} is outside [0, {A})")
            pi = np.zeros((S, A))
            pi[np.arange(S), policy] = 1.0
            return pi
        if policy.shape == (S, A):
            pi = policy.astype(np.float64)
            bad = np.flatnonzero((np.abs(pi.sum(axis=1) - 1.0) > 1e-6) | np.any(pi < 0, axis=1))
            if bad.size:
                raise ValueError(f"policy row of state {bad[0]} is not a probability vector: {pi[bad[0]]}")
            return pi
        raise ValueError(f"policy must have shape ({S},) or ({S}, {A}), got {policy.shape}")

    def state_distributions(self, policy: np.ndarray, horizon: int, start: np.ndarray | None = None) -> np.ndarray:
        r"""Exact k-step state distributions under a policy, :math:`d_{k+1} = d_k P_\pi`, k = 0..horizon.

        Terminal states are absorbing, so mass that has terminated stays where it ended.

        Arguments:
            policy: ``(S,)`` or ``(S, A)`` policy.
            horizon: number of steps H.
            start: start distribution; defaults to ``initial``.

        Returns:
            ``(H + 1, S)`` array whose row k is the distribution of :math:`s_k`.
        """
        P_pi, _ = self.policy_matrix(policy)
        PT = P_pi.T.tocsr()
        d = np.empty((horizon + 1, self.n_states))
        d[0] = self.initial if start is None else np.asarray(start, dtype=np.float64)
        for k in range(horizon):
            d[k + 1] = PT @ d[k]
        return d

    def sample_states(self, policy: np.ndarray, horizon: int, rng: np.random.Generator, start: int | None = None) -> np.ndarray:
        """One trajectory of states s_0..s_H sampled from the exact model under a policy.

        ``start`` defaults to a draw from ``initial``; a terminal state repeats once reached.

        Example:
            >>> from envs import GridWorldEnv
            >>> mdp = GridWorldEnv("S..G").mdp
            >>> mdp.sample_states(np.ones(4, int), 4, np.random.default_rng(0)).tolist()
            [0, 1, 2, 3, 3]
        """
        pi = self.policy_probs(policy)
        s = int(rng.choice(self.n_states, p=self.initial)) if start is None else int(start)
        states = [s]
        for _ in range(horizon):
            if not self.terminal[s]:
                nxt, p = self.transitions(s, int(rng.choice(self.n_actions, p=pi[s])))
                s = int(rng.choice(nxt, p=p))
            states.append(s)
        return np.array(states)

    # ------------------------------------------------------------------ constructors
    @classmethod
    def from_arrays(
        cls,
        P: np.ndarray | Sequence[Any],
        R: np.ndarray,
        terminal: np.ndarray | None = None,
        initial: np.ndarray | None = None,
        gamma: float = 0.99,
    ) -> "TabularMDP":
        """Build from pymdptoolbox's conventions.

        Arguments:
            P: dense ``(A, S, S)`` array or a list of A sparse/dense ``(S, S)`` matrices, ``P[a][s, s']``.
            R: ``(S,)`` state reward, ``(S, A)`` state-action reward, or ``(A, S, S)`` transition reward.
            terminal: ``(S,)`` bool; default none.
            initial: ``(S,)`` start distribution; default uniform over non-terminal states.
            gamma: discount.

        Example:
            >>> import mdptoolbox.example
            >>> P, R = mdptoolbox.example.forest()
            >>> TabularMDP.from_arrays(P, R).n_states
            3
        """
        mats = [sp.csr_matrix(Pa, dtype=np.float64) for Pa in P]
        A = len(mats)
        if A == 0:
            raise ValueError("P must hold at least one action")
        S = mats[0].shape[0]
        for a, Pa in enumerate(mats):
            if Pa.shape != (S, S):
                raise ValueError(f"P[{a}] must have shape ({S}, {S}), got {Pa.shape}")
        # rows ordered s*A + a: stack per action then permute rows
        stacked = sp.vstack(mats, format="csr")  # row a*S + s
        order = (np.arange(S)[:, None] + S * np.arange(A)[None, :]).ravel()
        P_sa = stacked[order]
        reward_matrix = None
        if isinstance(R, (list, tuple)) or (hasattr(R, "ndim") and R.ndim == 3):
            Rm = [sp.csr_matrix(Ra, dtype=np.float64) for Ra in R]
            if len(Rm) != A or any(r.shape != (S, S) for r in Rm):
                raise ValueError(f"R as transition rewards must have shape ({A}, {S}, {S})")
            reward_matrix = P_sa.copy()
            reward_matrix.data = _values_at(sp.vstack(Rm, format="csr")[order], P_sa)
            R_sa = np.asarray(P_sa.multiply(reward_matrix).sum(axis=1)).reshape(S, A)
        else:
            R = np.asarray(R, dtype=np.float64)
            if R.shape == (S,):
                R_sa = np.repeat(R[:, None], A, axis=1)
            elif R.shape == (S, A):
                R_sa = R
            else:
                raise ValueError(f"R must have shape ({S},), ({S}, {A}) or ({A}, {S}, {S}), got {R.shape}")
        term = np.zeros(S, bool) if terminal is None else np.asarray(terminal, bool)
        if initial is None:
            live = (~term).astype(np.float64)
            initial = live / live.sum() if live.sum() else np.full(S, 1.0 / S)
        return cls(P_sa, R_sa, term, initial, gamma=gamma, reward_matrix=reward_matrix)

    @classmethod
    def from_gym(cls, env: Any, gamma: float = 0.99, verify: int = 300) -> "TabularMDP":
        """Read the model of any env exposing toy_text's ``P`` dict (FrozenLake, CliffWalking, Taxi).

        ``P[s][a]`` is a list of ``(prob, next_state, reward, terminated)``. A transition flagged
        ``terminated`` ends the episode: its next state is made terminal when every transition
        into it is terminating (FrozenLake's holes and goal); otherwise it is routed to one added
        absorbing state, numbered last (Taxi's drop-off). Duplicate next states are merged and
        their rewards probability-weighted. Original states keep their numbers. The start
        distribution is the env's ``initial_state_distrib`` (toy_text's attribute; gridlab's envs
        have it too), uniform over the states when the env has none.

        What was read is then checked against the env's own ``step`` (``envs.verify.check_model``:
        support, terminated flags, rewards and a frequency test over ``verify`` sampled steps): a
        ``P`` table that does not describe the env (Taxi with ``fickle_passenger=True``) is refused
        with a ``ValueError`` naming the pair and what differed. The check resets and steps the env.

        Arguments:
            env: the env, wrapped or not.
            gamma: discount to attach to the model.
            verify: env steps of the check (default 300, a few milliseconds); 0 skips it.

        Example:
            >>> import gymnasium as gym
            >>> TabularMDP.from_gym(gym.make("FrozenLake-v1")).n_states
            16
        """
        base = getattr(env, "unwrapped", env)
        table = getattr(base, "P", None)
        if not isinstance(table, dict):
            raise ValueError(f"{type(base).__name__} exposes no toy_text P dict; cannot read its model")
        S = len(table)
        A = len(table[0])
        arr = np.array([(s, a, p, s2, r, bool(done)) for s in range(S) for a in range(A)
                        for (p, s2, r, done) in table[s][a]], dtype=np.float64)
        s_, a_, p_, s2_, r_, d_ = arr.T
        s_, a_, s2_, d_ = s_.astype(int), a_.astype(int), s2_.astype(int), d_.astype(bool)
        # a state is terminal when every transition into it terminates
        into_done = np.zeros(S, bool)
        into_live = np.zeros(S, bool)
        np.logical_or.at(into_done, s2_[d_], True)
        np.logical_or.at(into_live, s2_[~d_], True)
        terminal = into_done & ~into_live
        needs_sink = d_ & ~terminal[s2_]
        n = S + 1 if needs_sink.any() else S
        target = np.where(needs_sink, S, s2_)
        terminal = np.concatenate([terminal, [True]]) if n > S else terminal
        rows = s_ * A + a_
        keep = ~terminal[s_]
        P = sp.coo_matrix((p_[keep], (rows[keep], target[keep])), shape=(n * A, n)).tocsr()
        PR = sp.coo_matrix((p_[keep] * r_[keep], (rows[keep], target[keep])), shape=(n * A, n)).tocsr()
        dead = np.flatnonzero(terminal)
        loops = sp.coo_matrix(
            (np.ones(dead.size * A), (np.repeat(dead * A, A) + np.tile(np.arange(A), dead.size), np.repeat(dead, A))),
            shape=(n * A, n),
        ).tocsr()
        P = (P + loops).tocsr()
        P.sum_duplicates()
        R = np.asarray(PR.sum(axis=1)).reshape(n, A)
        reward_matrix = P.copy()
        reward_matrix.data = np.divide(_values_at(PR, P), P.data, out=np.zeros_like(P.data), where=P.data > 0)
        init = getattr(base, "initial_state_distrib", None)
        init = np.full(S, 1.0 / S) if init is None else np.asarray(init, dtype=np.float64)
        initial = np.zeros(n)
        initial[:S] = init
        mdp = cls(P, R, terminal, initial, gamma=gamma, reward_matrix=reward_matrix,
                  info={"source": type(base).__name__, "absorbing_state": S if n > S else None})
        if isinstance(verify, bool) or not isinstance(verify, (int, np.integer)) or verify < 0:
            raise ValueError(f"verify must be an integer >= 0 (steps of the check; 0 skips it), got {verify!r}")
        if verify:
            from envs.verify import check_model

            check_model(env, mdp, steps=verify)
        return mdp

    # ------------------------------------------------------------------ toy_text view
    def to_gym_dict(self) -> dict[int, dict[int, list[tuple[float, int, float, bool]]]]:
        """The model as toy_text's ``P[s][a] = [(prob, next_state, reward, terminated), ...]``."""
        out: dict[int, dict[int, list[tuple[float, int, float, bool]]]] = {}
        for s in range(self.n_states):
            out[s] = {}
            for a in range(self.n_actions):
                nxt, prob = self.transitions(s, a)
                if self.terminal[s]:
                    out[s][a] = [(1.0, s, 0.0, True)]
                    continue
                out[s][a] = [
                    (float(p), int(s2), self.transition_reward(s, a, int(s2)), bool(self.terminal[s2]))
                    for s2, p in zip(nxt, prob)
                ]
        return out


def _row_of(M: sp.csr_matrix, k: int) -> int:
    """Row holding the k-th stored entry of a CSR matrix."""
    return int(np.searchsorted(M.indptr, k, side="right") - 1)


def _values_at(M: sp.spmatrix, pattern: sp.csr_matrix) -> np.ndarray:
    """Values of M at the stored positions of a CSR pattern, in the pattern's data order."""
    rows = np.repeat(np.arange(pattern.shape[0]), np.diff(pattern.indptr))
    return np.asarray(sp.csr_matrix(M)[rows, pattern.indices]).ravel()
