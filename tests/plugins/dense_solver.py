"""A solver written outside the ``agents`` package, as a user would: value iteration on a dense
(S, A, S) array, ending through ``agents.dp.certified_solution`` like every solver."""

import time

import numpy as np

from agents.dp import certified_solution, check_gamma, check_tol


def dense_value_iteration(mdp, gamma=None, tol=1e-6):
    g, tol, t0 = check_gamma(mdp, gamma), check_tol(tol), time.perf_counter()
    if g == 1.0:
        raise ValueError("dense value iteration needs gamma < 1")
    S, A = mdp.n_states, mdp.n_actions
    P = mdp.P.toarray().reshape(S, A, S)
    V, it = np.zeros(S), 0
    while True:
        V_new = np.where(mdp.terminal, 0.0, (mdp.R + g * P @ V).max(axis=1))
        delta, V, it = float(np.max(np.abs(V_new - V))), V_new, it + 1
        if g * delta / (1.0 - g) <= tol:
            return certified_solution(mdp, V, g, "dense_value_iteration", it, True, it, t0, tol, g * delta / (1.0 - g))
