"""Benchmark: partial observability. The belief filter's throughput (belief updates per second,
batched over sequences) and the certified solver's time to a gap on Tiger, the T-maze and the 4x3
maze, its bounds after a time limit on FourRoomsWalls, RockSample[4,4] (257 states) and Tag (870
states); for the last two, the solver's controller is also played in the real env, and its
discounted return checked against the lower bound.

Run from the repository root: ``.venv/bin/python -m benchmarks.pomdp [--out benchmarks/results/pomdp.json]``
"""

from __future__ import annotations

import argparse
import platform
import time

import numpy as np

from agents.pomdp import solve
from benchmarks.results_file import write_rows
from envs.pomdp import TabularPOMDP
from envs.pomdp_worlds import maze_4x3, rock_sample, t_maze, tag, tiger

TIGER_V_STAR = 19.3714


def random_sparse_pomdp(S: int = 100, A: int = 4, Z: int = 16, successors: int = 5, seed: int = 0) -> TabularPOMDP:
    """``S`` states, each action reaching ``successors`` random states; dense random emissions."""
    rng = np.random.default_rng(seed)
    T = np.zeros((A, S, S))
    for a in range(A):
        for s in range(S):
            T[a, s, rng.choice(S, successors, replace=False)] = rng.random(successors)
    T /= T.sum(axis=-1, keepdims=True)
    O = rng.random((A, S, Z))
    O /= O.sum(axis=-1, keepdims=True)
    return TabularPOMDP.from_arrays(T, np.zeros((S, A)), O)


def sampled_sequences(m: TabularPOMDP, sequences: int, steps: int, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Uniformly random actions and the observations the model then emits (so every one is possible)."""
    rng = np.random.default_rng(seed)
    T = np.cumsum(np.stack([Ta.toarray() for Ta in m.T]), axis=2)
    O = np.cumsum(m.O, axis=2)
    s = np.searchsorted(np.cumsum(m.b0), rng.random(sequences), side="right").clip(max=m.n_states - 1)
    acts = rng.integers(m.n_actions, size=(sequences, steps))
    obs = np.empty_like(acts)
    for t in range(steps):
        a = acts[:, t]
        s = (T[a, s] < rng.random(sequences)[:, None]).sum(axis=1).clip(max=m.n_states - 1)
        obs[:, t] = (O[a, s] < rng.random(sequences)[:, None]).sum(axis=1).clip(max=m.n_observations - 1)
    return acts, obs


def filter_rows(sequences: int = 10_000, steps: int = 50, repeats: int = 3) -> list[dict]:
    import gymnasium as gym

    import envs  # noqa: F401  (registers the ids)

    rows = []
    for name, m in (("random sparse POMDP", random_sparse_pomdp()),
                    ("gridlab/FourRoomsWalls-v0", gym.make("gridlab/FourRoomsWalls-v0").unwrapped.pomdp)):
        acts, obs = sampled_sequences(m, sequences, steps)
        m.filter(acts[:1, :1], obs[:1, :1])  # the kernel loaded (or compiled) before timing
        for keep in ("last", "all"):
            best = min(_timed(lambda: m.filter(acts, obs, keep=keep, strict=True)) for _ in range(repeats))
            rows.append({"what": f"filter {name} keep={keep}", "states": m.n_states, "sequences": sequences,
                         "steps": steps, "seconds": best, "updates_per_second": sequences * steps / best})
            print(f"filter, {name} ({m.n_states} states), keep={keep}: {sequences * steps / best:,.0f} belief "
                  f"updates/s ({sequences:,} sequences x {steps} steps, best of {repeats}: {best:.2f} s)")
    return rows


def solver_rows(tag_seconds: float = 600.0) -> list[dict]:
    rows = []
    for name, model, truth in [("tiger", tiger(), TIGER_V_STAR)] + [
            (f"t_maze(length={L})", t_maze(L), 4 * 0.98 ** L) for L in (6, 20)] + [("maze_4x3", maze_4x3(), None)]:
        for tol in (1e-2, 1e-3, 1e-4):
            sol = solve(model, tol=tol, time_limit=120)
            rows.append({"what": name, "tol": tol, "lower": sol.lower, "upper": sol.upper, "gap": sol.gap,
                         "known_optimum": truth, "qmdp": sol.qmdp, "fib": sol.fib, "seconds": sol.seconds,
                         "stop_reason": sol.stop_reason, "alphas": int(len(sol.alphas)), "points": sol.points})
            print(f"{name:18s} tol {tol:g}: [{sol.lower:.5f}, {sol.upper:.5f}] (known {truth}), gap {sol.gap:.1e}, "
                  f"{sol.seconds:.2f} s, {len(sol.alphas)} alphas, {sol.points} points, stop: {sol.stop_reason}")
    import gymnasium as gym

    import envs  # noqa: F401  (registers the ids)

    m = gym.make("gridlab/FourRoomsWalls-v0").unwrapped.pomdp
    for limit in (10, 60):
        sol = solve(m, tol=1e-3, time_limit=limit)
        rows.append({"what": "gridlab/FourRoomsWalls-v0", "tol": 1e-3, "time_limit": limit, "lower": sol.lower,
                     "upper": sol.upper, "gap": sol.gap, "qmdp": sol.qmdp, "fib": sol.fib, "seconds": sol.seconds,
                     "stop_reason": sol.stop_reason, "alphas": int(len(sol.alphas)), "points": sol.points})
        print(f"FourRoomsWalls, {limit} s: [{sol.lower:.5f}, {sol.upper:.5f}], gap {sol.gap:.1e} (QMDP {sol.qmdp:.5f}, "
              f"FIB {sol.fib:.5f}), {len(sol.alphas)} alphas, {sol.points} points, stop: {sol.stop_reason}")
    m = rock_sample()  # issue 26's scale target: gap <= 1% within 60 s
    for tol, limit in ((0.01 * 19, 60), (1e-2, 60)):
        rows.append(_solved_and_played("rock_sample[4,4]", m, tol, limit))
    if tag_seconds > 0:  # issue 26's scale target: a lower bound >= -6.4 within 10 minutes
        rows.append(_solved_and_played("tag", tag(), 1e-2, tag_seconds))
    return rows


def controller_returns(m: TabularPOMDP, policy, episodes: int = 2000, steps: int = 200, seed: int = 0) -> np.ndarray:
    """Discounted returns of ``policy`` (an :class:`~agents.pomdp.AlphaVectorPolicy`) in the real env,
    :class:`~envs.pomdp_env.POMDPEnv` of ``m``, each episode cut at ``steps``."""
    from envs.pomdp_env import POMDPEnv

    env, out = POMDPEnv(m), np.empty(episodes)
    for episode in range(episodes):
        env.reset(seed=seed + episode)
        policy.reset()
        a, total, discount = policy.act(None), 0.0, 1.0
        for _ in range(steps):
            o, r, terminated, _, _ = env.step(a)
            total += discount * r
            discount *= m.gamma
            if terminated:
                break
            a = policy.act(int(o))
        out[episode] = total
    return out


def _solved_and_played(name: str, m: TabularPOMDP, tol: float, limit: float) -> dict:
    sol = solve(m, tol=tol, time_limit=limit)
    returns = controller_returns(m, sol.policy)
    mean, half = float(returns.mean()), float(1.96 * returns.std() / np.sqrt(len(returns)))
    print(f"{name}, tol {tol:g}, {limit:g} s: [{sol.lower:.4f}, {sol.upper:.4f}], gap {sol.gap:.3g} after "
          f"{sol.seconds:.1f} s (QMDP {sol.qmdp:.4f}, FIB {sol.fib:.4f}), {len(sol.alphas)} alphas, {sol.points} "
          f"points, stop: {sol.stop_reason}; controller in the env: {mean:.3f} +- {half:.3f} over {len(returns)} "
          "episodes")
    return {"what": name, "tol": tol, "time_limit": limit, "lower": sol.lower, "upper": sol.upper, "gap": sol.gap,
            "qmdp": sol.qmdp, "fib": sol.fib, "seconds": sol.seconds, "stop_reason": sol.stop_reason,
            "alphas": int(len(sol.alphas)), "points": sol.points, "controller_return": mean,
            "controller_ci95": half, "episodes": len(returns)}


def _timed(run) -> float:
    t = time.perf_counter()
    run()
    return time.perf_counter() - t


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", default="benchmarks/results/pomdp.json")
    parser.add_argument("--tag-seconds", type=float, default=600.0, help="Tag's solve (0: skip it)")
    args = parser.parse_args()
    rows = filter_rows() + solver_rows(args.tag_seconds)
    write_rows(args.out, rows, key=lambda r: (r["what"], r.get("tol"), r.get("time_limit")), machine=platform.processor() or platform.machine(),
               date=time.strftime("%Y-%m-%d"))
    print("wrote", args.out)


if __name__ == "__main__":
    main()
