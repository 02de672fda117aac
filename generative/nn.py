"""Small network pieces shared by the world-model families."""

from __future__ import annotations

from typing import Any, Iterable

import torch
import torch.nn as nn

__all__ = ["mlp", "adam"]


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
