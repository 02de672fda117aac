r"""Hyperparameter search for an agent's preset: Ray Tune, Optuna's sampler, ASHA, an exact objective.

Each Tune trial is one configuration, trained with every seed in turn (one CPU, torch at one
thread); after each seed it reports the mean exact normalised score so far,

.. math:: \text{score} = \frac{1}{k} \sum_{i \le k} \frac{J^{\pi_i} - J^{unif}}{J^* - J^{unif}},

computed from the model (``agents.compare.Comparison.normalised_score``): no evaluation noise.
The seeds are the budget that ASHA (``time_attr="seeds_done"``) hands out: a configuration whose
first seed scores in the bottom half of its rung stops there, the rest go on to all seeds, so the
configuration chosen is the best *mean over all seeds*. Optuna's TPE sampler proposes the
configurations, the shipped preset's values first where the search space holds them (so the
result is never worse than the preset on these seeds).

The output directory holds ``trials.csv`` (one row per configuration: its values, seeds done,
per-seed and mean scores), ``best.yml`` (the winning configuration as a complete preset block in
RL Baselines3 Zoo's format, keyed by the world's id: ``--conf-file`` for the zoo, ``hyperparams=``
for ``agents.sb3.train``) and ``tune/`` (Ray Tune's experiment state).

Example:
    >>> result = tune_preset("gridlab/CliffWalk-v0", "ppo", "runs/tune-cliff", seeds=(0, 1, 2),
    ...                      steps=100_000, trials=24)  # doctest: +SKIP
    >>> result["best_score"], result["preset_score"]  # doctest: +SKIP
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from envs.rundir import atomic_file, atomic_write_text, regular_file

__all__ = ["SEARCH_SPACES", "DISTRIBUTIONS", "check_space", "tune_preset", "MIN_SEEDS"]

#: The fewest seeds a configuration is scored over (a mean over fewer picks the configuration with the luckiest seed).
MIN_SEEDS = 3

#: The distributions a search space may use, mapping a preset key to one of ``{"loguniform": [lo, hi]}``, ``{"uniform": [lo, hi]}``,
#: ``{"int": [lo, hi]}`` (both ends included) or ``{"choice": [values...]}``.
DISTRIBUTIONS = ("loguniform", "uniform", "int", "choice")
_ON_POLICY = {
    "learning_rate": {"loguniform": [1e-4, 3e-3]},
    "ent_coef": {"loguniform": [1e-4, 5e-2]},
    "gae_lambda": {"choice": [0.8, 0.9, 0.95, 0.98]},
    "vf_coef": {"uniform": [0.25, 1.0]},
}
_VALUE_BASED = {
    "learning_rate": {"loguniform": [1e-4, 3e-3]},
    "batch_size": {"choice": [64, 128, 256]},
    "target_update_interval": {"choice": [250, 500, 1000, 2000]},
    "exploration_fraction": {"uniform": [0.1, 0.5]},
    "exploration_final_eps": {"choice": [0.01, 0.05, 0.1]},
    "train_freq": {"choice": [1, 4, 8]},
}
#: The default search space of each algorithm (``--space FILE`` gives another).
SEARCH_SPACES: dict[str, dict[str, dict[str, list]]] = {
    "ppo": {**_ON_POLICY, "n_epochs": {"choice": [4, 10, 15]}, "n_steps": {"choice": [64, 128, 256]},
            "clip_range": {"choice": [0.1, 0.2, 0.3]}},
    "a2c": {**_ON_POLICY, "n_steps": {"choice": [5, 16, 32]}},
    "dqn": dict(_VALUE_BASED),
    "qrdqn": dict(_VALUE_BASED),
    "recurrentppo": {**_ON_POLICY, "n_epochs": {"choice": [4, 10]}, "n_steps": {"choice": [64, 128, 256]}},
}


def check_space(algo: str, space: dict[str, Any]) -> None:
    """Refuse a search space a trial would fail on; the message names the bad key or value.

    Raises:
        ValueError: an unknown hyperparameter of ``algo``, an unknown distribution, bad bounds.
    """
    from gridlab.sweep import _algo_arguments

    if not isinstance(space, dict) or not space:
        raise ValueError(f"a search space is a non-empty mapping of hyperparameter -> distribution, got {space!r}")
    known = _algo_arguments(algo)
    for key, dist in space.items():
        if key not in known:
            raise ValueError(f"unknown hyperparameter {key!r} for {algo}; expected one of {', '.join(sorted(known))}")
        if not isinstance(dist, dict) or len(dist) != 1 or next(iter(dist)) not in DISTRIBUTIONS:
            raise ValueError(f"{key}: expected one of {{{', '.join(f'{d}: [...]' for d in DISTRIBUTIONS)}}}, got {dist!r}")
        (kind, values), = dist.items()
        if not isinstance(values, list) or not values:
            raise ValueError(f"{key}: {kind} needs a non-empty list, got {values!r}")
        if kind != "choice":
            if len(values) != 2 or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values) \
                    or not values[0] < values[1] or (kind == "loguniform" and values[0] <= 0):
                raise ValueError(f"{key}: {kind} needs [low, high] with low < high"
                                 f"{' and low > 0' if kind == 'loguniform' else ''}, got {values!r}")
            if kind == "int" and not all(isinstance(v, int) for v in values):
                raise ValueError(f"{key}: int needs integer bounds, got {values!r}")


def _tune_space(space: dict[str, Any]) -> dict[str, Any]:
    from ray import tune

    make = {"loguniform": lambda v: tune.loguniform(*v), "uniform": lambda v: tune.uniform(*v),
            "int": lambda v: tune.randint(v[0], v[1] + 1), "choice": tune.choice}
    return {key: make[kind](values) for key, dist in space.items() for kind, values in dist.items()}


def _inside(value: Any, dist: dict[str, list]) -> bool:
    (kind, values), = dist.items()
    if kind == "choice":
        return value in values
    return isinstance(value, (int, float)) and not isinstance(value, bool) and values[0] <= value <= values[1] and (
        kind != "int" or isinstance(value, int))


def _short(value: Any) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)


# ---------------------------------------------------------------------- a trial (run in a Ray worker)
def _trial(config: dict[str, Any], setup: dict[str, Any]) -> None:
    """Train ``config`` with each seed in turn; report the mean exact normalised score after each."""
    import gymnasium as gym
    import numpy as np
    import torch
    from ray import tune

    import envs  # noqa: F401  (registers the suite in the worker)
    from agents import sb3
    from agents.compare import compare

    torch.set_num_threads(1)  # the trial's process is ours: small MLPs run fastest on one thread
    root = Path(setup["out"]) / "trials" / tune.get_context().get_trial_id()
    scores, gaps = [], []
    for k, seed in enumerate(setup["seeds"], start=1):
        model = sb3.train(setup["world"], setup["algo"], total_timesteps=setup["steps"], seed=seed,
                          hyperparams=dict(config), out_dir=root / f"s{seed}", progress_bar=False, device="cpu",
                          eval_freq=setup["steps"] or 10**9)
        c = compare(model, gym.make(setup["world"]))
        scores.append(c.normalised_score)
        gaps.append(c.relative_gap)
        tune.report({"score": float(np.mean(scores)), "seeds_done": k, "relative_gap": float(np.mean(gaps)),
                     **{f"score_s{s}": v for s, v in zip(setup["seeds"], scores)}})


# ---------------------------------------------------------------------- the driver
def tune_preset(world: str, algo: str, out: str | Path, seeds: tuple[int, ...] = (0, 1, 2), steps: int | None = None,
                trials: int = 16, space: dict[str, Any] | str | Path | None = None, address: str | None = None,
                seed: int = 0, progress: bool = True) -> dict[str, Any]:
    """Search ``algo``'s hyperparameters on ``world``; write ``trials.csv`` and ``best.yml`` in ``out``.

    Arguments:
        world: a registered id that builds with no further argument.
        algo: a registered algorithm (``agents.algos``).
        out: a new (or empty) directory.
        seeds: training seeds of every configuration (at least :data:`MIN_SEEDS`).
        steps: timesteps per seed (None: the preset's ``n_timesteps``).
        trials: configurations to try.
        space: the search space (``{key: {"loguniform": [lo, hi]}}``, see :data:`DISTRIBUTIONS`)
            or a YAML file holding one; default :data:`SEARCH_SPACES` of ``algo``. Keys not in the
            space keep the preset's value.
        address: a Ray cluster, as for ``gridlab.sweep.run_sweep``.
        seed: the sampler's seed.
        progress: one line per finished configuration on stderr.

    Returns:
        A dict with ``best`` (the winning values), ``best_score`` (their mean score),
        ``preset_score`` (the preset's mean score, or None when the space does not hold the
        preset's values) and ``trials`` (one row per configuration).

    Raises:
        ValueError: a bad world, algorithm, space, seed list or directory, before any trial starts.
    """
    import yaml
    from ray import tune
    from ray.tune.schedulers import ASHAScheduler
    from ray.tune.search.optuna import OptunaSearch

    import envs  # noqa: F401
    from agents import sb3
    from agents.algos import ALGOS
    from envs import ready_made_ids
    from gridlab.sweep import progress_callback, quiet_fit, ray_session

    if world not in ready_made_ids():
        raise ValueError(f"unknown world {world!r}; expected one of {', '.join(ready_made_ids())}")
    if algo not in ALGOS:
        raise ValueError(f"unknown algorithm {algo!r}; expected one of {', '.join(ALGOS)}")
    if isinstance(space, (str, Path)):
        try:
            space = yaml.safe_load(regular_file(space, "search space file").read_text())
        except (OSError, yaml.YAMLError) as e:
            raise ValueError(f"{space}: not a readable YAML search space ({str(e).splitlines()[0]})") from None
    space = dict(SEARCH_SPACES[algo] if space is None else space)
    check_space(algo, space)
    seeds = tuple(seeds)
    if len(seeds) < MIN_SEEDS or len(set(seeds)) != len(seeds) or any(not isinstance(s, int) or s < 0 for s in seeds):
        raise ValueError(f"tune needs at least {MIN_SEEDS} distinct seeds >= 0 (a mean over fewer picks the "
                         f"luckiest seed), got {list(seeds)}")
    for name, value in (("trials", trials), ("steps", steps)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
    out = Path(out).resolve()
    if out.exists() and any(out.iterdir()):
        raise ValueError(f"tune directory {str(out)!r} already exists and is not empty")
    out.mkdir(parents=True, exist_ok=True)

    preset = sb3.load_hyperparams(world, algo)
    start = {k: preset[k] for k in space if k in preset}
    preset_point = [start] if len(start) == len(space) and all(_inside(start[k], space[k]) for k in space) else []
    setup = {"world": world, "algo": algo, "seeds": list(seeds), "steps": steps, "out": str(out)}
    with ray_session(address) as resources:
        tuner = tune.Tuner(
            tune.with_resources(tune.with_parameters(_trial, setup=setup), resources),
            param_space=_tune_space(space),
            tune_config=tune.TuneConfig(
                metric="score", mode="max", num_samples=trials,
                search_alg=OptunaSearch(points_to_evaluate=preset_point or None, seed=seed),
                scheduler=ASHAScheduler(time_attr="seeds_done", max_t=len(seeds), grace_period=1, reduction_factor=2)),
            run_config=tune.RunConfig(name="tune", storage_path=str(out), verbose=0, callbacks=[progress_callback(
                trials, lambda t: (", ".join(f"{k}={_short(v)}" for k, v in t.config.items()), (t.last_result or {}).get("score")))]
                if progress else []),
        )
        grid = quiet_fit(tuner, f"nothing was written but Ray Tune's state in {out / 'tune'}")
    rows = []
    for r in grid:
        m = r.metrics or {}
        rows.append({"trial": (r.path or "").rsplit("/", 1)[-1], **{k: r.config.get(k) for k in space},
                     "seeds_done": m.get("seeds_done", 0), "score": m.get("score"), "relative_gap": m.get("relative_gap"),
                     **{f"score_s{s}": m.get(f"score_s{s}") for s in seeds},
                     "status": "error" if r.error else "done", "preset": bool(preset_point) and all(
                         r.config.get(k) == v for k, v in start.items())})
    finished = [r for r in rows if r["status"] == "done" and r["seeds_done"] == len(seeds)]
    if not finished:
        raise RuntimeError(f"no configuration finished all seeds; see {out / 'tune'}")
    best = max(finished, key=lambda r: r["score"])
    best_values = {k: getattr(best[k], "item", lambda: best[k])() for k in space}  # numpy scalars as Python numbers
    rows.sort(key=lambda r: (-(r["seeds_done"] or 0), -(r["score"] if r["score"] is not None else -1e300)))
    with atomic_file(out / "trials.csv") as tmp, tmp.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    preset_rows = [r for r in finished if r["preset"]]
    result = {"world": world, "algo": algo, "seeds": list(seeds), "steps": steps, "trials": len(rows),
              "best": best_values, "best_score": best["score"],
              "preset_score": preset_rows[0]["score"] if preset_rows else None}
    block = {**preset, **result["best"], **({"n_timesteps": steps} if steps else {})}  # the budget it was tuned for
    header = (f"# gridlab tune: {algo} on {world}, {len(rows)} configurations, seeds {', '.join(map(str, seeds))}, "
              f"{steps or preset.get('n_timesteps')} steps each.\n# Mean exact normalised score {best['score']:.4f}"
              + (f" (the preset's: {result['preset_score']:.4f})" if result["preset_score"] is not None else "") + ".\n")
    atomic_write_text(out / "best.yml", header + yaml.safe_dump({world: block}, sort_keys=False))
    atomic_write_text(out / "tune.json", json.dumps(result, indent=1, default=str))
    return {**result, "rows": rows}
