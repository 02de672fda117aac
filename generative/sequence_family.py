r"""The contract of a world model with memory: :class:`~generative.sequence_family.SequenceFamily`.

A sequence family is a torch module that predicts a POMDP's next observation from the whole
history, :math:`q(o_{t+1} \mid h_t, a_{t+1})` with :math:`h_t = (a_1, o_1, \dots, a_t, o_t)`, through
a recurrent state it updates one step at a time: the state after :math:`h_t` is
``update(... update(initial_state(n), a_1, o_1) ..., a_t, o_t)``. The sibling of the one-step
:class:`~generative.family.WorldModelFamily`, registered the same way
(``generative.registry.register_sequence_family``); ``SequenceWorldModel`` trains, scores and saves
any family through these hooks only.

Observations and actions are indices (``int64``); a batch is ``(obs, actions, mask)``, each
``(B, T)``, ``mask`` marking the steps that happened.

Example:
    >>> class Uniform(SequenceFamily):  # predicts every observation equally likely (for illustration)
    ...     defaults = {"steps": 1, "batch_size": 8, "lr": 1e-3}
    ...     quick_steps = 1
    ...     has_likelihood = True
    ...     def configure_optimizers(self, lr):
    ...         return []
    ...     def training_step(self, obs, actions, mask, progress, optimizers):
    ...         return {"loss": 0.0}
    ...     def initial_state(self, n):
    ...         return torch.zeros(n, 1)
    ...     def predict(self, state, action, generator=None):
    ...         return torch.full((len(state), self.n_obs), 1.0 / self.n_obs)
    ...     def update(self, state, action, obs, generator=None):
    ...         return state
    ...     def features(self, state):
    ...         return state
    >>> m = Uniform(n_obs=4, n_actions=2)
    >>> m.predict(m.initial_state(3), torch.zeros(3, dtype=torch.long)).sum(dim=1)
    tensor([1., 1., 1.])
"""

from __future__ import annotations

import abc
from typing import Any, ClassVar

import torch
import torch.nn as nn

from generative.family import check_budget

__all__ = ["SequenceFamily", "State"]

State = Any  # a family's recurrent state: a tensor or a tuple of tensors with a leading batch axis


class SequenceFamily(nn.Module, abc.ABC):
    r"""A learnable :math:`q(o_{t+1} \mid h_t, a_{t+1})` with a recurrent state: the hooks
    ``SequenceWorldModel`` calls, and what it reads.

    Arguments:
        n_obs: the POMDP's observations :math:`Z`.
        n_actions: its actions :math:`A`.
        **hparams: the family's architecture arguments (saved with the model and given back on load).

    Class attributes:
        defaults: the training budget in gradient steps, batch size (episodes) and learning rate.
        quick_steps: a small budget for smoke runs and tests.
        has_likelihood: :meth:`predict` is the model's own predictive distribution (exact, or the
            family's stated estimate of it); False for a family that can only sample, whose
            predictive the scorer estimates from :meth:`sample_next`'s draws.
    """

    defaults: ClassVar[dict[str, Any]]
    quick_steps: ClassVar[int]
    has_likelihood: ClassVar[bool] = False

    def __init__(self, n_obs: int, n_actions: int) -> None:
        super().__init__()
        self.n_obs, self.n_actions = int(n_obs), int(n_actions)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        check_budget(cls)

    @abc.abstractmethod
    def configure_optimizers(self, lr: float) -> list[torch.optim.Optimizer]:
        """The optimizers :meth:`training_step` receives, at learning rate ``lr``."""

    @abc.abstractmethod
    def training_step(self, obs: torch.Tensor, actions: torch.Tensor, mask: torch.Tensor, progress: float,
                      optimizers: list[torch.optim.Optimizer]) -> dict[str, float]:
        """One update on a batch of episodes (``(B, T)`` each); ``progress`` in [0, 1) is the share
        of training done. Returns the logged scalars (``"loss"`` at least, in nats per step)."""

    @abc.abstractmethod
    def initial_state(self, n: int) -> State:
        """The state of ``n`` empty histories (standing for :math:`b_0`)."""

    @abc.abstractmethod
    def predict(self, state: State, action: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        r"""``(n, Z)``: :math:`q(o_{t+1} \mid h_t, a_{t+1})` for each history's state and next action
        (``generator`` drives the draws of a family whose prediction is a histogram of samples)."""

    @abc.abstractmethod
    def update(self, state: State, action: torch.Tensor, obs: torch.Tensor,
               generator: torch.Generator | None = None) -> State:
        """The state after one more step, action ``action`` and observation ``obs`` (``(n,)`` each);
        ``generator`` drives any sampling inside (a stochastic latent)."""

    @abc.abstractmethod
    def features(self, state: State) -> torch.Tensor:
        """``(n, D)``: what the state holds, as one vector per history (for the belief probe)."""

    def sample_next(self, state: State, action: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """``(n,)`` next observations drawn from the model; by default from :meth:`predict`."""
        return torch.multinomial(self.predict(state, action, generator), 1, generator=generator).squeeze(1)

    @torch.no_grad()
    def validate(self, obs: torch.Tensor, actions: torch.Tensor, mask: torch.Tensor) -> float | None:
        r"""Called by ``SequenceWorldModel.fit`` after each tenth of training with held-out episodes:
        returns the loss, in nats per step, by which ``fit`` keeps its best checkpoint (lower is
        better), or None to keep the last (a family may then use the held-out episodes itself).

        By default, for a family with a likelihood, the negative log-likelihood per step,
        :math:`-\sum_t \log q(o_t \mid h_{t-1}, a_t) / \#\text{steps}`, its draws seeded alike at
        every call."""
        if not self.has_likelihood:
            return None
        generator = torch.Generator(device=obs.device).manual_seed(0)
        return float(-self.log_prob(obs, actions, mask, generator).sum() / mask.sum())

    def log_prob(self, obs: torch.Tensor, actions: torch.Tensor, mask: torch.Tensor,
                 generator: torch.Generator | None = None) -> torch.Tensor:
        r"""``(B,)``: :math:`\sum_t \log q(o_t \mid h_{t-1}, a_t)` over each episode's steps, by
        running the state along it (a family with an exact likelihood may override this)."""
        state = self.initial_state(obs.shape[0])
        total = torch.zeros(obs.shape[0], device=obs.device)
        for t in range(obs.shape[1]):
            live = mask[:, t]
            a, o = actions[:, t].clamp(min=0), obs[:, t].clamp(min=0)
            q = self.predict(state, a, generator).gather(1, o[:, None]).squeeze(1)
            total = total + torch.where(live, torch.log(q.clamp_min(1e-300)), torch.zeros_like(q))
            state = self.update(state, a, o, generator)
        return total
