"""Certified bounds at gamma = 1 (stochastic shortest path), against an independent exact V*."""

import itertools
import warnings

import gymnasium as gym
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from agents import dp
from agents.ssp import certify_ssp, end_components
from envs import GridWorldEnv, TabularMDP

from conftest import SUITE_IDS


# ---------------------------------------------------------------- an independent reference
def _total_reward(P: np.ndarray, r: np.ndarray, terminal: np.ndarray) -> np.ndarray | None:
    """Expected total reward of a Markov chain (dense, transitive closure), -inf where it loops
    forever through negative rewards; None when it could loop forever through a positive one."""
    S = P.shape[0]
    reach = (P > 0) | np.eye(S, dtype=bool)
    for k in range(S):  # Warshall
        reach |= reach[:, [k]] & reach[[k], :]
    closed = np.array([not terminal[s] and all(reach[t, s] for t in range(S) if reach[s, t]) for s in range(S)])
    if np.any(closed & (r > 0)):
        return None
    bad = closed & (r < 0)
    minus_inf = reach[:, bad].any(axis=1)
    zero = closed & ~minus_inf
    T = ~terminal & ~zero & ~minus_inf
    V = np.zeros(S)
    if T.any():
        V[T] = np.linalg.solve(np.eye(T.sum()) - P[np.ix_(T, T)], r[T])
    V[minus_inf] = -np.inf
    return V


def exact_v_star(P: np.ndarray, R: np.ndarray, terminal: np.ndarray) -> np.ndarray | None:
    """max over every deterministic policy of its exact total reward (None: unbounded)."""
    A, S, _ = P.shape
    best = np.full(S, -np.inf)
    for pol in itertools.product(range(A), repeat=S):
        Ppi = P[list(pol), np.arange(S), :]
        V = _total_reward(Ppi, R[np.arange(S), list(pol)], terminal)
        if V is None:
            return None
        best = np.maximum(best, V)
    return best


@st.composite
def adversarial_ssps(draw):
    """Small SSPs with tiny chances of progress, cheap quitting actions, self-loops tied with the
    optimum and zero-reward loops: state S-1 is terminal."""
    S = draw(st.integers(2, 6))
    A = draw(st.integers(1, 3))
    rng = np.random.default_rng(draw(st.integers(0, 2**31 - 1)))
    P = np.zeros((A, S, S))
    R = np.zeros((S, A))
    T = S - 1
    for s in range(S - 1):
        for a in range(A):
            kind = rng.integers(5)
            if kind == 0:  # quit: to the terminal state, paying 0 or a little
                P[a, s, T] = 1.0
                R[s, a] = rng.choice([0.0, 0.0, 0.1, -0.5])
            elif kind == 1:  # self-loop paying 0 or a cost
                P[a, s, s] = 1.0
                R[s, a] = rng.choice([0.0, -1.0])
            elif kind == 2:  # a gamble: rare progress, else back here
                p = rng.choice([1e-4, 1e-3, 0.05])
                P[a, s, rng.integers(S)] += p
                P[a, s, s] += 1.0 - p
                R[s, a] = rng.choice([0.0, -0.01])
            else:  # random successors, rewards mostly 0 or on entering the terminal state
                k = rng.integers(1, S + 1)
                to = rng.choice(S, size=k, replace=False)
                P[a, s, to] = rng.dirichlet(np.ones(k))
                R[s, a] = rng.choice([0.0, 0.0, 1.0, -1.0]) * P[a, s, T] + rng.choice([0.0, 0.0, -0.2])
    P[:, T, T] = 1.0
    terminal = np.zeros(S, bool)
    terminal[T] = True
    return P, R, terminal


METHOD_CALLS = {
    "vi": lambda m: dp.value_iteration(m, 1.0, tol=1e-6, max_iter=20_000),
    "pi": lambda m: dp.policy_iteration(m, 1.0, tol=1e-6),
    "mpi": lambda m: dp.modified_policy_iteration(m, 1.0, tol=1e-6, max_iter=5_000),
}


@pytest.mark.parametrize("method", sorted(METHOD_CALLS))
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(adversarial_ssps())
def test_converged_solutions_are_within_their_bound_of_the_exact_v_star(method, model):
    P, R, terminal = model
    ref = exact_v_star(P, R, terminal)
    mdp = TabularMDP.from_arrays(P, R, terminal=terminal, gamma=1.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        try:
            sol = METHOD_CALLS[method](mdp)
        except ValueError as e:  # only a state whose every future costs forever may be refused
            assert "-inf" in str(e) and ref is not None and np.isneginf(ref).any()
            return
    if ref is None:  # a policy can earn forever: nothing is certified
        assert not sol.converged and sol.error_bound == np.inf
        return
    finite = np.isfinite(ref)
    assert finite.all() or not sol.converged
    if sol.converged:
        assert sol.error_bound <= 1e-6
        assert np.max(np.abs(sol.V - ref)) <= sol.error_bound + 1e-9
    else:
        assert np.isinf(sol.error_bound) or np.all(np.abs(sol.V - ref)[finite] <= sol.error_bound + 1e-9)


@settings(max_examples=60, deadline=None)
@given(adversarial_ssps(), st.integers(0, 2**31 - 1))
def test_the_certificate_bounds_the_error_of_any_candidate(model, seed):
    P, R, terminal = model
    ref = exact_v_star(P, R, terminal)
    if ref is None or not np.isfinite(ref).all():
        return
    mdp = TabularMDP.from_arrays(P, R, terminal=terminal, gamma=1.0)
    rng = np.random.default_rng(seed)
    for V in (np.zeros(len(ref)), ref + rng.normal(0, 1e-3, ref.size) * ~terminal, ref.copy()):
        cert = certify_ssp(mdp, V)
        assert np.all(cert.lower <= ref + 1e-9) and np.all(ref <= cert.upper + 1e-9)
        assert np.max(np.abs(V - ref)) <= cert.bound + 1e-9


def _gamble(p: float) -> TabularMDP:
    """State 1 can quit for 0 or gamble: with probability p it moves on to a reward of 1, else it
    comes back. V*(1) = 1 whatever p > 0; the quit action ties at V = 0."""
    P = np.zeros((2, 4, 4))
    R = np.zeros((4, 2))
    P[:, 0, 1] = 1.0
    P[0, 1, 3] = 1.0
    P[1, 1, 2], P[1, 1, 1] = p, 1.0 - p
    P[:, 2, 3] = 1.0
    R[2] = 1.0
    P[:, 3, 3] = 1.0
    return TabularMDP.from_arrays(P, R, terminal=np.array([False, False, False, True]), gamma=1.0)


def test_the_bound_of_a_wrong_candidate_covers_its_true_error():
    cert = certify_ssp(_gamble(0.1), np.zeros(4))  # true error 1 at states 0-2
    assert cert.bound >= 1.0


@pytest.mark.parametrize("method", ["vi", "mpi", "pi"])
def test_rare_progress_is_never_claimed_converged_with_a_wrong_value(method):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sol = dp.solve(_gamble(1e-10), 1.0, tol=1e-6, method=method)
    if sol.converged:
        assert abs(sol.V[1] - 1.0) <= sol.error_bound <= 1e-6
    else:
        assert abs(sol.V[1] - 1.0) <= sol.error_bound
        assert any("cannot certify" in str(w.message) for w in caught)


def test_policy_iteration_sees_an_improvement_of_1e_10():
    sol = dp.policy_iteration(_gamble(0.5), 1.0)
    assert sol.policy[1] == 1  # the gamble is worth 1, quitting 0
    P = np.zeros((2, 2, 2))
    P[:, :, 1] = 1.0
    R = np.array([[0.0, 1e-10], [0.0, 0.0]])
    tiny = TabularMDP.from_arrays(P, R, terminal=np.array([False, True]), gamma=1.0)
    assert dp.policy_iteration(tiny, 1.0).policy[0] == 1


@pytest.mark.parametrize("env_id", SUITE_IDS)
@pytest.mark.parametrize("method", ["auto", "vi", "pi", "mpi"])
def test_every_registered_world_is_certified_at_gamma_one(env_id, method):
    mdp = gym.make(env_id).unwrapped.mdp
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sol = dp.solve(mdp, 1.0, tol=1e-6, method=method)
    assert sol.converged and sol.error_bound <= 1e-6


def test_the_optimal_policy_terminates_where_a_wall_bump_ties_with_it():
    # hole_reward 0: at gamma = 1 bumping a wall forever ties with reaching the goal's 1 at slip 0
    env = GridWorldEnv("S..G\n#.##", slip=0.0)
    for method in ("vi", "pi", "mpi"):
        sol = dp.solve(env.mdp, 1.0, method=method)
        steps = env.mdp.state_distributions(sol.policy, 4)
        assert steps[-1][env.mdp.terminal].sum() == 1.0, method  # reaches the goal in 3 steps
        assert sol.policy[:3].tolist() == [1, 1, 1]


def test_looping_forever_for_free_is_worth_zero():
    mdp = GridWorldEnv("S.#G").mdp  # states 0 and 1 cannot reach the goal
    sol = dp.policy_iteration(mdp, 1.0)
    assert sol.converged and sol.V[:2].tolist() == [0.0, 0.0]
    assert dp.policy_evaluation(mdp, np.zeros(mdp.n_states, int), 1.0)[0] == 0.0


def test_looping_forever_at_a_cost_has_no_value():
    mdp = GridWorldEnv("S..G", step_reward=-1.0).mdp
    with pytest.raises(ValueError, match="loops forever through state 0, which pays -1"):
        dp.policy_evaluation(mdp, np.zeros(4, int), 1.0)  # 'up' bumps the border forever
    with pytest.raises(ValueError, match="state 0 can never reach a terminal state .* value is -inf"):
        dp.policy_iteration(GridWorldEnv("S.#G", step_reward=-1.0).mdp, 1.0)


def test_a_model_that_can_earn_forever_is_not_certified():
    P = np.ones((1, 1, 1))  # one state paying 1 forever
    mdp = TabularMDP.from_arrays(P, np.array([1.0]), gamma=1.0)
    with pytest.warns(RuntimeWarning, match="pays 1 inside a set of states a policy can stay in forever"):
        sol = dp.value_iteration(mdp, 1.0, tol=1e-6, max_iter=50)
    assert not sol.converged and sol.error_bound == np.inf


def test_end_components_of_a_corridor():
    labels, inside = end_components(GridWorldEnv("S.G").mdp)
    assert labels.tolist() == [0, 0, -1]
    assert inside[1].tolist() == [True, False, True, True]  # 'right' enters the goal


def test_cliff_walk_matches_sutton_and_barto_and_gymnasium():
    """V*(start) = -13 at gamma = 1: 13 steps of -1 along the cliff edge (Sutton & Barto, Example 6.6)."""
    ours = gym.make("gridlab/CliffWalk-v0").unwrapped.mdp
    theirs = TabularMDP.from_gym(gym.make("CliffWalking-v1"))
    v_ours = ours.initial @ dp.solve(ours, 1.0).V
    v_theirs = theirs.initial @ dp.solve(theirs, 1.0).V
    assert v_ours == pytest.approx(-13.0, abs=1e-9) and v_theirs == pytest.approx(-13.0, abs=1e-9)
