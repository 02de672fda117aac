"""Agents on POMDPs judged exactly: frame-stacked observations, the history-tree interval and Monte
Carlo for policies with memory (against exact values and against the real env), RecurrentPPO and
feed-forward agents trained and compared through ``agents.sb3`` and the CLI, and the belief picture."""

from __future__ import annotations

import json

import gymnasium as gym
import numpy as np
import pytest

import envs  # noqa: F401  (registers the ids)
from agents.pomdp_eval import memoryless_value, window_value
from agents.pomdp_history import history_tree_value, monte_carlo_value, value_range
from envs.pomdp_env import POMDPEnv
from envs.pomdp_worlds import t_maze, tiger


class Memoryless:
    """A memoryless table pi(a | o) as a RecurrentPolicy (memory: nothing)."""

    def __init__(self, pi):
        self.pi = np.asarray(pi, dtype=np.float64)

    def initial_state(self, n):
        return np.zeros(n)

    def step(self, obs, state, first):
        return self.pi[obs], state


class Window:
    """A deterministic policy on the last k (action, observation) pairs as a RecurrentPolicy: the
    memory is the window, flattened, with the action last chosen at its end."""

    def __init__(self, choose, k, n_obs):
        self.choose, self.k, self.n_obs = choose, k, n_obs

    def initial_state(self, n):
        return np.tile(np.array([-1, self.n_obs] * self.k + [-1]), (n, 1))

    def step(self, obs, state, first):
        state = state.copy()
        probs = np.zeros((len(obs), 4))
        for i in range(len(obs)):
            if not first[i]:  # shift in (the action just taken, what followed it)
                state[i, :-3] = state[i, 2:-1]
                state[i, -3:-1] = state[i, -1], obs[i]
            window = tuple(zip(state[i, :-1:2], state[i, 1:-1:2]))
            a = int(np.argmax(self.choose(window)))
            probs[i, a] = 1.0
            state[i, -1] = a
        return probs, state


def test_the_history_tree_brackets_the_exact_value_of_a_memoryless_policy_and_closes_on_it():
    from test_pomdp import random_pomdp

    m = tiger()
    rng = np.random.default_rng(0)
    pi = rng.dirichlet(np.ones(3), size=m.n_observations + 1)
    exact = memoryless_value(m, pi)
    loose = history_tree_value(m, Memoryless(pi), tol=1e-9, max_nodes=50)
    assert loose.lower <= exact <= loose.upper and loose.width > 1.0 and loose.method == "history tree"
    wider = history_tree_value(m, Memoryless(pi), tol=1e-9, max_nodes=5)
    assert wider.lower <= loose.lower and loose.upper <= wider.upper
    for seed in range(5):  # stochastic policies on random small POMDPs (discount 0.6): the tree closes
        small = random_pomdp(seed, S=3, A=2, Z=2)
        pi = np.random.default_rng(seed).dirichlet(np.ones(2), size=3)
        exact = memoryless_value(small, pi)
        tight = history_tree_value(small, Memoryless(pi), tol=2e-2, time_limit=60)
        assert tight.lower <= exact <= tight.upper and tight.width <= 2e-2


def test_the_history_tree_of_a_policy_with_memory_closes_on_its_exact_window_value():
    maze = t_maze(4, gamma=0.9)
    junction = maze.observations.index("junction")

    def remember(window):  # turn towards the cue if it is still in the window, else up
        cue = [o for _, o in window if o in (0, 1)]
        if window[-1][1] != junction:
            return [0, 1, 0, 0]
        return [0, 0, 1, 0] if cue and cue[0] == 1 else [1, 0, 0, 0]

    for k in (2, 4):
        exact = window_value(maze, remember, k)
        tree = history_tree_value(maze, Window(remember, k, maze.n_observations), tol=1e-9)
        assert tree.lower <= exact <= tree.upper and tree.width <= 1e-6
    assert window_value(maze, remember, 4) == pytest.approx(4 * 0.9 ** 4)


def test_monte_carlo_states_an_interval_that_holds_the_exact_value_and_is_seeded():
    m = tiger()
    pi = np.array([[0.1, 0.2, 0.7], [0.2, 0.1, 0.7], [0.05, 0.05, 0.9]])  # after a growl, mostly listen
    exact = memoryless_value(m, pi)
    mc = monte_carlo_value(m, Memoryless(pi), episodes=4000, seed=1)
    assert mc.method == "monte carlo" and mc.lower <= exact <= mc.upper
    assert mc.width < 0.1 * abs(exact)
    again = monte_carlo_value(m, Memoryless(pi), episodes=4000, seed=1)
    assert (again.lower, again.upper) == (mc.lower, mc.upper)


def test_value_range_holds_every_policy_and_refuses_what_it_cannot_bound():
    m = t_maze(3, gamma=0.9)
    lo, hi = value_range(m)
    exact = memoryless_value(m, np.full((m.n_observations + 1, m.n_actions), 0.25))
    assert m.b0 @ lo <= exact <= m.b0 @ hi
    with pytest.raises(ValueError, match="tol must be > 0"):
        history_tree_value(m, Memoryless(np.full((m.n_observations + 1, 4), 0.25)), tol=0)
    with pytest.raises(ValueError, match="episodes must be an integer >= 2"):
        monte_carlo_value(m, Memoryless(np.full((m.n_observations + 1, 4), 0.25)), episodes=1)

    class Broken(Memoryless):
        def step(self, obs, state, first):
            return np.ones((len(obs), 4)), state

    with pytest.raises(ValueError, match="action probabilities summing to 1"):
        history_tree_value(m, Broken(np.zeros(1)))


@pytest.mark.filterwarnings("ignore:.*alternative render modes")  # a model-made env has no spec to re-make
def test_a_frame_stacked_env_gives_the_window_window_value_reads():
    env = POMDPEnv(t_maze(2, gamma=0.9), frame_stack=2)
    from gymnasium.utils.env_checker import check_env
    from stable_baselines3.common.env_checker import check_env as sb3_check_env

    check_env(env)
    sb3_check_env(env)
    A, n = env.pomdp.n_actions, env.pomdp.n_observations + 1
    obs, _ = env.reset(seed=0)
    assert obs.shape == (2 * (A + 1 + n),) and env.window == ((-1, n - 1),) * 2
    np.testing.assert_array_equal(obs, env.encode_window(env.window))
    obs, *_ = env.step(1)
    assert env.window[0] == (-1, n - 1) and env.window[1] == (1, env.last_observation)
    np.testing.assert_array_equal(obs, env.encode_window(env.window))
    with pytest.raises(ValueError, match="frame_stack must be an integer >= 0"):
        POMDPEnv(tiger(), frame_stack=-1)


def test_the_belief_is_the_filter_of_the_episode_and_rgb_array_draws_it_on_the_grid():
    env = gym.make("gridlab/FourRoomsWalls-v0", render_mode="rgb_array")
    env.reset(seed=3)
    acts, obs = [], []
    for a in (1, 1, 2, 3):
        env.step(a)
        acts.append(a)
        obs.append(env.unwrapped.last_observation)
    base = env.unwrapped
    want = base.pomdp.filter(acts, obs, keep="last").beliefs[0, -1]
    np.testing.assert_allclose(base.belief, want)
    img = env.render()
    H, W = len(base.pomdp.info["layout"]), len(base.pomdp.info["layout"][0])
    assert img.shape == (H * 16, W * 16, 3) and img.dtype == np.uint8
    r, c = base.pomdp.info["state_rc"][base.state]
    assert tuple(img[r * 16, c * 16 + 8]) == (220, 30, 30)  # the hidden state outlined
    best = int(np.argmax(want))
    br, bc = base.pomdp.info["state_rc"][best]
    assert tuple(img[br * 16 + 8, bc * 16 + 8]) == (25, 70, 160)  # the most likely state darkest
    env.reset(seed=4)
    np.testing.assert_array_equal(base.belief, base.pomdp.b0)
    strip = POMDPEnv(tiger(), render_mode="rgb_array")
    strip.reset(seed=0)
    assert strip.render().shape == (16, 32, 3)


def test_recurrent_ppo_is_judged_by_its_history_tree_and_its_greedy_policy_against_the_real_env():
    from sb3_contrib import RecurrentPPO

    from agents.pomdp_compare import RecurrentSB3Policy, compare_pomdp

    env = gym.make("gridlab/TMaze-v0", length=2)
    model = RecurrentPPO("MlpLstmPolicy", env, seed=0, device="cpu", n_steps=64, batch_size=64,
                         policy_kwargs={"lstm_hidden_size": 16, "net_arch": [16]})
    model.learn(256)
    c = compare_pomdp(model, env, tol=1e-6, deterministic=True, tree_time_limit=30)
    assert c.kind == "recurrent" and c.value_method == "history tree" and c.value_upper - c.value_lower <= 1e-2
    # the greedy LSTM policy played in the env without its time limit (the exact value has none);
    # the hidden cue is the only randomness, so one episode per start state gives the expectation
    base = env.unwrapped
    gamma, by_start = base.pomdp.gamma, {}
    for episode in range(8):
        obs, _ = base.reset(seed=episode)
        s0, state, start, total, disc = base.state, None, np.ones(1, bool), 0.0, 1.0
        for _ in range(2000):  # gamma^2000 * 5 < 1e-17
            action, state = model.predict(obs, state=state, episode_start=start, deterministic=True)
            obs, reward, term, _, _ = base.step(int(action))
            start = np.zeros(1, bool)
            total += disc * reward
            disc *= gamma
            if term:
                break
        by_start[s0] = total
    expected = sum(base.pomdp.b0[s] * v for s, v in by_start.items())
    assert set(by_start) == set(np.flatnonzero(base.pomdp.b0))
    assert c.value_lower - 1e-9 <= expected <= c.value_upper + 1e-9
    policy = RecurrentSB3Policy(model, env)
    probs, _ = policy.step(np.array([env.unwrapped.pomdp.n_observations]), policy.initial_state(1), np.ones(1, bool))
    assert probs.shape == (1, 4) and probs.sum() == pytest.approx(1.0)
    text = c.table()
    assert "recurrent" in text and "certified (history tree)" in text


def test_train_and_compare_on_pomdp_ids_write_the_bounds_the_curves_and_the_figure(tmp_path, capsys):
    from gridlab.cli import main

    run = tmp_path / "tiger"
    assert main(["train", "gridlab/Tiger-v0", "--algo", "ppo", "--steps", "512", "--n-envs", "2", "--out", str(run),
                 "--no-progress"]) == 0
    config = json.loads((run / "config.json").read_text())
    assert config["gamma"] == 0.95  # the POMDP's own discount
    header = (run / "exact_eval.csv").read_text().splitlines()[0].split(",")
    assert header == ["timesteps", "value_lower", "value_upper", "lower", "upper", "normalised_score",
                      "normalised_score_upper", "relative_gap"]
    capsys.readouterr()
    assert main(["compare", str(run), "--time-limit", "10"]) == 0
    out = capsys.readouterr().out
    assert "on a POMDP" in out and "V*(b0), certified" in out and "memoryless" in out
    record = json.loads((run / "comparison.json").read_text())
    assert record["kind"] == "memoryless" and record["lower"] <= 19.3715 <= record["upper"] + 1e-3
    for name in ("comparison.png", "learning_curves.png"):
        assert (run / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert main(["compare", str(run), "--gamma", "0.9"]) == 2
    assert "--gamma does not apply" in capsys.readouterr().err
    from gridlab.explore import RunView

    with pytest.raises(ValueError, match="is an agent run on a POMDP .gridlab/Tiger-v0.: the explorer shows fully observed"):
        RunView(run)


def test_recurrentppo_and_frame_stacked_runs_train_load_and_compare(tmp_path):
    from agents import sb3
    from agents.pomdp_compare import compare_pomdp, pomdp_references

    rec = sb3.train("gridlab/TMaze-v0", "recurrentppo", total_timesteps=256, seed=0, env_kwargs={"length": 2},
                    n_envs=2, out_dir=tmp_path / "rec", progress_bar=False, eval_freq=128,
                    hyperparams={"n_steps": 64, "batch_size": 64, "policy_kwargs": "dict(lstm_hidden_size=8, net_arch=[8])"})
    rows = (rec.run_dir / "exact_eval.csv").read_text().splitlines()
    assert len(rows) >= 3 and rows[0].startswith("timesteps,value_lower,value_upper")
    model, env = sb3.load(rec.run_dir, device="cpu")
    assert type(model).__name__ == "RecurrentPPO"
    c_refs = pomdp_references(env.unwrapped.pomdp)
    c = compare_pomdp(model, env, deterministic=True, tree_time_limit=5, references=c_refs)
    assert c.kind == "recurrent" and c.lower <= c.upper
    sampled = compare_pomdp(model, env, references=c_refs, tree_time_limit=0.5, episodes=500)
    assert sampled.value_method == "monte carlo" and sampled.value_upper - sampled.value_lower > 0
    stacked = sb3.train("gridlab/TMaze-v0", "ppo", total_timesteps=256, seed=0, env_kwargs={"length": 2, "frame_stack": 3},
                        n_envs=2, out_dir=tmp_path / "stack", progress_bar=False, eval_freq=128, hyperparams={"n_steps": 64, "batch_size": 64})
    model, env = sb3.load(stacked.run_dir, device="cpu")
    c = compare_pomdp(model, env)
    assert c.kind == "frame stack" and c.frame_stack == 3 and c.value_method == "exact"
    assert c.value_lower == c.value_upper and c.uniform - 1e-9 <= c.upper


def test_the_4x3_maze_is_russell_and_norvigs_world_seen_through_its_east_and_west_walls():
    from gymnasium.utils.env_checker import check_env

    from agents.pomdp import solve
    from envs.pomdp_env import check_pomdp_env
    from envs.pomdp_worlds import maze_4x3

    m = maze_4x3()
    T = np.stack([Ta.toarray() for Ta in m.T])
    at = {name: i for i, name in enumerate(m.states)}
    north = m.actions.index("n")
    # from the bottom-left cell, north: 0.8 up, 0.1 east, 0.1 west into the wall (no move)
    row = T[north, at["r2c0"]]
    assert row[at["r1c0"]] == pytest.approx(0.8) and row[at["r2c1"]] == pytest.approx(0.1)
    assert row[at["r2c0"]] == pytest.approx(0.1) and row.sum() == pytest.approx(1.0)
    # east from the cell left of the pillar: 0.8 into the pillar (no move), 0.1 north and 0.1 south
    east = T[m.actions.index("e"), at["r1c0"]]
    assert east[at["r1c0"]] == pytest.approx(0.8) and east[at["r0c0"]] == east[at["r2c0"]] == pytest.approx(0.1)
    # the +1 and -1 cells pay and restart uniformly over the other nine
    for cell, reward in (("r0c3", 1.0), ("r1c3", -1.0)):
        assert np.all(m.R[at[cell]] == reward)
        restart = T[:, at[cell]]
        assert np.allclose(restart[:, [at["r0c3"], at["r1c3"]]], 0) and np.allclose(restart.sum(axis=1), 1)
        assert np.allclose(restart[restart > 0], 1 / 9)
    seen = {s: m.observations[int(m.O[0, at[s]].argmax())] for s in m.states}
    assert seen == {"r0c0": "left", "r0c1": "neither", "r0c2": "neither", "r0c3": "good", "r1c0": "both",
                    "r1c2": "left", "r1c3": "bad", "r2c0": "left", "r2c1": "neither", "r2c2": "neither", "r2c3": "right"}
    assert np.allclose(m.b0[[at["r0c3"], at["r1c3"]]], 0) and m.b0.max() == pytest.approx(1 / 9)
    env = gym.make("gridlab/Maze4x3-v0")
    check_env(env.unwrapped)
    assert check_pomdp_env(env) > 0
    sol = solve(m, tol=1e-2, time_limit=60)
    pi = np.full((m.n_observations + 1, 4), 0.25)
    assert memoryless_value(m, pi) <= sol.upper and sol.lower <= sol.upper <= sol.qmdp + 1e-9
