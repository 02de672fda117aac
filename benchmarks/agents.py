"""Benchmark: SB3 agents with the shipped presets on every registered world, judged exactly, as one sweep.

Run from the repository root:
``.venv/bin/python -m benchmarks.agents [--seeds 0-4] [--steps 100000] [--algos ppo,a2c,dqn,qrdqn] [--worlds ID,ID] [--out DIR] [--resume]``

Runs ``gridlab.sweep.run_sweep`` (one Ray Tune trial per world x algorithm x seed) into ``DIR``
(default ``runs/bench-agents``; ``--resume`` finishes an interrupted one, or re-aggregates a
finished one; ``--tables DIR,DIR`` prints the tables of finished sweeps taken together), copies
its rows and aggregate into ``benchmarks/results/agents.json`` and prints Markdown tables for BENCHMARKS.md: per world and algorithm, the exact normalised score's IQM with
its 95% stratified-bootstrap interval, and the relative return gap; per algorithm over all worlds,
IQM / median / mean / optimality gap with intervals.
"""

from __future__ import annotations

import argparse
import csv
import platform
import time
from pathlib import Path

import numpy as np
import torch

from agents.algos import ALGOS
from benchmarks.results_file import write_rows
from envs import ready_made_ids
from gridlab.sweep import SweepSpec, parse_seeds, run_sweep


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", default="0-4")
    ap.add_argument("--steps", type=int, default=100_000)
    ap.add_argument("--algos", default=",".join(ALGOS))
    ap.add_argument("--worlds", default=",".join(ready_made_ids()))
    ap.add_argument("--out", default="runs/bench-agents", help="the sweep directory")
    ap.add_argument("--resume", action="store_true")
    ap.add_argument("--results", default="benchmarks/results/agents.json")
    ap.add_argument("--tables", help="only print the tables of these finished sweep directories (comma-separated), "
                    "their trials aggregated together; for a sweep re-run in part, e.g. one algorithm after its presets changed")
    args = ap.parse_args()
    if args.tables:
        return print_tables(args.tables.split(","), args.results)
    torch.set_num_threads(1)
    spec = SweepSpec("agents", worlds=tuple(args.worlds.split(",")), methods=tuple(args.algos.split(",")),
                     seeds=parse_seeds(args.seeds), steps=args.steps, evals=4)
    t = time.perf_counter()
    agg = run_sweep(None if args.resume else spec, args.out, resume=args.resume)
    wall = time.perf_counter() - t
    with (Path(args.out) / "trials.csv").open() as f:
        rows = list(csv.DictReader(f))
    write_rows(args.results, rows, key=lambda r: r["name"], machine=platform.platform(), aggregate=agg,
               sweep_wall_seconds=wall)
    print(f"sweep: {len(rows)} trials in {wall:.0f} s")
    print(world_table(rows, agg))
    print()
    print(overall_table(agg))


def print_tables(dirs: list[str], results: str) -> None:
    """Tables of finished sweeps' trials together; a (world, algorithm, seed) in several takes the last one's."""
    from gridlab.sweep import aggregate

    rows: dict[tuple, dict] = {}
    for d in dirs:
        with (Path(d) / "trials.csv").open() as f:
            for r in csv.DictReader(f):
                if r["status"] == "done":
                    r["normalised_score"] = float(r["normalised_score"])
                rows[(r["world"], r["method"], r["seed"])] = {**r, "source": d}
    rows_list = list(rows.values())
    agg = aggregate(rows_list)
    write_rows(results, rows_list, key=lambda r: (r["world"], r["method"], r["seed"]), machine=platform.platform(),
               aggregate=agg, sweeps=dirs)
    print(world_table(rows_list, agg))
    print()
    print(overall_table(agg))


def _ci(x: list[float]) -> str:
    point, lo, hi = x
    return f"{point:.3f} [{lo:.3f}, {hi:.3f}]"


def world_table(rows: list[dict], agg: dict) -> str:
    """Per world and algorithm: normalised-score IQM [95% CI], its min over seeds, the relative gap."""
    out = ["| world | algo | runs | normalised score IQM [95% CI] | min over seeds | rel. gap median | "
           "policy agreement median | train s (median) |", "|---|---|---|---|---|---|---|---|"]
    for world in dict.fromkeys(r["world"] for r in rows):
        for algo in dict.fromkeys(r["method"] for r in rows):
            rs = [r for r in rows if r["world"] == world and r["method"] == algo and r["status"] == "done"]
            if not rs:
                continue
            col = lambda k: np.array([float(r[k]) for r in rs])  # noqa: E731
            out.append(f"| {world} | {algo} | {len(rs)} | {_ci(agg[algo]['per_world'][world]['iqm'])} | "
                       f"{col('normalised_score').min():.3f} | {np.median(col('relative_gap')):.3f} | "
                       f"{np.median(col('policy_agreement')):.2f} | {np.median(col('train_seconds')):.0f} |")
    return "\n".join(out)


def overall_table(agg: dict) -> str:
    out = ["| algo | runs x worlds | IQM | median | mean | optimality gap |", "|---|---|---|---|---|---|"]
    for algo, a in agg.items():
        if "iqm" in a:
            out.append(f"| {algo} | {a['runs']} x {a['worlds']} | {_ci(a['iqm'])} | {_ci(a['median'])} | "
                       f"{_ci(a['mean'])} | {_ci(a['optimality_gap'])} |")
    return "\n".join(out)


if __name__ == "__main__":
    main()
