r"""An SB3 agent without memory on a POMDP, judged exactly: its value against certified bounds.

A feed-forward agent on a :class:`~envs.pomdp_env.POMDPEnv` acts on the last observation alone,
so its policy is a table :math:`\pi(a \mid o)` (read from the network at each of the ``Z + 1``
observations) and its value :math:`V^\pi(b_0)` is exact (:func:`agents.pomdp_eval.memoryless_value`).
Against it stand the certified bounds :math:`L \le V^*(b_0) \le U` (:func:`agents.pomdp.solve`),
the uniform-random policy's exact value, the hidden MDP's :math:`V^*` (what seeing the state would
give) and, when the POMDP is small enough to enumerate, the best deterministic memoryless policy.
Because :math:`V^*(b_0)` is known only within :math:`[L, U]`, the return gap and the normalised
score are intervals.

Example:
    >>> import gymnasium as gym, envs
    >>> from stable_baselines3 import PPO
    >>> env = gym.make("gridlab/TMaze-v0", length=2)
    >>> c = compare_pomdp(PPO("MlpPolicy", env, seed=0, device="cpu"), env)   # untrained
    >>> c.lower <= c.upper and c.score_interval[0] <= c.score_interval[1]
    True
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from agents.compare import learned_at
from agents.pomdp import solve
from agents.pomdp_eval import MAX_ENUMERATED, best_memoryless, memoryless_value

__all__ = ["POMDPComparison", "compare_pomdp", "memoryless_policy"]


@dataclass(frozen=True)
class POMDPComparison:
    """What :func:`compare_pomdp` measures; values at :math:`b_0`, all exact or certified.

    Attributes:
        value: the agent's exact :math:`V^\\pi(b_0)`.
        lower, upper: certified bounds on :math:`V^*(b_0)` (the gap closed to the ``tol`` asked, or
            as far as the time limit allowed).
        uniform: the uniform-random policy's exact value.
        mdp_value: the hidden MDP's :math:`V^*(b_0)`, above :math:`V^*(b_0)` of the POMDP.
        best_memoryless: the best deterministic memoryless policy's value, or None when there are
            more than ``agents.pomdp_eval.MAX_ENUMERATED`` of them.
        policy: ``(Z + 1, A)`` the agent's :math:`\\pi(a \\mid o)`.
    """

    value: float
    lower: float
    upper: float
    uniform: float
    mdp_value: float
    best_memoryless: float | None
    policy: np.ndarray

    @property
    def gap_interval(self) -> tuple[float, float]:
        """:math:`V^*(b_0) - V^\\pi(b_0)` lies in ``[lower - value, upper - value]``."""
        return self.lower - self.value, self.upper - self.value

    @property
    def score_interval(self) -> tuple[float, float]:
        """The normalised score :math:`(V^\\pi - V^{unif}) / (V^* - V^{unif})` over every :math:`V^*`
        the numbers allow, :math:`\\max(L, V^\\pi, V^{unif}) \\le V^* \\le U` (1 optimal, 0
        uniform-random; ``(1, 1)`` when the uniform policy is already optimal)."""
        tiny = 1e-12 * max(1.0, abs(self.upper))
        gain = self.value - self.uniform
        span_hi = self.upper - self.uniform
        span_lo = max(self.lower, self.value, self.uniform) - self.uniform
        if span_hi <= tiny:
            return 1.0, 1.0
        a = gain / span_hi
        b = gain / span_lo if span_lo > tiny else (1.0 if gain >= 0 else -np.inf)
        return min(a, b), max(a, b)


def _pomdp_env(env: Any) -> Any:
    from envs.pomdp_env import POMDPEnv

    base = getattr(env, "unwrapped", env)
    if not isinstance(base, POMDPEnv):
        raise TypeError(f"compare_pomdp needs a POMDPEnv, got {type(base).__name__}")
    return base


def memoryless_policy(model: Any, env: Any) -> np.ndarray:
    """``(Z + 1, A)``: an SB3 model's action probabilities at each observation of a POMDPEnv
    (``"start"`` last); DQN-style models give their greedy action."""
    base = _pomdp_env(env)
    obs = np.array([base._encode(o) for o in range(base.pomdp.n_observations + 1)])
    return learned_at(model, obs, env)["pi"]


def compare_pomdp(model: Any, env: Any, tol: float = 1e-3, time_limit: float = 60.0) -> POMDPComparison:
    """Judge a feed-forward SB3 agent on a POMDP exactly (module doc).

    Arguments:
        model: a trained SB3 model whose policy reads the env's observation alone.
        env: the :class:`~envs.pomdp_env.POMDPEnv` (wrapped or not) it acts in.
        tol, time_limit: passed to :func:`agents.pomdp.solve` for the bounds.
    """
    from agents import dp

    pomdp = _pomdp_env(env).pomdp
    pi = memoryless_policy(model, env)
    bounds = solve(pomdp, tol=tol, time_limit=time_limit)
    uniform = np.full_like(pi, 1.0 / pomdp.n_actions)
    enumerable = pomdp.n_actions ** (pomdp.n_observations + 1) <= MAX_ENUMERATED
    return POMDPComparison(
        value=memoryless_value(pomdp, pi), lower=bounds.lower, upper=bounds.upper,
        uniform=memoryless_value(pomdp, uniform),
        mdp_value=float(pomdp.b0 @ dp.solve(pomdp.mdp, pomdp.gamma, tol=1e-9).V),
        best_memoryless=best_memoryless(pomdp)[0] if enumerable else None, policy=pi)
