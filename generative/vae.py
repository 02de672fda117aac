r"""Conditional VAE whose decoder likelihood fits the observation type.

Maximises the ELBO of the lecture,

.. math:: \log p(x \mid c) \ge \mathbb{E}_{q(z|x,c)} \log p(x \mid z, c) - \beta\, \mathrm{KL}(q(z \mid x, c) \,\|\, \mathcal{N}(0, I)),

with :math:`\beta` warmed up linearly from 0 to 1 over the first ``warmup`` share of training
(against posterior collapse). The decoder is categorical over one-hot observations, Bernoulli
over binary ones and Gaussian over real ones; all terms are summed over dimensions.

References:
    Kingma & Welling, "Auto-Encoding Variational Bayes", ICLR 2014. https://arxiv.org/abs/1312.6114
    Sohn et al., "Learning Structured Output Representation using Deep Conditional Generative Models", NeurIPS 2015.
    Burda et al., "Importance Weighted Autoencoders", ICLR 2016 (the ``log_prob`` bound).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from generative.family import WorldModelFamily
from generative.nn import adam, mlp

__all__ = ["ConditionalVAE", "decoder_log_prob", "sample_from_params"]


def decoder_log_prob(kind: str, params: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """log p(x | params) summed over dimensions, for a categorical, Bernoulli or Gaussian decoder."""
    if kind == "categorical":
        return (x * F.log_softmax(params, dim=-1)).sum(-1)
    if kind == "bernoulli":
        return -F.binary_cross_entropy_with_logits(params, x, reduction="none").sum(-1)
    mean, log_std = params.chunk(2, dim=-1)
    return torch.distributions.Normal(mean, log_std.clamp(-7, 2).exp()).log_prob(x).sum(-1)


def sample_from_params(kind: str, params: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """One sample per row from the decoder distribution."""
    if kind == "categorical":
        idx = torch.multinomial(F.softmax(params, dim=-1), 1, generator=generator).squeeze(-1)
        return F.one_hot(idx, params.shape[-1]).to(params.dtype)
    if kind == "bernoulli":
        return torch.bernoulli(torch.sigmoid(params), generator=generator)
    mean, log_std = params.chunk(2, dim=-1)
    noise = torch.randn(mean.shape, generator=generator, device=mean.device, dtype=mean.dtype)
    return mean + log_std.clamp(-7, 2).exp() * noise


class ConditionalVAE(WorldModelFamily):
    """Conditional VAE ``p(x | c)`` (``c_dim = 0``: unconditional).

    Arguments:
        x_dim: modelled observation dimensions.
        c_dim: context dimensions (observation features and one-hot action), 0 for none.
        kind: ``"categorical"``, ``"bernoulli"`` or ``"gaussian"`` decoder.
        latent: latent dimensions. Default 4.
        hidden: MLP width. Default 128.
        warmup: share of training over which the KL weight rises from 0 to 1. Default 0.3.

    Example:
        >>> vae = ConditionalVAE(x_dim=5, c_dim=3, kind="categorical")
        >>> tuple(vae.sample(torch.zeros(7, 3)).shape)
        (7, 5)
    """

    # budgets measured against the quality targets in BENCHMARKS.md on 25-64 state maps
    defaults = {"steps": 4000, "batch_size": 2048, "lr": 3e-3}
    quick_steps = 700
    has_likelihood = True

    def __init__(self, x_dim: int, c_dim: int, kind: str, latent: int = 4, hidden: int = 128, warmup: float = 0.3) -> None:
        super().__init__(x_dim, c_dim, kind)
        self.latent, self.warmup = latent, warmup
        out = 2 * x_dim if kind == "gaussian" else x_dim
        self.encoder = mlp(x_dim + c_dim, 2 * latent, hidden)
        self.decoder = mlp(latent + c_dim, out, hidden)

    def _posterior(self, x: torch.Tensor, c: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mu, log_var = self.encoder(torch.cat([x, c], dim=-1)).chunk(2, dim=-1)
        return mu, log_var.clamp(-10, 5)

    def configure_optimizers(self, lr: float) -> list[torch.optim.Optimizer]:
        return [adam(self.parameters(), lr=lr)]

    def training_step(self, x: torch.Tensor, c: torch.Tensor, progress: float, optimizers, **_) -> dict[str, float]:
        mu, log_var = self._posterior(x, c)
        z = mu + (0.5 * log_var).exp() * torch.randn_like(mu)
        rec = decoder_log_prob(self.kind, self.decoder(torch.cat([z, c], dim=-1)), x)
        kl = 0.5 * (mu.pow(2) + log_var.exp() - 1.0 - log_var).sum(-1)
        beta = min(1.0, progress / self.warmup) if self.warmup > 0 else 1.0
        loss = -(rec - beta * kl).mean()
        (opt,) = optimizers
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return {"loss": loss.item(), "recon_nll": -rec.mean().item(), "kl": kl.mean().item(), "beta": beta}

    @torch.no_grad()
    def sample(self, c: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        z = torch.randn((c.shape[0], self.latent), generator=generator, device=c.device, dtype=c.dtype)
        return sample_from_params(self.kind, self.decoder(torch.cat([z, c], dim=-1)), generator)

    @torch.no_grad()
    def log_prob(self, x: torch.Tensor, c: torch.Tensor, k: int = 64) -> torch.Tensor:
        r"""Importance-weighted lower bound on :math:`\log p(x \mid c)` with ``k`` samples."""
        mu, log_var = self._posterior(x, c)
        std = (0.5 * log_var).exp()
        z = mu[None] + std[None] * torch.randn((k, *mu.shape), device=x.device, dtype=x.dtype)
        cc = c[None].expand(k, *c.shape)
        log_px = decoder_log_prob(self.kind, self.decoder(torch.cat([z, cc], dim=-1)), x[None].expand(k, *x.shape))
        normal = torch.distributions.Normal(0.0, 1.0)
        log_pz = normal.log_prob(z).sum(-1)
        log_qz = torch.distributions.Normal(mu[None], std[None]).log_prob(z).sum(-1)
        return torch.logsumexp(log_px + log_pz - log_qz, dim=0) - math.log(k)
