"""``gridlab solve``: exact solutions of one env or of the whole suite."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from agents import dp
from envs.rundir import atomic_file, atomic_write_text
from envs import GridWorldEnv, ready_made_ids
from envs.plotting import PAGE_WIDTH, format_policy_grid, format_value_grid, value_figure
from gridlab.envspec import make_env, model_of

__all__ = ["solve_one", "solve_suite", "write_solution", "is_pomdp", "load_pomdp", "solve_pomdp_command",
           "solve_minigrid_command",
           "write_alphas"]


def solve_one(env_id: str, kwargs: dict[str, Any], gamma: float | None, method: str, tol: float) -> tuple[Any, dp.Solution]:
    """Make the env, solve its model; returns ``(env, solution)``."""
    env = make_env(env_id, kwargs)
    mdp = model_of(env, gamma)
    try:
        sol = dp.solve(mdp, gamma, tol=tol, method=method)
    except ValueError as e:
        from gridlab.envspec import UsageError

        raise UsageError(f"{env_id}: {e}") from None
    return env, sol


def describe(env: Any, sol: dp.Solution) -> str:
    """V on the grid and the greedy policy as arrows (or flat lists for non-grid envs)."""
    base = env.unwrapped
    if isinstance(base, GridWorldEnv):
        return f"V* (gamma={sol.gamma}):\n{format_value_grid(base, sol.V)}\n\ngreedy policy:\n{format_policy_grid(base, sol.policy)}"
    return f"V* (gamma={sol.gamma}): {np.array2string(sol.V, precision=3)}\npolicy: {sol.policy.tolist()}"


def write_solution(out: Path, env_id: str, kwargs: dict[str, Any], env: Any, sol: dp.Solution) -> list[Path]:
    """Write ``values.json`` (and ``values.png`` for grids) into ``out``; returns the paths written."""
    out.mkdir(parents=True, exist_ok=True)
    mdp = model_of(env, sol.gamma)
    record = {"env_id": env_id, "kwargs": {k: v for k, v in kwargs.items()}, "n_states": mdp.n_states,
              "V_s0": float(mdp.initial @ sol.V), **sol.to_dict()}
    paths = [out / "values.json"]
    atomic_write_text(paths[0], json.dumps(record, indent=1))
    base = env.unwrapped
    if isinstance(base, GridWorldEnv):
        fig = value_figure(base, sol.V, sol.policy, f"V* and greedy policy, {env_id} (gamma={sol.gamma})",
                           width=min(PAGE_WIDTH, 1.5 + 0.45 * base.width))
        paths.append(out / "values.png")
        with atomic_file(paths[1]) as tmp:
            fig.savefig(tmp, dpi=120, format="png")
    return paths


def solve_suite(gamma: float | None, tol: float, methods: tuple[str, ...] | None = None) -> list[dict[str, Any]]:
    """Solve every ready-made registered id (``envs.ready_made_ids``: not ``Grid-v0``, which needs a layout) with each method.

    ``methods`` defaults to every registered CPU solver (``agents.solvers``) that can solve at
    ``gamma``: the ones that need gamma < 1 (Gauss-Seidel) are left out at gamma = 1. The numba
    kernels are loaded before the timings, which measure solving, not compiling.
    """
    from agents.solvers import METHODS, method_names

    if methods is None:
        methods = tuple(method_names(gamma, backends=("numpy", "numba")))
    if any(METHODS[m].backend == "numba" for m in methods):
        from agents.topological import load_kernels  # and agents.gauss_seidel's

        load_kernels()
    rows = []
    for env_id in ready_made_ids():
        env = make_env(env_id)
        mdp = env.unwrapped.mdp
        row: dict[str, Any] = {"env_id": env_id, "states": mdp.n_states, "slip": env.unwrapped.slip}
        for m in methods:
            t0 = time.perf_counter()
            sol = dp.solve(mdp, gamma, tol=tol, method=m)
            row[m] = {"V_s0": float(mdp.initial @ sol.V), "iterations": sol.iterations,
                      "error_bound": sol.error_bound, "ms": 1000 * (time.perf_counter() - t0)}
        rows.append(row)
    return rows


def format_suite(rows: list[dict[str, Any]]) -> str:
    from agents.solvers import METHODS

    methods = [k for k in rows[0] if k in METHODS] if rows else []
    head = f"{'env id':28s} {'states':>6s} {'slip':>5s} {'V*(s0)':>9s}" + "".join(
        f" {m + ' it':>7s} {m + ' ms':>8s}" for m in methods) + f" {'bound':>8s}"
    lines = [head, "-" * len(head)]
    for r in rows:
        bound = max(r[m]["error_bound"] for m in methods)  # inf when a method did not certify
        line = f"{r['env_id']:28s} {r['states']:6d} {r['slip']:5.2f} {r[methods[0]]['V_s0']:9.4f}"
        line += "".join(f" {r[m]['iterations']:7d} {r[m]['ms']:8.1f}" for m in methods)
        lines.append(line + f" {bound:8.1e}")
    return "\n".join(lines)


def is_pomdp(target: str, kwargs: dict[str, Any]) -> bool:
    """Whether ``gridlab solve TARGET`` names a POMDP: a ``.pomdp`` file or a registered POMDP id."""
    import gymnasium as gym

    if target.endswith(".pomdp"):
        return True
    spec = gym.registry.get(target)
    return spec is not None and spec.entry_point == "envs.pomdp_env:POMDPEnv"


def load_pomdp(target: str, kwargs: dict[str, Any], gamma: float | None) -> Any:
    """The :class:`~envs.pomdp.TabularPOMDP` of a ``.pomdp`` file or of a registered POMDP id."""
    from envs.pomdp import TabularPOMDP
    from envs.pomdp_file import read_pomdp
    from gridlab.envspec import UsageError

    try:
        if target.endswith(".pomdp"):
            if kwargs:
                raise UsageError(f"--kw is for registered ids; {target} is a file")
            pomdp = read_pomdp(target)
        else:
            pomdp = make_env(target, kwargs).unwrapped.pomdp
    except ValueError as e:  # a malformed file names its line; a missing one says so
        raise UsageError(str(e)) from None
    if gamma is not None and gamma != pomdp.gamma:
        pomdp = TabularPOMDP(type(pomdp.mdp)(pomdp.mdp.P, pomdp.R, pomdp.mdp.terminal, pomdp.b0, gamma=gamma),
                             pomdp.O, pomdp.states, pomdp.actions, pomdp.observations, pomdp.info)
    return pomdp


def write_alphas(path: Path, sol: Any) -> Path:
    """The lower bound's alpha vectors in pomdp-solve's ``.alpha`` format: per vector its action, then its values."""
    text = "".join(f"{int(a)}\n{' '.join(repr(float(v)) for v in alpha)}\n\n"
                   for a, alpha in zip(sol.alpha_actions, sol.alphas))
    return atomic_write_text(path, text)


def solve_pomdp_command(target: str, kwargs: dict[str, Any], gamma: float | None, tol: float, time_limit: float,
                        out: str | None) -> int:
    """``gridlab solve`` on a POMDP: the bounds at b0, the gap, QMDP and FIB, and the alpha vectors written."""
    from agents import pomdp as pomdp_solver
    from gridlab.envspec import UsageError

    model = load_pomdp(target, kwargs, gamma)
    try:
        sol = pomdp_solver.solve(model, tol=tol, time_limit=time_limit)
    except ValueError as e:
        raise UsageError(f"{target}: {e}") from None
    print(f"{target}: {model.n_states} states, {model.n_actions} actions, {model.n_observations} observations, "
          f"discount {model.gamma:g}")
    print(f"V*(b0) in [{sol.lower:.6f}, {sol.upper:.6f}], gap {sol.gap:.2e} "
          f"(stopped: {sol.stop_reason}; {sol.trials} searches, {sol.seconds:.2f} s)")
    print(f"upper bounds at b0: QMDP {sol.qmdp:.6f}, FIB {sol.fib:.6f}, sawtooth over {sol.points} beliefs "
          f"{sol.upper:.6f}; lower bound: {len(sol.alphas)} alpha vectors")
    if sol.stop_reason != "gap":
        print(f"the gap did not close to --tol {tol:g}: a longer --time-limit would narrow it")
    name = Path(target).stem if target.endswith(".pomdp") else target.replace("/", "_")
    where = Path(out or Path("runs") / "solve" / name)
    where.mkdir(parents=True, exist_ok=True)
    record = {"target": target, "kwargs": kwargs, "n_states": model.n_states, "n_actions": model.n_actions,
              "n_observations": model.n_observations, "gamma": model.gamma, "lower": sol.lower, "upper": sol.upper,
              "gap": sol.gap, "qmdp": sol.qmdp, "fib": sol.fib, "stop_reason": sol.stop_reason,
              "seconds": sol.seconds, "alphas": len(sol.alphas), "belief_points": sol.points}
    for path in (atomic_write_text(where / "bounds.json", json.dumps(record, indent=1)),
                 write_alphas(where / "policy.alpha", sol)):
        print(f"wrote {path}")
    return 0


def solve_minigrid_command(target: str, seed: int, out: str | None, episodes: int = 1) -> int:
    """``gridlab solve MiniGrid-...``: the exact model of (id, minigrid version, seed), V*(s0) under the
    native objective, a replay check against the real env, and the model's summary written."""

    from envs.minigrid import MiniGridMismatch, exact_model, verify_minigrid
    from gridlab.envspec import UsageError

    import gymnasium as gym

    try:
        model = exact_model(target, seed=seed, progress=True)
    except (ImportError, TypeError, ValueError, MemoryError, gym.error.Error) as e:
        raise UsageError(f"{target}: {e}") from None
    v = model.V_star(model.start, 0)
    print(f"{target} seed {seed} (minigrid {model.minigrid_version}, layout {model.layout_digest}): "
          f"{model.n_states:,} states, {model.n_transitions:,} transitions, enumerated in "
          f"{model.enumeration_seconds:.2f} s through the env's own step")
    how = ("closed form: the shortest path, d(s0) = %d steps" % model.distance()[model.start] if model.deterministic
           else "backward induction over (state, t)")
    print(f"V*(s0, t=0) = {v:.6f} under MiniGrid's objective (success at step k pays 1 - 0.9 k / {model.max_steps}; "
          f"{how})")
    try:
        report = verify_minigrid(model, episodes=episodes)
    except MiniGridMismatch as e:
        raise UsageError(f"the model does not match the real env: {e}") from None
    print(f"checked against the real env: {report['steps']} steps of uniform, optimal and worst policies replayed; "
          "the optimal policy earned V*(s0) in the env")
    where = Path(out or Path("runs") / "solve" / f"{target}_seed{seed}")
    where.mkdir(parents=True, exist_ok=True)
    record = {"target": target, "seed": seed, "minigrid_version": model.minigrid_version,
              "layout_digest": model.layout_digest, "n_states": model.n_states, "n_transitions": model.n_transitions,
              "max_steps": model.max_steps, "deterministic": model.deterministic, "V_star_s0": v,
              "enumeration_seconds": model.enumeration_seconds, "verified_steps": report["steps"]}
    values = where / "values.npz"  # V*(s, 0) of every state, beside its key (the module doc of envs.minigrid)
    np.savez_compressed(values, V_star_t0=model.V_star_at(0), keys=np.array(model.keys, dtype=np.int64))
    for path in (atomic_write_text(where / "model.json", json.dumps(record, indent=1)), values):
        print(f"wrote {path}")
    return 0
