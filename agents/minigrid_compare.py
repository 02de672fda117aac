r"""SB3 agents on Farama MiniGrid worlds, judged exactly under MiniGrid's own objective.

A memoryless agent's policy is a function of its observation, and its observation a function of
the state (:meth:`envs.minigrid.MiniGridModel.observations`, the RL Zoo's ``FlatObsWrapper`` by
default), so the policy's value is exact:
:math:`V^\pi(s_0, 0)` of :math:`\pi(a \mid s) = \pi_\theta(a \mid o(s))` by backward induction over
:math:`(s, t)` (:meth:`~envs.minigrid.MiniGridModel.value`), for the sampled policy (what the zoo
evaluates) and the greedy one. Beside it: :math:`V^*(s_0, 0)`, the uniform policy's value, the
normalised score :math:`(V^\pi - V^{unif}) / (V^* - V^{unif})`, and how many states share an
observation (no memoryless policy can act differently in them).

The critic is trained toward discounted returns of VecNormalize-scaled rewards; its values are
scaled back (times :math:`\sqrt{\mathrm{Var}[R] + \epsilon}` of VecNormalize's return statistics)
and set against the exact discounted return of the agent's own policy from each state at
:math:`t = 0`, :math:`V^\pi_\gamma(s, 0)`. A state met later in an episode is worth less (the
success reward falls with time), which the critic, seeing no clock, cannot know: its error is
reported at the start state and over the states the policy reaches.

Example:
    >>> from envs.minigrid import exact_model
    >>> m = exact_model("MiniGrid-Empty-5x5-v0", seed=0)
    >>> round(uniform_value(m), 4) < m.V_star(m.start, 0)
    True
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from agents.compare import _vec_normalize, learned_at

__all__ = ["MiniGridComparison", "compare_minigrid", "uniform_value", "MINIGRID_METRICS"]

MINIGRID_METRICS = ("V_star_s0", "V_pi_s0", "V_greedy_s0", "V_uniform_s0", "normalised_score",
                    "normalised_score_greedy", "critic_s0", "V_pi_discounted_s0", "critic_rmse_reached")


def uniform_value(model: Any) -> float:
    """The uniformly random policy's exact value :math:`V^{unif}(s_0, 0)` under MiniGrid's objective."""
    return float(model.value(np.full((model.n_states, model.n_actions), 1.0 / model.n_actions)))


@dataclass
class MiniGridComparison:
    """An SB3 agent on one MiniGrid instance, measured exactly (module doc).

    Attributes:
        env_id, seed: the instance.
        V_star_s0, V_pi_s0, V_greedy_s0, V_uniform_s0: values at the reset state, t = 0, under
            MiniGrid's objective: optimal, the agent's sampled policy, its greedy policy, uniform.
        aliasing: :meth:`envs.minigrid.MiniGridModel.aliasing` of the observations the agent sees.
        gamma: the agent's discount; ``critic_s0`` its critic at the reset state, scaled back from
            VecNormalize's rewards; ``V_pi_discounted_s0`` the exact discounted return it estimates;
            ``critic_rmse_reached`` the critic's RMSE against :math:`V^\\pi_\\gamma(s, 0)` over the
            states the sampled policy reaches from the start.
        pi: ``(S, A)`` the sampled policy per state.
    """

    env_id: str
    seed: int
    V_star_s0: float
    V_pi_s0: float
    V_greedy_s0: float
    V_uniform_s0: float
    aliasing: dict[str, int]
    gamma: float
    critic_s0: float
    V_pi_discounted_s0: float
    critic_rmse_reached: float
    pi: np.ndarray = field(repr=False)

    def _score(self, value: float) -> float:
        span = self.V_star_s0 - self.V_uniform_s0
        return 1.0 if abs(span) <= 1e-12 else (value - self.V_uniform_s0) / span

    @property
    def normalised_score(self) -> float:
        """:math:`(V^\\pi - V^{unif}) / (V^* - V^{unif})` of the sampled policy: 1 optimal, 0 uniform."""
        return self._score(self.V_pi_s0)

    @property
    def normalised_score_greedy(self) -> float:
        """The same for the greedy policy."""
        return self._score(self.V_greedy_s0)

    def metrics(self) -> dict[str, float]:
        """Every metric of ``MINIGRID_METRICS``."""
        return {key: float(getattr(self, key)) for key in MINIGRID_METRICS}

    def to_dict(self) -> dict[str, Any]:
        return {"env_id": self.env_id, "seed": self.seed, **self.metrics(), "aliasing": self.aliasing,
                "gamma": self.gamma, "policy": self.pi.argmax(axis=1).tolist()}

    def table(self) -> str:
        rows = list(self.metrics().items()) + [(f"aliasing_{k}", v) for k, v in self.aliasing.items()]
        return "\n".join(f"{k:26s} {v: .6f}" if isinstance(v, float) else f"{k:26s} {v}" for k, v in rows)


def compare_minigrid(agent: Any, model: Any, wrapper: Any = "flat", env: Any = None) -> MiniGridComparison:
    """Judge an SB3 agent (PPO, A2C, DQN) trained on ``model``'s MiniGrid instance, exactly.

    Arguments:
        agent: the SB3 model.
        model: the instance's :class:`envs.minigrid.MiniGridModel`.
        wrapper: the observation wrapper the agent was trained behind: ``"flat"`` for
            ``minigrid.wrappers.FlatObsWrapper`` (the RL Zoo's), a wrapper class, or ``None`` for
            the raw image.
        env: the VecEnv (or VecNormalize) it trained in, whose observation and reward
            normalisation apply; by default the agent's own.

    Example:
        >>> from stable_baselines3 import PPO
        >>> from minigrid.wrappers import FlatObsWrapper
        >>> import gymnasium as gym
        >>> from envs.minigrid import exact_model
        >>> m = exact_model("MiniGrid-Empty-5x5-v0", seed=0)
        >>> agent = PPO("MlpPolicy", FlatObsWrapper(gym.make("MiniGrid-Empty-5x5-v0")), seed=0)
        >>> c = compare_minigrid(agent, m)
        >>> c.V_uniform_s0 <= c.V_star_s0, c.aliasing["states"]
        (True, 32)
    """
    if wrapper == "flat":
        from minigrid.wrappers import FlatObsWrapper

        wrapper = FlatObsWrapper
    obs = model.observations(wrapper)
    learned = learned_at(agent, obs.astype(np.float32), env)
    pi = learned["pi"]
    if pi.shape != (model.n_states, model.n_actions):
        raise ValueError(f"the agent has {pi.shape[1]} actions; {model.env_id} has {model.n_actions}")
    greedy = np.eye(model.n_actions)[pi.argmax(axis=1)]
    gamma = float(getattr(agent, "gamma", 0.99))
    critic = np.asarray(learned["V"], dtype=np.float64)
    norm = _vec_normalize(env) if env is not None else _vec_normalize(agent.get_env())
    if norm is not None and norm.norm_reward:
        critic = critic * np.sqrt(norm.ret_rms.var + norm.epsilon)
    V_disc = model.value(pi, gamma=gamma, every_state=True)
    reached = _reached(model, pi)
    return MiniGridComparison(
        env_id=model.env_id, seed=model.seed, V_star_s0=model.V_star(model.start, 0), V_pi_s0=model.value(pi),
        V_greedy_s0=model.value(greedy), V_uniform_s0=uniform_value(model), aliasing=model.aliasing(obs), gamma=gamma,
        critic_s0=float(critic[model.start]), V_pi_discounted_s0=float(V_disc[model.start]),
        critic_rmse_reached=float(np.sqrt(np.mean((critic[reached] - V_disc[reached]) ** 2))), pi=pi)


def _reached(model: Any, pi: np.ndarray) -> np.ndarray:
    """The live states a policy reaches with positive probability from the reset state."""
    seen = np.zeros(model.n_states, dtype=bool)
    seen[model.start] = True
    frontier = [model.start]
    while frontier:
        s = frontier.pop()
        nxt = model.next_state[s][(pi[s][:, None] > 0) & (model.prob[s] > 0)]
        for t in nxt[nxt >= 0]:
            if not seen[t]:
                seen[t] = True
                frontier.append(int(t))
    return np.flatnonzero(seen)
