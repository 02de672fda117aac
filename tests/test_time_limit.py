"""Exact values of the episodes an env really runs (cut at its time limit), against Monte Carlo."""

import gymnasium as gym
import numpy as np
import pytest

from agents import dp
from envs import GridWorldEnv, TabularMDP

GAMMA = 0.99


def _discounted_returns(env, policy, n, seed=0):
    """Monte Carlo discounted returns of a stationary policy in the real env, time limit included."""
    returns = np.empty(n)
    env.reset(seed=seed)
    for i in range(n):
        env.reset()
        g, discount, done = 0.0, 1.0, False
        while not done:
            _, r, terminated, truncated, _ = env.step(int(policy[env.unwrapped.s]))
            g += discount * r
            discount *= GAMMA
            done = terminated or truncated
        returns[i] = g
    return returns


@pytest.mark.parametrize("env_id, kwargs, episodes", [
    ("FrozenLake-v1", {"map_name": "8x8"}, 1500),          # limit 100: 29% of episodes truncated
    ("gridlab/SlipperyLake-v0", {"max_episode_steps": 30}, 1500),
])
def test_monte_carlo_returns_match_the_finite_horizon_value_not_the_infinite_one(env_id, kwargs, episodes):
    env = gym.make(env_id, **kwargs)
    mdp = env.unwrapped.mdp if env_id.startswith("gridlab/") else TabularMDP.from_gym(env)
    policy = dp.solve(mdp, GAMMA).policy
    H = env.spec.max_episode_steps
    v_horizon = mdp.initial @ dp.policy_evaluation(mdp, policy, GAMMA, horizon=H)
    v_infinite = mdp.initial @ dp.policy_evaluation(mdp, policy, GAMMA)
    G = _discounted_returns(env, policy, episodes)
    se = G.std(ddof=1) / np.sqrt(G.size)
    assert abs(G.mean() - v_horizon) <= 3 * se
    assert abs(G.mean() - v_infinite) > 3 * se  # truncation matters here


def test_finite_horizon_evaluation_tends_to_the_infinite_horizon_value():
    mdp = GridWorldEnv("S...\n.H..\n...G", slip=0.2).mdp
    policy = dp.solve(mdp, GAMMA).policy
    V = dp.policy_evaluation(mdp, policy, GAMMA)
    assert np.allclose(dp.policy_evaluation(mdp, policy, GAMMA, horizon=5000), V, atol=1e-12)
    assert np.all(dp.policy_evaluation(mdp, policy, GAMMA, horizon=0) == 0.0)


def test_backward_induction_beats_every_stationary_policy_under_the_limit():
    mdp = gym.make("gridlab/SlipperyLake-v0").unwrapped.mdp
    H = 30
    fh = dp.backward_induction(mdp, H, GAMMA)
    stationary = dp.policy_evaluation(mdp, dp.solve(mdp, GAMMA).policy, GAMMA, horizon=H)
    assert np.all(fh.V >= stationary - 1e-12)
    assert mdp.initial @ fh.V > mdp.initial @ stationary + 0.1  # with 30 steps, haste pays
    assert np.allclose(dp.backward_induction(mdp, 3000, GAMMA).V, dp.solve(mdp, GAMMA, tol=1e-12).V, atol=1e-10)


def test_backward_induction_matches_policy_evaluation_of_its_own_policy():
    """Run the non-stationary policy forward exactly: its value is V*_H."""
    mdp = GridWorldEnv("S..\n.H.\n..G", slip=0.3).mdp
    H = 6
    fh = dp.backward_induction(mdp, H, 0.9)
    V = np.zeros(mdp.n_states)
    for k in range(H):  # k + 1 steps left
        P_pi, r_pi = mdp.policy_matrix(fh.policy[k].astype(np.int64))
        V = np.where(mdp.terminal, 0.0, r_pi + 0.9 * (P_pi @ V))
    assert np.allclose(V, fh.V, atol=1e-14)


@pytest.mark.parametrize("horizon", [-1, 2.5, "10", True])
def test_a_bad_horizon_is_named(horizon):
    mdp = GridWorldEnv("S.G").mdp
    with pytest.raises(ValueError, match="horizon must be an integer >= 0, got"):
        dp.backward_induction(mdp, horizon)
    with pytest.raises(ValueError, match="horizon must be an integer >= 0, got"):
        dp.policy_evaluation(mdp, np.ones(3, int), 0.9, horizon=horizon)
