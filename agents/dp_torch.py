r"""Value iteration on a torch sparse backend (GPU when asked), certified in float64 on the host.

The sweeps :math:`V \leftarrow \max_a [R + \gamma P V]` run as sparse CSR products on ``device``;
the change is read back only every ``check_every`` sweeps, so there is no per-sweep host round
trip. The final V is certified by ``agents.dp.certify`` in float64 numpy, whatever dtype the
sweeps used.
"""

from __future__ import annotations

import time
import warnings

import numpy as np

from envs.mdp import TabularMDP

__all__ = ["value_iteration_torch"]


def value_iteration_torch(
    mdp: TabularMDP,
    gamma: float,
    tol: float = 1e-8,
    device: str = "cpu",
    dtype: str = "float64",
    check_every: int = 16,
    max_iter: int | None = None,
):
    """Value iteration with torch sparse products; returns an ``agents.dp.Solution``.

    Arguments:
        mdp: the model.
        gamma: discount in (0, 1).
        tol: target certified bound on ``|V - V*|``.
        device: torch device, e.g. ``"cuda"`` or ``"cpu"``.
        dtype: ``"float64"`` or ``"float32"`` for the sweeps (the certificate is always float64;
            float32 sweeps cannot certify below about 1e-7 relative to the values' scale).
        check_every: sweeps between reading the change back to the host.
        max_iter: optional cap on sweeps (warns when reached).

    Example:
        >>> from envs import GridWorldEnv
        >>> sol = value_iteration_torch(GridWorldEnv("S..G").mdp, 0.9, tol=1e-9)
        >>> [round(v, 6) for v in sol.V.tolist()]
        [0.81, 0.9, 1.0, 0.0]
    """
    import torch

    from agents.dp import certified_solution, check_gamma, check_tol

    g = check_gamma(mdp, gamma)
    tol = check_tol(tol)
    if g == 1.0:
        raise ValueError("the torch backend needs gamma < 1; use policy_iteration at gamma = 1")
    if dtype not in ("float64", "float32"):
        raise ValueError(f"dtype must be 'float64' or 'float32', got {dtype!r}")
    t0 = time.perf_counter()
    dt = getattr(torch, dtype)
    S, A = mdp.n_states, mdp.n_actions
    with warnings.catch_warnings():  # "sparse CSR support is in beta": matmul is all we use
        warnings.simplefilter("ignore", UserWarning)
        P = torch.sparse_csr_tensor(
            torch.as_tensor(mdp.P.indptr.astype(np.int64)), torch.as_tensor(mdp.P.indices.astype(np.int64)),
            torch.as_tensor(mdp.P.data), size=mdp.P.shape, dtype=dt, device=device, check_invariants=False,
        )
    R = torch.as_tensor(mdp.R, dtype=dt, device=device)
    live = torch.as_tensor(~mdp.terminal, device=device)
    V = torch.zeros(S, dtype=dt, device=device)
    it = 0
    while True:
        for _ in range(check_every):
            Q = R + g * (P @ V).view(S, A)
            V_new = torch.where(live, Q.max(dim=1).values, torch.zeros((), dtype=dt, device=device))
            delta = (V_new - V).abs().max() if S else torch.zeros((), dtype=dt, device=device)
            V = V_new
            it += 1
        bound = g * float(delta) / (1.0 - g)
        if bound <= tol:
            return certified_solution(mdp, V.double().cpu().numpy(), g, "value_iteration_torch", it, True, it, t0, tol, bound)
        if max_iter is not None and it >= max_iter:
            return certified_solution(mdp, V.double().cpu().numpy(), g, "value_iteration_torch", it, False, it, t0, tol, bound)
