"""Benchmark: Farama MiniGrid worlds modelled exactly (`envs.minigrid`).

- The optimal return under MiniGrid's own objective, E[V*(s0, 0)]: exact over the reset
  distribution where `reset_distribution` can enumerate it, else the mean over seeds 0-99 (each
  seed's layout solved exactly), beside the RL Zoo's published PPO scores.
- Each (id, seed 0) model replayed against the real env by `verify_minigrid`, and
  Dynamic-Obstacles' ball kernel checked against the env's sampled steps (`check_kernel`), with the
  optimal policy's Monte Carlo return.
- Speed: enumeration in transitions per second; DoorKey-16x16's model plus its exact optimal
  values, with the process's peak memory (a child process, so nothing else counts).

- Dynamic-Obstacles-6x6 (131,040 states): model, values by backward induction, its kernel checked and
  its optimal policy played in the env. Dynamic-Obstacles' step is derived (`envs.dynamic_obstacles`);
  the replay part also times the 5x5 model with `step` run once per path, and compares the two.

Run from the repository root: ``.venv/bin/python -m benchmarks.minigrid [--out benchmarks/results/minigrid.json]
[--parts optimal_returns replay large] [--large ID ...]``
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import time

import numpy as np

from benchmarks.results_file import python_reference_ms, write_rows

# the RL Zoo's benchmark table (rl-baselines3-zoo benchmark.md, PPO): mean episode return
ZOO_PPO = {"MiniGrid-DoorKey-5x5-v0": 0.964, "MiniGrid-Empty-Random-5x5-v0": 0.968, "MiniGrid-FourRooms-v0": 0.573,
           "MiniGrid-KeyCorridorS3R1-v0": 0.949, "MiniGrid-Unlock-v0": 0.963}
TABLE = ["MiniGrid-Empty-Random-5x5-v0", "MiniGrid-DoorKey-5x5-v0", "MiniGrid-Unlock-v0", "MiniGrid-KeyCorridorS3R1-v0",
         "MiniGrid-LavaCrossingS9N1-v0", "MiniGrid-FourRooms-v0", "MiniGrid-Dynamic-Obstacles-5x5-v0"]
SEEDS = range(100)

CHILD = """
import contextlib, json, resource, sys, time
import numpy as np
from envs.minigrid import check_kernel, exact_model, verify_minigrid
t = time.perf_counter()
with contextlib.redirect_stdout(sys.stderr):  # progress shows while it runs; stdout is the row
    m = exact_model(sys.argv[1], seed=0, progress=True)
t1 = time.perf_counter()
v = m.V_star(m.start, 0)
row = {"states": m.n_states, "transitions": m.n_transitions, "enumerate_seconds": t1 - t,
       "values_seconds": time.perf_counter() - t1, "V_star_s0": v, "deterministic": m.deterministic}
if not m.deterministic:  # the ball kernel against the env's sampled steps, and the optimal policy played in the env
    row["kernel_ks_pvalue"] = check_kernel(m, steps=20000, seed=0).ks_pvalue
    optimal = np.asarray(verify_minigrid(m, episodes=1000, seed=0, policies=("optimal",))["episodes"]["optimal"])
    row.update(optimal_mean=float(optimal.mean()), optimal_se=float(optimal.std(ddof=1) / np.sqrt(optimal.size)),
               episodes=int(optimal.size))
row["peak_rss_gb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6
print(json.dumps(row))
"""
LARGE = ["MiniGrid-DoorKey-16x16-v0", "MiniGrid-Dynamic-Obstacles-6x6-v0"]
PARTS = ("optimal_returns", "replay", "large")


def optimal_returns() -> list[dict]:
    from envs.minigrid import expected_optimal_return
    from envs.minigrid_draws import NotEnumerable

    rows = []
    for env_id in TABLE:
        t = time.perf_counter()
        try:
            res = expected_optimal_return(env_id, max_layouts=2000)
        except NotEnumerable as e:
            why = str(e)
            res = expected_optimal_return(env_id, seeds=SEEDS)
            res["not_enumerable"] = why
        res.update(env_id=env_id, zoo_ppo=ZOO_PPO.get(env_id), seconds=time.perf_counter() - t)
        rows.append(res)
        print(f"{env_id}: E[V*(s0)] = {res['value']:.4f} over {res['over']} ({res['layouts']} layouts"
              f"{'' if res['over'] != 'seeds' else ', seeds 0-99: ' + res['not_enumerable']}); zoo PPO "
              f"{res['zoo_ppo']}; {res['seconds']:.1f} s", flush=True)
    return rows


def replays() -> list[dict]:
    from envs.minigrid import check_kernel, exact_model, verify_minigrid

    rows = []
    for env_id in TABLE + ["MiniGrid-DoorKey-8x8-v0"]:
        m = exact_model(env_id, seed=0)
        stochastic = not m.deterministic
        report = verify_minigrid(m, episodes=2000 if stochastic else 3, seed=0,
                                 policies=("uniform", "optimal", "worst"))
        optimal = np.asarray(report["episodes"]["optimal"])
        row = {"env_id": env_id, "seed": 0, "states": m.n_states, "transitions": m.n_transitions,
               "enumerate_seconds": m.enumeration_seconds,
               "transitions_per_second": m.n_transitions / m.enumeration_seconds, "V_star_s0": m.V_star(m.start, 0),
               "replayed_steps": report["steps"], "optimal_mean": float(optimal.mean()),
               "optimal_se": float(optimal.std(ddof=1) / np.sqrt(optimal.size)), "episodes": int(optimal.size),
               "layout_digest": m.layout_digest}
        if stochastic:
            row["kernel_ks_pvalue"] = check_kernel(m, steps=20000, seed=0).ks_pvalue
            stepped = exact_model(env_id, seed=0, derived_step=False)  # step run once per path: the reference
            row["enumerate_seconds_step"] = stepped.enumeration_seconds
            row["derived_equals_step"] = bool(np.array_equal(stepped.prob, m.prob)
                                              and np.array_equal(stepped.next_state, m.next_state))
        rows.append(row)
        print(f"{env_id} seed 0: {m.n_states:,} states, {m.n_transitions:,} transitions in "
              f"{m.enumeration_seconds:.2f} s ({row['transitions_per_second']:,.0f}/s); V*(s0) {row['V_star_s0']:.4f}; "
              f"the optimal policy in the env {row['optimal_mean']:.4f} +- {row['optimal_se']:.4f} "
              f"({row['episodes']} episodes); {report['steps']} steps replayed"
              + (f"; ball kernel KS p = {row['kernel_ks_pvalue']:.3g}; with step run once per path "
                 f"{row['enumerate_seconds_step']:.2f} s, equal to the last bit: {row['derived_equals_step']}"
                 if stochastic else ""), flush=True)
    return rows


def large(env_id: str) -> dict:
    """One instance's model plus its exact optimal values (the closed form when deterministic, backward
    induction over (state, t) otherwise), in a child process so the peak memory is its own."""
    out = subprocess.run([sys.executable, "-c", CHILD, env_id], stdout=subprocess.PIPE, text=True, check=True)
    row = {"env_id": env_id, "what": "model + exact optimal values", **json.loads(out.stdout.strip().splitlines()[-1])}
    print(f"{env_id}: {row['states']:,} states, {row['transitions']:,} transitions, enumerated in "
          f"{row['enumerate_seconds']:.1f} s ({row['transitions'] / row['enumerate_seconds']:,.0f}/s), "
          f"{'closed-form' if row['deterministic'] else 'backward-induction'} values in {row['values_seconds']:.2f} s, "
          f"V*(s0, 0) {row['V_star_s0']:.4f}, peak memory {row['peak_rss_gb']:.2f} GB"
          + ("" if row["deterministic"] else f"; ball kernel KS p = {row['kernel_ks_pvalue']:.3g}; the optimal policy "
             f"in the env {row['optimal_mean']:.4f} +- {row['optimal_se']:.4f} ({row['episodes']} episodes)"), flush=True)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", default="benchmarks/results/minigrid.json")
    parser.add_argument("--parts", nargs="+", choices=PARTS, default=list(PARTS),
                        help="what to run; the rows of the others already in --out are kept")
    parser.add_argument("--large", nargs="+", default=LARGE, help="the instances of the large part")
    args = parser.parse_args()
    import minigrid

    from envs.minigrid import is_minigrid

    bad = [env_id for env_id in args.large if not is_minigrid(env_id)]
    if bad:
        parser.error(f"--large takes MiniGrid ids, got {', '.join(map(repr, bad))}")
    reference = python_reference_ms()
    print(f"this machine: sum(range(10**6)) in {reference:.1f} ms", flush=True)
    rows = []
    if "optimal_returns" in args.parts:
        rows += [{"part": "optimal_returns", **r} for r in optimal_returns()]
    if "replay" in args.parts:
        rows += [{"part": "replay", **r} for r in replays()]
    if "large" in args.parts:
        rows += [{"part": "large", **large(env_id)} for env_id in args.large]
    stamped = [{**r, "python_reference_ms": reference, "date": time.strftime("%Y-%m-%d")} for r in rows]
    write_rows(args.out, stamped, key=lambda r: (r["part"], r["env_id"]), merge=True, machine=platform.processor() or platform.machine(), date=time.strftime("%Y-%m-%d"),
               minigrid_version=minigrid.__version__, numpy_version=np.__version__)
    print("wrote", args.out)


if __name__ == "__main__":
    main()
