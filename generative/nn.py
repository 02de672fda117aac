"""Small network pieces shared by the world-model families."""

from __future__ import annotations

import torch.nn as nn

__all__ = ["mlp"]


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
