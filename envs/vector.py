"""A native batched vector env: many copies of one gridworld stepped as numpy arrays.

Registered as every suite id's ``vector_entry_point``::

    envs = gym.make_vec("gridlab/FourRooms-v0", num_envs=256, vectorization_mode="vector_entry_point")

It samples the same exact model as ``GridWorldEnv`` (built once, shared by all copies) and follows
Gymnasium's vector conventions with ``autoreset_mode = NEXT_STEP``: the step after an episode ends
resets that copy (its action is ignored; reward 0, not terminated, not truncated).
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode
from gymnasium.vector.utils import batch_space

from envs.gridworld import GridWorldEnv, MazeEnv

__all__ = ["GridWorldVectorEnv", "MazeVectorEnv"]


class GridWorldVectorEnv(gym.vector.VectorEnv):
    """``num_envs`` copies of a ``GridWorldEnv`` stepped together.

    Arguments:
        num_envs: number of copies.
        render_mode: ``"rgb_array"`` or ``"ansi"``: ``render()`` gives one frame per copy.
        max_episode_steps: truncate episodes after this many steps (``None``: never).
        **env_kwargs: arguments of ``GridWorldEnv`` (``layout``, ``slip``, ``obs_mode``...).

    The observation of copy i after ``reset`` or ``step`` is ``single_env.encode(state[i])``;
    ``info["state"]`` holds the state indices. ``reset(options={"state": s})`` starts every copy
    (or, with an array, each copy) from the given state(s).

    Example:
        >>> venv = GridWorldVectorEnv(num_envs=3, layout="S.G")
        >>> obs, info = venv.reset(seed=0)
        >>> venv.step(np.array([1, 1, 1]))[0].tolist()
        [1, 1, 1]
    """

    metadata = {"autoreset_mode": AutoresetMode.NEXT_STEP, "render_modes": ["ansi", "rgb_array"], "render_fps": 4}
    single_env_class: type[GridWorldEnv] = GridWorldEnv

    def __init__(self, num_envs: int = 1, max_episode_steps: int | None = None,
                 single_env: GridWorldEnv | None = None, **env_kwargs: Any) -> None:
        if int(num_envs) < 1:
            raise ValueError(f"num_envs must be >= 1, got {num_envs}")
        self.render_mode = env_kwargs.pop("render_mode", None)
        if self.render_mode is not None and self.render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"unknown render_mode {self.render_mode!r}; expected one of {self.metadata['render_modes']}")
        self.single_env = single_env if single_env is not None else self.single_env_class(**env_kwargs)
        self.num_envs = int(num_envs)
        self.max_episode_steps = max_episode_steps
        self.single_observation_space = self.single_env.observation_space
        self.single_action_space = self.single_env.action_space
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self.action_space = batch_space(self.single_action_space, self.num_envs)
        mdp = self.single_env.mdp
        self.mdp = mdp
        # padded sampling tables: row (s*A + a) -> up to K successors, their cumulative probabilities
        P = mdp.P
        counts = np.diff(P.indptr)
        K = int(counts.max())
        pos = np.arange(P.nnz) - np.repeat(P.indptr[:-1], counts)
        rows = np.repeat(np.arange(P.shape[0]), counts)
        self._next = np.zeros((P.shape[0], K), dtype=np.int64)
        self._next[rows, pos] = P.indices
        self._reward = np.zeros((P.shape[0], K))
        self._reward[rows, pos] = mdp.reward_matrix.data
        self._cum = np.full((P.shape[0], K), np.inf)
        self._cum[rows, pos] = self.single_env.cumulative_probs
        self._last = counts - 1
        self._starts = self.single_env.start_states
        self.state = np.zeros(self.num_envs, dtype=np.int64)
        self._elapsed = np.zeros(self.num_envs, dtype=np.int64)
        self._needs_reset = np.zeros(self.num_envs, dtype=bool)

    @classmethod
    def from_env(cls, env: gym.Env, num_envs: int, max_episode_steps: int | None = None) -> "GridWorldVectorEnv":
        """A vector env over the world of an existing (possibly wrapped) ``GridWorldEnv``, sharing its model."""
        base = env.unwrapped
        if not isinstance(base, GridWorldEnv):
            raise TypeError(f"expected a GridWorldEnv, got {type(base).__name__}")
        return cls(num_envs=num_envs, max_episode_steps=max_episode_steps, single_env=base)

    def _draw_starts(self, n: int) -> np.ndarray:
        return self._starts[self.np_random.integers(len(self._starts), size=n)]

    def reset(self, *, seed: int | list[int] | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed if not isinstance(seed, list) else seed[0])
        if options and "state" in options:
            states = np.broadcast_to(np.asarray(options["state"], dtype=np.int64), (self.num_envs,)).copy()
            bad = (states < 0) | (states >= self.mdp.n_states)
            if bad.any():
                raise ValueError(f"options['state'] must be in [0, {self.mdp.n_states}), got {states[bad][0]}")
            self.state = states
        else:
            self.state = self._draw_starts(self.num_envs)
        self._elapsed[:] = 0
        self._needs_reset[:] = False
        return self._observe(self.state), {"state": self.state.copy()}

    @property
    def autoreset_pending(self) -> np.ndarray:
        """``(num_envs,)`` bool: copies whose next ``step`` is an autoreset (Gymnasium's
        next-step autoreset mode) rather than a transition; a copy, safe to keep."""
        return self._needs_reset.copy()

    def step(self, actions: np.ndarray):
        actions = np.asarray(actions, dtype=np.int64).reshape(self.num_envs)
        if actions.min() < 0 or actions.max() >= self.mdp.n_actions:
            raise ValueError(f"actions must be in [0, {self.mdp.n_actions}), got {actions}")
        resetting = self._needs_reset
        moving = ~resetting
        n_reset = int(resetting.sum())
        s_next = self.state.copy()
        reward = np.zeros(self.num_envs)
        if n_reset:
            s_next[resetting] = self._draw_starts(n_reset)
        if n_reset < self.num_envs:
            rows = self.state[moving] * self.mdp.n_actions + actions[moving]
            u = self.np_random.random(rows.size) * self._cum[rows, self._last[rows]]
            k = np.minimum((self._cum[rows] <= u[:, None]).sum(axis=1), self._last[rows])
            s_next[moving] = self._next[rows, k]
            reward[moving] = self._reward[rows, k]
        terminated = self.mdp.terminal[s_next] & moving
        self._elapsed = np.where(resetting, 0, self._elapsed + 1)
        truncated = np.zeros(self.num_envs, dtype=bool)
        if self.max_episode_steps is not None:
            truncated = (self._elapsed >= self.max_episode_steps) & moving  # as TimeLimit: even when terminated
        self._needs_reset = terminated | truncated
        self.state = s_next
        return self._observe(s_next), reward, terminated, truncated, {"state": s_next.copy()}

    def render(self) -> tuple[np.ndarray, ...] | tuple[str, ...] | None:
        """One frame per copy, as Gymnasium's vector envs give (``RecordVideo`` tiles them)."""
        if self.render_mode == "rgb_array":
            return tuple(self.single_env.render_rgb(int(s)) for s in self.state)
        if self.render_mode == "ansi":
            return tuple(self.single_env.render_ansi(int(s)) for s in self.state)
        return None

    def _observe(self, states: np.ndarray) -> np.ndarray:
        obs = self.single_env.encode_batch(states, self.np_random)
        return obs if self.single_env.obs_mode != "index" else obs.astype(np.int64)


class MazeVectorEnv(GridWorldVectorEnv):
    """``GridWorldVectorEnv`` over a seeded maze (``size``, ``seed`` as in ``MazeEnv``)."""

    single_env_class = MazeEnv
