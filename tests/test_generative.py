import itertools

import gymnasium as gym
import numpy as np
import pytest
import torch

from envs import GridWorldEnv
from generative import (WorldModel, WorldModelEnv, collect_transitions, forward_kl, jsd, reverse_kl, score,
                        sequence_log_prob, train_world_model, transition_histograms, tv)

torch.set_num_threads(1)
CORRIDOR = {"layout": "S...G", "slip": 0.0}


# ---------------------------------------------------------------- metrics on hand-made distributions
def test_tv_of_disjoint_and_equal_distributions():
    assert tv([1.0, 0.0], [0.0, 1.0]) == pytest.approx(1.0)
    assert tv([0.3, 0.7], [0.3, 0.7]) == pytest.approx(0.0)
    assert tv([0.5, 0.5, 0.0], [0.2, 0.5, 0.3]) == pytest.approx(0.3)


def test_kl_directions_have_their_closed_forms():
    P, Q = np.array([0.5, 0.5]), np.array([0.9, 0.1])
    exact = 0.5 * np.log(0.5 / 0.9) + 0.5 * np.log(0.5 / 0.1)
    assert forward_kl(P, Q, epsilon=0.0) == pytest.approx(exact)
    assert reverse_kl(P, Q, epsilon=0.0) == pytest.approx(0.9 * np.log(0.9 / 0.5) + 0.1 * np.log(0.1 / 0.5))


def test_forward_kl_punishes_a_missed_mode_reverse_kl_a_hallucinated_one():
    truth = np.array([0.5, 0.5, 0.0])
    missing = np.array([1.0, 0.0, 0.0])  # drops a true outcome
    extra = np.array([0.4, 0.4, 0.2])  # invents one
    assert forward_kl(truth, missing) > 4 * reverse_kl(truth, missing)
    assert reverse_kl(truth, extra) > 4 * forward_kl(truth, extra)


def test_jsd_is_symmetric_and_bounded_by_log_2():
    P, Q = np.array([0.2, 0.8]), np.array([0.6, 0.4])
    assert jsd(P, Q) == pytest.approx(jsd(Q, P))
    assert jsd([1.0, 0.0], [0.0, 1.0]) == pytest.approx(np.log(2))


# ---------------------------------------------------------------- data
@pytest.mark.parametrize("obs_mode, shape", [("onehot", (5,)), ("coords", (2,)), ("image", (4, 1, 5))])
def test_collected_transitions_have_the_env_observation_format(obs_mode, shape):
    env = gym.make("gridlab/Grid-v0", obs_mode=obs_mode, **CORRIDOR)
    data = collect_transitions(env, 1000, seed=0)
    assert tuple(data.obs.shape) == (1000, *shape) and data.obs.dtype == torch.float32
    assert data.action.dtype == torch.int64 and data.terminated.dtype == torch.bool
    base = env.unwrapped
    assert np.array_equal(base.decode_batch(data.next_obs.numpy()), data.next_state.numpy())
    assert (data.next_state == torch.clamp(data.state + (data.action == 1).long() - (data.action == 3).long(), 0, 4)).all()


def test_collected_frequencies_match_the_true_dynamics():
    env = gym.make("gridlab/SlipperyLake-v0", obs_mode="onehot")
    data = collect_transitions(env, 200_000, seed=1)
    mdp = env.unwrapped.mdp
    sel = (data.state == 9) & (data.action == 1)
    nxt, prob = mdp.transitions(9, 1)
    freq = np.bincount(data.next_state[sel].numpy(), minlength=64)[nxt] / int(sel.sum())
    assert np.max(np.abs(freq - prob)) < 4 * np.sqrt(0.25 / int(sel.sum()))


def test_rollout_data_follows_a_state_to_action_policy():
    env = gym.make("gridlab/Grid-v0", obs_mode="onehot", **CORRIDOR)
    data = collect_transitions(env, 200, policy=np.array([1, 1, 1, 1, 0]), start="rollout")
    assert (data.action == 1).all() and data.state[0] == 0


def test_dataset_save_load_round_trip(tmp_path):
    data = collect_transitions(gym.make("gridlab/Grid-v0", obs_mode="image", **CORRIDOR), 300)
    back = type(data).load(data.save(tmp_path / "d.npz"))
    assert torch.equal(back.next_obs, data.next_obs) and back.env_kwargs == data.env_kwargs


# ---------------------------------------------------------------- models
@pytest.fixture(scope="module")
def corridor_data():
    return collect_transitions(gym.make("gridlab/Grid-v0", obs_mode="onehot", **CORRIDOR), 4000, seed=0)


@pytest.mark.parametrize("family, epochs", [("vae", 20), ("flow", 40), ("gan", 60)])
def test_each_family_learns_a_deterministic_corridor_to_tv_near_zero(corridor_data, family, epochs):
    model = train_world_model(corridor_data, family, epochs=epochs, batch_size=256, progress=False, device="cpu")
    result = score(model, n_samples=300, horizon=4, n_rollouts=300)
    assert result["tv"] < 0.05, result["tv"]
    assert result["mode_recall"] == 1.0
    assert result["hallucinated_mass"] < 0.05
    assert max(result["rollout_tv"]) < 0.1


@pytest.mark.parametrize("obs_mode, family, epochs, decoded", [
    ("onehot", "vae", 15, 0.95), ("image", "vae", 15, 0.95),
    ("coords", "flow", 60, 0.8),  # continuous coordinates: a Gaussian-decoder VAE decodes less often
])
def test_sample_next_returns_the_env_format_and_decodes(obs_mode, family, epochs, decoded):
    env = gym.make("gridlab/Grid-v0", obs_mode=obs_mode, layout="S..\n..G", slip=0.2)
    data = collect_transitions(env, 3000)
    model = train_world_model(data, family, epochs=epochs, batch_size=256, progress=False, device="cpu")
    out = model.sample_next(data.obs[:500].numpy(), data.action[:500].numpy())
    assert out.shape == (500, *env.observation_space.shape) and out.dtype == np.float32
    assert np.mean(env.unwrapped.decode_batch(out) >= 0) > decoded


def test_save_and_load_reproduce_samples_with_the_same_seed(corridor_data, tmp_path):
    model = train_world_model(corridor_data, "flow", epochs=2, progress=False, device="cpu")
    path = model.save(tmp_path / "m.pt")
    back = WorldModel.load(path, device="cpu")
    obs, act = corridor_data.obs[:64].numpy(), corridor_data.action[:64].numpy()
    a = model.sample_next(obs, act, generator=torch.Generator().manual_seed(3))
    b = back.sample_next(obs, act, generator=torch.Generator().manual_seed(3))
    assert np.array_equal(a, b)
    assert back.history == model.history and back.family == "flow"


def test_building_and_training_models_leave_the_callers_random_streams_alone(corridor_data):
    """Library code seeds its own draws (``generative.nn.seeded``) and gives torch's global stream back:
    the caller's next draw is the one it would have made without the model, yet the model is the same."""
    from generative.frames import FrameCodec
    from generative.sequence_model import train_sequence_model
    from generative.sequences import collect_sequences

    episodes = collect_sequences(gym.make("gridlab/TMaze-v0"), 12, seed=0)
    frames = torch.randint(0, 256, (64, 8, 8, 3), dtype=torch.uint8)
    trainings = {
        "world model": lambda: train_world_model(corridor_data, "vae", epochs=1, progress=False, device="cpu"),
        "sequence model": lambda: train_sequence_model(episodes, "rnn", steps=3, progress=False, device="cpu"),
        "frame codec": lambda: FrameCodec.fit(frames, codes=4, steps=2, seed=0, progress=False, refine=0),
    }
    for name, train in trainings.items():
        torch.manual_seed(1234)
        expected = torch.rand(3)
        torch.manual_seed(1234)
        first = train()
        assert torch.equal(torch.rand(3), expected), name
        torch.manual_seed(99)  # another caller's stream: the same model
        second = train()
        pairs = zip(first.net.state_dict().values(), second.net.state_dict().values())
        assert all(torch.equal(a, b) for a, b in pairs), name


def test_flow_nll_on_held_out_data_is_at_least_the_true_conditional_entropy():
    env = gym.make("gridlab/Grid-v0", obs_mode="onehot", layout="S..\n.H.\n..G", slip=0.3)
    train, held = collect_transitions(env, 6000).split(0.8)
    model = train_world_model(train, "flow", epochs=10, progress=False, device="cpu")
    r = score(model, n_samples=200, horizon=2, n_rollouts=100, held_out=held)
    # NLL - H = forward KL of the dequantised data >= 0 (a small Monte Carlo margin)
    assert r["nll"] >= r["true_conditional_entropy"] - 0.05
    assert np.isfinite(model.log_prob(held.next_obs[:10].numpy(), held.obs[:10].numpy(), held.action[:10].numpy())).all()


def test_vae_log_prob_bound_is_finite_and_gan_has_none(corridor_data):
    vae = train_world_model(corridor_data, "vae", epochs=3, progress=False, device="cpu")
    lp = vae.log_prob(corridor_data.next_obs[:8].numpy(), corridor_data.obs[:8].numpy(), corridor_data.action[:8].numpy())
    assert np.isfinite(lp).all() and (lp <= 1e-6).all()
    gan = train_world_model(corridor_data, "gan", epochs=1, progress=False, device="cpu")
    with pytest.raises(ValueError, match="no likelihood"):
        gan.log_prob(corridor_data.next_obs[:2].numpy(), corridor_data.obs[:2].numpy(), corridor_data.action[:2].numpy())


def test_an_unconditional_model_learns_the_observation_distribution():
    env = gym.make("gridlab/Grid-v0", obs_mode="onehot", **CORRIDOR)
    data = collect_transitions(env, 4000)  # uniform over live states 0..3
    model = train_world_model(data, "vae", steps=800, batch_size=256, progress=False, device="cpu", conditional=False)
    states = env.unwrapped.decode_batch(model.sample_next(None, 4000))
    freq = np.bincount(states[states >= 0], minlength=5) / 4000
    assert np.max(np.abs(freq[:4] - 0.25)) < 0.05


# ---------------------------------------------------------------- scoring against brute force
class _Oracle(WorldModel):
    """Samples from the true model (for testing the scorer)."""

    def sample_next(self, obs, action, generator=None):
        rng = np.random.default_rng(0 if generator is None else int(torch.randint(0, 2**31, (1,), generator=generator)))
        s = self.env.decode_batch(np.asarray(obs))
        out = np.empty(len(s), np.int64)
        for i, (si, ai) in enumerate(zip(s, np.asarray(action).reshape(-1))):
            nxt, p = self.env.mdp.transitions(int(si), int(ai))
            out[i] = rng.choice(nxt, p=p)
        return self.env.encode_batch(out).astype(np.float32)


class _Stuck(WorldModel):
    """Always predicts that the agent stays where it is."""

    def sample_next(self, obs, action, generator=None):
        return np.asarray(obs, dtype=np.float32).copy()


def _stub(cls, env_kwargs):
    from generative.codec import ObsCodec

    env = GridWorldEnv(**env_kwargs)
    codec = ObsCodec.fit(env.encode_batch(np.arange(env.n_states)))
    return cls("vae", codec, env.init_kwargs, device="cpu")


def test_scoring_an_oracle_gives_sampling_noise_only():
    model = _stub(_Oracle, {"layout": "S..\n.H.\n..G", "slip": 0.3, "obs_mode": "onehot"})
    r = score(model, n_samples=2000, horizon=5, n_rollouts=3000)
    assert r["tv"] < 0.03 and r["mode_recall"] == 1.0 and r["hallucinated_mass"] == 0.0
    assert max(r["rollout_tv"]) < 0.05


def test_scoring_agrees_with_a_brute_force_count():
    kw = {"layout": "S..\n.H.\n..G", "slip": 0.3, "obs_mode": "onehot"}
    model = _stub(_Stuck, kw)
    r = score(model, n_samples=10, horizon=3, n_rollouts=50)
    mdp = model.env.mdp
    expected_tv, expected_recall, expected_halluc = [], [], []
    for s, a in itertools.product(mdp.live, range(4)):
        nxt, p = mdp.transitions(s, a)
        p_stay = float(p[nxt == s].sum()) if (nxt == s).any() else 0.0
        expected_tv.append(1.0 - p_stay)
        expected_recall.append(((nxt == s) & (p_stay >= 0.25 * p)).sum() / len(nxt))
        expected_halluc.append(0.0 if p_stay > 0 else 1.0)
    assert r["per_pair"]["tv"] == pytest.approx(expected_tv)
    assert r["per_pair"]["mode_recall"] == pytest.approx(expected_recall)
    assert r["hallucinated_mass"] == pytest.approx(np.mean(expected_halluc))


def test_transition_histograms_are_distributions_over_states_and_no_state():
    model = _stub(_Stuck, {"layout": "S.G", "obs_mode": "onehot"})
    pairs, Q = transition_histograms(model, n_samples=7)
    assert Q.shape == (len(pairs), 4) and np.allclose(Q.sum(axis=1), 1.0)


def test_sequence_log_prob_matches_brute_force_enumeration_over_hidden_actions():
    mdp = GridWorldEnv("S..\n.H.\n..G", slip=0.3).mdp
    seq = np.array([0, 1, 2, 2, 5])

    brute = 0.0
    for actions in itertools.product(range(4), repeat=len(seq) - 1):
        p = mdp.initial[seq[0]]
        for t, a in enumerate(actions):
            p *= 0.25 * mdp.P[seq[t] * 4 + a, seq[t + 1]]
        brute += p
    assert np.exp(sequence_log_prob(mdp, seq)[0]) == pytest.approx(brute)
    assert sequence_log_prob(mdp, np.array([[0, -1, 2]]))[0] == -np.inf


# ---------------------------------------------------------------- dream env
def test_world_model_env_passes_the_checkers_and_trains_an_agent_evaluated_exactly(corridor_data):
    from gymnasium.utils.env_checker import check_env
    from stable_baselines3 import PPO

    from agents.compare import compare

    model = train_world_model(corridor_data, "vae", epochs=20, batch_size=256, progress=False, device="cpu")
    dream = WorldModelEnv(model, max_episode_steps=20)
    check_env(dream, skip_render_check=True)
    agent = PPO("MlpPolicy", dream, seed=0, device="cpu", n_steps=256, batch_size=64, learning_rate=3e-3)
    agent.learn(3000)
    real = gym.make("gridlab/Grid-v0", obs_mode="onehot", **CORRIDOR)
    c = compare(agent, real)
    assert c.return_gap_greedy < 0.05  # the dream's policy walks the real corridor


def test_cuda_training_and_sampling_when_a_gpu_is_present(corridor_data):
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device on this machine")
    model = train_world_model(corridor_data, "flow", epochs=3, progress=False, device="cuda")
    assert next(model.net.parameters()).is_cuda
    out = model.sample_next(corridor_data.obs[:10].numpy(), corridor_data.action[:10].numpy())
    assert out.shape == (10, 5)


def test_wgan_gp_option_trains_and_emits_exact_one_hot_samples(corridor_data):
    model = train_world_model(corridor_data, "gan", epochs=3, batch_size=256, progress=False, device="cpu", loss="wgan-gp")
    out = model.sample_next(corridor_data.obs[:200].numpy(), corridor_data.action[:200].numpy())
    assert np.array_equal(out.sum(axis=1), np.ones(200)) and set(np.unique(out)) <= {0.0, 1.0}
    assert "loss_d" in model.history[-1] and np.isfinite(model.history[-1]["loss_d"])
    with pytest.raises(ValueError, match="loss must be 'nonsaturating' or 'wgan-gp', got 'hinge'"):
        train_world_model(corridor_data, "gan", epochs=1, progress=False, device="cpu", loss="hinge")


def test_gan_samples_from_its_moving_average_and_decays_its_learning_rates(corridor_data, tmp_path):
    model = train_world_model(corridor_data, "gan", epochs=2, batch_size=256, progress=False, device="cpu",
                              ema=0.9, lr_decay=True, d_lr_scale=2.0)
    gan = model.net
    avg, raw = torch.nn.utils.parameters_to_vector(gan.generator_ema.parameters()), torch.nn.utils.parameters_to_vector(gan.generator.parameters())
    assert gan._ema_updates == 2 * (len(corridor_data) // 256) and not torch.allclose(avg, raw)
    c = model.context(corridor_data.obs[:64], corridor_data.action[:64])
    want = gan._generate(c, generator=torch.Generator().manual_seed(0), net=gan.generator_ema)
    assert torch.equal(gan.sample(c, generator=torch.Generator().manual_seed(0)), want)
    back = WorldModel.load(model.save(tmp_path / "gan.pt"), device="cpu")  # the average is saved with the model
    assert torch.equal(torch.nn.utils.parameters_to_vector(back.net.generator_ema.parameters()), avg)
    opt_g, opt_d = gan.configure_optimizers(1e-3)
    assert opt_d.param_groups[0]["lr"] == 2e-3  # two time-scale update rule
    x = model.codec.encode(corridor_data.next_obs[:64])
    gan.training_step(x, c, progress=1.0, optimizers=[opt_g, opt_d])
    assert torch.equal(torch.nn.utils.parameters_to_vector(gan.generator.parameters()), raw)  # lr decayed to 0
    with pytest.raises(ValueError, match="ema must be in \\[0, 1\\), got 1.0"):
        train_world_model(corridor_data, "gan", epochs=1, progress=False, device="cpu", ema=1.0)


def test_a_perfect_model_scores_at_its_noise_floor_and_a_wrong_one_far_above():
    kw = {"layout": "S..\n.H.\n..G", "slip": 0.3, "obs_mode": "onehot"}
    oracle = score(_stub(_Oracle, kw), n_samples=200, horizon=5, n_rollouts=300)
    floor = oracle["noise_floor"]
    assert 0.0 < floor["tv"] and floor["hallucinated_mass"] == 0.0
    for key in ("tv", "forward_kl", "reverse_kl", "jsd"):  # the oracle is one more draw of the same noise
        assert 0.5 * floor[key] < oracle[key] < 2.0 * floor[key], key
    assert max(oracle["rollout_tv"]) < 2.5 * max(floor["rollout_tv"])
    stuck = score(_stub(_Stuck, kw), n_samples=200, horizon=5, n_rollouts=300)
    assert stuck["tv"] > 5 * stuck["noise_floor"]["tv"]


def test_the_noise_floor_shrinks_with_the_sample_size():
    from generative.scoring import noise_floor

    mdp = GridWorldEnv("S..\n.H.\n..G", slip=0.3).mdp
    small, large = noise_floor(mdp, 100, horizon=3, n_rollouts=200), noise_floor(mdp, 10_000, horizon=3, n_rollouts=20_000)
    assert large["tv"] < small["tv"] / 5 and max(large["rollout_tv"]) < max(small["rollout_tv"]) / 3


@pytest.mark.parametrize("name", ["n_samples", "horizon", "n_rollouts", "replicates"])
def test_the_noise_floor_names_a_bad_count(name):
    from generative.scoring import noise_floor

    kwargs = {"n_samples": 10, "horizon": 2, "n_rollouts": 10, "replicates": 1, name: 0}
    with pytest.raises(ValueError, match=f"{name} must be an integer >= 1, got 0"):
        noise_floor(GridWorldEnv("S.G").mdp, **kwargs)


def test_too_few_transitions_warn_naming_the_unseen_pairs():
    from generative.data import ThinDataWarning

    env = gym.make("gridlab/Grid-v0", layout="S.G", obs_mode="onehot")  # 2 live states x 4 actions
    with pytest.warns(ThinDataWarning, match=r"^[5-7] of 8 live \(state, action\) pairs have no transition in these 3 samples"):
        data = collect_transitions(env, 3, seed=0)
    unseen, live = data.unseen_pairs()
    assert live == 8 and unseen == 8 - len({(int(s), int(a)) for s, a in zip(data.state, data.action)})
    with pytest.warns(ThinDataWarning) as caught:
        train_world_model(data, "vae", steps=2000, progress=False, device="cpu")
    said = [str(w.message) for w in caught]
    assert len(said) == 2 and said[0].startswith(f"{unseen} of 8 live (state, action) pairs have no transition")
    assert "pass over these 3 transitions 2,000 times each, far more than they support" in said[1]


def test_enough_transitions_and_a_fitting_budget_warn_nothing():
    import warnings

    from generative.data import ThinDataWarning

    env = gym.make("gridlab/Grid-v0", layout="S.G", obs_mode="onehot")
    with warnings.catch_warnings():
        warnings.simplefilter("error", ThinDataWarning)
        data = collect_transitions(env, 400, seed=0)
        train_world_model(data, "vae", steps=20, batch_size=64, progress=False, device="cpu")


def test_world_train_on_five_samples_says_so_in_one_line(tmp_path):
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "gridlab", "world", "train", "gridlab/OpenRoom-v0", "--family", "vae",
                           "--samples", "5", "--epochs", "1", "--out", str(tmp_path / "run")],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    warned = [line for line in done.stderr.splitlines() if "warning" in line.lower()]
    assert len(warned) == 1 and warned[0].startswith("gridlab: warning: 92 of 96 live (state, action) pairs have no "
                                                     "transition in these 4 samples"), done.stderr
