import gymnasium as gym
import numpy as np
import pytest
import scipy.sparse as sp

from envs import GridWorldEnv, TabularMDP
from agents.dp import policy_evaluation, solve


def test_from_gym_reads_frozen_lake_with_its_holes_and_goal_terminal():
    mdp = TabularMDP.from_gym(gym.make("FrozenLake-v1"))
    assert (mdp.n_states, mdp.n_actions) == (16, 4)
    assert np.flatnonzero(mdp.terminal).tolist() == [5, 7, 11, 12, 15]
    assert mdp.initial[0] == 1.0
    assert mdp.info["absorbing_state"] is None


def _monte_carlo_return(env, policy, gamma, episodes, seed):
    rng_env = env.unwrapped
    returns = []
    obs, _ = env.reset(seed=seed)
    for _ in range(episodes):
        obs, _ = env.reset()
        g, disc, done = 0.0, 1.0, False
        while not done:
            obs, r, term, trunc, _ = rng_env.step(int(policy[obs]))
            g += disc * r
            disc *= gamma
            done = term or disc < 1e-6
        returns.append(g)
    return np.mean(returns), np.std(returns) / np.sqrt(episodes)


def test_from_gym_respects_taxi_terminated_flags():
    """The exact V(s0) of the optimal policy matches Monte Carlo returns in the real env."""
    env = gym.make("Taxi-v4")
    mdp = TabularMDP.from_gym(env)
    assert mdp.n_states == 501 and mdp.info["absorbing_state"] == 500 and mdp.terminal[500]
    sol = solve(mdp, 0.99)
    v0 = float(mdp.initial @ sol.V)
    mean, se = _monte_carlo_return(env, sol.policy, 0.99, 2000, seed=0)
    assert abs(v0 - mean) < 4 * se + 1e-9
    assert v0 < 20  # ignoring the flag, drop-offs repeat forever and V(s0) is ~835


def test_from_gym_cliff_walking_model_matches_its_rewards():
    mdp = TabularMDP.from_gym(gym.make("CliffWalking-v1"))
    sol = solve(mdp, 1.0)
    assert sol.V[36] == pytest.approx(-13.0)  # 13 steps along the cliff edge, -1 each


def test_from_gym_refuses_an_env_without_a_model():
    with pytest.raises(ValueError, match="exposes no toy_text P dict"):
        TabularMDP.from_gym(gym.make("CartPole-v1"))


def test_from_arrays_accepts_dense_sparse_and_transition_rewards_alike():
    import mdptoolbox.example

    P, R = mdptoolbox.example.forest(S=5)
    dense = TabularMDP.from_arrays(P, R)
    sparse = TabularMDP.from_arrays([sp.csr_matrix(Pa) for Pa in P], R)
    assert (dense.P != sparse.P).nnz == 0
    Rsas = np.stack([np.repeat(R[:, a][:, None], 5, axis=1) for a in range(2)])
    assert np.allclose(TabularMDP.from_arrays(P, Rsas).R, R)
    assert np.allclose(TabularMDP.from_arrays(P, R[:, 0]).R, np.repeat(R[:, :1], 2, axis=1))


def _chain(p_stay=0.0):
    P = np.array([[[p_stay, 1 - p_stay], [0, 1.0]]])
    return P


def test_rows_not_summing_to_one_name_the_state_and_action():
    P = np.zeros((2, 3, 3))
    P[:, :, 0] = 1.0
    P[1, 2] = [0.5, 0.4, 0.0]
    with pytest.raises(ValueError, match="state 2, action 1 sums to 0.9"):
        TabularMDP.from_arrays(P, np.zeros(3))


def test_negative_and_non_finite_entries_are_refused():
    P = np.zeros((1, 2, 2))
    P[0, :, 0] = 1.0
    P[0, 1] = [1.5, -0.5]
    with pytest.raises(ValueError, match="negative entry at state 1, action 0"):
        TabularMDP.from_arrays(P, np.zeros(2))
    P[0, 1] = [np.nan, 1.0]
    with pytest.raises(ValueError, match="non-finite entry at state 1, action 0"):
        TabularMDP.from_arrays(P, np.zeros(2))


def test_shape_mismatch_is_refused():
    with pytest.raises(ValueError, match="must have shape \\(S\\*A, S\\)"):
        TabularMDP(sp.identity(3, format="csr"), np.zeros((2, 2)), np.zeros(2, bool), np.ones(2) / 2)
    with pytest.raises(ValueError, match="R must have shape"):
        TabularMDP.from_arrays(np.stack([np.eye(3)] * 2), np.zeros(4))


def test_entry_reward_builds_the_reward_matrix_of_a_grid_on_first_use():
    env = GridWorldEnv("S.H\n..G", slip=0.3, step_reward=-0.1, hole_reward=-1.0)
    mdp = env.mdp
    assert mdp.__dict__["_reward_matrix"] is None  # not built with the model
    rm = mdp.reward_matrix
    assert rm is mdp.reward_matrix and (rm != rm.multiply(mdp.P.astype(bool))).nnz == 0  # cached; P's pattern
    for s in range(mdp.n_states):
        for a in range(mdp.n_actions):
            for s2 in mdp.transitions(s, a)[0]:
                want = 0.0 if mdp.terminal[s] else {"G": 1.0, "H": -1.0}.get(str(env.layout.grid[tuple(env.state_rc[s2])]), -0.1)
                assert mdp.transition_reward(s, a, int(s2)) == want
    assert np.allclose(np.asarray(mdp.P.multiply(rm).sum(axis=1)).reshape(mdp.R.shape), mdp.R)
    P = mdp.P
    with pytest.raises(ValueError, match="entry_reward must have shape \\(6,\\)"):
        TabularMDP(P, mdp.R, mdp.terminal, mdp.initial, entry_reward=np.zeros(5))
    with pytest.raises(ValueError, match="entry_reward has a non-finite entry at state 2"):
        TabularMDP(P, mdp.R, mdp.terminal, mdp.initial, entry_reward=np.array([0, 0, np.inf, 0, 0, 0]))
    with pytest.raises(ValueError, match="not both"):
        TabularMDP(P, mdp.R, mdp.terminal, mdp.initial, reward_matrix=rm, entry_reward=np.zeros(6))


def test_policy_matrix_of_a_stochastic_policy_mixes_the_action_rows():
    mdp = GridWorldEnv("S.G", slip=0.0).mdp
    pi = np.tile([0.0, 0.5, 0.0, 0.5], (3, 1))
    P_pi, r_pi = mdp.policy_matrix(pi)
    assert P_pi[0].toarray().ravel().tolist() == [0.5, 0.5, 0.0]  # left bumps, right moves
    assert r_pi[1] == pytest.approx(0.5)  # right enters the goal
    with pytest.raises(ValueError, match="policy row of state 0 is not a probability vector"):
        mdp.policy_matrix(np.full((3, 4), 0.3))
    with pytest.raises(ValueError, match="policy action 7 at state 1 is outside \\[0, 4\\)"):
        mdp.policy_matrix(np.array([0, 7, 0]))


def test_state_distributions_are_exact_k_step_marginals():
    mdp = GridWorldEnv("S..G", slip=0.0).mdp
    d = mdp.state_distributions(np.ones(4, int), horizon=4)
    assert d.shape == (5, 4)
    assert d[:, 3].tolist() == [0, 0, 0, 1, 1]  # reaches the goal at step 3 and stays
    assert np.allclose(d.sum(axis=1), 1.0)


def test_state_distributions_match_monte_carlo_on_a_slippery_map():
    env = GridWorldEnv("S...\n.H..\n...G", slip=0.3)
    mdp = env.mdp
    pi = np.full(mdp.n_states, 1)
    d = mdp.state_distributions(pi, horizon=3)
    env.reset(seed=0)
    n = 4000
    counts = np.zeros(mdp.n_states)
    for _ in range(n):
        s, _ = env.reset()
        for _ in range(3):
            s, *_ = env.step(1)
        counts[s] += 1
    assert np.max(np.abs(counts / n - d[3])) < 4 * np.sqrt(0.25 / n)


def test_gym_dict_round_trip_preserves_the_model():
    mdp = GridWorldEnv("S.H\n..G", slip=0.2, hole_reward=-1).mdp

    class Fake:
        P = mdp.to_gym_dict()
        initial_state_distrib = mdp.initial

    back = TabularMDP.from_gym(Fake(), verify=0)  # a table with no env to step
    assert abs(back.P - mdp.P).max() < 1e-12
    assert np.allclose(back.R, mdp.R)
    assert (back.terminal == mdp.terminal).all()
    assert np.allclose(policy_evaluation(back, np.ones(6, int)), policy_evaluation(mdp, np.ones(6, int)))


def test_from_gym_reads_a_gridlab_env_back_with_its_start_distribution():
    env = gym.make("gridlab/SlipperyLake-v0")
    mdp, back = env.unwrapped.mdp, TabularMDP.from_gym(env)
    assert abs(back.P - mdp.P).max() == 0 and np.array_equal(back.R, mdp.R)
    assert np.array_equal(back.initial, mdp.initial) and back.initial[0] == 1.0  # the start cell, not uniform


def test_an_empty_row_of_P_is_named_not_an_index_error():
    P = np.zeros((1, 2, 2))
    P[0, 0, 1] = 1.0  # state 1 has no successor
    with pytest.raises(ValueError, match="state 1, action 0 sums to 0"):
        TabularMDP.from_arrays(P, np.zeros(2))


def test_dataclasses_replace_gives_a_model_with_another_gamma():
    import dataclasses

    mdp = gym.make("gridlab/SlipperyLake-v0").unwrapped.mdp
    mdp.reward_matrix  # built lazily from entry_reward
    half = dataclasses.replace(mdp, gamma=0.5)
    assert half.gamma == 0.5 and mdp.gamma == 0.99
    assert abs(half.reward_matrix - mdp.reward_matrix).max() == 0.0
    with pytest.raises(ValueError, match="give reward_matrix or entry_reward, not both"):
        TabularMDP(mdp.P, mdp.R, mdp.terminal, mdp.initial, reward_matrix=mdp.P.copy(), entry_reward=mdp.entry_reward)
