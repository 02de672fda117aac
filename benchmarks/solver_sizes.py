"""Benchmark: exact solvers on slippery open rooms of 10^2..10^6 states, against plain VI and pymdptoolbox.

Everything runs in one process, so ratios are like for like. The unit is the *sweep-equivalent*:
solve time divided by the time of one scipy CSR float64 Bellman sweep (``R + gamma * P @ V``, max
over actions) over the same MDP, measured in the same process.

Run from the repository root: ``.venv/bin/python -m benchmarks.solver_sizes [--sizes 10,50,100,316,1000] [--no-plain-vi-above 100000]``
"""

from __future__ import annotations

import argparse
import json
import platform
import time
import tracemalloc
import warnings
from pathlib import Path

import numpy as np

from agents import dp
from envs import GridWorldEnv, open_room

GAMMA, TOL, SLIP = 0.99, 1e-6, 0.2
TOOLBOX_PI_CAP = 200
BUILDS = 4  # the build's figure is the median of the last three, as the sweep's is a median


def sweep_seconds(mdp, repeats: int = 7) -> float:
    V = np.random.default_rng(0).random(mdp.n_states)
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        Q = mdp.R + GAMMA * (mdp.P @ V).reshape(mdp.n_states, mdp.n_actions)
        Q.max(axis=1)
        times.append(time.perf_counter() - t)
    return float(np.median(times))


def measured(fn):
    tracemalloc.start()
    t = time.perf_counter()
    out = fn()
    seconds = time.perf_counter() - t
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return out, seconds, peak


def mdptoolbox_inputs(mdp):
    import scipy.sparse as sp

    S, A = mdp.n_states, mdp.n_actions
    P = [sp.csr_matrix(mdp.P[np.arange(S) * A + a]) for a in range(A)]
    return P, mdp.R


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="10,50,100,316,1000", help="room sides; states = side^2")
    ap.add_argument("--plain-vi-max", type=int, default=10**6, help="largest model to run plain VI on")
    ap.add_argument("--mdptoolbox-max", type=int, default=2500, help="largest model to run pymdptoolbox on")
    ap.add_argument("--out", default="benchmarks/results/solver_sizes.json")
    args = ap.parse_args()
    # warm-up: numba compiles the kernels (cached on disk after the first run), so `solve` picks
    # the topological solver at every size, as it does in any process that has solved one large model
    from agents.topological import load_kernels  # and the Gauss-Seidel ones

    compile_s = load_kernels()
    GridWorldEnv(open_room(300), slip=SLIP)  # loads the numba model builder too
    rows = []
    for side in map(int, args.sizes.split(",")):
        layout = open_room(side)
        builds = []
        for _ in range(BUILDS):  # the first build of a size also pays the VM's first touch of its memory
            t = time.perf_counter()
            env = GridWorldEnv(layout, slip=SLIP)
            builds.append(time.perf_counter() - t)
        mdp = env.mdp
        sweep = sweep_seconds(mdp)
        build_s = float(np.median(builds[1:]))
        row = {"states": mdp.n_states, "transitions": int(mdp.P.nnz), "sweep_ms": 1000 * sweep,
               "build_s": build_s, "build_sweeps": build_s / sweep,
               "first_build_s": builds[0], "first_build_sweeps": builds[0] / sweep}
        runs = {"solve": lambda: dp.solve(mdp, GAMMA, tol=TOL)}
        if mdp.n_states <= 2500:
            runs["policy_iteration"] = lambda: dp.policy_iteration(mdp, GAMMA)
        if mdp.n_states <= args.plain_vi_max:
            runs["plain_vi"] = lambda: dp.value_iteration(mdp, GAMMA, tol=TOL)
        if mdp.n_states <= args.mdptoolbox_max:
            import mdptoolbox.mdp

            P, R = mdptoolbox_inputs(mdp)

            def tb_vi():
                vi = mdptoolbox.mdp.ValueIteration(P, R, GAMMA, epsilon=TOL, max_iter=10**6)
                vi.run()
                return vi

            def tb_pi():
                pi = mdptoolbox.mdp.PolicyIteration(P, R, GAMMA, max_iter=TOOLBOX_PI_CAP)  # it cycles on ties
                pi.run()
                return pi

            runs["mdptoolbox_vi"] = tb_vi
            runs["mdptoolbox_pi"] = tb_pi
        for name, fn in runs.items():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                out, secs, peak = measured(fn)
            V = np.asarray(out.V, dtype=float)
            _, residual, bound = dp.certify(mdp, V, GAMMA)
            iterations = int(getattr(out, "iterations", getattr(out, "iter", 0)))
            row[name] = {"seconds": secs, "sweeps": secs / sweep, "peak_MB": peak / 2**20, "iterations": iterations,
                         "hit_cap": name == "mdptoolbox_pi" and iterations >= TOOLBOX_PI_CAP,
                         "certified_bound": bound, "method": getattr(out, "method", name)}
            print(f"S={mdp.n_states:>8d} {name:18s} {secs:9.3f}s {secs / sweep:9.1f} sweep-eq  peak {peak / 2**20:8.1f} MB  "
                  f"bound {bound:.2e}", flush=True)
        rows.append(row)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"machine": platform.platform(), "processor": platform.processor(),
                                          "gamma": GAMMA, "tol": TOL, "slip": SLIP, "numba_compile_s": compile_s,
                                          "rows": rows}, indent=1))
    print(table(rows, compile_s))


def table(rows, compile_s) -> str:
    out = ["| states | transitions | sweep (ms) | build (sweeps; first build) | `solve` (s / sweeps / peak MB / bound) | "
           "plain VI (s / sweeps) | pymdptoolbox VI (s) | pymdptoolbox PI (s) | `solve` speed-up vs plain VI / vs pymdptoolbox VI |",
           "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        s = r["solve"]
        vi = r.get("plain_vi")
        tb_vi, tb_pi = r.get("mdptoolbox_vi"), r.get("mdptoolbox_pi")
        def fmt(x):
            if not x:
                return "not run"
            note = f" (cycled: stopped at its {TOOLBOX_PI_CAP}-iteration cap, bound {x['certified_bound']:.1e})" if x.get("hit_cap") else ""
            return f"{x['seconds']:.3f}{note}"

        out.append(
            f"| {r['states']:,} | {r['transitions']:,} | {r['sweep_ms']:.2f} | {r['build_sweeps']:.1f}; {r['first_build_sweeps']:.1f} | "
            f"{s['seconds']:.3f} / {s['sweeps']:.1f} / {s['peak_MB']:.0f} / {s['certified_bound']:.1e} | "
            f"{(str(round(vi['seconds'], 3)) + ' / ' + str(round(vi['sweeps']))) if vi else 'not run'} | {fmt(tb_vi)} | {fmt(tb_pi)} | "
            f"{(vi['seconds'] / s['seconds']) if vi else float('nan'):.1f}x / "
            f"{(tb_vi['seconds'] / s['seconds']) if tb_vi else float('nan'):.0f}x |")
    out.append(f"\nnumba compile of the Gauss-Seidel kernels on first use: {compile_s:.2f} s (cached on disk afterwards).")
    return "\n".join(out)


if __name__ == "__main__":
    main()
