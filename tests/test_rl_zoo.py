"""The shipped presets run in RL Baselines3 Zoo unchanged, read by the zoo's own code.

``import rl_zoo3`` replaces Gymnasium's ``TimeLimit`` process-wide (``rl_zoo3.gym_patches``), so
the zoo runs in child processes only: the rest of the suite keeps Gymnasium's own wrapper.
"""

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import gymnasium as gym
import pytest

from agents import sb3
from agents.compare import compare

pytestmark = pytest.mark.skipif(importlib.util.find_spec("rl_zoo3") is None, reason="rl_zoo3 (a dev dependency) is not installed")
ROOT = Path(__file__).resolve().parents[1]

# In a child: for every shipped preset file, every id with a block and one id without (the zoo
# then takes `default`), the zoo's ExperimentManager reads the hyperparameters and builds the
# model its own way; print what it read and built.
ZOO_SCRIPT = r"""
import argparse, json, sys, tempfile, warnings
import yaml
import envs
from agents import sb3
from agents.algos import ZOO_NAMES
from rl_zoo3.exp_manager import ExperimentManager
warnings.simplefilter("ignore")
out = []
for algo in sb3.ALGOS:
    path = sb3.PRESETS_DIR / f"{algo}.yml"
    ids = [k for k in yaml.safe_load(path.read_text()) if k != "default"] + ["gridlab/Maze-v0"]
    for env_id in ids:
        manager = ExperimentManager(argparse.Namespace(), ZOO_NAMES.get(algo, algo), env_id, tempfile.mkdtemp(), n_timesteps=64,
                                    device="cpu", config=str(path), verbose=0, eval_freq=-1)
        hp, _ = manager.read_hyperparameters()
        model, _ = manager.setup_experiment()
        out.append({"algo": algo, "env_id": env_id, "hp": hp, "n_envs": model.n_envs,
                    "net_arch": model.policy.net_arch})
print(json.dumps(out, default=str))
"""


def test_the_zoo_builds_every_shipped_preset_as_the_lab_reads_it():
    proc = subprocess.run([sys.executable, "-c", ZOO_SCRIPT], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    cases = json.loads(proc.stdout.strip().splitlines()[-1])
    assert {c["algo"] for c in cases} == set(sb3.ALGOS) and len(cases) >= 2 * len(sb3.ALGOS)
    for c in cases:
        ours = sb3.load_hyperparams(c["env_id"], c["algo"])
        assert c["hp"] == json.loads(json.dumps(ours, default=str)), (c["algo"], c["env_id"])
        assert c["n_envs"] == ours.get("n_envs", 1), (c["algo"], c["env_id"])
        if "policy_kwargs" in ours:  # the MiniGrid presets keep SB3's default network, as the zoo's do
            assert c["net_arch"] == sb3._policy_kwargs(ours["policy_kwargs"])["net_arch"], (c["algo"], c["env_id"])


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


def test_a_zoo_recurrent_ppo_run_on_a_pomdp_is_judged_against_the_certified_bounds(tmp_path):
    from agents.pomdp_compare import compare_pomdp

    cmd = [sys.executable, "-m", "rl_zoo3.train", "--algo", "ppo_lstm", "--env", "gridlab/TMaze-v0",
           "--gym-packages", "envs", "--conf-file", str(sb3.PRESETS_DIR / "recurrentppo.yml"), "-n", "2048",
           "--env-kwargs", "length:2", "--hyperparams", "n_envs:2", "-f", str(tmp_path), "--seed", "0",
           "--device", "cpu", "--eval-freq", "-1"]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    model, env = sb3.load(tmp_path / "ppo_lstm" / "gridlab-TMaze-v0_1", device="cpu")
    assert model.config["algo"] == "recurrentppo" and type(model).__name__ == "RecurrentPPO"
    c = compare_pomdp(model, env, deterministic=True, tree_time_limit=5)
    assert c.kind == "recurrent" and c.lower == pytest.approx(4 * 0.98 ** 2, abs=1e-3)
    assert c.value_lower <= c.value_upper <= c.upper + 1e-9
