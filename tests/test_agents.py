import json

import gymnasium as gym
import numpy as np
import pytest
import torch
from stable_baselines3 import DQN, PPO
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.vec_env import VecNormalize

from agents import sb3
from agents.compare import compare, extract

torch.set_num_threads(1)
TINY_PPO = {"n_steps": 32, "batch_size": 32, "n_epochs": 1}


def _corridor_ppo(gamma=0.9, p_right_logit=50.0, value=0.5):
    """A PPO whose policy is 'right' (almost surely) and whose critic says `value` everywhere."""
    env = gym.make("gridlab/Grid-v0", layout="S...G")
    model = PPO("MlpPolicy", env, gamma=gamma, seed=0, device="cpu")
    with torch.no_grad():
        model.policy.action_net.weight.zero_()
        model.policy.action_net.bias.copy_(torch.tensor([0.0, p_right_logit, 0.0, 0.0]))
        model.policy.value_net.weight.zero_()
        model.policy.value_net.bias.fill_(value)
    return model, env


def test_compare_on_a_hand_made_policy_with_known_values():
    model, env = _corridor_ppo(gamma=0.9, value=0.5)
    c = compare(model, env)
    assert c.gamma == 0.9  # the model's own gamma, not the world's 0.99
    V_pi = [0.9**3, 0.9**2, 0.9, 1.0, 0.0]  # closed form: gamma^(d-1) to the goal
    assert np.allclose(c.V_pi, V_pi, atol=1e-9) and np.allclose(c.V_star, V_pi, atol=1e-9)
    assert c.return_gap == pytest.approx(0.0, abs=1e-9) and c.policy_agreement == 1.0
    live_err = np.array(V_pi[:4]) - 0.5
    assert c.rmse_vs_pi == pytest.approx(np.sqrt(np.mean(live_err**2)), abs=1e-6)
    assert c.max_err_vs_pi == pytest.approx(0.5, abs=1e-6)


def test_compare_reports_the_episodes_under_the_env_time_limit():
    model, env = _corridor_ppo(gamma=0.9)
    env = gym.make("gridlab/Grid-v0", layout="S...G", max_episode_steps=3)  # the goal is 4 steps away
    c = compare(model, env)
    assert c.horizon == 3
    m = c.metrics()
    assert m["V_pi_s0_time_limit"] == 0.0 and m["V_star_s0_time_limit"] == 0.0  # no episode gets there
    assert c.V_star_s0 == pytest.approx(0.9**3)  # the infinite-horizon objective, named apart
    assert compare(model, env, horizon=None).metrics().keys().isdisjoint({"return_gap_time_limit"})
    assert compare(model, env, horizon=10).metrics()["V_pi_s0_time_limit"] == pytest.approx(0.9**3)
    with pytest.raises(ValueError, match="horizon must be 'env', an integer or None, got 'auto'"):
        compare(model, env, horizon="auto")


def test_compare_gamma_override_changes_the_reference():
    model, env = _corridor_ppo(gamma=0.9)
    assert compare(model, env, gamma=0.5).V_pi[0] == pytest.approx(0.5**3)


def test_return_gap_of_a_wrong_policy_is_exact():
    model, env = _corridor_ppo(p_right_logit=-50.0)  # never right: uniform over up, down, left
    c = compare(model, env)
    assert c.V_pi[0] == pytest.approx(0.0, abs=1e-12)  # never reaches the goal
    assert c.return_gap == pytest.approx(0.9**3)
    assert c.policy_agreement == 0.0


def test_visitation_weighting_puts_weight_on_states_the_policy_visits():
    model, env = _corridor_ppo()
    c = compare(model, env, weighting="visitation")
    assert c.weights.sum() == pytest.approx(1.0)
    assert c.weights[0] > c.weights[3] > 0 and c.weights[4] == 0.0


@pytest.mark.parametrize("obs_mode", ["index", "onehot", "coords", "image"])
def test_actor_critic_extraction_agrees_with_sb3_predict(obs_mode):
    env = gym.make("gridlab/OpenRoom-v0", obs_mode=obs_mode)
    model = PPO("MlpPolicy", env, seed=1, device="cpu", **TINY_PPO)
    model.learn(64)
    got = extract(model, env)
    obs = env.unwrapped.encode_batch(np.arange(env.unwrapped.n_states))
    actions, _ = model.predict(obs, deterministic=True)
    assert np.array_equal(got["pi"].argmax(axis=1), actions)
    obs_t, _ = model.policy.obs_to_tensor(obs)
    with torch.no_grad():
        assert np.allclose(got["V"], model.policy.predict_values(obs_t).numpy().ravel(), atol=1e-6)
    assert np.allclose(got["pi"].sum(axis=1), 1.0)


def test_dqn_extraction_is_max_q_and_greedy():
    env = gym.make("gridlab/OpenRoom-v0", obs_mode="onehot")
    model = DQN("MlpPolicy", env, seed=0, device="cpu", learning_starts=0)
    got = extract(model, env)
    obs = env.unwrapped.encode_batch(np.arange(25))
    with torch.no_grad():
        q = model.q_net(model.policy.obs_to_tensor(obs)[0]).numpy()
    assert np.allclose(got["Q"], q) and np.allclose(got["V"], q.max(axis=1))
    assert np.array_equal(got["pi"].argmax(axis=1), model.predict(obs, deterministic=True)[0])


def test_qrdqn_extraction_is_the_mean_of_its_quantiles_and_greedy():
    from sb3_contrib import QRDQN

    env = gym.make("gridlab/OpenRoom-v0", obs_mode="coords")
    model = QRDQN("MlpPolicy", env, seed=0, device="cpu", learning_starts=0, policy_kwargs={"n_quantiles": 5})
    got = extract(model, env)
    obs = env.unwrapped.encode_batch(np.arange(25))
    with torch.no_grad():
        quantiles = model.quantile_net(model.policy.obs_to_tensor(obs)[0]).numpy()
    assert quantiles.shape == (25, 5, 4)
    assert np.allclose(got["Q"], quantiles.mean(axis=1)) and np.allclose(got["V"], got["Q"].max(axis=1))
    assert np.array_equal(got["pi"].argmax(axis=1), model.predict(obs, deterministic=True)[0])


def test_reward_normalised_models_are_refused():
    venv = VecNormalize(make_vec_env("gridlab/OpenRoom-v0", n_envs=1, env_kwargs={"obs_mode": "onehot"}), norm_reward=True)
    model = PPO("MlpPolicy", venv, device="cpu", **TINY_PPO)
    with pytest.raises(ValueError, match="norm_reward=True"):
        compare(model, venv)


def test_presets_are_read_the_rl_zoo_way(tmp_path):
    hp = sb3.load_hyperparams("gridlab/SlipperyLake-v0", "ppo")
    assert hp["n_envs"] == 16 and hp["policy"] == "MlpPolicy"  # the id's block is complete on its own
    assert sb3.load_hyperparams("gridlab/OpenRoom-v0", "ppo")["n_envs"] == 8  # no block: default
    assert sb3.load_hyperparams("gridlab/Maze-v0", "ppo")["n_envs"] == 16  # its own block
    conf = tmp_path / "conf.yml"  # a zoo --conf-file: its block replaces the presets
    conf.write_text("gridlab/SlipperyLake-v0:\n  n_steps: 64\n  learning_rate: !!float 3e-4\n")
    assert sb3.load_hyperparams("gridlab/SlipperyLake-v0", "ppo", conf) == {"n_steps": 64, "learning_rate": 3e-4}
    flat = tmp_path / "flat.yml"  # flat keys override single presets, as --hyperparams key:value does
    flat.write_text("n_steps: 64\n")
    hp = sb3.load_hyperparams("gridlab/SlipperyLake-v0", "ppo", flat)
    assert hp["n_steps"] == 64 and hp["n_envs"] == 16
    assert sb3.load_hyperparams("gridlab/OpenRoom-v0", "dqn", {"batch_size": 7})["batch_size"] == 7
    with pytest.raises(ValueError, match="unknown algo 'sac'"):
        sb3.load_hyperparams("gridlab/OpenRoom-v0", "sac")


def test_train_writes_a_complete_run_directory_and_load_round_trips(tmp_path):
    run = tmp_path / "run"
    model = sb3.train("gridlab/OpenRoom-v0", "ppo", total_timesteps=512, seed=3, gamma=0.95, n_envs=2,
                      hyperparams=TINY_PPO, out_dir=run, progress_bar=False, device="cpu", eval_freq=128)
    assert {"model.zip", "config.json", "exact_eval.csv", "tb", "monitor", "eval"} <= {p.name for p in run.iterdir()}
    config = json.loads((run / "config.json").read_text())
    assert config["gamma"] == 0.95 and config["seed"] == 3 and "stable_baselines3" in config["versions"]
    rows = (run / "exact_eval.csv").read_text().splitlines()
    assert rows[0] == "timesteps,return_gap,relative_gap,rmse_vs_pi,rmse_vs_star,policy_agreement"
    assert len(rows) >= 4 and int(rows[-1].split(",")[0]) >= 512
    assert list((run / "tb").rglob("events.out.tfevents*"))
    loaded, env = sb3.load(run, device="cpu")
    obs = env.unwrapped.encode_batch(np.arange(25))
    assert np.array_equal(loaded.predict(obs, deterministic=True)[0], model.predict(obs, deterministic=True)[0])
    assert compare(loaded, env).gamma == 0.95
    assert not list(tmp_path.glob(".run.*"))  # no temporary directory left behind


def test_same_seed_gives_the_same_agent(tmp_path):
    def params(i):
        m = sb3.train("gridlab/OpenRoom-v0", "dqn", total_timesteps=600, seed=7, n_envs=1,
                      hyperparams={"learning_starts": 100}, out_dir=tmp_path / f"r{i}", progress_bar=False, device="cpu")
        return torch.cat([p.flatten() for p in m.policy.parameters()])

    assert torch.equal(params(0), params(1))


def test_train_refuses_an_existing_run_directory(tmp_path):
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "f").write_text("")
    with pytest.raises(ValueError, match="already exists"):
        sb3.train("gridlab/OpenRoom-v0", total_timesteps=10, out_dir=tmp_path / "x", progress_bar=False)


def test_rl_zoo_linear_schedules_decay_to_zero():
    from agents.sb3 import _schedule

    lr = _schedule("lin_1e-3")
    assert lr(1.0) == pytest.approx(1e-3) and lr(0.25) == pytest.approx(2.5e-4) and lr(0.0) == 0.0
    assert _schedule(3e-4) == 3e-4


def test_the_maze_goal_is_out_of_reach_of_uniform_exploration_within_its_time_limit():
    # why the Maze presets train with exploring starts (README, BENCHMARKS.md): exact, from the model
    env = gym.make("gridlab/Maze-v0")
    mdp = env.unwrapped.mdp
    d = mdp.state_distributions("uniform", horizon=env.spec.max_episode_steps)
    assert 1e-8 < d[-1][mdp.terminal].sum() < 1e-6


def test_exploring_starts_draws_every_live_state_and_keeps_an_explicit_start():
    from envs.wrappers import ExploringStarts

    env = ExploringStarts(gym.make("gridlab/FourRooms-v0"))
    mdp = env.unwrapped.mdp
    starts = np.array([env.reset(seed=i)[1]["state"] for i in range(3000)])
    live = np.flatnonzero(~mdp.terminal)
    assert set(starts) == set(live)  # every live state, no terminal one
    counts = np.bincount(starts, minlength=mdp.n_states)[live]
    assert counts.min() > 0.4 * counts.mean() and counts.max() < 1.6 * counts.mean()
    assert env.reset(options={"state": 5})[1]["state"] == 5
    a = [env.reset(seed=7)[1]["state"] for _ in range(2)]
    assert a[0] == a[1]  # the same seed, the same start
    with pytest.raises(TypeError, match="needs a gridlab env"):
        ExploringStarts(gym.make("CartPole-v1"))


@pytest.mark.parametrize("value, message", [
    ("os.system", "is not an importable gymnasium.Wrapper"),
    ("nowhere.Wrapper", "is not an importable gymnasium.Wrapper"),
    ("ExploringStarts", "is not an importable gymnasium.Wrapper"),
    ([{"envs.wrappers.ExploringStarts": "not-kwargs"}], "is not an importable gymnasium.Wrapper"),
])
def test_env_wrapper_names_only_gymnasium_wrappers(value, message):
    with pytest.raises(ValueError, match=message):
        sb3.env_wrapper({"env_wrapper": value})


def test_a_preset_env_wrapper_wraps_the_training_envs_only(tmp_path):
    from envs.wrappers import ExploringStarts

    wrap = sb3.env_wrapper({"env_wrapper": ["envs.wrappers.ExploringStarts", {"gymnasium.wrappers.TimeAwareObservation": {}}]})
    env = wrap(gym.make("gridlab/OpenRoom-v0"))
    assert isinstance(env.env, ExploringStarts)
    model = sb3.train("gridlab/FourRooms-v0", "ppo", total_timesteps=256, n_envs=2, out_dir=tmp_path / "r",
                      hyperparams={**TINY_PPO, "env_wrapper": "envs.wrappers.ExploringStarts"}, progress_bar=False, device="cpu")
    starts = set()
    for e in model.get_env().envs:
        assert isinstance(e, ExploringStarts)
        starts |= {e.reset()[1]["state"] for _ in range(20)}
    assert len(starts) > 10
    assert json.loads((tmp_path / "r" / "config.json").read_text())["hyperparams"]["env_wrapper"] == "envs.wrappers.ExploringStarts"
    _, env = sb3.load(tmp_path / "r", device="cpu")  # judged from the env's own start
    assert not isinstance(env, ExploringStarts) and env.reset(seed=0)[1]["state"] in env.unwrapped.start_states


def test_a_presets_callback_anneals_the_entropy_bonus_and_is_recorded(tmp_path):
    from agents.callbacks import EntropySchedule

    model = sb3.train("gridlab/OpenRoom-v0", "ppo", total_timesteps=256, n_envs=2, out_dir=tmp_path / "r",
                      eval_freq=256, hyperparams={**TINY_PPO, "ent_coef": 0.04,
                                   "callback": [{"agents.callbacks.EntropySchedule": {"final": 0.01, "end": 0.5}}]},
                      progress_bar=False, device="cpu")
    assert model.ent_coef == pytest.approx(0.01)  # past half of training: the final value
    config = json.loads((tmp_path / "r" / "config.json").read_text())
    assert config["hyperparams"]["callback"] == [{"agents.callbacks.EntropySchedule": {"final": 0.01, "end": 0.5}}]
    s = EntropySchedule(final=0.0, start=0.2, end=0.6)
    assert [s.coefficient(0.05, d) for d in (0.0, 0.2, 0.4, 0.6, 1.0)] == pytest.approx([0.05, 0.05, 0.025, 0.0, 0.0])


def test_a_presets_callback_must_name_an_sb3_callback():
    with pytest.raises(ValueError, match=r"callback: 'os.system' is not an importable stable_baselines3 BaseCallback"):
        sb3.preset_callbacks({"callback": "os.system"})
    with pytest.raises(ValueError, match="is not an importable stable_baselines3 BaseCallback"):
        sb3.preset_callbacks({"callback": ["envs.wrappers.ExploringStarts"]})
    with pytest.raises(ValueError, match=r"EntropySchedule needs 0 <= start < end <= 1, got start=0.9, end=0.5"):
        sb3.preset_callbacks({"callback": [{"agents.callbacks.EntropySchedule": {"start": 0.9, "end": 0.5}}]})
    with pytest.raises(ValueError, match="unexpected keyword argument 'finl'"):
        sb3.preset_callbacks({"callback": [{"agents.callbacks.EntropySchedule": {"finl": 0}}]})


def test_the_entropy_schedule_follows_the_timesteps_done_over_the_trainings_total():
    from stable_baselines3 import PPO
    from stable_baselines3.common.callbacks import BaseCallback, CallbackList

    from agents.callbacks import EntropySchedule

    class Record(BaseCallback):  # after the schedule: the coefficient each rollout trains with
        def __init__(self):
            super().__init__()
            self.seen = []

        def _on_rollout_start(self):
            self.seen.append((self.num_timesteps, self.model.ent_coef))

        def _on_step(self):
            return True

    model = PPO("MlpPolicy", gym.make("gridlab/OpenRoom-v0", obs_mode="onehot"), ent_coef=0.08, seed=0, device="cpu",
                **TINY_PPO)
    record = Record()
    model.learn(256, callback=CallbackList([EntropySchedule(final=0.0, start=0.0, end=1.0), record]))
    assert [t for t, _ in record.seen] == list(range(0, 256, 32))
    assert [c for _, c in record.seen] == pytest.approx([0.08 * (1 - t / 256) for t in range(0, 256, 32)])


def test_the_last_exact_evaluation_is_of_the_final_model_not_the_one_before_its_last_update(tmp_path):
    import csv

    from agents import sb3
    from agents.compare import compare

    model = sb3.train("gridlab/OpenRoom-v0", "ppo", total_timesteps=1024, seed=0, out_dir=tmp_path / "run",
                      progress_bar=False, device="cpu", eval_freq=1024)  # the last step's evaluation precedes PPO's last update
    with (tmp_path / "run" / "exact_eval.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert [float(r["timesteps"]) for r in rows] == [0.0, 1024.0]
    final = compare(model, gym.make("gridlab/OpenRoom-v0"), gamma=model.gamma, horizon=None).metrics()
    assert float(rows[-1]["return_gap"]) == pytest.approx(final["return_gap"], abs=1e-12)
