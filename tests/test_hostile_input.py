"""Hostile and wrong input gets a clear error and has no side effect: config files that try to
run code, checkpoints that try to run code, envs that do not follow their model, adversarial
SSPs, wrong argument types to public functions. Each test names the message it expects."""

import base64
import json
import pickle
import zipfile

import gymnasium as gym
import numpy as np
import pytest
import torch

from agents import dp, sb3
from envs import GridWorldEnv, TabularMDP, check_model

TINY_PPO = {"n_steps": 32, "batch_size": 32, "n_epochs": 1}


class _Payload:
    """Unpickling this creates a file: the side effect a hostile file would have."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_a_hyperparameter_yaml_that_runs_a_command_is_refused(tmp_path):
    marker = tmp_path / "pwned"
    hostile = tmp_path / "hp.yml"
    hostile.write_text(f"n_steps: !!python/object/apply:os.system ['touch {marker}']\n")
    with pytest.raises(ValueError, match=r"hp.yml: not a plain YAML file of hyperparameters \(could not determine a constructor"):
        sb3.load_hyperparams("gridlab/FourRooms-v0", "ppo", hostile)
    assert not marker.exists()


@pytest.mark.parametrize("expr", ["__import__('os').system('true')", "().__class__.__bases__[0].__subclasses__()",
                                  "dict(activation_fn=open)"])
def test_policy_kwargs_are_parsed_not_evaluated(expr):
    with pytest.raises(ValueError, match="is not allowed"):
        sb3.load_hyperparams("gridlab/FourRooms-v0", "ppo", {"policy_kwargs": expr}) and sb3._policy_kwargs(expr)


def test_policy_kwargs_of_the_zoo_still_read():
    kw = sb3._policy_kwargs("dict(net_arch=[64, 64], activation_fn=th.nn.ReLU, ortho_init=False)")
    assert kw["net_arch"] == [64, 64] and kw["activation_fn"] is torch.nn.ReLU and kw["ortho_init"] is False


def test_a_model_zip_with_a_hostile_pickle_is_not_unpickled(tmp_path):
    run = tmp_path / "run"
    sb3.train("gridlab/OpenRoom-v0", "ppo", total_timesteps=64, n_envs=1, hyperparams=TINY_PPO, out_dir=run,
              progress_bar=False, device="cpu", eval_freq=64)
    marker = tmp_path / "pwned"
    zpath = run / "model.zip"
    with zipfile.ZipFile(zpath) as z:
        files = {name: z.read(name) for name in z.namelist()}
    data = json.loads(files["data"])
    hostile = {":type:": "<class 'x'>", ":serialized:": base64.b64encode(pickle.dumps(_Payload(marker))).decode()}
    data["observation_space"] = hostile  # an entry the lab rebuilds: never unpickled
    files["data"] = json.dumps(data).encode()
    with zipfile.ZipFile(zpath, "w") as z:
        for name, blob in files.items():
            z.writestr(name, blob)
    model, _ = sb3.load(run, device="cpu")
    assert not marker.exists() and model.observation_space == gym.make("gridlab/OpenRoom-v0").observation_space
    data["my_callback"] = hostile  # an entry it cannot rebuild: refused by name
    files["data"] = json.dumps(data).encode()
    with zipfile.ZipFile(zpath, "w") as z:
        for name, blob in files.items():
            z.writestr(name, blob)
    with pytest.raises(ValueError, match="stores 'my_callback' as a pickle, which loading would run as code"):
        sb3.load(run, device="cpu")
    assert not marker.exists()


def test_a_world_model_checkpoint_with_a_hostile_pickle_is_refused(tmp_path):
    from generative.world_model import WorldModel

    marker = tmp_path / "pwned"
    path = tmp_path / "model.pt"
    torch.save({"family": "vae", "payload": _Payload(marker)}, path)
    with pytest.raises(ValueError, match="model.pt is not a gridlab world model .*weights_only"):
        WorldModel.load(path)
    assert not marker.exists()


def test_an_env_that_does_not_follow_its_model_is_refused():
    with pytest.raises(ValueError, match="which the model gives probability 0"):
        TabularMDP.from_gym(gym.make("Taxi-v4", fickle_passenger=True))


def test_a_gamma_one_model_that_earns_forever_is_not_certified():
    mdp = TabularMDP.from_arrays(np.ones((1, 1, 1)), np.array([1.0]), gamma=1.0)
    with pytest.warns(RuntimeWarning, match="cannot certify its values: state 0, action 0 pays 1"):
        sol = dp.solve(mdp, 1.0)
    assert not sol.converged and sol.error_bound == np.inf


@pytest.mark.parametrize("call, error, message", [
    (lambda: dp.solve("gridlab/FourRooms-v0"), TypeError, "mdp must be a TabularMDP, got str"),
    (lambda: dp.policy_evaluation(GridWorldEnv("S.G").mdp, "greedy", 0.9), ValueError, "policy must be 'uniform' or an array, got 'greedy'"),
    (lambda: check_model(GridWorldEnv("S.G"), GridWorldEnv("S.G")), TypeError, "mdp must be a TabularMDP, got GridWorldEnv"),
    (lambda: sb3.load_hyperparams("gridlab/FourRooms-v0", "ppo", 3), TypeError, "hyperparams must be a dict or a YAML file path, got int"),
    (lambda: dp.backward_induction(GridWorldEnv("S.G").mdp, -1), ValueError, "horizon must be an integer >= 0, got -1"),
])
def test_wrong_arguments_to_public_functions_are_named(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_score_names_an_env_passed_where_it_takes_none():
    from generative import collect_transitions, score, train_world_model

    env = gym.make("gridlab/Grid-v0", obs_mode="onehot", layout="S.G")
    model = train_world_model(collect_transitions(env, 200, seed=0), "vae", steps=2, progress=False, device="cpu")
    with pytest.raises(TypeError, match=r"n_samples must be an integer >= 1, got \w+ .*it takes no env"):
        score(model, env)
    with pytest.raises(ValueError, match="n_samples must be an integer >= 1, got 0"):
        score(model, n_samples=0)
    with pytest.raises(TypeError, match=r"model must be a WorldModel, got \w+"):
        score(env)


@pytest.mark.parametrize("call, message", [
    (lambda: check_model(GridWorldEnv("S.G"), GridWorldEnv("S.G").mdp, alpha=1.5), "alpha must be in \\(0, 1\\), got 1.5"),
    (lambda: TabularMDP.from_gym(gym.make("FrozenLake-v1"), verify=-3), "verify must be an integer >= 0 .*got -3"),
    (lambda: __import__("agents.ssp", fromlist=["certify_ssp"]).certify_ssp(GridWorldEnv("S.G").mdp, np.zeros(5)),
     "V must have shape \\(3,\\), got \\(5,\\)"),
])
def test_new_public_arguments_name_a_bad_value(call, message):
    with pytest.raises(ValueError, match=message):
        call()
