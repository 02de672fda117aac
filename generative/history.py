r"""The one-step families (VAE, GAN, flow) as sequence models: conditioned on a recurrent summary
of the history, or, for contrast, on the last observation alone.

A :class:`HistoryConditioned` family keeps a one-step family of ``generative`` (its registered
``inner`` family) as the distribution of the next observation, :math:`q(o_{t+1} \mid c_t)`, and
feeds it a context :math:`c_t`:

- with memory (``memory = True``): :math:`c_t = [g_t, a_{t+1}]`, where
  :math:`g_t = \mathrm{GRU}(g_{t-1}, [o_t, a_t])` summarises the whole history. The summary is
  the ``"rnn"`` family's network (:class:`~generative.rnn.RecurrentCategorical`), trained by its
  own head predicting :math:`o_{t+1}` from :math:`c_t` (cross-entropy) until its cross-entropy on
  held-out episodes stops falling (:meth:`HistoryConditioned.validate`); the inner family is
  trained its whole budget on the summaries held fixed (``detach``), by its own objective (the
  ELBO, the flow's likelihood, the GAN game). Training the summary through the GAN's losses
  instead would let the discriminator shape what the generator is conditioned on.
- without memory: :math:`c_t = [o_t, a_{t+1}]`: the one-step world model of the lab's fully
  observed worlds, which cannot tell apart histories that end in the same observation.

The inner families are sampled, not evaluated: each predictive distribution is the histogram of
``samples`` draws (``has_likelihood = False``), so the scorer states its sampling floor. A draw
that decodes to no observation (the flow's cells past the last one) counts as a uniformly random
observation.

Example:
    >>> m = RecurrentVAE(n_obs=3, n_actions=2, samples=64)
    >>> q = m.predict(m.initial_state(4), torch.zeros(4, dtype=torch.long))
    >>> q.shape, bool(torch.allclose(q.sum(dim=1), torch.ones(4)))
    (torch.Size([4, 3]), True)
"""

from __future__ import annotations

import abc
from typing import Any, ClassVar

import torch
import torch.nn.functional as F

from generative.nn import adam
from generative.registry import load_family
from generative.rnn import RecurrentCategorical
from generative.sequence_family import SequenceFamily

__all__ = ["HistoryConditioned", "RecurrentVAE", "RecurrentGAN", "RecurrentFlow", "MarkovVAE", "MarkovGAN",
           "MarkovFlow"]


class HistoryConditioned(SequenceFamily, abc.ABC):
    """A registered one-step family conditioned on the history (module doc).

    Arguments:
        n_obs, n_actions: the POMDP's sizes.
        hidden: the summary's width (with memory). Default 64.
        samples: draws per predictive distribution. Default 256.
        **inner: the inner family's architecture arguments (the GAN's ``pack`` defaults to 1 here:
            histories rarely share a context).

    Class attributes:
        inner_family: the registered one-step family (``"vae"``, ``"gan"``, ``"flow"``).
        memory: condition on the recurrent summary (True) or on the last observation (False).
        max_draws: the most inner samples drawn at once (by ``predict``: histories x ``samples``),
            so memory stays flat however many histories are predicted together (the flow's sampling
            of 51,200 rows at once peaked at 1.3 GB, of 8,192 at 0.6 GB, equally fast).
        summary_patience: held-out validations without a better summary before it is frozen at
            its best (:meth:`validate`).
    """

    inner_family: ClassVar[str]
    memory: ClassVar[bool]
    defaults = {"steps": 1500, "batch_size": 64, "lr": 3e-3}
    quick_steps = 100
    has_likelihood = False
    max_draws = 8192
    summary_patience = 2

    def __init__(self, n_obs: int, n_actions: int, hidden: int = 64, samples: int = 256, **inner: Any) -> None:
        super().__init__(n_obs, n_actions)
        if isinstance(samples, bool) or not isinstance(samples, int) or samples < 1:
            raise ValueError(f"samples must be an integer >= 1, got {samples!r}")
        self.hidden, self.samples = hidden, samples
        cls = load_family(self.inner_family)
        if self.inner_family == "gan":
            inner = {"pack": 1, **inner}
        width = hidden if self.memory else n_obs + 1  # the last observation, or "none yet"
        self.inner = cls(n_obs, width + n_actions, "categorical", **inner)
        if self.memory:  # the GRU summary and its head: the "rnn" family's network
            self.summary = RecurrentCategorical(n_obs, n_actions, hidden)
        # (held-out loss, weights) of the best summary so far; () before the first validation,
        # None once the summary is frozen (validate); validations since the best
        self._summary_best: tuple[float, list[torch.Tensor]] | tuple[()] | None = ()
        self._summary_worse = 0

    # ------------------------------------------------------------------ contexts
    def _context(self, state: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        return torch.cat([state, F.one_hot(action, self.n_actions).to(state.dtype)], dim=-1)

    def initial_state(self, n: int) -> torch.Tensor:
        if self.memory:
            return self.summary.initial_state(n)
        state = torch.zeros(n, self.n_obs + 1, device=next(self.inner.parameters()).device)
        state[:, self.n_obs] = 1.0  # no observation yet
        return state

    def update(self, state: torch.Tensor, action: torch.Tensor, obs: torch.Tensor, generator=None) -> torch.Tensor:
        if self.memory:
            return self.summary.update(state, action, obs)
        seen = F.one_hot(obs, self.n_obs).to(state.dtype)
        return torch.cat([seen, torch.zeros_like(seen[:, :1])], dim=1)

    def features(self, state: torch.Tensor) -> torch.Tensor:
        return state

    # ------------------------------------------------------------------ training
    def configure_optimizers(self, lr: float) -> list[torch.optim.Optimizer]:
        inner = self.inner.configure_optimizers(float(type(self.inner).defaults["lr"]))
        return ([adam(self.summary.parameters(), lr=lr)] if self.memory else []) + inner

    def _contexts(self, obs: torch.Tensor, actions: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """``(steps, context)``: :math:`c_{t-1}` of every step that happened, along whole episodes."""
        if self.memory:
            return self.summary.contexts(obs, actions, mask)
        seen = F.one_hot(obs.clamp(min=0), self.n_obs).to(torch.float32)
        last = torch.cat([torch.zeros_like(seen[:, :1]), seen[:, :-1]], dim=1)  # the observation before each step
        none = torch.zeros_like(seen[..., :1])
        none[:, 0] = 1.0  # no observation yet
        acted = F.one_hot(actions.clamp(min=0), self.n_actions).to(torch.float32)
        return torch.cat([last, none, acted], dim=-1)[mask]

    def training_step(self, obs, actions, mask, progress, optimizers) -> dict[str, float]:
        with torch.set_grad_enabled(self.memory and self._summary_best is not None):  # no graph once frozen
            ctx = self._contexts(obs, actions, mask)
        target = obs[mask]
        logs = {}
        if self.memory:  # the summary learns to predict the next observation, until validate stops it
            summary_opt, *inner_opts = optimizers
            with torch.set_grad_enabled(self._summary_best is not None):
                aux = F.cross_entropy(self.summary.head(ctx), target)
            if self._summary_best is not None:
                summary_opt.zero_grad(set_to_none=True)
                aux.backward()
                summary_opt.step()
            logs["summary_loss"] = float(aux.detach())
        else:
            inner_opts = optimizers
        out = self.inner.training_step(F.one_hot(target, self.n_obs).float(), ctx.detach(), progress, inner_opts)
        return {**out, **logs}

    @torch.no_grad()
    def validate(self, obs: torch.Tensor, actions: torch.Tensor, mask: torch.Tensor) -> None:
        """With memory, early stopping of the summary: the summary head's held-out cross-entropy per
        step is measured, and once it has been no lower than its best for ``summary_patience``
        validations in a row the summary goes back to its best weights and stops learning, while
        the inner family trains on for its whole budget. The summary can memorise the training
        episodes: on Tiger, trained its full 1,500 steps, its training loss fell to 0.56 nats per
        step, below the true entropy rate of 0.676, while its held-out loss rose from 0.688 (step
        150) to 0.94. Returns None: ``fit`` keeps the last checkpoint. The memoryless families have
        nothing to stop."""
        if not self.memory or self._summary_best is None:
            return None
        loss = self.summary.validate(obs, actions, mask)  # the rnn family's held-out NLL
        if not self._summary_best or loss < self._summary_best[0]:
            self._summary_best, self._summary_worse = (loss, [p.detach().clone() for p in self.summary.parameters()]), 0
            return None
        self._summary_worse += 1
        if self._summary_worse >= self.summary_patience:  # back to the best summary, frozen from here on
            for p, best in zip(self.summary.parameters(), self._summary_best[1]):
                p.copy_(best)
            self._summary_best = None
        return None

    # ------------------------------------------------------------------ prediction by sampling
    def _draw(self, context: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        drawn = []
        for c in context.split(self.max_draws):
            x = self.inner.sample(c, generator=generator)
            idx = x.argmax(dim=1)
            invalid = x.sum(dim=1) < 0.5  # decodes to no observation
            if invalid.any():
                idx[invalid] = torch.randint(self.n_obs, (int(invalid.sum()),), generator=generator, device=x.device)
            drawn.append(idx)
        return torch.cat(drawn) if drawn else context.new_zeros(0, dtype=torch.long)

    @torch.no_grad()
    def predict(self, state: torch.Tensor, action: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        m = self.samples
        context = self._context(state, action)
        per = max(1, self.max_draws // m)  # histories per chunk: at most max_draws inner samples at once
        freqs = [F.one_hot(self._draw(c.repeat_interleave(m, dim=0), generator).reshape(-1, m), self.n_obs)
                 .to(torch.float32).mean(dim=1) for c in context.split(per)]
        return torch.cat(freqs) if freqs else context.new_zeros(0, self.n_obs)

    @torch.no_grad()
    def sample_next(self, state: torch.Tensor, action: torch.Tensor, generator=None) -> torch.Tensor:
        return self._draw(self._context(state, action), generator)


def _family(name: str, inner: str, memory: bool) -> type[HistoryConditioned]:
    what = "a recurrent summary of the history" if memory else "the last observation alone: the memoryless contrast"
    return type(name, (HistoryConditioned,), {"inner_family": inner, "memory": memory, "__module__": __name__,
                                              "__doc__": f"The conditional {inner.upper() if inner != 'flow' else 'flow'} "
                                                         f"on {what} (module doc)."})


RecurrentVAE = _family("RecurrentVAE", "vae", True)
RecurrentGAN = _family("RecurrentGAN", "gan", True)
RecurrentFlow = _family("RecurrentFlow", "flow", True)
MarkovVAE = _family("MarkovVAE", "vae", False)
MarkovGAN = _family("MarkovGAN", "gan", False)
MarkovFlow = _family("MarkovFlow", "flow", False)
