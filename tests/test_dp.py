
import gymnasium as gym
import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings, strategies as st

from agents import dp
from envs import GridWorldEnv, TabularMDP, open_room

from conftest import SUITE_IDS


@pytest.mark.parametrize("env_id", SUITE_IDS)
def test_vi_pi_and_mpi_agree_on_the_whole_suite(env_id):
    mdp = gym.make(env_id).unwrapped.mdp
    vi = dp.value_iteration(mdp, tol=1e-9)
    pi = dp.policy_iteration(mdp)
    mpi = dp.modified_policy_iteration(mdp, tol=1e-9)
    gs = dp.gauss_seidel_value_iteration(mdp, tol=1e-9)
    for other in (vi, mpi, gs):
        assert np.max(np.abs(other.V - pi.V)) <= 2e-9
    for sol in (vi, pi, mpi, gs):
        assert sol.error_bound <= 1e-9 and sol.converged


@pytest.mark.parametrize("example", ["forest", "small"])
def test_agrees_with_pymdptoolbox_on_its_examples(example):
    import mdptoolbox
    import mdptoolbox.example

    P, R = getattr(mdptoolbox.example, example)()
    mdp = TabularMDP.from_arrays(P, R)
    ref = mdptoolbox.mdp.PolicyIteration(P, R, 0.96)
    ref.run()
    ours = dp.policy_iteration(mdp, 0.96)
    assert np.allclose(ours.V, ref.V, atol=1e-9)
    assert ours.policy.tolist() == list(ref.policy)


def test_closed_form_values_of_a_corridor():
    """Right along S...G: V(s) = gamma^(d-1) for distance d to the goal."""
    mdp = GridWorldEnv("S...G").mdp
    sol = dp.value_iteration(mdp, 0.9, tol=1e-12)
    assert np.allclose(sol.V, [0.9**3, 0.9**2, 0.9, 1.0, 0.0], atol=1e-12)
    assert sol.policy[:4].tolist() == [1, 1, 1, 1]


def test_closed_form_value_of_a_self_loop_with_reward():
    """One state, one action paying 1 forever: V = 1 / (1 - gamma)."""
    mdp = TabularMDP.from_arrays(np.ones((1, 1, 1)), np.array([1.0]))
    assert dp.policy_evaluation(mdp, np.array([0]), 0.8)[0] == pytest.approx(5.0)
    assert dp.value_iteration(mdp, 0.8, tol=1e-10).V[0] == pytest.approx(5.0, abs=1e-10)


def test_slip_or_gamma_flip_the_risky_shortcut():
    from envs.layouts import RISKY_SHORTCUT

    def first_move(slip, gamma):
        env = GridWorldEnv(RISKY_SHORTCUT, slip=slip)
        return int(dp.solve(env.mdp, gamma).policy[env.start_states[0]])

    assert first_move(0.0, 0.99) == 1  # safe to run the corridor
    assert first_move(0.1, 0.99) == 0  # slipping into holes: take the detour
    assert first_move(0.1, 0.7) == 1  # impatient: the corridor again


def test_policy_iteration_does_not_cycle_on_ties():
    # every action is equally good everywhere: PI must stop at once
    mdp = TabularMDP.from_arrays(np.stack([np.full((4, 4), 0.25)] * 3), np.ones(4))
    sol = dp.policy_iteration(mdp, 0.9, max_iter=5)
    assert sol.converged and sol.iterations == 1


def test_iteration_cap_is_announced_not_silent():
    mdp = gym.make("gridlab/SlipperyLake-v0").unwrapped.mdp
    with pytest.warns(RuntimeWarning, match="stopped at its iteration cap \\(5 iterations\\)"):
        sol = dp.value_iteration(mdp, 0.99, tol=1e-8, max_iter=5)
    assert not sol.converged and sol.error_bound > 1e-8


def test_gamma_one_with_a_terminating_policy_is_solved():
    # -1 a step; entering the goal pays goal_reward = -1 too
    mdp = GridWorldEnv("S..G", step_reward=-1.0, goal_reward=-1.0).mdp
    for method in ("vi", "pi", "mpi"):
        sol = dp.solve(mdp, 1.0, method=method)
        assert np.allclose(sol.V, [-3, -2, -1, 0]) and sol.error_bound <= 1e-6


@pytest.mark.parametrize("gamma", [0.0, 1.5, -0.1])
def test_gamma_outside_unit_interval_is_refused(gamma):
    with pytest.raises(ValueError, match=f"gamma must be in \\(0, 1\\], got {gamma}"):
        dp.value_iteration(GridWorldEnv("S.G").mdp, gamma)


def test_unknown_method_is_refused():
    with pytest.raises(ValueError, match="unknown method 'sarsa'"):
        dp.solve(GridWorldEnv("S.G").mdp, method="sarsa")


# ---------------------------------------------------------------- properties on random MDPs
@st.composite
def random_mdps(draw):
    S = draw(st.integers(2, 8))
    A = draw(st.integers(1, 3))
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    P = rng.random((S * A, S)) * (rng.random((S * A, S)) < 0.5)
    P[np.arange(S * A), rng.integers(0, S, S * A)] += 0.1  # each row has some mass
    P /= P.sum(axis=1, keepdims=True)
    R = rng.normal(size=(S, A))
    terminal = np.zeros(S, bool)
    if draw(st.booleans()):
        terminal[rng.integers(S)] = True
    return TabularMDP(sp.csr_matrix(P), R, terminal, np.full(S, 1.0 / S)), rng


gammas = st.floats(0.1, 0.99)


@settings(max_examples=60, deadline=None)
@given(random_mdps(), gammas)
def test_bellman_operator_is_a_gamma_contraction(model, gamma):
    mdp, rng = model
    U, W = rng.normal(size=(2, mdp.n_states)) * 5
    TU = dp.bellman_backup(mdp, U, gamma).max(axis=1)
    TW = dp.bellman_backup(mdp, W, gamma).max(axis=1)
    assert np.max(np.abs(TU - TW)) <= gamma * np.max(np.abs(U - W)) + 1e-12


@settings(max_examples=60, deadline=None)
@given(random_mdps(), gammas)
def test_bellman_operator_is_monotone(model, gamma):
    mdp, rng = model
    U = rng.normal(size=mdp.n_states)
    W = U + rng.random(mdp.n_states)
    assert np.all(dp.bellman_backup(mdp, U, gamma).max(axis=1) <= dp.bellman_backup(mdp, W, gamma).max(axis=1) + 1e-12)


@settings(max_examples=60, deadline=None)
@given(random_mdps(), gammas)
def test_optimal_value_dominates_every_random_policy(model, gamma):
    mdp, rng = model
    V_star = dp.policy_iteration(mdp, gamma).V
    pi = rng.dirichlet(np.ones(mdp.n_actions), size=mdp.n_states)
    assert np.all(V_star >= dp.policy_evaluation(mdp, pi, gamma) - 1e-9)


@settings(max_examples=60, deadline=None)
@given(random_mdps(), gammas)
def test_certified_error_bound_holds(model, gamma):
    mdp, _ = model
    exact = dp.policy_iteration(mdp, gamma).V
    for sol in (dp.value_iteration(mdp, gamma, tol=1e-4), dp.modified_policy_iteration(mdp, gamma, tol=1e-4, m=3),
                dp.gauss_seidel_value_iteration(mdp, gamma, tol=1e-4, m=3),
                dp.topological_value_iteration(mdp, gamma, tol=1e-4, m=3)):
        # the reference is itself a float64 linear solve: allow its rounding (relative 1e-13)
        assert np.max(np.abs(sol.V - exact)) <= sol.error_bound + 1e-13 * (1 + np.max(np.abs(exact)))
        assert sol.error_bound <= 1e-4


@pytest.mark.parametrize("goal_corner", ["top-left", "bottom-right"])
def test_gauss_seidel_is_certified_on_a_large_slippery_room_whichever_way_values_flow(goal_corner):
    layout = open_room(110)
    if goal_corner == "top-left":
        layout = layout[::-1]  # the string reversed: goal first, start last
    mdp = GridWorldEnv(layout, slip=0.2).mdp
    vi = dp.value_iteration(mdp, 0.99, tol=1e-9)
    for sol in (dp.solve(mdp, 0.99, tol=1e-6), dp.gauss_seidel_value_iteration(mdp, 0.99, tol=1e-6)):
        assert sol.error_bound <= 1e-6
        assert np.max(np.abs(sol.V - vi.V)) <= sol.error_bound + 1e-9


def test_auto_picks_vi_when_small_and_cold_topological_otherwise_and_pi_at_gamma_one(monkeypatch):
    from agents import gauss_seidel, topological

    monkeypatch.setattr(topological, "_KERNEL", None)  # as in a fresh process, whatever ran before
    monkeypatch.setattr(gauss_seidel, "_KERNEL", None)
    mdp = gym.make("gridlab/FourRooms-v0").unwrapped.mdp
    assert dp.solve(mdp, 1.0).method == "policy_iteration"
    big = GridWorldEnv(open_room(100), slip=0.1).mdp
    assert dp.solve(big).method == "topological_value_iteration"  # loads the kernels
    assert dp.solve(mdp).method == "topological_value_iteration"
    monkeypatch.setattr(topological, "_KERNEL", None)  # as in a fresh process
    assert dp.solve(mdp).method == "value_iteration"


@pytest.mark.parametrize("env_id", ["gridlab/SlipperyLake-v0", "gridlab/CliffWalk-v0"])
def test_torch_backend_gives_the_numpy_values(env_id):
    mdp = gym.make(env_id).unwrapped.mdp
    ref = dp.policy_iteration(mdp, 0.95)
    sol = dp.solve(mdp, 0.95, tol=1e-9, backend="torch", device="cpu")
    assert sol.method == "value_iteration_torch" and sol.error_bound <= 1e-9
    assert np.max(np.abs(sol.V - ref.V)) <= 1e-9
    assert np.array_equal(sol.policy[mdp.live], ref.policy[mdp.live]) or np.allclose(
        sol.Q[mdp.live, sol.policy[mdp.live]], ref.Q[mdp.live].max(axis=1), atol=1e-8)


def test_torch_backend_runs_on_a_gpu_when_present():
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device on this machine")
    mdp = GridWorldEnv("S" + "." * 300 + "G", slip=0.1).mdp
    sol = dp.solve(mdp, 0.99, tol=1e-8, backend="torch", device="cuda")
    assert np.max(np.abs(sol.V - dp.policy_iteration(mdp, 0.99).V)) <= 1e-8
