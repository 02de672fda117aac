"""SequenceDreamEnv: a POMDP's world model with memory as a Gymnasium env, for agents to learn in its dream.

Example:
    >>> import gymnasium as gym, envs
    >>> from generative.sequences import collect_sequences
    >>> from generative.sequence_model import train_sequence_model
    >>> model = train_sequence_model(collect_sequences(gym.make("gridlab/TMaze-v0"), 20), "hmm", steps=5,
    ...                              progress=False, device="cpu")
    >>> dream = SequenceDreamEnv(model)
    >>> dream.reset(seed=0)[0], dream.observation_space
    (5, Discrete(6))

An agent trained in the dream can be judged there too (:func:`dream_return`), from the model
alone: how to choose among agents trained in one dream without touching the real world.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import torch
from gymnasium import spaces

from envs.pomdp_env import encode_observation
from generative.sequence_model import SequenceWorldModel

__all__ = ["SequenceDreamEnv", "dream_return"]


class SequenceDreamEnv(gym.Env):
    """An env whose observations, rewards and ends are a sequence world model's, not the POMDP's.

    ## Description
    ``reset`` starts an empty history (the model's initial state) and gives the ``"start"``
    observation, as :class:`~envs.pomdp_env.POMDPEnv` does; each ``step(a)`` draws the next
    observation from the model given the whole history (``sample_next``), the reward and the end
    from the model's head on its state and the action (``reward_and_done``), then updates the
    state. A policy trained here runs unchanged in the real ``POMDPEnv`` (same spaces) and is
    judged there exactly (``gridlab compare``, ``agents.pomdp_compare``).

    ## Action Space / Observation Space
    ``Discrete(A)``; ``Discrete(Z + 1)`` (``obs_mode="index"``, the last index is ``"start"``) or a
    one-hot ``Box(0, 1, (Z + 1,))`` (``"onehot"``), as the real env's.

    ## Episode End
    Terminated when the head's drawn end flag is set; truncated after ``max_episode_steps``.

    ## Arguments
    - ``model``: a trained :class:`~generative.sequence_model.SequenceWorldModel`, or a path to one saved.
    - ``obs_mode``: ``"index"`` or ``"onehot"``.
    - ``max_episode_steps``: truncation horizon. Default 100.
    """

    metadata = {"render_modes": []}

    def __init__(self, model: SequenceWorldModel | str, obs_mode: str = "index", max_episode_steps: int = 100) -> None:
        self.model = SequenceWorldModel.load(model, device="cpu") if isinstance(model, str) else model
        if obs_mode not in ("index", "onehot"):
            raise ValueError(f"obs_mode must be 'index' or 'onehot', got {obs_mode!r}")
        n = self.model.n_obs + 1
        self.obs_mode = obs_mode
        self.observation_space = spaces.Discrete(n) if obs_mode == "index" else spaces.Box(0.0, 1.0, (n,), np.float32)
        self.action_space = spaces.Discrete(self.model.n_actions)
        self.max_episode_steps = int(max_episode_steps)
        self._state: Any = None
        self._t = 0
        self._gen = torch.Generator(device=self.model.device)

    def _encode(self, o: int) -> Any:
        return encode_observation(o, self.model.n_obs + 1, self.obs_mode)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        self._gen.manual_seed(int(self.np_random.integers(2**62)))
        self._state = self.model.net.initial_state(1)
        self._t = 0
        return self._encode(self.model.n_obs), {}

    @torch.no_grad()
    def step(self, action: int):
        if self._state is None:
            raise RuntimeError("call reset() before step()")
        if not self.action_space.contains(action):
            raise ValueError(f"action must be in [0, {self.model.n_actions}), got {action!r}")
        a = torch.tensor([int(action)], device=self.model.device)
        net = self.model.net
        o = net.sample_next(self._state, a, self._gen)
        reward, done = self.model.reward_and_done(self._state, a, self._gen)
        self._state = net.update(self._state, a, o, self._gen)
        self._t += 1
        return self._encode(int(o[0])), float(reward[0]), bool(done[0]), self._t >= self.max_episode_steps, {}


def dream_return(agent: Any, model: SequenceWorldModel, episodes: int = 200, seed: int = 0,
                 max_episode_steps: int = 100, n_envs: int = 16, deterministic: bool = False) -> tuple[float, float]:
    """An agent's mean return in a sequence world model's dream, with its standard error.

    ``G = sum_t r_t`` over an episode of :class:`SequenceDreamEnv` (rewards are the head's means,
    ends its draws, truncation at ``max_episode_steps``); the mean of ``G`` over ``episodes``
    episodes and ``std(G) / sqrt(episodes)``. The episodes run on ``n_envs`` dream copies through
    SB3's ``evaluate_policy``, which gives each copy its share of the episodes (so short episodes
    are not over-counted) and carries a recurrent agent's state. It reads the model only, never
    the true POMDP: a user choosing among agents trained in a dream by this number chooses as one
    could without the real world (``benchmarks/sequence_dream.py --agents N``).

    Arguments:
        agent: an SB3 model (or anything with SB3's ``predict(obs, state, episode_start,
            deterministic)``) whose observation space is the dream's, index or one-hot.
        model: the trained :class:`~generative.sequence_model.SequenceWorldModel`.
        episodes: episodes to average; seed: seeds the dream copies (copy i with ``seed + i``).
        deterministic: the agent's greedy action instead of a draw from its policy.

    Example:
        >>> import gymnasium as gym, envs
        >>> from generative.sequences import collect_sequences
        >>> from generative.sequence_model import train_sequence_model
        >>> model = train_sequence_model(collect_sequences(gym.make("gridlab/TMaze-v0"), 20), "hmm", steps=5,
        ...                              progress=False, device="cpu")
        >>> class Bump:  # always action 3: into the corridor's start wall
        ...     observation_space = SequenceDreamEnv(model).observation_space
        ...     def predict(self, obs, state=None, episode_start=None, deterministic=False):
        ...         return np.full(len(obs), 3), state
        >>> mean, se = dream_return(Bump(), model, episodes=4, max_episode_steps=5, n_envs=2)
        >>> bool(np.isfinite(mean) and se >= 0)
        True
    """
    from stable_baselines3.common.evaluation import evaluate_policy
    from stable_baselines3.common.vec_env import DummyVecEnv

    if int(episodes) < 2:
        raise ValueError(f"episodes must be at least 2 (a mean and its standard error), got {episodes!r}")
    space = agent.observation_space
    obs_mode = "onehot" if isinstance(space, spaces.Box) else "index"
    n_envs = max(1, min(int(n_envs), int(episodes)))
    venv = DummyVecEnv([lambda: SequenceDreamEnv(model, obs_mode=obs_mode, max_episode_steps=max_episode_steps)] * n_envs)
    if space != venv.observation_space:
        venv.close()
        raise ValueError(f"the agent observes {space}, not this model's dream ({model.n_obs} observations and 'start')")
    venv.seed(int(seed))
    returns, _ = evaluate_policy(agent, venv, n_eval_episodes=int(episodes), deterministic=deterministic,
                                 return_episode_rewards=True, warn=False)
    venv.close()
    g = np.asarray(returns, dtype=float)
    return float(g.mean()), float(g.std(ddof=1) / np.sqrt(len(g)))
