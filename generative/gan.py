r"""Conditional GAN with straight-through discrete outputs and PacGAN packing.

Loss: the non-saturating GAN loss (Goodfellow et al. 2014, section 3): the discriminator
minimises :math:`-\log D(x) - \log(1 - D(G(z)))`, the generator :math:`-\log D(G(z))`. At the
optimal discriminator the minimax game minimises the Jensen-Shannon divergence between data and
model, which does not punish missing modes as hard as maximum likelihood (forward KL) does.

Discrete observations: the generator's categorical logits are sampled with the straight-through
Gumbel-softmax (Jang et al. 2017), so it emits exact one-hot vectors yet gets gradients;
binary dimensions use a straight-through Bernoulli.

Packing (PacGAN, Lin et al. 2018): the discriminator judges ``pack`` samples *for the same
context* at once, all real or all fake, so a generator that gives one answer every time is
easy to spot: a defence against mode collapse.

Stabilisers (defaults, measured on the slippery lake in BENCHMARKS.md): sampling from an
exponential moving average of the generator's weights, which averages out the oscillation of
the game around its equilibrium; learning rates decaying linearly to 0; a discriminator
learning twice as fast as the generator (TTUR).

References:
    Goodfellow et al., "Generative Adversarial Nets", NeurIPS 2014. https://arxiv.org/abs/1406.2661
    Jang, Gu & Poole, "Categorical Reparameterization with Gumbel-Softmax", ICLR 2017.
    Lin et al., "PacGAN: The power of two samples in generative adversarial networks", NeurIPS 2018.
    Yazici et al., "The Unusual Effectiveness of Averaging in GAN Training", ICLR 2019.
    Heusel et al., "GANs Trained by a Two Time-Scale Update Rule Converge to a Local Nash
    Equilibrium", NeurIPS 2017.
"""

from __future__ import annotations

import copy

import torch
import torch.nn as nn
import torch.nn.functional as F

from generative.family import WorldModelFamily
from generative.nn import adam, mlp

__all__ = ["ConditionalGAN"]


class ConditionalGAN(WorldModelFamily):
    """Conditional GAN ``x = G(z, c)`` (``c_dim = 0``: unconditional).

    Arguments:
        x_dim: modelled observation dimensions.
        c_dim: context dimensions, 0 for none.
        kind: ``"categorical"``, ``"bernoulli"`` or ``"gaussian"`` outputs.
        noise: noise dimensions. Default 2: categorical and Bernoulli outputs get most of their
            randomness from their own draw, and a wider z makes the generator a mixture over z
            whose stray tails add up (on the lake, 16 dims left more mass on impossible
            successors and dropped more slip outcomes; BENCHMARKS.md).
        hidden: MLP width. Default 128.
        pack: samples per discriminator decision (PacGAN); 1 disables packing. Default 2 (4 learned
            the lake as well but stalled on a deterministic corridor, where 2 does not).
        tau: Gumbel-softmax temperature. Default 1.
        loss: ``"nonsaturating"`` (default) or ``"wgan-gp"`` (Wasserstein critic with gradient
            penalty ``gp_weight``; Gulrajani et al. 2017), one critic step per generator step.
        ema: decay of an exponential moving average of the generator's weights, which then does
            the sampling (Yazici et al. 2019); 0 samples from the trained weights. The decay
            after n updates is ``min(ema, (1 + n) / (10 + n))``, so below ~9,000 updates the
            average spans about the last tenth of training. Default 0.999.
        lr_decay: learning rates decay linearly to 0 over training. Default True.
        d_lr_scale: the discriminator's learning rate over the generator's (TTUR, Heusel et al.
            2017). Default 2.

    Example:
        >>> gan = ConditionalGAN(x_dim=5, c_dim=3, kind="categorical")
        >>> gan.sample(torch.zeros(7, 3)).sum(dim=1).tolist() == [1.0] * 7
        True
    """

    defaults = {"steps": 6500, "batch_size": 256, "lr": 5e-4}  # measured as the VAE's (BENCHMARKS.md)
    quick_steps = 700

    def __init__(self, x_dim: int, c_dim: int, kind: str, noise: int = 2, hidden: int = 128, pack: int = 2,
                 tau: float = 1.0, loss: str = "nonsaturating", gp_weight: float = 10.0, ema: float = 0.999,
                 lr_decay: bool = True, d_lr_scale: float = 2.0) -> None:
        super().__init__(x_dim, c_dim, kind)
        if pack < 1:
            raise ValueError(f"pack must be >= 1, got {pack}")
        if loss not in ("nonsaturating", "wgan-gp"):
            raise ValueError(f"loss must be 'nonsaturating' or 'wgan-gp', got {loss!r}")
        self.loss_kind, self.gp_weight = loss, gp_weight
        self.noise, self.pack, self.tau = noise, pack, tau
        if not 0.0 <= ema < 1.0:
            raise ValueError(f"ema must be in [0, 1), got {ema}")
        self.ema, self.lr_decay, self.d_lr_scale = ema, lr_decay, d_lr_scale
        self.generator = mlp(noise + c_dim, x_dim, hidden)
        self.discriminator = mlp(pack * (x_dim + c_dim), 1, hidden, activation=nn.LeakyReLU)
        self.generator_ema = copy.deepcopy(self.generator).requires_grad_(False) if ema else None
        self._ema_updates = 0

    def _generate(self, c: torch.Tensor, straight_through: bool = True, generator: torch.Generator | None = None,
                  net: nn.Module | None = None) -> torch.Tensor:
        z = torch.randn((c.shape[0], self.noise), generator=generator, device=c.device, dtype=c.dtype)
        out = (net if net is not None else self.generator)(torch.cat([z, c], dim=-1))
        if self.kind == "gaussian":
            return out
        u = torch.rand(out.shape, generator=generator, device=out.device, dtype=out.dtype)
        if self.kind == "categorical":
            # Gumbel-max with noise -log(-log u) (torch.rand: several times faster on CPU than the
            # exponential_ draws of F.gumbel_softmax), relaxed by a softmax at temperature tau
            perturbed = out - torch.log(-torch.log(u.clamp_min(1e-20)))
            x = F.one_hot(perturbed.argmax(-1), self.x_dim).to(out.dtype)
            soft = torch.softmax(perturbed / self.tau, dim=-1) if straight_through else None
        else:
            soft = torch.sigmoid(out)
            x = (u < soft).to(out.dtype)
        return x - soft.detach() + soft if straight_through else x

    def configure_optimizers(self, lr: float) -> list[torch.optim.Optimizer]:
        betas = (0.5, 0.9)
        opts = [adam(self.generator.parameters(), lr=lr, betas=betas),
                adam(self.discriminator.parameters(), lr=lr * self.d_lr_scale, betas=betas)]
        for opt in opts:
            opt.param_groups[0]["initial_lr"] = opt.param_groups[0]["lr"]
        return opts

    def _packed(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        """(B * pack, d) rows, grouped pack by pack -> (B, pack * d)."""
        return torch.cat([x, c], dim=-1).reshape(-1, self.pack * (x.shape[-1] + c.shape[-1]))

    def training_step(self, x: torch.Tensor, c: torch.Tensor, progress: float, optimizers, **_) -> dict[str, float]:
        """One discriminator and one generator update. Rows come grouped ``pack`` by ``pack``, each
        group sharing one context (``WorldModel.fit`` draws them so)."""
        opt_g, opt_d = optimizers
        if self.lr_decay:
            for opt in optimizers:
                opt.param_groups[0]["lr"] = opt.param_groups[0]["initial_lr"] * (1.0 - progress)
        n = (x.shape[0] // self.pack) * self.pack
        x, c = x[:n], c[:n]
        fake = self._generate(c)
        real_in, fake_in = self._packed(x, c), self._packed(fake.detach(), c)
        d_real, d_fake = self.discriminator(real_in), self.discriminator(fake_in)
        if self.loss_kind == "wgan-gp":
            # Gulrajani et al. 2017: critic on interpolates, gradient norm pushed to 1
            eps = torch.rand((real_in.shape[0], 1), device=x.device, dtype=x.dtype)
            mix = (eps * real_in + (1 - eps) * fake_in).requires_grad_(True)
            grad = torch.autograd.grad(self.discriminator(mix).sum(), mix, create_graph=True)[0]
            loss_d = d_fake.mean() - d_real.mean() + self.gp_weight * ((grad.norm(dim=1) - 1) ** 2).mean()
        else:
            loss_d = F.binary_cross_entropy_with_logits(d_real, torch.ones_like(d_real)) + \
                F.binary_cross_entropy_with_logits(d_fake, torch.zeros_like(d_fake))
        opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        opt_d.step()
        d_gen = self.discriminator(self._packed(fake, c))
        if self.loss_kind == "wgan-gp":
            loss_g = -d_gen.mean()
        else:
            loss_g = F.binary_cross_entropy_with_logits(d_gen, torch.ones_like(d_gen))  # non-saturating
        opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        opt_g.step()
        if self.generator_ema is not None:
            self._update_ema()
        return {"loss": loss_g.item(), "loss_d": loss_d.item(), "d_real": torch.sigmoid(d_real).mean().item(),
                "d_fake": torch.sigmoid(d_fake).mean().item()}

    @torch.no_grad()
    def _update_ema(self) -> None:
        r""":math:`\bar\theta \leftarrow d\,\bar\theta + (1 - d)\,\theta` with
        :math:`d = \min(\text{ema}, (1 + n) / (10 + n))` after n updates, so short runs average
        over their own length rather than the initial weights."""
        n = self._ema_updates
        d = min(self.ema, (1 + n) / (10 + n))
        for avg, p in zip(self.generator_ema.parameters(), self.generator.parameters()):
            avg.lerp_(p, 1.0 - d)
        self._ema_updates = n + 1

    @torch.no_grad()
    def sample(self, c: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        return self._generate(c, straight_through=False, generator=generator, net=self.generator_ema)
