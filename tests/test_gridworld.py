import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env as gym_check_env
from scipy import stats

from envs import GridWorldEnv, OBS_MODES, required_kwargs
from envs.layouts import ONE_WAY

from conftest import GRID_KW, SUITE_IDS


def _make(env_id, **kw):
    extra = GRID_KW if required_kwargs(env_id) else {}
    return gym.make(env_id, **extra, **kw)


@pytest.mark.parametrize("obs_mode", OBS_MODES)
@pytest.mark.parametrize("env_id", SUITE_IDS + ["gridlab/Grid-v0"])
def test_every_id_and_obs_mode_passes_gymnasium_and_sb3_checkers(env_id, obs_mode):
    from stable_baselines3.common.env_checker import check_env as sb3_check_env

    env = _make(env_id, obs_mode=obs_mode)
    gym_check_env(env.unwrapped, skip_render_check=True)
    sb3_check_env(env.unwrapped, warn=False)
    assert env.spec.max_episode_steps > 0


@pytest.mark.parametrize("obs_mode", OBS_MODES)
def test_encode_decode_round_trip_for_every_state(obs_mode):
    env = _make("gridlab/SlipperyLake-v0", obs_mode=obs_mode).unwrapped
    S = env.n_states
    for s in range(S):
        obs = env.encode(s)
        assert env.observation_space.contains(obs)
        assert env.decode(obs) == s
    assert np.array_equal(env.decode_batch(env.encode_batch(np.arange(S))), np.arange(S))


@pytest.mark.parametrize(
    "obs_mode, bad",
    [
        ("index", 10_000),
        ("onehot", np.full(64, 1 / 64, np.float32)),
        ("coords", np.array([0.07, 0.5], np.float32)),  # between rows 0 and 1
        ("image", np.zeros((4, 8, 8), np.float32)),  # no agent
        ("pixels", np.zeros((32, 32, 3), np.uint8)),  # a black frame
    ],
)
def test_decode_returns_minus_one_for_observations_of_no_state(obs_mode, bad):
    env = _make("gridlab/SlipperyLake-v0", obs_mode=obs_mode).unwrapped
    assert env.decode(bad) == -1


def test_image_with_agent_on_a_wall_decodes_to_minus_one():
    env = _make("gridlab/FourRooms-v0", obs_mode="image").unwrapped
    obs = env.encode(0).copy()
    obs[3] = 0.0
    obs[3, 0, 0] = 1.0  # border wall
    assert env.decode(obs) == -1


def test_reset_from_a_chosen_state():
    env = _make("gridlab/FourRooms-v0")
    obs, info = env.reset(seed=0, options={"state": 17})
    assert obs == 17 and info["state"] == 17
    with pytest.raises(ValueError, match="options\\['state'\\] must be in \\[0, 104\\), got 104"):
        env.reset(options={"state": 104})


def test_reset_is_uniform_over_start_cells():
    env = GridWorldEnv("S.S.G")
    env.reset(seed=0)
    starts = [env.reset()[0] for _ in range(2000)]
    assert set(starts) == {0, 2}
    assert abs(np.mean(np.array(starts) == 0) - 0.5) < 0.05


def test_step_frequencies_rewards_and_termination_match_the_exact_model():
    """Sample env.step from every live (s, a) of a slippery map and test it against mdp (chi-square)."""
    env = GridWorldEnv("S..H\n.#..\n...G", slip=0.3, hole_reward=-1.0, step_reward=-0.01)
    mdp = env.mdp
    env.reset(seed=123)
    n = 600
    p_values = []
    for s in mdp.live:
        for a in range(4):
            nxt, prob = mdp.transitions(s, a)
            counts = dict.fromkeys(nxt.tolist(), 0)
            for _ in range(n):
                env.reset(options={"state": int(s)})
                obs, r, term, trunc, info = env.step(a)
                counts[obs] += 1  # KeyError if the env reaches a state the model forbids
                assert r == pytest.approx(mdp.transition_reward(s, a, obs))
                assert term == bool(mdp.terminal[obs])
                assert not trunc
            if len(nxt) > 1:
                p_values.append(stats.chisquare([counts[k] for k in nxt.tolist()], n * prob).pvalue)
    assert len(p_values) > 20
    # Bonferroni at family-wise level 1e-3
    assert min(p_values) > 1e-3 / len(p_values)


def test_expected_reward_is_the_probability_weighted_transition_reward():
    env = GridWorldEnv("S..H\n...G", slip=0.4, hole_reward=-2.0, step_reward=-0.1)
    mdp = env.mdp
    s = int(env.cell_to_state[0, 2])  # next to the hole: moving right enters it w.p. 0.6
    # right: hole w.p. 0.6; slip up: border, stays (-0.1); slip down: floor (-0.1)
    assert mdp.R[s, 1] == pytest.approx(0.6 * -2.0 + 0.2 * -0.1 + 0.2 * -0.1)


def test_moves_into_walls_and_border_stay_put():
    env = GridWorldEnv("#S#\n#.#\n#G#")
    nxt, prob = env.mdp.transitions(0, 3)  # left from S: wall
    assert nxt.tolist() == [0] and prob.tolist() == [1.0]
    nxt, _ = env.mdp.transitions(0, 0)  # up from S: border
    assert nxt.tolist() == [0]


def test_slip_sends_the_move_sideways_with_half_the_slip_each():
    env = GridWorldEnv("...\n.S.\n..G", slip=0.3)
    s = int(env.cell_to_state[1, 1])
    nxt, prob = env.mdp.transitions(s, 0)  # up: goes left/right with 0.15 each
    got = {tuple(env.state_rc[n].tolist()): p for n, p in zip(nxt, prob)}
    assert got == pytest.approx({(0, 1): 0.7, (1, 0): 0.15, (1, 2): 0.15})


def test_one_way_door_can_only_be_entered_along_its_arrow():
    env = GridWorldEnv(ONE_WAY)
    door = int(env.cell_to_state[2, 4])  # '>'
    west, east = int(env.cell_to_state[2, 3]), int(env.cell_to_state[2, 5])
    assert env.mdp.transitions(west, 1)[0].tolist() == [door]  # moving right enters
    assert env.mdp.transitions(east, 3)[0].tolist() == [east]  # moving left bounces
    assert env.mdp.transitions(door, 3)[0].tolist() == [west]  # leaving is free


def test_terminal_states_are_absorbing_and_pay_nothing():
    env = GridWorldEnv("S.G\n.H.", hole_reward=-1.0)
    mdp = env.mdp
    for s in np.flatnonzero(mdp.terminal):
        for a in range(4):
            assert mdp.transitions(s, a)[0].tolist() == [s]
        assert (mdp.R[s] == 0).all()


def test_toy_text_P_dict_agrees_with_the_sparse_model():
    env = _make("gridlab/SlipperyLake-v0").unwrapped
    for s in (0, 9, 63):
        for a in range(4):
            nxt, prob = env.mdp.transitions(s, a)
            from_dict = {s2: p for p, s2, _, _ in env.P[s][a]}
            assert sorted(from_dict) == nxt.tolist()
            assert [from_dict[k] for k in nxt.tolist()] == pytest.approx(prob.tolist())


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"slip": 1.5}, "slip must be in \\[0, 1\\], got 1.5"),
        ({"obs_mode": "rgb"}, "unknown obs_mode 'rgb'"),
        ({"gamma": 0.0}, "gamma must be in \\(0, 1\\], got 0.0"),
        ({"render_mode": "human"}, "unknown render_mode 'human'"),
    ],
)
def test_bad_arguments_raise_value_error_naming_the_value(kwargs, message):
    with pytest.raises(ValueError, match=message):
        GridWorldEnv("S.G", **kwargs)


def test_unreachable_goal_is_allowed_and_values_say_so():
    from agents.dp import solve

    env = GridWorldEnv("S.#G")
    assert solve(env.mdp).V[0] == 0.0


def test_render_ansi_marks_the_agent_and_rgb_array_is_an_image():
    env = _make("gridlab/OpenRoom-v0", render_mode="ansi")
    env.reset(seed=0)
    text = env.render()
    assert text.splitlines()[0].startswith("@") and text.count("@") == 1
    env = _make("gridlab/OpenRoom-v0", render_mode="rgb_array")
    env.reset(seed=0)
    img = env.render()
    assert img.dtype == np.uint8 and img.shape == (5 * 16, 5 * 16, 3)
    assert tuple(img[8, 8]) == (220, 40, 40)  # agent drawn in the start cell


def test_maze_kwargs_size_and_seed_change_the_map():
    a = gym.make("gridlab/Maze-v0", size=5, seed=1).unwrapped
    b = gym.make("gridlab/Maze-v0", size=5, seed=2).unwrapped
    assert a.height == 11 and str(a.layout) != str(b.layout)


@pytest.mark.parametrize("slip", [0.0, 0.3, 1.0])
def test_numba_and_numpy_model_builders_give_the_same_model(slip):
    from envs.layouts import random_maze
    from envs.transitions import grid_transitions

    layout = random_maze(6, seed=2).replace(".", "H", 3).replace("#.", "#>", 2)  # holes and one-way doors
    env = GridWorldEnv(layout, slip=slip, step_reward=-0.1, hole_reward=-1.0)
    entry = np.where(env.mdp.terminal, 0.0, -0.1)
    entry[env.layout.grid[tuple(env.state_rc.T)] == "G"] = 1.0
    entry[env.layout.grid[tuple(env.state_rc.T)] == "H"] = -1.0
    a = grid_transitions(env._moves(), slip, env.mdp.terminal, entry, use_numba=False)
    b = grid_transitions(env._moves(), slip, env.mdp.terminal, entry, use_numba=True)
    assert np.array_equal(a[0].indptr, b[0].indptr) and np.array_equal(a[0].indices, b[0].indices)
    assert np.allclose(a[0].data, b[0].data)
    assert np.allclose(a[1], b[1])
    assert abs(a[0] - env.mdp.P).max() == 0 and np.allclose(a[1], env.mdp.R)
