"""Benchmark: world models with memory against the forward algorithm (issue 29).

For each world of :data:`WORLDS`, 2,000 uniform-policy episodes (seed 0; a tenth held out to
choose the checkpoint by) train every registered sequence family with its default budget, each in
its own process (so its peak memory is its own: ``ru_maxrss``); each model is then scored on 200 held-out episodes (seed 1) by
``generative.sequence_scoring.score_sequence``: the exact KL rate with its interval, predictive
TV, the log-likelihood against the true one, the open-loop TV beside a perfect model's floor and
the belief probe.

Run from the repository root:
``.venv/bin/python -m benchmarks.sequence_models [--worlds tiger,tmaze,walls] [--families hmm,rssm,...] [--seed 0] [--merge]``;
writes ``benchmarks/results/sequence_models.json``.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import time

from benchmarks.results_file import write_rows

# name -> (registered POMDP id, its keyword arguments, what it is)
WORLDS = {
    "tiger": ("gridlab/Tiger-v0", {}, "Tiger (listen 0.85, discount 0.95)"),
    "tmaze": ("gridlab/TMaze-v0", {}, "T-maze, corridor 6"),
    # a small map seen through four wall sensors, each reading flipped with probability 0.1
    "walls": ("gridlab/FourRoomsWalls-v0", {"layout": "S..#\n.#..\n...G", "slip": 0.0, "sensor_noise": 0.1},
              "3x4 noisy-walls grid (sensor noise 0.1)"),
}
# 2,000 training episodes (500 until 2026-12-03): on the noisy-walls grid the recurrent summary,
# stopped at its held-out best, predicted with a KL rate of 0.077 nats per step from 500 episodes
# and 0.028 from 2,000 (one run each); a gradient step costs the same either way
TRAIN_EPISODES, TEST_EPISODES = 2000, 200


def one(world: str, family: str, seed: int) -> dict:
    """Train and score one family on one world in this process (the child's job)."""
    import resource

    import gymnasium as gym
    import torch

    import envs  # noqa: F401
    from generative.sequence_model import train_sequence_model
    from generative.sequence_scoring import score_sequence
    from generative.sequences import collect_sequences

    torch.set_num_threads(1)
    env_id, kwargs, _ = WORLDS[world]
    env = gym.make(env_id, **kwargs)
    data = collect_sequences(env, TRAIN_EPISODES, seed=seed)
    t0 = time.perf_counter()
    model = train_sequence_model(data, family, seed=seed, progress=False, device="cpu")
    train_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    result = score_sequence(model, env, n_episodes=TEST_EPISODES, seed=seed + 1)
    score_s = time.perf_counter() - t0
    return {"world": world, "family": family, "seed": seed, "train_seconds": train_s, "score_seconds": score_s,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "budget": dict(type(model.net).defaults), **result}


def main() -> None:
    from generative.registry import sequence_family_names

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--worlds", default=",".join(WORLDS))
    p.add_argument("--families", default=",".join(sequence_family_names()))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--merge", action="store_true", help="keep the file's rows of other worlds and families")
    p.add_argument("--child", nargs=3, metavar=("WORLD", "FAMILY", "SEED"), help=argparse.SUPPRESS)
    p.add_argument("--out", default="benchmarks/results/sequence_models.json")
    args = p.parse_args()
    if args.child:
        print(json.dumps(one(args.child[0], args.child[1], int(args.child[2]))))
        return
    worlds, families = args.worlds.split(","), args.families.split(",")
    for name, known in (("world", WORLDS), ("family", sequence_family_names())):
        bad = [x for x in (worlds if name == "world" else families) if x not in known]
        if bad:
            p.error(f"unknown {name} {bad[0]!r}; expected one of {', '.join(known)}")
    rows: list[dict] = []
    for world in worlds:
        for family in families:
            done = subprocess.run([sys.executable, "-m", "benchmarks.sequence_models", "--child", world, family,
                                   str(args.seed)], capture_output=True, text=True)
            if done.returncode:
                print(done.stderr[-2000:], file=sys.stderr)
                raise SystemExit(f"{world} {family} failed")
            row = json.loads(done.stdout.strip().splitlines()[-1])
            rows.append(row)  # written after each model: an interrupted run keeps what it measured
            write_rows(args.out, [row], key=lambda r: (r["world"], r["family"], r["seed"]), merge=args.merge or len(rows) > 1,
                       machine=platform.platform(), date=time.strftime("%Y-%m-%d"))
            probe = row.get("probe", {})
            print(f"{world:6s} {family:12s} KL rate {row['kl_rate']:.4f} [{row['kl_rate_ci'][0]:.4f}, "
                  f"{row['kl_rate_ci'][1]:.4f}]  TV {row['tv']:.4f}  probe {probe.get('kl', float('nan')):.3f} "
                  f"(shuffled {probe.get('kl_shuffled', float('nan')):.3f})  train {row['train_seconds']:.0f} s  "
                  f"peak {row['peak_rss_mb']:.0f} MB", flush=True)


if __name__ == "__main__":
    main()
