"""Benchmark: the lab's certified POMDP solver beside other Python solvers, on the same ``.pomdp`` files.

Every problem is written to a Cassandra ``.pomdp`` file by ``envs.pomdp_file.write_pomdp`` and each
solver reads that file (pomdp-toolkit through its own parser; pomdp-py cannot read the format, so it
runs its own Tiger model). Measured for each:

- the lab (``agents.pomdp.solve``): seconds to a certified gap ``U - L`` at b0 of 1e-1, 1e-2, 1e-3;
- pomdp-toolkit's HSVI, PBVI (its SSEA expansion; PBVI itself is abstract there) and Perseus, with doubling budgets (``expansions`` 1, 2, 4, ...) until a
  run passes the time limit: seconds and their value at b0, its distance below the lab's certified
  upper bound (how far from V* it can be; they state no bound of their own);
- pomdp-py's exact value iteration on its Tiger: seconds per horizon, until a horizon passes the
  time limit.

Run from the repository root:
``.venv/bin/python -m benchmarks.pomdp_peers [--time-limit 60] [--out benchmarks/results/pomdp_peers.json]``
(pomdp-toolkit and pomdp-py are in the ``dev`` extra; a missing one is skipped with a message).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import multiprocessing as mp
import platform
import tempfile
import time
from pathlib import Path

from agents.pomdp import solve
from benchmarks.results_file import write_rows
from envs.pomdp_file import write_pomdp
from envs.pomdp_worlds import maze_4x3, t_maze, tiger

def _unflagged(m):
    """The model with its terminal states as plain absorbing zero-reward states (the ``.pomdp``
    format flags none; the values are the same)."""
    import numpy as np

    from envs.pomdp import TabularPOMDP

    return TabularPOMDP.from_arrays(np.stack([Ta.toarray() for Ta in m.T]), m.R, m.O, b0=m.b0, gamma=m.gamma,
                                    states=m.states, actions=m.actions, observations=m.observations)


PROBLEMS = {"Tiger": tiger, "T-maze (6)": lambda: _unflagged(t_maze(6)), "4x3 maze": maze_4x3}
GAPS = (1e-1, 1e-2, 1e-3)


def _toolkit_run(path: str, solver: str, expansions: int, gamma: float, out: mp.Queue) -> None:
    """One pomdp-toolkit solve in a child process (so a run past the limit can be stopped)."""
    with contextlib.redirect_stdout(io.StringIO()):
        import pomdp_toolkit as pt
        from pomdp_toolkit import solvers

        model = pt.POMDPParser.parse(path)
        t0 = time.perf_counter()
        vf, _ = getattr(solvers, solver).solve(model, expansions=expansions, gamma=gamma, print_progress=False,
                                               print_stats=False)
        seconds = time.perf_counter() - t0
        value, _ = vf.evaluate_at(pt.Belief(model, model.start_probabilities))
    out.put((seconds, float(value)))


def _in_child(target, args: tuple, limit: float):
    queue: mp.Queue = mp.get_context("fork").Queue()
    proc = mp.get_context("fork").Process(target=target, args=(*args, queue))
    proc.start()
    proc.join(limit)
    if proc.is_alive():
        proc.kill()
        proc.join()
        return None
    return queue.get() if not queue.empty() else "error"


def _pomdp_py_run(horizon: int, out: mp.Queue) -> None:
    import pomdp_py
    from pomdp_py.problems.tiger.tiger_problem import TigerProblem

    problem = TigerProblem.create("tiger-left", 0.5, 0.15)
    t0 = time.perf_counter()
    pomdp_py.ValueIteration(horizon=horizon, discount_factor=0.95).plan(problem.agent)
    out.put((time.perf_counter() - t0, None))


def run(time_limit: float, out: str) -> list[dict]:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, build in PROBLEMS.items():
            m = build()
            path = str(Path(tmp) / "problem.pomdp")
            write_pomdp(m, path)
            upper = None
            for gap in GAPS:
                sol = solve(m, tol=gap, time_limit=time_limit)
                upper = sol.upper if upper is None else min(upper, sol.upper)
                rows.append({"problem": name, "solver": "gridlab", "budget": f"gap {gap:g}", "seconds": round(sol.seconds, 3),
                             "lower": sol.lower, "upper": sol.upper, "reached": sol.gap <= gap})
                print(rows[-1], flush=True)
            try:
                import pomdp_toolkit  # noqa: F401
            except ImportError:
                print("pomdp-toolkit is not installed (it is in the dev extra): its solvers are skipped")
                continue
            for solver in ("HSVI", "PBVI_SSEA", "Perseus"):
                expansions = 1
                while True:
                    got = _in_child(_toolkit_run, (path, solver, expansions, m.gamma), time_limit)
                    row = {"problem": name, "solver": f"pomdp-toolkit {solver}", "budget": f"expansions {expansions}"}
                    if got is None or got == "error":
                        rows.append({**row, "seconds": None, "outcome": "past the time limit" if got is None else "error"})
                        print(rows[-1], flush=True)
                        break
                    seconds, value = got
                    rows.append({**row, "seconds": round(seconds, 3), "value": value,
                                 "below_certified_upper": upper - value})
                    print(rows[-1], flush=True)
                    if expansions >= 4096:
                        break
                    expansions *= 2
    try:
        import pomdp_py  # noqa: F401
    except ImportError:
        print("pomdp-py is not installed (it is in the dev extra): its value iteration is skipped")
    else:
        for horizon in range(1, 10):
            got = _in_child(_pomdp_py_run, (horizon,), time_limit)
            row = {"problem": "Tiger", "solver": "pomdp-py ValueIteration", "budget": f"horizon {horizon}"}
            rows.append({**row, "seconds": None if got in (None, "error") else round(got[0], 3),
                         **({"outcome": "past the time limit"} if got is None else {})})
            print(rows[-1], flush=True)
            if got is None:
                break
    write_rows(out, rows, key=lambda r: (r["problem"], r["solver"], r["budget"]), time_limit=time_limit,
               machine=platform.processor() or platform.machine())
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--time-limit", type=float, default=60.0)
    p.add_argument("--out", default="benchmarks/results/pomdp_peers.json")
    args = p.parse_args()
    run(args.time_limit, args.out)


if __name__ == "__main__":
    main()
