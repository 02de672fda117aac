"""``gridlab demo``: the whole lab end to end, written up as one self-contained HTML report.

Stages: (1) solve the registered suite exactly; (2) train PPO and DQN on FourRooms and compare
them exactly with V^pi and V*; (3) train a world model of every registered family (VAE, GAN,
flow, ...) on a slippery grid and score them against the true dynamics; (4) train a VAE world model
of rendered frames of a slippery grid and score it exactly beside the pixel metrics (PSNR); (5)
write ``report.html`` and ``results.json``.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from envs.rundir import atomic_write_text
from gridlab.output import check_writable

__all__ = ["DemoBudget", "run_demo", "BUDGETS"]

AGENT_ENV = "gridlab/FourRooms-v0"
WORLD_KW = {"layout": "S...H\n.....\n..H..\n.....\nH...G", "slip": 0.2, "obs_mode": "onehot"}
PIXEL_KW = {"layout": "S..\n.H.\n..G", "slip": 0.3, "obs_mode": "pixels"}  # 12 x 12 frames


@dataclass(frozen=True)
class DemoBudget:
    agent_steps: int
    world_samples: int
    world_steps: float | str  # a share of each family's default steps, or "quick": its quick_steps
    score_samples: int
    horizon: int
    rollouts: int
    agent_evals: int = 10  # evaluations (Monte Carlo and exact) over each agent's training
    pixel_samples: int = 20_000  # transitions of the pixel world
    pixel_steps: int = 2000  # the pixel VAE's gradient steps
    pixel_codec_steps: int = 400  # its frame codec's


BUDGETS = {
    "default": DemoBudget(agent_steps=100_000, world_samples=100_000,
                          world_steps=0.75,
                          score_samples=1000, horizon=20, rollouts=2000),
    "quick": DemoBudget(agent_steps=6_000, world_samples=10_000, world_steps="quick",
                        score_samples=200, horizon=10, rollouts=300, agent_evals=4,
                        pixel_samples=5000, pixel_steps=400, pixel_codec_steps=250),
}


class _Stages:
    """One line per stage with its elapsed time, on stderr (stdout ends with the report's path)."""

    def __init__(self, total: int) -> None:
        self.total, self.i, self.t0 = total, 0, time.perf_counter()

    def start(self, what: str) -> float:
        self.i += 1
        print(f"[{self.i}/{self.total}] {what} ...", file=sys.stderr, flush=True)
        return time.perf_counter()

    def note(self, what: str) -> None:
        """A progress line inside a stage (one per model: stages run for minutes)."""
        print(f"      {what}", file=sys.stderr, flush=True)

    def done(self, t: float, note: str = "") -> None:
        print(f"      done in {time.perf_counter() - t:.1f} s{(': ' + note) if note else ''} "
              f"(total {time.perf_counter() - self.t0:.0f} s)", file=sys.stderr, flush=True)


def run_demo(out: str | Path = "gridlab-demo", quick: bool = False, device: str = "auto") -> Path:
    """Run the demo into ``out``; returns the path of ``report.html``."""
    import gymnasium as gym
    import numpy as np

    from agents import dp, sb3
    from agents.solvers import METHODS, method_names
    from agents.compare import compare, plot_learning_curves
    from envs.plotting import value_figure
    from generative import collect_transitions, score, train_world_model
    from generative.registry import family_names, load_family
    from generative.scoring import SCORE_KEYS
    from gridlab import report
    from gridlab.solve import solve_suite
    from generative.plotting import plot_rollouts, plot_score, score_limits

    out = Path(out)
    check_writable(out)
    budget = BUDGETS["quick" if quick else "default"]
    figs = out / "figures"
    figs.mkdir(exist_ok=True)
    stages = _Stages(5)
    results: dict[str, Any] = {"quick": quick, "budget": budget.__dict__, "started": time.strftime("%Y-%m-%d %H:%M:%S")}

    t = stages.start("solving the registered suite exactly ("
                     + ", ".join(METHODS[m].title for m in method_names(backends=("numpy", "numba"))) + ")")
    results["suite"] = solve_suite(None, 1e-6)
    env = gym.make(AGENT_ENV)
    sol = dp.solve(env.unwrapped.mdp, 0.99, tol=1e-10)
    results["suite_figure"] = str(figs / "fourrooms_vstar.png")
    value_figure(env.unwrapped, sol.V, sol.policy, f"V* and optimal policy, {AGENT_ENV}").savefig(
        results["suite_figure"], dpi=100)
    stages.done(t, f"{len(results['suite'])} worlds")

    t = stages.start(f"training PPO and DQN on {AGENT_ENV} ({budget.agent_steps:,} steps each) and comparing exactly")
    results["agents"], comparisons = {}, {}
    for algo in ("ppo", "dqn"):
        run = out / "runs" / f"{algo}_FourRooms"
        if run.exists():
            import shutil

            shutil.rmtree(run)
        stages.note(f"{algo}: training {budget.agent_steps:,} steps ...")
        t_model = time.perf_counter()
        model = sb3.train(AGENT_ENV, algo, total_timesteps=budget.agent_steps, seed=0, out_dir=run,
                          progress_bar=False, device="cpu", eval_freq=max(budget.agent_steps // budget.agent_evals, 500))
        c = comparisons[algo] = compare(model, env)
        results["agents"][algo] = {"run_dir": str(run), **c.metrics(), "horizon": c.horizon,
                                   "figure": str(figs / f"{algo}_comparison.png")}
        stages.note(f"{algo}: done in {time.perf_counter() - t_model:.0f} s, return gap {c.return_gap:.4f}")
    # V* is the same in every comparison: one colour scale for all the value panels
    ranges = [c.value_range() for c in comparisons.values()]
    results["value_range"] = [min(r[0] for r in ranges), max(r[1] for r in ranges)]
    for algo, c in comparisons.items():
        c.plot(results["agents"][algo]["figure"], value_range=tuple(results["value_range"]))
    plot_learning_curves({a: f"{r['run_dir']}/exact_eval.csv" for a, r in results["agents"].items()},
                         str(figs / "learning_curves.png"))
    results["learning_curves"] = str(figs / "learning_curves.png")
    stages.done(t, ", ".join(f"{a} gap {r['return_gap']:.4f}" for a, r in results["agents"].items()))

    t = stages.start(f"training {', '.join(f.upper() for f in family_names())} world models of a slippery 5x5 grid ({budget.world_samples:,} transitions)")
    wenv = gym.make("gridlab/Grid-v0", **WORLD_KW)
    data = collect_transitions(wenv, budget.world_samples, seed=0)
    train, held = data.split(0.9)
    results["world_models"], scored = {}, {}
    mdp = wenv.unwrapped.mdp
    rng = np.random.default_rng(0)
    for family in family_names():
        cls = load_family(family)
        steps = cls.quick_steps if budget.world_steps == "quick" else round(budget.world_steps * cls.defaults["steps"])
        stages.note(f"{family}: training {steps:,} steps and scoring ...")
        t_model = time.perf_counter()
        model = train_world_model(train, family, seed=0, device=device, steps=steps, progress=False)
        run = out / "runs" / f"world_{family}"
        run.mkdir(parents=True, exist_ok=True)
        model.save(run / "model.pt")
        r = score(model, n_samples=budget.score_samples, horizon=budget.horizon, n_rollouts=budget.rollouts,
                  held_out=held)
        scored[family] = (model, r)
        plot_rollouts(model, int(rng.choice(mdp.n_states, p=mdp.initial)), "uniform", 8, rng,
                      figs / f"world_{family}_rollout.png",
                      f"{family}: imagined (top) and real (bottom) rollouts, uniform policy", seed=1)
        results["world_models"][family] = {
            "run_dir": str(run), "device": str(model.device), "train_seconds": model.train_seconds, "steps": steps,
            **{k: r[k] for k in (*SCORE_KEYS, "rollout_tv", "noise_floor")},
            "nll": r.get("nll"), "true_conditional_entropy": r.get("true_conditional_entropy"),
            "score_figure": str(figs / f"world_{family}_score.png"), "rollout_figure": str(figs / f"world_{family}_rollout.png"),
        }
        stages.note(f"{family}: done in {time.perf_counter() - t_model:.0f} s, TV {r['tv']:.3f}")
    # the same quantity on the same scale in every model's figure
    results["score_limits"] = score_limits([r for _, r in scored.values()])
    for family, (model, r) in scored.items():
        plot_score(model, r, Path(results["world_models"][family]["score_figure"]), limits=results["score_limits"])
    stages.done(t, ", ".join(f"{f} TV {r['tv']:.3f}" for f, r in results["world_models"].items()))

    t = stages.start(f"training a VAE world model of rendered frames ({budget.pixel_samples:,} transitions of a "
                     "slippery 3x3 grid, 12 x 12 pixels) and scoring it exactly beside PSNR")
    penv = gym.make("gridlab/Grid-v0", **PIXEL_KW)
    ptrain, _ = collect_transitions(penv, budget.pixel_samples, seed=0).split(0.9)
    model = train_world_model(ptrain, "vae", seed=0, device=device, steps=budget.pixel_steps, progress=False,
                              frame_codec={"steps": budget.pixel_codec_steps})
    run = out / "runs" / "world_vae_pixels"
    run.mkdir(parents=True, exist_ok=True)
    model.save(run / "model.pt")
    r = score(model, n_samples=budget.score_samples, horizon=budget.horizon, n_rollouts=budget.rollouts)
    plot_rollouts(model, int(penv.unwrapped.start_states[0]), "uniform", 8, rng, figs / "pixels_vae_rollout.png",
                  "pixel VAE: imagined (top) and real (bottom) frames, uniform policy", seed=1)
    results["pixel_models"] = {"vae": {
        "run_dir": str(run), "device": str(model.device), "train_seconds": model.train_seconds,
        "steps": budget.pixel_steps, "samples": budget.pixel_samples, "frame_shape": list(penv.observation_space.shape),
        **{k: r[k] for k in (*SCORE_KEYS, "rollout_tv", "noise_floor", "pixel")},
        "rollout_figure": str(figs / "pixels_vae_rollout.png")}}
    stages.done(t, f"TV {r['tv']:.3f}, PSNR of samples {r['pixel']['psnr_samples']:.1f} dB")

    t = stages.start("writing the report")
    results["finished"] = time.strftime("%Y-%m-%d %H:%M:%S")
    atomic_write_text(out / "results.json", json.dumps(results, indent=1, default=str))
    atomic_write_text(out / "report.html", report.render(results))
    stages.done(t)
    return out / "report.html"
