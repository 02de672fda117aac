"""POMDPs exactly: the model and its checks, the belief as the forward algorithm (against brute
force over state paths), Cassandra's file format both ways, and certified bounds (Tiger's
published optimum; exact finite-horizon brackets of random tiny POMDPs)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agents.pomdp import blind_lower_bound, fib_bound, qmdp_bound, solve
from envs.pomdp import TabularPOMDP
from envs.pomdp_file import PomdpFileError, read_pomdp, write_pomdp
from envs.pomdp_worlds import tiger

TIGER_V_STAR = 19.3714  # Cassandra's published value (discount 0.95, uniform start), to 4 decimals


def random_pomdp(seed: int, S: int = 3, A: int = 2, Z: int = 2, gamma: float = 0.6, sparse: bool = True) -> TabularPOMDP:
    rng = np.random.default_rng(seed)

    def rows(*shape):
        x = rng.random(shape) ** 3 * (rng.random(shape) < 0.7 if sparse else 1.0)
        x[..., 0] += 1e-3 * (x.sum(axis=-1) == 0)
        return x / x.sum(axis=-1, keepdims=True)

    return TabularPOMDP.from_arrays(rows(A, S, S), rng.uniform(-1, 1, (S, A)), rows(A, S, Z), b0=rows(S), gamma=gamma)


def brute_force(m: TabularPOMDP, actions: list[int], observations: list[int]) -> tuple[float, np.ndarray]:
    """P(o_1..T | a_1..T) and the last belief, by summing over every state path."""
    T = np.stack([Ta.toarray() for Ta in m.T])
    total, last = 0.0, np.zeros(m.n_states)
    for path in itertools.product(range(m.n_states), repeat=len(actions) + 1):
        p = m.b0[path[0]]
        for t, (a, o) in enumerate(zip(actions, observations)):
            p *= T[a, path[t], path[t + 1]] * m.O[a, path[t + 1], o]
        total += p
        last[path[-1]] += p
    return total, last / total if total > 0 else last


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10_000), st.integers(1, 4))
def test_the_filter_is_the_forward_algorithm_summed_over_every_state_path(seed, steps):
    m = random_pomdp(seed, sparse=False)
    rng = np.random.default_rng(seed)
    acts = rng.integers(m.n_actions, size=(6, steps))
    obs = rng.integers(m.n_observations, size=(6, steps))
    result = m.filter(acts, obs)
    for n in range(6):
        p, last = brute_force(m, list(acts[n]), list(obs[n]))
        assert np.exp(result.log_prob[n]) == pytest.approx(p, rel=1e-9, abs=1e-300)
        assert result.beliefs[n, -1] == pytest.approx(last, abs=1e-12)


def test_an_impossible_observation_is_reported_never_nan():
    m = TabularPOMDP.from_arrays(np.array([np.eye(2)]), np.zeros((2, 1)), np.array([[[1.0, 0.0], [1.0, 0.0]]]))
    result = m.filter([[0, 0], [0, 0]], [[0, 0], [0, 1]])
    assert list(result.impossible_at) == [0, 2] and list(result.possible) == [True, False]
    assert result.log_prob[1] == -np.inf and np.isfinite(result.beliefs).all()
    with pytest.raises(ValueError, match=r"sequence 1, step 2: observation '1' has probability 0 after action '0'"):
        m.filter([[0, 0], [0, 0]], [[0, 0], [0, 1]], strict=True)
    with pytest.raises(ValueError, match="observation '1' has probability 0"):
        m.belief_update(m.b0, 0, 1)


def test_a_belief_that_does_not_sum_to_one_is_refused():
    m = tiger()
    with pytest.raises(ValueError, match=r"belief must sum to 1 \(within 1e-09\), got 0.9"):
        m.belief_update([0.5, 0.4], 0, 0)


def test_tigers_belief_moves_with_each_observation_as_bayes_rule_says():
    m = tiger()
    b = m.belief_update(m.b0, "listen", "tiger-left")
    assert b == pytest.approx([0.85, 0.15])
    b = m.belief_update(b, "listen", "tiger-left")
    assert b == pytest.approx([0.85 ** 2 / (0.85 ** 2 + 0.15 ** 2), 0.15 ** 2 / (0.85 ** 2 + 0.15 ** 2)])
    assert m.belief_update(b, "open-left", "tiger-right") == pytest.approx([0.5, 0.5])  # the tiger is placed anew


def test_the_chain_forward_algorithm_of_the_world_models_is_the_filter():
    from envs import GridWorldEnv
    from generative.scoring import sequence_log_prob

    mdp = GridWorldEnv("S..\n.#.\n..G", slip=0.2).mdp
    rng = np.random.default_rng(0)
    seqs = np.array([_walk(mdp, rng, 6) for _ in range(20)])
    seqs[3, 2] = -1  # an observation of no state
    got = sequence_log_prob(mdp, seqs)
    P, _ = mdp.policy_matrix("uniform")
    P = P.toarray()
    for n in range(20):
        if (seqs[n] < 0).any():
            assert got[n] == -np.inf
            continue
        want = np.log(mdp.initial[seqs[n, 0]]) + sum(np.log(P[s, t]) for s, t in zip(seqs[n, :-1], seqs[n, 1:]))
        assert got[n] == pytest.approx(want, rel=1e-12)


def _walk(mdp, rng, steps):
    P, _ = mdp.policy_matrix("uniform")
    P = P.toarray()
    s = rng.choice(mdp.n_states, p=mdp.initial)
    out = [s]
    for _ in range(steps):
        s = rng.choice(mdp.n_states, p=P[s])
        out.append(s)
    return out


# ---------------------------------------------------------------------- the .pomdp format
TIGER_FILE = """# the tiger problem, written from Kaelbling, Littman & Cassandra (1998)
discount: 0.95
values: reward
states: tiger-left tiger-right
actions: listen open-left
  open-right
observations: tiger-left tiger-right

start: uniform

T: listen
identity

T: open-left
uniform

T: open-right : * reset

O: listen
0.85 0.15
0.15 0.85

O: open-left
uniform

O: open-right : tiger-left
0.5 0.5
O: open-right : tiger-right : tiger-left 0.5
O: open-right : tiger-right : tiger-right 0.5

R: listen : * : * : * -1
R: open-left : tiger-left : * : * -100
R: open-left : tiger-right : * : * 10
R: open-right : * : * : * 10
R: open-right : tiger-right : * : * -100
"""


def test_a_pomdp_file_reads_as_the_tiger_built_from_its_definition(tmp_path):
    path = tmp_path / "tiger.pomdp"
    path.write_text(TIGER_FILE)
    m, want = read_pomdp(path), tiger()
    assert m.states == want.states and m.actions == want.actions and m.observations == want.observations
    assert m.gamma == want.gamma and np.array_equal(m.b0, want.b0)
    for a in range(3):
        assert np.array_equal(m.T[a].toarray(), want.T[a].toarray())
    assert np.allclose(m.O, want.O, rtol=0, atol=1e-15)  # the file's 0.15 against 1 - 0.85
    assert np.array_equal(m.R, want.R)


def test_costs_per_observation_reduce_exactly_to_the_expected_reward(tmp_path):
    path = tmp_path / "m.pomdp"
    path.write_text("discount: 0.9\nvalues: cost\nstates: 2\nactions: 1\nobservations: 2\nstart: 1\n"
                    "T: 0\n0.25 0.75\n0.5 0.5\nO: 0\n0.2 0.8\n1.0 0.0\n"
                    "R: 0 : 0 : * : * 4.0\nR: 0 : 0 : 1 : 0 10.0\nR: 0 : 1\n1.0 2.0\n3.0 4.0\n")
    m = read_pomdp(path)
    assert np.array_equal(m.b0, [0.0, 1.0])
    # state 0: costs 4 everywhere but 10 on (s'=1, o=0), where O(0|1) = 1: -(0.25*4 + 0.75*10)
    assert m.R[0, 0] == pytest.approx(-(0.25 * 4 + 0.75 * 10))
    # state 1: cost row per s': -(0.5*(0.2*1 + 0.8*2) + 0.5*(1.0*3))
    assert m.R[1, 0] == pytest.approx(-(0.5 * (0.2 * 1 + 0.8 * 2) + 0.5 * 3))


@settings(max_examples=20, deadline=None)
@given(st.integers(0, 10_000), st.integers(2, 5), st.integers(1, 3), st.integers(1, 4))
def test_a_written_file_reads_back_bit_for_bit(tmp_path_factory, seed, S, A, Z):
    m = random_pomdp(seed, S, A, Z, gamma=0.95)
    back = read_pomdp(write_pomdp(m, tmp_path_factory.mktemp("rt") / "m.pomdp"))
    assert back.gamma == m.gamma and np.array_equal(back.b0, m.b0)
    assert all(np.array_equal(back.T[a].toarray(), m.T[a].toarray()) for a in range(A))
    assert np.array_equal(back.O, m.O) and np.array_equal(back.R, m.R)


def test_a_row_off_by_rounding_is_renormalised_and_one_off_by_more_is_refused(tmp_path):
    head = "discount: 0.9\nvalues: reward\nstates: 3\nactions: 1\nobservations: 1\nO: 0\nuniform\nR: 0 : * : * : * 1.0\n"
    ok = tmp_path / "ok.pomdp"
    ok.write_text(head + "T: 0\n0.333 0.333 0.334\n0.3333 0.3333 0.3333\n0.0 0.0 1.0\n")
    assert read_pomdp(ok).T[0].toarray()[1] == pytest.approx([1 / 3] * 3)
    bad = tmp_path / "bad.pomdp"
    bad.write_text(head + "T: 0\n0.3 0.3 0.3\n0.3333 0.3333 0.3333\n0.0 0.0 1.0\n")
    with pytest.raises(PomdpFileError, match=r"bad.pomdp:\d+: T\(0, 0, \.\) sums to 0.9, not 1 \(tolerance 0.001\)"):
        read_pomdp(bad)


@pytest.mark.parametrize("body, message", [
    ("T: 0\n0.5 0.5\n0.5\nO: 0\nuniform\n", r":9: a T matrix holds 3 numbers where 4 were expected \(a truncated matrix\?\)"),
    ("T: 0\n1.5 -0.5\n0.5 0.5\nO: 0\nuniform\n", r"a probability outside \[0, 1\]"),
    ("T: go\nidentity\nO: 0\nuniform\n", r":6: unknown action 'go'"),
    ("T: 0\nidentity\n", r"no line gives O\(0, 0, \.\)"),
    ("T: 0\nidentity\nO: 0 : 0 : 0 1.5\n", r":8: a O probability must be in \[0, 1\], got 1.5"),
    ("T: 0\nidentity\nO: 0\nuniform\nQ: 0\n", r":10: expected a 'T:', 'O:' or 'R:' line, got 'Q'"),
])
def test_a_malformed_file_names_the_file_the_line_and_the_fault(tmp_path, body, message):
    path = tmp_path / "m.pomdp"
    path.write_text("discount: 0.9\nvalues: reward\nstates: 2\nactions: 1\nobservations: 1\n" + body)
    with pytest.raises(PomdpFileError, match=message) as err:
        read_pomdp(path)
    assert str(err.value).startswith(f"{path}:") and "\n" not in str(err.value)


def test_a_file_without_its_preamble_is_refused(tmp_path):
    path = tmp_path / "m.pomdp"
    path.write_text("discount: 0.9\nstates: 2\nactions: 1\nT: 0\nidentity\n")
    with pytest.raises(PomdpFileError, match="the preamble has no 'observations:' line"):
        read_pomdp(path)


def test_start_include_and_exclude_are_uniform_over_the_states_named(tmp_path):
    head = "discount: 0.9\nvalues: reward\nstates: a b c d\nactions: 1\nobservations: 1\n"
    tail = "T: 0\nidentity\nO: 0\nuniform\n"
    for start, want in (("start include: a c\n", [0.5, 0, 0.5, 0]), ("start exclude: a\n", [0, 1 / 3, 1 / 3, 1 / 3]),
                        ("start: c\n", [0, 0, 1, 0]), ("start: 0.1 0.2 0.3 0.4\n", [0.1, 0.2, 0.3, 0.4])):
        path = tmp_path / "m.pomdp"
        path.write_text(head + start + tail)
        assert read_pomdp(path).b0 == pytest.approx(want)


# ---------------------------------------------------------------------- certified bounds
def test_tigers_bounds_bracket_its_published_optimum_within_1e_3():
    sol = solve(tiger(), tol=1e-3, time_limit=60)
    assert sol.stop_reason == "gap" and sol.gap <= 1e-3
    assert sol.lower <= TIGER_V_STAR + 5e-5 and sol.upper >= TIGER_V_STAR - 5e-5
    assert sol.upper <= sol.fib <= sol.qmdp


def _bracket(m: TabularPOMDP, b: np.ndarray, depth: int, leaf: float) -> float:
    """The depth-H optimum with ``leaf`` as the value beyond: exact, by the belief tree."""
    if depth == 0:
        return leaf
    best = -np.inf
    for a in range(m.n_actions):
        pred = m.predict(b, a)
        value = float(b @ m.R[:, a])
        for o in range(m.n_observations):
            joint = pred * m.O[a, :, o]
            p = joint.sum()
            if p > 0:
                value += m.gamma * p * _bracket(m, joint / p, depth - 1, leaf)
        best = max(best, value)
    return best


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 10_000), st.sampled_from([0.4, 0.5, 0.6]))
def test_the_bounds_bracket_the_exact_optimum_of_random_tiny_pomdps(seed, gamma):
    m = random_pomdp(seed, S=3, A=2, Z=2, gamma=gamma)
    H = 7  # V* lies between the depth-7 optima with the worst and the best tail
    lo = _bracket(m, m.b0, H, m.R.min() / (1 - gamma))
    hi = _bracket(m, m.b0, H, m.R.max() / (1 - gamma))
    sol = solve(m, tol=1e-4, time_limit=20)
    assert np.isfinite([sol.lower, sol.upper]).all()
    assert sol.lower <= hi + 1e-9 and sol.upper >= lo - 1e-9
    assert sol.lower <= sol.upper and sol.stop_reason == "gap" and sol.gap <= 1e-4
    assert sol.upper <= sol.fib + 1e-12 <= sol.qmdp + 2e-12
    assert sol.lower >= float((blind_lower_bound(m) @ m.b0).max()) - 1e-12


def test_the_controller_earns_at_least_the_lower_bound_in_simulation():
    m = tiger()
    sol = solve(m, tol=1e-2)
    rng = np.random.default_rng(0)
    T = np.stack([Ta.toarray() for Ta in m.T])
    returns = []
    for _ in range(400):
        s, total, discount = rng.choice(2, p=m.b0), 0.0, 1.0
        sol.policy.reset()
        o = None
        for _ in range(200):  # 0.95^200 * 100 / 0.05 < 0.1: the rest of the return is negligible
            a = sol.policy.act(o)
            total += discount * m.R[s, a]
            s = rng.choice(2, p=T[a, s])
            o = rng.choice(2, p=m.O[a, s])
            discount *= m.gamma
        returns.append(total)
    mean, se = np.mean(returns), np.std(returns) / np.sqrt(len(returns))
    assert mean + 3 * se >= sol.lower - 0.1


def test_solve_refuses_a_discount_of_one():
    m = TabularPOMDP.from_arrays(np.array([np.eye(2)]), np.zeros((2, 1)), np.full((1, 2, 1), 1.0), gamma=1.0)
    with pytest.raises(ValueError, match="solve needs a discount below 1, got 1"):
        solve(m)


def test_the_upper_bounds_are_ordered_and_above_the_lower():
    m = tiger()
    q, f = (m.b0 @ qmdp_bound(m)).max(), (m.b0 @ fib_bound(m)).max()
    assert f <= q and (blind_lower_bound(m) @ m.b0).max() <= f


# ---------------------------------------------------------------------- worlds
@pytest.mark.parametrize("env_id", ["gridlab/Tiger-v0", "gridlab/TMaze-v0", "gridlab/FourRoomsWalls-v0",
                                    "gridlab/RockSample-v0"])
def test_the_pomdp_worlds_pass_gymnasiums_and_sb3s_checkers_and_sample_their_model(env_id):
    import gymnasium as gym
    from gymnasium.utils.env_checker import check_env
    from stable_baselines3.common.env_checker import check_env as sb3_check_env

    import envs  # noqa: F401  (registers the ids)
    from envs.pomdp_env import check_pomdp_env

    env = gym.make(env_id)
    check_env(env.unwrapped, skip_render_check=True)
    sb3_check_env(gym.make(env_id))
    assert env.reset(seed=0)[1] == {}  # no hidden state in info
    assert check_pomdp_env(env, steps=3000) > 0


def test_the_env_check_catches_an_env_that_does_not_follow_its_model():
    from envs.pomdp_env import POMDPEnv, check_pomdp_env

    env = POMDPEnv(tiger())
    env.pomdp = tiger(listen_accuracy=0.6)  # the env keeps sampling 0.85; the model it reports says 0.6
    with pytest.raises(ValueError, match=r"state 'tiger-(left|right)', action 'listen': the env's \(s', o\) frequencies"):
        check_pomdp_env(env, steps=4000)


@pytest.mark.parametrize("length", [2, 6, 10])
def test_the_t_mazes_bounds_meet_at_its_optimum(length):
    from envs.pomdp_worlds import t_maze

    m = t_maze(length)
    sol = solve(m, tol=1e-6, time_limit=30)
    assert sol.lower <= 4 * m.gamma ** length <= sol.upper and sol.gap <= 1e-6
    # and the controller walks right to the junction, then turns towards the cue it saw
    sol.policy.reset()
    names = [sol.policy.actions[sol.policy.act(None)]]
    for o in ["cue-down"] + ["corridor"] * (length - 2) + ["junction"]:
        names.append(sol.policy.actions[sol.policy.act(m.observations.index(o))])
    assert names == ["right"] * length + ["down"]


# ---------------------------------------------------------------------- the command
def test_gridlab_solve_on_a_pomdp_id_prints_the_bounds_and_writes_the_alpha_vectors(tmp_path, capsys):
    import json

    from gridlab.cli import main

    assert main(["solve", "gridlab/Tiger-v0", "--tol", "0.01", "--out", str(tmp_path / "t")]) == 0
    out = capsys.readouterr().out
    assert "V*(b0) in [" in out and "QMDP 189.000000, FIB 87.179487" in out
    record = json.loads((tmp_path / "t" / "bounds.json").read_text())
    assert record["lower"] <= TIGER_V_STAR <= record["upper"] and record["gap"] <= 0.01
    blocks = (tmp_path / "t" / "policy.alpha").read_text().strip().split("\n\n")
    assert len(blocks) == record["alphas"] and all(len(b.splitlines()[1].split()) == 2 for b in blocks)


def test_gridlab_solve_reads_a_pomdp_file_and_names_a_bad_one_in_one_line(tmp_path, capsys):
    from gridlab.cli import main

    good = tmp_path / "tiger.pomdp"
    good.write_text(TIGER_FILE)
    assert main(["solve", str(good), "--tol", "0.01", "--out", str(tmp_path / "g")]) == 0
    assert f"{good}: 2 states, 3 actions, 2 observations, discount 0.95" in capsys.readouterr().out
    bad = tmp_path / "bad.pomdp"
    bad.write_text(TIGER_FILE.replace("0.85 0.15\n0.15 0.85", "0.85 0.15\n0.15"))
    assert main(["solve", str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "bad.pomdp:" in err and "truncated matrix" in err


def test_a_wall_sensor_reads_each_neighbour_and_flips_each_reading_with_its_noise():
    from envs.pomdp_worlds import wall_sensor_grid

    m = wall_sensor_grid("S.#\n..G", sensor_noise=0.2)
    corner = m.states.index("r0c0")  # walls up and left (off the map), open right and down
    o_true = m.observations.index("up+left")
    assert m.O[0, corner, o_true] == pytest.approx(0.8 ** 4)
    assert m.O[0, corner, m.observations.index("up")] == pytest.approx(0.8 ** 3 * 0.2)  # one reading flipped
    assert m.O[0, corner, m.observations.index("right+down")] == pytest.approx(0.2 ** 4)  # all four flipped
    r0c1 = m.states.index("r0c1")  # the '#' to its right is a wall too
    assert m.O[2, r0c1].argmax() == m.observations.index("up+right")
    with pytest.raises(ValueError, match=r"sensor_noise must be in \[0, 0.5\], got 0.7"):
        wall_sensor_grid("S.G", sensor_noise=0.7)


def test_a_wall_reading_tells_aliased_corridor_cells_apart():
    from envs.pomdp_worlds import wall_sensor_grid

    m = wall_sensor_grid("SSS.G", sensor_noise=0.0)  # one row: up and down are walls everywhere
    assert m.b0[:3] == pytest.approx([1 / 3] * 3)
    left = m.actions.index("left")
    at_the_wall = m.belief_update(m.b0, left, m.observations.index("up+down+left"))
    assert at_the_wall[m.states.index("r0c0")] == pytest.approx(1.0)  # only the first cell has a wall on its left
    in_between = m.belief_update(m.b0, left, m.observations.index("up+down"))
    assert in_between[m.states.index("r0c1")] == pytest.approx(1.0)  # reached only from the third cell
    # a move right from the start cells leaves the belief spread: no reading tells r0c1, r0c2, r0c3 apart
    spread = m.belief_update(m.b0, m.actions.index("right"), m.observations.index("up+down"))
    assert spread[[1, 2, 3]] == pytest.approx([1 / 3] * 3)


# ---------------------------------------------------------------------- policies without memory
def test_a_memoryless_policys_exact_value_matches_monte_carlo_returns_of_the_env():
    from agents.pomdp_eval import memoryless_value
    from envs.pomdp_env import POMDPEnv

    m = tiger(gamma=0.8)
    pi = np.zeros((m.n_observations + 1, m.n_actions))
    pi[m.n_observations] = [1.0, 0.0, 0.0]  # start: listen
    pi[0] = [0.6, 0.0, 0.4]                 # heard left: listen again, or open the right door
    pi[1] = [0.6, 0.4, 0.0]                 # heard right: likewise, the left door
    exact = memoryless_value(m, pi)
    env, rng = POMDPEnv(m), np.random.default_rng(0)
    returns = []
    for episode in range(2000):
        obs, _ = env.reset(seed=episode)
        total, discount = 0.0, 1.0
        for _ in range(60):  # 0.8^60 * 100 / 0.2 < 1e-3: the rest of the return is negligible
            obs, reward, *_ = env.step(int(rng.choice(m.n_actions, p=pi[obs])))
            total += discount * reward
            discount *= m.gamma
        returns.append(total)
    mean, se = np.mean(returns), np.std(returns) / np.sqrt(len(returns))
    assert abs(mean - exact) <= 4 * se + 1e-3, (mean, se, exact)


def test_memory_is_worth_what_the_bounds_say_on_the_t_maze():
    from agents.pomdp_eval import best_memoryless, memoryless_value
    from envs.pomdp_worlds import t_maze

    m = t_maze(2, gamma=0.9)
    value, actions = best_memoryless(m)
    sol = solve(m, tol=1e-9)
    assert value == pytest.approx(0.5 * 4 * 0.9 ** 2)  # the down cue's branch shuttles forever, earning 0
    assert value < sol.lower <= 4 * 0.9 ** 2 <= sol.upper
    assert memoryless_value(m, actions) == value
    with pytest.raises(ValueError, match=r"a memoryless policy is \(6, 4\) probabilities"):
        memoryless_value(m, np.ones((5, 4)) / 4)


def test_a_window_of_one_observation_is_the_memoryless_value_and_a_longer_one_remembers_the_cue():
    from agents.pomdp_eval import memoryless_value, window_value
    from envs.pomdp_worlds import t_maze

    m = tiger(gamma=0.8)
    pi = np.array([[0.6, 0.0, 0.4], [0.6, 0.4, 0.0], [1.0, 0.0, 0.0]])  # heard left, heard right, start
    assert window_value(m, lambda w: pi[w[-1][1]], 1) == pytest.approx(memoryless_value(m, pi), rel=1e-12)
    maze = t_maze(4, gamma=0.9)
    cue = {0: 0, 1: 2}  # cue-up -> up, cue-down -> down

    def remember(window):  # right until the junction, then turn as the cue in the window says
        seen = [o for _, o in window]
        turn = next((cue[o] for o in seen if o in cue), 0)
        return np.eye(4)[turn] if seen[-1] == 3 else np.eye(4)[1]

    # four steps from cell 1 (the cue) to the junction (cell 4): a window of 4 still holds the cue, and is optimal
    assert window_value(maze, remember, 4) == pytest.approx(4 * 0.9 ** 4, rel=1e-12)
    # a window of 2 has lost it there: half the episodes turn the wrong way
    assert window_value(maze, remember, 2) == pytest.approx(0.9 ** 4 * (0.5 * 4 - 0.5 * 0.1), rel=1e-12)


def test_a_large_chains_value_by_sweeps_is_within_its_certified_error_of_the_direct_solve():
    import scipy.sparse as sp
    import scipy.sparse.linalg as spla

    from agents.pomdp_eval import CHAIN_TOL, DIRECT_CHAIN, chain_value

    rng = np.random.default_rng(0)
    n = 2 * DIRECT_CHAIN  # past the size solved directly; banded, so that the direct solve stays cheap
    rows = np.repeat(np.arange(n), 3)
    P = sp.csr_matrix((rng.random(3 * n), (rows, (rows + rng.integers(-20, 21, 3 * n)) % n)), shape=(n, n))
    P = sp.diags(rng.uniform(0.5, 0.99, n) / np.asarray(P.sum(axis=1)).ravel()) @ P  # each step ends w.p. 0.01-0.5
    r = rng.normal(size=n)
    exact = spla.spsolve((sp.identity(n) - 0.99 * P).tocsc(), r)
    swept = chain_value(P, r, 0.99)
    assert 0 < np.max(np.abs(swept - exact)) <= CHAIN_TOL * max(1.0, np.max(np.abs(exact)))
    # a chain that never ends, at a discount near 1: the sweeps give up and the direct solve answers
    ring = sp.csr_matrix((np.ones(n), (np.arange(n), (np.arange(n) + 1) % n)), shape=(n, n))
    assert np.allclose(chain_value(ring, r, 0.9999, max_sweeps=50),
                       spla.spsolve((sp.identity(n) - 0.9999 * ring).tocsc(), r), rtol=1e-9, atol=1e-9)


def test_a_trained_feed_forward_agent_is_judged_exactly_against_the_bounds_and_monte_carlo():
    import gymnasium as gym
    from stable_baselines3 import PPO

    import envs  # noqa: F401
    from agents.pomdp_compare import compare_pomdp

    env = gym.make("gridlab/TMaze-v0", length=2)
    model = PPO("MlpPolicy", env, seed=0, device="cpu", n_steps=256, batch_size=64, n_epochs=4, ent_coef=0.05)
    model.learn(3000)
    c = compare_pomdp(model, env, tol=1e-6)
    gamma = env.unwrapped.pomdp.gamma
    assert c.lower == pytest.approx(4 * gamma ** 2) and c.upper == pytest.approx(4 * gamma ** 2)
    assert c.uniform <= c.value <= c.upper + 1e-9 and c.best_memoryless < c.lower <= c.mdp_value + 1e-9
    lo, hi = c.score_interval
    assert lo <= hi <= 1.0 + 1e-9
    rng, returns = np.random.default_rng(0), []
    for episode in range(1500):  # the agent's own stochastic policy, in the real env
        obs, _ = env.reset(seed=episode)
        total, discount, done = 0.0, 1.0, False
        while not done:
            obs, reward, term, trunc, _ = env.step(int(rng.choice(4, p=c.policy[obs])))
            total += discount * reward
            discount *= gamma
            done = term or trunc
        returns.append(total)
    mean, se = np.mean(returns), np.std(returns) / np.sqrt(len(returns))
    horizon_loss = gamma ** 100 * 4  # the env's time limit cuts the episode; the exact value does not
    assert abs(mean - c.value) <= 4 * se + horizon_loss


def test_every_alpha_vector_is_a_plan_value_at_every_state_not_only_where_it_was_backed_up():
    """A backup at b must give each observation b cannot produce a vector too: the new vector is a
    conditional plan's value at every state, so it may never exceed the hidden MDP's V* anywhere.
    Here a corridor 0 -> 1 -> 2 -> goal is passed by actions a, b, a (a wrong one stays, every step
    costs 1) and each state is seen as itself. A backup at state 2 that dropped the terms of the
    observations state 2 cannot produce once gave a vector worth -1 at state 1, whose true value is
    -1.95, and so a lower bound above V* on beliefs there."""
    from agents import dp

    T = np.zeros((2, 4, 4))
    for s, a, nxt in ((0, 0, 1), (0, 1, 0), (1, 0, 1), (1, 1, 2), (2, 0, 3), (2, 1, 2), (3, 0, 3), (3, 1, 3)):
        T[a, s, nxt] = 1.0
    R = np.array([[-1.0, -1.0], [-1.0, -1.0], [-1.0, -1.0], [0.0, 0.0]])
    m = TabularPOMDP.from_arrays(T, R, np.array([np.eye(4)] * 2), b0=np.eye(4)[0], gamma=0.95,
                                 terminal=np.array([False, False, False, True]))
    V_mdp = dp.solve(m.mdp, m.gamma, tol=1e-12).V
    sol = solve(m, tol=1e-6, time_limit=10)
    assert np.max(np.asarray(sol.alphas) - V_mdp[None, :]) <= 1e-9
    assert sol.lower == pytest.approx(-1 - 0.95 - 0.95 ** 2, abs=1e-6) and sol.upper >= sol.lower


def test_tag_alpha_vectors_never_exceed_the_hidden_mdp():
    from agents import dp
    from envs.pomdp_worlds import tag

    m = tag(layout=("........", "........"))
    V_mdp = dp.solve(m.mdp, m.gamma, tol=1e-12).V
    sol = solve(m, tol=1e-2, time_limit=5)
    assert np.max(np.asarray(sol.alphas) - V_mdp[None, :]) <= 1e-9 and sol.lower <= sol.upper


# ---------------------------------------------------------------------- RockSample
def test_rocksample_follows_smith_and_simmons_definition():
    from envs.pomdp_worlds import rock_sample

    m = rock_sample()  # RockSample[4,4]: rocks at (3,1), (2,1), (1,3), (1,0); start (0,2)
    assert (m.n_states, m.n_actions, m.n_observations) == (257, 9, 3)
    B, exit_ = 16, 256
    A = m.actions.index
    at = lambda x, y, bits: (y * 4 + x) * B + bits  # noqa: E731
    assert np.flatnonzero(m.b0).tolist() == list(range(at(0, 2, 0), at(0, 2, 0) + 16))  # (0,2), any rocks
    assert m.T[A("east")][at(3, 0, 5), exit_] == 1 and m.R[at(3, 0, 5), A("east")] == 10  # east off the map: +10, end
    assert m.T[A("east")][at(1, 0, 5), at(2, 0, 5)] == 1 and m.R[at(1, 0, 5), A("east")] == 0
    assert m.T[A("north")][at(0, 3, 0), exit_] == 1 and m.R[at(0, 3, 0), A("north")] == -100
    good, bad = at(3, 1, 0b0001), at(3, 1, 0b1110)  # on rock 0, good then bad
    assert m.R[good, A("sample")] == 10 and m.T[A("sample")][good, at(3, 1, 0)] == 1  # sampled: now bad
    assert m.R[bad, A("sample")] == -10 and m.T[A("sample")][bad, bad] == 1
    assert m.R[at(0, 0, 0), A("sample")] == -100  # no rock there
    assert m.O[A("check0"), good, 1] == 1.0  # at distance 0 the sensor is exact
    far = 0.5 * (1 + 2 ** (-np.hypot(3, 2) / 20))  # rock 0 from (0, 3)
    assert m.O[A("check0"), at(0, 3, 0b0001), 1] == pytest.approx(far)
    assert m.O[A("check0"), at(0, 3, 0b0000), 2] == pytest.approx(far)
    assert np.all(m.O[A("north"), :, 0] == 1)  # a move observes nothing
    assert m.mdp.terminal.tolist() == [False] * 256 + [True]


def test_rocksamples_bounds_close_to_one_percent_and_its_controller_earns_the_lower_bound():
    from envs.pomdp_env import POMDPEnv
    from envs.pomdp_worlds import rock_sample

    m = rock_sample()
    sol = solve(m, tol=0.01 * 19, time_limit=30)
    assert sol.stop_reason == "gap" and sol.gap <= 0.01 * abs(sol.lower)
    env = POMDPEnv(m)
    returns = []
    for episode in range(300):
        env.reset(seed=episode)
        sol.policy.reset()
        a, total, discount = sol.policy.act(None), 0.0, 1.0
        for _ in range(150):  # 0.95^150 * 10 < 0.01: the rest of the return is negligible
            o, r, terminated, _, _ = env.step(a)
            total += discount * r
            discount *= m.gamma
            if terminated:
                break
            a = sol.policy.act(int(o))
        returns.append(total)
    mean, se = np.mean(returns), np.std(returns) / np.sqrt(len(returns))
    assert mean + 3 * se >= sol.lower - 0.01
