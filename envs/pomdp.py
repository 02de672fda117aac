r"""A finite partially observable MDP held exactly, and its exact belief: the forward algorithm.

A :class:`TabularPOMDP` is a :class:`~envs.mdp.TabularMDP` (the hidden dynamics :math:`T(s'|s,a)`,
rewards :math:`R(s,a)`, terminal states, the initial belief :math:`b_0` and the discount) plus an
emission model :math:`O(o \mid s', a)`: the observation depends on the state the action led to
and on the action (Cassandra's convention, that of pomdp-solve, SARSOP and POMDPs.jl).

The belief after acting :math:`a` and seeing :math:`o` is the forward algorithm's step

.. math:: b'(s') = \frac{O(o \mid s', a) \sum_s b(s)\, T(s' \mid s, a)}{P(o \mid b, a)}, \qquad
          P(o \mid b, a) = \sum_{s'} O(o \mid s', a) \sum_s b(s)\, T(s' \mid s, a),

and the product of the normalisers is the likelihood of the observations,
:math:`P(o_{1:T} \mid a_{1:T}) = \prod_t P(o_t \mid b_{t-1}, a_t)`: the hidden Markov model of the
lecture, with actions. :meth:`TabularPOMDP.filter` runs it over many sequences at once, rescaled
at every step so that long sequences neither underflow nor lose precision.

Example:
    >>> import numpy as np
    >>> from envs.pomdp import TabularPOMDP
    >>> T = np.array([np.eye(2)])                   # one action that leaves the state alone
    >>> O = np.array([[[0.85, 0.15], [0.15, 0.85]]])  # a sensor right 85% of the time
    >>> tiger = TabularPOMDP.from_arrays(T, np.zeros((2, 1)), O, b0=[0.5, 0.5], gamma=0.95)
    >>> tiger.belief_update(tiger.b0, 0, 0).round(4)
    array([0.85, 0.15])
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Sequence

import numpy as np
import scipy.sparse as sp

from envs.mdp import TabularMDP

__all__ = ["TabularPOMDP", "FilterResult", "BELIEF_TOL"]

BELIEF_TOL = 1e-9  # a belief's entries must sum to 1 within this
DENSE_MAX = 4_000_000  # transition entries (S * S * A) up to which the forward step uses dense products


@dataclass(frozen=True)
class FilterResult:
    """The forward algorithm's output over ``N`` sequences of length ``T``.

    Attributes:
        beliefs: ``(N, T + 1, S)``: :math:`b_0, b_1, \\dots, b_T` of each sequence. After an impossible
            observation a sequence's belief stays where it was (see ``impossible_at``).
        log_prob: ``(N,)``: :math:`\\log P(o_{1:T} \\mid a_{1:T})`, ``-inf`` for an impossible sequence.
        impossible_at: ``(N,)``: the first step (1-based) whose observation has probability 0,
            or 0 where every observation is possible.
    """

    beliefs: np.ndarray
    log_prob: np.ndarray
    impossible_at: np.ndarray

    @property
    def possible(self) -> np.ndarray:
        """``(N,)`` bool: sequences whose every observation had positive probability."""
        return self.impossible_at == 0


@dataclass(eq=False)
class TabularPOMDP:
    r"""A finite POMDP: hidden dynamics and rewards (a :class:`~envs.mdp.TabularMDP`) and emissions.

    Arguments:
        mdp: the hidden MDP; its ``initial`` is the initial belief :math:`b_0` and its ``gamma``
            the discount.
        O: ``(A, S, Z)`` emission probabilities, ``O[a, s', o]`` :math:`= O(o \mid s', a)`; each
            ``O[a, s']`` sums to 1.
        states, actions, observations: names (default ``"0"``, ``"1"``, ...), as a ``.pomdp`` file
            gives them.
        info: free-form provenance (``source``, ``values``: ``"reward"`` or ``"cost"``); a gridworld POMDP
            also gives its map, ``layout`` (rows of text), and ``state_rc``, each state's (row, column).

    Example:
        >>> T = np.array([np.eye(2)]); O = np.array([[[1.0, 0.0], [0.0, 1.0]]])
        >>> TabularPOMDP.from_arrays(T, np.zeros((2, 1)), O).n_observations
        2
    """

    mdp: TabularMDP
    O: np.ndarray
    states: tuple[str, ...] = ()
    actions: tuple[str, ...] = ()
    observations: tuple[str, ...] = ()
    info: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.mdp, TabularMDP):
            raise TypeError(f"mdp must be a TabularMDP, got {type(self.mdp).__name__}")
        S, A = self.mdp.n_states, self.mdp.n_actions
        O = np.asarray(self.O, dtype=np.float64)
        if O.ndim != 3 or O.shape[:2] != (A, S) or O.shape[2] < 1:
            raise ValueError(f"O must have shape (A, S, Z) = ({A}, {S}, Z), got {O.shape}")
        if not np.all(np.isfinite(O)) or np.any(O < 0):
            a, s, _ = np.argwhere(~np.isfinite(O) | (O < 0))[0]
            raise ValueError(f"O(.|s', a) has a negative or non-finite entry at state {s}, action {a}")
        sums = O.sum(axis=2)
        bad = np.argwhere(np.abs(sums - 1.0) > 1e-9)
        if bad.size:
            a, s = bad[0]
            raise ValueError(f"O(.|s', a) must sum to 1; state {s}, action {a} sums to {sums[a, s]:.12g}")
        self.O = O
        self.states = tuple(self.states) or tuple(str(i) for i in range(S))
        self.actions = tuple(self.actions) or tuple(str(i) for i in range(A))
        self.observations = tuple(self.observations) or tuple(str(i) for i in range(O.shape[2]))
        for what, names, n in (("states", self.states, S), ("actions", self.actions, A),
                               ("observations", self.observations, O.shape[2])):
            if len(names) != n:
                raise ValueError(f"{what} must name {n} entries, got {len(names)}")
        self.check_belief(self.mdp.initial, "the initial belief")
        self.T = [self.mdp.P[a::A].tocsr() for a in range(A)]  # T_a as S x S' CSR: rows s*A + a of P
        self._Oz = np.ascontiguousarray(self.O.transpose(0, 2, 1))  # (A, Z, S): O(o | ., a) as a row

    # the forms of T the forward step reads, each built on first use (the filter needs only the last)
    @cached_property
    def _Td(self) -> list[np.ndarray] | None:
        """Dense T_a for ``b @ T_a`` while small (a dense product is far cheaper than a sparse one's set-up)."""
        return [Ta.toarray() for Ta in self.T] if self.n_states ** 2 * self.n_actions <= DENSE_MAX else None

    @cached_property
    def _Tt(self) -> list[sp.csr_matrix]:
        """T_a^T as CSR, for ``T_a^T @ b`` in large sparse models."""
        return [Ta.T.tocsr() for Ta in self.T]

    @cached_property
    def _stacked(self) -> sp.csr_matrix:
        r"""Every action's :math:`T_a^\top` stacked (row ``a*S + s'``), 64-bit indices, for the compiled filter."""
        Tt = sp.vstack(self._Tt).tocsr()
        Tt.sort_indices()
        return sp.csr_matrix((Tt.data.astype(np.float64), Tt.indices.astype(np.int64), Tt.indptr.astype(np.int64)),
                             shape=Tt.shape)

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_arrays(cls, T: np.ndarray | Sequence[Any], R: np.ndarray, O: np.ndarray, b0: np.ndarray | None = None,
                    gamma: float = 0.95, terminal: np.ndarray | None = None, **names: Any) -> "TabularPOMDP":
        """Build from dense arrays: ``T[a, s, s']``, ``R[s, a]``, ``O[a, s', o]`` and ``b0[s]``
        (default uniform); ``names`` are ``states``, ``actions``, ``observations`` and ``info``.

        Example:
            >>> m = TabularPOMDP.from_arrays(np.array([np.eye(3)]), np.zeros((3, 1)), np.full((1, 3, 2), 0.5))
            >>> m.b0
            array([0.33333333, 0.33333333, 0.33333333])
        """
        T = np.asarray(T, dtype=np.float64)
        if T.ndim != 3 or T.shape[1] != T.shape[2]:
            raise ValueError(f"T must have shape (A, S, S), got {T.shape}")
        A, S, _ = T.shape
        P = sp.csr_matrix(T.transpose(1, 0, 2).reshape(S * A, S))
        b0 = np.full(S, 1.0 / S) if b0 is None else np.asarray(b0, dtype=np.float64)
        terminal = np.zeros(S, dtype=bool) if terminal is None else terminal
        return cls(TabularMDP(P, np.asarray(R, dtype=np.float64), terminal, b0, gamma=gamma), O, **names)

    # ------------------------------------------------------------------ sizes
    @property
    def n_states(self) -> int:
        """The number of hidden states."""
        return self.mdp.n_states

    @property
    def n_actions(self) -> int:
        """The number of actions."""
        return self.mdp.n_actions

    @property
    def n_observations(self) -> int:
        """The number of observations."""
        return int(self.O.shape[2])

    @property
    def b0(self) -> np.ndarray:
        """The initial belief (the hidden MDP's start distribution)."""
        return self.mdp.initial

    @property
    def gamma(self) -> float:
        """The discount."""
        return float(self.mdp.gamma)

    @property
    def R(self) -> np.ndarray:
        """``(S, A)`` expected immediate rewards of the hidden MDP."""
        return self.mdp.R

    # ------------------------------------------------------------------ the belief
    def check_belief(self, b: np.ndarray, what: str = "belief") -> np.ndarray:
        """``b`` as a float array if it is a distribution over the states; else ``ValueError``.

        Example:
            >>> m = TabularPOMDP.from_arrays(np.array([np.eye(2)]), np.zeros((2, 1)), np.full((1, 2, 1), 1.0))
            >>> m.check_belief([0.5, 0.6])
            Traceback (most recent call last):
            ...
            ValueError: belief must sum to 1 (within 1e-09), got 1.1
        """
        b = np.asarray(b, dtype=np.float64)
        if b.shape[-1:] != (self.n_states,):
            raise ValueError(f"{what} must have {self.n_states} entries, got shape {b.shape}")
        if not np.all(np.isfinite(b)) or np.any(b < 0):
            raise ValueError(f"{what} must be non-negative and finite")
        total = b.sum(axis=-1)
        if np.any(np.abs(total - 1.0) > BELIEF_TOL):
            worst = float(np.ravel(total)[np.argmax(np.abs(np.ravel(total) - 1.0))])
            raise ValueError(f"{what} must sum to 1 (within {BELIEF_TOL:g}), got {worst:.12g}")
        return b

    def predict(self, b: np.ndarray, a: int) -> np.ndarray:
        r""":math:`\sum_s b(s)\, T(s' \mid s, a)` for a belief ``b`` (or a batch ``(N, S)``)."""
        b = np.asarray(b, dtype=np.float64)
        if self._Td is not None:
            return b @ self._Td[a]
        return np.asarray(self._Tt[a] @ b.T).T

    def observation_probs(self, b: np.ndarray, a: int) -> np.ndarray:
        r""":math:`P(o \mid b, a)` for every ``o``: ``(Z,)``.

        Example:
            >>> m = TabularPOMDP.from_arrays(np.array([np.eye(2)]), np.zeros((2, 1)), np.array([[[0.85, 0.15], [0.15, 0.85]]]))
            >>> m.observation_probs(m.b0, 0)
            array([0.5, 0.5])
        """
        return self.predict(self.check_belief(b), a) @ self.O[a]

    def belief_update(self, b: np.ndarray, a: int, o: int) -> np.ndarray:
        r"""The belief after acting ``a`` in belief ``b`` and seeing ``o`` (the module's formula).

        Raises:
            ValueError: ``b`` is not a distribution, ``a`` or ``o`` is out of range, or ``o`` has
                probability 0 after ``a`` in ``b``.
        """
        b = self.check_belief(b)
        a, o = self._index(a, self.n_actions, "action"), self._index(o, self.n_observations, "observation")
        joint = self.predict(b, a) * self.O[a, :, o]
        total = joint.sum()
        if total <= 0.0:
            raise ValueError(f"observation {self.observations[o]!r} has probability 0 after action "
                             f"{self.actions[a]!r} in this belief")
        return joint / total

    def filter(self, actions: np.ndarray, observations: np.ndarray, b0: np.ndarray | None = None,
               strict: bool = False, keep: str = "all") -> FilterResult:
        r"""The forward algorithm over ``N`` sequences at once: every belief and the exact log-likelihood.

        :math:`b_t = \text{update}(b_{t-1}, a_t, o_t)` and
        :math:`\log P(o_{1:T} \mid a_{1:T}) = \sum_t \log P(o_t \mid b_{t-1}, a_t)`, where each
        :math:`o_t` followed the action :math:`a_t`. The beliefs are renormalised at every step
        (the rescaled forward algorithm), so nothing underflows however long the sequences.

        Arguments:
            actions, observations: ``(T,)`` for one sequence or ``(N, T)`` for ``N``, integer indices.
            b0: the starting belief, ``(S,)`` or one per sequence ``(N, S)``; default the model's.
            strict: raise ``ValueError`` at the first impossible observation, naming the sequence,
                the step, the action and the observation; otherwise report it in the result.
            keep: ``"all"`` beliefs (``(N, T + 1, S)``; refused up front when they would not fit in
                memory) or only the ``"last"`` (``(N, 1, S)``).

        Returns:
            A :class:`FilterResult` (with a leading axis of 1 for a single sequence).

        Example:
            >>> m = TabularPOMDP.from_arrays(np.array([np.eye(2)]), np.zeros((2, 1)), np.array([[[0.85, 0.15], [0.15, 0.85]]]))
            >>> r = m.filter([0, 0], [0, 0])
            >>> r.beliefs[0, -1].round(4), round(float(np.exp(r.log_prob[0])), 4)
            (array([0.9698, 0.0302]), 0.3725)
        """
        acts = np.atleast_2d(np.asarray(actions, dtype=np.int64))
        obs = np.atleast_2d(np.asarray(observations, dtype=np.int64))
        if acts.shape != obs.shape:
            raise ValueError(f"actions {acts.shape} and observations {obs.shape} must have the same shape")
        for what, x, n in (("action", acts, self.n_actions), ("observation", obs, self.n_observations)):
            if x.size and (x.min() < 0 or x.max() >= n):
                raise ValueError(f"{what} indices must be in [0, {n}), got {int(x.min() if x.min() < 0 else x.max())}")
        N, steps = acts.shape
        start = self.b0 if b0 is None else self.check_belief(b0, "b0")
        B = np.broadcast_to(start, (N, self.n_states)).astype(np.float64, copy=True)
        if keep == "all":
            from envs.resources import require_memory

            require_memory(8.0 * N * (steps + 1) * self.n_states, f"{N:,} x {steps + 1} beliefs of {self.n_states} states")
            beliefs = np.empty((N, steps + 1, self.n_states))
            beliefs[:, 0] = B
        elif keep != "last":
            raise ValueError(f"keep must be 'all' or 'last', got {keep!r}")
        else:
            beliefs = np.empty((N, 1, self.n_states))
        log_prob = np.zeros(N)
        impossible_at = np.zeros(N, dtype=np.int64)
        from envs.belief_kernel import forward  # numba: imported when a filter first runs

        Tt = self._stacked
        forward(Tt.indptr, Tt.indices, Tt.data, self._Oz, acts, obs, B, beliefs, keep == "all", log_prob, impossible_at)
        if strict and impossible_at.any():
            n = int(np.flatnonzero(impossible_at)[0])
            t = int(impossible_at[n]) - 1
            raise ValueError(f"sequence {n}, step {t + 1}: observation {self.observations[obs[n, t]]!r} "
                             f"has probability 0 after action {self.actions[acts[n, t]]!r}")
        return FilterResult(beliefs, log_prob, impossible_at)

    def _index(self, x: int | str, n: int, what: str) -> int:
        names = {"action": self.actions, "observation": self.observations, "state": self.states}[what]
        if isinstance(x, str):
            if x not in names:
                raise ValueError(f"unknown {what} {x!r}; known: {', '.join(names)}")
            return names.index(x)
        if not 0 <= int(x) < n:
            raise ValueError(f"{what} must be in [0, {n}), got {x}")
        return int(x)
