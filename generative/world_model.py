"""WorldModel: one interface over the VAE, GAN and flow families, and ``train_world_model``.

A world model learns :math:`P(o' \\mid o, a)` from transitions (conditional), or the distribution
of observations itself (``conditional=False``, e.g. a policy's state visitation). It samples
next observations in the env's own format, imagines rollouts, and is saved and loaded whole.
"""

from __future__ import annotations

import time
import warnings
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
import torch.nn.functional as F

from envs.gridworld import GridWorldEnv
from envs.resources import resolve_device as _resolve
from envs.rundir import atomic_file
from generative.codec import ObsCodec, codec_from_dict
from generative.data import ThinDataWarning, TransitionDataset, policy_actions, warn_unseen_pairs
from generative.family import WorldModelFamily
from generative.nn import adam, mlp, seeded
from generative.registry import load_family

__all__ = ["WorldModel", "train_world_model", "resolve_device", "MAX_PASSES"]

# Passes over each transition beyond which a budget is "far above what the data support". The notebooks' quick
# budgets make 150 and 300 (full batches of a small world's 2,000 transitions, which cover it); 4,000 steps on
# 5 transitions make 4,000.
MAX_PASSES = 1000


def resolve_device(device: str | torch.device) -> torch.device:
    """``"auto"`` is CUDA when present, else CPU (``envs.resources.resolve_device``), as a torch device."""
    return torch.device(_resolve(device))


class WorldModel:
    """A trained (or trainable) world model of one gridlab world.

    Arguments:
        family: a registered family's name (``generative.registry.family_names()``: ``"vae"``,
            ``"gan"``, ``"flow"`` and any registered since).
        codec: the observation codec (``ObsCodec.fit`` on the data; ``generative.frames.FrameCodec``
            for pixel observations).
        env_kwargs: rebuilds the world (``GridWorldEnv(**env_kwargs)``), for decoding and rewards.
        conditional: model :math:`P(o' | o, a)` (True) or :math:`P(o)` (False).
        device: where the networks and sampling live.
        seed: seeds the initialisation and training.
        **hparams: the family's constructor arguments (``latent``, ``hidden``, ``pack``, ``transforms``...).
    """

    def __init__(self, family: str, codec: Any, env_kwargs: dict[str, Any], conditional: bool = True,
                 device: str | torch.device = "auto", seed: int = 0, **hparams: Any) -> None:
        cls = load_family(family)
        self.family, self.codec, self.env_kwargs, self.conditional = family, codec, dict(env_kwargs), conditional
        self.seed, self.hparams = seed, dict(hparams)
        self.device = resolve_device(device)
        self.env = GridWorldEnv(**self.env_kwargs)
        self.n_actions = self.env.mdp.n_actions
        c_dim = codec.dim + self.n_actions if conditional else 0
        with seeded(seed):
            self.net: WorldModelFamily = cls(codec.dim, c_dim, codec.kind, **hparams).to(self.device)
            # reward and termination from (o, a, o'), used when o' decodes to no state
            self.head = mlp(c_dim + codec.dim if conditional else codec.dim, 2, 64).to(self.device)
        self.history: list[dict[str, float]] = []
        self.train_seconds = 0.0
        self.run_dir: Path | None = None  # set by generative.run.train / load

    # ------------------------------------------------------------------ inputs
    def context(self, obs: Any, action: Any) -> torch.Tensor:
        """Model context of (o, a): the observation's features and the one-hot action."""
        x = self.codec.encode(obs if isinstance(obs, torch.Tensor) else torch.as_tensor(np.asarray(obs))).to(self.device)
        a = torch.as_tensor(np.asarray(action), dtype=torch.int64, device=self.device).reshape(-1)
        if a.numel() and (a.min() < 0 or a.max() >= self.n_actions):
            raise ValueError(f"actions must be in [0, {self.n_actions}), got {a.unique().tolist()}")
        return torch.cat([x, F.one_hot(a, self.n_actions).to(x.dtype)], dim=-1)

    # ------------------------------------------------------------------ training
    def fit(self, data: TransitionDataset, epochs: int | None = None, batch_size: int | None = None,
            lr: float | None = None, progress: bool = True, steps: int | None = None) -> list[dict[str, float]]:
        """Train on a dataset (maximum likelihood for VAE and flow, the GAN game for the GAN).

        Returns the per-epoch history (mean of each logged quantity; the VAE logs its KL term).
        """
        given = {"epochs": epochs, "batch_size": batch_size, "lr": lr, "steps": steps}
        cfg = {**type(self.net).defaults, **{k: v for k, v in given.items() if v is not None}}
        gen = torch.Generator(device="cpu").manual_seed(self.seed)
        with seeded(self.seed):
            target = self.codec.encode(data.next_obs).to(self.device)
            if self.conditional:
                ctx = self.context(data.obs, data.action)
            else:
                target = self.codec.encode(data.obs).to(self.device)
                ctx = torch.zeros((len(target), 0), device=self.device)
            reward = data.reward.to(self.device, torch.float32)
            term = data.terminated.to(self.device, torch.float32)
            head_in = torch.cat([ctx, target], dim=-1)
            groups = _ContextGroups(ctx)
            opts = self.net.configure_optimizers(cfg["lr"])
            head_opt = adam(self.head.parameters(), lr=1e-3)
            n, bs, pack = len(target), int(cfg["batch_size"]), int(self.net.pack)
            steps_per_epoch = max(1, n // bs)
            if cfg.get("epochs") is None:
                cfg["epochs"] = max(1, -(-int(cfg["steps"]) // steps_per_epoch))
            total = cfg["epochs"] * steps_per_epoch
            passes = total * min(bs, n) / n
            if passes > MAX_PASSES:
                warnings.warn(f"{total:,} gradient steps of batch {min(bs, n):,} pass over these {n:,} transitions "
                              f"{passes:,.0f} times each, far more than they support (over {MAX_PASSES}): the model "
                              "fits these samples rather than the world; collect more transitions or train fewer steps",
                              ThinDataWarning, stacklevel=3)
            bar = _progress(cfg["epochs"], f"{self.family} world model", progress)
            t0 = time.perf_counter()
            step = 0
            for epoch in range(cfg["epochs"]):
                perm = torch.randperm(n, generator=gen).to(self.device)
                logs: dict[str, float] = {}
                for b in range(steps_per_epoch):
                    idx = perm[b * bs:(b + 1) * bs]
                    if pack > 1:
                        idx = groups.partners(idx, pack, gen).reshape(-1)
                    out = self.net.training_step(target[idx], ctx[idx], step / total, opts)
                    pred = self.head(head_in[idx])
                    head_loss = (F.mse_loss(pred[:, 0], reward[idx])
                                 + F.binary_cross_entropy_with_logits(pred[:, 1], term[idx]))
                    head_opt.zero_grad(set_to_none=True)
                    head_loss.backward()
                    head_opt.step()
                    for k, v in out.items():
                        logs[k] = logs.get(k, 0.0) + v / steps_per_epoch
                    step += 1
                logs["epoch"] = epoch + 1
                self.history.append(logs)
                bar.update(1)
                bar.set_postfix({k: round(v, 4) for k, v in logs.items() if k in ("loss", "kl", "loss_d")})
            bar.close()
            self.train_seconds += time.perf_counter() - t0
            return self.history

    # ------------------------------------------------------------------ sampling
    @torch.no_grad()
    def sample_next(self, obs: Any, action: Any, generator: torch.Generator | None = None) -> np.ndarray:
        """One sampled next observation per row of (obs, action), in the env's observation format.

        For an unconditional model pass ``obs=None`` and the number of samples as ``action``.
        """
        self.net.eval()
        if self.conditional:
            c = self.context(obs, action)
        else:
            c = torch.zeros((int(action), 0), device=self.device)
        x = self.net.sample(c, generator=generator)
        return self.codec.decode(x).cpu().numpy().astype(np.float32)

    @torch.no_grad()
    def log_prob(self, next_obs: Any, obs: Any = None, action: Any = None) -> np.ndarray:
        """log p(o' | o, a): exact for the flow (up to its dequantisation estimate), an importance-weighted bound
        for the VAE. The GAN has no likelihood."""
        if not self.net.has_likelihood:
            raise ValueError(f"the {self.family} family has no likelihood")
        x = self.codec.encode(torch.as_tensor(np.asarray(next_obs), dtype=torch.float32)).to(self.device)
        c = self.context(obs, action) if self.conditional else torch.zeros((len(x), 0), device=self.device)
        return self.net.log_prob(x, c).cpu().numpy()

    @torch.no_grad()
    def rollout(self, obs0: Any, policy: str | Callable[[np.ndarray], np.ndarray] | np.ndarray = "uniform",
                horizon: int = 20, n: int = 1, seed: int = 0) -> dict[str, np.ndarray]:
        """Imagined trajectories: ``n`` rollouts of ``horizon`` steps from ``obs0`` (one obs, or ``n`` of them).

        ``policy`` is ``"uniform"``, a callable on a batch of observations, or a state -> action array
        (states decoded from the imagined observations; undecodable ones act uniformly).
        Reward and termination come from the decoded states and the true model; when an imagined
        observation decodes to no state, or to one the true dynamics cannot reach, from the learned
        head. A terminated rollout stays where it ended, with reward 0.

        Returns ``observations (n, H+1, ...)``, ``states (n, H+1)`` (-1: no state), ``actions (n, H)``,
        ``rewards (n, H)``, ``terminated (n, H)``.
        """
        if not self.conditional:
            raise ValueError("an unconditional model has no dynamics to roll out")
        rng = np.random.default_rng(seed)
        gen = torch.Generator(device="cpu").manual_seed(seed)
        obs = np.asarray(obs0, dtype=np.float32)
        if obs.shape == self.env.observation_space.shape:
            obs = np.repeat(obs[None], n, axis=0)
        O = np.zeros((n, horizon + 1, *obs.shape[1:]), np.float32)
        states = np.full((n, horizon + 1), -1, np.int64)
        acts = np.zeros((n, horizon), np.int64)
        rews = np.zeros((n, horizon), np.float32)
        terms = np.zeros((n, horizon), bool)
        O[:, 0] = obs
        states[:, 0] = self.env.decode_batch(obs)
        done = np.zeros(n, bool)
        for t in range(horizon):
            s = states[:, t]
            a = policy_actions(policy, O[:, t], s, self.n_actions, rng)
            nxt = self.sample_next(O[:, t], a, generator=gen)
            s2 = self.env.decode_batch(nxt)
            nxt[done], s2[done] = O[done, t], s[done]
            r, term = self.reward_and_termination(O[:, t], a, nxt, s, s2)
            r[done], term[done] = 0.0, False
            O[:, t + 1], states[:, t + 1], acts[:, t], rews[:, t], terms[:, t] = nxt, s2, a, r, term
            done |= term
        return {"observations": O, "states": states, "actions": acts, "rewards": rews, "terminated": terms}

    @torch.no_grad()
    def reward_and_termination(self, obs, a, nxt, s, s2) -> tuple[np.ndarray, np.ndarray]:
        """Reward and termination of imagined transitions (o, a, o') with decoded states s, s2 (-1: none):
        from the true model where (s, a, s2) is a possible transition, else from the learned head."""
        mdp = self.env.mdp
        ok = (s >= 0) & (s2 >= 0)
        rows = np.where(ok, s, 0) * self.n_actions + a
        reachable = np.zeros(len(s), bool)
        reward = np.zeros(len(s), np.float32)
        if ok.any():
            P = mdp.P[rows[ok]]
            reachable[ok] = np.asarray(P[np.arange(ok.sum()), s2[ok]]).ravel() > 0
            rm = mdp.reward_matrix[rows[ok]]
            reward[ok] = np.asarray(rm[np.arange(ok.sum()), s2[ok]]).ravel()
        term = np.where(s2 >= 0, mdp.terminal[np.maximum(s2, 0)], False)
        learned = ~reachable
        if learned.any():
            c = self.context(obs[learned], a[learned])
            pred = self.head(torch.cat([c, self.codec.encode(torch.as_tensor(nxt[learned])).to(self.device)], -1)).cpu().numpy()
            reward[learned] = pred[:, 0]
            term[learned] = pred[:, 1] > 0
        return reward, term

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | Path) -> Path:
        """Weights and config in one file (written to a temporary name, then renamed)."""
        path = Path(path)
        with atomic_file(path) as tmp:
            torch.save({"family": self.family, "codec": self.codec.to_dict(), "env_kwargs": self.env_kwargs,
                        "conditional": self.conditional, "seed": self.seed, "hparams": self.hparams,
                        "net": self.net.state_dict(), "head": self.head.state_dict(), "history": self.history,
                        "train_seconds": self.train_seconds}, tmp)
        return path

    @classmethod
    def load(cls, path: str | Path, device: str = "auto") -> "WorldModel":
        """Read a file written by :meth:`save`, with ``torch.load(weights_only=True)``: tensors and
        plain containers only, so a file cannot run code when loaded."""
        import pickle

        try:
            blob = torch.load(path, map_location="cpu", weights_only=True)
        except (pickle.UnpicklingError, RuntimeError, EOFError, OSError, ValueError) as e:
            first = str(e).strip().splitlines()[0].split(". ")[0] if str(e).strip() else type(e).__name__
            raise ValueError(f"{Path(path).name} is not a gridlab world model that torch.load(weights_only=True) "
                             f"can read ({first[:200]})") from None
        missing = {"family", "codec", "env_kwargs", "conditional", "seed", "hparams", "net", "head"} - set(blob)
        if missing:
            raise ValueError(f"{Path(path).name} is not a gridlab world model (missing {sorted(missing)})")
        model = cls(blob["family"], codec_from_dict(blob["codec"], resolve_device(device)), blob["env_kwargs"], blob["conditional"],
                    device=device, seed=blob["seed"], **blob["hparams"])
        model.net.load_state_dict(blob["net"])
        model.head.load_state_dict(blob["head"])
        model.history, model.train_seconds = blob["history"], blob["train_seconds"]
        return model


def train_world_model(data: TransitionDataset, family: str = "vae", seed: int = 0, device: str = "auto",
                      epochs: int | None = None, progress: bool = True, conditional: bool = True,
                      batch_size: int | None = None, lr: float | None = None, steps: int | None = None,
                      frame_codec: dict[str, Any] | None = None, **hparams: Any) -> WorldModel:
    """Fit a world model of the given family to transitions.

    Arguments:
        data: from ``collect_transitions``.
        family: a registered family's name (``"vae"``, ``"gan"``, ``"flow"``, ...).
        seed: seeds initialisation, batching and training noise.
        device: ``"auto"`` (CUDA when present), ``"cpu"`` or ``"cuda"``; data and networks live there.
        epochs, batch_size, lr, steps: training budget; by default each family trains for its
            ``defaults`` number of gradient ``steps``, whatever the data size (``epochs`` overrides).
        progress: show a progress bar over epochs.
        conditional: learn :math:`P(o' | o, a)`; False learns the distribution of ``data.obs``.
        frame_codec: for pixel observations, arguments of ``generative.frames.FrameCodec.fit``
            (the frames' codec is trained first, on the frames alone; its time counts in
            ``train_seconds``).
        **hparams: the family's architecture arguments.

    Warns:
        ThinDataWarning: when ``data`` leave live (state, action) pairs without a transition
            (naming how many), and when the budget passes over each transition more than
            ``MAX_PASSES`` (1,000) times.

    Example:
        >>> import gymnasium as gym, envs
        >>> from generative import collect_transitions
        >>> data = collect_transitions(gym.make("gridlab/Grid-v0", layout="S.G", obs_mode="onehot"), 500)
        >>> model = train_world_model(data, "vae", epochs=2, progress=False, device="cpu")
        >>> model.sample_next(data.obs[:3].numpy(), [1, 1, 1]).shape
        (3, 3)
    """
    load_family(family)  # an unknown family is named before any work
    if data.env_kwargs:
        warn_unseen_pairs(*data.unseen_pairs(), len(data))
    t0 = time.perf_counter()
    if data.env_kwargs.get("obs_mode") == "pixels":
        from generative.frames import FrameCodec

        codec = FrameCodec.fit(torch.cat([data.obs, data.next_obs]), seed=seed, device=resolve_device(device),
                               progress=progress, **(frame_codec or {}))
    elif frame_codec:
        raise ValueError(f"frame_codec is for pixel observations; these are {data.env_kwargs.get('obs_mode')!r}")
    else:
        codec = ObsCodec.fit(torch.cat([data.obs, data.next_obs]))
    model = WorldModel(family, codec, data.env_kwargs, conditional=conditional, device=device, seed=seed, **hparams)
    model.train_seconds = time.perf_counter() - t0
    model.fit(data, epochs=epochs, batch_size=batch_size, lr=lr, progress=progress, steps=steps)
    return model


class _ContextGroups:
    """Rows grouped by identical context, to draw PacGAN partners that share an anchor's context."""

    def __init__(self, ctx: torch.Tensor) -> None:
        if ctx.shape[1] == 0:
            inverse = torch.zeros(len(ctx), dtype=torch.int64, device=ctx.device)
        else:
            _, inverse = torch.unique(ctx, dim=0, return_inverse=True)
        order = torch.argsort(inverse)
        counts = torch.bincount(inverse)
        self.order, self.inverse = order, inverse
        self.start = torch.cumsum(counts, 0) - counts
        self.count = counts

    def partners(self, idx: torch.Tensor, pack: int, gen: torch.Generator) -> torch.Tensor:
        """(B, pack): each anchor followed by pack-1 random rows with the same context."""
        g = self.inverse[idx]
        u = torch.rand((len(idx), pack - 1), generator=gen).to(idx.device)
        pick = self.start[g][:, None] + (u * self.count[g][:, None]).long()
        return torch.cat([idx[:, None], self.order[pick]], dim=1)


def _progress(total: int, desc: str, enabled: bool):
    """A text progress bar on stderr (tqdm.std: tqdm.auto warns in a notebook without ipywidgets)."""
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, disable=not enabled, leave=False)
