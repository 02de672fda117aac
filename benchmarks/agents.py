"""Benchmark: SB3 agents with the shipped presets, measured exactly, 5 seeds per (algo, env).

Run from the repository root: ``.venv/bin/python -m benchmarks.agents [--seeds 5] [--steps 100000] [--algos ppo,dqn] [--envs ID,ID] [--merge]``
Prints a Markdown table (median and IQM over seeds) for BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from agents import sb3
from agents.algos import ALGOS as REGISTERED
from agents.compare import compare
from benchmarks.results_file import write_rows

ENVS = ("gridlab/FourRooms-v0", "gridlab/SlipperyLake-v0")
ALGOS = tuple(REGISTERED)  # every registered algorithm
METRICS = ("relative_gap", "return_gap", "return_gap_greedy", "rmse_vs_pi", "rmse_vs_star", "policy_agreement")


def iqm(x: np.ndarray) -> float:
    """Interquartile mean: the mean of the middle 50% (Agarwal et al. 2021)."""
    x = np.sort(np.asarray(x, dtype=float))
    n = len(x)
    lo, hi = int(np.floor(n * 0.25)), int(np.ceil(n * 0.75))
    return float(x[lo:hi].mean()) if hi > lo else float(x.mean())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--steps", type=int, default=100_000)
    ap.add_argument("--algos", default=",".join(ALGOS))
    ap.add_argument("--envs", default=",".join(ENVS))
    ap.add_argument("--out", default="benchmarks/results/agents.json")
    ap.add_argument("--merge", action="store_true", help="keep the --out file's rows for the (env, algo) pairs not re-run")
    args = ap.parse_args()
    torch.set_num_threads(1)
    rows = []
    for env_id in args.envs.split(","):
        for algo in args.algos.split(","):
            for seed in range(args.seeds):
                t0 = time.perf_counter()
                with tempfile.TemporaryDirectory() as d:
                    model = sb3.train(env_id, algo, total_timesteps=args.steps, seed=seed, out_dir=Path(d) / "run",
                                      progress_bar=False, device="cpu", eval_freq=args.steps // 4)
                    c = compare(model, model.get_env())
                row = {"env_id": env_id, "algo": algo, "seed": seed, "steps": args.steps,
                       "seconds": time.perf_counter() - t0, **c.metrics()}
                rows.append(row)
                print(json.dumps(row), flush=True)
    rows = write_rows(args.out, rows, key=lambda r: (r["env_id"], r["algo"]), merge=args.merge,
                      machine=platform.platform(), cpus=torch.get_num_threads())
    print(table(rows))


def table(rows: list[dict]) -> str:
    out = ["| env | algo | seeds with gap <= 5% | rel. gap median / IQM | greedy gap / V*(s0) median | "
           "rmse vs V^pi median / IQM | rmse vs V* median / IQM | policy agreement median | steps | wall s (median) |",
           "|---|---|---|---|---|---|---|---|---|---|"]
    keys = sorted({(r["env_id"], r["algo"]) for r in rows}, key=lambda k: (k[0], ALGOS.index(k[1])))
    for env_id, algo in keys:
        rs = [r for r in rows if r["env_id"] == env_id and r["algo"] == algo]
        col = lambda k: np.array([r[k] for r in rs])  # noqa: E731
        ok = int(np.sum(col("relative_gap") <= 0.05))
        greedy = col("return_gap_greedy") / col("V_star_s0")
        out.append(
            f"| {env_id} | {algo} | {ok}/{len(rs)} | {np.median(col('relative_gap')):.3f} / {iqm(col('relative_gap')):.3f} | "
            f"{np.median(greedy):.3f} | {np.median(col('rmse_vs_pi')):.3f} / {iqm(col('rmse_vs_pi')):.3f} | "
            f"{np.median(col('rmse_vs_star')):.3f} / {iqm(col('rmse_vs_star')):.3f} | "
            f"{np.median(col('policy_agreement')):.2f} | {rs[0]['steps']} | {np.median(col('seconds')):.0f} |")
    return "\n".join(out)


if __name__ == "__main__":
    main()
