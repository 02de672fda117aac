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

from agents.compare import learned_at
from agents.vecnormalize import find_vec_normalize

__all__ = ["MiniGridComparison", "MiniGridSeedsComparison", "compare_minigrid", "compare_minigrid_seeds",
           "uniform_value", "MINIGRID_METRICS", "EVAL_SEEDS"]

EVAL_SEEDS = tuple(range(10))  # the stated seed set a MiniGrid agent is judged on: the layouts of reset(seed=0..9)

MINIGRID_METRICS = ("V_star_s0", "V_pi_s0", "V_greedy_s0", "V_uniform_s0", "normalised_score",
                    "normalised_score_greedy", "relative_gap", "critic_s0", "V_pi_discounted_s0",
                    "critic_rmse_reached")


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

    @property
    def relative_gap(self) -> float:
        r""":math:`(V^* - V^\pi) / |V^*|` at the reset state (inf when V* = 0 and the gap is not)."""
        gap = self.V_star_s0 - self.V_pi_s0
        return gap / abs(self.V_star_s0) if self.V_star_s0 != 0 else (0.0 if gap == 0 else float("inf"))

    def metrics(self) -> dict[str, float]:
        """Every metric of ``MINIGRID_METRICS``."""
        return {key: float(getattr(self, key)) for key in MINIGRID_METRICS}

    def to_dict(self) -> dict[str, Any]:
        return {"env_id": self.env_id, "seed": self.seed, **self.metrics(), "aliasing": self.aliasing,
                "gamma": self.gamma, "policy": self.pi.argmax(axis=1).tolist()}

    def table(self) -> str:
        rows = list(self.metrics().items()) + [(f"aliasing_{k}", v) for k, v in self.aliasing.items()]
        return "\n".join(f"{k:26s} {v: .6f}" if isinstance(v, float) else f"{k:26s} {v}" for k, v in rows)


def compare_minigrid(agent: Any, model: Any, wrapper: Any = "flat", env: Any = None,
                     observations: np.ndarray | None = None) -> MiniGridComparison:
    """Judge an SB3 agent (PPO, A2C, DQN) trained on ``model``'s MiniGrid instance, exactly.

    Arguments:
        agent: the SB3 model.
        model: the instance's :class:`envs.minigrid.MiniGridModel`.
        wrapper: the observation wrapper the agent was trained behind: ``"flat"`` for
            ``minigrid.wrappers.FlatObsWrapper`` (the RL Zoo's), a wrapper class, or ``None`` for
            the raw image.
        env: the VecEnv (or VecNormalize) it trained in, whose observation and reward
            normalisation apply; by default the agent's own.
        observations: ``model.observations(wrapper)`` when the caller has them already.

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
    obs = model.observations(_wrapper(wrapper)) if observations is None else observations
    learned = learned_at(agent, obs.astype(np.float32), env)
    pi = learned["pi"]
    if pi.shape != (model.n_states, model.n_actions):
        raise ValueError(f"the agent has {pi.shape[1]} actions; {model.env_id} has {model.n_actions}")
    greedy = np.eye(model.n_actions)[pi.argmax(axis=1)]
    gamma = float(getattr(agent, "gamma", 0.99))
    critic = np.asarray(learned["V"], dtype=np.float64)
    norm = find_vec_normalize(env) if env is not None else find_vec_normalize(agent.get_env())
    if norm is not None and norm.norm_reward:
        critic = critic * np.sqrt(norm.ret_rms.var + norm.epsilon)
    V_disc = model.value(pi, gamma=gamma, every_state=True)
    reached = _reached(model, pi)
    return MiniGridComparison(
        env_id=model.env_id, seed=model.seed, V_star_s0=model.V_star(model.start, 0), V_pi_s0=model.value(pi),
        V_greedy_s0=model.value(greedy), V_uniform_s0=uniform_value(model), aliasing=model.aliasing(obs), gamma=gamma,
        critic_s0=float(critic[model.start]), V_pi_discounted_s0=float(V_disc[model.start]),
        critic_rmse_reached=float(np.sqrt(np.mean((critic[reached] - V_disc[reached]) ** 2))), pi=pi)


def _wrapper(wrapper: Any) -> Any:
    if wrapper == "flat":
        from minigrid.wrappers import FlatObsWrapper

        return FlatObsWrapper
    return wrapper


@dataclass
class MiniGridSeedsComparison:
    """:func:`compare_minigrid` on each layout of a stated seed set; :meth:`metrics` are the means.

    Attributes:
        env_id: the world; ``seeds`` the seed set; ``per_seed`` one :class:`MiniGridComparison` each.
    """

    env_id: str
    seeds: tuple[int, ...]
    per_seed: list[MiniGridComparison]

    def metrics(self) -> dict[str, float]:
        """The mean over the seeds of every metric of ``MINIGRID_METRICS``."""
        rows = [c.metrics() for c in self.per_seed]
        return {key: float(np.mean([r[key] for r in rows])) for key in MINIGRID_METRICS}

    def to_dict(self) -> dict[str, Any]:
        return {"env_id": self.env_id, "seeds": list(self.seeds), "over": f"seeds {list(self.seeds)}",
                **self.metrics(), "per_seed": [c.to_dict() for c in self.per_seed]}

    def table(self) -> str:
        head = f"{self.env_id}, mean over seeds {list(self.seeds)} (MiniGrid's objective, t = 0)"
        return head + "\n" + "\n".join(f"{k:26s} {v: .6f}" for k, v in self.metrics().items())

    def plot(self, path: str) -> str:
        """Per seed: V*(s0), the sampled and greedy policies' values and the uniform policy's; saved to ``path``."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        x = np.arange(len(self.seeds))
        fig, ax = plt.subplots(figsize=(max(5.0, 0.6 * len(x) + 2), 3.2))
        for i, (key, label) in enumerate((("V_star_s0", "V*(s0)"), ("V_pi_s0", "agent, sampled"),
                                          ("V_greedy_s0", "agent, greedy"), ("V_uniform_s0", "uniform"))):
            ax.bar(x + (i - 1.5) * 0.2, [getattr(c, key) for c in self.per_seed], width=0.2, label=label)
        ax.set_xticks(x, [str(s) for s in self.seeds])
        ax.set_xlabel("layout (reset seed)")
        ax.set_ylabel("value at the start, t = 0")
        ax.set_title(f"{self.env_id}: exact values under MiniGrid's objective")
        ax.legend(fontsize=7, ncol=4, loc="lower center")
        fig.tight_layout()
        fig.savefig(path, dpi=110)
        plt.close(fig)
        return path


def compare_minigrid_seeds(agent: Any, env_id: str, seeds: Any = EVAL_SEEDS, wrapper: Any = "flat", env: Any = None,
                           cache: dict[int, tuple[Any, np.ndarray]] | None = None) -> MiniGridSeedsComparison:
    """:func:`compare_minigrid` on the layout of each seed (an agent trained on MiniGrid's random
    layouts is judged on a stated set of them). ``cache`` keeps each seed's model and observations
    between calls (the training callback's)."""
    from envs.minigrid import exact_model

    cache = {} if cache is None else cache
    per_seed = []
    for seed in seeds:
        if seed not in cache:
            model = exact_model(env_id, seed=int(seed))
            cache[seed] = (model, model.observations(_wrapper(wrapper)))
        model, obs = cache[seed]
        per_seed.append(compare_minigrid(agent, model, wrapper, env, observations=obs))
    return MiniGridSeedsComparison(env_id, tuple(int(s) for s in seeds), per_seed)


def _reached(model: Any, pi: np.ndarray) -> np.ndarray:
    """The live states a policy reaches with positive probability from the reset state."""
    seen = np.zeros(model.n_states, dtype=bool)
    seen[model.start] = True
    frontier = [model.start]
    while frontier:
        s = frontier.pop()
        nxt = np.concatenate([model.next_state[o][model.prob[o] > 0]
                              for o in (model.outcomes(s, a) for a in np.flatnonzero(pi[s] > 0))])
        for t in nxt[nxt >= 0]:
            if not seen[t]:
                seen[t] = True
                frontier.append(int(t))
    return np.flatnonzero(seen)
