r"""World models with memory scored exactly against the forward algorithm on the true POMDP.

Along true histories :math:`h_t = (a_1, o_1, \dots, a_t, o_t)` sampled from the env, the true
predictive distribution of the next observation is the forward filter's belief pushed one step:

.. math:: p(o \mid h_t, a) = \sum_{s'} O(o \mid s', a) \sum_s b_t(s)\, T(s' \mid s, a),

exact (``envs.TabularPOMDP.filter``). :func:`score_sequence` sets each model's own predictive
:math:`q(o \mid h_t, a)` against it at every step:

- **KL rate**, nats per step: :math:`\frac{1}{\sum_i T_i} \sum_{i,t} \mathrm{KL}(p_{i,t} \,\|\,
  q_{i,t})`. This is the cross-entropy rate minus the true conditional entropy rate,
  :math:`E[-\log q(o_t \mid h_{t-1})] - E[H(p(\cdot \mid h_{t-1}))]`, with the expectation over
  the next observation taken exactly for each sampled history (the Rao-Blackwellised estimate:
  same mean, less noise). Its 95% interval is a bootstrap over episodes. Both rates are reported too.
- **Predictive TV**, the same average of :math:`\frac12 \sum_o |p - q|`.
- **Log-likelihood per step** of the held-out episodes, the model's against the true one
  (the forward algorithm's :math:`\log P(o_{1:T} \mid a_{1:T})`), and their relative gap.
- **k-step open-loop TV**: from the history at ``t0``, with the episode's next ``k`` actions fixed,
  the distribution of :math:`o_{t_0 + k}` with no observation in between: exact on the true side
  (the belief pushed through :math:`T` ``k`` times), estimated from ``n_open_loop`` imagined
  rollouts on the model's side (each feeding its own sampled observations back), beside a
  perfect model's noise floor (the same number of draws from the true distribution).
- **Belief probe** (:func:`belief_probe`): a linear softmax probe from the model's state features
  to the true belief, scored by :math:`\mathrm{KL}(b \,\|\, \hat b)` on held-out histories, beside
  the same probe trained on shuffled features.
- **Reward and termination head** (:func:`head_error`), what a dream agent learns from: the head's
  reward against the exact expected reward :math:`\sum_s b_t(s) R(s, a)` and its end probability
  against the exact :math:`\sum_{s'} \mathbf{1}[s' \text{ terminal}] \sum_s b_t(s) T(s' \mid s, a)`,
  at every step of the held-out histories.

Example:
    >>> import gymnasium as gym, envs
    >>> from generative.sequences import collect_sequences
    >>> from generative.sequence_model import train_sequence_model
    >>> env = gym.make("gridlab/Tiger-v0")
    >>> model = train_sequence_model(collect_sequences(env, 40), "hmm", steps=20, progress=False, device="cpu")
    >>> result = score_sequence(model, env.unwrapped.pomdp, n_episodes=20, k_max=3, n_open_loop=64)
    >>> sorted(k for k in result if k.startswith("kl_rate"))
    ['kl_rate', 'kl_rate_ci']
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from generative.metrics import SMOOTHING, forward_kl, tv
from generative.sequence_model import SequenceWorldModel
from generative.sequences import SequenceDataset, collect_sequences, pomdp_of

__all__ = ["true_predictive", "score_sequence", "open_loop_tv", "belief_probe", "head_error", "check_source"]


def check_source(pomdp: Any, data: SequenceDataset) -> np.ndarray:
    """The forward filter's beliefs ``(N, T + 1, S)`` along ``data``, after checking that the data can
    have come from ``pomdp``: the same observation and action counts, and every observed step of
    positive probability.

    Raises:
        ValueError: other sizes, or an observation the POMDP gives probability 0 (naming the
            episode, the step, the action and the observation).
    """
    if (data.n_observations, data.n_actions) != (pomdp.n_observations, pomdp.n_actions):
        raise ValueError(f"the sequences have {data.n_observations} observations and {data.n_actions} actions, the "
                         f"POMDP {pomdp.n_observations} and {pomdp.n_actions}: they did not come from this POMDP")
    result = pomdp.filter(np.maximum(data.actions, 0), np.maximum(data.observations, 0), keep="all")
    bad = (result.impossible_at > 0) & (result.impossible_at <= data.lengths)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        t = int(result.impossible_at[i])
        raise ValueError(f"episode {i}, step {t}: observation {pomdp.observations[data.observations[i, t - 1]]!r} "
                         f"after action {pomdp.actions[data.actions[i, t - 1]]!r} has probability 0 under this "
                         "POMDP: the sequences came from another world")
    return result.beliefs


def _push(pomdp: Any, B: np.ndarray, actions: np.ndarray) -> np.ndarray:
    """``(n, S)``: each belief row pushed through :math:`T_a` of its action."""
    out = np.zeros_like(B)
    for a in np.unique(actions):
        rows = np.flatnonzero(actions == a)
        out[rows] = pomdp.predict(B[rows], int(a))
    return out


def _observe_probs(pomdp: Any, ahead: np.ndarray, actions: np.ndarray) -> np.ndarray:
    out = np.zeros((len(ahead), pomdp.n_observations))
    for a in np.unique(actions):
        rows = np.flatnonzero(actions == a)
        out[rows] = ahead[rows] @ pomdp.O[a]
    return out


def true_predictive(pomdp: Any, data: SequenceDataset, beliefs: np.ndarray | None = None) -> np.ndarray:
    """``(N, T, Z)``: the exact :math:`p(o_t \\mid h_{t-1}, a_t)` at each step (0 after an episode's end)."""
    beliefs = check_source(pomdp, data) if beliefs is None else beliefs
    N, T = data.observations.shape
    mask = data.mask
    prev, acts = beliefs[:, :T][mask], data.actions[mask]
    out = np.zeros((N, T, pomdp.n_observations))
    out[mask] = _observe_probs(pomdp, _push(pomdp, prev, acts), acts)
    return out


def _rates(p: np.ndarray, q: np.ndarray, data: SequenceDataset) -> dict[str, np.ndarray]:
    """Per step ``(N, T)``: the exact KL(p || q), H(p), -log q and log p of the observation that came (0 off the episodes)."""
    mask, seen_idx = data.mask, np.maximum(data.observations, 0)[..., None]
    with np.errstate(divide="ignore", invalid="ignore"):
        log_p, log_q = np.log(p), np.log(q)
        kl = np.where(p > 0, p * (log_p - log_q), 0.0).sum(axis=2)
        entropy = -np.where(p > 0, p * log_p, 0.0).sum(axis=2)
        ce = -np.take_along_axis(log_q, seen_idx, axis=2)[..., 0]
        true_ll = np.take_along_axis(log_p, seen_idx, axis=2)[..., 0]
    return {k: np.where(mask, v, 0.0) for k, v in (("kl", kl), ("entropy", entropy), ("ce", ce), ("true_ll", true_ll))}


def _bootstrap_ratio(num: np.ndarray, den: np.ndarray, n: int = 2000, seed: int = 0) -> list[float]:
    """95% percentile interval of ``sum(num) / sum(den)`` over episodes resampled with replacement."""
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(num), size=(n, len(num)))
    ratios = num[idx].sum(axis=1) / den[idx].sum(axis=1)
    return [float(np.quantile(ratios, 0.025)), float(np.quantile(ratios, 0.975))]


def _repeat_state(net: Any, state: Any, m: int) -> Any:
    """Each history's state repeated ``m`` times (its rows kept together, for particle states)."""
    n = len(net.features(state))

    def rep(x: torch.Tensor) -> torch.Tensor:
        r = x.shape[0] // n
        return x.reshape(n, r, *x.shape[1:]).repeat_interleave(m, dim=0).reshape(n * m * r, *x.shape[1:])

    return tuple(rep(x) for x in state) if isinstance(state, tuple) else rep(state)


@torch.no_grad()
def open_loop_tv(model: SequenceWorldModel, pomdp: Any, data: SequenceDataset, beliefs: np.ndarray,
                 k_max: int = 20, t0: int = 0, n_rollouts: int = 256, seed: int = 0,
                 max_rows: int = 32_768) -> dict[str, np.ndarray]:
    """k-step open-loop TV from the histories at step ``t0`` of each episode long enough (module doc).

    ``max_rows`` bounds the model states held at once (histories x rollouts x the family's rows
    per history, its particles), so memory stays flat however many episodes are scored.

    Returns ``{"tv": (k_max,), "floor": (k_max,), "count": (k_max,)}``: the mean TV at each ``k``
    over the episodes with ``t0 + k`` steps, a perfect model's mean TV with ``n_rollouts`` draws,
    and how many episodes each mean is over (NaN where none).
    """
    keep = np.flatnonzero(data.lengths >= t0 + 1)
    out = {"tv": np.full(k_max, np.nan), "floor": np.full(k_max, np.nan), "count": np.zeros(k_max, np.int64)}
    if not len(keep):
        return out
    part = data.take(keep)
    net, dev, m = model.net, model.device, n_rollouts
    gen = torch.Generator(device=dev).manual_seed(seed)
    rng = np.random.default_rng(seed)
    one = net.initial_state(1)
    rows = (one[0] if isinstance(one, tuple) else one).shape[0]  # the family's rows per history
    chunk = max(1, max_rows // (m * rows))
    n = len(part)
    tvs, floors = np.full((n, k_max), np.nan), np.full((n, k_max), np.nan)
    for lo in range(0, n, chunk):
        idx = np.arange(lo, min(lo + chunk, n))
        obs = torch.as_tensor(part.observations[idx], device=dev)
        acts = torch.as_tensor(part.actions[idx], device=dev)
        state = net.initial_state(len(idx))
        for t in range(t0):
            state = net.update(state, acts[:, t].clamp(min=0), obs[:, t].clamp(min=0), gen)
        state = _repeat_state(net, state, m)
        b = beliefs[keep[idx], t0]
        for k in range(1, k_max + 1):
            live = part.lengths[idx] >= t0 + k
            if not live.any():
                break
            a_np = np.maximum(part.actions[idx, t0 + k - 1], 0)
            b = _push(pomdp, b, a_np)
            p = _observe_probs(pomdp, b, a_np)  # exact distribution of o_{t0+k} given h_{t0} and the actions
            a = torch.as_tensor(a_np, device=dev).repeat_interleave(m)
            o = net.sample_next(state, a, gen)
            state = net.update(state, a, o, gen)
            counts = np.zeros((len(idx), pomdp.n_observations))
            np.add.at(counts, (np.repeat(np.arange(len(idx)), m), o.cpu().numpy()), 1.0)
            perfect = np.stack([rng.multinomial(m, row / row.sum()) for row in p]) / m
            tvs[idx[live], k - 1] = tv(p[live], counts[live] / m)
            floors[idx[live], k - 1] = tv(p[live], perfect[live])
    counted = ~np.isnan(tvs)
    out["count"] = counted.sum(axis=0)
    with np.errstate(invalid="ignore"):
        out["tv"] = np.where(out["count"] > 0, np.nansum(tvs, axis=0) / np.maximum(out["count"], 1), np.nan)
        out["floor"] = np.where(out["count"] > 0, np.nansum(floors, axis=0) / np.maximum(out["count"], 1), np.nan)
    return out


def head_error(model: SequenceWorldModel, pomdp: Any, data: SequenceDataset, beliefs: np.ndarray,
               features: np.ndarray) -> dict[str, float]:
    r"""How far the model's reward and termination head (what a dream agent learns from) is from the
    exact expectations given the history, at every step of ``data``:

    .. math:: r^*(h_{t-1}, a_t) = \sum_s b_{t-1}(s) R(s, a_t), \qquad
              d^*(h_{t-1}, a_t) = \sum_{s' \text{ terminal}} \sum_s b_{t-1}(s) T(s' \mid s, a_t),

    where :math:`b_{t-1}` is the forward filter's belief before the step. The head is fitted by
    least squares on the rewards that came, so a perfect head converges to :math:`r^*`.

    Arguments:
        model: the trained model; its ``head`` reads ``features`` and the action.
        pomdp: the true POMDP.
        data: the held-out episodes.
        beliefs: ``(N, T + 1, S)``, the filter's beliefs along ``data`` (:func:`check_source`).
        features: ``(N, T + 1, D)``, the model's state features along ``data`` (``model.filter``).

    Returns:
        ``reward_rmse`` and ``reward_max`` (the largest absolute error), ``reward_scale`` (the RMS of
        :math:`r^*`, for scale), ``done_rmse`` and ``done_max`` (of the end probability), over the
        steps of ``data``.
    """
    mask, T = data.mask, data.observations.shape[1]
    acts, b = data.actions[mask], beliefs[:, :T][mask]
    r_hat, d_hat = (x.cpu().numpy().astype(np.float64) for x in model.reward_and_end(
        torch.as_tensor(features[:, :T][mask], dtype=torch.float32, device=model.device),
        torch.as_tensor(acts, device=model.device)))
    r_true = np.einsum("ns,sn->n", b, pomdp.R[:, acts])
    d_true = _push(pomdp, b, acts) @ pomdp.mdp.terminal.astype(np.float64)
    return {"reward_rmse": float(np.sqrt(np.mean((r_hat - r_true) ** 2))),
            "reward_max": float(np.max(np.abs(r_hat - r_true), initial=0.0)),
            "reward_scale": float(np.sqrt(np.mean(r_true ** 2))),
            "done_rmse": float(np.sqrt(np.mean((d_hat - d_true) ** 2))),
            "done_max": float(np.max(np.abs(d_hat - d_true), initial=0.0))}


def belief_probe(features: np.ndarray, beliefs: np.ndarray, mask: np.ndarray, seed: int = 0,
                 steps: int = 500, train_fraction: float = 0.7, weight_decay: float = 1e-4) -> dict[str, float]:
    r"""How well a model's state features encode the true belief: a linear softmax probe
    :math:`\hat b = \mathrm{softmax}(W f + c)`, fitted on the histories of ``train_fraction`` of the
    episodes by minimising :math:`\mathrm{KL}(b \,\|\, \hat b)` (plus ``weight_decay`` times
    :math:`\|W\|^2`) on standardised features (a feature constant on the training histories is
    dropped, held-out values are clipped to 10 standard deviations), scored on the others.

    Arguments:
        features: ``(N, T + 1, D)``: features after :math:`h_0 .. h_T`.
        beliefs: ``(N, T + 1, S)``: the true beliefs.
        mask: ``(N, T + 1)``: the histories that happened.

    Returns:
        ``{"kl", "kl_shuffled", "kl_mean_belief"}``: the held-out mean KL of the probe, of the
        same probe fitted on features shuffled across histories (what a state that holds nothing
        about the belief gets), and of predicting the training histories' mean belief.
    """
    rng = np.random.default_rng(seed)
    N = features.shape[0]
    perm = rng.permutation(N)
    cut = min(max(int(round(train_fraction * N)), 1), N - 1)
    split = {"train": perm[:cut], "test": perm[cut:]}
    X = {k: features[v][mask[v]] for k, v in split.items()}
    Y = {k: beliefs[v][mask[v]] for k, v in split.items()}
    mu, sd = X["train"].mean(axis=0), X["train"].std(axis=0)
    sd = np.where(sd < 1e-6, np.inf, sd)  # a feature constant on the training histories carries nothing: dropped

    def scaled(x: np.ndarray) -> torch.Tensor:  # standardised, and clipped where a held-out value lies far outside
        return torch.as_tensor(np.clip((x - mu) / sd, -10.0, 10.0), dtype=torch.float64)

    def fit_and_score(x_train: np.ndarray) -> float:
        g = torch.Generator().manual_seed(seed)
        xt = scaled(x_train)
        yt = torch.as_tensor(Y["train"], dtype=torch.float64)
        W = torch.zeros(xt.shape[1], yt.shape[1], dtype=torch.float64, requires_grad=True)
        c = torch.zeros(yt.shape[1], dtype=torch.float64, requires_grad=True)
        with torch.no_grad():
            W.normal_(0.0, 0.01, generator=g)
        opt = torch.optim.Adam([W, c], lr=0.05)
        for _ in range(steps):
            loss = -(yt * torch.log_softmax(xt @ W + c, dim=1)).sum(dim=1).mean() + weight_decay * W.pow(2).sum()
            opt.zero_grad()
            loss.backward()
            opt.step()
        with torch.no_grad():
            xs = scaled(X["test"])
            log_q = torch.log_softmax(xs @ W + c, dim=1).numpy()  # in logs: a softmax underflows to 0
        b = Y["test"]
        with np.errstate(divide="ignore", invalid="ignore"):
            return float(np.where(b > 0, b * (np.log(b) - log_q), 0.0).sum(axis=1).mean())

    mean_belief = np.broadcast_to(Y["train"].mean(axis=0), Y["test"].shape)
    return {"kl": fit_and_score(X["train"]), "kl_shuffled": fit_and_score(X["train"][rng.permutation(len(X["train"]))]),
            "kl_mean_belief": float(forward_kl(Y["test"], mean_belief, epsilon=0.0).mean())}


def score_sequence(model: SequenceWorldModel, pomdp: Any, policy: Any = "uniform", n_episodes: int = 200,
                   seed: int = 1, data: SequenceDataset | None = None, k_max: int = 20, t0: int = 0,
                   n_open_loop: int = 256, probe: bool = True, max_steps: int | None = None) -> dict[str, Any]:
    """Score a world model with memory against the exact POMDP along true histories (module doc).

    Arguments:
        model: a trained :class:`~generative.sequence_model.SequenceWorldModel`.
        pomdp: the true :class:`~envs.pomdp.TabularPOMDP`, or its env or registered id (whose
            time limit then cuts the sampled episodes).
        policy: the policy that samples the histories (``collect_sequences``'), unless ``data`` is given.
        n_episodes: how many episodes to sample.
        seed: seeds the sampling (use another seed than the training data's, for held-out histories).
        data: score on these held-out episodes instead of sampling (checked against ``pomdp``).
        k_max: the longest open-loop horizon.
        t0: where the open-loop rollouts start (steps of history).
        n_open_loop: imagined rollouts per history for the open-loop TV.
        probe: run the belief probe.
        max_steps: cut sampled episodes at this many steps (default the env's time limit; 100
            for a bare ``TabularPOMDP``).

    Returns:
        The scores by name, ``kl_rate`` with ``kl_rate_ci``, ``cross_entropy_rate``, ``entropy_rate``, ``tv``,
        ``kl_by_step`` (the mean KL at each step), ``log_likelihood`` and ``true_log_likelihood``
        (per step) with ``log_likelihood_gap`` (relative), ``open_loop_tv``, ``open_loop_floor``,
        ``probe`` (:func:`belief_probe`), ``head`` (:func:`head_error`), and the counts they are over.
    """
    from envs.pomdp import TabularPOMDP
    from envs.pomdp_env import POMDPEnv

    if isinstance(pomdp, TabularPOMDP):
        env = POMDPEnv(pomdp)
        max_steps = max_steps or 100
    else:
        pomdp, env = pomdp_of(pomdp)
    if model.n_obs != pomdp.n_observations or model.n_actions != pomdp.n_actions:
        raise ValueError(f"the model predicts {model.n_obs} observations under {model.n_actions} actions, the POMDP "
                         f"has {pomdp.n_observations} and {pomdp.n_actions}: score it against the world it learned")
    if data is None:
        data = collect_sequences(env, n_episodes, policy, seed, max_steps=max_steps)
    beliefs = check_source(pomdp, data)
    mask = data.mask
    p = true_predictive(pomdp, data, beliefs)
    filtered = model.filter(data, seed=seed)
    q = filtered.predictive
    sampled = not model.net.has_likelihood
    rng = np.random.default_rng(seed)
    if sampled:  # a histogram of draws: smoothed, as its noise floor is (generative.metrics)
        q = (1.0 - SMOOTHING) * q + SMOOTHING / q.shape[2]
    rates = _rates(p, q, data)
    steps = mask.sum(axis=1).astype(np.float64)
    n_steps = float(steps.sum())
    out: dict[str, Any] = {
        "family": model.family, "episodes": len(data), "steps": int(n_steps), "sampled": sampled,
        "kl_rate": float(rates["kl"].sum() / n_steps),
        "kl_rate_ci": _bootstrap_ratio(rates["kl"].sum(axis=1), steps, seed=seed),
        "cross_entropy_rate": float(rates["ce"].sum() / n_steps), "entropy_rate": float(rates["entropy"].sum() / n_steps),
        "tv": float(np.where(mask, tv(p, q), 0.0).sum() / n_steps),
        "kl_by_step": (rates["kl"].sum(axis=0) / np.maximum(mask.sum(axis=0), 1)).tolist(),
        "true_log_likelihood": float(rates["true_ll"].sum() / n_steps),
    }
    if sampled:  # what a perfect model scores with as many draws per prediction
        m = int(getattr(model.net, "samples", 1))
        draws = rng.multinomial(m, np.where(mask[..., None], p, 1.0 / p.shape[2])) / m
        perfect = _rates(p, (1.0 - SMOOTHING) * draws + SMOOTHING / p.shape[2], data)
        out["predictive_samples"] = m
        out["noise_floor"] = {"kl_rate": float(perfect["kl"].sum() / n_steps),
                              "tv": float(np.where(mask, tv(p, draws), 0.0).sum() / n_steps)}
        out["log_likelihood"] = out["log_likelihood_gap"] = None  # no likelihood: only draws
    else:  # the filter's own predictions at the observations that came: no second pass over the data
        out["log_likelihood"] = -out["cross_entropy_rate"]
        out["log_likelihood_gap"] = abs(out["log_likelihood"] - out["true_log_likelihood"]) / abs(out["true_log_likelihood"])
    loop = open_loop_tv(model, pomdp, data, beliefs, k_max=k_max, t0=t0, n_rollouts=n_open_loop, seed=seed)
    out.update(open_loop_tv=loop["tv"].tolist(), open_loop_floor=loop["floor"].tolist(),
               open_loop_count=loop["count"].tolist(), open_loop_rollouts=n_open_loop, open_loop_t0=t0)
    out["head"] = head_error(model, pomdp, data, beliefs, filtered.features)
    if probe:
        T = data.observations.shape[1]
        hist_mask = np.arange(T + 1)[None, :] <= data.lengths[:, None]
        out["probe"] = belief_probe(filtered.features, beliefs, hist_mask, seed=seed)
    return out
