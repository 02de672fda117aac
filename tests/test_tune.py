"""gridlab tune: Optuna + ASHA on Ray Tune, objective the exact normalised score averaged over seeds;
the best configuration written as a preset block that the lab and RL Baselines3 Zoo both read."""

import csv
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import yaml

from agents import sb3
from agents.compare import compare
from gridlab.tune import SEARCH_SPACES, check_space, tune_preset

WORLD = "gridlab/OpenRoom-v0"
ROOT = Path(__file__).resolve().parents[1]
SPACE = {"learning_rate": {"loguniform": [3e-4, 3e-3]}, "n_epochs": {"choice": [4, 10]}}


@pytest.fixture(scope="module")
def tuned(ray_session, tmp_path_factory):
    out = tmp_path_factory.mktemp("tune") / "t"
    return out, tune_preset(WORLD, "ppo", out, seeds=(0, 1, 2), steps=1024, trials=4, space=SPACE, progress=False)


def test_tune_tries_the_preset_first_and_keeps_the_best_mean_over_all_seeds(tuned):
    out, result = tuned
    with (out / "trials.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 4 and result["trials"] == 4
    preset = [r for r in rows if r["preset"] == "True"]
    assert len(preset) == 1 and float(preset[0]["learning_rate"]) == 1e-3 and preset[0]["n_epochs"] == "4"
    full = [r for r in rows if r["status"] == "done" and r["seeds_done"] == "3"]
    for r in full:  # the objective is the mean of the per-seed exact scores
        assert float(r["score"]) == pytest.approx(np.mean([float(r[f"score_s{s}"]) for s in (0, 1, 2)]))
    assert result["best_score"] == max(float(r["score"]) for r in full)
    if result["preset_score"] is not None:
        assert result["best_score"] >= result["preset_score"]
    assert set(result["best"]) == set(SPACE)


def test_the_best_preset_reproduces_its_score_when_trained_again(tuned, tmp_path):
    out, result = tuned
    best = out / "best.yml"
    hp = sb3.load_hyperparams(WORLD, "ppo", best)  # a zoo conf file: its block replaces the preset
    assert hp == {**sb3.load_hyperparams(WORLD, "ppo"), **result["best"], "n_timesteps": 1024}
    assert yaml.safe_load(best.read_text())[WORLD]["learning_rate"] == result["best"]["learning_rate"]
    model = sb3.train(WORLD, "ppo", seed=0, hyperparams=best, out_dir=tmp_path / "again",
                      progress_bar=False, device="cpu", eval_freq=1024)
    with (out / "trials.csv").open() as f:
        row = next(r for r in csv.DictReader(f) if r["score"] and float(r["score"]) == result["best_score"])
    assert compare(model, gym.make(WORLD)).normalised_score == pytest.approx(float(row["score_s0"]), abs=1e-12)


@pytest.mark.skipif(importlib.util.find_spec("rl_zoo3") is None, reason="rl_zoo3 (a dev dependency) is not installed")
def test_the_zoo_reads_the_tuned_block_as_the_lab_does(tuned):
    out, _ = tuned
    script = (
        "import argparse, json, tempfile, warnings\nimport envs\nfrom rl_zoo3.exp_manager import ExperimentManager\n"
        "warnings.simplefilter('ignore')\n"
        f"m = ExperimentManager(argparse.Namespace(), 'ppo', {WORLD!r}, tempfile.mkdtemp(), n_timesteps=64, device='cpu',"
        f" config={str(out / 'best.yml')!r}, verbose=0, eval_freq=-1)\n"
        "hp, _ = m.read_hyperparameters()\nmodel, _ = m.setup_experiment()\n"
        "print(json.dumps({'hp': hp, 'lr': model.learning_rate if isinstance(model.learning_rate, float) else None,"
        " 'n_epochs': model.n_epochs}, default=str))\n")
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    zoo = json.loads(proc.stdout.strip().splitlines()[-1])
    ours = sb3.load_hyperparams(WORLD, "ppo", out / "best.yml")
    assert zoo["hp"] == json.loads(json.dumps(ours, default=str))
    assert zoo["n_epochs"] == ours["n_epochs"]


@pytest.mark.parametrize("space, message", [
    ({"learning_rat": {"uniform": [0.1, 0.2]}}, "unknown hyperparameter 'learning_rat' for ppo"),
    ({"learning_rate": {"normal": [0.1, 0.2]}}, "learning_rate: expected one of"),
    ({"learning_rate": {"loguniform": [0.0, 0.2]}}, "low < high and low > 0"),
    ({"learning_rate": {"uniform": [0.3, 0.2]}}, "low < high"),
    ({"n_epochs": {"int": [1.5, 4]}}, "integer bounds"),
    ({"n_epochs": {"choice": []}}, "non-empty list"),
    ({}, "non-empty mapping"),
])
def test_a_bad_search_space_is_named(space, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        check_space("ppo", space)


def test_every_shipped_search_space_is_valid():
    for algo, space in SEARCH_SPACES.items():
        check_space(algo, space)


def test_the_cli_refuses_bad_tuning_in_one_line(tmp_path):
    for args, message in (([WORLD, "ppo", "--seeds", "0,1"], "at least 3 distinct seeds"),
                          (["gridlab/Nowhere-v0", "ppo"], "unknown world 'gridlab/Nowhere-v0'")):
        out = tmp_path / "never"
        proc = subprocess.run([sys.executable, "-m", "gridlab", "tune", *args, "--out", str(out)],
                              capture_output=True, text=True, cwd=ROOT)
        assert proc.returncode == 2 and message in proc.stderr, proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1 and not out.exists()
