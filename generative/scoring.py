r"""Exact scoring of world models against the true dynamics :math:`P(s' \mid s, a)`.

For every live (state, action) pair the model draws ``n_samples`` next observations; they are
decoded to states (or to "no state") and their histogram Q is compared with the true row of P.
Everything is averaged uniformly over live pairs, and the per-pair numbers are kept.

Definitions (see ``generative.metrics`` for the divergences and their smoothing):

- ``mode_recall``: share of true successors s' (``P(s'|s,a) > 0``) that get at least
  ``MODE_SHARE = 0.25`` of their true probability from the model.
- ``hallucinated_mass``: model mass on observations that decode to no state, or to a state the
  true dynamics cannot reach from (s, a).
- ``rollout_tv[k-1]``: TV between the exact k-step state distribution under a policy (from the
  initial distribution, ``TabularMDP.state_distributions``) and that of the model's imagined
  rollouts, k = 1..H; "no state" counts as its own outcome.
- ``noise_floor``: the same metrics for a *perfect* model, one that samples the true dynamics,
  with the scorer's own sample sizes (:func:`noise_floor`). Finite samples put every metric above
  its ideal value (a perfect model's histogram of 200 draws has TV > 0 from the truth); a
  difference between two models, or between a model and the truth, means something only where
  it stands clear of this floor.
- ``pixel`` (pixel observations only): the metrics of video prediction, side by side with the
  exact ones, over the grid part of the frames and against the *clean* frames of the true
  successors (channels in [0, 255]): ``mse_expected_frame``, the mean squared difference between
  the model's mean frame for (s, a) and the true expected frame :math:`\sum_{s'} P(s'|s,a) f(s')`,
  and ``mse_samples``, :math:`E \lVert x - y \rVert^2 / D` for a model sample x and an independent
  true successor frame y; each with its PSNR :math:`10 \log_{10}(255^2 / \mathrm{MSE})` (of the
  mean MSE over pairs). They can disagree with the exact metrics: a model that outputs the
  blurred average frame has ``mse_expected_frame`` 0 and a lower ``mse_samples`` than a perfect
  model, and yet its frame is no state wherever no successor has 3/4 of the probability (the
  decoding rule of ``envs.pixels``).
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import torch

from envs.mdp import TabularMDP
from generative.data import TransitionDataset
from generative.metrics import forward_kl, jsd, reverse_kl, tv
from generative.world_model import WorldModel

__all__ = ["SCORE_KEYS", "score", "noise_floor", "transition_histograms", "true_rows", "state_histogram", "rollout_tv", "sequence_log_prob", "conditional_entropy",
           "MODE_SHARE", "perfect_pixel_metrics"]

MODE_SHARE = 0.25


def _live_pairs(mdp: TabularMDP) -> np.ndarray:
    """Every live (state, action) pair, state-major: ``(n_pairs, 2)``."""
    return np.array([(s, a) for s in mdp.live for a in range(mdp.n_actions)], dtype=np.int64).reshape(-1, 2)


def transition_histograms(model: WorldModel, n_samples: int = 1000, seed: int = 0,
                          chunk: int = 65_536) -> tuple[np.ndarray, np.ndarray]:
    """Empirical next-state distributions of the model for every live (s, a).

    Returns ``pairs`` (n_pairs, 2) and ``Q`` (n_pairs, S + 1), column S being "no state".
    """
    return _histograms(model, n_samples, seed, chunk)[:2]


def _histograms(model: WorldModel, n_samples: int, seed: int, chunk: int = 65_536,
                grid_px: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``transition_histograms``, and with ``grid_px`` (pixel observations: the frame's rows that
    show the grid) each pair's mean sampled frame ``(n_pairs, D)`` on those rows and its mean
    squared norm."""
    env, mdp = model.env, model.env.mdp
    S = mdp.n_states
    pairs = _live_pairs(mdp)
    rows = np.repeat(np.arange(len(pairs)), n_samples)
    counts = np.zeros((len(pairs), S + 1))
    D = grid_px * int(np.prod(env.observation_space.shape[1:])) if grid_px is not None else 0
    sums = np.zeros((len(pairs), D))
    squares = np.zeros(len(pairs))
    gen = torch.Generator(device="cpu").manual_seed(seed)
    rng = np.random.default_rng(seed)  # the nuisances of pixel observations
    chunk = max(1024, min(chunk, 2**25 // int(np.prod(env.observation_space.shape))))  # frames: ~128 MB a chunk
    for lo in range(0, len(rows), chunk):
        r = rows[lo:lo + chunk]
        obs = env.encode_batch(pairs[r, 0], rng)
        nxt = model.sample_next(obs, pairs[r, 1], generator=gen)
        s2 = env.decode_batch(nxt)
        np.add.at(counts, (r, np.where(s2 >= 0, s2, S)), 1.0)
        if grid_px is not None:
            x = nxt[:, :grid_px].reshape(len(nxt), -1).astype(np.float64)
            np.add.at(sums, r, x)
            np.add.at(squares, r, (x * x).sum(axis=1))
    return pairs, counts / n_samples, sums / n_samples, squares / n_samples


def _pixel_metrics(model: WorldModel, P: np.ndarray, mean: np.ndarray, square: np.ndarray) -> dict[str, float]:
    """The video-prediction metrics of the module doc, from the model's per-pair frame moments."""
    env = model.env
    F = _clean_frames(env)
    Pt = P[:, :env.n_states]
    expected = Pt @ F
    D = F.shape[1]
    mse_expected = float((((mean - expected) ** 2).sum(axis=1) / D).mean())
    mse_samples = _sample_mse(mean, square, expected, Pt @ (F * F).sum(axis=1), D)
    return {"mse_expected_frame": mse_expected, "psnr_expected_frame": _psnr(mse_expected),
            "mse_samples": mse_samples, "psnr_samples": _psnr(mse_samples)}


def _clean_frames(env: Any) -> np.ndarray:
    """``(S, D)`` float64: each state's frame without nuisances, the grid rows only, flattened."""
    clean = env.frames.clean(np.arange(env.n_states))[:, :env.frames.grid_px]
    return clean.reshape(env.n_states, -1).astype(np.float64)


def _sample_mse(mean: np.ndarray, square: np.ndarray, expected: np.ndarray, true_square: np.ndarray, D: int) -> float:
    r""":math:`E \lVert x - y \rVert^2 / D` for x a model sample and y an independent true successor
    frame, from per-pair moments (model: ``mean`` frame and mean squared norm ``square``; truth:
    ``expected`` frame and mean squared norm ``true_square``), averaged over pairs."""
    return float(((square - 2 * (mean * expected).sum(axis=1) + true_square) / D).mean())


def _psnr(mse: float) -> float:
    return float(10 * np.log10(255.0 ** 2 / mse)) if mse > 0 else float("inf")


def perfect_pixel_metrics(env: Any, pairs: np.ndarray, n_samples: int | None = None, seed: int = 0,
                          replicates: int = 5) -> dict[str, float]:
    r"""The pixel metrics of a perfect model, exactly (no sampling): its expected frame is the true
    one (``mse_expected_frame`` 0) and its samples differ from an independent true successor by
    twice the frames' variance, :math:`E\lVert y - y' \rVert^2 / D = 2 (\sum_{s'} P f(s')^2 - \lVert \sum_{s'} P f(s') \rVert^2) / D`,
    averaged over ``pairs`` as in :func:`score`. A model clearly below this ``mse_samples`` is
    not closer to the truth: it averages frames or under-weights less likely outcomes.

    With ``n_samples``, also ``psnr_samples_noise``: the largest distance, in dB, between that
    exact PSNR and the one :func:`score`'s estimator gives for a perfect model drawing
    ``n_samples`` successors per pair (``replicates`` simulations): a model's PSNR of samples
    differs from a perfect model's beyond sampling noise only by more than this.
    """
    F = _clean_frames(env)
    Pt = true_rows(env.mdp, pairs)[:, :env.n_states]
    expected = Pt @ F
    norms = (F * F).sum(axis=1)
    mse = _sample_mse(expected, Pt @ norms, expected, Pt @ norms, F.shape[1])  # the truth's moments on both sides
    out = {"mse_expected_frame": 0.0, "psnr_expected_frame": float("inf"), "mse_samples": mse, "psnr_samples": _psnr(mse)}
    if n_samples is not None:
        rng = np.random.default_rng(seed)
        spread = 0.0
        for _ in range(replicates):  # score's estimator on a perfect model's draws
            Q = rng.multinomial(n_samples, Pt / Pt.sum(axis=1, keepdims=True)) / n_samples
            est = _sample_mse(Q @ F, Q @ norms, expected, Pt @ norms, F.shape[1])
            spread = max(spread, abs(_psnr(est) - out["psnr_samples"]))
        out["psnr_samples_noise"] = spread
    return out


def true_rows(mdp: TabularMDP, pairs: np.ndarray) -> np.ndarray:
    r"""The true rows :math:`P(\cdot|s, a)` of ``pairs`` ``(n, 2)``, over the S states then "no
    state" (always 0): the columns of ``transition_histograms``.

    Example:
        >>> from envs import GridWorldEnv
        >>> true_rows(GridWorldEnv("S.G").mdp, np.array([[0, 1]])).tolist()
        [[0.0, 1.0, 0.0, 0.0]]
    """
    P = mdp.P[pairs[:, 0] * mdp.n_actions + pairs[:, 1]].toarray()
    return np.concatenate([P, np.zeros((len(pairs), 1))], axis=1)


def state_histogram(states: np.ndarray, n_states: int) -> np.ndarray:
    """The empirical distribution of decoded ``states`` over the S states then "no state" (-1).

    Example:
        >>> state_histogram(np.array([0, 2, 2, -1]), 3).tolist()
        [0.25, 0.0, 0.5, 0.25]
    """
    states = np.asarray(states)
    return np.bincount(np.where(states >= 0, states, n_states), minlength=n_states + 1) / len(states)


def _check_counts(**counts: Any) -> None:
    """Each count an integer >= 1, else an error naming it (and an env passed where none is taken)."""
    for name, value in counts.items():
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            hint = (" (score compares the model with its own world's exact dynamics; it takes no env)"
                    if isinstance(value, gym.Env) else "")
            raise TypeError(f"{name} must be an integer >= 1, got {type(value).__name__}{hint}")
        if value < 1:
            raise ValueError(f"{name} must be an integer >= 1, got {value}")


def _pair_metrics(P: np.ndarray, Q: np.ndarray) -> dict[str, np.ndarray]:
    """Per-pair metrics of histograms Q against true rows P (both with the "no state" column),
    keyed by ``SCORE_KEYS``."""
    support = P > 0
    return {
        "tv": tv(P, Q),
        "forward_kl": forward_kl(P, Q),
        "reverse_kl": reverse_kl(P, Q),
        "jsd": jsd(P, Q),
        "mode_recall": (support & (Q >= MODE_SHARE * P)).sum(axis=1) / support.sum(axis=1),
        "hallucinated_mass": np.where(support, 0.0, Q).sum(axis=1),
    }


# the per-(state, action) metrics, each averaged over live pairs in ``score``'s result
SCORE_KEYS = ("tv", "forward_kl", "reverse_kl", "jsd", "mode_recall", "hallucinated_mass")


def _sample_next(mdp: TabularMDP, rows: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One next state per row index ``s*A + a`` of P, by inverse CDF on the CSR rows at once."""
    P = mdp.P
    ends = np.cumsum(P.data)
    before = np.concatenate([[0.0], ends])[P.indptr[:-1]]  # probability mass stored before each row
    within = ends - np.repeat(before, np.diff(P.indptr))  # cumulative probability inside the row
    key = np.repeat(np.arange(P.shape[0]), np.diff(P.indptr)) + within  # row r's entries lie in (r, r + 1]
    k = np.searchsorted(key, rows + rng.random(rows.size) * (key[P.indptr[rows + 1] - 1] - rows), side="left")
    return P.indices[np.minimum(k, P.indptr[rows + 1] - 1)]


def noise_floor(mdp: TabularMDP, n_samples: int, policy: Any = "uniform", horizon: int = 20, n_rollouts: int = 2000,
                seed: int = 0, replicates: int = 5) -> dict[str, Any]:
    r"""What a perfect model scores with these sample sizes: the metrics of :func:`score` computed
    on draws from the true dynamics itself, averaged over ``replicates`` simulations.

    Arguments:
        mdp: the true model.
        n_samples: samples per live (state, action), as in :func:`score`.
        policy, horizon, n_rollouts: the rollout comparison's, as in :func:`score`.
        seed: seeds the simulations.
        replicates: simulations averaged.

    Returns:
        ``tv``, ``forward_kl``, ``reverse_kl``, ``jsd``, ``mode_recall``, ``hallucinated_mass``
        (means over live pairs) and ``rollout_tv`` (list, k = 1..H).

    Example:
        >>> from envs import GridWorldEnv
        >>> floor = noise_floor(GridWorldEnv("S..\n...\n..G", slip=0.3).mdp, 200, horizon=3, n_rollouts=500)
        >>> 0.0 < floor["tv"] < 0.1, floor["hallucinated_mass"]
        (True, 0.0)
    """
    _check_counts(n_samples=n_samples, horizon=horizon, n_rollouts=n_rollouts, replicates=replicates)
    rng = np.random.default_rng(seed)
    A = mdp.n_actions
    pairs = _live_pairs(mdp)
    P = true_rows(mdp, pairs)
    pi = mdp.policy_probs(policy)
    exact = mdp.state_distributions(pi, horizon)
    totals: dict[str, float] = {}
    curve = np.zeros(horizon)
    for _ in range(replicates):
        Q = rng.multinomial(n_samples, P) / n_samples
        for key, value in _pair_metrics(P, Q).items():
            totals[key] = totals.get(key, 0.0) + float(value.mean()) / replicates
        s = rng.choice(mdp.n_states, size=n_rollouts, p=mdp.initial)
        for k in range(horizon):
            a = (rng.random(n_rollouts)[:, None] > np.cumsum(pi[s], axis=1)).sum(axis=1).clip(max=A - 1)
            s = np.where(mdp.terminal[s], s, _sample_next(mdp, s * A + a, rng))
            curve[k] += tv(np.concatenate([exact[k + 1], [0.0]]),
                           np.bincount(s, minlength=mdp.n_states + 1) / n_rollouts) / replicates
    return {**totals, "rollout_tv": curve.tolist()}


def rollout_tv(model: WorldModel, policy: Any = "uniform", horizon: int = 20, n: int = 2000, seed: int = 0) -> np.ndarray:
    """TV between exact and imagined k-step state distributions, k = 1..horizon (see module doc)."""
    mdp = model.env.mdp
    pi = mdp.policy_probs(policy)
    exact = mdp.state_distributions(pi, horizon)
    rng = np.random.default_rng(seed)
    s0 = rng.choice(mdp.n_states, size=n, p=mdp.initial)
    roll = model.rollout(model.env.encode_batch(s0, rng), pi if not isinstance(policy, str) else policy, horizon, n, seed)
    states = roll["states"]
    S = mdp.n_states
    out = np.empty(horizon)
    for k in range(1, horizon + 1):
        out[k - 1] = tv(np.concatenate([exact[k], [0.0]]), state_histogram(states[:, k], S))
    return out


def conditional_entropy(mdp: TabularMDP, data: TransitionDataset) -> float:
    """Mean over the data's (s, a) of the true entropy H(P(.|s, a)), in nats: the best possible NLL."""
    rows = data.state.numpy() * mdp.n_actions + data.action.numpy()
    P = mdp.P
    ent = np.zeros(P.shape[0])
    with np.errstate(divide="ignore"):
        contrib = np.where(P.data > 0, -P.data * np.log(P.data), 0.0)
    np.add.at(ent, np.repeat(np.arange(P.shape[0]), np.diff(P.indptr)), contrib)
    return float(ent[rows].mean())


def score(model: WorldModel, n_samples: int = 1000, policy: Any = "uniform", horizon: int = 20,
          n_rollouts: int = 2000, held_out: TransitionDataset | None = None, seed: int = 0) -> dict[str, Any]:
    """Score a world model exactly against its world's true dynamics.

    Arguments:
        model: a trained conditional ``WorldModel``.
        n_samples: model samples per live (state, action) pair.
        policy: policy of the rollout comparison: ``"uniform"`` or a state -> action array.
        horizon: rollout horizon H of ``rollout_tv``.
        n_rollouts: imagined rollouts for ``rollout_tv``.
        held_out: transitions for the likelihood report (flow: exact dequantised NLL; VAE: bound).
        seed: seeds the sampling.

    Returns:
        A dict with ``tv``, ``forward_kl``, ``reverse_kl``, ``jsd``, ``mode_recall``,
        ``hallucinated_mass`` (means over live pairs), ``rollout_tv`` (list, k = 1..H),
        ``noise_floor`` (the same for a perfect model with these sample sizes; for pixel
        observations with its exact ``pixel`` metrics and their sampling noise,
        :func:`perfect_pixel_metrics`), ``pixel`` (pixel
        observations: the video-prediction metrics of the module doc), ``per_pair``
        (each metric per pair, with the pairs), ``n_samples``, and with ``held_out``: ``nll`` and
        ``true_conditional_entropy`` (their gap is the forward KL of the dequantised data).
    """
    if not isinstance(model, WorldModel):
        raise TypeError(f"model must be a WorldModel, got {type(model).__name__}")
    _check_counts(n_samples=n_samples, horizon=horizon, n_rollouts=n_rollouts)
    if not model.conditional:
        raise ValueError("score compares conditional models with P(s'|s,a); this model is unconditional")
    mdp, frames = model.env.mdp, model.env.frames
    grid_px = frames.grid_px if frames is not None else None  # pixels: the rows above the distractor strip
    pairs, Q, mean, square = _histograms(model, n_samples, seed, grid_px=grid_px)
    P = true_rows(mdp, pairs)
    per_pair = _pair_metrics(P, Q)
    result: dict[str, Any] = {k: float(v.mean()) for k, v in per_pair.items()}
    if frames is not None:
        result["pixel"] = _pixel_metrics(model, P, mean, square)
    result["rollout_tv"] = rollout_tv(model, policy, horizon, n_rollouts, seed).tolist()
    result["noise_floor"] = noise_floor(mdp, n_samples, policy, horizon, n_rollouts, seed)
    if frames is not None:
        result["noise_floor"]["pixel"] = perfect_pixel_metrics(model.env, pairs, n_samples, seed)
    result["per_pair"] = {"pairs": pairs.tolist(), **{k: v.tolist() for k, v in per_pair.items()}}
    result["n_samples"] = n_samples
    if held_out is not None and model.net.has_likelihood:
        x = model.codec.encode(held_out.next_obs).to(model.device)
        c = model.context(held_out.obs.numpy(), held_out.action.numpy())
        with torch.no_grad():
            nll = model.net.held_out_nll(x, c)
        result["nll"] = float(nll.mean())
        result["true_conditional_entropy"] = conditional_entropy(mdp, held_out)
    return result


def sequence_log_prob(mdp: TabularMDP, states: np.ndarray, policy: Any = "uniform") -> np.ndarray:
    r"""Exact log-probability of observed state sequences under the true dynamics and a policy.

    The forward algorithm of the lecture's hidden Markov model, with the actions hidden:
    :math:`\alpha_0(s) = \mu_0(s)\, e(o_0 | s)`, :math:`\alpha_{t+1}(s') = e(o_{t+1} | s') \sum_s \alpha_t(s) P_\pi(s' | s)`,
    :math:`\log P(o_{0:T}) = \log \sum_s \alpha_T(s)`, rescaled each step to avoid underflow. Observations
    are decoded states (the emission is deterministic, :math:`e(o | s) = [\mathrm{decode}(o) = s]`), so a
    sequence holding an observation of no state has probability 0.

    Arguments:
        mdp: the true model.
        states: ``(T + 1,)`` or ``(N, T + 1)`` decoded states (``env.decode_batch`` of observations), -1 for none.
        policy: ``"uniform"`` or a state -> action array ``(S,)`` / ``(S, A)``.

    Returns:
        ``(N,)`` log-probabilities (``-inf`` for impossible sequences).

    Example:
        >>> from envs import GridWorldEnv
        >>> mdp = GridWorldEnv("S.G").mdp
        >>> float(np.exp(sequence_log_prob(mdp, np.array([0, 1, 2]), np.array([1, 1, 1]))[0]))
        1.0
    """
    from envs.pomdp import TabularPOMDP

    seqs = np.atleast_2d(np.asarray(states, dtype=np.int64))
    P_pi, _ = mdp.policy_matrix(policy)
    S = mdp.n_states
    # the chain under the policy as a one-action POMDP whose observation is the state itself, or
    # "none" (index S), which no state emits: the forward algorithm is then its filter
    emits = np.zeros((1, S, S + 1))
    emits[0, np.arange(S), np.arange(S)] = 1.0
    chain = TabularPOMDP(TabularMDP(P_pi, np.zeros((S, 1)), np.zeros(S, dtype=bool), mdp.initial,
                                    gamma=mdp.gamma, validate=False), emits)
    obs = np.where(seqs >= 0, seqs, S)
    first = obs[:, 0]
    with np.errstate(divide="ignore"):
        start_log = np.log(np.append(mdp.initial, 0.0)[first])  # log P(o_0): the start distribution at o_0
    b0 = np.zeros((len(seqs), S))
    b0[first < S, first[first < S]] = 1.0
    b0[first == S] = mdp.initial  # already impossible; any belief will do
    result = chain.filter(np.zeros_like(obs[:, 1:]), obs[:, 1:], b0=b0)
    return start_log + result.log_prob
