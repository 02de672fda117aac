"""World models of pixel observations: the frame codec, every family on frames, exact and pixel scores."""

import gymnasium as gym
import numpy as np
import pytest
import torch

import envs  # noqa: F401
from envs import GridWorldEnv
from generative import WorldModel, collect_transitions, score, train_world_model
from generative.codec import codec_from_dict
from generative.frames import FrameCodec

WORLD = {"layout": "S..\n.H.\n..G", "slip": 0.3, "obs_mode": "pixels"}


@pytest.fixture(scope="module")
def data():
    return collect_transitions(gym.make("gridlab/Grid-v0", **WORLD, pixel_noise=0.03), 6000, seed=0)


def test_collected_frames_stay_uint8(data):
    assert data.obs.dtype == torch.uint8 and tuple(data.obs.shape[1:]) == (12, 12, 3)
    env = data.make_env()
    assert np.array_equal(env.decode_batch(data.next_obs.numpy()), data.next_state.numpy())  # noisy, yet decodable


def test_the_frame_codec_gives_each_state_its_own_code_and_a_frame_of_it(data, tmp_path):
    codec = FrameCodec.fit(torch.cat([data.obs, data.next_obs]), steps=300, seed=0, progress=False)
    env = data.make_env()
    env.reset(seed=1)
    states = np.repeat(np.arange(env.n_states), 30)
    codes = codec.encode(env.encode_batch(states)).argmax(dim=1).numpy()
    for c in np.unique(codes):  # no code mixes two states
        assert len(np.unique(states[codes == c])) == 1
    decoded = env.decode_batch(codec.decode(codec.encode(env.encode_batch(states))).numpy())
    assert np.array_equal(decoded, states)
    # codes numbered as the states are (raster order of the agent), whatever order the VQ left them in
    assert env.decode_batch(codec.decode(torch.eye(codec.dim)).numpy()).tolist() == list(range(env.n_states))
    torch.save(codec.to_dict(), tmp_path / "c.pt")
    again = codec_from_dict(torch.load(tmp_path / "c.pt", weights_only=True))
    frames = env.encode_batch(states)
    assert torch.equal(again.encode(frames), codec.encode(frames))
    with pytest.raises(ValueError, match="unknown frame codec argument"):
        FrameCodec.fit(data.obs[:10], codez=4)
    with pytest.raises(ValueError, match="frame codec steps must be an integer >= 1, got -1"):
        FrameCodec.fit(data.obs[:10], steps=-1)
    with pytest.raises(ValueError, match="frame codec lr must be a number > 0, got nan"):
        FrameCodec.fit(data.obs[:10], lr=float("nan"))


def test_refinement_gives_noisy_frames_with_distractors_pure_codes_where_the_conv_codec_collapses():
    # pixel noise at 5% of the range and 4 flickering cells (issue 13's nuisance level), a short
    # conv training: the VQ codebook collapses onto two codes, which blend states; k-means in the
    # variance-scaled pixel space, seeded from those codes and k-means++, separates every state
    env = gym.make("gridlab/Grid-v0", layout="S..H\n....\n.H..\n...G", slip=0.3, obs_mode="pixels",
                   pixel_noise=0.05, distractors=4)
    sample = collect_transitions(env, 3000, seed=0)
    frames = torch.cat([sample.obs, sample.next_obs])
    real = sample.make_env()
    real.reset(seed=1)  # fresh frames: noise and distractors the codec never saw
    states = np.repeat(np.arange(real.n_states), 20)
    fresh = real.encode_batch(states)

    def returned(codec):
        return real.decode_batch(codec.decode(codec.encode(fresh)).numpy())

    assert np.mean(returned(FrameCodec.fit(frames, steps=50, seed=0, progress=False, refine=0)) == states) < 0.5
    codec = FrameCodec.fit(frames, steps=50, seed=0, progress=False)
    assert np.array_equal(returned(codec), states)
    codes = codec.encode(fresh).argmax(dim=1).numpy()
    assert all(len(np.unique(states[codes == c])) == 1 for c in np.unique(codes))  # no code mixes two states
    # a state's several codes sit next to each other, in the order of the states
    of_code = real.decode_batch(codec.decode(torch.eye(codec.dim)).numpy())
    assert codec.dim > real.n_states and np.all(np.diff(of_code) >= 0) and set(of_code) == set(range(real.n_states))


@pytest.fixture(scope="module")
def trained(data):
    """Each family's model of the pixel world, trained once for the tests of this module."""
    train, _ = data.split(0.9)
    cache = {}

    def get(family):
        if family not in cache:
            cache[family] = train_world_model(train, family, device="cpu", progress=False, steps=800,
                                              frame_codec={"steps": 300})
        return cache[family]
    return get


@pytest.mark.parametrize("family", ["vae", "gan", "flow"])
def test_every_family_learns_the_pixel_world_and_is_scored_exactly(data, trained, family, tmp_path):
    _, held = data.split(0.9)
    model = trained(family)
    nxt = model.sample_next(held.obs[:5].numpy(), held.action[:5].numpy())
    assert nxt.shape == (5, 12, 12, 3)
    r = score(model, n_samples=300, horizon=4, n_rollouts=300, seed=0)
    assert r["tv"] < 0.2 and r["hallucinated_mass"] < 0.05, (r["tv"], r["hallucinated_mass"])
    assert set(r["pixel"]) == {"mse_expected_frame", "psnr_expected_frame", "mse_samples", "psnr_samples"}
    model.save(tmp_path / "m.pt")
    loaded = WorldModel.load(tmp_path / "m.pt", device="cpu")
    g1, g2 = (torch.Generator().manual_seed(3) for _ in range(2))
    a = held.action[:50].numpy()
    assert np.array_equal(model.sample_next(held.obs[:50].numpy(), a, g1), loaded.sample_next(held.obs[:50].numpy(), a, g2))


def _model(cls):
    env = GridWorldEnv(**WORLD)
    codec = FrameCodec.fit(env.encode_batch(np.tile(np.arange(env.n_states), 50)), steps=50, progress=False)
    return cls("vae", codec, env.init_kwargs, device="cpu")


class _TrueFrames(WorldModel):
    """Samples a true successor's frame (the scorer's oracle)."""

    def sample_next(self, obs, action, generator=None):
        rng = np.random.default_rng(int(torch.randint(0, 2**31, (1,), generator=generator)))
        s = self.env.decode_batch(np.asarray(obs))
        out = []
        for si, ai in zip(s, np.asarray(action).reshape(-1)):
            nxt, p = self.env.mdp.transitions(int(si), int(ai))
            out.append(rng.choice(nxt, p=p))
        return self.env.encode_batch(np.array(out), rng).astype(np.float32)


class _Blurry(WorldModel):
    """Outputs the true expected frame: the minimiser of pixel MSE, and no state at all."""

    def sample_next(self, obs, action, generator=None):
        s = self.env.decode_batch(np.asarray(obs))
        frames = self.env.encode_batch(np.arange(self.env.n_states)).astype(np.float64)
        P = self.env.mdp.P[s * 4 + np.asarray(action).reshape(-1)].toarray()
        return np.tensordot(P, frames, axes=1).astype(np.float32)


def test_an_oracle_scores_at_the_floor_and_a_blurry_average_is_caught():
    oracle = score(_model(_TrueFrames), n_samples=400, horizon=3, n_rollouts=400)
    blurry = score(_model(_Blurry), n_samples=50, horizon=3, n_rollouts=100)
    assert oracle["tv"] < 2 * oracle["noise_floor"]["tv"] + 0.01 and oracle["hallucinated_mass"] == 0.0
    mdp = GridWorldEnv(**WORLD).mdp
    # a blend decodes to its heaviest state only when that state has >= 3/4 of the weight (envs.pixels)
    blurred = np.mean([mdp.transitions(s, a)[1].max() < 0.75 for s in mdp.live for a in range(4)])
    assert blurred > 0.5 and blurry["hallucinated_mass"] == pytest.approx(blurred)
    # the pixel metrics prefer the blur: its expected frame is exact and its samples are closer on average
    assert blurry["pixel"]["mse_expected_frame"] < 1e-6 < oracle["pixel"]["mse_expected_frame"]
    assert blurry["pixel"]["mse_samples"] < oracle["pixel"]["mse_samples"]
    # the oracle's PSNR of samples is a perfect model's, exact, to within the stated sampling noise
    perfect = oracle["noise_floor"]["pixel"]
    assert abs(oracle["pixel"]["psnr_samples"] - perfect["psnr_samples"]) <= 2 * perfect["psnr_samples_noise"]


def test_an_agent_trained_in_the_pixel_dream_is_judged_exactly_in_the_real_world(trained):
    from gymnasium.utils.env_checker import check_env
    from stable_baselines3 import PPO

    from agents.compare import compare
    from agents.extractors import SMALL_CNN
    from generative import WorldModelEnv

    dream = WorldModelEnv(trained("vae"), max_episode_steps=30)
    check_env(dream, skip_render_check=True)
    obs, _ = dream.reset(seed=0)
    assert obs.dtype == np.uint8 and dream.observation_space.contains(obs)
    assert dream.step(0)[0].dtype == np.uint8  # imagined frames are frames, as the real env's are
    # the model learned noisy frames: a seeded reset draws the first frame's noise from the seed
    first = [dream.reset(seed=3)[0] for _ in range(2)]
    assert np.array_equal(*first) and not np.array_equal(first[0], dream.reset(seed=4)[0])
    agent = PPO("CnnPolicy", dream, seed=0, device="cpu", n_steps=256, batch_size=64, learning_rate=1e-3,
                policy_kwargs=SMALL_CNN)
    agent.learn(2048)
    real = gym.make("gridlab/Grid-v0", **WORLD)
    c = compare(agent, real)
    uniform = compare(PPO("CnnPolicy", real, seed=0, device="cpu", policy_kwargs=SMALL_CNN), real)  # untrained
    assert c.return_gap_greedy < 0.25 * abs(c.V_star_s0), (c.return_gap_greedy, c.V_star_s0)
    assert c.return_gap < uniform.return_gap


def test_small_cnn_refuses_what_it_cannot_read():
    from agents.extractors import SmallCNN

    with pytest.raises(ValueError, match=r"SmallCNN needs image observations \(C, H, W\), got shape \(5,\)"):
        SmallCNN(gym.spaces.Box(0, 1, (5,)))
    with pytest.raises(ValueError, match="features_dim must be an integer >= 1, got 0"):
        SmallCNN(gym.spaces.Box(0, 255, (3, 8, 8), np.uint8), features_dim=0)
