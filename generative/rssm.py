r"""A recurrent state-space model in the mould of PlaNet's and DreamerV2's RSSM.

A deterministic GRU state :math:`h_t` and a stochastic categorical latent :math:`z_t` (one
variable of :math:`C` classes):

.. math:: h_t = \mathrm{GRU}(h_{t-1}, [z_{t-1}, a_t]), \qquad
          p(z_t \mid h_t), \qquad q(z_t \mid h_t, o_t), \qquad p(o_t \mid h_t, z_t).

Training maximises the ELBO per step, :math:`\mathbb{E}_q[\log p(o_t \mid h_t, z_t)] -
\mathrm{KL}(q \,\|\, p)`, with DreamerV2's KL balancing: the KL is
:math:`\beta[\alpha\,\mathrm{KL}(\mathrm{sg}(q) \,\|\, p) + (1 - \alpha)\,\mathrm{KL}(q \,\|\,
\mathrm{sg}(p))]`, so the prior moves toward the posterior faster than the reverse
(:math:`\alpha = 0.8`), and :math:`z_t` is drawn from :math:`q` with straight-through gradients.

**The predictive distribution.** Given :math:`h_{t+1}` the model's next observation is
:math:`\sum_z p(z \mid h_{t+1})\, p(o \mid h_{t+1}, z)`, summed exactly over the :math:`C` classes.
:math:`h_{t+1}` depends on the posterior draws :math:`z_{1:t}` (as when Dreamer filters), so the
recurrent state carries ``particles`` draws per history and the predictive is their average: an
estimate of the model's filtered predictive with ``particles`` samples (one particle is what
Dreamer itself uses).

Example:
    >>> rssm = RSSM(n_obs=3, n_actions=2, particles=4)
    >>> state = rssm.initial_state(5)
    >>> q = rssm.predict(state, torch.zeros(5, dtype=torch.long))
    >>> q.shape, bool(torch.allclose(q.sum(dim=1), torch.ones(5)))
    (torch.Size([5, 3]), True)
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from generative.nn import adam, mlp
from generative.sequence_family import SequenceFamily

__all__ = ["RSSM"]


class RSSM(SequenceFamily):
    """GRU state plus a categorical latent (module doc).

    Arguments:
        n_obs, n_actions: the POMDP's sizes.
        hidden: the GRU state's width. Default 64.
        classes: :math:`C`, the latent's classes. Default 16.
        particles: posterior draws per history when filtering for prediction. Default 16.
        kl_scale: :math:`\\beta`. Default 1.
        kl_balance: :math:`\\alpha`. Default 0.8.
    """

    defaults = {"steps": 1500, "batch_size": 64, "lr": 3e-3}
    quick_steps = 150
    has_likelihood = True
    validation_chunk = 25  # held-out episodes per chunk in validate

    def __init__(self, n_obs: int, n_actions: int, hidden: int = 64, classes: int = 16, particles: int = 16,
                 kl_scale: float = 1.0, kl_balance: float = 0.8) -> None:
        super().__init__(n_obs, n_actions)
        for name, v in (("hidden", hidden), ("classes", classes), ("particles", particles)):
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {v!r}")
        if not 0.0 <= kl_balance <= 1.0:
            raise ValueError(f"kl_balance must be in [0, 1], got {kl_balance}")
        self.H, self.C, self.particles = hidden, classes, particles
        self.kl_scale, self.kl_balance = kl_scale, kl_balance
        self.cell = nn.GRUCell(classes + n_actions, hidden)
        self.prior_net = mlp(hidden, classes, hidden, layers=1)
        self.posterior_net = mlp(hidden + n_obs, classes, hidden, layers=1)
        self.decoder = mlp(hidden + classes, n_obs, hidden, layers=1)

    # ------------------------------------------------------------------ one step
    def _advance(self, h: torch.Tensor, z: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        return self.cell(torch.cat([z, F.one_hot(action, self.n_actions).to(h.dtype)], dim=-1), h)

    def _posterior_logits(self, h: torch.Tensor, obs: torch.Tensor) -> torch.Tensor:
        return self.posterior_net(torch.cat([h, F.one_hot(obs, self.n_obs).to(h.dtype)], dim=-1))

    def _observation_probs(self, h: torch.Tensor) -> torch.Tensor:
        """``(n, Z)``: :math:`\\sum_z p(z \\mid h) p(o \\mid h, z)`, exact over the classes.

        The decoder's first layer is applied to :math:`h` once and to each class's one-hot once,
        then summed: :math:`W[h; e_z] + b = W_h h + b + W_{:, z}`, not once per (history, class)."""
        prior = torch.softmax(self.prior_net(h), dim=-1)  # (n, C)
        first = self.decoder[0]
        w_h, w_z = first.weight[:, :self.H], first.weight[:, self.H:]
        pre = F.linear(h, w_h, first.bias)[:, None, :] + w_z.T[None]  # (n, C, hidden)
        dec = torch.softmax(self.decoder[1:](pre), dim=-1)  # (n, C, Z)
        return torch.bmm(prior[:, None], dec).squeeze(1)

    # ------------------------------------------------------------------ training
    def configure_optimizers(self, lr: float) -> list[torch.optim.Optimizer]:
        return [adam(self.parameters(), lr=lr)]

    def training_step(self, obs, actions, mask, progress, optimizers) -> dict[str, float]:
        n, T = obs.shape
        obs = obs.clamp(min=0)
        dtype = self.cell.weight_ih.dtype
        a_hot = F.one_hot(actions.clamp(min=0), self.n_actions).to(dtype).unbind(1)
        # the posterior's first layer splits as W [h; e_o] + b = W_h h + (W_o e_o + b): the second
        # part for every step at once, outside the loop
        first, rest = self.posterior_net[0], self.posterior_net[1:]
        w_h = first.weight[:, :self.H]
        post_o = F.linear(F.one_hot(obs, self.n_obs).to(dtype), first.weight[:, self.H:], first.bias).unbind(1)
        # z_t ~ q by the exponential race: argmax_c q_c / E_c with E_c ~ Exp(1) picks c with
        # probability q_c (torch.multinomial's own method), the E drawn for every step at once
        race = torch.empty(n, T, self.C, device=obs.device).exponential_().unbind(1)
        h = torch.zeros(n, self.H, device=obs.device)
        z = torch.zeros(n, self.C, device=obs.device)
        hs, zs, posts = [], [], []
        for t in range(T):  # only the recurrence and the posterior draws are sequential
            h = self.cell(torch.cat([z, a_hot[t]], dim=-1), h)
            post_logits = rest(F.linear(h, w_h) + post_o[t])
            post = torch.softmax(post_logits, dim=-1)
            draw = torch.zeros_like(post).scatter_(1, torch.argmax(post.detach() / race[t], dim=1, keepdim=True), 1.0)
            z = draw + post - post.detach()  # straight-through
            hs.append(h)
            zs.append(z)
            posts.append(post_logits)
        h, z, post_logits = torch.stack(hs, 1), torch.stack(zs, 1), torch.stack(posts, 1)  # (n, T, .)
        live = mask.to(h.dtype)
        logits = self.decoder(torch.cat([h, z], dim=-1))
        rec = -F.cross_entropy(logits.flatten(0, 1), obs.flatten(), reduction="none").view(n, T)
        log_q, log_p = F.log_softmax(post_logits, -1), F.log_softmax(self.prior_net(h), -1)
        kl_prior = (log_q.detach().exp() * (log_q.detach() - log_p)).sum(-1)  # trains the prior
        kl_post = (log_q.exp() * (log_q - log_p.detach())).sum(-1)  # trains the posterior
        a_bal = self.kl_balance
        rec_sum = (rec * live).sum()
        kl_sum = ((a_bal * kl_prior + (1 - a_bal) * kl_post) * live).sum()
        steps = mask.sum().clamp_min(1)
        loss = (-rec_sum + self.kl_scale * kl_sum) / steps
        (opt,) = optimizers
        opt.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(self.parameters(), 100.0)
        opt.step()
        return {"loss": float(loss.detach()), "reconstruction": float(-rec_sum.detach() / steps), "kl": float(kl_sum.detach() / steps)}

    @torch.no_grad()
    def validate(self, obs: torch.Tensor, actions: torch.Tensor, mask: torch.Tensor) -> float:
        """The default held-out loss, :math:`-\\sum \\log q(o_t \\mid h_{t-1}, a_t) / \\#\\text{steps}`
        (:meth:`~generative.sequence_family.SequenceFamily.validate`), over the episodes sorted by
        length in chunks of ``validation_chunk``, each run only to its own longest episode. A
        step costs ``particles`` x ``classes`` decoder rows per episode, ended or not: on the
        noisy-walls grid's 200 held-out episodes (lengths 1 to 200, median 35) this took 2.9
        CPU-seconds against 7.5 for one batch padded to the longest. Draws seeded alike at every
        call."""
        generator = torch.Generator(device=obs.device).manual_seed(0)
        lengths = mask.sum(dim=1)
        total = torch.zeros((), device=obs.device)
        for part in torch.argsort(lengths, descending=True, stable=True).split(self.validation_chunk):
            T = int(lengths[part].max())
            total = total + self.log_prob(obs[part, :T], actions[part, :T], mask[part, :T], generator).sum()
        return float(-total / mask.sum())

    # ------------------------------------------------------------------ filtering
    def initial_state(self, n: int) -> tuple[torch.Tensor, torch.Tensor]:
        device = self.prior_net[0].weight.device
        P = self.particles
        return torch.zeros(n * P, self.H, device=device), torch.zeros(n * P, self.C, device=device)

    def predict(self, state, action: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        h, z = state
        P = self.particles
        probs = self._observation_probs(self._advance(h, z, action.repeat_interleave(P)))
        return probs.reshape(-1, P, self.n_obs).mean(dim=1)

    @torch.no_grad()
    def sample_next(self, state, action: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """One draw from the mixture that :meth:`~generative.sequence_family.SequenceFamily.predict`
        gives, without summing over the classes: a particle uniformly, its latent from the prior,
        the observation from the decoder."""
        h, z = state
        P = self.particles
        n = len(action)
        pick = torch.randint(P, (n,), generator=generator, device=h.device) + P * torch.arange(n, device=h.device)
        h = self._advance(h[pick], z[pick], action)
        latent = torch.multinomial(torch.softmax(self.prior_net(h), dim=-1), 1, generator=generator).squeeze(1)
        logits = self.decoder(torch.cat([h, F.one_hot(latent, self.C).to(h.dtype)], dim=-1))
        return torch.multinomial(torch.softmax(logits, dim=-1), 1, generator=generator).squeeze(1)

    def update(self, state, action: torch.Tensor, obs: torch.Tensor, generator=None):
        h, z = state
        P = self.particles
        h = self._advance(h, z, action.repeat_interleave(P))
        post = torch.softmax(self._posterior_logits(h, obs.repeat_interleave(P)), dim=-1)
        draw = torch.multinomial(post, 1, generator=generator).squeeze(1)
        return h, F.one_hot(draw, self.C).to(h.dtype)

    def features(self, state) -> torch.Tensor:
        h, z = state
        return torch.cat([h, z], dim=-1).reshape(-1, self.particles, self.H + self.C).mean(dim=1)
