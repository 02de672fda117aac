r"""Training, filtering and saving a world model with memory: :class:`~generative.sequence_model.SequenceWorldModel` and
:func:`~generative.sequence_model.train_sequence_model`.

The model is a registered :class:`~generative.sequence_family.SequenceFamily` plus what it was
trained on (the POMDP's sizes and the data's source). :meth:`SequenceWorldModel.filter` runs the
family's recurrent state along episodes and gives, at every step, its predictive distribution of
the next observation and its features: what ``generative.sequence_scoring`` sets against the
forward algorithm on the true POMDP.

Example:
    >>> import gymnasium as gym, envs
    >>> from generative.sequences import collect_sequences
    >>> data = collect_sequences(gym.make("gridlab/Tiger-v0"), 40, seed=0)
    >>> model = train_sequence_model(data, "hmm", steps=20, progress=False, device="cpu", states=2)
    >>> model.filter(data.take([0, 1])).predictive.shape   # (episodes, steps, observations)
    (2, 100, 2)
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from envs.rundir import atomic_file
from generative.nn import adam, mlp, seeded
from generative.registry import load_sequence_family
from generative.sequence_family import SequenceFamily
from generative.sequences import SequenceDataset
from generative.world_model import _progress, resolve_device

__all__ = ["SequenceWorldModel", "train_sequence_model", "Filtered"]


@dataclass(frozen=True)
class Filtered:
    """A model's view along ``N`` episodes of ``T`` steps.

    Attributes:
        predictive: ``(N, T, Z)``: :math:`q(o_t \\mid h_{t-1}, a_t)` at each step (0 after an episode's end).
        features: ``(N, T + 1, D)``: the state's features after :math:`h_0, \\dots, h_T`.
    """

    predictive: np.ndarray
    features: np.ndarray


class SequenceWorldModel:
    """A world model with memory of one POMDP's observations.

    Arguments:
        family: a registered sequence family (``generative.registry.sequence_family_names()``:
            ``"hmm"``, ``"rssm"`` and any registered since).
        n_obs, n_actions: the POMDP's observations and actions.
        device: ``"auto"`` (CUDA when present), ``"cpu"`` or ``"cuda"``.
        seed: seeds the initialisation, batching and training noise.
        source: where the training data came from (``SequenceDataset.source``).
        **hparams: the family's constructor arguments.
    """

    def __init__(self, family: str, n_obs: int, n_actions: int, device: str | torch.device = "auto", seed: int = 0,
                 source: dict[str, Any] | None = None, **hparams: Any) -> None:
        cls = load_sequence_family(family)
        self.family, self.n_obs, self.n_actions, self.seed = family, int(n_obs), int(n_actions), seed
        self.hparams, self.source = dict(hparams), dict(source or {})
        self.device = resolve_device(device)
        with seeded(seed):
            self.net: SequenceFamily = cls(self.n_obs, self.n_actions, **hparams).to(self.device)
            width = int(self.net.features(self.net.initial_state(1)).shape[1])
            # reward and termination of a step from the state's features and the action (for dreams)
            self.head = mlp(width + self.n_actions, 2, 64).to(self.device)
        self.history: list[dict[str, float]] = []
        self.train_seconds = 0.0
        self.best_step = 0  # the training step whose checkpoint the model kept (fit)
        self.validation_episodes = np.zeros(0, dtype=np.int64)  # the episodes fit held out, by index
        self.validation_loss: float | None = None  # the held-out loss of the kept checkpoint (fit)
        self.restart_losses: list[float] = []  # each restart's validation_loss (train_sequence_model)

    @staticmethod
    def held_out_episodes(n_episodes: int, validation: float, seed: int) -> np.ndarray:
        """The episodes, by index, that :meth:`fit` holds out of ``n_episodes`` for a model seeded
        ``seed``: a share ``validation`` drawn by the seed, none when there are fewer than ten.

        Example:
            >>> SequenceWorldModel.held_out_episodes(20, 0.1, seed=0)
            array([4, 5])
        """
        order = torch.randperm(n_episodes, generator=torch.Generator(device="cpu").manual_seed(seed))
        return order[:_held_count(n_episodes, validation)].sort().values.numpy()

    def _check(self, data: SequenceDataset) -> None:
        if (data.n_observations, data.n_actions) != (self.n_obs, self.n_actions):
            raise ValueError(f"these sequences have {data.n_observations} observations and {data.n_actions} actions; "
                             f"the model was built for {self.n_obs} and {self.n_actions}: another POMDP")

    def _tensors(self, data: SequenceDataset) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        as_t = lambda x, dt: torch.as_tensor(x, dtype=dt, device=self.device)  # noqa: E731
        return as_t(data.observations, torch.int64), as_t(data.actions, torch.int64), as_t(data.mask, torch.bool)

    def fit(self, data: SequenceDataset, steps: int | None = None, batch_size: int | None = None,
            lr: float | None = None, progress: bool = True, validation: float = 0.1,
            held_out: np.ndarray | None = None) -> list[dict[str, float]]:
        """Train on whole episodes: each gradient step on ``batch_size`` episodes drawn at random.

        A share ``validation`` of the episodes (drawn by the seed; none when there are fewer than
        ten), or the episodes ``held_out`` names by index, is held out: after each tenth of training the family's
        :meth:`~generative.sequence_family.SequenceFamily.validate` measures its loss on them, and
        the model keeps the checkpoint where it was lowest (``best_step``, the held-out episodes'
        indices in ``validation_episodes``; a family without such a
        loss keeps its last, and may stop parts of itself early; that loss is ``validation_loss``). Recurrent models can memorise
        their training episodes: the recurrent VAE's summary on Tiger, trained its full 1,500
        steps, predicted held-out episodes 18 times worse (KL rate 0.24 nats per step) than after
        400 (0.0135). The reward-and-end head is then fitted on all episodes.

        Returns the history: the mean of each logged quantity over each tenth of training, with
        ``validation_loss`` where the family returns one.
        """
        self._check(data)
        _held_count(len(data), validation)  # a bad share: one line, before any work
        given = {"steps": steps, "batch_size": batch_size, "lr": lr}
        cfg = {**type(self.net).defaults, **{k: v for k, v in given.items() if v is not None}}
        gen = torch.Generator(device="cpu").manual_seed(self.seed)
        with seeded(self.seed):
            order = torch.randperm(len(data), generator=gen)
            n_val = _held_count(len(data), validation)
            held, train = order[:n_val], order[n_val:]
            if held_out is not None:
                chosen = torch.isin(order, torch.as_tensor(_episode_indices(held_out, len(data))))
                held, train = order[chosen], order[~chosen]  # in the seed's order, as drawn
                n_val = len(held)
            self.validation_episodes = held.sort().values.numpy()
            total, bs = int(cfg["steps"]), min(int(cfg["batch_size"]), len(train))
            obs, acts, mask = self._tensors(data)
            lengths = torch.as_tensor(data.lengths)
            T_held = int(lengths[held].max()) if n_val else 0
            held_batch = (obs[held, :T_held], acts[held, :T_held], mask[held, :T_held])
            opts = self.net.configure_optimizers(float(cfg["lr"]))
            self.net.train()
            bar = _progress(total, f"{self.family} sequence model", progress)
            t0 = time.perf_counter()
            logs: dict[str, float] = {}
            chunk = max(1, total // 10)
            best: tuple[float, dict[str, torch.Tensor]] | None = None
            for step in range(total):
                idx = train[torch.randperm(len(train), generator=gen)[:bs]]
                T = int(lengths[idx].max())
                out = self.net.training_step(obs[idx, :T], acts[idx, :T], mask[idx, :T], step / total, opts)
                for k, v in out.items():
                    logs[k] = logs.get(k, 0.0) + v
                if (step + 1) % chunk == 0 or step + 1 == total:
                    n = (step % chunk) + 1
                    row = {**{k: v / n for k, v in logs.items()}, "step": step + 1}
                    if n_val:
                        self.net.eval()
                        loss = self.net.validate(*held_batch)
                        self.net.train()
                        if loss is not None:
                            row["validation_loss"] = loss
                            if best is None or loss < best[0]:
                                best = (loss, {k: v.detach().clone() for k, v in self.net.state_dict().items()})
                                self.best_step = step + 1
                    self.history.append(row)
                    bar.set_postfix({k: round(v, 4) for k, v in row.items() if k in ("loss", "kl", "validation_loss")})
                    logs = {}
                bar.update(1)
            bar.close()
            if best is not None:
                self.validation_loss = best[0]
                self.net.load_state_dict(best[1])
            else:
                self.best_step = total
            self.net.eval()
            self.fit_head(data)
            self.train_seconds += time.perf_counter() - t0
            return self.history

    def fit_head(self, data: SequenceDataset, steps: int = 500, lr: float = 3e-3) -> float:
        """Fit the reward and termination head on the family's features, held fixed: from the state
        after :math:`h_{t-1}` and the action :math:`a_t`, the reward :math:`r_t` (squared error) and
        whether the episode ended (cross-entropy). Returns the final loss."""
        features = torch.as_tensor(self.features(data, seed=self.seed)[:, :-1], dtype=torch.float32,
                                   device=self.device)
        mask = torch.as_tensor(data.mask, device=self.device)
        x = self._head_input(features, torch.as_tensor(data.actions, device=self.device).clamp(min=0))[mask]
        reward = torch.as_tensor(data.rewards, dtype=torch.float32, device=self.device)[mask]
        done = torch.as_tensor(data.dones, dtype=torch.float32, device=self.device)[mask]
        opt = adam(self.head.parameters(), lr=lr)
        gen = torch.Generator(device="cpu").manual_seed(self.seed)
        loss = torch.zeros(())
        for _ in range(steps):
            idx = torch.randint(len(x), (min(len(x), 4096),), generator=gen).to(self.device)
            out = self.head(x[idx])
            loss = F.mse_loss(out[:, 0], reward[idx]) + F.binary_cross_entropy_with_logits(out[:, 1], done[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        return float(loss.detach())

    def _head_input(self, features: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        return torch.cat([features, F.one_hot(action, self.n_actions).float()], dim=-1)

    @torch.no_grad()
    def reward_and_end(self, features: torch.Tensor, action: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The head's reward (its mean) and end probability from state features and actions
        (one row each)."""
        out = self.head(self._head_input(features, action))
        return out[:, 0], torch.sigmoid(out[:, 1])

    @torch.no_grad()
    def reward_and_done(self, state: Any, action: torch.Tensor, generator: torch.Generator | None = None
                        ) -> tuple[torch.Tensor, torch.Tensor]:
        """The head's reward (its mean) and a drawn termination flag for each history's state and action."""
        reward, end = self.reward_and_end(self.net.features(state), action)
        u = torch.rand(len(end), generator=generator, device=end.device)
        return reward, u < end

    @torch.no_grad()
    def filter(self, data: SequenceDataset, seed: int = 0, batch: int = 4096) -> Filtered:
        """The model's predictive distribution and features at every step of every episode."""
        return self._along(data, seed, batch, predict=True)

    @torch.no_grad()
    def features(self, data: SequenceDataset, seed: int = 0, batch: int = 4096) -> np.ndarray:
        """``(N, T + 1, D)``: the state's features after each prefix of each episode, as in
        :meth:`filter` but with no predictive drawn (a sampled family's prediction costs
        ``samples`` draws of its inner model per history and step)."""
        return self._along(data, seed, batch, predict=False).features

    def _along(self, data: SequenceDataset, seed: int, batch: int, predict: bool) -> Filtered:
        self._check(data)
        gen = torch.Generator(device=self.device).manual_seed(seed)
        N, T = data.observations.shape
        pred, feats = np.zeros((N, T, self.n_obs)), None
        for lo in range(0, N, batch):
            part = data.take(np.arange(lo, min(lo + batch, N)))
            obs, acts, mask = self._tensors(part)
            state = self.net.initial_state(len(part))
            f = [self.net.features(state).cpu().numpy()]
            for t in range(obs.shape[1]):
                a, o = acts[:, t].clamp(min=0), obs[:, t].clamp(min=0)
                if predict:
                    q = self.net.predict(state, a, gen)
                    pred[lo:lo + len(part), t] = np.where(mask[:, t, None].cpu().numpy(), q.cpu().numpy(), 0.0)
                state = self.net.update(state, a, o, gen)
                f.append(self.net.features(state).cpu().numpy())
            got = np.stack(f, axis=1)
            if feats is None:
                feats = np.zeros((N, T + 1, got.shape[2]))
            feats[lo:lo + len(part), :got.shape[1]] = got
        return Filtered(pred, feats)

    @torch.no_grad()
    def log_likelihood(self, data: SequenceDataset, seed: int = 0) -> np.ndarray:
        """``(N,)``: :math:`\\log q(o_{1:T} \\mid a_{1:T})` of each episode (the family's exact
        likelihood where it has one, else the filtered predictive's)."""
        self._check(data)
        obs, acts, mask = self._tensors(data)
        gen = torch.Generator(device=self.device).manual_seed(seed)
        return self.net.log_prob(obs, acts, mask, gen).cpu().numpy()

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | Path) -> Path:
        """Weights and config in one file (written to a temporary name, then renamed)."""
        path = Path(path)
        with atomic_file(path) as tmp:
            torch.save({"kind": "sequence", "family": self.family, "n_obs": self.n_obs, "n_actions": self.n_actions,
                        "seed": self.seed, "hparams": self.hparams, "source": self.source, "net": self.net.state_dict(),
                        "head": self.head.state_dict(),
                        "history": self.history, "train_seconds": self.train_seconds,
                        "best_step": self.best_step, "validation_loss": self.validation_loss,
                        "restart_losses": self.restart_losses}, tmp)
        return path

    @classmethod
    def load(cls, path: str | Path, device: str = "auto") -> "SequenceWorldModel":
        """Read a file written by :meth:`save` (``torch.load(weights_only=True)``: no code runs)."""
        import pickle

        try:
            blob = torch.load(path, map_location="cpu", weights_only=True)
        except (pickle.UnpicklingError, RuntimeError, EOFError, OSError, ValueError) as e:
            raise ValueError(f"{Path(path).name} is not a gridlab sequence world model that "
                             f"torch.load(weights_only=True) can read ({type(e).__name__})") from None
        if not isinstance(blob, dict) or blob.get("kind") != "sequence":
            raise ValueError(f"{Path(path).name} is not a gridlab sequence world model")
        model = cls(blob["family"], blob["n_obs"], blob["n_actions"], device=device, seed=blob["seed"],
                    source=blob["source"], **blob["hparams"])
        model.net.load_state_dict(blob["net"])
        model.head.load_state_dict(blob["head"])
        model.net.eval()
        model.history, model.train_seconds = blob["history"], blob["train_seconds"]
        model.best_step = int(blob.get("best_step", 0))
        model.validation_loss = blob.get("validation_loss")
        model.restart_losses = list(blob.get("restart_losses", []))
        return model


def _held_count(n_episodes: int, validation: float) -> int:
    """How many of ``n_episodes`` a share ``validation`` holds out: none of fewer than ten."""
    if not 0.0 <= validation < 1.0:
        raise ValueError(f"validation must be a share in [0, 1), got {validation!r}")
    return int(round(validation * n_episodes)) if n_episodes >= 10 else 0


def _episode_indices(held_out: Any, n_episodes: int) -> np.ndarray:
    """``held_out`` as distinct episode indices that leave at least one episode to train on."""
    idx = np.asarray(held_out)
    if idx.ndim != 1 or (idx.size and not np.issubdtype(idx.dtype, np.integer)):
        raise ValueError(f"held_out must be a 1-d array of episode indices, got {held_out!r}")
    bad = idx[(idx < 0) | (idx >= n_episodes)]
    if bad.size:
        raise ValueError(f"held_out names episode {int(bad[0])}, but there are {n_episodes} episodes (0-{n_episodes - 1})")
    if len(np.unique(idx)) != idx.size:
        raise ValueError(f"held_out names an episode twice: {sorted(idx.tolist())}")
    if idx.size >= n_episodes:
        raise ValueError(f"held_out holds out all {n_episodes} episodes and leaves none to train on")
    return idx.astype(np.int64)


def train_sequence_model(data: SequenceDataset, family: str = "hmm", seed: int = 0, device: str = "auto",
                         steps: int | None = None, batch_size: int | None = None, lr: float | None = None,
                         progress: bool = True, validation: float = 0.1, restarts: int = 1,
                         **hparams: Any) -> SequenceWorldModel:
    """Fit a world model with memory to whole episodes (from :func:`~generative.sequences.collect_sequences`).

    With ``restarts`` > 1 it trains that many models, seeded ``seed``, ``seed + 1``, ..., on the same
    held-out episodes (drawn by ``seed``), and keeps the one whose kept checkpoint predicts them
    best (lowest ``validation_loss``): a restart chosen on held-out data, never on the true
    POMDP. The first restart is the model ``restarts=1`` gives; the losses of all are in the
    kept model's ``restart_losses``, and its ``train_seconds`` counts every restart's training. Some training runs fail early and for good, which a
    checkpoint cannot undo: on 500 uniform T-maze episodes, the dream benchmark's RSSM of seed 4
    paid a KL rate of 0.16 nats per step at its best held-out checkpoint, where the same budget
    gave seeds 0-2 about 0.001 (BENCHMARKS.md).

    Arguments:
        data: the training episodes.
        family: a registered sequence family: ``"hmm"`` (:class:`~generative.hmm.NeuralHMM`) or
            ``"rssm"`` (:class:`~generative.rssm.RSSM`), or one registered since.
        seed: seeds initialisation, batching and training noise.
        device: ``"auto"`` (CUDA when present), ``"cpu"`` or ``"cuda"``.
        steps, batch_size, lr: the budget (default the family's ``defaults``).
        progress: a progress bar over gradient steps.
        validation: the share of episodes held out to choose the checkpoint by
            (:meth:`SequenceWorldModel.fit`); 0 keeps the last.
        restarts: how many models to train and choose among on the held-out episodes (>= 1).
        **hparams: the family's architecture arguments (``states`` of the HMM, ``hidden`` of the RSSM...).
    """
    if isinstance(restarts, bool) or not isinstance(restarts, (int, np.integer)) or restarts < 1:
        raise ValueError(f"restarts must be an integer >= 1, got {restarts!r}")
    held = None
    if restarts > 1:
        held = SequenceWorldModel.held_out_episodes(len(data), validation, seed)
        if not len(held):
            raise ValueError(f"restarts={restarts} are chosen on held-out episodes, but validation={validation!r} "
                             f"of {len(data)} episodes holds none out (it needs a share > 0 of >= 10 episodes)")
    models = []
    for k in range(restarts):
        model = SequenceWorldModel(family, data.n_observations, data.n_actions, device=device, seed=seed + k,
                                   source=data.source, **hparams)
        model.fit(data, steps=steps, batch_size=batch_size, lr=lr, progress=progress, validation=validation,
                  held_out=held)
        if restarts > 1 and model.validation_loss is None:
            raise ValueError(f"restarts need a held-out loss to choose by, and the {family!r} family's validate "
                             "returns none")
        models.append(model)
    if restarts == 1:
        return models[0]
    losses = [m.validation_loss for m in models]
    best = models[int(np.argmin(losses))]
    best.restart_losses = losses
    best.train_seconds = sum(m.train_seconds for m in models)  # what choosing cost: every restart's training
    return best
