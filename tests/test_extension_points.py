"""Extension points have one declared contract and one registry: a family written outside the
package is trained, sampled, scored, saved and listed like the built-in ones."""

import subprocess
import sys
from pathlib import Path

import gymnasium as gym
import pytest
import torch

from generative import collect_transitions, run, score, train_world_model
from generative import registry
from generative.family import WorldModelFamily
from gridlab.cli import build_parser

PLUGINS = Path(__file__).parent / "plugins"
LAYOUT = "S..\n.H.\n..G"


@pytest.fixture
def softmax_family():
    sys.path.insert(0, str(PLUGINS))
    registry.register_family("softmax", "softmax_family:SoftmaxFamily")
    yield "softmax"
    registry.FAMILIES.pop("softmax")
    sys.path.remove(str(PLUGINS))


def test_a_family_from_outside_is_trained_sampled_scored_saved_and_listed(softmax_family, tmp_path):
    assert "softmax" in registry.family_names()
    help_text = build_parser()._subparsers._group_actions[0].choices["world"]._subparsers._group_actions[0] \
        .choices["train"].format_help()
    assert "softmax" in help_text
    env_kwargs = {"layout": LAYOUT, "slip": 0.2, "obs_mode": "onehot"}
    model = run.train("gridlab/Grid-v0", "softmax", env_kwargs=env_kwargs, samples=20_000, out_dir=tmp_path / "run",
                      progress=False, device="cpu")
    assert type(model.net).__name__ == "SoftmaxFamily" and model.history  # trained for its own default budget
    data = collect_transitions(gym.make("gridlab/Grid-v0", **env_kwargs), 50, seed=1)
    assert model.sample_next(data.obs.numpy(), data.action.numpy()).shape == tuple(data.next_obs.shape)
    loaded, held = run.load(tmp_path / "run")
    r = score(loaded, n_samples=400, horizon=3, n_rollouts=400, held_out=held)
    # a table of next-state distributions fitted to ~700 transitions per (s, a): near the scorer's noise floor
    assert r["tv"] < 3 * r["noise_floor"]["tv"] and r["hallucinated_mass"] < 0.01
    assert r["nll"] == pytest.approx(r["true_conditional_entropy"], abs=0.05)  # its likelihood is reported
    assert {p.name for p in run.save_score(tmp_path / "run", loaded, r)} == {"score.json", "score.png"}


def test_an_installed_plugin_is_found_through_its_entry_point_and_trained_by_the_cli(tmp_path):
    """What ``pip install`` of a package declaring ``[project.entry-points."gridlab.world_models"]`` gives."""
    site = tmp_path / "site"
    dist = site / "softmax_plugin-0.1.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: softmax-plugin\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[gridlab.world_models]\nsoftmax = softmax_family:SoftmaxFamily\n")
    env = {"PYTHONPATH": f"{site}:{PLUGINS}:{Path(__file__).parent.parent}", "PATH": "/usr/bin:/bin"}
    cmd = [sys.executable, "-m", "gridlab", "world", "train", "gridlab/Grid-v0", "--kw", "layout=S../.H./..G",
           "--family", "softmax", "--samples", "600", "--epochs", "1", "--no-progress", "--out", str(tmp_path / "run")]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "run" / "model.pt").is_file()
    helped = subprocess.run(cmd[:5] + ["--help"], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert "softmax" in helped.stdout


def test_the_registry_refuses_what_breaks_the_contract():
    with pytest.raises(ValueError, match="family 'vae' is already registered"):
        registry.register_family("vae", "generative.vae:ConditionalVAE")
    with pytest.raises(ValueError, match="lowercase identifier, got 'Bad Name'"):
        registry.register_family("Bad Name", "x:y")
    registry.register_family("notafamily", torch.nn.Linear)
    try:
        with pytest.raises(TypeError, match="must be a subclass of generative.family.WorldModelFamily"):
            registry.load_family("notafamily")
    finally:
        registry.FAMILIES.pop("notafamily")

    class Half(WorldModelFamily):  # no sample, no training_step
        defaults = {"steps": 1, "batch_size": 1, "lr": 1.0}
        quick_steps = 1

        def configure_optimizers(self, lr):
            return []

    registry.register_family("half", Half)
    try:
        with pytest.raises(TypeError, match="leaves sample, training_step unimplemented"):
            registry.load_family("half")
    finally:
        registry.FAMILIES.pop("half")
    with pytest.raises(TypeError, match="defaults must be a dict with keys"):
        type("NoBudget", (WorldModelFamily,), {"quick_steps": 1})
    with pytest.raises(ValueError, match="unknown family 'nope'; expected one of vae, gan, flow"):
        train_world_model(None, "nope")


@pytest.fixture
def dense_solver():
    from agents.solvers import METHODS, register_method

    sys.path.insert(0, str(PLUGINS))
    register_method("dense_vi", "dense_solver:dense_value_iteration", "dense value iteration", discounted_only=True)
    yield "dense_vi"
    METHODS.pop("dense_vi")
    sys.path.remove(str(PLUGINS))


def test_a_solver_from_outside_is_solved_with_tabled_reported_and_offered_by_the_cli(dense_solver, tmp_path):
    from agents import dp
    from gridlab import report
    from gridlab.solve import format_suite, solve_suite

    mdp = gym.make("gridlab/FourRooms-v0").unwrapped.mdp
    sol = dp.solve(mdp, 0.99, tol=1e-8, method="dense_vi")
    assert sol.converged and sol.error_bound <= 1e-8
    assert abs(sol.V - dp.solve(mdp, 0.99, method="pi").V).max() <= 2e-8
    help_text = " ".join(build_parser()._subparsers._group_actions[0].choices["solve"].format_help().split())
    assert "dense_vi: dense value iteration" in help_text
    rows = solve_suite(None, 1e-6)
    assert all(r["dense_vi"]["error_bound"] <= 1e-6 for r in rows) and "dense_vi it" in format_suite(rows)
    assert "dense_vi" not in solve_suite(1.0, 1e-6)[0]  # it needs gamma < 1
    png = tmp_path / "x.png"
    import matplotlib.figure

    matplotlib.figure.Figure(figsize=(1, 1)).savefig(png)
    html = report._suite_section({"suite": rows, "suite_figure": str(png)})
    from agents.solvers import method_names

    n = len(method_names(0.99, backends=("numpy", "numba")))  # the shipped CPU solvers and dense_vi
    assert "dense value iteration" in html and f"All {n} methods agree" in html and "<th>DENSE_VI</th>" in html


def test_agent_metrics_are_declared_once_and_a_new_one_is_one_line(monkeypatch):
    from stable_baselines3 import PPO

    from agents import compare as comparing
    from agents.callbacks import EXACT_METRICS

    assert set(EXACT_METRICS) <= set(comparing.METRICS) and set(comparing.CURVES) <= set(EXACT_METRICS)
    env = gym.make("gridlab/Grid-v0", layout=LAYOUT)
    c = comparing.compare(PPO("MlpPolicy", env, seed=0, device="cpu"), env)
    assert list(c.metrics())[:len(comparing.METRICS)] == list(comparing.METRICS)
    monkeypatch.setitem(comparing.METRICS, "live_states", "live states")
    monkeypatch.setattr(comparing.Comparison, "live_states", property(lambda self: self.env.mdp.live.size), raising=False)
    assert c.metrics()["live_states"] == 7.0
