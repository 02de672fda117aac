r"""An SB3 agent on a POMDP judged exactly: its value against certified bounds on the optimum.

What the agent remembers decides how its value is found:

- **memoryless** (PPO, A2C, DQN on the observation): a table :math:`\pi(a \mid o)` read from the
  network at each of the ``Z + 1`` observations; its value is exact
  (:func:`agents.pomdp_eval.memoryless_value`);
- **frame-stacked** (the same on ``POMDPEnv(frame_stack=k)``, the last ``k`` actions and
  observations): exact too, on the chain over (hidden state, window)
  (:func:`agents.pomdp_eval.window_value`);
- **recurrent** (sb3-contrib's ``RecurrentPPO``): a certified interval from its history tree
  (:func:`agents.pomdp_history.history_tree_value`), or, where that stays wider than a Monte Carlo
  estimate's 95% interval, the Monte Carlo interval (:func:`agents.pomdp_history.monte_carlo_value`),
  labelled as such.

Against it stand the certified bounds :math:`L \le V^*(b_0) \le U` (:func:`agents.pomdp.solve`),
the uniform-random policy's exact value, the hidden MDP's :math:`V^*` (what seeing the state would
give) and, when the POMDP is small enough to enumerate, the best deterministic memoryless policy.
Because :math:`V^*(b_0)` is known only within :math:`[L, U]` (and a recurrent agent's value within
its interval), the return gap and the normalised score are intervals.

Values are those of the discounted model without the env's time limit, as the bounds are.

Example:
    >>> import gymnasium as gym, envs
    >>> from stable_baselines3 import PPO
    >>> env = gym.make("gridlab/TMaze-v0", length=2)
    >>> c = compare_pomdp(PPO("MlpPolicy", env, seed=0, device="cpu"), env)   # untrained
    >>> c.kind, c.lower <= c.upper and c.score_interval[0] <= c.score_interval[1]
    ('memoryless', True)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from agents.compare import learned_at
from agents.pomdp import solve
from agents.pomdp_eval import MAX_ENUMERATED, best_memoryless, memoryless_value, window_value

__all__ = ["POMDPComparison", "compare_pomdp", "memoryless_policy", "is_recurrent", "plot_pomdp_learning_curves",
           "POMDPReferences", "pomdp_references", "RecurrentSB3Policy", "KINDS",
           "VALUE_METHODS"]


KINDS = ("memoryless", "frame stack", "recurrent")
VALUE_METHODS = ("exact", "history tree", "monte carlo")


@dataclass(frozen=True)
class POMDPComparison:
    r"""What :func:`compare_pomdp` measures; values at :math:`b_0`, exact, certified or (Monte Carlo) stated.

    Attributes:
        kind: the agent's memory, one of ``KINDS``.
        value_lower, value_upper: the agent's :math:`V^\pi(b_0)` lies in this interval (equal ends
            when it is exact).
        value_method: how it was found, one of ``VALUE_METHODS``; ``"monte carlo"`` is a 95%
            confidence interval, the others certain.
        lower, upper: certified bounds on :math:`V^*(b_0)` (the gap closed to the ``tol`` asked, or
            as far as the time limit allowed).
        uniform: the uniform-random policy's exact value.
        mdp_value: the hidden MDP's :math:`V^*(b_0)`, above :math:`V^*(b_0)` of the POMDP.
        best_memoryless: the best deterministic memoryless policy's value, or None when there are
            more than ``agents.pomdp_eval.MAX_ENUMERATED`` of them.
        policy: ``(Z + 1, A)`` a memoryless agent's :math:`\pi(a \mid o)`, else None.
        frame_stack: the window's length ``k`` of a frame-stacked agent, else 0.
    """

    kind: str
    value_lower: float
    value_upper: float
    value_method: str
    lower: float
    upper: float
    uniform: float
    mdp_value: float
    best_memoryless: float | None
    policy: np.ndarray | None = None
    frame_stack: int = 0

    @property
    def value(self) -> float:
        """The agent's value (exact, or its interval's midpoint)."""
        return 0.5 * (self.value_lower + self.value_upper)

    @property
    def gap_interval(self) -> tuple[float, float]:
        r""":math:`V^*(b_0) - V^\pi(b_0)` lies in ``[lower - value_upper, upper - value_lower]``."""
        return self.lower - self.value_upper, self.upper - self.value_lower

    @property
    def score_interval(self) -> tuple[float, float]:
        r"""The normalised score :math:`(V^\pi - V^{unif}) / (V^* - V^{unif})` over every
        :math:`V^\pi` in the agent's interval and every :math:`V^*` the numbers allow,
        :math:`\max(L, V^\pi, V^{unif}) \le V^* \le U` (1 optimal, 0 uniform-random; ``(1, 1)``
        when the uniform policy is already optimal)."""
        ends = [_score(v, self.uniform, self.lower, self.upper) for v in (self.value_lower, self.value_upper)]
        return min(e[0] for e in ends), max(e[1] for e in ends)

    def metrics(self) -> dict[str, float]:
        """Flat numbers for logs and sweeps; ``normalised_score`` is the score interval's lower end
        (what the agent certainly reaches, or, for ``"monte carlo"``, at 95% confidence), and
        ``relative_gap`` the return gap's upper end as a share of :math:`|V^*(b_0)|` (its larger
        bound's magnitude), as a fully observed run's ``relative_gap`` is."""
        lo, hi = self.score_interval
        gap_lo, gap_hi = self.gap_interval
        scale = max(abs(self.lower), abs(self.upper))
        return {"value": self.value, "value_lower": self.value_lower, "value_upper": self.value_upper,
                "lower": self.lower, "upper": self.upper, "uniform": self.uniform, "mdp_value": self.mdp_value,
                "best_memoryless": math.nan if self.best_memoryless is None else self.best_memoryless,
                "return_gap_lower": gap_lo, "return_gap_upper": gap_hi,
                "normalised_score": lo, "normalised_score_upper": hi,
                "relative_gap": gap_hi / scale if scale > 0 else math.nan}

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: :meth:`metrics` plus the kind, the value's method and the window."""
        return {"kind": self.kind, "value_method": self.value_method, "frame_stack": self.frame_stack,
                **{k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in self.metrics().items()}}

    def table(self) -> str:
        """A plain-text table of the comparison, one quantity per line."""
        exact = {"exact": "exact", "history tree": "certified (history tree)",
                 "monte carlo": "Monte Carlo, 95% interval"}[self.value_method]
        memory = {"memoryless": "memoryless", "frame stack": f"frame stack of {self.frame_stack}",
                  "recurrent": "recurrent"}[self.kind]
        value = (f"{self.value:.4f}" if self.value_lower == self.value_upper
                 else f"[{self.value_lower:.4f}, {self.value_upper:.4f}]")
        lo, hi = self.score_interval
        rows = [(f"agent ({memory}) V^pi(b0)", f"{value}  {exact}"),
                ("V*(b0), certified", f"[{self.lower:.4f}, {self.upper:.4f}]"),
                ("return gap V* - V^pi", "[{:.4f}, {:.4f}]".format(*self.gap_interval)),
                ("normalised score", f"[{lo:.3f}, {hi:.3f}]  (1 optimal, 0 uniform-random)"),
                ("uniform-random policy", f"{self.uniform:.4f}"),
                ("hidden MDP's V*(b0) (seeing the state)", f"{self.mdp_value:.4f}")]
        if self.best_memoryless is not None:
            rows.append(("best deterministic memoryless policy", f"{self.best_memoryless:.4f}"))
        width = max(len(k) for k, _ in rows)
        return "\n".join(f"{k:<{width}}  {v}" for k, v in rows)

    def plot(self, path: str) -> str:
        """The values on one axis: the agent's interval against the certified optimum, the uniform
        policy, the best memoryless policy and the hidden MDP; writes a PNG and returns its path."""
        from envs.plotting import PAGE_WIDTH, new_figure

        fig, ax = new_figure(figsize=(PAGE_WIDTH, 2.6))
        rows = [("hidden MDP V*", self.mdp_value, self.mdp_value, "tab:gray"),
                ("POMDP V* (certified)", self.lower, self.upper, "tab:green")]
        if self.best_memoryless is not None:
            rows.append(("best memoryless", self.best_memoryless, self.best_memoryless, "tab:purple"))
        rows += [("uniform-random", self.uniform, self.uniform, "tab:orange"),
                 (f"agent ({self.kind}, {self.value_method})", self.value_lower, self.value_upper, "tab:blue")]
        for y, (label, lo, hi, colour) in enumerate(rows):
            ax.plot([lo, hi], [y, y], color=colour, lw=6, solid_capstyle="butt")
            ax.plot([lo, hi], [y, y], "|", color="black", ms=14)
        ax.set_yticks(range(len(rows)), [r[0] for r in rows], fontsize=9)
        ax.set_xlabel("value at b0 (discounted return)", fontsize=9)
        lo, hi = self.score_interval
        ax.set_title(f"normalised score in [{lo:.3f}, {hi:.3f}]", fontsize=10)
        ax.grid(axis="x", alpha=0.3)
        fig.savefig(path, dpi=110)
        return path


def plot_pomdp_learning_curves(csv_paths: dict[str, str] | str, path: str) -> str:
    """A POMDP run's ``exact_eval.csv`` over training: the agent's value interval inside the certified
    band :math:`[L, U]` of :math:`V^*(b_0)`, and the normalised score's interval; writes a PNG.

    Arguments:
        csv_paths: one CSV path, or ``{label: path}`` to overlay several runs.
        path: the PNG to write.
    """
    from envs.plotting import PAGE_WIDTH, new_figure

    if not isinstance(csv_paths, dict):
        csv_paths = {"": str(csv_paths)}
    fig, (left, right) = new_figure(1, 2, figsize=(PAGE_WIDTH, 3.4))
    for label, p in csv_paths.items():
        data = np.atleast_1d(np.genfromtxt(p, delimiter=",", names=True))
        t = data["timesteps"]
        line = left.plot(t, 0.5 * (data["value_lower"] + data["value_upper"]), marker=".", ms=3, label=label or "agent")
        left.fill_between(t, data["value_lower"], data["value_upper"], color=line[0].get_color(), alpha=0.25)
        right.plot(t, data["normalised_score"], marker=".", ms=3, color=line[0].get_color(), label=label or None)
        right.fill_between(t, data["normalised_score"], data["normalised_score_upper"], color=line[0].get_color(), alpha=0.25)
    left.fill_between(t, data["lower"], data["upper"], color="tab:green", alpha=0.3, label="V*(b0), certified")
    left.plot(t, data["upper"], color="tab:green", lw=1)
    left.set_title("value at b0", fontsize=10)
    right.set_title("normalised score (1 optimal, 0 uniform)", fontsize=10)
    for ax in (left, right):
        ax.set_xlabel("timesteps", fontsize=9)
        ax.grid(alpha=0.3)
    left.legend(fontsize=8)
    fig.savefig(path, dpi=110)
    return path


def _score(value: float, uniform: float, lower: float, upper: float) -> tuple[float, float]:
    """The normalised score's range at one agent value over :math:`V^*` in :math:`[\\max(L, v, u), U]`."""
    tiny = 1e-12 * max(1.0, abs(upper))
    gain = value - uniform
    span_hi = upper - uniform
    span_lo = max(lower, value, uniform) - uniform
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


def is_recurrent(model: Any) -> bool:
    """Whether an SB3 model's policy carries memory (sb3-contrib's recurrent actor-critic)."""
    from sb3_contrib.common.recurrent.policies import RecurrentActorCriticPolicy

    return isinstance(model.policy, RecurrentActorCriticPolicy)


class RecurrentSB3Policy:
    """A ``RecurrentPPO`` model as a :class:`~agents.pomdp_history.RecurrentPolicy`: its actor LSTM's
    ``(h, c)`` states are the memory, the observation index is encoded as the env encodes it.

    Arguments:
        model: the ``RecurrentPPO`` model.
        env: the :class:`~envs.pomdp_env.POMDPEnv` (wrapped or not) it acts in.
        deterministic: the greedy action (what ``model.predict(deterministic=True)`` plays)
            instead of the sampled policy.
    """

    def __init__(self, model: Any, env: Any, deterministic: bool = False) -> None:
        self.model, self.base, self.deterministic = model, _pomdp_env(env), deterministic

    def initial_state(self, n: int) -> tuple[Any, Any]:
        import torch

        shape = list(self.model.policy.lstm_hidden_state_shape)
        shape[1] = n
        zeros = torch.zeros(shape, device=self.model.policy.device)
        return zeros, zeros.clone()

    def step(self, obs: np.ndarray, state: tuple[Any, Any], first: np.ndarray) -> tuple[np.ndarray, tuple[Any, Any]]:
        import torch

        policy = self.model.policy
        x = np.array([self.base._encode(int(o)) for o in obs])
        with torch.no_grad():
            obs_t, _ = policy.obs_to_tensor(x)
            starts = torch.as_tensor(np.asarray(first, dtype=np.float32), device=policy.device)
            dist, after = policy.get_distribution(obs_t, state, starts)
            probs = dist.distribution.probs.cpu().numpy().astype(np.float64)
        if self.deterministic:
            probs = np.eye(probs.shape[1])[probs.argmax(axis=1)]
        return probs, after


def _window_policy(model: Any, base: Any, env: Any):
    """A frame-stacked model as :func:`~agents.pomdp_eval.window_value` reads it, a batch of windows at once."""
    def policy(windows):
        pis = [learned_at(model, np.stack([base.encode_window(w) for w in windows[i:i + 4096]]), env)["pi"]
               for i in range(0, len(windows), 4096)]
        return np.concatenate(pis)
    return policy


@dataclass(frozen=True)
class POMDPReferences:
    r"""What every agent on one POMDP is judged against, computed once (:func:`pomdp_references`).

    Attributes:
        lower, upper: certified bounds on :math:`V^*(b_0)`.
        uniform: the uniform-random policy's exact value.
        mdp_value: the hidden MDP's :math:`V^*(b_0)`.
        best_memoryless: the best deterministic memoryless policy's value, or None (too many to enumerate).
        value_range: :func:`agents.pomdp_history.value_range` of the model.
    """

    lower: float
    upper: float
    uniform: float
    mdp_value: float
    best_memoryless: float | None
    value_range: tuple[np.ndarray, np.ndarray]


def pomdp_references(pomdp: Any, tol: float = 1e-3, time_limit: float = 60.0) -> POMDPReferences:
    """The :class:`POMDPReferences` of a model: its certified bounds (:func:`agents.pomdp.solve` with
    ``tol`` and ``time_limit``), the uniform policy, the hidden MDP and the best memoryless policy."""
    from agents import dp
    from agents.pomdp_history import value_range

    bounds = solve(pomdp, tol=tol, time_limit=time_limit)
    A = pomdp.n_actions
    enumerable = A ** (pomdp.n_observations + 1) <= MAX_ENUMERATED
    return POMDPReferences(
        lower=bounds.lower, upper=bounds.upper,
        uniform=memoryless_value(pomdp, np.full((pomdp.n_observations + 1, A), 1.0 / A)),
        mdp_value=float(pomdp.b0 @ dp.solve(pomdp.mdp, pomdp.gamma, tol=1e-9).V),
        best_memoryless=best_memoryless(pomdp)[0] if enumerable else None, value_range=value_range(pomdp))


def compare_pomdp(model: Any, env: Any, tol: float = 1e-3, time_limit: float = 60.0,
                  references: POMDPReferences | None = None,
                  value_tol: float = 1e-2, tree_time_limit: float = 10.0, episodes: int = 2000, seed: int = 0,
                  deterministic: bool = False) -> POMDPComparison:
    """Judge an SB3 agent on a POMDP (module doc).

    Arguments:
        model: a trained SB3 model: feed-forward on the env's observation (memoryless or
            frame-stacked), or ``RecurrentPPO``.
        env: the :class:`~envs.pomdp_env.POMDPEnv` (wrapped or not) it acts in.
        tol, time_limit: passed to :func:`agents.pomdp.solve` for the bounds.
        references: the model's :func:`pomdp_references` already computed (then nothing is solved
            again: how a callback judges an agent many times during training).
        value_tol, tree_time_limit: a recurrent agent's history tree stops at this width or after
            this many seconds; still wider, a Monte Carlo interval of ``episodes`` episodes (seeded
            by ``seed``) is computed too and the narrower of the two is reported. (The tree closes
            on greedy policies in worlds that end; a sampled policy branches on every action, and
            Monte Carlo is usually the narrower there.)
        deterministic: judge a recurrent agent's greedy policy instead of its sampled one
            (memoryless and frame-stacked agents are judged as they act when sampled; DQN-style
            models by their greedy action).
    """
    from agents.pomdp_history import history_tree_value, monte_carlo_value

    base = _pomdp_env(env)
    pomdp = base.pomdp
    ref = references if references is not None else pomdp_references(pomdp, tol, time_limit)
    pi = None
    if is_recurrent(model):
        kind = "recurrent"
        policy = RecurrentSB3Policy(model, env, deterministic)
        found = history_tree_value(pomdp, policy, tol=value_tol, time_limit=tree_time_limit,
                                   value_bounds=ref.value_range)
        if found.width > value_tol:
            sampled = monte_carlo_value(pomdp, policy, episodes=episodes, seed=seed, value_bounds=ref.value_range)
            found = sampled if sampled.width < found.width else found
        v_lo, v_hi, method = float(found.lower), float(found.upper), found.method
    elif base.frame_stack:
        kind = "frame stack"
        v_lo = v_hi = window_value(pomdp, _window_policy(model, base, env), base.frame_stack, batched=True)
        method = "exact"
    else:
        kind = "memoryless"
        pi = memoryless_policy(model, env)
        v_lo = v_hi = memoryless_value(pomdp, pi)
        method = "exact"
    return POMDPComparison(
        kind=kind, value_lower=v_lo, value_upper=v_hi, value_method=method, lower=ref.lower, upper=ref.upper,
        uniform=ref.uniform, mdp_value=ref.mdp_value, best_memoryless=ref.best_memoryless, policy=pi,
        frame_stack=base.frame_stack)
