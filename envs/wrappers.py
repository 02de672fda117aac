r"""Wrappers for training on the gridlab worlds.

``ExploringStarts`` starts every episode in a state drawn uniformly from the model's non-terminal
states instead of the env's start distribution: the *exploring starts* assumption of Sutton &
Barto's Monte Carlo ES (Reinforcement Learning, 2nd ed., section 5.3). Every state is then a
start state with probability :math:`1 / |S_{live}|`, so an agent sees the goal's neighbourhood
in its first episodes even where a uniform-random walk from the real start almost never gets
there (``gridlab/Maze-v0``: the uniform policy reaches the goal within the 400-step limit with
probability 2e-7).

Only training changes: what an agent is judged on (``agents.compare``) is the exact value of its
policy from the env's own start distribution. RL Zoo names it in a preset as
``env_wrapper: envs.wrappers.ExploringStarts``.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

__all__ = ["ExploringStarts"]


class ExploringStarts(gym.Wrapper):
    """Start each episode in a uniformly drawn non-terminal state of the exact model.

    Arguments:
        env: a gridlab env (its ``unwrapped`` carries ``mdp`` and accepts
            ``reset(options={"state": s})``), wrapped or not.

    An explicit ``options={"state": s}`` passed to ``reset`` is kept.

    Example:
        >>> import gymnasium as gym, envs
        >>> env = ExploringStarts(gym.make("gridlab/Maze-v0"))
        >>> starts = {env.reset(seed=i)[1]["state"] for i in range(300)}
        >>> len(starts) > 80, any(env.unwrapped.mdp.terminal[s] for s in starts)
        (True, False)
    """

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        mdp = getattr(env.unwrapped, "mdp", None)
        if mdp is None:
            raise TypeError(f"ExploringStarts needs a gridlab env with an exact model, got {env.unwrapped!r}")
        self.live_states = np.flatnonzero(~np.asarray(mdp.terminal))
        if self.live_states.size == 0:
            raise ValueError("ExploringStarts: the model has no non-terminal state to start in")

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Any, dict[str, Any]]:
        if options and "state" in options:
            return self.env.reset(seed=seed, options=options)
        if seed is not None:  # seed the env's generator first, then draw the start from it
            self.env.reset(seed=seed)
        s = int(self.live_states[self.env.unwrapped.np_random.integers(self.live_states.size)])
        return self.env.reset(options={**(options or {}), "state": s})
