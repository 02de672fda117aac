"""Benchmark: ``dp.solve`` on every family of ``benchmarks.families`` (issue 12), each written in
every form (issue 28: goal flagged terminal, absorbing goal, shuffled numbering, handed over as
per-action matrices), against today's Gauss-Seidel solver and pymdptoolbox.

Run from the repository root:
``.venv/bin/python -m benchmarks.solvers [--sizes 100000,1000000] [--families a,b] [--forms a,b] [--gs-max 100000]``
writes ``benchmarks/results/solver_forms.json`` (the runs before issue 28, terminal form only, are
in ``solver_families.json``).

Each row runs in a fresh process (so its peak RSS is that of a whole process: interpreter, numba
kernels from their disk cache, the model and the solve) and reports, at tol 1e-6:
*sweep-equivalents* (the solve's wall time over one scipy CSR float64 Bellman sweep of the same
model, measured in the same process, as in ``benchmarks/solver_sizes.py``), wall time, the certified
bound, tracemalloc's peak during the solve, the method ``auto`` chose and the components it
found; Gauss-Seidel modified policy iteration (``method="gs"``, the choice of ``auto`` before
issue 12) on models up to ``--gs-max`` states; and at 2,500 states pymdptoolbox's ValueIteration
at the same tolerance. gamma 0.99 for every family, and 0.999 for ``cost_room`` and ``maze``.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import subprocess
import sys
import time
import warnings

import numpy as np

from benchmarks.families import FAMILIES, FORMS
from benchmarks.results_file import write_rows

TOL = 1e-6
SLOW_GAMMA = ("cost_room", "maze")  # the families also run at gamma 0.999
NO_GOAL = ("random_sparse",)  # no terminal state to write as an absorbing one


def sweep_seconds(mdp, gamma: float, repeats: int = 7) -> float:
    V = np.random.default_rng(0).random(mdp.n_states)
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        (mdp.R + gamma * (mdp.P @ V).reshape(mdp.n_states, mdp.n_actions)).max(axis=1)
        times.append(time.perf_counter() - t)
    return float(np.median(times))


def one_row(family: str, n: int, gamma: float, gs_max: int, form: str = "terminal") -> dict:
    """Build and solve one model in this process (the child's work). ``gs`` and pymdptoolbox run on
    the terminal form only; the solver's own work counter (state updates over S) is reported beside
    the timing, as it does not move with the machine."""
    import tracemalloc

    from agents import dp
    from agents.topological import load_kernels
    from benchmarks.families import build

    load_kernels()
    t = time.perf_counter()
    mdp = build(family, n, form=form)
    build_s = time.perf_counter() - t
    sweep = sweep_seconds(mdp, gamma)
    row = {"family": family, "form": form, "n": n, "gamma": gamma, "states": mdp.n_states, "transitions": int(mdp.P.nnz),
           "sweep_ms": 1000 * sweep, "build_s": build_s}
    runs = {"solve": lambda: dp.solve(mdp, gamma, tol=TOL)}
    if mdp.n_states <= gs_max and form == "terminal":
        runs["gs"] = lambda: dp.solve(mdp, gamma, tol=TOL, method="gs")
    if mdp.n_states <= 2_600 and form == "terminal":
        import mdptoolbox.mdp

        from benchmarks.solver_sizes import mdptoolbox_inputs

        P, R = mdptoolbox_inputs(mdp)

        def toolbox():
            vi = mdptoolbox.mdp.ValueIteration(P, R, gamma, epsilon=TOL, max_iter=10**7)
            vi.run()
            return vi

        runs["mdptoolbox_vi"] = toolbox
    for name, fn in runs.items():
        tracemalloc.start()
        t = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = fn()
        secs = time.perf_counter() - t
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        _, _, bound = dp.certify(mdp, np.asarray(out.V, dtype=float), gamma)
        row[name] = {"seconds": secs, "sweeps": secs / sweep, "peak_MB": peak / 2**20, "certified_bound": bound,
                     "method": getattr(out, "method", name), "components": getattr(out, "info", {}).get("components"),
                     "work": getattr(out, "sweeps", None)}
    row["process_peak_MB"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return row


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="100000,1000000")
    ap.add_argument("--families", default=",".join(FAMILIES))
    ap.add_argument("--forms", default=",".join(FORMS))
    ap.add_argument("--gs-max", type=int, default=100_000, help="largest model to run today's Gauss-Seidel on")
    ap.add_argument("--toolbox", action=argparse.BooleanOptionalAction, default=True,
                    help="also the 2,500-state rows against pymdptoolbox")
    ap.add_argument("--out", default="benchmarks/results/solver_forms.json")
    ap.add_argument("--row", nargs=4, metavar=("FAMILY", "N", "GAMMA", "FORM"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.row:
        family, n, gamma, form = args.row
        print(json.dumps(one_row(family, int(n), float(gamma), args.gs_max, form)))
        return
    for name, given, known in (("family", args.families, FAMILIES), ("form", args.forms, FORMS)):
        unknown = [x for x in given.split(",") if x not in known]
        if unknown:
            ap.error(f"unknown {name} {unknown[0]!r}; expected some of {', '.join(known)}")
    jobs = []
    for family in args.families.split(","):
        sizes = [int(s) for s in args.sizes.split(",")] + ([2_500] if args.toolbox else [])
        for n in sizes:
            for gamma in (0.99, 0.999) if family in SLOW_GAMMA and n != 2_500 else (0.99,):
                for form in args.forms.split(",") if n != 2_500 else ("terminal",):
                    if form == "absorbing" and family in NO_GOAL:
                        continue  # no terminal state: the absorbing form is the terminal one
                    jobs.append((family, n, gamma, form))
    rows = []
    for family, n, gamma, form in jobs:
        out = subprocess.run([sys.executable, "-m", "benchmarks.solvers", "--gs-max", str(args.gs_max),
                              "--row", family, str(n), str(gamma), form], capture_output=True, text=True, check=True)
        row = json.loads(out.stdout.strip().splitlines()[-1])
        rows.append(row)
        s = row["solve"]
        print(f"{family:14s} {form:9s} S={row['states']:>8d} gamma={gamma}: {s['sweeps']:7.1f} sweep-eq (work {s['work']:6.1f}) {s['seconds']:7.2f} s "
              f"bound {s['certified_bound']:.1e} {s['method']} ({s['components']} components) "
              f"process {row['process_peak_MB']:.0f} MB" + (f"; gs {row['gs']['sweeps']:.1f}" if "gs" in row else "")
              + (f"; mdptoolbox VI {row['mdptoolbox_vi']['seconds'] / s['seconds']:.0f}x slower" if "mdptoolbox_vi" in row else ""),
              flush=True)
    write_rows(args.out, rows, key=lambda r: (r["family"], r.get("form", "terminal"), r["n"], r["gamma"]), merge=True,
               machine=platform.platform(), tol=TOL)
    print(table(rows))
    print(forms_table(rows))


def table(rows: list[dict]) -> str:
    """BENCHMARKS.md's table."""
    out = ["| family | gamma | states | sweep (ms) | `solve`: sweep-eq / s / bound / solve peak MB / process peak MB | method (components) "
           "| `gs` (before): sweep-eq | pymdptoolbox VI: s (`solve` speed-up) |",
           "|---|---|---|---|---|---|---|---|"]
    for r in sorted(rows, key=lambda r: (list(FAMILIES).index(r["family"]), r["n"], r["gamma"])):
        if r.get("form", "terminal") != "terminal":
            continue
        s = r["solve"]
        gs = f"{r['gs']['sweeps']:.1f}" if "gs" in r else "not run"
        tb = (f"{r['mdptoolbox_vi']['seconds']:.2f} ({r['mdptoolbox_vi']['seconds'] / s['seconds']:.0f}x)"
              if "mdptoolbox_vi" in r else "-")
        out.append(f"| {r['family']} | {r['gamma']} | {r['states']:,} | {r['sweep_ms']:.2f} | {s['sweeps']:.1f} / {s['seconds']:.2f} / "
                   f"{s['certified_bound']:.1e} / {s['peak_MB']:.0f} / {r['process_peak_MB']:.0f} | {s['method']} ({s['components']}) | "
                   f"{gs} | {tb} |")
    return "\n".join(out)


def forms_table(rows: list[dict]) -> str:
    """BENCHMARKS.md's table of forms: sweep-equivalents (wall time) and work (the solver's own
    count of state updates over S) of each family in each form, and the worst form's work over the
    best's."""
    out = ["| family | gamma | states | " + " | ".join(f"{f}: sweep-eq / work" for f in FORMS) + " | work: worst / best form |",
           "|---|---|---|" + "---|" * (len(FORMS) + 1)]
    groups: dict[tuple, dict[str, dict]] = {}
    for r in rows:
        if r["n"] != 2_500:
            groups.setdefault((r["family"], r["gamma"], r["n"]), {})[r.get("form", "terminal")] = r
    for (family, gamma, n), by_form in sorted(groups.items(), key=lambda kv: (list(FAMILIES).index(kv[0][0]), kv[0][2],
                                                                              kv[0][1])):
        if family in NO_GOAL and "terminal" in by_form:
            by_form.setdefault("absorbing", by_form["terminal"])
        cells = [f"{by_form[f]['solve']['sweeps']:.1f} / {by_form[f]['solve']['work']:.1f}"
                 if f in by_form and by_form[f]["solve"].get("work") is not None else "-" for f in FORMS]
        work = [by_form[f]["solve"]["work"] for f in by_form if by_form[f]["solve"].get("work") is not None]
        states = next(iter(by_form.values()))["states"]
        out.append(f"| {family} | {gamma} | {states:,} | " + " | ".join(cells) +
                   (f" | {max(work) / min(work):.2f}x |" if work else " | - |"))
    return "\n".join(out)


if __name__ == "__main__":
    main()
