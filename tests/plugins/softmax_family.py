"""A world-model family written outside the ``generative`` package, as a user would: softmax
regression on the pairwise products of the context's features to a categorical next observation.
With one-hot observations and actions, ``c_i * c_j`` singles out each (state, action) pair, so the
family is a table of next-state distributions: it can be exact."""

import torch
import torch.nn.functional as F

from generative.family import WorldModelFamily


class SoftmaxFamily(WorldModelFamily):
    defaults = {"steps": 1000, "batch_size": 256, "lr": 0.02}
    quick_steps = 50
    has_likelihood = True

    def __init__(self, x_dim: int, c_dim: int, kind: str) -> None:
        super().__init__(x_dim, c_dim, kind)
        if kind != "categorical":
            raise ValueError(f"the softmax family models one-hot observations, got kind {kind!r}")
        self.logits = torch.nn.Linear(max(c_dim, 1) ** 2, x_dim)

    def _logits(self, c):
        c = c if self.c_dim else torch.ones(len(c), 1, device=c.device)
        return self.logits((c[:, :, None] * c[:, None, :]).flatten(1))

    def configure_optimizers(self, lr):
        return [torch.optim.Adam(self.parameters(), lr=lr)]

    def training_step(self, x, c, progress, optimizers):
        loss = -self.log_prob(x, c).mean()
        (opt,) = optimizers
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return {"loss": loss.item()}

    def log_prob(self, x, c):
        return (x * F.log_softmax(self._logits(c), dim=-1)).sum(-1)

    @torch.no_grad()
    def sample(self, c, generator=None):
        idx = torch.multinomial(F.softmax(self._logits(c), dim=-1), 1, generator=generator).squeeze(-1)
        return F.one_hot(idx, self.x_dim).float()
