r"""Topological Gauss-Seidel value iteration: strongly connected components, downstream first.

The state graph (an edge s -> s' when some action reaches s' from s with positive probability)
splits into strongly connected components (SCCs). A component's optimal values depend only on
its own states and on components downstream of it, so solving the components in reverse
topological order (sinks first), each with the values below it already final, visits every
state in only as many sweeps as its *own* component needs (topological value iteration: Dai,
Mausam, Weld & Goldsmith, "Topological value iteration algorithms", JAIR 2011). A region cut off
from every terminal state, a closed class, a chain of one-way doors: each is a component solved
on its own, instead of slowing every sweep of the whole model.

Inside a component, Gauss-Seidel modified policy iteration (as in ``agents.gauss_seidel``), its
states swept in breadth-first order from the component's *exits*, nearest first in every sweep,
renumbered so that this order is contiguous in memory. An exit is a state with a transition into
a component solved already: a terminal state, an absorbing goal (a closed class of its own, as
pymdptoolbox, QuantEcon and most papers write a goal), or any region downstream; its distance is
one more than that of the state it leads to, so the search runs on from the distances found below,
as one search from the sinks over the whole graph would. The order comes from the graph alone,
never from the model's numbering (ties aside): written with a flagged terminal goal, an absorbing
one, its states shuffled, or read through ``TabularMDP.from_arrays``, the benchmark's families take
the same work to 1.2x (issue 28; before it, a goal written as an absorbing state cost 3-150x the
work, the order then starting only from flagged terminal states). After each Bellman sweep (change
:math:`\delta`), Gauss-Seidel sweeps of the greedy policy's operator evaluate that policy until
one changes the values by at most ``POLICY_STOP`` :math:`\delta` (0.1), or ``m`` sweeps (64).
Measured on the benchmark's families at 10^5 states (BENCHMARKS.md), this needs 16-50% less work
(median 31%) than the earlier rule, a fixed 16 policy sweeps with the sweep direction alternating: a reward flows
from the exits outwards, so the sweep that visits the nearest states first carries it furthest,
and a fixed count evaluates a policy that is nearly right too little and a policy still far from
it too much. The start guess is the component's median of :math:`\max_a R(s, a)`, divided by :math:`1 - \gamma`,
the value of collecting a typical state's best reward forever. Far from any exit a value *is*
close to that (a cost-to-go world's :math:`-1/(1-\gamma)`, a reward-at-goal world's 0), and the
error left to remove is then small where the sweeps remove it slowest (errors there contract only
at rate :math:`\gamma` under any sweep order). A component is done when its last Gauss-Seidel
Bellman sweep changed it by :math:`\delta` with :math:`\gamma\delta/(1-\gamma) \le` ``tol / 2``.
Values below ``agents.gauss_seidel.TINY`` (1e-200) are stored as 0, so that :math:`\gamma^d` far from a reward
never becomes a subnormal float (measured: a 10^5-state maze swept 6x slower for it). The start
guess, the per-component stopping rule and this floor only decide speed: Gauss-Seidel sweeps
over every live state then go on from these values until one certifies
:math:`\gamma\delta/(1-\gamma) \le` ``tol`` (usually the first), and
``agents.dp.certified_solution`` checks the result in float64.

A component whose state graph (undirected, self-loops left out) is a tree (a perfect maze, a
corridor, a chain, a single state) is solved by policy iteration instead: after each Gauss-Seidel
Bellman sweep, the greedy policy's values are computed exactly, :math:`(I - \gamma P_\pi) V = R_\pi`
by Gaussian elimination with the leaves first. Eliminating a leaf changes only its parent's
equation (no fill-in), so an exact evaluation costs about two policy sweeps. Gauss-Seidel
sweeps are slow exactly there: in a slippery corridor a state's value waits on the state behind
it (the slip's moves back), so a sweep carries the goal's value only a few cells against them,
and the sweep count grows with the corridor's length and with :math:`1/(1-\gamma)`. Measured on a
perfect maze of 10^5 states: 87.5 sweeps of work at gamma 0.99 and 858 at 0.999 by Gauss-Seidel
modified policy iteration, 5.5 and 17.5 this way. Whether a component is a tree is read
from its edges once (a graph with more than :math:`2(n - 1)` distinct edges is refused after half
its rows). Should the greedy policy stop changing before ``tol`` is certified (a ``tol`` below
the values' rounding), Gauss-Seidel sweeps take over.

A large component is swept by several threads at once: its sweep order is cut into contiguous
blocks of at least ``BLOCK_MIN`` states (one per numba thread, at most ``MAX_BLOCKS``), each
swept Gauss-Seidel, reading the other blocks' values as they were when the sweep began (a copy of
the halo, the states that a row of another block reads, found once per range), so the values
are the same from run to run whatever the threads' timing. Such a sweep is still a
:math:`\gamma`-contraction towards :math:`V^*`, so the same bound certifies it. Measured at 10^6
states (the benchmark's families, 2 cores): the work in sweeps within 2% of one block's with 2 and
4 blocks (8: up to 12% more), while a sweep in 2 blocks ran 1.6-1.9x faster than in one. A
blocked policy sweep finds those values with no test per entry: its copy of the policy's columns
numbers another block's state ``S + i`` (``i`` its place in the halo), and the halo's values are
copied to ``X[S + i]`` behind the values ``X[:S]`` (a sweep of the 10^6 cost room in 2 blocks:
9.4-10.8 ms with the test, 5.8-6.5 ms without).

The greedy policy's rows are kept side by side in sweep order (each state as many slots as its
widest row): a Bellman sweep copies a state's row of its greedy action there whenever that action
changed (every state on the first sweep, rarely after), so that a policy sweep reads memory in
order instead of one row in ``A`` of the model's. Policy sweeps are most of the work (at 10^6
states, the cost room's solve makes 16 Bellman sweeps and 215 policy sweeps), and one ran 3x
faster on one thread this way (7.2-7.4 ms against 21.6-22.9 ms; BENCHMARKS.md).

In a closed class (no transition leaves the component) the error that sweeps remove slowest is a
uniform shift of every value; when the mean change of consecutive iterations shrinks by a steady
ratio, the rest of that geometric series is added at once (Aitken's extrapolation): a random
sparse MDP of 10^5 states needs 3x fewer sweeps for it. There every iteration makes
``min(m, CLOSED_M)`` (16) policy sweeps, so that consecutive iterations shrink the shift alike.
"""

from __future__ import annotations

import numpy as np

from agents.solver_constants import BLOCK_MIN, CLOSED_M, MAX_BLOCKS, POLICY_STOP, TREE_PI_CAP  # noqa: F401
from envs.mdp import TabularMDP

__all__ = ["components", "solve", "load_kernels", "kernels_loaded"]

_KERNEL = None


def components(mdp: TabularMDP) -> tuple[np.ndarray, np.ndarray]:
    r"""Live states grouped by strongly connected component, sinks first (Tarjan's algorithm).

    Returns:
        ``(order, ptr)``: component ``c`` is ``order[ptr[c]:ptr[c + 1]]``, and no transition leads
        from a component to a later one. A component's states come in breadth-first order over
        reversed transitions from its exits (states with a transition into an earlier component
        or a terminal state), an exit's distance one more than that of the state it leads to; a
        closed class (no exit) starts from its state of best reward :math:`\max_a R(s, a)`.

    Example:
        >>> from envs import GridWorldEnv
        >>> order, ptr = components(GridWorldEnv("S.>.G").mdp)  # the door splits the corridor
        >>> [order[ptr[c]:ptr[c + 1]].tolist() for c in range(len(ptr) - 1) if ptr[c] < ptr[c + 1]]
        [[3], [2, 1, 0]]
    """
    P = mdp.P
    # rows s*A .. s*A + A - 1 are contiguous in CSR: the state graph shares P's arrays
    best = mdp.R.max(axis=1) if mdp.n_actions else np.zeros(mdp.n_states)
    return _kernels()[1](P.indptr[::mdp.n_actions].copy(), P.indices, ~mdp.terminal, np.ascontiguousarray(best))


def _kernels():
    global _KERNEL
    if _KERNEL is None:
        from agents import kernels  # imports numba: only when a kernel first runs

        _KERNEL = (kernels.solve_components, kernels.tarjan, kernels.permute)
    return _KERNEL


def solve(mdp: TabularMDP, gamma: float, tol: float, m: int = 64,
          max_iter: int | None = None, blocks: int | None = None) -> tuple[np.ndarray, np.ndarray, float, int, float, int, int, int]:
    r"""Solve every component (see the module doc), then certify: the certifying loop runs
    Gauss-Seidel sweeps over every live state, in the same order, until a sweep's change
    certifies ``tol`` (or ``max_iter`` sweeps).

    The model is first renumbered so that each component's states, in their sweep order, are
    contiguous in memory (one pass over P, counted in the work): a sweep in breadth-first order
    then reads its neighbours' values from nearby memory.

    A component of at least ``2 * BLOCK_MIN`` states (and the certifying loop over every live
    state) is swept in ``min(blocks, size // BLOCK_MIN)`` contiguous blocks at once, a thread each:
    Gauss-Seidel inside a block, the other blocks' values as the sweep found them. Such a sweep is
    a :math:`\gamma`-contraction towards :math:`V^*` too (each state's backup reads values no
    farther from :math:`V^*` than the sweep's start), so the same bound certifies it; reading the
    other blocks' values from a copy keeps the result independent of the threads' timing.

    Arguments:
        blocks: the most blocks a sweep is cut into; None: numba's thread count, at most
            ``MAX_BLOCKS``. (numba starts its thread pool when these kernels first run, whatever
            the model's size; the threads wait idle between parallel sweeps.)

    Returns:
        ``(V, policy, bound, iterations, sweeps, components, trees, split)``: the values and
        greedy policy, the certifying loop's contraction bound and its Bellman sweeps, the work
        done in full Bellman sweeps of the model, the number of non-empty components, how many of
        them are trees (solved by policy iteration with exact evaluations), and the most blocks
        any sweep was cut into (1: none was).
    """
    P, A, S = mdp.P, mdp.n_actions, mdp.n_states
    solve_components, _, permute = _kernels()
    if blocks is None:
        import numba

        blocks = min(numba.get_num_threads(), MAX_BLOCKS)
    order, ptr = components(mdp)
    perm = np.concatenate([order, np.flatnonzero(mdp.terminal)])
    indptr, indices, data, R = permute(P.indptr, P.indices, P.data, np.ascontiguousarray(mdp.R.reshape(-1)), perm, A)
    W, pol = np.zeros(S), np.zeros(S, np.int64)
    work, bound, it, trees = solve_components(indptr, indices, data, R, ptr, W, float(gamma), A, pol, float(tol), m,
                                              -1 if max_iter is None else int(max_iter), int(blocks))
    V, policy = np.empty(S), np.empty(S, np.int64)
    V[perm], policy[perm] = W, pol
    split = max(1, min(int(blocks), int(ptr[-1]) // BLOCK_MIN))  # the certifying loop's sweeps: the largest range
    return (V, policy, float(bound), int(it), float(work) / max(S, 1) + 1.0, int(np.count_nonzero(np.diff(ptr))), int(trees),
            split)


def load_kernels() -> float:
    """Compile (or load from numba's disk cache) these kernels now, and ``agents.gauss_seidel``'s,
    so that a caller timing several solvers (the suite table, the benchmarks) times no compiling;
    returns the seconds it took."""
    import time

    from agents import gauss_seidel
    from envs import GridWorldEnv

    t = time.perf_counter()
    gauss_seidel.load_kernels()
    solve(GridWorldEnv("S.>.G").mdp, 0.5, 1e-3)  # numba compiles on the first call with concrete types
    return time.perf_counter() - t


def kernels_loaded() -> bool:
    """Whether this module's kernels are compiled or loaded in this process already (what
    ``agents.dp.solve``'s ``auto`` needs to know; the Gauss-Seidel ones do not matter to it)."""
    return _KERNEL is not None
