"""The exact model of MiniGrid worlds, judged against the real minigrid package: replays of the real
env step by step, the optimal policy's return, sampled steps of Dynamic-Obstacles' balls, and the
closed form against backward induction."""

import dataclasses
import sys
import warnings

import numpy as np
import pytest

pytest.importorskip("minigrid", reason="the minigrid extra is not installed (make installs it)")

from envs.minigrid import (MINIGRID_HINT, MiniGridMismatch, check_kernel, exact_model,  # noqa: E402
                           verify_minigrid)

DETERMINISTIC = ["MiniGrid-Empty-5x5-v0", "MiniGrid-Empty-Random-5x5-v0", "MiniGrid-DoorKey-5x5-v0",
                 "MiniGrid-Unlock-v0", "MiniGrid-KeyCorridorS3R1-v0", "MiniGrid-LavaCrossingS9N1-v0",
                 "MiniGrid-FourRooms-v0"]
# the layout each (id, seed) generated when the model was written (minigrid 3.2.0, numpy 2): a build
# whose seed draws another layout must fail here, not silently change the tables
DIGESTS = {("MiniGrid-DoorKey-5x5-v0", 0): "4bb943c35b1912c9", ("MiniGrid-Unlock-v0", 0): "4c94ae3fcba5a341",
           ("MiniGrid-FourRooms-v0", 0): "07ecc03f8528720c"}


@pytest.mark.parametrize("env_id", DETERMINISTIC)
def test_the_model_replays_the_real_env_and_its_optimal_policy_earns_exactly_v_star(env_id):
    m = exact_model(env_id, seed=1)
    report = verify_minigrid(m, episodes=2, seed=0)  # raises on the first step that differs
    assert report["steps"] > 0
    assert report["episodes"]["optimal"] == [pytest.approx(m.V_star(m.start, 0), abs=1e-12)] * 2
    assert 0 < m.V_star(m.start, 0) < 1


def test_dynamic_obstacles_ball_kernel_matches_the_envs_sampled_steps_and_its_optimal_return():
    m = exact_model("MiniGrid-Dynamic-Obstacles-5x5-v0", seed=0)
    assert not m.deterministic
    np.testing.assert_allclose(np.add.reduceat(m.prob, m.outcome_ptr[:-1]), 1.0, atol=1e-12)  # every pair's outcomes
    for t in (0, 50, m.max_steps - 1):  # one state's Q from its own rows equals the whole backup's
        whole = m._q(t, m.V_star_at(t + 1))
        np.testing.assert_allclose([m.q_values(s, t) for s in range(m.n_states)], whole, atol=1e-12)
        np.testing.assert_allclose(whole.max(axis=1), m.V_star_at(t), atol=1e-12)
    assert check_kernel(m, steps=6000, seed=1).ks_pvalue > 1e-6  # the env's own draws, frequency-tested
    report = verify_minigrid(m, episodes=120, seed=0, policies=("uniform", "optimal"))  # mean within 4 s.e.
    assert np.mean(report["episodes"]["optimal"]) > np.mean(report["episodes"]["uniform"])
    with pytest.raises(ValueError, match="is stochastic: the shortest-path closed form does not hold"):
        m.distance()


def test_dynamic_obstacles_derived_step_equals_one_run_of_step_per_path_bit_for_bit():
    derived = exact_model("MiniGrid-Dynamic-Obstacles-Random-5x5-v0", seed=3)
    stepped = exact_model("MiniGrid-Dynamic-Obstacles-Random-5x5-v0", seed=3, derived_step=False)
    assert derived.keys == stepped.keys
    for name in ("outcome_ptr", "next_state", "prob", "success", "penalty"):
        np.testing.assert_array_equal(getattr(derived, name), getattr(stepped, name), err_msg=name)
    assert derived.penalty.min() == -1.0 and derived.success.any()


def test_a_derived_step_that_the_env_does_not_follow_is_refused_naming_the_state(monkeypatch):
    import gymnasium as gym
    from minigrid.envs.dynamicobstacles import DynamicObstaclesEnv

    import envs.dynamic_obstacles as do

    monkeypatch.setattr(do, "PLACE_TRIES", 50)  # place_obj draws 101 times, not 50
    with pytest.raises(MiniGridMismatch, match=r"derived step disagrees with the env's own step from state \("):
        exact_model("MiniGrid-Dynamic-Obstacles-5x5-v0", seed=0)

    class Changed(DynamicObstaclesEnv):  # a step of its own: enumerated through it, never derived
        def step(self, action):
            return super().step(action)

    assert do.is_dynamic_obstacles(gym.make("MiniGrid-Dynamic-Obstacles-5x5-v0").unwrapped)
    assert not do.is_dynamic_obstacles(Changed(size=5))


def test_a_wrong_ball_kernel_is_caught_by_the_sampled_steps():
    m = exact_model("MiniGrid-Dynamic-Obstacles-5x5-v0", seed=0)
    first, counts = m.outcome_ptr[:-1], np.diff(m.outcome_ptr)
    prob = m.prob.copy()
    prob[first[counts > 2]] += 1.0  # one outcome at least half the time: a kernel the env does not follow
    prob /= np.repeat(np.add.reduceat(prob, first), counts)
    with pytest.raises(ValueError, match="frequencies disagree with the model"):
        check_kernel(dataclasses.replace(m, prob=prob), steps=6000, seed=1)


@pytest.mark.parametrize("env_id", ["MiniGrid-DoorKey-5x5-v0", "MiniGrid-Unlock-v0", "MiniGrid-LavaCrossingS9N1-v0"])
def test_the_closed_form_equals_backward_induction_at_every_state_and_time(env_id):
    m = exact_model(env_id, seed=2)
    table = m.V_star_table()
    closed = np.array([[m.V_star(s, t) for s in range(m.n_states)] for t in range(m.max_steps)])
    np.testing.assert_allclose(closed, table[:-1], atol=1e-12)
    t = m.max_steps - 3  # near the end, the goal is out of reach from most states
    assert (table[t] == 0).mean() > 0.5


def test_a_policys_exact_value_matches_monte_carlo_returns_of_the_real_env():
    import gymnasium as gym

    m = exact_model("MiniGrid-Empty-5x5-v0", seed=0)
    pi = np.tile([0.2, 0.2, 0.6], (m.n_states, 1))  # left, right, forward
    pi = np.pad(pi, ((0, 0), (0, m.n_actions - 3)))
    exact = m.value(pi)
    env = gym.make("MiniGrid-Empty-5x5-v0")
    rng = np.random.default_rng(0)
    returns = []
    for episode in range(1000):
        env.reset(seed=0)
        total, done = 0.0, False
        while not done:
            _, r, terminated, truncated, _ = env.step(int(rng.choice(3, p=[0.2, 0.2, 0.6])))
            total, done = total + float(r), terminated or truncated
        returns.append(total)
    se = np.std(returns) / np.sqrt(len(returns))
    assert abs(np.mean(returns) - exact) < 4 * se
    assert m.value(np.eye(m.n_actions)[[m.optimal_action(s, 0) for s in range(m.n_states)]]) == pytest.approx(
        m.V_star(m.start, 0), abs=1e-12)  # the shortest-path policy is optimal at t = 0


def test_state_of_a_live_env_follows_the_models_transitions():
    import gymnasium as gym

    m = exact_model("MiniGrid-DoorKey-5x5-v0", seed=0)
    env = gym.make("MiniGrid-DoorKey-5x5-v0")
    env.reset(seed=0)
    s = m.state_of(env)
    assert s == m.start
    for t in range(40):
        a = m.optimal_action(s, t)
        _, _, terminated, _, _ = env.step(a)
        if terminated:
            assert m.next_state[m.outcomes(s, a)].tolist() == [-1] and m.success[m.outcomes(s, a)].all()
            break
        s2 = m.state_of(env)
        assert [s2] == m.next_state[m.outcomes(s, a)].tolist()
        s = s2
    else:
        pytest.fail("the optimal policy did not reach the goal")


def test_the_layout_of_each_seed_is_the_recorded_one():
    for (env_id, seed), digest in DIGESTS.items():
        m = exact_model(env_id, seed=seed)
        assert m.layout_digest == digest, (env_id, seed)
        m.check_layout()
    m.layout_digest = "0000000000000000"
    with pytest.raises(ValueError, match="now generates layout .*, not the model's 0000000000000000"):
        m.check_layout()


def test_a_minigrid_whose_steps_differ_fails_the_replay_naming_the_first_step(monkeypatch):
    from minigrid.core.world_object import Door

    m = exact_model("MiniGrid-DoorKey-5x5-v0", seed=0)
    monkeypatch.setattr(Door, "toggle", lambda self, env, pos: False)  # a "version" where keys open no door
    with pytest.raises(MiniGridMismatch, match=r"optimal policy, episode 0, step \d+: action 'toggle' from state"):
        verify_minigrid(m, episodes=1, policies=("optimal",))


def test_the_time_free_mdp_holds_the_reachable_states_and_an_absorbing_end():
    from agents import dp

    m = exact_model("MiniGrid-DoorKey-5x5-v0", seed=0)
    mdp = m.mdp
    assert mdp.n_states == m.n_states + 1 and mdp.terminal[-1] and mdp.gamma == 1.0
    # undiscounted, the undated objective's optimum is the probability of ever succeeding: 1 here
    assert dp.solve(mdp, 0.999, tol=1e-9).V[0] == pytest.approx(0.999 ** (m.distance()[0] - 1), abs=1e-6)


# ---------------------------------------------------------------------- bad input
def test_bad_input_gets_one_clear_line(monkeypatch):
    import gymnasium as gym

    with pytest.raises(TypeError, match=r"exact_model needs a MiniGrid env, and CartPole-v1 is a CartPoleEnv"):
        exact_model("CartPole-v1")
    with pytest.raises(TypeError, match=r"exact_model needs a MiniGrid env or id, got .* \(FrozenLake-v1\)"):
        exact_model(gym.make("FrozenLake-v1"))
    with pytest.raises(MemoryError, match=r"has more than 1,000 reachable states \(max_states\); the estimate was"):
        exact_model("MiniGrid-DoorKey-8x8-v0", max_states=1000)
    import envs.resources

    monkeypatch.setattr(envs.resources, "physical_memory", lambda: 10 ** 6)
    with pytest.raises(MemoryError, match=r"the exact model of MiniGrid-DoorKey-16x16-v0 \(at most [\d,]+ states by "
                                          r"the estimate\) needs about"):
        exact_model("MiniGrid-DoorKey-16x16-v0")


@pytest.mark.parametrize("env_id, layouts", [("MiniGrid-Empty-Random-5x5-v0", 32), ("MiniGrid-DoorKey-5x5-v0", 48),
                                              ("MiniGrid-Dynamic-Obstacles-5x5-v0", 21)])
def test_the_reset_distribution_is_the_real_envs_reset_frequencies(env_id, layouts):
    """reset_distribution's probabilities against 2,000 of the real env's own resets (seeds
    0-1999): every drawn layout is one of the enumerated ones, and a chi-square test on the
    counts does not refuse them; E[V*(s0)] is the sum over layouts (expected_optimal_return)."""
    import gymnasium as gym
    from scipy.stats import chisquare

    from envs.minigrid import expected_optimal_return, layout_digest, reset_distribution

    dist = reset_distribution(env_id)
    assert len(dist) == layouts and sum(p for p, _ in dist) == pytest.approx(1.0, abs=1e-12)
    p = {m.layout_digest: q for q, m in dist}
    assert len(p) == layouts  # merged: one entry per distinct layout
    env, counts = gym.make(env_id).unwrapped, dict.fromkeys(p, 0)
    n = 2000
    for seed in range(n):
        env.reset(seed=seed)
        digest = layout_digest(env)
        assert digest in counts, f"seed {seed} drew a layout the enumeration does not have"
        counts[digest] += 1
    keys = sorted(p)
    assert chisquare([counts[k] for k in keys], [n * p[k] for k in keys]).pvalue > 1e-4
    exact = expected_optimal_return(env_id)
    assert exact["over"] == "reset distribution" and exact["layouts"] == layouts
    assert exact["value"] == pytest.approx(sum(q * m.V_star(m.start, 0) for q, m in dist))


def test_a_reset_that_cannot_be_enumerated_says_so_and_the_seed_set_is_used():
    """LavaCrossing shuffles with np_random directly: reset_distribution refuses it in one line,
    and expected_optimal_return over seeds is the mean of each seed's exact V*(s0)."""
    from envs.minigrid import expected_optimal_return, reset_distribution
    from envs.minigrid_draws import NotEnumerable

    with pytest.raises(NotEnumerable) as info:
        reset_distribution("MiniGrid-LavaCrossingS9N1-v0")
    assert "\n" not in str(info.value) and str(info.value)
    over = expected_optimal_return("MiniGrid-LavaCrossingS9N1-v0", seeds=[0, 1])
    assert over["over"] == "seeds" and over["layouts"] == 2
    assert over["value"] == pytest.approx(np.mean([exact_model("MiniGrid-LavaCrossingS9N1-v0", seed=s).V_star(0, 0)
                                                   for s in (0, 1)]))


def test_without_minigrid_a_minigrid_id_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "minigrid", None)
    with pytest.raises(ImportError) as info:
        exact_model("MiniGrid-DoorKey-5x5-v0")
    assert str(info.value) == MINIGRID_HINT and "\n" not in MINIGRID_HINT


# ---------------------------------------------------------------------- agents judged
def test_a_trained_agents_exact_value_matches_its_returns_in_the_real_wrapped_env():
    """PPO behind the zoo's FlatObsWrapper and VecNormalize: the exact value of its sampled policy
    equals the mean return of the agent acting on the real env's own observations."""
    import gymnasium as gym
    from minigrid.wrappers import FlatObsWrapper
    from stable_baselines3 import PPO
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.vec_env import VecNormalize

    from agents.minigrid_compare import compare_minigrid

    env_id = "MiniGrid-Empty-5x5-v0"
    venv = VecNormalize(make_vec_env(env_id, n_envs=4, seed=0, wrapper_class=FlatObsWrapper))
    agent = PPO("MlpPolicy", venv, n_steps=64, batch_size=64, seed=0, device="cpu").learn(2048)
    m = exact_model(env_id, seed=0)
    c = compare_minigrid(agent, m)
    assert c.V_uniform_s0 < c.V_star_s0 and c.V_pi_s0 <= c.V_star_s0 + 1e-12 and c.V_greedy_s0 <= c.V_star_s0 + 1e-12
    assert c.aliasing["states"] == m.n_states and c.aliasing["observations"] <= m.n_states
    venv.training = False
    env = FlatObsWrapper(gym.make(env_id))
    rng = np.random.default_rng(1)
    returns = []
    for episode in range(250):
        obs, _ = env.reset(seed=0)
        total, done = 0.0, False
        while not done:
            probs = agent.policy.get_distribution(agent.policy.obs_to_tensor(venv.normalize_obs(obs))[0]).distribution.probs
            p = probs.detach().numpy()[0].astype(np.float64)
            a = int(rng.choice(m.n_actions, p=p / p.sum()))
            obs, r, terminated, truncated, _ = env.step(a)
            total, done = total + float(r), terminated or truncated
        returns.append(total)
    se = np.std(returns) / np.sqrt(len(returns))
    assert abs(np.mean(returns) - c.V_pi_s0) < 4 * se + 1e-9, (np.mean(returns), se, c.V_pi_s0)


def test_gridlab_solve_on_a_minigrid_id_prints_v_star_checks_the_env_and_writes_the_model(tmp_path, capsys):
    import json

    from gridlab.cli import main

    assert main(["solve", "MiniGrid-DoorKey-5x5-v0", "--seed", "1", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "MiniGrid-DoorKey-5x5-v0 seed 1" in out and "260 states" in out
    assert "V*(s0, t=0) = 0.974800 under MiniGrid's objective" in out and "closed form: the shortest path" in out
    assert "checked against the real env" in out
    record = json.loads((tmp_path / "model.json").read_text())
    assert record["n_states"] == 260 and record["layout_digest"] == exact_model("MiniGrid-DoorKey-5x5-v0", seed=1).layout_digest
    values = np.load(tmp_path / "values.npz")
    assert values["V_star_t0"].shape == (260,) and values["V_star_t0"][0] == pytest.approx(0.9748)


def test_gridlab_solve_names_a_bad_minigrid_id_in_one_line(capsys):
    from gridlab.cli import main

    assert main(["solve", "MiniGrid-NoSuchWorld-v0"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "MiniGrid-NoSuchWorld-v0" in err, err


# ---------------------------------------------------------------------- train and compare runs
def _zoo_preset(folder):
    """The RL Zoo's own MiniGrid PPO preset (its ppo.yml), VecNormalize included, as a conf file."""
    import yaml

    from benchmarks.minigrid_agents import ZOO_MINIGRID_PPO

    path = folder / "zoo_minigrid.yml"
    path.write_text(yaml.safe_dump({"MiniGrid-Empty-5x5-v0": ZOO_MINIGRID_PPO}))
    return path


def test_gridlab_train_and_compare_a_minigrid_run_behind_the_zoos_wrappers(tmp_path, capsys):
    import json

    from agents import sb3
    from agents.minigrid_compare import EVAL_SEEDS, compare_minigrid_seeds
    from gridlab.cli import main

    run = tmp_path / "run"
    zoo = _zoo_preset(tmp_path)
    assert main(["train", "MiniGrid-Empty-5x5-v0", "--steps", "2048", "--hyperparams", str(zoo), "--out", str(run),
                 "--no-progress"]) == 0
    assert (run / "vecnormalize.json").is_file()  # normalize: true, saved as JSON, no pickle
    header = (run / "exact_eval.csv").read_text().splitlines()[0]
    assert header == ("timesteps,V_pi_s0,V_greedy_s0,V_star_s0,normalised_score,normalised_score_greedy,relative_gap,"
                      "critic_rmse_reached")
    capsys.readouterr()
    assert main(["compare", str(run)]) == 0
    out = capsys.readouterr().out
    assert "under MiniGrid's objective" in out and "normalised_score" in out
    saved = json.loads((run / "comparison.json").read_text())
    assert saved["seeds"] == list(EVAL_SEEDS) and len(saved["per_seed"]) == len(EVAL_SEEDS)
    assert saved["V_star_s0"] == pytest.approx(np.mean([exact_model("MiniGrid-Empty-5x5-v0", seed=s).V_star(0, 0)
                                                        for s in EVAL_SEEDS]))
    model, _ = sb3.load(run, device="cpu")  # the statistics read back give the same policy as those saved
    again = compare_minigrid_seeds(model, "MiniGrid-Empty-5x5-v0", EVAL_SEEDS[:2], env=model.vec_normalize)
    assert [c.V_pi_s0 for c in again.per_seed] == pytest.approx([r["V_pi_s0"] for r in saved["per_seed"][:2]], abs=1e-12)


def test_the_shipped_minigrid_ppo_preset_learns_with_no_vecnormalize(tmp_path):
    # the zoo's own preset (normalize: true) ends no better than uniform on this stack (BENCHMARKS.md);
    # gridlab's, at a small budget: 0.99, 0.99 and 0.96 of the way from uniform to V* on seeds 0-2
    from agents import sb3
    from agents.minigrid_compare import compare_minigrid_seeds

    model = sb3.train("MiniGrid-Empty-5x5-v0", "ppo", total_timesteps=24_576, seed=0, out_dir=tmp_path / "ppo",
                      progress_bar=False, device="cpu", eval_freq=10**9)
    assert model.config["hyperparams"]["normalize"] is False and not (tmp_path / "ppo" / "vecnormalize.json").exists()
    assert compare_minigrid_seeds(model, "MiniGrid-Empty-5x5-v0", [0]).per_seed[0].normalised_score >= 0.9


def test_the_shipped_minigrid_dqn_preset_learns(tmp_path):
    # the first DQN preset (normalised observations, 1-step returns) was worth 0 on DoorKey-5x5 at 1e5
    # steps (BENCHMARKS.md); this one, at a small budget on Empty-5x5: 1.0, 0.99 and 1.0 on seeds 0-2
    from agents import sb3
    from agents.minigrid_compare import compare_minigrid_seeds

    model = sb3.train("MiniGrid-Empty-5x5-v0", "dqn", total_timesteps=15_000, seed=0, out_dir=tmp_path / "dqn",
                      progress_bar=False, device="cpu", eval_freq=10**9)
    assert model.config["hyperparams"]["normalize"] is False and model.config["hyperparams"]["n_steps"] == 5
    assert compare_minigrid_seeds(model, "MiniGrid-Empty-5x5-v0", [0]).per_seed[0].normalised_score >= 0.9


def test_a_zoo_minigrid_run_is_judged_exactly_reading_its_vecnormalize_without_running_pickled_code(tmp_path):
    import json
    import pickle
    import subprocess

    from agents import sb3
    from agents.minigrid_compare import compare_minigrid
    from agents.vecnormalize import load_zoo_pickle

    root = __import__("pathlib").Path(__file__).resolve().parents[1]
    cmd = [sys.executable, "-m", "rl_zoo3.train", "--algo", "ppo", "--env", "MiniGrid-Empty-5x5-v0",
           "--conf-file", str(_zoo_preset(tmp_path)), "-n", "2048", "--seed", "0", "--log-folder",
           str(tmp_path), "--eval-freq", "-1", "--device", "cpu"]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=root, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    run = next((tmp_path / "ppo").iterdir())
    pkl = run / "MiniGrid-Empty-5x5-v0" / "vecnormalize.pkl"
    ours = load_zoo_pickle(pkl)
    with open(pkl, "rb") as f:
        theirs = pickle.load(f)  # the unrestricted reader, on a file this test just made
    np.testing.assert_array_equal(ours.obs_rms.mean, theirs.obs_rms.mean)
    fresh = subprocess.run([sys.executable, "-m", "gridlab", "compare", str(run)], capture_output=True, text=True,
                           cwd=root, timeout=300)  # a new process: nothing has imported minigrid yet
    assert fresh.returncode == 0 and "under MiniGrid's objective" in fresh.stdout, fresh.stderr[-2000:]
    assert (run / "comparison.png").is_file()
    saved = json.loads((run / "comparison.json").read_text())
    m = exact_model("MiniGrid-Empty-5x5-v0", seed=0)
    model, _ = sb3.load(run, device="cpu")
    assert saved["per_seed"][0]["V_pi_s0"] == pytest.approx(compare_minigrid(model, m, env=theirs).V_pi_s0, abs=1e-12)


def test_a_vecnormalize_pickle_that_names_other_code_is_refused(tmp_path):
    import os
    import pickle

    from agents.vecnormalize import load_zoo_pickle

    class Payload:
        def __reduce__(self):
            return (os.system, ("echo pwned",))

    path = tmp_path / "vecnormalize.pkl"
    path.write_bytes(pickle.dumps(Payload()))
    with pytest.raises(ValueError, match=r"names posix.system, which a VecNormalize file does not hold"):
        load_zoo_pickle(path)


def test_dqn_behind_vecnormalize_observations_only_is_saved_loaded_and_judged(tmp_path):
    # the shipped DQN preset has no VecNormalize (test above); a zoo-format override can add one
    from agents import sb3

    model = sb3.train("MiniGrid-Empty-5x5-v0", "dqn", total_timesteps=600, seed=0, out_dir=tmp_path / "dqn",
                      progress_bar=False, device="cpu", eval_freq=600,
                      hyperparams={"normalize": "dict(norm_obs=True, norm_reward=False)"})
    assert model.config["hyperparams"]["normalize"] == "dict(norm_obs=True, norm_reward=False)"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        loaded, _ = sb3.load(tmp_path / "dqn", device="cpu")
    assert not [str(w.message) for w in caught if "n_steps" in str(w.message)]  # its n-step buffer is SB3's own again
    assert type(loaded.replay_buffer).__name__ == "NStepReplayBuffer" and loaded.replay_buffer.n_steps == 5
    assert loaded.vec_normalize.norm_obs and not loaded.vec_normalize.norm_reward
    rows = (tmp_path / "dqn" / "exact_eval.csv").read_text().splitlines()
    assert len(rows) >= 2 and rows[0].startswith("timesteps,V_pi_s0")
