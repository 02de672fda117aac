"""Pixel observations (envs.pixels): frames of every state, their nuisances, and the decoding rule."""

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import envs  # noqa: F401
from envs import ready_made_ids
from envs.pixels import AGENT_COLOUR, PixelFrames


def _pixels(world="gridlab/SlipperyLake-v0", **kw):
    env = gym.make(world, obs_mode="pixels", **kw).unwrapped
    env.reset(seed=0)
    return env


@pytest.mark.parametrize("world", ready_made_ids())
@pytest.mark.parametrize("cell_px", [2, 4, 8])
def test_clean_frames_of_every_state_decode_to_it(world, cell_px):
    env = _pixels(world, cell_px=cell_px)
    states = np.arange(env.n_states)
    frames = env.encode_batch(states)
    assert frames.dtype == np.uint8 and frames.shape == (env.n_states, env.height * cell_px, env.width * cell_px, 3)
    assert np.array_equal(env.decode_batch(frames), states)
    assert np.array_equal(frames[3], env.render_rgb(3, cell=cell_px))  # the observation is the rendered frame


def test_frames_with_noise_at_its_limit_and_distractors_decode_to_their_state():
    env = _pixels(pixel_noise=0.0, distractors=5)
    limit = env.frames.max_pixel_noise
    env = _pixels(pixel_noise=limit, distractors=5)
    states = np.repeat(np.arange(env.n_states), 300)
    frames = env.encode_batch(states)
    assert frames.shape[0] == len(states) and frames.shape[1] == 36  # a strip of one cell row under the 8x8 lake
    clean = _pixels().encode_batch(states)
    assert (frames[:, :32].astype(float) - clean).std() > 0.7 * 255 * limit  # the noise is there (less where clipped)
    strip = frames[:, 32:, :20].reshape(len(states), -1)
    assert len(np.unique(strip[:, 0])) > 200  # the distractors flicker
    assert np.array_equal(env.decode_batch(frames), states)


def test_frames_that_show_no_state_decode_to_minus_one():
    env = _pixels()
    a, b = env.encode_batch(np.array([0, 9])).astype(np.float64)
    bg = env.frames.background.astype(np.float64)
    blends = {
        "50/50 mixture": (a + b) / 2,
        "blank black": np.zeros_like(a),
        "blank white": np.full_like(a, 255),
        "grey": np.full_like(a, 128),
        "two agents": np.where((a != bg) | (b != bg), np.array(AGENT_COLOUR, float), bg),
        "no agent": bg,
    }
    hole = np.argwhere(env.layout.grid == "H")[0] * 4
    changed = a.copy()
    changed[hole[0] + 1:hole[0] + 4, hole[1] + 1:hole[1] + 4] = 245  # a hole painted as floor
    blends["changed layout"] = changed
    for name, frame in blends.items():
        assert env.decode(frame) == -1, name
    assert env.decode(0.9 * a + 0.1 * b) == 0 and env.decode(0.1 * a + 0.9 * b) == 9  # mostly one frame: that state


def test_seeded_envs_give_the_same_noisy_frames_and_the_vector_env_draws_its_own():
    one, two = (gym.make("gridlab/SlipperyLake-v0", obs_mode="pixels", pixel_noise=0.05, distractors=2) for _ in range(2))
    o1, _ = one.reset(seed=3)
    o2, _ = two.reset(seed=3)
    assert np.array_equal(o1, o2)
    for a in (1, 2, 2, 1):
        assert np.array_equal(one.step(a)[0], two.step(a)[0])
    from envs.vector import GridWorldVectorEnv

    venv = GridWorldVectorEnv(4, layout="S..\n.HG", obs_mode="pixels", pixel_noise=0.05, distractors=2)
    obs, info = venv.reset(seed=0)
    assert obs.shape == (4, 12, 12, 3) and obs.dtype == np.uint8
    assert np.array_equal(venv.single_env.decode_batch(obs), venv.state)


def test_pixel_envs_pass_gymnasiums_and_sb3s_checkers():
    from stable_baselines3.common.env_checker import check_env as sb3_check

    env = gym.make("gridlab/FourRooms-v0", obs_mode="pixels", cell_px=3, pixel_noise=0.03, distractors=3)
    check_env(env.unwrapped, skip_render_check=True)
    sb3_check(env.unwrapped, warn=False)
    obs, _ = env.reset(seed=1)
    assert env.observation_space.contains(obs)


def test_bad_pixel_settings_are_refused_naming_the_value():
    with pytest.raises(ValueError, match=r"pixel_noise must be in \[0, 0\.0\d\d\] at cell_px 4"):
        _pixels(pixel_noise=0.5)
    with pytest.raises(ValueError, match="cell_px must be an integer >= 2, got 1"):
        _pixels(cell_px=1)
    with pytest.raises(ValueError, match="distractors must be an integer >= 0, got -1"):
        _pixels(distractors=-1)
    with pytest.raises(ValueError, match="obs_mode is 'onehot'"):
        gym.make("gridlab/SlipperyLake-v0", obs_mode="onehot", pixel_noise=0.05)
    with pytest.raises(ValueError, match=r"frames must have shape \(n, 32, 32, 3\)"):
        _pixels().frames.decode(np.zeros((2, 32, 31, 3)))
    with pytest.raises(ValueError, match="need a random generator"):
        PixelFrames(np.array([["S", "G"]]), pixel_noise=0.01).encode(np.array([0]))
