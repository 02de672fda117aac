"""Benchmark: a sweep on Ray against the same trials run one after another in one process.

Run from the repository root: ``.venv/bin/python -m benchmarks.sweeps [--trials 8] [--steps 50000]``
Measures the wall time of ``gridlab.sweep.run_sweep`` (Ray start-up included, one CPU per trial)
and of the same PPO trials trained one after another here with ``agents.sb3.train``, and checks
that every trial's exact numbers are the same both ways (CPU, fixed seeds).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import gymnasium as gym
import torch

from agents import sb3
from agents.compare import compare
from benchmarks.results_file import write_rows
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
    run_sweep(spec, root / "sweep", progress=True, reps=1000)
    sweep_s = time.perf_counter() - t
    with (root / "sweep" / "trials.csv").open() as f:
        swept = {int(r["seed"]): float(r["normalised_score"]) for r in csv.DictReader(f)}
    t = time.perf_counter()
    direct = {}
    for seed in range(args.trials):
        model = sb3.train(WORLD, "ppo", total_timesteps=args.steps, seed=seed, out_dir=root / f"direct_{seed}",
                          progress_bar=False, device="cpu", eval_freq=args.steps // 5)
        direct[seed] = compare(model, gym.make(WORLD)).normalised_score
    serial_s = time.perf_counter() - t
    same = all(abs(swept[s] - direct[s]) <= 1e-9 for s in direct)
    row = {"trials": args.trials, "steps": args.steps, "sweep_s": sweep_s, "serial_s": serial_s,
           "ratio": sweep_s / serial_s, "identical": same, "cpus": os.cpu_count()}
    write_rows(args.out, [row], key=lambda r: (r["trials"], r["steps"]), machine=platform.platform())
    print(json.dumps(row))


if __name__ == "__main__":
    main()
