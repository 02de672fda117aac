"""Benchmark: agents with and without memory on the T-maze (corridor 6), over seeds, judged exactly.

Three kinds of agent, each trained by ``agents.sb3.train`` with the shipped presets:

- memoryless PPO on the observation: exact value, against the best deterministic memoryless policy;
- PPO on the last 6 (action, observation) pairs (``frame_stack=6``, long enough to hold the cue at
  the junction): exact value;
- RecurrentPPO (LSTM): its sampled policy's value as a Monte Carlo 95% interval (or the history
  tree's certified one where narrower), and its greedy policy's certified history-tree interval.

Each agent's normalised score is an interval, :math:`(V^\\pi - V^{unif}) / (V^* - V^{unif})` over the
certified bounds; the IQM over seeds (of each interval's lower end) comes with rliable's
stratified-bootstrap 95% interval.

Run from the repository root:
``.venv/bin/python -m benchmarks.pomdp_agents [--seeds 0-4] [--out benchmarks/results/pomdp_agents.json]``
"""

from __future__ import annotations

import argparse
import platform
import tempfile
import time
from pathlib import Path

import numpy as np

ENV_ID = "gridlab/TMaze-v0"
AGENTS = {  # name -> (algo, env kwargs, judged greedy too)
    "PPO, memoryless": ("ppo", {}, False),
    "PPO, frame stack 6": ("ppo", {"frame_stack": 6}, False),
    "RecurrentPPO": ("recurrentppo", {}, True),
}


def run(seeds: tuple[int, ...], out: str) -> list[dict]:
    import gymnasium as gym
    import torch

    from agents import sb3
    from agents.pomdp_compare import compare_pomdp, pomdp_references
    from benchmarks.results_file import write_rows

    torch.set_num_threads(1)
    refs = pomdp_references(gym.make(ENV_ID).unwrapped.pomdp, tol=1e-6)
    rows = []
    for name, (algo, kwargs, greedy) in AGENTS.items():
        for seed in seeds:
            t0 = time.perf_counter()
            with tempfile.TemporaryDirectory() as tmp:
                model = sb3.train(ENV_ID, algo, seed=seed, env_kwargs=kwargs, out_dir=Path(tmp) / "run",
                                  progress_bar=False)
            seconds = time.perf_counter() - t0
            env = gym.make(ENV_ID, **kwargs)
            row = {"agent": name, "algo": algo, "seed": seed, "timesteps": int(model.num_timesteps),
                   "train_seconds": round(seconds, 1)}
            for how in (("sampled", "greedy") if greedy else ("sampled",)):
                c = compare_pomdp(model, env, references=refs, deterministic=how == "greedy", tree_time_limit=30,
                                  episodes=5000, seed=seed)
                lo, hi = c.score_interval
                row[how] = {"value_lower": c.value_lower, "value_upper": c.value_upper, "method": c.value_method,
                            "score_lower": lo, "score_upper": hi}
            rows.append(row)
            print(name, seed, row, flush=True)
    write_rows(out, rows, key=lambda r: (r["agent"], r["seed"]), merge=True, machine=platform.processor() or platform.machine(),
               env_id=ENV_ID, lower=refs.lower, upper=refs.upper, uniform=refs.uniform, mdp_value=refs.mdp_value,
               best_memoryless=refs.best_memoryless, summary=summary(rows))
    return rows


def summary(rows: list[dict]) -> dict:
    """Per agent and way of acting: IQM of the score intervals' lower ends over seeds, with rliable's 95% interval."""
    from rliable import library as rly
    from rliable import metrics

    out = {}
    for name in dict.fromkeys(r["agent"] for r in rows):
        for how in ("sampled", "greedy"):
            scores = np.array([r[how]["score_lower"] for r in rows if r["agent"] == name and how in r])
            if scores.size == 0:
                continue
            point, ci = rly.get_interval_estimates({name: scores[:, None]}, lambda x: np.array([metrics.aggregate_iqm(x)]),
                                                   reps=2000, random_state=np.random.RandomState(0))
            out[f"{name}, {how}"] = {"iqm": float(point[name][0]), "ci": [float(ci[name][0, 0]), float(ci[name][1, 0])],
                                     "seeds": len(scores), "min": float(scores.min()), "max": float(scores.max())}
    return out


def main() -> None:
    from gridlab.sweep import parse_seeds

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", default="0-4")
    p.add_argument("--out", default="benchmarks/results/pomdp_agents.json")
    args = p.parse_args()
    run(parse_seeds(args.seeds), args.out)


if __name__ == "__main__":
    main()
