"""WorldModelEnv: a Gymnasium env that steps a trained world model (an agent can learn in the dream)."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import torch

from generative.world_model import WorldModel

__all__ = ["WorldModelEnv"]


class WorldModelEnv(gym.Env):
    """An env whose dynamics are a world model's samples instead of the true model.

    ## Description
    Starts from the true start distribution of the model's world; each ``step`` samples the next
    observation from ``model.sample_next``. Reward and termination come from the decoded states
    and the true reward function, or from the model's learned head when the imagined observation
    decodes to no reachable state (as in ``WorldModel.rollout``). A policy trained here can be
    evaluated exactly in the real MDP (``agents.compare`` / ``agents.dp.policy_evaluation``).

    ## Action Space / Observation Space
    Those of the real world (``model.env``); imagined observations are clipped into the box and
    given its dtype: a pixel world's imagined frames are uint8, as its real frames are, so an SB3
    ``CnnPolicy`` (with ``agents.extractors.SMALL_CNN`` for frames under 36 x 36 pixels) trains
    in the dream and runs unchanged in the real env.

    ## Episode End
    Terminated when the imagined state is terminal (or the head says so); truncated after
    ``max_episode_steps``.

    ## Arguments
    - ``model``: a conditional ``WorldModel``, or a path to one saved with ``WorldModel.save``.
    - ``max_episode_steps``: truncation horizon. Default 200.
    """

    metadata = {"render_modes": []}

    def __init__(self, model: WorldModel | str, max_episode_steps: int = 200) -> None:
        self.model = WorldModel.load(model, device="cpu") if isinstance(model, str) else model
        if not self.model.conditional:
            raise ValueError("WorldModelEnv needs a conditional world model (P(o'|o,a))")
        self.world = self.model.env
        self.observation_space = self.world.observation_space
        self.action_space = self.world.action_space
        self.max_episode_steps = int(max_episode_steps)
        self._obs: np.ndarray | None = None
        self._t = 0
        self._gen = torch.Generator(device="cpu")

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        mdp = self.world.mdp
        s0 = int(self.np_random.choice(mdp.n_states, p=mdp.initial))
        if options and "state" in options:
            s0 = int(options["state"])
        self._gen.manual_seed(int(self.np_random.integers(2**62)))
        # the first observation's nuisances (pixel noise, distractors) come from this env's seeded RNG
        self._obs = self._as_obs(self.world.encode_batch(np.array([s0]), self.np_random)[0])
        self._t = 0
        return self._obs.copy(), {"state": s0}

    def _as_obs(self, x: np.ndarray) -> np.ndarray:
        """Observations in the real world's space: clipped into its box, rounded to its dtype
        (uint8 frames for pixel worlds, float32 otherwise)."""
        space = self.observation_space
        x = np.clip(np.asarray(x, dtype=np.float32), space.low, space.high)
        return (np.rint(x) if np.issubdtype(space.dtype, np.integer) else x).astype(space.dtype)

    def step(self, action: int):
        if self._obs is None:
            raise RuntimeError("call reset() before step()")
        a = np.array([int(action)])
        obs = self._obs[None]
        nxt = self.model.sample_next(obs, a, generator=self._gen)
        nxt = self._as_obs(nxt)
        s = self.world.decode_batch(obs)
        s2 = self.world.decode_batch(nxt)
        reward, term = self.model.reward_and_termination(obs, a, nxt, s, s2)
        self._obs = nxt[0]
        self._t += 1
        return self._obs.copy(), float(reward[0]), bool(term[0]), self._t >= self.max_episode_steps, {"state": int(s2[0])}
