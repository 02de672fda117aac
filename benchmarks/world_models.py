"""Benchmark: the registered world-model families (VAE, GAN, flow, ...) with their defaults, scored exactly.

Run from the repository root: ``.venv/bin/python -m benchmarks.world_models [--families gan] [--seeds 0,1,2] [--worlds NAME,NAME] [--merge]``
Prints a family x metric table for BENCHMARKS.md and writes ``benchmarks/results/world_models.json``.
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

WORLDS = {
    "SlipperyLake (64 states) onehot": ("gridlab/SlipperyLake-v0", {"obs_mode": "onehot"}),
    "SlipperyLake (64 states) image": ("gridlab/SlipperyLake-v0", {"obs_mode": "image"}),
    "slippery 5x5 (25 states) onehot": ("gridlab/Grid-v0", {"layout": "S...H\n.....\n..H..\n.....\nH...G", "slip": 0.2,
                                                            "obs_mode": "onehot"}),
}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--samples", type=int, default=200_000)
    ap.add_argument("--families", default=",".join(family_names()), help="comma-separated registered families")
    ap.add_argument("--worlds", default=",".join(WORLDS))
    ap.add_argument("--seeds", default="0", help="comma-separated training seeds, e.g. 0,1,2")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--out", default="benchmarks/results/world_models.json")
    ap.add_argument("--merge", action="store_true", help="keep the --out file's rows for the (world, family, seed) not re-run")
    args = ap.parse_args()
    torch.set_num_threads(1)  # small MLPs: one thread is fastest on CPU
    rows = []
    for world in args.worlds.split(","):
        env_id, kw = WORLDS[world]
        env = gym.make(env_id, **kw)
        t = time.perf_counter()
        data = collect_transitions(env, args.samples, seed=0)
        collect_s = time.perf_counter() - t
        train, held = data.split(0.9)
        for family, seed in ((f, int(sd)) for f in args.families.split(",") for sd in args.seeds.split(",")):
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
