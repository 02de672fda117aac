"""Benchmark: env stepping. GridWorldEnv vs FrozenLake-v1 (both through gym.make), and the native
vector env vs Gymnasium's sync and async vector envs at 256 copies.

Run from the repository root: ``.venv/bin/python -m benchmarks.envs [--out benchmarks/results/envs.json]``
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import gymnasium as gym
import numpy as np

import envs  # noqa: F401  (registers the suite)
from envs.layouts import SLIPPERY_LAKE


def single_steps_per_second(env: gym.Env, n: int = 100_000) -> float:
    env.reset(seed=0)
    actions = np.random.default_rng(0).integers(0, 4, n).tolist()
    t = time.perf_counter()
    for a in actions:
        _, _, term, trunc, _ = env.step(a)
        if term or trunc:
            env.reset()
    return n / (time.perf_counter() - t)


def vector_steps_per_second(venv, n_steps: int) -> float:
    venv.reset(seed=0)
    actions = np.random.default_rng(0).integers(0, 4, (n_steps, venv.num_envs))
    t = time.perf_counter()
    for a in actions:
        venv.step(a)
    return n_steps * venv.num_envs / (time.perf_counter() - t)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--num-envs", type=int, default=256)
    ap.add_argument("--out", default="benchmarks/results/envs.json")
    args = ap.parse_args()
    res: dict = {"machine": platform.platform()}
    # the same 8x8 slippery map on both sides; FrozenLake's slip is 2/3 (1/3 ahead, 1/3 each side)
    ours = single_steps_per_second(gym.make("gridlab/Grid-v0", layout=SLIPPERY_LAKE, slip=2 / 3, max_episode_steps=100))
    frozen = single_steps_per_second(gym.make("FrozenLake-v1", map_name="8x8", is_slippery=True, max_episode_steps=100))
    res["single"] = {"GridWorldEnv": ours, "FrozenLake-v1": frozen, "ratio": ours / frozen}
    print(f"single env steps/s: GridWorldEnv {ours:,.0f}  FrozenLake-v1 {frozen:,.0f}  ratio {ours / frozen:.2f}", flush=True)
    n = args.num_envs
    for env_id in ("gridlab/FourRooms-v0", "gridlab/SlipperyLake-v0"):
        native = vector_steps_per_second(gym.make_vec(env_id, num_envs=n, vectorization_mode="vector_entry_point"), 2000)
        sync = vector_steps_per_second(gym.make_vec(env_id, num_envs=n, vectorization_mode="sync"), 100)
        asyn_env = gym.make_vec(env_id, num_envs=n, vectorization_mode="async")
        asyn = vector_steps_per_second(asyn_env, 50)
        asyn_env.close()
        res[env_id] = {"num_envs": n, "native": native, "sync": sync, "async": asyn,
                       "native_vs_sync": native / sync, "native_vs_async": native / asyn}
        print(f"{env_id} x{n}: native {native:,.0f}/s  sync {sync:,.0f}/s  async {asyn:,.0f}/s  "
              f"native/sync {native / sync:.1f}x  native/async {native / asyn:.1f}x", flush=True)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
