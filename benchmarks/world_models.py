"""Benchmark: the registered world-model families (VAE, GAN, flow, ...) with their defaults, scored exactly.

Two ways, from the repository root:

- ``.venv/bin/python -m benchmarks.world_models --sweep [--families vae,gan,flow] [--seeds 0-2] [--sweep-worlds ID,ID] [--resume]``:
  one Ray Tune sweep (``gridlab.sweep``) over registered worlds x families x seeds into
  ``runs/bench-world-models``; prints per world and family the IQM of ``1 - TV`` with its 95%
  interval and the medians of TV, recall and hallucinated mass; writes
  ``benchmarks/results/world_models_sweep.json``.
- ``.venv/bin/python -m benchmarks.world_models [--families gan] [--seeds 0,1,2] [--worlds NAME,NAME] [--merge]``:
  in this process, on the maps of :data:`WORLDS` (custom layouts and image observations, which a
  sweep does not take), with sampling speed; writes ``benchmarks/results/world_models.json``.
"""

from __future__ import annotations

import argparse
import json
import platform
import time

import gymnasium as gym
import torch

import envs  # noqa: F401
from benchmarks.results_file import write_rows
from generative import collect_transitions, score, train_world_model
from generative.registry import family_names
from generative.scoring import SCORE_KEYS as KEYS
from gridlab.sweep import parse_seeds

WORLDS = {
    "SlipperyLake (64 states) onehot": ("gridlab/SlipperyLake-v0", {"obs_mode": "onehot"}),
    "SlipperyLake (64 states) image": ("gridlab/SlipperyLake-v0", {"obs_mode": "image"}),
    "SlipperyLake (64 states) pixels": ("gridlab/SlipperyLake-v0", {"obs_mode": "pixels"}),
    # issue 13's nuisance level: per-pixel noise of 5% of the range and a strip of 4 flickering cells
    "SlipperyLake (64 states) pixels + noise 0.05 + 4 distractors": ("gridlab/SlipperyLake-v0", {
        "obs_mode": "pixels", "pixel_noise": 0.05, "distractors": 4}),
    "slippery 5x5 (25 states) onehot": ("gridlab/Grid-v0", {"layout": "S...H\n.....\n..H..\n.....\nH...G", "slip": 0.2,
                                                            "obs_mode": "onehot"}),
}


def sweep(args: argparse.Namespace) -> None:
    """The families as one sweep; a table with interval estimates."""
    import csv
    from pathlib import Path

    import numpy as np

    from gridlab.sweep import SweepSpec, run_sweep

    spec = SweepSpec("world", worlds=tuple(args.sweep_worlds.split(",")), methods=tuple(args.families.split(",")),
                     seeds=parse_seeds(args.seeds), samples=args.samples)
    t = time.perf_counter()
    agg = run_sweep(None if args.resume else spec, args.sweep_out, resume=args.resume)
    wall = time.perf_counter() - t
    with (Path(args.sweep_out) / "trials.csv").open() as f:
        rows = list(csv.DictReader(f))
    write_rows("benchmarks/results/world_models_sweep.json", rows, key=lambda r: r["name"], machine=platform.platform(),
               aggregate=agg, sweep_wall_seconds=wall)
    print(f"sweep: {len(rows)} trials in {wall:.0f} s")
    out = ["| world | family | runs | 1 - TV: IQM [95% CI] | TV median (max) | noise floor TV | mode recall median | "
           "hallucinated median | rollout TV k=20 median | train s median |", "|---|---|---|---|---|---|---|---|---|---|"]
    for world in dict.fromkeys(r["world"] for r in rows):
        for family in dict.fromkeys(r["method"] for r in rows):
            rs = [r for r in rows if r["world"] == world and r["method"] == family and r["status"] == "done"]
            if not rs:
                continue
            col = lambda k: np.array([float(r[k]) for r in rs])  # noqa: E731
            point, lo, hi = agg[family]["per_world"][world]["iqm"]
            out.append(f"| {world} | {family} | {len(rs)} | {point:.3f} [{lo:.3f}, {hi:.3f}] | {np.median(col('tv')):.3f} "
                       f"({col('tv').max():.3f}) | {np.median(col('noise_floor_tv')):.3f} | {np.median(col('mode_recall')):.3f} | "
                       f"{np.median(col('hallucinated_mass')):.4f} | {np.median(col('rollout_tv_last')):.3f} | "
                       f"{np.median(col('train_seconds')):.0f} |")
    print("\n".join(out))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sweep", action="store_true", help="run as one Ray Tune sweep over registered worlds")
    ap.add_argument("--sweep-worlds", default="gridlab/SlipperyLake-v0,gridlab/FourRooms-v0")
    ap.add_argument("--sweep-out", default="runs/bench-world-models")
    ap.add_argument("--resume", action="store_true", help="--sweep: finish (or re-aggregate) the sweep in --sweep-out")
    ap.add_argument("--samples", type=int, default=200_000)
    ap.add_argument("--families", default=",".join(family_names()), help="comma-separated registered families")
    ap.add_argument("--worlds", default=",".join(WORLDS))
    ap.add_argument("--seeds", default="0", help="training seeds, e.g. 0,1,2 (or 0-2)")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--out", default="benchmarks/results/world_models.json")
    ap.add_argument("--merge", action="store_true", help="keep the --out file's rows for the (world, family, seed) not re-run")
    args = ap.parse_args()
    torch.set_num_threads(1)  # small MLPs: one thread is fastest on CPU
    if args.sweep:
        return sweep(args)
    rows = []
    for world in args.worlds.split(","):
        env_id, kw = WORLDS[world]
        env = gym.make(env_id, **kw)
        t = time.perf_counter()
        data = collect_transitions(env, args.samples, seed=0)
        collect_s = time.perf_counter() - t
        train, held = data.split(0.9)
        for family, seed in ((f, int(sd)) for f in args.families.split(",") for sd in parse_seeds(args.seeds)):
            model = train_world_model(train, family, seed=seed, device=args.device, progress=False)
            r = score(model, n_samples=1000, horizon=20, n_rollouts=2000, held_out=held)
            obs, act = held.obs[:100_000].numpy(), held.action[:100_000].numpy()
            t = time.perf_counter()
            model.sample_next(obs, act)
            rate = len(obs) / (time.perf_counter() - t)
            row = {"world": world, "family": family, "seed": seed, "device": str(model.device), "train_s": model.train_seconds,
                   "samples_per_s": rate, "collect_per_s": args.samples / collect_s,
                   **{k: r[k] for k in KEYS}, "rollout_tv": r["rollout_tv"],
                   "nll": r.get("nll"), "entropy": r.get("true_conditional_entropy")}
            rows.append(row)
            print(json.dumps({k: v for k, v in row.items() if k != "rollout_tv"}), flush=True)
    rows = write_rows(args.out, rows, key=lambda r: (r["world"], r["family"], r.get("seed", 0)), merge=args.merge,
                      machine=platform.platform(), torch_threads=torch.get_num_threads(), samples=args.samples)
    print(table(rows))


def table(rows) -> str:
    out = ["| world | family | seed | TV | KL(P‖Q) | KL(Q‖P) | JSD | mode recall | hallucinated | rollout TV k=20 (max over k) | "
           "held-out NLL / true entropy | train s | samples/s |", "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    worlds, families = list(WORLDS), family_names()
    for r in sorted(rows, key=lambda r: (worlds.index(r["world"]), families.index(r["family"]), r.get("seed", 0))):
        nll = f"{r['nll']:.3f} / {r['entropy']:.3f}" if r["nll"] is not None else "-"
        out.append(f"| {r['world']} | {r['family']} | {r.get('seed', 0)} | {r['tv']:.3f} | {r['forward_kl']:.3f} | {r['reverse_kl']:.3f} | "
                   f"{r['jsd']:.4f} | {r['mode_recall']:.3f} | {r['hallucinated_mass']:.4f} | "
                   f"{r['rollout_tv'][-1]:.3f} ({max(r['rollout_tv']):.3f}) | {nll} | {r['train_s']:.0f} | {r['samples_per_s']:,.0f} |")
    return "\n".join(out)


if __name__ == "__main__":
    main()
