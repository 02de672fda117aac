"""This machine's resources: refusing, up front and with the estimate, requests that cannot fit
in its memory (a maze of a billion cells, a data set of 10^12 transitions) instead of being killed
by the OS; and the one rule for ``device="auto"``."""

from __future__ import annotations

import os

__all__ = ["BYTES_PER_CELL", "physical_memory", "require_memory", "resolve_device"]

# measured on GridWorldEnv(open_room(1000), slip=0.2), 10^6 states, 2026-11-25: 209 bytes per state
# for the model (CSR P, R, terminal, initial, entry_reward) and 233 with the env's arrays; a lower
# bound on the need (a solver adds its own vectors)
BYTES_PER_CELL = 240


def physical_memory() -> int | None:
    """This machine's physical memory in bytes (None where the OS does not say)."""
    try:
        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        return None


def require_memory(nbytes: float, what: str) -> None:
    """Raise ``MemoryError`` naming ``what`` and the estimate when it exceeds physical memory.

    Example:
        >>> require_memory(1e3, "a tiny array")
        >>> require_memory(1e30, "a huge array")
        Traceback (most recent call last):
        ...
        MemoryError: a huge array needs about 1e+21 GB; this machine has ... GB of memory
    """
    total = physical_memory()
    if total is not None and nbytes > total:
        raise MemoryError(f"{what} needs about {nbytes / 1e9:.3g} GB; this machine has {total / 1e9:.0f} GB of memory")


def resolve_device(device: object = "auto") -> str:
    """``"auto"`` is ``"cuda"`` when torch sees a GPU, else ``"cpu"``; any other device as its string.

    Torch is imported only for ``"auto"`` (envs itself never needs it).

    Example:
        >>> resolve_device("cpu")
        'cpu'
    """
    if str(device) != "auto":
        return str(device)
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"
