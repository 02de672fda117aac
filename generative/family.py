r"""The contract every world-model family fulfils: :class:`~generative.family.WorldModelFamily`.

A family is a torch module that learns a conditional distribution :math:`p(x \mid c)` over
encoded observations ``x`` (``ObsCodec``) given a context ``c`` (observation features and the
one-hot action; empty for an unconditional model). ``WorldModel`` trains, samples, scores and
saves any family through these hooks only, so a new family is one class and one
``generative.registry.register_family`` call.

Example:
    >>> class Uniform(WorldModelFamily):  # a family that ignores its data (for illustration)
    ...     defaults = {"steps": 1, "batch_size": 8, "lr": 1e-3}
    ...     quick_steps = 1
    ...     def __init__(self, x_dim, c_dim, kind):
    ...         super().__init__(x_dim, c_dim, kind)
    ...         self.w = torch.nn.Parameter(torch.zeros(1))
    ...     def configure_optimizers(self, lr):
    ...         return [torch.optim.SGD(self.parameters(), lr=lr)]
    ...     def training_step(self, x, c, progress, optimizers):
    ...         return {"loss": 0.0}
    ...     def sample(self, c, generator=None):
    ...         idx = torch.randint(self.x_dim, (len(c),), generator=generator)
    ...         return torch.nn.functional.one_hot(idx, self.x_dim).float()
    >>> Uniform(5, 3, "categorical").sample(torch.zeros(2, 3)).shape
    torch.Size([2, 5])
"""

from __future__ import annotations

import abc
from typing import Any, ClassVar

import torch
import torch.nn as nn

__all__ = ["WorldModelFamily", "BUDGET_KEYS", "check_budget"]

BUDGET_KEYS = ("steps", "batch_size", "lr")


def check_budget(cls: type) -> None:
    """Refuse a family class (of either contract) whose ``defaults`` or ``quick_steps`` is malformed;
    an abstract intermediate class (one listing ``abc.ABC`` among its bases) declares nothing yet.

    Raises:
        TypeError: naming the class and the bad value.
    """
    if abc.ABC in cls.__bases__:
        return
    defaults = getattr(cls, "defaults", None)
    if not isinstance(defaults, dict) or set(defaults) != set(BUDGET_KEYS):
        raise TypeError(f"{cls.__name__}.defaults must be a dict with keys {BUDGET_KEYS}, got {defaults!r}")
    quick = getattr(cls, "quick_steps", None)
    if isinstance(quick, bool) or not isinstance(quick, int) or quick < 1:
        raise TypeError(f"{cls.__name__}.quick_steps must be an integer >= 1, got {quick!r}")


class WorldModelFamily(nn.Module, abc.ABC):
    """A learnable :math:`p(x \\mid c)`: the hooks ``WorldModel`` calls, and what it reads.

    Arguments:
        x_dim: encoded observation dimensions.
        c_dim: context dimensions, 0 for an unconditional model.
        kind: the codec's observation kind: ``"categorical"`` (one-hot), ``"bernoulli"`` (binary)
            or ``"gaussian"`` (real).
        **hparams: the family's architecture arguments (saved with the model and given back on load).

    Class attributes:
        defaults: the training budget in gradient steps, batch size and learning rate
            (``{"steps", "batch_size", "lr"}``), whatever the data size.
        quick_steps: a small budget for smoke runs (``gridlab demo --quick``, tests).
        has_likelihood: whether :meth:`log_prob` is implemented.

    Attributes:
        pack: rows per training example that share one context (PacGAN); the trainer hands
            :meth:`training_step` batches grouped ``pack`` by ``pack``. Default 1.
    """

    defaults: ClassVar[dict[str, Any]]
    quick_steps: ClassVar[int]
    has_likelihood: ClassVar[bool] = False
    pack: int = 1

    def __init__(self, x_dim: int, c_dim: int, kind: str) -> None:
        super().__init__()
        self.x_dim, self.c_dim, self.kind = x_dim, c_dim, kind

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        check_budget(cls)

    @abc.abstractmethod
    def configure_optimizers(self, lr: float) -> list[torch.optim.Optimizer]:
        """The optimizers :meth:`training_step` receives, at learning rate ``lr``."""

    @abc.abstractmethod
    def training_step(self, x: torch.Tensor, c: torch.Tensor, progress: float,
                      optimizers: list[torch.optim.Optimizer]) -> dict[str, float]:
        """One update on a batch (``x`` encoded targets, ``c`` contexts); ``progress`` in [0, 1)
        is the share of training done (for warm-ups and decays). Returns the logged scalars
        (``"loss"`` at least)."""

    @abc.abstractmethod
    def sample(self, c: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """One encoded observation per context row, drawn with ``generator`` (reproducible)."""

    def log_prob(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        """:math:`\\log p(x \\mid c)` per row (an estimate or a bound where the family says so)."""
        raise NotImplementedError(f"the {type(self).__name__} family has no likelihood")

    def held_out_nll(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        """Negative log-likelihood per row that the scorer reports on held-out data; by default
        ``-log_prob``. A family whose natural NLL differs (the flow's dequantised density) overrides it."""
        return -self.log_prob(x, c)
