r"""Sweeps: seeds x algorithms (or world-model families) x worlds on Ray Tune, every trial judged exactly.

One Ray Tune trial per (world, algorithm or family, seed, hyperparameter point), one CPU each (a
GPU fraction when there is one), ``torch.set_num_threads(1)`` inside the trial. With no address
a local Ray instance sized to the machine is started (and stopped at the end); ``address`` (or
``RAY_ADDRESS``) runs the same sweep on an existing cluster (``ray start --head``).

The sweep directory holds

- ``sweep.json``: the spec it was started with (``--resume`` reads it) and, last, ``"complete": true``;
- ``trials/<trial>/``: each agent's run directory (``agents.sb3``) or world model's (``generative.run``);
- ``tune/``: Ray Tune's experiment state, from which an interrupted sweep resumes;
- ``trials.csv``: one row per trial (world, algo or family, seed, status, error, final exact
  metrics, normalised score, the Ray node it ran on);
- ``curves.csv``: agents' exact metrics at each evaluation during training;
- ``aggregate.json``: per algorithm or family, IQM, median, mean and optimality gap of the
  normalised score over runs x worlds, each with its stratified-bootstrap 95% interval (rliable);
- ``report.html``: the same as a self-contained page.

The normalised score of an agent is exact (``agents.compare.Comparison.normalised_score``):
:math:`(J^\pi - J^{unif}) / (J^* - J^{unif})`, 1 optimal, 0 uniform-random. A world model's is
``1 - TV``: one minus its mean total-variation distance from the true transition rows.

Example:
    >>> spec = SweepSpec("agents", worlds=("gridlab/OpenRoom-v0",), methods=("ppo", "dqn"), seeds=(0, 1, 2),
    ...                  steps=20_000)
    >>> run_sweep(spec, "runs/sweep")  # doctest: +SKIP
"""

from __future__ import annotations

import csv
import itertools
import json
import math
import os
import shutil
import sys
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from envs.rundir import atomic_file, atomic_write_text, regular_file

__all__ = ["SweepSpec", "run_sweep", "ray_session", "progress_callback", "quiet_fit", "aggregate", "iqm", "score_distribution", "probability_of_improvement",
           "KINDS", "parse_seeds"]

KINDS = ("agents", "world")
MARKER = "gridlab sweep"  # sweep.json's "kind of directory", so no other directory is taken for one
AGGREGATES = ("iqm", "median", "mean", "optimality_gap")


def parse_seeds(text: str) -> tuple[int, ...]:
    """``"0-4"`` -> (0, 1, 2, 3, 4); ``"0,2,7"`` -> (0, 2, 7); ranges and lists mix: ``"0-2,9"``.

    Raises:
        ValueError: a part that is not a seed or a range of seeds.
    """
    seeds: list[int] = []
    for part in str(text).split(","):
        lo, dash, hi = part.strip().partition("-")
        try:
            seeds += list(range(int(lo), int(hi) + 1)) if dash else [int(lo)]
        except ValueError:
            raise ValueError(f"seeds must look like 0-4 or 0,1,2, got {text!r}") from None
    if not seeds or min(seeds) < 0 or len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds must be distinct integers >= 0, got {text!r}")
    return tuple(seeds)


@dataclass(frozen=True)
class SweepSpec:
    """What a sweep runs: every combination of worlds x methods x seeds x hyperparameter points.

    Arguments:
        kind: ``"agents"`` (SB3 algorithms) or ``"world"`` (world-model families).
        worlds: registered gridlab ids that build with no further argument (``envs.ready_made_ids``).
        methods: registered algorithms (``agents.algos``) or families (``generative.registry``).
        seeds: training seeds.
        steps: agent timesteps or world-model gradient steps (None: the preset's or the family's).
        evals: exact evaluations over each agent's training (the points of ``curves.csv``).
        samples: world sweeps: transitions collected per trial.
        hyperparams: agents: a grid of preset overrides, ``{"learning_rate": [1e-3, 3e-4]}``.
    """

    kind: str
    worlds: tuple[str, ...]
    methods: tuple[str, ...]
    seeds: tuple[int, ...]
    steps: int | None = None
    evals: int = 10
    samples: int = 20_000
    hyperparams: dict[str, list[Any]] = field(default_factory=dict)

    def check(self) -> None:
        """Refuse, before any trial starts, anything a trial would fail on; the message names it.

        Raises:
            ValueError: an unknown kind, world, algorithm, family or hyperparameter, or a bad count.
        """
        import envs  # noqa: F401  (registers the suite)
        from envs import POMDP_SUITE, ready_made_ids
        from envs.minigrid import ensure_registered, is_minigrid

        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}, got {self.kind!r}")
        for name, values in (("worlds", self.worlds), ("methods", self.methods), ("seeds", self.seeds)):
            if not values:
                raise ValueError(f"a sweep needs at least one of {name}")
        ready = ready_made_ids() + (list(POMDP_SUITE) if self.kind == "agents" else [])
        for w in self.worlds:
            if self.kind == "agents" and is_minigrid(w):  # Farama MiniGrid, judged by its own objective
                import gymnasium as gym

                ensure_registered(w)
                if w in gym.registry:
                    continue
            if w not in ready:
                raise ValueError(f"unknown world {w!r}; expected one of {', '.join(ready)}, or a MiniGrid id")
        if self.kind == "agents":
            from agents.algos import ALGOS

            known = list(ALGOS)
        else:
            from generative.registry import family_names

            known = family_names()
        for m in self.methods:
            if m not in known:
                raise ValueError(f"unknown {'algorithm' if self.kind == 'agents' else 'family'} {m!r}; "
                                 f"expected one of {', '.join(known)}")
        if any(isinstance(s, bool) or not isinstance(s, int) or s < 0 for s in self.seeds):
            raise ValueError(f"seeds must be integers >= 0, got {list(self.seeds)}")
        for name, value in (("steps", self.steps), ("evals", self.evals), ("samples", self.samples)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
        if self.hyperparams and self.kind != "agents":
            raise ValueError("hyperparams are for agent sweeps")
        for key, values in self.hyperparams.items():
            if not isinstance(values, list) or not values:
                raise ValueError(f"hyperparams[{key!r}] must be a non-empty list of values, got {values!r}")
            for m in self.methods:
                if key not in _algo_arguments(m):
                    raise ValueError(f"unknown hyperparameter {key!r} for {m}; "
                                     f"expected one of {', '.join(sorted(_algo_arguments(m)))}")
            if key in ("env_wrapper", "callback"):  # names of classes: each must import, as the trial will
                from agents import sb3

                for value in values:
                    (sb3.env_wrapper if key == "env_wrapper" else sb3.preset_callbacks)({key: value})

    def trials(self) -> list[dict[str, Any]]:
        """One config per trial (without its directory), in a fixed order."""
        keys = list(self.hyperparams)
        points = [dict(zip(keys, values)) for values in itertools.product(*self.hyperparams.values())] or [{}]
        out = []
        for world, method, point, seed in itertools.product(self.worlds, self.methods, points, self.seeds):
            tag = "".join(f"_{k}={v}" for k, v in point.items())
            name = f"{world.split('/')[-1]}_{method}{tag}_s{seed}"
            out.append({"kind": self.kind, "world": world, "method": method, "seed": seed, "hyperparams": point,
                        "steps": self.steps, "evals": self.evals, "samples": self.samples, "name": name})
        return out

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "worlds": list(self.worlds), "methods": list(self.methods), "seeds": list(self.seeds)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "SweepSpec":
        unknown = set(d) - {f for f in cls.__dataclass_fields__}
        if unknown:
            raise ValueError(f"unknown sweep field {sorted(unknown)[0]!r}; expected {', '.join(cls.__dataclass_fields__)}")
        if "kind" not in d:
            raise ValueError("a sweep spec needs a kind: agents or world")
        seeds = d.get("seeds", (0,))
        seeds = parse_seeds(seeds) if isinstance(seeds, (str, int)) else tuple(seeds)
        return cls(kind=d["kind"], worlds=tuple(d.get("worlds", ())), methods=tuple(d.get("methods", ())),
                   seeds=seeds, steps=d.get("steps"), evals=d.get("evals", 10), samples=d.get("samples", 20_000),
                   hyperparams=dict(d.get("hyperparams") or {}))

    @classmethod
    def from_file(cls, path: str | Path) -> "SweepSpec":
        """A spec from a YAML file (the fields of :class:`SweepSpec`; ``seeds`` may be ``0-4``)."""
        import yaml

        try:
            data = yaml.safe_load(regular_file(path, "sweep file").read_text())
        except yaml.YAMLError as e:
            raise ValueError(f"{path}: not a YAML sweep file ({str(e).splitlines()[0]})") from None
        if not isinstance(data, dict):
            raise ValueError(f"{path}: expected a mapping of sweep fields")
        return cls.from_dict(data)


def _algo_arguments(algo: str) -> set[str]:
    """What a preset may override for ``algo``: the class's constructor arguments and the preset keys."""
    import inspect

    from agents.algos import load_algo

    return set(inspect.signature(load_algo(algo).__init__).parameters) - {"self", "env", "kwargs"} | {
        "n_timesteps", "n_envs", "policy", "env_wrapper", "callback"}


# ---------------------------------------------------------------------- trials (run in Ray workers)
def _trial(space: dict[str, Any]) -> None:
    """One trial: train, report the exact metrics during training and at the end (Ray Tune function)."""
    config = space["trial"]
    import torch
    from ray import tune

    torch.set_num_threads(1)  # the trial's process is ours: small MLPs run fastest on one thread
    import ray

    node = ray.get_runtime_context().get_node_id()
    final = (_agent_trial if config["kind"] == "agents" else _world_trial)(config, lambda row: tune.report({
        **row, "node": node, "final": False}))
    tune.report({**final, "node": node, "final": True})


def _agent_trial(config: dict[str, Any], report) -> dict[str, Any]:
    import gymnasium as gym

    import envs  # noqa: F401
    from agents import sb3
    from agents.compare import compare
    from envs.minigrid import is_minigrid
    from gridlab.agents_cmd import minigrid_comparison
    from agents.pomdp_compare import compare_pomdp
    from envs.pomdp_env import POMDPEnv

    run_dir = Path(config["dir"])
    if (run_dir / "model.zip").is_file():  # finished before the driver was stopped: not trained again
        model, _ = sb3.load(run_dir, device="cpu")
        with (run_dir / "exact_eval.csv").open() as f:
            for row in csv.DictReader(f):
                report({k: float(v) for k, v in row.items()})
    else:
        steps = config["steps"]
        total = steps or sb3.load_hyperparams(config["world"], config["method"]).get("n_timesteps", 100_000)
        model = sb3.train(config["world"], config["method"], total_timesteps=steps, seed=config["seed"],
                          hyperparams=config["hyperparams"] or None, out_dir=run_dir, progress_bar=False,
                          device="cpu", eval_freq=max(int(total) // config["evals"], 1), on_evaluation=report)
    if is_minigrid(config["world"]):  # MiniGrid's own objective, on the layouts of seeds EVAL_SEEDS
        found = minigrid_comparison(model).metrics()
        seconds = json.loads((run_dir / "config.json").read_text())["train_seconds"]
        return {"timesteps": float(model.num_timesteps), "train_seconds": seconds, **found}
    env = gym.make(config["world"])
    if isinstance(env.unwrapped, POMDPEnv):  # kind, value method and the metrics (a score interval)
        found = compare_pomdp(model, env, seed=config["seed"]).to_dict()
    else:
        found = compare(model, env).metrics()
    seconds = json.loads((run_dir / "config.json").read_text())["train_seconds"]
    return {"timesteps": float(model.num_timesteps), "train_seconds": seconds, **found}


def _world_trial(config: dict[str, Any], report) -> dict[str, Any]:
    from generative import run, score
    from generative.scoring import SCORE_KEYS

    run_dir = Path(config["dir"])
    if not (run_dir / "model.pt").is_file():  # else finished before the driver was stopped: not trained again
        run.train(config["world"], config["method"], env_kwargs={"obs_mode": "onehot"}, samples=config["samples"],
                  seed=config["seed"], device="auto", steps=config["steps"], out_dir=run_dir, progress=False)
    model, held = run.load(run_dir)  # the same path for a fresh and a resumed trial: the same numbers
    r = score(model, n_samples=1000, horizon=20, n_rollouts=2000, held_out=held, seed=config["seed"])
    return {**{k: r[k] for k in SCORE_KEYS}, "rollout_tv_last": r["rollout_tv"][-1], "noise_floor_tv": r["noise_floor"]["tv"],
            "normalised_score": 1.0 - r["tv"], "train_seconds": model.train_seconds}


# ---------------------------------------------------------------------- the driver
def _clear_partials(out: Path) -> None:
    """Remove the temporary run directories (``trials/.NAME.xxxx``) of trials killed while writing.

    Called on resume and again before a sweep is marked complete: on a cluster, the trials of a
    driver killed with SIGKILL live on until Ray notices the driver is gone, and one of them can
    still be writing when the resumed driver starts (measured: a partial directory left behind
    by the first cleanup alone).
    """
    for partial in (out / "trials").glob(".*"):
        shutil.rmtree(partial, ignore_errors=True)


def _prepare(out: Path, spec: SweepSpec | None, resume: bool) -> SweepSpec:
    """Check the sweep directory and return the spec to run (written on a fresh start, read on resume)."""
    state = out / "sweep.json"
    if resume:
        if not state.is_file():
            raise ValueError(f"{out} is not a sweep directory (no sweep.json): nothing to resume")
        try:
            saved = json.loads(state.read_text())
        except json.JSONDecodeError:
            raise ValueError(f"{state}: not a readable sweep state") from None
        if saved.get("directory") != MARKER:
            raise ValueError(f"{state} was not written by gridlab sweep")
        if spec is not None and spec.to_dict() != saved["spec"]:
            raise ValueError(f"{out} was started with another sweep spec; resume it without one or use a new --out")
        spec = SweepSpec.from_dict(saved["spec"])
        _clear_partials(out)
    else:
        if spec is None:
            raise ValueError("a new sweep needs a spec")
        if out.exists() and any(out.iterdir()):
            raise ValueError(f"sweep directory {str(out)!r} already exists and is not empty (use --resume to continue it)")
    spec.check()
    out.mkdir(parents=True, exist_ok=True)
    if not resume:
        atomic_write_text(state, json.dumps({"directory": MARKER, "spec": spec.to_dict(), "complete": False}, indent=1))
    return spec


def run_sweep(spec: SweepSpec | None, out: str | Path, address: str | None = None, resume: bool = False,
              progress: bool = True, reps: int = 2_000, retries: int = 0) -> dict[str, Any]:
    """Run (or resume) a sweep into ``out``; returns its aggregate (also in ``aggregate.json``).

    Arguments:
        spec: what to run; None to resume ``out`` with the spec it was started with.
        out: the sweep directory (absolute paths inside: Tune moves trials' working directories).
        address: a Ray cluster's address (``ray start --head`` prints it), else ``RAY_ADDRESS``,
            else a local Ray instance started here and stopped at the end. A Ray already
            initialised in this process is used as it is.
        resume: continue ``out`` after an interruption: finished trials are not run again, the
            others restart from scratch with their seeds (so their numbers equal an uninterrupted run's).
        progress: one line per finished trial on stderr.
        reps: bootstrap resamples of the interval estimates (2,000: rliable's default for
            performance profiles; every estimate is bootstrapped with the same count).
        retries: times Tune restarts a failed trial (``FailureConfig(max_failures=...)``): for
            clusters whose nodes can be lost; a trial that raises on every try is reported with
            its error and the rest of the sweep finishes.

    Raises:
        ValueError: a bad spec or sweep directory, before any trial starts.
    """
    from ray import tune

    out = Path(out).resolve()
    spec = _prepare(out, spec, resume)
    with ray_session(address) as resources:
        trainable = tune.with_resources(_trial, resources)
        configs = [{**c, "dir": str(out / "trials" / c["name"])} for c in spec.trials()]
        experiment = out / "tune"
        callbacks = [progress_callback(len(configs), _describe)] if progress else []
        if resume and tune.Tuner.can_restore(str(experiment)):
            tuner = tune.Tuner.restore(str(experiment), trainable, resume_unfinished=True, restart_errored=True)
        else:
            tuner = tune.Tuner(
                trainable, param_space={"trial": tune.grid_search(configs)},
                tune_config=tune.TuneConfig(reuse_actors=True),  # one worker process imports SB3 once
                run_config=tune.RunConfig(name="tune", storage_path=str(out), verbose=0, callbacks=callbacks,
                                          failure_config=tune.FailureConfig(max_failures=retries)),
            )
        rows, curves = _collect(quiet_fit(tuner, f"`gridlab sweep --resume --out {out}` runs the rest"), spec.trials())
    return _write(out, spec, rows, curves, reps)


@contextmanager
def ray_session(address: str | None = None) -> Iterator[dict[str, float]]:
    """Ray for one command: the cluster at ``address`` (else ``RAY_ADDRESS``), else a local instance
    started here and stopped on leaving; a Ray already initialised in this process is used as it is.

    Yields:
        the resources of one trial: one CPU, and a fraction of a GPU when the cluster has GPUs
        (one share per CPU).
    """
    import ray

    started = not ray.is_initialized()
    if started:
        ray.init(address=address or os.environ.get("RAY_ADDRESS") or None, include_dashboard=False,
                 log_to_driver=False, configure_logging=False)
    try:
        cluster = ray.cluster_resources()
        gpus = cluster.get("GPU", 0)
        yield {"cpu": 1, "gpu": min(1.0, gpus / max(1.0, cluster.get("CPU", 1)))} if gpus else {"cpu": 1}
    finally:
        if started:
            ray.shutdown()


def quiet_fit(tuner, after_interrupt: str) -> Any:
    """``tuner.fit()`` with Ray Tune's own stdout kept out of the caller's: at ``verbose=0`` Tune 2.x
    still prints its experiment box and a results path (a notebook's saved output would hold a
    path of this machine). Progress comes from :func:`progress_callback`, on stderr.

    On Ctrl-C Tune catches the SIGINT itself, saves its state, marks the running trials
    terminated and *returns* from ``fit``; its handler then puts back the handler it found. So a
    marker handler is installed first: finding it back after ``fit`` means Tune was interrupted,
    which is raised here as the ``KeyboardInterrupt`` it was, its message saying
    ``after_interrupt`` (what the user can do next), so that nothing after it reads the results
    as complete. (A second Ctrl-C while Tune saves its state reaches the marker, which raises.)
    """
    import contextlib
    import io
    import signal
    import threading

    def interrupted(signum, frame):
        raise KeyboardInterrupt

    watch = threading.current_thread() is threading.main_thread() and not int(os.getenv("TUNE_DISABLE_SIGINT_HANDLER", "0"))
    previous = signal.signal(signal.SIGINT, interrupted) if watch else None
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            grid = tuner.fit()
        if watch and signal.getsignal(signal.SIGINT) is interrupted:
            raise KeyboardInterrupt(after_interrupt)
    finally:
        if watch:
            signal.signal(signal.SIGINT, previous)
    return grid


def _describe(trial) -> tuple[str, float | None]:
    return trial.config["trial"]["name"], (trial.last_result or {}).get("normalised_score")


def progress_callback(total: int, describe) -> Any:
    """A Ray Tune callback printing one line per finished or failed trial on stderr.

    Arguments:
        total: the number of trials, for ``[done/total]``.
        describe: ``trial -> (name, normalised score or None)``.

    The class is built here, on ``tune.Callback``, so that importing this module needs no Ray.
    """
    from ray import tune

    class Progress(tune.Callback):
        def __init__(self) -> None:
            self.done, self.t0 = 0, time.perf_counter()

        def _line(self, trial, what: str) -> None:
            self.done += 1
            name, score = describe(trial)
            shown = f"normalised score {score:.3f}" if isinstance(score, float) else what
            print(f"[{self.done}/{total}] {name}: {shown} ({time.perf_counter() - self.t0:.0f} s)",
                  file=sys.stderr, flush=True)

        def on_trial_complete(self, iteration, trials, trial, **info) -> None:
            self._line(trial, "done")

        def on_trial_error(self, iteration, trials, trial, **info) -> None:
            self._line(trial, "FAILED")

    return Progress()


def _last_line(error: BaseException | None) -> str:
    """The exception's own line (a Ray error wraps the trial's traceback; its last line names the cause)."""
    lines = [line.strip() for line in str(error or "").splitlines() if line.strip()]
    return lines[-1][:300] if lines else ""


def _trial_columns(c: dict[str, Any]) -> dict[str, Any]:
    """The columns of ``trials.csv`` that say which trial a row is."""
    return {"name": c["name"], "world": c["world"], "method": c["method"], "seed": c["seed"],
            **{f"hp_{k}": v for k, v in c["hyperparams"].items()}}


def _collect(grid, trials: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """One row per trial of the spec, from Tune's results; a trial whose result Tune could not read
    back (no config: its actor was lost before it reported) is a row with status error."""
    from agents.callbacks import EXACT_METRICS, MINIGRID_EVAL_METRICS, POMDP_METRICS

    rows, curves = [], []
    for result in grid:
        if not result.config:
            continue
        c = result.config["trial"]
        row = {**_trial_columns(c), "status": "error" if result.error else "done", "error": _last_line(result.error)}
        metrics = result.metrics or {}
        if not result.error and metrics.get("final"):
            row.update({k: v for k, v in metrics.items() if isinstance(v, (int, float, str)) and k not in (
                "final", "done", "training_iteration", "time_this_iter_s", "time_total_s", "timestamp", "pid",
                "time_since_restore", "iterations_since_restore", "trial_id", "date", "hostname", "node_ip",
                "checkpoint_dir_name", "config", "experiment_tag")})
        rows.append(row)
        df = result.metrics_dataframe
        if df is not None and "final" in df:
            for rec in df[df["final"] == False].to_dict("records"):  # noqa: E712 (a pandas mask)
                curves.append({"name": c["name"], "world": c["world"], "method": c["method"], "seed": c["seed"],
                               **{k: rec[k] for k in dict.fromkeys(("timesteps", *EXACT_METRICS, *POMDP_METRICS,
                                                                     *MINIGRID_EVAL_METRICS)) if k in rec}})
    seen = {r["name"] for r in rows}
    for c in trials:
        if c["name"] not in seen:
            rows.append({**_trial_columns(c), "status": "error", "error": "Ray lost the trial before it reported a result"})
    rows.sort(key=lambda r: r["name"])
    curves.sort(key=lambda r: (r["name"], r["timesteps"]))
    return rows, curves


def iqm(x: np.ndarray) -> float:
    """The interquartile mean of all runs x worlds: rliable's ``aggregate_iqm`` (scipy's 25% trimmed
    mean, the same cut of ``int(n / 4)`` values at each end) without scipy's per-call overhead,
    which dominates a bootstrap of 10,000 resamples of small matrices.

    Example:
        >>> iqm(np.array([[0.0, 1.0], [2.0, 10.0]]))
        1.5
    """
    a = np.sort(np.ravel(x))
    cut = int(0.25 * a.size)
    return float(a[cut:a.size - cut].mean())


def score_distribution(x: np.ndarray, taus: np.ndarray) -> np.ndarray:
    """The share of all runs x worlds scoring above each tau: rliable's ``score_distributions``
    (a performance profile), as one array comparison instead of a vectorised loop over tau.

    Example:
        >>> score_distribution(np.array([[0.5, 1.0], [0.9, 0.2]]), np.array([0.0, 0.5, 0.95]))
        array([1.  , 0.5 , 0.25])
    """
    return (np.ravel(x)[:, None] > np.asarray(taus)[None, :]).mean(axis=0)


def probability_of_improvement(x: np.ndarray, y: np.ndarray) -> float:
    r"""P(X > Y) on a world, averaged over worlds: rliable's ``probability_of_improvement``, vectorised.

    .. math:: P(X > Y) = \frac{1}{M} \sum_m \frac{1}{N K} \sum_{n, k} [x_{nm} > y_{km}] + \tfrac12 [x_{nm} = y_{km}]

    (the Mann-Whitney U statistic over N x K pairs). rliable calls scipy once per world and bootstrap
    sample, a few seconds per hundred samples; this is the same number in one array operation.

    Arguments:
        x, y: runs x worlds score matrices of the two methods (the same worlds, any numbers of runs).

    Example:
        >>> probability_of_improvement(np.array([[1.0], [0.5]]), np.array([[0.5], [0.0]]))
        0.875
    """
    diff = x[:, None, :] - y[None, :, :]
    return float(((diff > 0) + 0.5 * (diff == 0)).mean(axis=(0, 1)).mean())


def aggregate(rows: list[dict[str, Any]], reps: int = 2_000, seed: int = 0) -> dict[str, Any]:
    """Interval estimates of the normalised score per method (Agarwal et al. 2021, with rliable).

    The score matrix of a method is runs x worlds (a run: one seed, and one hyperparameter point);
    rliable's stratified bootstrap (over runs, within each world) gives 95% percentile intervals.
    A run with a failed trial on any world is left out of its method's matrix and counted in
    ``runs_left_out``. The bootstrap is seeded, so the same rows give the same file.

    Returns:
        ``{method: entry}``, each entry with ``runs``, ``worlds``, ``runs_left_out`` and, where the
        method has a complete run, ``[point, lo, hi]`` for

        - ``iqm``, ``median``, ``mean``, ``optimality_gap``: over all runs x worlds;
        - ``per_world[world]["iqm" | "mean"]``: over that world's runs;
        - ``probability_of_improvement[other]``: P(score of this method > score of ``other``)
          on a world, averaged over worlds (Mann-Whitney);

        and ``profile``: the performance profile (score distribution), the fraction of runs x
        worlds with a score above each ``tau``, with its band ``lo``, ``hi``.
    """
    from rliable import library as rly
    from rliable import metrics as rm

    methods = list(dict.fromkeys(r["method"] for r in rows))
    worlds = list(dict.fromkeys(r["world"] for r in rows))
    scores, left_out = {}, {}
    for m in methods:
        runs: dict[tuple, dict[str, float]] = {}
        for r in rows:
            if r["method"] == m:
                key = (r["seed"], *sorted((k, str(v)) for k, v in r.items() if k.startswith("hp_")))
                runs.setdefault(key, {})[r["world"]] = float(r.get("normalised_score", math.nan)) if r["status"] == "done" else math.nan
        matrix = np.array([[run.get(w, math.nan) for w in worlds] for run in runs.values()], dtype=float)
        complete = ~np.isnan(matrix).any(axis=1)
        left_out[m] = int((~complete).sum())
        if complete.any():
            scores[m] = matrix[complete]

    def estimates(score_dict: dict[str, Any], func) -> tuple[dict, dict]:
        if not score_dict:
            return {}, {}
        import warnings

        # rliable's StratifiedBootstrap draws its indices from NumPy's global generator whatever
        # random_state says: seed that for the call and put the caller's state back afterwards
        saved = np.random.get_state()
        np.random.seed(seed)
        try:
            with warnings.catch_warnings():  # arch's notice that random_state will give way to a Generator
                warnings.simplefilter("ignore", FutureWarning)
                return rly.get_interval_estimates(score_dict, func, reps=reps, random_state=np.random.RandomState(seed))
        finally:
            np.random.set_state(saved)

    def triple(point, interval, i: int = 0) -> list[float]:
        lo, hi = np.asarray(interval).reshape(2, -1)[:, i]
        return [float(np.ravel(point)[i]), float(lo), float(hi)]

    point, interval = estimates(scores, lambda x: np.array([iqm(x), rm.aggregate_median(x),
                                                           rm.aggregate_mean(x), rm.aggregate_optimality_gap(x)]))
    per_world = {w: estimates({m: x[:, [j]] for m, x in scores.items()},
                              lambda x: np.array([iqm(x), x.mean()])) for j, w in enumerate(worlds)}
    low = min([0.0] + [float(x.min()) for x in scores.values()])
    taus = np.linspace(low, 1.0, 41)
    profile, profile_ci = estimates(scores, lambda x: score_distribution(x, taus))
    pairs = {f"{a}|{b}": [scores[a], scores[b]] for a in scores for b in scores if a != b}
    improvement, improvement_ci = estimates(pairs, probability_of_improvement)
    out = {}
    for m in methods:
        entry: dict[str, Any] = {"runs": int(len(scores[m])) if m in scores else 0, "worlds": len(worlds),
                                 "runs_left_out": left_out[m]}
        if m in scores:
            for i, name in enumerate(AGGREGATES):
                entry[name] = triple(point[m], interval[m], i)
            entry["per_world"] = {w: {"iqm": triple(p[m], ci[m], 0), "mean": triple(p[m], ci[m], 1)}
                                  for w, (p, ci) in per_world.items()}
            entry["probability_of_improvement"] = {b: triple(improvement[f"{m}|{b}"], improvement_ci[f"{m}|{b}"])
                                                   for b in scores if b != m}
            entry["profile"] = {"tau": [float(t) for t in taus], "fraction": [float(v) for v in profile[m]],
                                "lo": [float(v) for v in profile_ci[m][0]], "hi": [float(v) for v in profile_ci[m][1]]}
        out[m] = entry
    return out


def _write(out: Path, spec: SweepSpec, rows: list[dict[str, Any]], curves: list[dict[str, Any]], reps: int) -> dict[str, Any]:
    """trials.csv, curves.csv, aggregate.json, report.html; sweep.json marked complete last."""
    def write_csv(path: Path, records: list[dict[str, Any]]) -> None:
        keys = list(dict.fromkeys(k for r in records for k in r))
        with atomic_file(path) as tmp, tmp.open("w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=keys)
            w.writeheader()
            w.writerows(records)

    _clear_partials(out)
    write_csv(out / "trials.csv", rows)
    write_csv(out / "curves.csv", curves)
    agg = aggregate(rows, reps=reps)
    atomic_write_text(out / "aggregate.json", json.dumps(agg, indent=1))
    from gridlab.sweep_report import render

    atomic_write_text(out / "report.html", render(spec, rows, curves, agg))
    atomic_write_text(out / "sweep.json", json.dumps({"directory": MARKER, "spec": spec.to_dict(), "complete": True,
                                                      "trials": len(rows),
                                                      "failed": sum(r["status"] != "done" for r in rows)}, indent=1))
    return agg
