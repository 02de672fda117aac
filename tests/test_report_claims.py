"""The report's sentences claim only what their numbers support, beyond the noise floor or tie."""

import numpy as np
import pytest

from gridlab import report


@pytest.fixture
def png(tmp_path):
    import matplotlib.figure

    path = tmp_path / "x.png"
    matplotlib.figure.Figure(figsize=(1, 1)).savefig(path)
    return str(path)


FLOOR = {"tv": 0.03, "forward_kl": 0.005, "reverse_kl": 0.005, "jsd": 0.001, "mode_recall": 1.0,
         "hallucinated_mass": 0.0, "rollout_tv": [0.02, 0.03, 0.035, 0.04]}


def _world(png, **families):
    base = {"jsd": 0.001, "mode_recall": 1.0, "hallucinated_mass": 0.0, "nll": None, "train_seconds": 1.0,
            "device": "cpu", "score_figure": png, "rollout_figure": png, "noise_floor": FLOOR}
    return {"budget": {"world_samples": 1000, "score_samples": 200},
            "world_models": {f: {**base, **r} for f, r in families.items()}}


def test_models_within_the_floor_of_each_other_are_not_ranked(png):
    at_floor = {"tv": 0.031, "forward_kl": 0.006, "reverse_kl": 0.004, "rollout_tv": [0.02, 0.03, 0.04, 0.045]}
    html = report._world_section(_world(png, vae=at_floor, gan={**at_floor, "tv": 0.04}))
    assert "within 0.03 of each other in mean TV" in html and "closest to the true dynamics" not in html
    assert "no KL direction can be said to dominate" in html and "mode covering" not in html
    assert "compounding errors are not visible" in html and "Errors compound" not in html
    assert "perfect model (noise floor)" in html


def test_clear_differences_are_stated_with_the_floor_beside_them(png):
    html = report._world_section(_world(
        png,
        vae={"tv": 0.05, "forward_kl": 0.01, "reverse_kl": 0.05, "rollout_tv": [0.05, 0.1, 0.2, 0.3]},
        gan={"tv": 0.20, "forward_kl": 0.3, "reverse_kl": 0.05, "rollout_tv": [0.2, 0.2, 0.2, 0.2]}))
    assert "VAE is closest to the true dynamics: mean TV 0.05 over live (state, action) pairs against 0.2 for GAN" in html
    assert "VAE: KL(Q||P) at least 1.5 times KL(P||Q)" in html and "GAN: KL(P||Q) at least 1.5 times KL(Q||P)" in html
    assert "Errors compound in imagination: VAE" in html


def _agents(png, ppo, dqn, visited=0.0):
    common = {"relative_gap": 0.0, "return_gap_greedy": 0.0, "rmse_vs_pi": 0.1, "max_err_vs_pi": 0.2, "rmse_vs_star": 0.1,
              "policy_agreement": 0.6, "V_star_s0": 0.8, "suboptimal_visitation": visited, "figure": png}
    return {"budget": {"agent_steps": 1000}, "learning_curves": png,
            "agents": {"ppo": {**common, "return_gap": ppo}, "dqn": {**common, "return_gap": dqn}}}


def test_agents_within_the_tie_tolerance_are_called_tied(png):
    html = report._agents_section(_agents(png, 2e-5, 0.0))
    assert "DQN and PPO tie" in html and "came closest" not in html


def test_a_clear_winner_is_named_with_its_seed(png):
    html = report._agents_section(_agents(png, 0.3, 0.0))
    assert "DQN came closest to optimal with its final policy (seed 0" in html


@pytest.mark.parametrize("visited, claim", [(1e-5, "almost never reaches"), (0.2, "still carry some of its visits")])
def test_the_never_visited_claim_follows_the_exact_visitation(png, visited, claim):
    html = report._agents_section(_agents(png, 0.0, 0.0, visited))
    assert claim in html


def _metrics(**kw):
    return {"return_gap": 0.0, "relative_gap": 0.0, "V_star_s0": 0.8, "rmse_vs_pi": 0.2, "rmse_vs_pi_visited": 0.05,
            "max_err_vs_pi": 0.5, "policy_agreement": 1.0, "suboptimal_visitation": 0.0, **kw}


def test_an_agent_that_lost_most_of_v_star_is_said_not_to_have_learned_and_not_ranked():
    text = " ".join(report.agent_findings({"ppo": _metrics(return_gap=0.001, relative_gap=0.00125),
                                           "dqn": _metrics(return_gap=0.8, relative_gap=1.0)}))
    assert "DQN has not learned the task at this budget" in text and "(100% of |V*(s0)| = 0.8)" in text
    assert "came closest" not in text and "tie" not in text  # one learner left: nothing to rank
    assert "PPO's final policy (seed 0) loses 0.001 of return" in text
    both = " ".join(report.agent_findings({"ppo": _metrics(relative_gap=0.9, return_gap=0.72),
                                           "dqn": _metrics(relative_gap=1.0, return_gap=0.8)}))
    assert "PPO has not learned" in both and "DQN has not learned" in both and "closest" not in both


@pytest.mark.parametrize("visited, claim", [(0.01, "accurate where its policy goes"),
                                            (0.18, "off even where its policy goes")])
def test_the_critic_sentence_follows_its_error_under_its_own_visitation(visited, claim):
    text = " ".join(report.agent_findings({"ppo": _metrics(rmse_vs_pi_visited=visited)}))
    assert claim in text and f"rmse {visited:g}" in text


def test_world_model_findings_read_score_results_directly():
    floor = {**FLOOR}
    text = " ".join(report.world_model_findings({
        "vae": {"tv": 0.031, "forward_kl": 0.006, "reverse_kl": 0.004, "mode_recall": 1.0,
                "rollout_tv": [0.02, 0.03, 0.04, 0.045], "noise_floor": floor}}))
    assert "VAE scores mean TV 0.031" in text and "closest" not in text  # one model: nothing to rank
    assert "no KL direction can be said to dominate" in text


def _pixel_result(tv, psnr, hallucinated):
    floor = {**FLOOR, "tv": 0.02, "pixel": {"psnr_samples": 12.0, "mse_samples": 4100.0, "psnr_samples_noise": 0.2}}
    return {"tv": tv, "hallucinated_mass": hallucinated, "noise_floor": floor,
            "pixel": {"psnr_samples": psnr, "mse_samples": 255.0 ** 2 / 10 ** (psnr / 10)}}


def test_pixel_findings_name_a_disagreement_only_beyond_the_floor_and_flag_averaged_frames():
    text = " ".join(report.pixel_findings({"vae": _pixel_result(0.05, 11.0, 0.001),
                                           "blur": _pixel_result(0.60, 14.0, 0.6)}))
    assert "disagree: BLUR has the better PSNR (14 against 11 dB" in text
    assert "but VAE is closer to the true dynamics (TV 0.05 against 0.6" in text
    assert "BLUR (14 dB): samples closer on average to the true frames than a perfect model's" in text
    assert "VAE 0.001, BLUR 0.6 of the samples" in text
    # 12.1 dB is above a perfect model's 12.0 by less than its sampling noise (0.2 dB): no claim
    close = " ".join(report.pixel_findings({"vae": _pixel_result(0.05, 12.1, 0.0), "gan": _pixel_result(0.06, 11.5, 0.0)}))
    assert "do not disagree beyond sampling noise" in close and "closer on average" not in close
    assert "Every sampled frame shows a state" in close


def test_a_perfect_pixel_models_metrics_are_exact():
    from envs import GridWorldEnv
    from generative.scoring import _live_pairs, perfect_pixel_metrics

    env = GridWorldEnv("S..\n...\n..G", slip=0.3, obs_mode="pixels")
    pairs = _live_pairs(env.mdp)
    got = perfect_pixel_metrics(env, pairs, n_samples=200)
    rng = np.random.default_rng(0)  # Monte Carlo: independent pairs of true successor frames
    F = env.frames.clean(np.arange(env.n_states))[:, :env.frames.grid_px].reshape(env.n_states, -1).astype(float)
    total = 0.0
    for s, a in pairs:
        nxt, p = env.mdp.transitions(int(s), int(a))
        x, y = rng.choice(nxt, 4000, p=p), rng.choice(nxt, 4000, p=p)
        total += ((F[x] - F[y]) ** 2).mean()
    assert got["mse_samples"] == pytest.approx(total / len(pairs), rel=0.05)
    assert got["mse_expected_frame"] == 0.0
    # score's estimator on a perfect model's draws: within the stated noise of the exact PSNR, and that noise small
    assert 0.0 < got["psnr_samples_noise"] < 0.5
