"""Sweeps on Ray Tune: every trial judged exactly, a failed trial reported while the rest finish,
interval estimates from rliable, bad specs refused before any trial, resume after the driver is killed."""

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

from gridlab.sweep import SweepSpec, aggregate, parse_seeds, run_sweep

WORLD = "gridlab/OpenRoom-v0"


def _rows(path):
    with open(path) as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def small_sweep(ray_session, tmp_path_factory):
    """OpenRoom x PPO x seeds 0, 1 x batch_size 64 (trains) and 1 (PPO refuses it: the trial fails)."""
    out = tmp_path_factory.mktemp("sweep")
    spec = SweepSpec("agents", worlds=(WORLD,), methods=("ppo",), seeds=(0, 1), steps=1024, evals=2,
                     hyperparams={"batch_size": [64, 1]})
    agg = run_sweep(spec, out, progress=False, reps=500, retries=1)  # a failing trial is tried twice, then reported
    return out, agg


def test_a_sweep_writes_its_trials_curves_aggregate_and_report(small_sweep):
    out, agg = small_sweep
    rows = _rows(out / "trials.csv")
    assert len(rows) == 4
    done = [r for r in rows if r["status"] == "done"]
    failed = [r for r in rows if r["status"] == "error"]
    assert [r["hp_batch_size"] for r in done] == ["64", "64"] and [r["hp_batch_size"] for r in failed] == ["1", "1"]
    assert all("batch_size" in r["error"] for r in failed)  # the error is reported, the other trials finished
    assert all(r["node"] and -1.0 <= float(r["normalised_score"]) <= 1.0 for r in done)
    curves = _rows(out / "curves.csv")
    assert sorted({c["name"] for c in curves}) == sorted(r["name"] for r in done)
    assert {float(c["timesteps"]) for c in curves} == {0.0, 512.0, 1024.0}  # exact metrics during training
    assert agg["ppo"]["runs"] == 2 and agg["ppo"]["runs_left_out"] == 2  # runs with a failed trial left out
    point, lo, hi = agg["ppo"]["iqm"]
    assert lo <= point <= hi
    assert json.loads((out / "aggregate.json").read_text()) == agg
    state = json.loads((out / "sweep.json").read_text())
    assert state["complete"] and state["failed"] == 2
    page = (out / "report.html").read_text()
    assert "Failed trials" in page and "IQM" in page and page.count("data:image/png;base64,") >= 3
    assert "Performance profiles" in page and "Per world" in page


def test_the_sweep_report_renders_in_a_headless_browser(small_sweep, open_in_chromium):
    seen = open_in_chromium(small_sweep[0] / "report.html")
    assert seen["errors"] == [] and seen["title"] == "gridlab sweep report"
    assert len(seen["widths"]) >= 3 and min(seen["widths"]) > 0
    assert max(seen["shrink"]) < 1.1, seen["shrink"]
    assert seen["wrapped"] == []


def test_a_trial_gives_the_numbers_of_the_same_run_made_directly(small_sweep, tmp_path):
    """Tune moves working directories and runs trials in other processes: the numbers must not move."""
    from agents import sb3
    from agents.compare import compare

    out, _ = small_sweep
    row = next(r for r in _rows(out / "trials.csv") if r["status"] == "done" and r["seed"] == "1")
    model = sb3.train(WORLD, "ppo", total_timesteps=1024, seed=1, hyperparams={"batch_size": 64}, out_dir=tmp_path / "run",
                      progress_bar=False, device="cpu", eval_freq=512)
    c = compare(model, gym.make(WORLD))
    assert float(row["normalised_score"]) == pytest.approx(c.normalised_score, abs=1e-9)
    assert float(row["return_gap"]) == pytest.approx(c.return_gap, abs=1e-9)


def test_the_normalised_score_is_one_for_the_optimal_policy_and_zero_for_the_uniform_one():
    from agents import dp
    from agents.compare import compare
    from stable_baselines3 import PPO

    env = gym.make(WORLD)
    model = PPO("MlpPolicy", env, seed=0, device="cpu")
    c = compare(model, env)
    mdp = env.unwrapped.mdp
    uniform = dp.policy_evaluation(mdp, np.full((mdp.n_states, 4), 0.25), c.gamma)
    expected = (mdp.initial @ c.V_pi - mdp.initial @ uniform) / (c.V_star_s0 - mdp.initial @ uniform)
    assert c.normalised_score == pytest.approx(expected, abs=1e-12)
    c.return_gap = 0.0  # the score of an optimal policy
    assert c.normalised_score == pytest.approx(1.0)


def test_aggregate_gives_rliable_intervals_over_runs_and_worlds():
    rows = [{"method": m, "world": w, "seed": s, "status": "done", "normalised_score": v}
            for m, base in (("a", 0.9), ("b", 0.2)) for w in ("x", "y") for s, v in enumerate([base - 0.05, base, base + 0.05])]
    agg = aggregate(rows, reps=500)
    assert agg["a"]["runs"] == 3 and agg["a"]["worlds"] == 2
    assert agg["a"]["mean"][0] == pytest.approx(0.9) and agg["b"]["median"][0] == pytest.approx(0.2)
    assert agg["a"]["iqm"][1] > agg["b"]["iqm"][2]  # intervals apart
    assert agg["a"]["optimality_gap"][0] == pytest.approx(0.1)
    assert agg["a"]["per_world"]["x"]["mean"][0] == pytest.approx(0.9)
    assert agg["a"]["probability_of_improvement"]["b"] == [1.0, 1.0, 1.0]  # every run of a beats every run of b
    assert agg["b"]["probability_of_improvement"]["a"] == [0.0, 0.0, 0.0]
    profile = agg["a"]["profile"]
    tau = np.array(profile["tau"])
    expected = [np.mean([v > t for r in rows if r["method"] == "a" for v in [r["normalised_score"]]]) for t in tau]
    assert profile["fraction"] == pytest.approx(expected) and all(np.array(profile["lo"]) <= np.array(profile["fraction"]))
    before = np.random.get_state()[1].copy()
    assert aggregate(rows, reps=500) == agg  # the bootstrap is seeded: the same rows give the same file
    assert (np.random.get_state()[1] == before).all()  # and the caller's global NumPy generator is left as it was


def test_the_fast_aggregates_equal_rliables():
    from rliable import library as rly
    from rliable import metrics as rm

    from gridlab.sweep import iqm, probability_of_improvement, score_distribution

    rng = np.random.default_rng(0)
    for n in range(1, 12):
        x = rng.integers(0, 5, (n, 3)) / 4  # ties on purpose
        y = rng.integers(0, 5, (n + 2, 3)) / 4
        assert iqm(x) == pytest.approx(rm.aggregate_iqm(x), abs=1e-12)
        assert probability_of_improvement(x, y) == pytest.approx(rm.probability_of_improvement(x, y), abs=1e-12)
        taus = np.linspace(-0.5, 1, 7)
        assert score_distribution(x, taus) == pytest.approx(rly.score_distributions(x, taus))


@pytest.mark.parametrize("change, message", [
    ({"worlds": ("gridlab/Nope-v0",)}, "unknown world 'gridlab/Nope-v0'"),
    ({"worlds": ("gridlab/Grid-v0",)}, "unknown world 'gridlab/Grid-v0'"),  # needs a layout
    ({"methods": ("sac",)}, "unknown algorithm 'sac'; expected one of ppo, a2c, dqn, qrdqn, recurrentppo"),
    ({"kind": "world", "methods": ("diffusion",)}, "unknown family 'diffusion'"),
    ({"hyperparams": {"learnin_rate": [1e-3]}}, "unknown hyperparameter 'learnin_rate' for ppo"),
    ({"hyperparams": {"learning_rate": 1e-3}}, "must be a non-empty list"),
    ({"hyperparams": {"callback": [["agents.callbacks.EntropySchedul"]]}}, "callback: 'agents.callbacks.EntropySchedul' "
     "is not an importable stable_baselines3 BaseCallback"),
    ({"hyperparams": {"env_wrapper": ["os.system"]}}, "env_wrapper: 'os.system' is not an importable gymnasium.Wrapper"),
    ({"steps": 0}, "steps must be an integer >= 1, got 0"),
    ({"seeds": ()}, "at least one of seeds"),
])
def test_a_bad_spec_is_refused_before_any_trial_with_its_name(tmp_path, change, message):
    fields = {"kind": "agents", "worlds": (WORLD,), "methods": ("ppo",), "seeds": (0,), "steps": 100, **change}
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        run_sweep(SweepSpec(**fields), tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_sweep_directories_of_another_kind_are_refused(tmp_path):
    spec = SweepSpec("agents", worlds=(WORLD,), methods=("ppo",), seeds=(0,), steps=100)
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("")
    with pytest.raises(ValueError, match="already exists and is not empty"):
        run_sweep(spec, tmp_path / "full")
    with pytest.raises(ValueError, match="not a sweep directory"):
        run_sweep(None, tmp_path / "full", resume=True)
    (tmp_path / "full" / "sweep.json").write_text('{"directory": "something else"}')
    with pytest.raises(ValueError, match="was not written by gridlab sweep"):
        run_sweep(None, tmp_path / "full", resume=True)


def test_parse_seeds_and_spec_files(tmp_path):
    assert parse_seeds("0-2,7") == (0, 1, 2, 7)
    with pytest.raises(ValueError, match="seeds must look like 0-4"):
        parse_seeds("a-b")
    path = tmp_path / "sweep.yml"
    path.write_text(f"kind: agents\nworlds: [{WORLD}]\nmethods: [ppo, dqn]\nseeds: 0-4\nsteps: 1000\n")
    spec = SweepSpec.from_file(path)
    assert spec.seeds == (0, 1, 2, 3, 4) and spec.methods == ("ppo", "dqn")
    path.write_text("kind: agents\nwrold: []\n")
    with pytest.raises(ValueError, match="unknown sweep field 'wrold'"):
        SweepSpec.from_file(path)


def test_the_cli_refuses_a_bad_sweep_in_one_line():
    proc = subprocess.run([sys.executable, "-m", "gridlab", "sweep", "agents", "--worlds", "gridlab/FourRoom-v0",
                           "--algos", "ppo", "--out", "/tmp/gridlab-never-written"], capture_output=True, text=True)
    assert proc.returncode == 2 and "unknown world 'gridlab/FourRoom-v0'" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and not Path("/tmp/gridlab-never-written").exists()


def test_a_sweep_resumed_after_its_driver_was_killed_reruns_no_finished_trial(ray_session, tmp_path):
    out = tmp_path / "sweep"
    script = ("import sys\nfrom gridlab.sweep import SweepSpec, run_sweep\n"
              f"run_sweep(SweepSpec('agents', worlds=({WORLD!r},), methods=('ppo',), seeds=(0, 1, 2, 3), steps=1024, evals=1),"
              f" {str(out)!r}, progress=False, reps=200)\n")
    env = {**os.environ, "RAY_ADDRESS": ray_session.get_runtime_context().gcs_address}
    driver = subprocess.Popen([sys.executable, "-c", script], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.time() + 180
        done = "trials/[!.]*/model.zip"  # a finished trial's directory; ".name.xxxx" is one being written
        while time.time() < deadline and not list(out.glob(done)):
            time.sleep(0.2)
        finished = {p.parent.name: p.stat().st_mtime_ns for p in out.glob(done)}
        driver.send_signal(signal.SIGKILL)
    finally:
        driver.kill()
        driver.wait()
    assert finished and not (out / "trials.csv").exists()  # killed part-way: nothing reads as complete
    assert not json.loads((out / "sweep.json").read_text())["complete"]
    run_sweep(None, out, resume=True, progress=False, reps=200)
    rows = _rows(out / "trials.csv")
    assert len(rows) == 4 and all(r["status"] == "done" for r in rows)
    for name, mtime in finished.items():  # finished before the kill: read back, not trained again
        assert (out / "trials" / name / "model.zip").stat().st_mtime_ns == mtime
    from agents import sb3
    from agents.compare import compare

    for r in rows:  # finished before the kill or restarted after it: the numbers of an uninterrupted run
        model = sb3.train(WORLD, "ppo", total_timesteps=1024, seed=int(r["seed"]), out_dir=tmp_path / f"direct{r['seed']}",
                          progress_bar=False, device="cpu", eval_freq=1024)
        assert float(r["normalised_score"]) == pytest.approx(compare(model, gym.make(WORLD)).normalised_score, abs=1e-9)
    assert json.loads((out / "sweep.json").read_text())["complete"]
    assert not list(out.glob("trials/.*"))  # what the killed trials were writing is cleared on resume


def test_ctrl_c_stops_a_sweep_as_interrupted_and_resumable(ray_session, tmp_path):
    """Ray Tune catches SIGINT and returns from fit with trials unfinished: the command must still
    end as interrupted (130, what finished, how to resume), with nothing reading as complete."""
    out = tmp_path / "sweep"
    env = {**os.environ, "RAY_ADDRESS": ray_session.get_runtime_context().gcs_address}
    driver = subprocess.Popen([sys.executable, "-m", "gridlab", "sweep", "agents", "--worlds", WORLD, "--algos", "ppo",
                               "--seeds", "0-3", "--steps", "1024", "--out", str(out)],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 180
        while time.time() < deadline and not list(out.glob("trials/[!.]*/model.zip")):
            time.sleep(0.2)
        driver.send_signal(signal.SIGINT)
        _, err = driver.communicate(timeout=120)
    finally:
        driver.kill()
        driver.wait()
    last = err.strip().splitlines()[-1]
    assert driver.returncode == 130, err
    assert last == f"gridlab: interrupted: `gridlab sweep --resume --out {out}` runs the rest"
    assert not (out / "trials.csv").exists() and not json.loads((out / "sweep.json").read_text())["complete"]
    run_sweep(None, out, resume=True, progress=False, reps=200)
    rows = _rows(out / "trials.csv")
    assert len(rows) == 4 and all(r["status"] == "done" for r in rows)


def test_a_world_model_sweep_scores_every_family_exactly(ray_session, tmp_path):
    spec = SweepSpec("world", worlds=(WORLD,), methods=("vae", "flow"), seeds=(0,), steps=60, samples=2000)
    agg = run_sweep(spec, tmp_path / "w", progress=False, reps=200)
    rows = _rows(tmp_path / "w" / "trials.csv")
    assert [r["method"] for r in rows] == ["flow", "vae"] and all(r["status"] == "done" for r in rows)
    for r in rows:  # the score is 1 - TV, and TV is the exact scorer's
        assert float(r["normalised_score"]) == pytest.approx(1.0 - float(r["tv"]))
        assert float(r["tv"]) >= float(r["noise_floor_tv"]) * 0.5
        assert (tmp_path / "w" / "trials" / r["name"] / "model.pt").is_file()
    assert set(agg) == {"vae", "flow"} and agg["vae"]["runs"] == 1



def test_a_sweep_takes_pomdp_worlds_and_agents_with_memory(ray_session, tmp_path):
    """T-maze x (memoryless PPO, RecurrentPPO): each trial judged against the certified bounds."""
    small = {"n_envs": [2], "n_steps": [64], "batch_size": [64]}  # the presets' rollouts are 2,048 steps
    spec = SweepSpec("agents", worlds=("gridlab/TMaze-v0",), methods=("ppo", "recurrentppo"), seeds=(0,), steps=512,
                     evals=2, hyperparams=small)
    agg = run_sweep(spec, tmp_path, progress=False, reps=200)
    rows = _rows(tmp_path / "trials.csv")
    assert [r["status"] for r in rows] == ["done", "done"], [r["error"] for r in rows]
    for r in rows:
        assert float(r["lower"]) <= float(r["upper"]) and float(r["value_lower"]) <= float(r["value_upper"])
        assert float(r["normalised_score"]) <= float(r["normalised_score_upper"])
    assert {r["method"]: r["kind"] for r in rows} == {"ppo": "memoryless", "recurrentppo": "recurrent"}
    assert {c["method"] for c in _rows(tmp_path / "curves.csv")} == {"ppo", "recurrentppo"}
    assert set(agg) >= {"ppo", "recurrentppo"}
    assert "gridlab/TMaze-v0" in (tmp_path / "report.html").read_text()


def test_a_sweep_takes_minigrid_worlds_judged_under_their_own_objective(ray_session, tmp_path):
    pytest.importorskip("minigrid", reason="the minigrid extra is not installed (make installs it)")
    spec = SweepSpec("agents", worlds=("MiniGrid-Empty-5x5-v0",), methods=("ppo",), seeds=(0,), steps=1024, evals=2)
    run_sweep(spec, tmp_path, progress=False, reps=200)
    (row,) = _rows(tmp_path / "trials.csv")
    assert row["status"] == "done", row["error"]
    assert 0 < float(row["V_star_s0"]) < 1 and float(row["V_pi_s0"]) <= float(row["V_star_s0"]) + 1e-12
    curves = _rows(tmp_path / "curves.csv")
    assert curves and all(c["V_pi_s0"] != "" and c["relative_gap"] != "" for c in curves)
    assert "MiniGrid-Empty-5x5-v0" in (tmp_path / "report.html").read_text()  # the report and its curves
    with pytest.raises(ValueError, match="unknown world 'MiniGrid-NoSuch-v0'"):
        SweepSpec("agents", worlds=("MiniGrid-NoSuch-v0",), methods=("ppo",), seeds=(0,)).check()
