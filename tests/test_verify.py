"""Models checked against the envs they describe, by stepping the envs themselves."""

import gymnasium as gym
import pytest

from envs import GridWorldEnv, TabularMDP, check_model

from conftest import SUITE_IDS

LAYOUT = "S...\n....\n...G"


@pytest.mark.parametrize("env_id", SUITE_IDS)
def test_every_registered_world_follows_its_model(env_id):
    env = gym.make(env_id)
    check = check_model(env, env.unwrapped.mdp, steps=500)
    assert check.steps == 500 and check.ks_pvalue > 1e-6


@pytest.mark.parametrize("env_id, kwargs", [("FrozenLake-v1", {}), ("FrozenLake-v1", {"map_name": "8x8"}),
                                            ("CliffWalking-v1", {}), ("Taxi-v4", {}), ("Taxi-v4", {"is_rainy": True})])
def test_toy_text_models_are_read_and_verified(env_id, kwargs):
    mdp = TabularMDP.from_gym(gym.make(env_id, **kwargs))
    assert check_model(gym.make(env_id, **kwargs), mdp, steps=1000).ks_pvalue > 1e-6


def test_fickle_taxi_is_refused_naming_the_pair():
    with pytest.raises(ValueError, match=r"state \d+, action \d: the env stepped to state \d+ .* probability 0"):
        TabularMDP.from_gym(gym.make("Taxi-v4", fickle_passenger=True))


def test_verify_zero_skips_the_check():
    assert TabularMDP.from_gym(gym.make("Taxi-v4", fickle_passenger=True), verify=0).n_states == 501


def test_a_wrong_slip_is_caught_by_the_frequency_test():
    env = GridWorldEnv(LAYOUT, slip=0.4)
    with pytest.raises(ValueError, match="frequencies disagree with the model over 3000 steps"):
        check_model(env, GridWorldEnv(LAYOUT, slip=0.2).mdp, steps=3000)


def test_a_wrong_reward_is_named():
    env = GridWorldEnv(LAYOUT, slip=0.4)
    with pytest.raises(ValueError, match=r"-> state 11: the env paid 1, the model says 2"):
        check_model(env, GridWorldEnv(LAYOUT, slip=0.4, goal_reward=2.0).mdp, steps=2000)


def test_a_wrong_terminal_flag_is_named():
    env = GridWorldEnv("S.H")
    wrong = GridWorldEnv("S.G", goal_reward=0.0).mdp  # same rewards, goal terminal where the env has a hole
    check_model(env, wrong, steps=200)  # both terminal: nothing differs
    live_hole = GridWorldEnv("S..").mdp
    with pytest.raises(ValueError, match=r"(terminated=True .* terminal=False|probability 0)"):
        check_model(env, live_hole, steps=200)


def test_check_model_names_a_wrong_argument():
    with pytest.raises(TypeError, match="env must be a Gymnasium env, got dict"):
        check_model({}, GridWorldEnv(LAYOUT).mdp)
    with pytest.raises(TypeError, match="mdp must be a TabularMDP, got str"):
        check_model(GridWorldEnv(LAYOUT), "FrozenLake")
    with pytest.raises(ValueError, match="steps must be >= 1, got 0"):
        check_model(GridWorldEnv(LAYOUT), GridWorldEnv(LAYOUT).mdp, steps=0)
