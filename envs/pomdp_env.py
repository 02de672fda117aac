"""Any :class:`~envs.pomdp.TabularPOMDP` as a Gymnasium env that samples it and hides its state.

``POMDPEnv`` draws the hidden start state from :math:`b_0`, and each step draws
:math:`s' \\sim T(\\cdot \\mid s, a)` and :math:`o \\sim O(\\cdot \\mid s', a)` with ``self.np_random``,
pays :math:`R(s, a)` and ends the episode on a terminal state. The observation is all the agent
gets: ``info`` holds no state (``env.unwrapped.state`` gives it, for debugging and tests).

Before any action there is no observation in Cassandra's convention; the env returns an extra one,
``"start"`` (index ``Z``), at reset, so the observation space has ``Z + 1`` values.

Example:
    >>> from envs.pomdp_worlds import tiger
    >>> env = POMDPEnv(tiger())
    >>> obs, info = env.reset(seed=0)
    >>> obs, info, env.observation_names[obs]
    (2, {}, 'start')
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from envs.pomdp import TabularPOMDP

__all__ = ["POMDPEnv", "OBS_MODES", "check_pomdp_env"]

OBS_MODES = ("index", "onehot")


class POMDPEnv(gym.Env):
    """A POMDP as a Gymnasium env (module doc).

    ## Arguments
    - ``pomdp``: the model, a callable returning it, or ``"module:builder"`` (as a registration gives
      it); further keyword arguments go to the builder.
    - ``obs_mode``: ``"index"`` (``Discrete(Z + 1)``) or ``"onehot"`` (``Box(0, 1, (Z + 1,))``).
    - ``render_mode``: ``"ansi"`` for a line with the hidden state and the last observation.
    """

    metadata = {"render_modes": ["ansi"], "render_fps": 4}

    def __init__(self, pomdp: TabularPOMDP | Any, obs_mode: str = "index", render_mode: str | None = None,
                 **builder_kwargs: Any) -> None:
        if isinstance(pomdp, str):  # "module:builder", as a registration gives it
            from envs.registration import load_entry_point

            pomdp = load_entry_point(pomdp)
        if not isinstance(pomdp, TabularPOMDP):
            if not callable(pomdp):
                raise TypeError(f"pomdp must be a TabularPOMDP or a builder of one, got {type(pomdp).__name__}")
            pomdp = pomdp(**builder_kwargs)
        elif builder_kwargs:
            raise TypeError(f"unexpected arguments for a ready model: {', '.join(builder_kwargs)}")
        if obs_mode not in OBS_MODES:
            raise ValueError(f"obs_mode must be one of {OBS_MODES}, got {obs_mode!r}")
        if render_mode not in (None, *self.metadata["render_modes"]):
            raise ValueError(f"render_mode must be None or 'ansi', got {render_mode!r}")
        self.pomdp, self.obs_mode, self.render_mode = pomdp, obs_mode, render_mode
        self.observation_names = (*pomdp.observations, "start")
        n = pomdp.n_observations + 1
        self.observation_space = spaces.Discrete(n) if obs_mode == "index" else spaces.Box(0.0, 1.0, (n,), np.float32)
        self.action_space = spaces.Discrete(pomdp.n_actions)
        self._T = [Ta.tocsr() for Ta in pomdp.T]
        self._O_cum = np.cumsum(pomdp.O, axis=2)
        self._b0_cum = np.cumsum(pomdp.b0)
        self.state = 0
        self.last_observation = pomdp.n_observations

    def _encode(self, o: int) -> Any:
        if self.obs_mode == "index":
            return int(o)
        x = np.zeros(self.pomdp.n_observations + 1, dtype=np.float32)
        x[o] = 1.0
        return x

    def _draw(self, cumulative: np.ndarray) -> int:
        return int(min(np.searchsorted(cumulative, self.np_random.random(), side="right"), len(cumulative) - 1))

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Any, dict[str, Any]]:
        super().reset(seed=seed)
        self.state = self._draw(self._b0_cum)
        self.last_observation = self.pomdp.n_observations
        return self._encode(self.last_observation), {}

    def step(self, action: int) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        if not self.action_space.contains(action):
            raise ValueError(f"action must be in [0, {self.pomdp.n_actions}), got {action!r}")
        a, s = int(action), self.state
        row = self._T[a]
        lo, hi = row.indptr[s], row.indptr[s + 1]
        s2 = int(row.indices[lo + self._draw(np.cumsum(row.data[lo:hi]))])
        o = self._draw(self._O_cum[a, s2])
        reward = float(self.pomdp.R[s, a])
        self.state, self.last_observation = s2, o
        return self._encode(o), reward, bool(self.pomdp.mdp.terminal[s2]), False, {}

    def render(self) -> str | None:
        if self.render_mode != "ansi":
            return None
        return (f"state {self.pomdp.states[self.state]!r}, "
                f"last observation {self.observation_names[self.last_observation]!r}")


def check_pomdp_env(env: gym.Env, steps: int = 3000, seed: int = 0, alpha: float = 1e-6, per_pair: int = 50) -> int:
    r"""Step ``env`` (a :class:`POMDPEnv`, wrapped or not) from hidden states and actions and check
    what it does against its model: every (s', o) it draws must have
    :math:`T(s'|s,a) O(o|s',a) > 0`, its reward must be :math:`R(s,a)` and its ``terminated`` flag
    the model's; and for ``steps // per_pair`` live (state, action) pairs drawn at random, the
    joint frequencies of (s', o) over ``per_pair`` steps each must pass a chi-square test at level
    ``alpha`` (Bonferroni over the pairs; outcomes expected fewer than 5 times pooled into one). A
    model with fewer pairs spends all ``steps`` on them.
    Returns the number of pairs tested; raises ``ValueError`` naming the pair that differs.

    Example:
        >>> from envs.pomdp_worlds import tiger
        >>> check_pomdp_env(POMDPEnv(tiger()), steps=600)
        6
    """
    import scipy.stats

    base = env.unwrapped
    if not isinstance(base, POMDPEnv):
        raise TypeError(f"check_pomdp_env needs a POMDPEnv, got {type(base).__name__}")
    if int(steps) < per_pair or per_pair < 1:
        raise ValueError(f"steps must be >= per_pair >= 1, got steps={steps}, per_pair={per_pair}")
    m = base.pomdp
    pairs = [(int(s), a) for s in np.flatnonzero(~m.mdp.terminal) for a in range(m.n_actions)]
    rng = np.random.default_rng(seed)
    chosen = rng.choice(len(pairs), size=min(len(pairs), int(steps) // per_pair), replace=False)
    per_pair = int(steps) // len(chosen)  # every step spent: a small model's pairs get more than per_pair each
    base.reset(seed=seed)
    for k in chosen:
        s, a = pairs[k]
        where = f"state {m.states[s]!r}, action {m.actions[a]!r}"
        want = (m.T[a][s].toarray().ravel()[:, None] * m.O[a]).ravel()
        counts = np.zeros_like(want)
        for _ in range(per_pair):
            base.state = s
            _, reward, terminated, _, _ = base.step(a)
            s2, o = base.state, base.last_observation
            if want[s2 * m.n_observations + o] <= 0:
                raise ValueError(f"{where}: the env went to {m.states[s2]!r} seeing {m.observations[o]!r}, "
                                 "which the model gives probability 0")
            if reward != float(m.R[s, a]) or terminated != bool(m.mdp.terminal[s2]):
                raise ValueError(f"{where}: reward {reward} / terminated {terminated}, the model says "
                                 f"{float(m.R[s, a])} / {bool(m.mdp.terminal[s2])}")
            counts[s2 * m.n_observations + o] += 1
        expected = want * per_pair
        big = expected >= 5
        seen = np.append(counts[big], counts[~big].sum())
        bins = np.append(expected[big], expected[~big].sum())
        keep = bins > 0
        if keep.sum() < 2:
            continue
        p_value = scipy.stats.chisquare(seen[keep], bins[keep]).pvalue
        if p_value < alpha / len(chosen):
            raise ValueError(f"{where}: the env's (s', o) frequencies differ from the model's (chi-square p = "
                             f"{p_value:.2g})")
    return len(chosen)
