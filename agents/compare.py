r"""Exact comparison of a trained Stable-Baselines3 agent with :math:`V^\pi` and :math:`V^*`.

The critic of an actor-critic agent is trained to estimate the value of the agent's *own*
(stochastic) policy, so the first reference is :math:`V^{\pi_\theta}`, computed exactly by a
linear solve (``agents.dp.policy_evaluation``); the second is :math:`V^*`.

SB3 bootstraps from the critic when an episode is cut by a time limit (``TimeLimit``
truncation), so what it estimates is the infinite-horizon discounted value: the exact
infinite-horizon values are the right reference for the critic. The returns the env really
produces are another objective: an episode ends after ``max_episode_steps`` at most, so their
mean converges to the finite-horizon value :math:`V^\pi_H(s_0)`, below :math:`V^\pi(s_0)` where
truncation matters. :func:`compare` reports both, named for what they are: ``return_gap`` and
``V_star_s0`` are infinite-horizon; the ``*_time_limit`` metrics are those of episodes cut at
the env's time limit (``agents.dp.policy_evaluation(horizon=)`` and
``agents.dp.backward_induction``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from agents.dp import backward_induction, bellman_backup, policy_evaluation, solve
from agents.vecnormalize import find_vec_normalize
from envs.gridworld import GridWorldEnv
from envs.mdp import TabularMDP

__all__ = ["Comparison", "compare", "time_limit", "extract", "discounted_visitation", "plot_learning_curves", "OPTIMAL_TOL",
           "METRICS", "CURVES", "learned_at"]

OPTIMAL_TOL = 1e-6  # an action is optimal when Q*(s, a) >= max_a Q*(s, a) - OPTIMAL_TOL

# The agent metrics, declared once: key (a Comparison attribute) -> what it is. Comparison.metrics()
# returns them in this order; ExactEvalCallback logs a selection over training; the figures and
# the report take their titles from here. A new metric is an attribute of Comparison and a line here.
METRICS: dict[str, str] = {
    "return_gap": "return gap  V*(s0) - V^pi(s0)",
    "relative_gap": "return gap / |V*(s0)|",
    "return_gap_greedy": "return gap of the greedy policy",
    "rmse_vs_pi": "rmse of V_theta vs V^pi",
    "max_err_vs_pi": "max |V_theta - V^pi|",
    "rmse_vs_star": "rmse of V_theta vs V*",
    "policy_agreement": "policy agreement",
    "V_star_s0": "V*(s0)",
    "suboptimal_visitation": "visitation of states with a suboptimal greedy action",
    "rmse_vs_pi_visited": "rmse of V_theta vs V^pi under the policy's visitation",
    "normalised_score": "(J^pi - J^uniform) / (J* - J^uniform)",
}
CURVES = ("return_gap", "rmse_vs_pi", "rmse_vs_star", "policy_agreement")  # plot_learning_curves' panels


def _first_env(env: Any) -> Any:
    """An SB3 VecEnv's first env (DummyVecEnv and friends); any other env as it is."""
    return env.envs[0] if hasattr(env, "envs") else env


def _base_env(env: Any) -> GridWorldEnv:
    """The GridWorldEnv under gym wrappers or an SB3 VecEnv."""
    env = _first_env(env)
    if hasattr(env, "venv"):  # VecNormalize and other VecEnv wrappers
        return _base_env(env.venv)
    base = getattr(env, "unwrapped", env)
    if not isinstance(base, GridWorldEnv):
        raise TypeError(f"compare needs a gridlab GridWorldEnv, got {type(base).__name__}")
    return base


def extract(model: Any, env: Any) -> dict[str, np.ndarray | None]:
    r"""Learned values and policy of an SB3 model at every state of the env.

    States are fed through ``env.unwrapped.encode`` so any observation mode works.

    Returns a dict with:
        ``V``: ``(S,)`` learned state values (PPO/A2C: ``policy.predict_values``; DQN and QR-DQN:
        :math:`\max_a Q_\theta`).
        ``Q``: ``(S, A)`` learned action values (DQN: ``q_net``; QR-DQN: the mean of its quantiles),
        else ``None``.
        ``pi``: ``(S, A)`` action probabilities (actor-critic: the distribution's probabilities;
        DQN and QR-DQN: the greedy policy).
    """
    base = _base_env(env)
    return learned_at(model, base.encode_batch(np.arange(base.n_states)), env)


def learned_at(model: Any, obs: np.ndarray, env: Any = None) -> dict[str, np.ndarray | None]:
    """:func:`extract`'s ``V``, ``Q`` and ``pi`` of an SB3 model at a batch of observations
    (normalised first when the model or ``env`` carries a ``VecNormalize``)."""
    import torch

    S = len(obs)
    norm = (find_vec_normalize(env) if env is not None else None) or find_vec_normalize(model.get_env())
    if norm is not None and norm.norm_obs:
        obs = norm.normalize_obs(obs)
    policy = model.policy
    with torch.no_grad():
        obs_t, _ = policy.obs_to_tensor(obs)
        if hasattr(policy, "q_net") or hasattr(policy, "quantile_net"):
            net = policy.q_net if hasattr(policy, "q_net") else lambda o: policy.quantile_net(o).mean(dim=1)
            Q = net(obs_t).cpu().numpy().astype(np.float64)
            pi = np.zeros_like(Q)
            pi[np.arange(S), Q.argmax(axis=1)] = 1.0
            return {"V": Q.max(axis=1), "Q": Q, "pi": pi}
        V = policy.predict_values(obs_t).cpu().numpy().reshape(-1).astype(np.float64)
        pi = policy.get_distribution(obs_t).distribution.probs.cpu().numpy().astype(np.float64)
    pi /= pi.sum(axis=1, keepdims=True)
    return {"V": V, "Q": None, "pi": pi}


def discounted_visitation(mdp: TabularMDP, policy: np.ndarray, gamma: float) -> np.ndarray:
    r"""Normalised discounted state visitation :math:`d_\pi \propto \mu_0^\top (I - \gamma P_\pi)^{-1}` over live states."""
    P_pi, _ = mdp.policy_matrix(policy)
    live = mdp.live
    A = sp.identity(live.size, format="csc") - gamma * P_pi[live][:, live].T.tocsc()
    d = np.zeros(mdp.n_states)
    d[live] = np.maximum(spla.spsolve(A, mdp.initial[live]), 0.0)
    total = d.sum()
    return d / total if total > 0 else d


@dataclass
class Comparison:
    r"""An agent measured exactly against :math:`V^{\pi_\theta}` and :math:`V^*`.

    Attributes:
        V_learned: the agent's value estimates :math:`V_\theta`.
        V_pi: exact value of the agent's own policy :math:`\pi_\theta`.
        V_star: optimal values; ``Q_star`` the optimal action values.
        pi: ``(S, A)`` the agent's policy.
        return_gap: :math:`\mu_0^\top (V^* - V^{\pi_\theta})`, the expected return lost from the start.
        return_gap_greedy: the same for the greedy (argmax) version of the policy.
        rmse_vs_pi, max_err_vs_pi, rmse_vs_star: errors of :math:`V_\theta` over live states.
        policy_agreement: share of live states whose greedy action is optimal (tie-aware).
        rmse_vs_pi_visited: rmse of :math:`V_\theta` vs :math:`V^{\pi_\theta}` weighted by the
            policy's normalised discounted visitation from the start: the states a critic trained
            on the agent's own experience sees.
        V_uniform_s0: :math:`\mu_0^\top V^{unif}`, the exact value of the uniform-random policy
            from the start (the zero of ``normalised_score``).
        suboptimal_visitation: the policy's normalised discounted visitation (from the start) of
            the live states where its greedy action is not optimal: near 0 when its mistakes lie
            only where it does not go.
        weights: the live-state weights used for the errors (uniform or discounted visitation).
        horizon: the time limit H of the env's episodes (None: no limit, no time-limit metrics).
        V_pi_horizon, V_star_horizon: :math:`V^\pi_H` and :math:`V^*_H`, expected (discounted)
            returns of episodes cut after H steps: what the env's returns average to.
    """

    V_learned: np.ndarray
    V_pi: np.ndarray
    V_star: np.ndarray
    Q_star: np.ndarray
    pi: np.ndarray
    Q_learned: np.ndarray | None
    gamma: float
    return_gap: float
    return_gap_greedy: float
    rmse_vs_pi: float
    max_err_vs_pi: float
    rmse_vs_star: float
    policy_agreement: float
    weighting: str
    weights: np.ndarray
    env: GridWorldEnv = field(repr=False)
    suboptimal_visitation: float = 0.0
    rmse_vs_pi_visited: float = float("nan")
    V_uniform_s0: float = float("nan")
    horizon: int | None = None
    V_pi_horizon: np.ndarray | None = field(default=None, repr=False)
    V_star_horizon: np.ndarray | None = field(default=None, repr=False)

    @property
    def V_star_s0(self) -> float:
        return float(self.env.mdp.initial @ self.V_star)

    @property
    def normalised_score(self) -> float:
        r""":math:`(J^\pi - J^{unif}) / (J^* - J^{unif})` with :math:`J = \mu_0^\top V`, all exact:
        1 for an optimal policy, 0 for the uniform-random one (1 when the two coincide), comparable
        across worlds (the score a sweep aggregates)."""
        span = self.V_star_s0 - self.V_uniform_s0
        return 1.0 if abs(span) <= 1e-12 * max(1.0, abs(self.V_star_s0)) else (self.V_star_s0 - self.return_gap
                                                                                 - self.V_uniform_s0) / span

    @property
    def relative_gap(self) -> float:
        """``return_gap / |V*(s0)|`` (inf when V*(s0) = 0 and the gap is not)."""
        v0 = abs(self.V_star_s0)
        return self.return_gap / v0 if v0 > 0 else (0.0 if self.return_gap == 0 else float("inf"))

    def metrics(self) -> dict[str, float]:
        """Every metric of ``METRICS``, then the time-limit metrics when the env has a limit."""
        return {**{key: float(getattr(self, key)) for key in METRICS}, **self.time_limit_metrics()}

    def time_limit_metrics(self) -> dict[str, float]:
        """Expected returns of the episodes the env runs (cut at ``horizon``), from the start."""
        if self.horizon is None:
            return {}
        mu0 = self.env.mdp.initial
        v_pi, v_star = float(mu0 @ self.V_pi_horizon), float(mu0 @ self.V_star_horizon)
        return {"V_pi_s0_time_limit": v_pi, "V_star_s0_time_limit": v_star, "return_gap_time_limit": v_star - v_pi}

    def to_dict(self) -> dict[str, Any]:
        return {
            "gamma": self.gamma,
            "weighting": self.weighting,
            "horizon": self.horizon,
            **self.metrics(),
            "V_learned": self.V_learned.tolist(),
            "V_pi": self.V_pi.tolist(),
            "V_star": self.V_star.tolist(),
            "policy": self.pi.argmax(axis=1).tolist(),
        }

    def table(self) -> str:
        rows = [(k, v) for k, v in self.metrics().items()]
        return "\n".join(f"{k:22s} {v: .6f}" for k, v in rows)

    def value_range(self) -> tuple[float, float]:
        """Smallest and largest of V*, V^pi and V_theta: the colour scale of :meth:`figure`."""
        V = np.concatenate([self.V_star, self.V_pi, self.V_learned])
        return float(V.min()), float(V.max())

    def figure(self, value_range: tuple[float, float] | None = None) -> Any:
        """Heatmaps of V*, V^pi, V_theta and V_theta - V^pi on the grid, with policy arrows.

        The three value panels share one colour scale: ``value_range``, or :meth:`value_range`.
        Pass the union of several comparisons' ranges to draw them on the same scale.

        Returns:
            a matplotlib ``Figure`` (made without pyplot), 10 inches wide.
        """
        from envs.plotting import PAGE_WIDTH, new_figure, plot_values

        env = self.env
        lo, hi = self.value_range() if value_range is None else value_range
        err = np.where(self.env.mdp.terminal, 0.0, self.V_learned - self.V_pi)
        lim = float(np.max(np.abs(err))) or 1.0
        panel = PAGE_WIDTH / 2 - 0.6  # two panels a row, each with its colour bar
        fig, axes = new_figure(2, 2, figsize=(PAGE_WIDTH, 2 * (0.45 + panel * env.height / env.width) + 0.4))
        greedy = self.pi.argmax(axis=1)
        panels = [
            (self.V_star, np.argmax(self.Q_star, axis=1), "V* (optimal policy)", "viridis", lo, hi),
            (self.V_pi, greedy, "V^pi: exact value of the agent's policy", "viridis", lo, hi),
            (self.V_learned, greedy, "V_theta: the agent's estimate", "viridis", lo, hi),
            (err, None, f"V_theta - V^pi (rmse {self.rmse_vs_pi:.3f})", "coolwarm", -lim, lim),
        ]
        for ax, (V, pol, title, cmap, vmin, vmax) in zip(axes.ravel(), panels):
            im = plot_values(ax, env, V, pol, title=title, cmap=cmap, vmin=vmin, vmax=vmax, annotate=False)
            fig.colorbar(im, ax=ax, fraction=0.046, pad=0.03)
        fig.suptitle(f"return gap {self.return_gap:.4f} ({100 * self.relative_gap:.1f}% of V*(s0)), "
                     f"policy agreement {100 * self.policy_agreement:.0f}%", fontsize=10)
        return fig

    def plot(self, path: str, value_range: tuple[float, float] | None = None) -> str:
        """Write :meth:`figure` as a PNG (110 dpi: 1100 pixels wide); returns ``path``."""
        self.figure(value_range).savefig(path, dpi=110)
        return path


def time_limit(env: Any) -> int | None:
    """The ``max_episode_steps`` of an env made by ``gym.make`` (or of a VecEnv's first env), else None."""
    spec = getattr(_first_env(env), "spec", None)
    return None if spec is None else spec.max_episode_steps


def compare(model: Any, env: Any, gamma: float | None = None, weighting: str = "uniform",
            horizon: int | None | str = "env") -> Comparison:
    r"""Compare a trained SB3 model with the exact values of its env.

    Arguments:
        model: a trained PPO, A2C or DQN model.
        env: the env it was trained on (gym env, wrapped or not, or an SB3 VecEnv).
        gamma: discount of the exact references; defaults to the model's own ``model.gamma``
            (comparing a critic trained with one gamma against values of another is meaningless).
        weighting: ``"uniform"`` over live states, or ``"visitation"``: the policy's normalised
            discounted state visitation from the initial distribution.
        horizon: episode length of the ``*_time_limit`` metrics: ``"env"`` (default) takes the env's
            ``max_episode_steps`` (none for an env made without ``gym.make``), an int sets it,
            None leaves those metrics out.

    Raises:
        ValueError: the model or env normalises rewards (``VecNormalize(norm_reward=True)``): its
            critic then estimates scaled returns and cannot be compared with exact values.
    """
    for vn in (find_vec_normalize(env), find_vec_normalize(model.get_env())):
        if vn is not None and vn.norm_reward:
            raise ValueError(
                "the model was trained with VecNormalize(norm_reward=True): its values estimate rescaled "
                "returns and cannot be compared with exact values; retrain with norm_reward=False"
            )
    if weighting not in ("uniform", "visitation"):
        raise ValueError(f"weighting must be 'uniform' or 'visitation', got {weighting!r}")
    if isinstance(horizon, str) and horizon != "env":
        raise ValueError(f"horizon must be 'env', an integer or None, got {horizon!r}")
    H = time_limit(env) if horizon == "env" else horizon
    base = _base_env(env)
    mdp = base.mdp
    g = float(model.gamma if gamma is None else gamma)
    learned = extract(model, env)
    pi = learned["pi"]
    V_pi = policy_evaluation(mdp, pi, g)
    star = solve(mdp, g, tol=1e-10)
    V_star = star.V
    Q_star = bellman_backup(mdp, V_star, g)
    greedy = pi.argmax(axis=1)
    V_greedy = policy_evaluation(mdp, greedy, g)
    live = mdp.live
    if weighting == "uniform":
        w = np.zeros(mdp.n_states)
        w[live] = 1.0 / max(live.size, 1)
    else:
        w = discounted_visitation(mdp, pi, g)
    V = learned["V"]
    err_pi = (V - V_pi)[live]
    err_star = (V - V_star)[live]
    wl = w[live]
    optimal = Q_star[live, greedy[live]] >= Q_star[live].max(axis=1) - OPTIMAL_TOL
    visits = w if weighting == "visitation" else discounted_visitation(mdp, pi, g)
    return Comparison(
        V_learned=V,
        V_pi=V_pi,
        V_star=V_star,
        Q_star=Q_star,
        pi=pi,
        Q_learned=learned["Q"],
        gamma=g,
        return_gap=float(mdp.initial @ (V_star - V_pi)),
        return_gap_greedy=float(mdp.initial @ (V_star - V_greedy)),
        rmse_vs_pi=float(np.sqrt(np.sum(wl * err_pi**2))),
        max_err_vs_pi=float(np.max(np.abs(err_pi))) if live.size else 0.0,
        rmse_vs_star=float(np.sqrt(np.sum(wl * err_star**2))),
        policy_agreement=float(np.sum(wl * optimal) / max(wl.sum(), 1e-300)) if weighting == "visitation"
        else float(np.mean(optimal)) if live.size else 1.0,
        weighting=weighting,
        weights=w,
        suboptimal_visitation=float(visits[live][~optimal].sum()),
        V_uniform_s0=float(mdp.initial @ policy_evaluation(mdp, np.full(pi.shape, 1.0 / mdp.n_actions), g)),
        rmse_vs_pi_visited=float(np.sqrt(np.sum(visits[live] * err_pi**2) / max(visits[live].sum(), 1e-300))),
        env=base,
        horizon=None if H is None else int(H),
        V_pi_horizon=None if H is None else policy_evaluation(mdp, pi, g, horizon=H),
        V_star_horizon=None if H is None else backward_induction(mdp, H, g).V,
    )


def plot_learning_curves(csv_paths: dict[str, str] | str, path: str) -> str:
    """Exact metrics over training (from ``exact_eval.csv`` files), one panel per metric; writes a PNG.

    Arguments:
        csv_paths: one CSV path, or ``{label: path}`` to overlay several runs.
        path: the PNG to write (1100 pixels wide).
    """
    from envs.plotting import PAGE_WIDTH, new_figure

    if isinstance(csv_paths, (str, bytes)) or hasattr(csv_paths, "__fspath__"):
        csv_paths = {"": str(csv_paths)}
    metrics = [(key, METRICS[key]) for key in CURVES]
    fig, axes = new_figure(2, 2, figsize=(PAGE_WIDTH, 6.0))
    axes = axes.ravel()
    for label, p in csv_paths.items():
        data = np.genfromtxt(p, delimiter=",", names=True)
        data = np.atleast_1d(data)
        for ax, (key, title) in zip(axes, metrics):
            ax.plot(data["timesteps"], data[key], label=label or None, marker=".", ms=3)
            ax.set_title(title, fontsize=10)
            ax.set_xlabel("timesteps", fontsize=9)
            ax.grid(alpha=0.3)
    axes[0].set_yscale("symlog", linthresh=1e-3)
    axes[3].set_ylim(-0.02, 1.02)
    if any(csv_paths):
        axes[0].legend(fontsize=9)
    fig.savefig(path, dpi=110)
    return path
