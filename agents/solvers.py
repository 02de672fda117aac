"""The one registry of exact solvers, by name, loaded lazily (no numpy, scipy or torch to list them).

A solver is a function ``run(mdp, gamma, tol=..., **options) -> agents.dp.Solution`` that ends
through ``agents.dp.certified_solution``, so its bound is certified whatever it computed.
``agents.dp.solve(method=NAME)``, ``gridlab solve --method``, the suite table and the report
all read this registry; adding a solver is its function and one :func:`register_method` line.

Example:
    >>> [m.name for m in METHODS.values() if m.backend != "torch"]
    ['vi', 'pi', 'mpi', 'gs', 'tvi']
    >>> METHODS["gs"].title
    'Gauss-Seidel modified policy iteration'
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

__all__ = ["Method", "METHODS", "register_method", "method_names", "load_method"]


@dataclass(frozen=True)
class Method:
    """A registered solver.

    Attributes:
        name: what ``solve(method=...)`` and ``--method`` take.
        entry_point: ``"module:function"``, imported when first used (or the function itself).
        title: its name in tables and reports.
        discounted_only: needs gamma < 1 (left out of gamma = 1 suites).
        backend: ``"numpy"``, ``"numba"`` or ``"torch"``; a torch solver also takes ``device=``.
    """

    name: str
    entry_point: Any
    title: str
    discounted_only: bool = False
    backend: str = "numpy"


METHODS: dict[str, Method] = {}


def register_method(name: str, entry_point: Any, title: str, discounted_only: bool = False,
                    backend: str = "numpy") -> Method:
    """Register a solver under ``name`` (see :class:`Method`).

    Raises:
        ValueError: the name is taken, is ``"auto"``, or the backend is not one of numpy, numba, torch.
    """
    if name in METHODS or name == "auto":
        raise ValueError(f"solver name {name!r} is taken")
    if backend not in ("numpy", "numba", "torch"):
        raise ValueError(f"backend must be 'numpy', 'numba' or 'torch', got {backend!r}")
    METHODS[name] = Method(name, entry_point, title, discounted_only, backend)
    return METHODS[name]


def method_names(gamma: float | None = None, backends: tuple[str, ...] = ("numpy", "numba", "torch")) -> list[str]:
    """Names of the registered solvers on ``backends`` that can solve at ``gamma`` (any, when None)."""
    return [m.name for m in METHODS.values()
            if m.backend in backends and not (gamma == 1.0 and m.discounted_only)]


def load_method(name: str) -> Callable[..., Any]:
    """The solver function registered as ``name``.

    Raises:
        ValueError: no solver has that name.
    """
    if name not in METHODS:
        raise ValueError(f"unknown method {name!r}; expected one of 'auto', {', '.join(map(repr, METHODS))}")
    from envs.registration import load_entry_point

    return load_entry_point(METHODS[name].entry_point)


register_method("vi", "agents.dp:value_iteration", "value iteration")
register_method("pi", "agents.dp:policy_iteration", "policy iteration")
register_method("mpi", "agents.dp:modified_policy_iteration", "modified policy iteration")
register_method("gs", "agents.dp:gauss_seidel_value_iteration", "Gauss-Seidel modified policy iteration",
                discounted_only=True, backend="numba")
register_method("tvi", "agents.dp:topological_value_iteration", "topological Gauss-Seidel (components sinks first)",
                discounted_only=True, backend="numba")
register_method("vi_torch", "agents.dp_torch:value_iteration_torch", "value iteration on torch sparse products",
                discounted_only=True, backend="torch")
