"""The shipped presets run in RL Baselines3 Zoo unchanged, read by the zoo's own code."""

import argparse
import subprocess
import sys
from pathlib import Path

import gymnasium as gym
import pytest
import yaml

from agents import sb3
from agents.compare import compare

rl_zoo3 = pytest.importorskip("rl_zoo3")
from rl_zoo3.exp_manager import ExperimentManager  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CASES = [(algo, env_id) for algo in sb3.ALGOS
         for env_id in [k for k in yaml.safe_load((sb3.PRESETS_DIR / f"{algo}.yml").read_text()) if k != "default"]
         + ["gridlab/Maze-v0"]]  # an id without a block of its own: the zoo takes `default`


@pytest.mark.parametrize("algo, env_id", CASES)
def test_the_zoo_builds_every_shipped_preset_as_the_lab_reads_it(algo, env_id, tmp_path):
    manager = ExperimentManager(argparse.Namespace(), algo, env_id, str(tmp_path), n_timesteps=64, device="cpu",
                                config=str(sb3.PRESETS_DIR / f"{algo}.yml"), verbose=0, eval_freq=-1)
    zoo_hp, _ = manager.read_hyperparameters()
    assert zoo_hp == sb3.load_hyperparams(env_id, algo)
    model, _ = manager.setup_experiment()  # the zoo's own preprocessing and model construction
    assert model.n_envs == zoo_hp.get("n_envs", 1)
    assert model.policy.net_arch == sb3._policy_kwargs(zoo_hp["policy_kwargs"])["net_arch"]


def test_a_zoo_training_run_is_compared_exactly(tmp_path):
    cmd = [sys.executable, "-m", "rl_zoo3.train", "--algo", "ppo", "--env", "gridlab/FourRooms-v0",
           "--gym-packages", "envs", "--conf-file", str(sb3.PRESETS_DIR / "ppo.yml"), "-n", "1024",
           "-f", str(tmp_path), "--seed", "0", "--device", "cpu", "--eval-freq", "-1"]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    run = tmp_path / "ppo" / "gridlab-FourRooms-v0_1"
    model, env = sb3.load(run, device="cpu")
    assert model.config["source"] == "rl_zoo3" and model.n_steps == 128
    c = compare(model, env)
    assert c.horizon == gym.spec("gridlab/FourRooms-v0").max_episode_steps
    assert 0.0 <= c.return_gap <= c.V_star_s0 and 0.0 <= c.policy_agreement <= 1.0
