r"""Whole episodes of a partially observed world, for world models with memory:
:func:`~generative.sequences.collect_sequences` and :class:`~generative.sequences.SequenceDataset`.

An episode of a :class:`~envs.pomdp_env.POMDPEnv` is :math:`s_0, a_1, o_1, r_1, s_1, a_2, o_2,
\dots`: the hidden state :math:`s_0 \sim b_0`, then each action :math:`a_t`, the observation
:math:`o_t \sim O(\cdot \mid s_t, a_t)` of the state it led to, its reward and whether the episode
ended there. The reset's own observation (the env's ``"start"``) carries nothing and is not kept:
a model's initial state stands for :math:`b_0`. The hidden states are kept beside the data for
scoring only; no family reads them.

Example:
    >>> import gymnasium as gym, envs
    >>> data = collect_sequences(gym.make("gridlab/Tiger-v0"), 20, seed=0)
    >>> data.observations.shape, int(data.lengths.max())
    ((20, 100), 100)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import gymnasium as gym
import numpy as np

__all__ = ["SequenceDataset", "collect_sequences", "pomdp_of"]

SequencePolicy = str | np.ndarray | Callable[[Any, np.random.Generator], int]


@dataclass
class SequenceDataset:
    """``N`` episodes of a POMDP as padded arrays (``T``: the longest episode's length).

    Attributes:
        observations: ``(N, T)`` int64, :math:`o_1 .. o_T` (observation indices of the POMDP), -1
            after an episode's end.
        actions: ``(N, T)`` int64, :math:`a_1 .. a_T`, -1 after the end.
        rewards: ``(N, T)`` float64, 0 after the end.
        dones: ``(N, T)`` bool, the episode terminated at that step.
        lengths: ``(N,)`` the steps of each episode.
        states: ``(N, T + 1)`` int64, the hidden :math:`s_0 .. s_T` (-1 after the end): for
            scoring only.
        n_observations, n_actions: the POMDP's sizes.
        source: what the data came from (the env id and its kwargs), for the record.
    """

    observations: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    dones: np.ndarray
    lengths: np.ndarray
    states: np.ndarray
    n_observations: int
    n_actions: int
    source: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.observations = np.asarray(self.observations, dtype=np.int64)
        self.actions = np.asarray(self.actions, dtype=np.int64)
        self.lengths = np.asarray(self.lengths, dtype=np.int64)
        N, T = self.observations.shape if self.observations.ndim == 2 else (None, None)
        if N is None:
            raise ValueError(f"observations must be (episodes, steps), got shape {self.observations.shape}")
        for name in ("actions", "rewards", "dones"):
            if np.shape(getattr(self, name)) != (N, T):
                raise ValueError(f"{name} must have the observations' shape {(N, T)}, got {np.shape(getattr(self, name))}")
        if self.lengths.shape != (N,):
            raise ValueError(f"lengths must have shape ({N},), got {self.lengths.shape}")
        if np.shape(self.states) != (N, T + 1):
            raise ValueError(f"states must have shape {(N, T + 1)} (s_0 .. s_T), got {np.shape(self.states)}")
        if N and (self.lengths.min() < 1 or self.lengths.max() > T):
            raise ValueError(f"every length must be in [1, {T}], got {int(self.lengths.min())}..{int(self.lengths.max())}")
        mask = self.mask
        for name, x, n in (("action", self.actions, self.n_actions), ("observation", self.observations, self.n_observations)):
            bad = mask & ((x < 0) | (x >= n))
            if bad.any():
                i, t = np.argwhere(bad)[0]
                raise ValueError(f"episode {i}, step {t + 1}: {name} {int(x[i, t])} is outside [0, {n})")
            if (~mask & (x != -1)).any():
                i, t = np.argwhere(~mask & (x != -1))[0]
                raise ValueError(f"episode {i} has length {int(self.lengths[i])} but a {name} at step {t + 1}: "
                                 "sequences of unequal lengths must be padded with -1")

    def __len__(self) -> int:
        return int(self.observations.shape[0])

    @property
    def mask(self) -> np.ndarray:
        """``(N, T)`` bool: the steps that happened."""
        return np.arange(self.observations.shape[1])[None, :] < self.lengths[:, None]

    @property
    def n_steps(self) -> int:
        """The steps of all episodes together."""
        return int(self.lengths.sum())

    def split(self, fraction: float = 0.8, seed: int = 0) -> tuple["SequenceDataset", "SequenceDataset"]:
        """A random (train, held-out) split by episode."""
        if not 0.0 < fraction < 1.0:
            raise ValueError(f"fraction must be in (0, 1), got {fraction}")
        perm = np.random.default_rng(seed).permutation(len(self))
        cut = min(max(int(round(fraction * len(self))), 1), len(self) - 1)
        return self.take(perm[:cut]), self.take(perm[cut:])

    def take(self, idx: np.ndarray) -> "SequenceDataset":
        """The episodes ``idx``, trimmed to their longest."""
        idx = np.asarray(idx, dtype=np.int64)
        T = int(self.lengths[idx].max()) if len(idx) else 1
        return SequenceDataset(self.observations[idx, :T], self.actions[idx, :T], self.rewards[idx, :T],
                               self.dones[idx, :T], self.lengths[idx], self.states[idx, :T + 1],
                               self.n_observations, self.n_actions, dict(self.source))

    def save(self, path: str | Path) -> Path:
        """Write a ``.npz`` (the arrays, the sizes and the source as JSON)."""
        import json

        path = Path(path)
        np.savez_compressed(path, observations=self.observations, actions=self.actions, rewards=self.rewards,
                            dones=self.dones, lengths=self.lengths, states=self.states,
                            sizes=np.array([self.n_observations, self.n_actions]),
                            source=np.array(json.dumps(self.source, default=str)))
        return path if path.suffix == ".npz" else path.with_suffix(path.suffix + ".npz")

    @classmethod
    def load(cls, path: str | Path) -> "SequenceDataset":
        """Read what :meth:`save` wrote."""
        import json

        with np.load(path) as z:
            return cls(z["observations"], z["actions"], z["rewards"], z["dones"], z["lengths"], z["states"],
                       int(z["sizes"][0]), int(z["sizes"][1]), json.loads(str(z["source"])))


def pomdp_of(env: gym.Env | str) -> tuple[Any, gym.Env]:
    """The exact :class:`~envs.pomdp.TabularPOMDP` of a POMDP env (or registered POMDP id) and the env.

    Raises:
        TypeError: the env is not a :class:`~envs.pomdp_env.POMDPEnv` (a fully observed world has no
            hidden state for a sequence model to track; use ``generative.collect_transitions``).
    """
    from envs.pomdp_env import POMDPEnv

    if isinstance(env, str):
        import envs  # noqa: F401  (registers the suite)

        env = gym.make(env)
    base = env.unwrapped
    if not isinstance(base, POMDPEnv):
        raise TypeError(f"sequence world models need a partially observed world (a POMDPEnv, e.g. gridlab/TMaze-v0), "
                        f"got {type(base).__name__}; a fully observed world's one-step models are "
                        "generative.collect_transitions and train_world_model")
    return base.pomdp, env


def collect_sequences(env: gym.Env | str, n_episodes: int, policy: SequencePolicy = "uniform", seed: int = 0,
                      max_steps: int | None = None) -> SequenceDataset:
    """Play ``n_episodes`` whole episodes of a POMDP env and keep them as a :class:`SequenceDataset`.

    Arguments:
        env: a :class:`~envs.pomdp_env.POMDPEnv` (wrapped or not, e.g. ``gym.make("gridlab/TMaze-v0")``)
            or a registered POMDP id. Episodes end when it terminates or truncates.
        n_episodes: how many episodes.
        policy: ``"uniform"``; an ``(A,)`` vector of action probabilities; or a callable
            ``policy(observation, rng) -> action`` given the env's observation (the reset's
            ``"start"`` observation marks a new episode, for a policy with memory).
        seed: seeds the env's resets and the policy's draws.
        max_steps: cut episodes at this many steps (default: the env's own time limit, else 1,000).

    Returns:
        The episodes, with their hidden states kept apart (``states``) for scoring.
    """
    if isinstance(n_episodes, bool) or not isinstance(n_episodes, (int, np.integer)) or n_episodes < 1:
        raise ValueError(f"n_episodes must be an integer >= 1, got {n_episodes!r}")
    pomdp, env = pomdp_of(env)
    base = env.unwrapped
    A = pomdp.n_actions
    if isinstance(policy, str):
        if policy != "uniform":
            raise ValueError(f"policy must be 'uniform', action probabilities or a callable, got {policy!r}")
        probs = np.full(A, 1.0 / A)
    elif callable(policy):
        probs = None
    else:
        probs = np.asarray(policy, dtype=np.float64)
        if probs.shape != (A,) or np.any(probs < 0) or abs(probs.sum() - 1.0) > 1e-9:
            raise ValueError(f"policy probabilities must be {A} non-negative numbers summing to 1, got {probs}")
    limit = max_steps or (env.spec.max_episode_steps if env.spec is not None and env.spec.max_episode_steps else 1000)
    rng = np.random.default_rng(seed)
    episodes = []
    for i in range(int(n_episodes)):
        obs, _ = env.reset(seed=int(rng.integers(2**31)))
        states, acts, seen, rews, dones = [base.state], [], [], [], []
        for _ in range(int(limit)):
            a = int(rng.choice(A, p=probs)) if probs is not None else int(policy(obs, rng))
            obs, r, terminated, truncated, _ = env.step(a)
            states.append(base.state)
            acts.append(a)
            seen.append(base.last_observation)
            rews.append(r)
            dones.append(terminated)
            if terminated or truncated:
                break
        episodes.append((states, acts, seen, rews, dones))
    T = max(len(e[1]) for e in episodes)
    N = len(episodes)
    out = {"observations": np.full((N, T), -1, np.int64), "actions": np.full((N, T), -1, np.int64),
           "rewards": np.zeros((N, T)), "dones": np.zeros((N, T), bool), "states": np.full((N, T + 1), -1, np.int64)}
    lengths = np.zeros(N, np.int64)
    for i, (states, acts, seen, rews, dones) in enumerate(episodes):
        n = len(acts)
        lengths[i] = n
        out["states"][i, :n + 1], out["actions"][i, :n], out["observations"][i, :n] = states, acts, seen
        out["rewards"][i, :n], out["dones"][i, :n] = rews, dones
    source = {"env_id": env.spec.id if env.spec is not None else None, "pomdp": pomdp.info.get("source"),
              "policy": policy if isinstance(policy, str) else type(policy).__name__, "seed": seed}
    return SequenceDataset(**out, lengths=lengths, n_observations=pomdp.n_observations, n_actions=A, source=source)
