"""Benchmark: a sweep on Ray against the same trials run one after another in one process; a sweep
whose driver is killed, then resumed; the same sweep on a two-node loopback cluster.

Run from the repository root: ``.venv/bin/python -m benchmarks.sweeps [--trials 8] [--steps 50000]``
Measures the wall time of ``gridlab.sweep.run_sweep`` (Ray start-up included, one CPU per trial)
and of the same PPO trials trained one after another here with ``agents.sb3.train``; then kills a
sweep's driver (SIGKILL) once half its trials have finished and times ``--resume``; then runs the
sweep on ``gridlab.cluster.loopback_cluster`` (two nodes, one CPU each). Every trial's exact numbers
must be the same every way (CPU, fixed seeds).

It also measures the floor under the ratio on this machine (:func:`floor`): how much slower two
trainings run side by side than one alone (two vCPUs are not two idle cores), and Ray's own fixed
cost with no Tune at all (``ray.init``, two workers importing what a trial imports, ``ray.shutdown``).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import gymnasium as gym
import torch

from agents import sb3
from agents.compare import compare
from benchmarks.results_file import write_rows
from gridlab.cluster import LOOPBACK_ENV
from gridlab.sweep import SweepSpec, run_sweep

WORLD = "gridlab/FourRooms-v0"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--trials", type=int, default=8, help="PPO seeds 0..trials-1 on FourRooms")
    ap.add_argument("--steps", type=int, default=50_000)
    ap.add_argument("--out", default="benchmarks/results/sweeps.json")
    args = ap.parse_args()
    torch.set_num_threads(1)
    root = Path(tempfile.mkdtemp())
    spec = SweepSpec("agents", worlds=(WORLD,), methods=("ppo",), seeds=tuple(range(args.trials)), steps=args.steps, evals=5)
    t = time.perf_counter()
    run_sweep(spec, root / "sweep", progress=True)
    sweep_s = time.perf_counter() - t
    swept = _scores(root / "sweep")
    t = time.perf_counter()
    direct = {}
    for seed in range(args.trials):
        model = sb3.train(WORLD, "ppo", total_timesteps=args.steps, seed=seed, out_dir=root / f"direct_{seed}",
                          progress_bar=False, device="cpu", eval_freq=args.steps // 5)
        direct[seed] = compare(model, gym.make(WORLD)).normalised_score
    serial_s = time.perf_counter() - t
    same = all(abs(swept[s] - direct[s]) <= 1e-9 for s in direct)
    row = {"trials": args.trials, "steps": args.steps, "sweep_s": sweep_s, "serial_s": serial_s,
           "ratio": sweep_s / serial_s, "identical": same, "cpus": os.cpu_count(),
           **floor(args.steps, serial_s), **resumed(spec, root / "resumed", direct), **multinode(spec, root / "multinode", direct)}
    write_rows(args.out, [row], key=lambda r: (r["trials"], r["steps"]), machine=platform.platform())
    print(json.dumps(row))


def _scores(out: Path) -> dict[int, float]:
    with (out / "trials.csv").open() as f:
        return {int(r["seed"]): float(r["normalised_score"]) for r in csv.DictReader(f) if r["status"] == "done"}


_TRAIN = ("import sys, tempfile, time, torch\n"
          "torch.set_num_threads(1)\n"
          "from agents import sb3\n"
          "t = time.perf_counter()\n"
          "sb3.train({world!r}, 'ppo', total_timesteps={steps}, seed={seed}, out_dir=tempfile.mkdtemp() + '/r',"
          " progress_bar=False, device='cpu', eval_freq={steps} // 5)\n"
          "print(time.perf_counter() - t)\n")

_RAY_FLOOR = ("import time\n"
              "t = time.perf_counter()\n"
              "import ray\n"
              "ray.init(include_dashboard=False, log_to_driver=False, configure_logging=False)\n"
              "@ray.remote(num_cpus=1)\n"
              "class Worker:\n"
              "    def ready(self):\n"
              "        import torch\n"
              "        torch.set_num_threads(1)\n"
              "        import ray.tune, agents.sb3, agents.compare  # what a trial imports\n"
              "workers = [Worker.remote() for _ in range(2)]\n"
              "ray.get([w.ready.remote() for w in workers])\n"
              "ray.shutdown()\n"
              "print(time.perf_counter() - t)\n")


def floor(steps: int, serial_s: float) -> dict:
    """The least ratio this machine allows: ``pair / (2 alone) + ray / serial``.

    ``alone``: one PPO training (seed 0, the benchmark's steps) in its own process; ``pair``: two
    at once (seeds 0 and 1), the slower one's training time; ``ray``: a fresh process's ``import
    ray``, ``ray.init``, two one-CPU actors importing torch, Ray Tune, SB3 and ``agents.compare``,
    and ``ray.shutdown``. A sweep of 2 workers can at best run the serial work at the pair's pace
    and pay Ray's fixed cost once; Tune, the report and an uneven last round come on top.
    """
    def python(code: str) -> subprocess.Popen:
        return subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)

    def seconds(p: subprocess.Popen) -> float:
        out, _ = p.communicate()
        if p.returncode:
            raise RuntimeError(f"floor measurement failed (exit {p.returncode})")
        return float(out.strip().splitlines()[-1])

    alone = seconds(python(_TRAIN.format(world=WORLD, steps=steps, seed=0)))
    pair = max(map(seconds, [python(_TRAIN.format(world=WORLD, steps=steps, seed=s)) for s in (0, 1)]))
    ray_s = seconds(python(_RAY_FLOOR))
    return {"floor_alone_train_s": alone, "floor_pair_train_s": pair, "floor_ray_fixed_s": ray_s,
            "floor_ratio": pair / (2 * alone) + ray_s / serial_s}


def resumed(spec: SweepSpec, out: Path, direct: dict[int, float]) -> dict:
    """Kill the driver (SIGKILL) once half the trials have finished; time the resume."""
    import ray

    ray.init(include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:
        script = ("from gridlab.sweep import SweepSpec, run_sweep\n"
                  f"run_sweep(SweepSpec.from_dict({spec.to_dict()!r}), {str(out)!r}, progress=False)\n")
        env = {**os.environ, "RAY_ADDRESS": ray.get_runtime_context().gcs_address}
        driver = subprocess.Popen([sys.executable, "-c", script], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        half = len(spec.seeds) // 2
        while len(list(out.glob("trials/[!.]*/model.zip"))) < half and driver.poll() is None:
            time.sleep(0.2)
        driver.send_signal(signal.SIGKILL)
        driver.wait()
        finished = {p.parent.name: p.stat().st_mtime_ns for p in out.glob("trials/[!.]*/model.zip")}
        t = time.perf_counter()
        run_sweep(None, out, resume=True, progress=True)
        resume_s = time.perf_counter() - t
    finally:
        ray.shutdown()
    untouched = all((out / "trials" / n / "model.zip").stat().st_mtime_ns == m for n, m in finished.items())
    scores = _scores(out)
    return {"resume_finished_before_kill": len(finished), "resume_s": resume_s, "resume_reran_no_finished_trial": untouched,
            "resume_identical": all(s in scores and abs(scores[s] - direct[s]) <= 1e-9 for s in direct)}


def multinode(spec: SweepSpec, out: Path, direct: dict[int, float]) -> dict:
    """The same sweep on a head and a worker node, separate processes on loopback, one CPU each.

    Run from a fresh driver process: this one has already joined a Ray instance with the
    machine's authentication mode, and a loopback cluster runs without it (``LOOPBACK_ENV``)."""
    script = ("import json, time\n"
              "from gridlab.cluster import loopback_cluster\n"
              "from gridlab.sweep import SweepSpec, run_sweep\n"
              "with loopback_cluster(nodes=2, cpus_per_node=1) as address:\n"
              "    t = time.perf_counter()\n"
              f"    run_sweep(SweepSpec.from_dict({spec.to_dict()!r}), {str(out)!r}, address=address, progress=True)\n"
              "    print(json.dumps({'wall': time.perf_counter() - t}))\n")
    done = subprocess.run([sys.executable, "-c", script], env={**os.environ, **LOOPBACK_ENV}, capture_output=True,
                          text=True, check=True)
    wall = json.loads(done.stdout.strip().splitlines()[-1])["wall"]
    with (out / "trials.csv").open() as f:
        trials = list(csv.DictReader(f))
    scores = _scores(out)
    return {"multinode_s": wall, "multinode_nodes_used": len({r["node"] for r in trials}),
            "multinode_trials_done": sum(r["status"] == "done" for r in trials),
            "multinode_identical": all(s in scores and abs(scores[s] - direct[s]) <= 1e-9 for s in direct)}


if __name__ == "__main__":
    main()
