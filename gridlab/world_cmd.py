"""``gridlab world train|score|rollout``: glue between the command line and ``generative.run``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from gridlab.envspec import UsageError, make_env

__all__ = ["world_train", "world_score", "world_rollout", "format_score", "format_sequence_score"]


def world_train(env_id: str, family: str, obs_mode: str, samples: int, epochs: int | None, device: str,
                seed: int, kwargs: dict[str, Any], out: str | None, progress: bool = True,
                episodes: int = 500, steps: int | None = None, restarts: int = 1) -> Path:
    """Train a world model into a run directory and return its path: a one-step family on a fully
    observed world (``generative.run.train``), a sequence family on a POMDP
    (``generative.sequence_run.train``, ``episodes``, ``steps`` and ``restarts``)."""
    from envs.pomdp_env import POMDPEnv
    from generative import run
    from generative.registry import sequence_family_names

    pomdp = isinstance(make_env(env_id, kwargs).unwrapped, POMDPEnv)
    sequence = family in sequence_family_names()
    if pomdp and not sequence:
        raise UsageError(f"{env_id} is partially observed: its world model needs memory, --family "
                         f"{' or '.join(sequence_family_names())} (the {family} family models one step of a fully observed world)")
    if sequence and not pomdp:
        raise UsageError(f"the {family} family models a partially observed world's episodes; {env_id} is fully "
                         "observed: give a POMDP id (gridlab/TMaze-v0, gridlab/Tiger-v0, ...) or a one-step family")
    if restarts != 1 and not sequence:
        raise UsageError(f"--restarts chooses among a POMDP's sequence models by their held-out loss; the {family} "
                         "family trains one model")
    if sequence:
        from generative import sequence_run

        if kwargs:
            raise UsageError(f"--kw is for fully observed worlds; {env_id} is built as registered")
        try:
            model = sequence_run.train(env_id, family, episodes=episodes, seed=seed, device=device, steps=steps,
                                       out_dir=out, progress=progress, restarts=restarts)
        except ValueError as e:
            raise UsageError(str(e)) from None
        return model.run_dir
    if obs_mode == "index":
        raise UsageError("world models need vector or frame observations: --obs-mode onehot, coords, image or pixels")
    make_env(env_id, kwargs, obs_mode=obs_mode)  # a bad id or argument: one line, before any work
    try:
        model = run.train(env_id, family, env_kwargs={**kwargs, "obs_mode": obs_mode}, samples=samples, seed=seed,
                          device=device, epochs=epochs, out_dir=out, progress=progress)
    except ValueError as e:  # an existing run directory, a sample count too large for memory, ...
        raise UsageError(str(e)) from None
    return model.run_dir


def _load(run_dir: str):
    from generative import run

    try:
        return run.load(run_dir)
    except ValueError as e:
        raise UsageError(str(e)) from None


def format_score(result: dict[str, Any]) -> str:
    """``score``'s result as a table, each metric beside a perfect model's (the noise floor)."""
    from generative.scoring import SCORE_KEYS

    if "kl_rate" in result:
        return format_sequence_score(result)
    floor = result.get("noise_floor", {})
    lines = [f"{'':20s} {'model':>8s} {'perfect model (noise floor)':>28s}"]
    lines += [f"{k:20s} {result[k]: .4f} {floor[k]: 28.4f}" if k in floor else f"{k:20s} {result[k]: .4f}" for k in SCORE_KEYS]
    rt = result["rollout_tv"]
    lines.append(f"{'rollout_tv (k=1..H)':20s} " + " ".join(f"{v:.3f}" for v in rt))
    if floor:
        lines.append(f"{'  perfect model':20s} " + " ".join(f"{v:.3f}" for v in floor["rollout_tv"]))
    for k, v in result.get("pixel", {}).items():  # pixel observations: the video-prediction metrics
        lines.append(f"{k:20s} {v: .4f}")
    if "nll" in result:
        lines.append(f"{'held-out NLL':20s} {result['nll']: .4f}  (true conditional entropy {result['true_conditional_entropy']:.4f})")
    return "\n".join(lines)


def format_sequence_score(result: dict[str, Any]) -> str:
    """``score_sequence``'s result as lines: rates in nats per step, the open-loop TV beside the floor."""
    lo, hi = result["kl_rate_ci"]
    lines = [f"{result['family']} on {result['episodes']} held-out episodes ({result['steps']:,} steps), against the "
             "forward algorithm on the true POMDP",
             f"{'KL rate':24s} {result['kl_rate']:.4f} nats/step  [95% CI {lo:.4f}, {hi:.4f}]",
             f"{'cross-entropy rate':24s} {result['cross_entropy_rate']:.4f}  (true conditional entropy rate "
             f"{result['entropy_rate']:.4f})",
             f"{'predictive TV':24s} {result['tv']:.4f}"]
    if result.get("sampled"):  # predictions are histograms of draws: what a perfect model's would score
        floor = result["noise_floor"]
        lines += [f"{'  perfect model':24s} KL rate {floor['kl_rate']:.4f}, TV {floor['tv']:.4f} "
                  f"({result['predictive_samples']} draws per prediction; no likelihood)"]
    else:
        lines += [f"{'log-likelihood / step':24s} {result['log_likelihood']:.4f}  (true {result['true_log_likelihood']:.4f}, "
                  f"gap {100 * result['log_likelihood_gap']:.2f}%)"]
    lines += [f"{'open-loop TV (k=1..)':24s} " + " ".join(f"{v:.3f}" for v in result["open_loop_tv"]),
              f"{'  perfect model':24s} " + " ".join(f"{v:.3f}" for v in result["open_loop_floor"])]
    if "probe" in result:
        p = result["probe"]
        lines.append(f"{'belief probe KL':24s} {p['kl']:.4f}  (shuffled state {p['kl_shuffled']:.4f})")
    if "head" in result:  # what a dream agent learns from, against the exact expectations given the history
        h = result["head"]
        lines += [f"{'reward head error':24s} RMS {h['reward_rmse']:.4f}, largest {h['reward_max']:.4f}  (RMS of the "
                  f"exact expected reward {h['reward_scale']:.4f})",
                  f"{'end head error':24s} RMS {h['done_rmse']:.4f}, largest {h['done_max']:.4f}  (probability)"]
    return "\n".join(lines)


def world_score(run_dir: str, samples: int = 1000, horizon: int = 20) -> tuple[dict[str, Any], list[Path]]:
    """Score a saved world model; writes ``score.json`` and ``score.png`` together. A sequence
    model is scored on its held-out episodes against the forward algorithm (open-loop TV up to
    ``horizon`` steps, ``samples`` imagined rollouts per history)."""
    from generative import run, score, sequence_run

    if sequence_run.is_sequence_run(run_dir):
        from generative.sequence_scoring import score_sequence

        try:
            model, held = sequence_run.load(run_dir)
            result = score_sequence(model, model.env_id, data=held, n_episodes=200, k_max=horizon,
                                    n_open_loop=min(samples, 1024))
        except (TypeError, ValueError) as e:
            raise UsageError(str(e)) from None
        return result, sequence_run.save_score(run_dir, result)

    model, held = _load(run_dir)
    try:
        result = score(model, n_samples=samples, horizon=horizon, held_out=held)
    except (TypeError, ValueError) as e:  # checked before anything is computed or written
        raise UsageError(str(e)) from None
    return result, run.save_score(run_dir, model, result)


def world_rollout(run_dir: str, policy: str = "uniform", horizon: int = 10, seed: int = 0) -> Path:
    """Write ``rollout.png``: one imagined rollout (top row) above one real rollout (bottom row)."""
    from agents import dp
    from generative.plotting import plot_rollouts

    model, _ = _load(run_dir)
    mdp = model.env.mdp
    if policy == "optimal":
        pi = dp.solve(mdp).policy
    elif policy == "uniform":
        pi = "uniform"
    else:
        raise UsageError(f"--policy must be 'uniform' or 'optimal', got {policy!r}")
    rng = np.random.default_rng(seed)
    s0 = int(rng.choice(mdp.n_states, p=mdp.initial))
    return plot_rollouts(model, s0, pi, horizon, rng, Path(run_dir) / "rollout.png", f"{model.family}, {policy} policy",
                         seed=seed)
