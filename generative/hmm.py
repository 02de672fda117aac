r"""A neural hidden Markov model with actions, trained by its exact marginal likelihood.

:math:`K` discrete latent states :math:`z`. The tables of the lecture's HMM, with an action added,
are computed by small networks from learned embeddings of states and actions (a *neural* HMM):

.. math:: \pi(z_0), \qquad A_a(z' \mid z) = \mathrm{softmax}_{z'}\, f([e_z, e_a]), \qquad
          B_a(o \mid z') = \mathrm{softmax}_o\, g([e_{z'}, e_a]),

the observation following the state the action led to, as in the POMDP. Its own forward algorithm
gives the exact likelihood, :math:`\log q(o_{1:T} \mid a_{1:T}) = \sum_t \log c_t` with
:math:`\alpha_t(z') \propto B_{a_t}(o_t \mid z') \sum_z \alpha_{t-1}(z) A_{a_t}(z' \mid z)` and
:math:`c_t` the normaliser; training maximises it by gradient ascent. The recurrent state is the
filtered :math:`\alpha_t`, and the predictive distribution is exact:
:math:`q(o_{t+1} \mid h_t, a) = \sum_{z'} B_a(o \mid z') \sum_z \alpha_t(z) A_a(z' \mid z)`.
With :math:`K` at least the POMDP's hidden states the family can represent the POMDP exactly.

Example:
    >>> hmm = NeuralHMM(n_obs=3, n_actions=2, states=4)
    >>> a = torch.zeros(5, dtype=torch.long)
    >>> hmm.predict(hmm.initial_state(5), a).shape
    torch.Size([5, 3])
"""

from __future__ import annotations

import torch
import torch.nn as nn

from generative.nn import adam, mlp
from generative.sequence_family import SequenceFamily

__all__ = ["NeuralHMM"]


class NeuralHMM(SequenceFamily):
    """:math:`K`-state HMM with action-conditioned transitions and emissions (module doc).

    Arguments:
        n_obs, n_actions: the POMDP's sizes.
        states: :math:`K`, the latent states. Default 16.
        embed: embedding width of states and actions. Default 16.
        hidden: width of the networks that make the tables. Default 64.
    """

    defaults = {"steps": 1500, "batch_size": 64, "lr": 1e-2}
    quick_steps = 150
    has_likelihood = True

    def __init__(self, n_obs: int, n_actions: int, states: int = 16, embed: int = 16, hidden: int = 64) -> None:
        super().__init__(n_obs, n_actions)
        if isinstance(states, bool) or not isinstance(states, int) or states < 1:
            raise ValueError(f"states must be an integer >= 1, got {states!r}")
        self.K = states
        self.initial = nn.Parameter(torch.zeros(states))
        self.state_embed = nn.Parameter(torch.randn(states, embed))
        self.action_embed = nn.Parameter(torch.randn(n_actions, embed))
        self.transition_net = mlp(2 * embed, states, hidden, layers=1)
        self.emission_net = mlp(2 * embed, n_obs, hidden, layers=1)

    def tables(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(pi (K,), A (n_actions, K, K) [a, z, z'], B (n_actions, K, Z) [a, z', o])``, as probabilities."""
        K, nA = self.K, self.n_actions
        pairs = torch.cat([self.state_embed[None].expand(nA, K, -1), self.action_embed[:, None].expand(nA, K, -1)], dim=-1)
        A = torch.softmax(self.transition_net(pairs), dim=-1)
        B = torch.softmax(self.emission_net(pairs), dim=-1)
        return torch.softmax(self.initial, dim=0), A, B

    def configure_optimizers(self, lr: float) -> list[torch.optim.Optimizer]:
        return [adam(self.parameters(), lr=lr)]

    def _forward(self, obs: torch.Tensor, actions: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """``(B,)`` exact :math:`\\log q(o_{1:T} \\mid a_{1:T})` of each episode (its masked steps)."""
        pi, A, B = self.tables()
        alpha = pi.expand(obs.shape[0], -1)
        total = torch.zeros(obs.shape[0], device=obs.device)
        for t in range(obs.shape[1]):
            live = mask[:, t]
            a, o = actions[:, t].clamp(min=0), obs[:, t].clamp(min=0)
            joint = torch.bmm(alpha[:, None], A[a]).squeeze(1) * B[a, :, o]
            c = joint.sum(dim=1).clamp_min(1e-300)
            total = total + torch.where(live, torch.log(c), torch.zeros_like(c))
            alpha = torch.where(live[:, None], joint / c[:, None], alpha)
        return total

    def training_step(self, obs, actions, mask, progress, optimizers) -> dict[str, float]:
        nll = -self._forward(obs, actions, mask).sum() / mask.sum().clamp_min(1)
        (opt,) = optimizers
        opt.zero_grad(set_to_none=True)
        nll.backward()
        opt.step()
        return {"loss": float(nll.detach())}

    def log_prob(self, obs, actions, mask, generator=None) -> torch.Tensor:
        return self._forward(obs, actions, mask)

    def initial_state(self, n: int) -> torch.Tensor:
        return self.tables()[0].expand(n, -1).clone()

    def predict(self, state: torch.Tensor, action: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        _, A, B = self.tables()
        ahead = torch.bmm(state[:, None], A[action]).squeeze(1)
        return torch.bmm(ahead[:, None], B[action]).squeeze(1)

    def update(self, state: torch.Tensor, action: torch.Tensor, obs: torch.Tensor, generator=None) -> torch.Tensor:
        _, A, B = self.tables()
        joint = torch.bmm(state[:, None], A[action]).squeeze(1) * B[action, :, obs]
        return joint / joint.sum(dim=1, keepdim=True).clamp_min(1e-300)

    def features(self, state: torch.Tensor) -> torch.Tensor:
        return state
