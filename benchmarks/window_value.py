"""Benchmark: the exact value of a frame-stacked policy on the T-maze (``agents.pomdp_eval.window_value``),
its Markov chain over (hidden state, window) solved by certified sweeps (``chain_value``, the
default) and by SuperLU's direct solve (``DIRECT_CHAIN`` raised past the chain's size): the whole
evaluation's seconds and its solve's alone.

The policy is a fixed random one: at each window a Dirichlet draw seeded by the window, so every
action has positive probability and the chain branches as a sampled PPO policy's does.

Run from the repository root:
``.venv/bin/python -m benchmarks.window_value [--windows 4 5 6] [--out benchmarks/results/window_value.json]``
"""

from __future__ import annotations

import argparse
import platform
import time

import numpy as np

from agents import pomdp_eval
from benchmarks.results_file import write_rows
from envs.pomdp_worlds import t_maze

CORRIDOR = 6


def random_window_policy(n_actions: int):
    """A batched window policy: each window's action probabilities a Dirichlet(1) draw seeded by it."""
    def policy(windows):
        return np.stack([np.random.default_rng(abs(hash(w)) % 2**32).dirichlet(np.ones(n_actions)) for w in windows])
    return policy


def row(k: int) -> dict:
    m = t_maze(CORRIDOR)
    sizes, solve_seconds = [], []
    solve = pomdp_eval.chain_value

    def recording(P, r, gamma, *args, **kwargs):  # the chain's size and the time of its solve alone
        t = time.perf_counter()
        V = solve(P, r, gamma, *args, **kwargs)
        sizes.append(len(r))
        solve_seconds.append(time.perf_counter() - t)
        return V

    pomdp_eval.chain_value = recording
    try:
        t = time.perf_counter()
        swept = pomdp_eval.window_value(m, random_window_policy(m.n_actions), k, batched=True)
        t_swept = time.perf_counter() - t
        direct_chain, pomdp_eval.DIRECT_CHAIN = pomdp_eval.DIRECT_CHAIN, 10**12
        try:
            t = time.perf_counter()
            direct = pomdp_eval.window_value(m, random_window_policy(m.n_actions), k, batched=True)
            t_direct = time.perf_counter() - t
        finally:
            pomdp_eval.DIRECT_CHAIN = direct_chain
    finally:
        pomdp_eval.chain_value = solve
    return {"world": f"t_maze({CORRIDOR})", "window": k, "pairs": sizes[0], "value_swept": swept,
            "value_direct": direct, "difference": abs(swept - direct), "seconds_swept": t_swept,
            "seconds_direct": t_direct, "solve_seconds_swept": solve_seconds[0], "solve_seconds_direct": solve_seconds[1]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--windows", type=int, nargs="+", default=[4, 5, 6])
    ap.add_argument("--out", default="benchmarks/results/window_value.json")
    args = ap.parse_args()
    rows = []
    for k in args.windows:
        rows.append(row(k))
        print(rows[-1], flush=True)
    write_rows(args.out, rows, key=lambda r: (r["world"], r["window"]), merge=False, machine=platform.platform(),
               date=time.strftime("%Y-%m-%d"))


if __name__ == "__main__":
    main()
