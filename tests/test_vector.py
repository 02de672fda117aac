import gymnasium as gym
import numpy as np
import pytest
from gymnasium.vector import AutoresetMode

from envs.vector import GridWorldVectorEnv

from conftest import SUITE_IDS


@pytest.mark.parametrize("env_id", SUITE_IDS)
def test_make_vec_with_the_vector_entry_point_builds_the_native_vector_env(env_id):
    venv = gym.make_vec(env_id, num_envs=4, vectorization_mode="vector_entry_point")
    assert isinstance(venv, GridWorldVectorEnv) and venv.num_envs == 4
    assert venv.metadata["autoreset_mode"] == AutoresetMode.NEXT_STEP
    assert venv.max_episode_steps == gym.spec(env_id).max_episode_steps
    obs, info = venv.reset(seed=0)
    assert venv.observation_space.contains(obs)
    obs, r, term, trunc, info = venv.step(venv.action_space.sample())
    assert venv.observation_space.contains(obs) and r.shape == term.shape == trunc.shape == (4,)


@pytest.mark.parametrize("obs_mode", ["index", "onehot", "image"])
def test_vector_env_matches_the_single_env_step_for_step_under_the_same_seed(obs_mode):
    kw = {"layout": "S..H\n.#..\n...G", "slip": 0.3, "obs_mode": obs_mode, "step_reward": -0.1}
    venv = gym.make_vec("gridlab/Grid-v0", num_envs=1, vectorization_mode="vector_entry_point", max_episode_steps=6, **kw)
    env = gym.make("gridlab/Grid-v0", max_episode_steps=6, **kw)
    actions = np.random.default_rng(1).integers(0, 4, 300)
    v_obs, _ = venv.reset(seed=42)
    obs, _ = env.reset(seed=42)
    done = False
    episodes = 0
    for a in actions:
        if done:  # NEXT_STEP autoreset: this vector step is the single env's reset
            obs, _ = env.reset()
            r, term, trunc = 0.0, False, False
            episodes += 1
        else:
            obs, r, term, trunc, _ = env.step(int(a))
        v_obs, v_r, v_term, v_trunc, _ = venv.step(np.array([a]))
        assert np.array_equal(v_obs[0], obs) and v_r[0] == pytest.approx(r)
        assert (v_term[0], v_trunc[0]) == (term, trunc)
        done = term or trunc
    assert episodes > 10  # both terminations and truncations happened along the way


def test_vector_env_transition_frequencies_match_the_model():
    venv = GridWorldVectorEnv(num_envs=20_000, layout="S...\n....\n...G", slip=0.4)
    venv.reset(seed=0, options={"state": 5})
    _, _, _, _, info = venv.step(np.full(20_000, 1))
    nxt, prob = venv.mdp.transitions(5, 1)
    freq = np.bincount(info["state"], minlength=venv.mdp.n_states)[nxt] / 20_000
    assert np.max(np.abs(freq - prob)) < 4 * np.sqrt(0.25 / 20_000)


def test_vector_env_refuses_bad_states_and_actions():
    venv = GridWorldVectorEnv(num_envs=2, layout="S.G")
    with pytest.raises(ValueError, match="options\\['state'\\] must be in \\[0, 3\\), got 7"):
        venv.reset(options={"state": [0, 7]})
    venv.reset(seed=0)
    with pytest.raises(ValueError, match="actions must be in \\[0, 4\\)"):
        venv.step(np.array([0, 4]))


def test_the_vector_env_renders_one_frame_per_copy_and_records_video(tmp_path):
    pytest.importorskip("moviepy")
    from gymnasium.wrappers.vector import RecordVideo

    venv = gym.make_vec("gridlab/FourRooms-v0", num_envs=3, vectorization_mode="vector_entry_point", render_mode="rgb_array")
    venv.reset(seed=0)
    frames = venv.render()
    single = gym.make("gridlab/FourRooms-v0").unwrapped
    assert len(frames) == 3 and all(np.array_equal(f, single.render_rgb(int(s))) for f, s in zip(frames, venv.unwrapped.state))
    recorder = RecordVideo(venv, str(tmp_path), episode_trigger=lambda e: e == 0, video_length=10)
    recorder.reset(seed=0)
    for _ in range(12):
        recorder.step(recorder.action_space.sample())
    recorder.close()
    assert [p.suffix for p in tmp_path.iterdir()] == [".mp4"]
    with pytest.raises(ValueError, match="unknown render_mode 'human'"):
        gym.make_vec("gridlab/FourRooms-v0", num_envs=2, vectorization_mode="vector_entry_point", render_mode="human")


def test_autoreset_pending_names_the_copies_whose_next_step_resets():
    venv = GridWorldVectorEnv(num_envs=2, layout="SG", max_episode_steps=10)
    venv.reset(seed=0)
    assert venv.autoreset_pending.tolist() == [False, False]
    _, _, terminated, _, _ = venv.step(np.array([1, 3]))  # right reaches the goal; left bumps the wall
    assert terminated.tolist() == [True, False] and venv.autoreset_pending.tolist() == [True, False]
    pending = venv.autoreset_pending
    pending[:] = True  # a copy: the env's own flags are untouched
    assert venv.autoreset_pending.tolist() == [True, False]
    _, reward, _, _, info = venv.step(np.array([1, 3]))
    assert reward[0] == 0.0 and info["state"][0] == 0 and venv.autoreset_pending.tolist() == [False, False]
