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
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import torch
from gymnasium import spaces

from envs.pomdp_env import encode_observation
from generative.sequence_model import SequenceWorldModel

__all__ = ["SequenceDreamEnv"]


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
