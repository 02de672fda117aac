"""Small network pieces shared by the world-model families."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Iterable, Iterator

import torch
import torch.nn as nn

__all__ = ["mlp", "adam", "seeded"]


@contextmanager
def seeded(seed: int) -> Iterator[None]:
    """Run a block on torch's global random streams seeded with ``seed``, then give the caller's
    streams back: weight initialisation and training noise (dropout, reparameterised draws, zuko's
    samples) draw from the global streams, and a library must not reseed its caller's process.

    The CPU stream and every CUDA device's are forked (``torch.random.fork_rng``), so the
    block's draws are the same as after ``torch.manual_seed(seed)`` and the caller's next draw
    is the one it would have made without the block.

    Example:
        >>> before = torch.random.get_rng_state()
        >>> with seeded(0):
        ...     a = torch.rand(2)
        >>> with seeded(0):
        ...     b = torch.rand(2)
        >>> bool((a == b).all()), bool((torch.random.get_rng_state() == before).all())
        (True, True)
    """
    cuda = list(range(torch.cuda.device_count())) if torch.cuda.is_available() else []
    with torch.random.fork_rng(devices=cuda):
        torch.manual_seed(seed)
        yield


def adam(params: Iterable[torch.Tensor], lr: float, **kwargs: Any) -> torch.optim.Adam:
    """``torch.optim.Adam`` with its fused kernel (CPU and CUDA, torch >= 2.4): one kernel per step
    instead of a dozen per tensor; on the 2-core CPU it made a small MLP's Adam step 3x faster.

    Example:
        >>> adam(mlp(3, 2, 16).parameters(), lr=1e-3).defaults["fused"]
        True
    """
    return torch.optim.Adam(params, lr=lr, fused=True, **kwargs)


def mlp(n_in: int, n_out: int, hidden: int, layers: int = 2, activation: type[nn.Module] = nn.ReLU) -> nn.Sequential:
    """An MLP with ``layers`` hidden layers of width ``hidden``.

    Example:
        >>> mlp(3, 2, 16)[0]
        Linear(in_features=3, out_features=16, bias=True)
    """
    mods: list[nn.Module] = []
    d = n_in
    for _ in range(layers):
        mods += [nn.Linear(d, hidden), activation()]
        d = hidden
    mods.append(nn.Linear(d, n_out))
    return nn.Sequential(*mods)
