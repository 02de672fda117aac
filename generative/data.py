"""Transition data for world models: ``collect_transitions`` and ``TransitionDataset``, and the
warning (:class:`~generative.data.ThinDataWarning`) when data leave (state, action) pairs unseen."""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import gymnasium as gym
import numpy as np
import torch

from envs.gridworld import GridWorldEnv
from envs.resources import require_memory
from envs.vector import GridWorldVectorEnv

__all__ = ["TransitionDataset", "collect_transitions", "policy_actions", "ThinDataWarning", "unseen_pairs",
           "samples_to_cover", "warn_unseen_pairs"]


class ThinDataWarning(UserWarning):
    """Data that leave live (state, action) pairs without a transition, or a training budget far
    beyond what the data support: a world model then learns nothing of those pairs, or fits the
    samples rather than the world, and its exact score says so only after the fact."""


@dataclass
class TransitionDataset:
    """Transitions ``(obs, action, next_obs, reward, terminated)`` as tensors, with their true states.

    ``state`` and ``next_state`` are the hidden state indices (for scoring; models never see them).
    ``env_kwargs`` rebuilds the world (``GridWorldEnv(**env_kwargs)``).
    """

    obs: torch.Tensor
    action: torch.Tensor
    next_obs: torch.Tensor
    reward: torch.Tensor
    terminated: torch.Tensor
    state: torch.Tensor
    next_state: torch.Tensor
    env_kwargs: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.action.shape[0])

    def to(self, device: str | torch.device) -> "TransitionDataset":
        moved = {k: getattr(self, k).to(device) for k in ("obs", "action", "next_obs", "reward", "terminated",
                                                          "state", "next_state")}
        return TransitionDataset(**moved, env_kwargs=self.env_kwargs)

    def split(self, fraction: float = 0.9, seed: int = 0) -> tuple["TransitionDataset", "TransitionDataset"]:
        """A random (train, held-out) split."""
        perm = torch.randperm(len(self), generator=torch.Generator().manual_seed(seed))
        cut = int(round(fraction * len(self)))
        return self._take(perm[:cut]), self._take(perm[cut:])

    def _take(self, idx: torch.Tensor) -> "TransitionDataset":
        return TransitionDataset(self.obs[idx], self.action[idx], self.next_obs[idx], self.reward[idx],
                                 self.terminated[idx], self.state[idx], self.next_state[idx], self.env_kwargs)

    def unseen_pairs(self, mdp: Any | None = None) -> tuple[int, int]:
        """``(unseen, live)``: how many of the world's live (state, action) pairs have no transition here.

        Arguments:
            mdp: the world's ``TabularMDP``; built from ``env_kwargs`` when not given.
        """
        return unseen_pairs(self.state.cpu().numpy(), self.action.cpu().numpy(), mdp if mdp is not None else self.make_env().mdp)

    def make_env(self) -> GridWorldEnv:
        """The world the data came from."""
        return GridWorldEnv(**self.env_kwargs)

    def save(self, path: str | Path) -> Path:
        """Write a ``.npz`` (arrays plus the world's kwargs as JSON)."""
        import json

        path = Path(path)
        np.savez_compressed(path, obs=self.obs.cpu().numpy(), action=self.action.cpu().numpy(),
                            next_obs=self.next_obs.cpu().numpy(), reward=self.reward.cpu().numpy(),
                            terminated=self.terminated.cpu().numpy(), state=self.state.cpu().numpy(),
                            next_state=self.next_state.cpu().numpy(), env_kwargs=np.array(json.dumps(self.env_kwargs)))
        return path if path.suffix == ".npz" else path.with_name(path.name + ".npz")

    @classmethod
    def load(cls, path: str | Path) -> "TransitionDataset":
        import json

        with np.load(path) as z:
            arrays = {k: torch.as_tensor(z[k]) for k in ("obs", "action", "next_obs", "reward", "terminated",
                                                         "state", "next_state")}
            kwargs = json.loads(str(z["env_kwargs"]))
        return cls(**arrays, env_kwargs=kwargs)


Policy = str | Callable[[np.ndarray], np.ndarray] | np.ndarray


def policy_actions(policy: Policy, obs: np.ndarray, states: np.ndarray, n_actions: int,
                   rng: np.random.Generator) -> np.ndarray:
    """Actions of a policy for a batch: ``"uniform"``, a callable on observations, or a state -> action
    array ``(S,)`` / ``(S, A)`` (rows whose state is -1, an observation of no state, act uniformly)."""
    if isinstance(policy, str):
        if policy != "uniform":
            raise ValueError(f"policy must be 'uniform', a callable or a state -> action array, got {policy!r}")
        return rng.integers(0, n_actions, size=len(states))
    if callable(policy):
        return np.asarray(policy(obs), dtype=np.int64).reshape(len(states))
    table = np.asarray(policy)
    actions = rng.integers(0, n_actions, size=len(states))
    ok = states >= 0
    if table.ndim == 1:
        actions[ok] = table[states[ok]]
    else:
        cum = np.cumsum(table[states[ok]], axis=1)
        actions[ok] = np.minimum((rng.random(int(ok.sum()))[:, None] * cum[:, -1:] >= cum).sum(axis=1), n_actions - 1)
    return actions


def unseen_pairs(states: np.ndarray, actions: np.ndarray, mdp: Any) -> tuple[int, int]:
    """``(unseen, live)``: the live (state, action) pairs of ``mdp`` that no ``(states[i], actions[i])`` covers.

    Example:
        >>> from envs import GridWorldEnv
        >>> mdp = GridWorldEnv("S.G").mdp  # two live states, four actions
        >>> unseen_pairs(np.array([0, 0, 1]), np.array([0, 1, 1]), mdp)
        (5, 8)
    """
    seen = np.zeros((mdp.n_states, mdp.n_actions), dtype=bool)
    seen[np.asarray(states, dtype=np.int64), np.asarray(actions, dtype=np.int64)] = True
    live = seen[mdp.live]
    return int((~live).sum()), int(live.size)


def samples_to_cover(pairs: int, confidence: float = 0.99) -> int:
    r"""Uniform draws that cover all ``pairs`` with probability about ``confidence``: the smallest
    :math:`n` with :math:`K (1 - 1/K)^n \le 1 - \text{confidence}` (a union bound, coupon collector).

    Example:
        >>> samples_to_cover(100)
        917
    """
    if pairs <= 1:
        return 1
    return math.ceil(math.log((1 - confidence) / pairs) / math.log1p(-1 / pairs))


def warn_unseen_pairs(unseen: int, live: int, n: int, stacklevel: int = 2) -> None:
    """Warn (:class:`ThinDataWarning`) when ``unseen`` of ``live`` (state, action) pairs have no transition among ``n``."""
    if unseen:
        warnings.warn(f"{unseen:,} of {live:,} live (state, action) pairs have no transition in these {n:,} samples: a "
                      "world model learns nothing of them and its samples there are guesses; with uniform starts and "
                      f"actions about {samples_to_cover(live):,} samples cover every pair with probability 0.99",
                      ThinDataWarning, stacklevel=stacklevel + 1)


def collect_transitions(
    env: gym.Env,
    n: int,
    policy: Policy = "uniform",
    seed: int = 0,
    start: str = "uniform",
    batch: int = 4096,
) -> TransitionDataset:
    """Sample ``n`` transitions from a gridlab env, batched through its native vector env.

    Arguments:
        env: a ``GridWorldEnv`` (wrapped or not); its ``obs_mode`` sets the observation format.
        n: number of transitions.
        policy: ``"uniform"``, a callable mapping a batch of observations to actions, or a
            state -> action array ``(S,)`` (or ``(S, A)`` probabilities).
        seed: seed of the sampling.
        start: ``"uniform"``: each transition starts from a live state drawn uniformly, so every
            (state, action) pair is covered (what a world model of ``P(s'|s,a)`` needs); ``"rollout"``:
            consecutive steps of episodes from the env's start distribution (the policy's own
            state visitation), with the vector env's autoreset.
        batch: transitions per vector step.

    Warns:
        ThinDataWarning: when the samples leave live (state, action) pairs without a transition,
            naming how many (``start="rollout"`` leaves those the policy never tries).

    Example:
        >>> import gymnasium as gym, envs
        >>> data = collect_transitions(gym.make("gridlab/OpenRoom-v0", obs_mode="onehot"), 1000)
        >>> tuple(data.next_obs.shape)
        (1000, 25)
    """
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    if start not in ("uniform", "rollout"):
        raise ValueError(f"start must be 'uniform' or 'rollout', got {start!r}")
    base = env.unwrapped
    if not isinstance(base, GridWorldEnv):
        raise TypeError(f"collect_transitions needs a gridlab GridWorldEnv, got {type(base).__name__}")
    if base.obs_mode == "index":
        raise ValueError("world models need vector or frame observations: use obs_mode 'onehot', 'coords', 'image' "
                         "or 'pixels'")
    obs_size = int(np.prod(base.observation_space.shape))
    frames = base.obs_mode == "pixels"  # kept as uint8: 200,000 frames of the 8x8 lake are 1.2 GB, 4.9 GB as floats
    size_of = 1 if frames else 4
    require_memory(float(n) * (2 * obs_size * size_of + 24),
                   f"{n:,} transitions of {obs_size} {'bytes' if frames else 'floats'} each")  # obs, next obs, rest
    rng = np.random.default_rng(seed)
    live = base.mdp.live
    size = min(batch, n)
    venv = GridWorldVectorEnv.from_env(env, size, max_episode_steps=env.spec.max_episode_steps if env.spec else None)
    chunks: list[tuple[np.ndarray, ...]] = []
    obs, info = venv.reset(seed=seed)
    got = 0
    while got < n:
        if start == "uniform":
            obs, info = venv.reset(seed=int(rng.integers(2**31)), options={"state": live[rng.integers(len(live), size=size)]})
        states = info["state"]
        actions = policy_actions(policy, obs, states, base.mdp.n_actions, rng)
        resetting = venv.autoreset_pending  # these copies' next step is an autoreset, not a transition
        next_obs, reward, term, trunc, next_info = venv.step(actions)
        keep = ~resetting
        chunks.append((obs[keep], actions[keep], next_obs[keep], reward[keep], term[keep], states[keep],
                       next_info["state"][keep]))
        got += int(keep.sum())
        obs, info = next_obs, next_info
    cat = [np.concatenate([c[i] for c in chunks])[:n] for i in range(7)]
    warn_unseen_pairs(*unseen_pairs(cat[5], cat[1], base.mdp), n)
    obs_dtype = torch.uint8 if frames else torch.float32
    return TransitionDataset(
        obs=torch.as_tensor(cat[0], dtype=obs_dtype), action=torch.as_tensor(cat[1], dtype=torch.int64),
        next_obs=torch.as_tensor(cat[2], dtype=obs_dtype), reward=torch.as_tensor(cat[3], dtype=torch.float32),
        terminated=torch.as_tensor(cat[4], dtype=torch.bool), state=torch.as_tensor(cat[5], dtype=torch.int64),
        next_state=torch.as_tensor(cat[6], dtype=torch.int64), env_kwargs=dict(base.init_kwargs),
    )
