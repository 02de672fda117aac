r"""A recurrent network that predicts the next observation: :class:`~generative.rnn.RecurrentCategorical`
(registered as ``"rnn"``).

The plainest world model with memory, the field's RNN sequence predictor: a GRU summary of the
history and an MLP head giving a categorical distribution over the next observation,

.. math:: g_t = \mathrm{GRU}(g_{t-1}, [o_t, a_t]), \qquad
          q(o_{t+1} \mid h_t, a_{t+1}) = \mathrm{softmax}\, f([g_t, a_{t+1}]),

trained by cross-entropy, which is the exact negative log-likelihood of the episodes. Its
likelihood is exact, so ``SequenceWorldModel.fit`` keeps its checkpoint with the lowest held-out
likelihood loss. It is also the summary on which ``generative.history``'s recurrent VAE, GAN and
flow condition their one-step model.

Example:
    >>> m = RecurrentCategorical(n_obs=3, n_actions=2)
    >>> q = m.predict(m.initial_state(4), torch.zeros(4, dtype=torch.long))
    >>> q.shape, bool(torch.allclose(q.sum(dim=1), torch.ones(4)))
    (torch.Size([4, 3]), True)
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from generative.nn import adam, mlp
from generative.sequence_family import SequenceFamily

__all__ = ["RecurrentCategorical"]


class RecurrentCategorical(SequenceFamily):
    """A GRU summary of the history and an MLP head over the next observation (module doc).

    Arguments:
        n_obs, n_actions: the POMDP's sizes.
        hidden: the summary's width and the head's. Default 64.
    """

    defaults = {"steps": 1500, "batch_size": 64, "lr": 3e-3}
    quick_steps = 100
    has_likelihood = True

    def __init__(self, n_obs: int, n_actions: int, hidden: int = 64) -> None:
        super().__init__(n_obs, n_actions)
        if isinstance(hidden, bool) or not isinstance(hidden, int) or hidden < 1:
            raise ValueError(f"hidden must be an integer >= 1, got {hidden!r}")
        self.hidden = hidden
        self.cell = nn.GRUCell(n_obs + n_actions, hidden)
        self.head = mlp(hidden + n_actions, n_obs, hidden)  # nonlinear: the next observation depends on state x action

    def context(self, state: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        """:math:`[g_t, a_{t+1}]`, the head's input."""
        return torch.cat([state, F.one_hot(action, self.n_actions).to(state.dtype)], dim=-1)

    def contexts(self, obs: torch.Tensor, actions: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """``(steps, hidden + A)``: the context before every step that happened, along whole episodes."""
        state, out = self.initial_state(obs.shape[0]), []
        for t in range(obs.shape[1]):
            a, o = actions[:, t].clamp(min=0), obs[:, t].clamp(min=0)
            out.append(self.context(state, a))
            state = self.update(state, a, o)
        return torch.stack(out, dim=1)[mask]

    def nll(self, obs: torch.Tensor, actions: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """The cross-entropy of the observations that came, per step: the exact negative log-likelihood."""
        return F.cross_entropy(self.head(self.contexts(obs, actions, mask)), obs[mask])

    def configure_optimizers(self, lr: float) -> list[torch.optim.Optimizer]:
        return [adam(self.parameters(), lr=lr)]

    def training_step(self, obs, actions, mask, progress, optimizers) -> dict[str, float]:
        (opt,) = optimizers
        loss = self.nll(obs, actions, mask)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return {"loss": float(loss.detach())}

    @torch.no_grad()
    def validate(self, obs: torch.Tensor, actions: torch.Tensor, mask: torch.Tensor) -> float:
        return float(self.nll(obs, actions, mask))

    def initial_state(self, n: int) -> torch.Tensor:
        return torch.zeros(n, self.hidden, device=self.head[0].weight.device)

    def predict(self, state: torch.Tensor, action: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        return F.softmax(self.head(self.context(state, action)), dim=-1)

    def update(self, state: torch.Tensor, action: torch.Tensor, obs: torch.Tensor, generator=None) -> torch.Tensor:
        seen = F.one_hot(obs, self.n_obs).to(state.dtype)
        return self.cell(torch.cat([seen, F.one_hot(action, self.n_actions).to(state.dtype)], dim=-1), state)

    def features(self, state: torch.Tensor) -> torch.Tensor:
        return state
