r"""Check an exact model against the env it claims to describe, by stepping the env itself.

A ``TabularMDP`` read from an env's ``P`` table is only as exact as that table: Taxi's
``fickle_passenger=True`` changes the destination inside ``step`` and its ``P`` does not say so.
:func:`check_model` samples (state, action) pairs, puts the env in the state, calls its own
``step`` and compares what happened with the model:

- *support*: the next state must have positive probability under the model;
- *terminated*: the env's flag must match the model's terminal state;
- *reward*: the reward must equal the model's :math:`r(s, a, s')`;
- *frequencies*: under the model, the randomised probability integral transform of each next
  state, :math:`u = F(s'^-) + v\,P(s' \mid s,a)` with :math:`v \sim U(0, 1)`, is exactly
  uniform; a Kolmogorov-Smirnov test of the u's refuses the model at ``p < alpha`` (default
  1e-6, so a correct model is refused about once in a million checks).

The env must keep its state in ``env.unwrapped.s``, toy_text's convention (FrozenLake,
CliffWalking, Taxi and every gridlab env follow it). The check resets and steps the env, so
reset it afterwards.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import gymnasium as gym
import numpy as np

if TYPE_CHECKING:  # for annotations only: envs.mdp calls check_model, so importing it here would be a cycle
    from envs.mdp import TabularMDP

__all__ = ["ModelCheck", "check_model"]


@dataclass
class ModelCheck:
    """What :func:`check_model` ran: ``steps`` env steps over ``pairs`` distinct (s, a) pairs and
    the Kolmogorov-Smirnov p-value of the frequencies (large: no evidence against the model)."""

    steps: int
    pairs: int
    ks_pvalue: float


def check_model(env: Any, mdp: TabularMDP, steps: int = 300, seed: int = 0, alpha: float = 1e-6) -> ModelCheck:
    """Step ``env`` from sampled (state, action) pairs and check ``mdp`` against what it does.

    Arguments:
        env: a Gymnasium env (wrapped or not) keeping its state in ``env.unwrapped.s``.
        mdp: the model of it (``TabularMDP.from_gym`` numbers states as the env does, plus an
            optional absorbing state standing for "terminated elsewhere", ``mdp.info["absorbing_state"]``).
        steps: env steps to sample, from live pairs drawn uniformly (at least 1).
        seed: seeds the pair draws, the env's resets and the transform's noise.
        alpha: the frequency test's significance level.

    Returns:
        A :class:`ModelCheck`; raises ``ValueError`` naming the pair and what differed otherwise.

    Example:
        >>> import gymnasium as gym
        >>> from envs import TabularMDP
        >>> env = gym.make("FrozenLake-v1")
        >>> check_model(env, TabularMDP.from_gym(env, verify=0)).steps
        300
    """
    defined = sys.modules.get("envs.mdp")  # loaded wherever a TabularMDP exists; importing it here would be a cycle
    if defined is None or not isinstance(mdp, defined.TabularMDP):
        raise TypeError(f"mdp must be a TabularMDP, got {type(mdp).__name__}")
    if int(steps) < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    if not 0.0 < float(alpha) < 1.0:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    base = getattr(env, "unwrapped", env)
    if not isinstance(base, gym.Env):
        raise TypeError(f"env must be a Gymnasium env, got {type(base).__name__}")
    if not isinstance(getattr(base, "s", None), (int, np.integer)):
        base.reset(seed=seed)
        if not isinstance(getattr(base, "s", None), (int, np.integer)):
            raise ValueError(f"{type(base).__name__} keeps no integer state in .s (toy_text's convention); cannot step it from a given state")
    sink = mdp.info.get("absorbing_state")
    S, A = mdp.n_states, mdp.n_actions
    candidates = np.flatnonzero(np.repeat(~mdp.terminal, A) & (np.repeat(np.arange(S), A) != (-1 if sink is None else sink)))
    if not candidates.size:
        raise ValueError("the model has no live state to check")
    rng = np.random.default_rng(seed)
    rows = rng.choice(candidates, size=int(steps))
    base.reset(seed=seed)
    u = np.empty(rows.size)
    for i, row in enumerate(rows):
        s, a = divmod(int(row), A)
        base.reset()  # per-episode flags (Taxi's fickle passenger) are drawn at reset
        base.s = s
        _, reward, terminated, _, _ = base.step(a)
        s_env = int(base.s)
        s_next = sink if terminated and sink is not None and not mdp.terminal[s_env] else s_env
        nxt, prob = mdp.transitions(s, a)
        where = np.flatnonzero(nxt == s_next)
        if not where.size:
            raise ValueError(f"state {s}, action {a}: the env stepped to state {s_env} (terminated={terminated}), "
                             f"which the model gives probability 0 (its successors: {nxt.tolist()})")
        if bool(terminated) != bool(mdp.terminal[s_next]):
            raise ValueError(f"state {s}, action {a}: the env says terminated={terminated} on reaching state {s_env}, "
                             f"the model says terminal={bool(mdp.terminal[s_next])}")
        r_model = mdp.transition_reward(s, a, int(s_next))
        if abs(float(reward) - r_model) > 1e-9 * max(1.0, abs(r_model)):
            raise ValueError(f"state {s}, action {a} -> state {s_env}: the env paid {float(reward):g}, the model says {r_model:g}")
        k = int(where[0])
        u[i] = prob[:k].sum() + rng.random() * prob[k]
    import scipy.stats  # here: importing it costs half a second that `import envs` need not pay

    pvalue = float(scipy.stats.kstest(u, "uniform").pvalue)
    if pvalue < alpha:
        raise ValueError(f"the env's next-state frequencies disagree with the model over {rows.size} steps "
                         f"(Kolmogorov-Smirnov p = {pvalue:.2g} < {alpha:g}); worst pair: {_worst_pair(mdp, rows, u)}")
    return ModelCheck(int(rows.size), int(np.unique(rows).size), pvalue)


def _worst_pair(mdp: TabularMDP, rows: np.ndarray, u: np.ndarray) -> str:
    """The pair whose transforms stray furthest from uniform (mean far from 1/2, in standard errors)."""
    best, name = -1.0, ""
    for row in np.unique(rows):
        sel = u[rows == row]
        z = abs(sel.mean() - 0.5) / np.sqrt(1.0 / 12.0 / sel.size)
        if z > best:
            s, a = divmod(int(row), mdp.n_actions)
            best, name = z, f"state {s}, action {a} ({sel.size} steps, {z:.1f} standard errors)"
    return name
