r"""FrameCodec: a learned codec of rendered frames, the "V" of a World-Models-style V + M split.

A world model of pixel observations (``obs_mode="pixels"``) works in two parts. This codec, a
vector-quantised autoencoder (VQ-VAE, van den Oord et al. 2017) trained on the frames alone,
maps a frame :math:`o` to one of K codes,

.. math:: k(o) = \arg\min_j \lVert E(o) - e_j \rVert^2,

where :math:`E` is a convolutional encoder and :math:`e_1, \dots, e_K` a learned codebook, and
maps a code back to a frame with a convolutional decoder :math:`D(e_k)`. It is trained on

.. math:: \lVert o - D(e_{k(o)}) \rVert^2 + \lVert \mathrm{sg}[E(o)] - e_{k(o)} \rVert^2
          + \beta \lVert E(o) - \mathrm{sg}[e_{k(o)}] \rVert^2

with the straight-through gradient through the quantisation (the reconstruction error of a pixel
whose variance over the frames exceeds ``VARIANCE_CAP`` is weighted down by that ratio, so that
flickering distractors do not claim the codes); codes no frame chose for a while are moved onto
encoder outputs of the current batch (dead-code restarts). The family (VAE, GAN,
flow: the "M") then models the next *code* given the code of the frame and the action: a
categorical variable, exactly as it models one-hot observations, so every family works on frames
unchanged. A sampled code is decoded to a frame, and that frame is what the exact scorer decodes
to a state (``envs.pixels``): the codec has no access to states, and a code that mixes two states
decodes to a blended frame, which the scorer counts as hallucinated mass.

After training, only the codes some training frame uses are kept, and a code is decoded to the
mean of the training frames encoded to it: the decoder that minimises the reconstruction error
for that encoder, in closed form (it removes the pixel noise; measured on the 8x8 lake after
2,000 steps, the conv decoder's own frames decoded to the right state for 86% of the codes, the
mean frames for all). The conv decoder only shapes the latent space while training. Then
(``refine`` iterations, 10 by default) the encoder is made closed-form too: k-means of the frames
(Lloyd's algorithm, on 20,000 of them) in pixel space, each pixel scaled by the square root of
the reconstruction loss's weight, started from the kept codes' frames plus k-means++ seeds up to
``codes`` at frames away from all of them; a frame is then encoded to the nearest code frame in
that scale. With clean frames this changes nothing (every frame already is a code frame). With
nuisances it is what keeps codes pure: on the 8x8 lake with ``pixel_noise=0.05`` and 4
distractors, the conv codec alone gave 81-91% of fresh frames back as a frame of their own state
(BENCHMARKS.md); refined (and codes in raster order, below), a VAE of 200,000 transitions
scored TV 0.038 and hallucinated mass 0.008. A state's frames may then share several codes (the noise splits them); the family
models the split, and the scorer counts by state. ``decode`` of a probability vector over codes
gives the expected frame (the mixture of the codes' frames).

Example:
    >>> import numpy as np
    >>> from envs import GridWorldEnv
    >>> env = GridWorldEnv("S..\n.HG", obs_mode="pixels")
    >>> frames = env.encode_batch(np.tile(np.arange(env.n_states), 200))
    >>> codec = FrameCodec.fit(frames, steps=300, seed=0, progress=False)
    >>> codes = codec.encode(frames[:6])
    >>> env.decode_batch(codec.decode(codes).numpy()).tolist()
    [0, 1, 2, 3, 4, 5]
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from generative.nn import adam, seeded

__all__ = ["FrameCodec", "FRAME_CODEC_DEFAULTS"]

# a pixel channel (in [0, 1]) that varies more than this over the frames has its reconstruction error
# weighted VARIANCE_CAP / variance: a distractor cell of uniformly random colour (variance 0.083)
# then weighs 8x less than a cell the agent visits, which no code can do without
VARIANCE_CAP = 0.01
FRAME_CODEC_DEFAULTS = {"codes": 256, "latent": 32, "channels": 32, "steps": 2000, "batch_size": 128, "lr": 1e-3,
                        "beta": 0.25, "refine": 10}
REFINE_SAMPLE = 20_000  # frames the refinement's k-means runs on


class _VQAutoencoder(nn.Module):
    """Conv encoder (two stride-2 convolutions, a linear map to ``latent``), codebook, conv decoder."""

    def __init__(self, shape: tuple[int, int, int], codes: int, latent: int, channels: int) -> None:
        super().__init__()
        H, W, C = shape
        self.shape = shape
        self.ph, self.pw = -(-H // 4) * 4, -(-W // 4) * 4  # padded to a multiple of 4 for the two strides
        c = channels
        self.enc = nn.Sequential(nn.Conv2d(C, c, 4, 2, 1), nn.ReLU(), nn.Conv2d(c, 2 * c, 4, 2, 1), nn.ReLU(),
                                 nn.Flatten(), nn.Linear(2 * c * (self.ph // 4) * (self.pw // 4), latent))
        self.codebook = nn.Parameter(torch.randn(codes, latent) * 0.1)
        self.dec_in = nn.Linear(latent, 2 * c * (self.ph // 4) * (self.pw // 4))
        self.dec = nn.Sequential(nn.ReLU(), nn.ConvTranspose2d(2 * c, c, 4, 2, 1), nn.ReLU(),
                                 nn.ConvTranspose2d(c, C, 4, 2, 1))
        self.c = c

    def encode(self, frames: torch.Tensor) -> torch.Tensor:
        """``(N, H, W, 3)`` frames in [0, 255] (any dtype) -> ``(N, latent)``."""
        x = frames.float().permute(0, 3, 1, 2) / 255.0
        x = F.pad(x, (0, self.pw - x.shape[3], 0, self.ph - x.shape[2]))
        return self.enc(x)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """``(N, latent)`` -> ``(N, H, W, 3)`` frames in [0, 1]."""
        h = self.dec_in(z).reshape(len(z), 2 * self.c, self.ph // 4, self.pw // 4)
        x = torch.sigmoid(self.dec(h))[:, :, :self.shape[0], :self.shape[1]]
        return x.permute(0, 2, 3, 1)

    def nearest(self, z: torch.Tensor, among: torch.Tensor | None = None) -> torch.Tensor:
        """Index of the nearest codebook vector (of ``among`` rows, when given) for each row of z."""
        book = self.codebook if among is None else self.codebook[among]
        return torch.cdist(z, book).argmin(dim=1)


class FrameCodec:
    """Frames <-> one-hot codes over the kept codebook entries (see the module doc).

    The interface is ``ObsCodec``'s: ``obs_shape``, ``kind`` (``"categorical"``), ``dim``,
    ``encode``, ``decode``, ``to_dict`` / ``from_dict``; build one with :meth:`fit`.
    """

    kind = "categorical"

    def __init__(self, obs_shape: tuple[int, int, int], net: _VQAutoencoder, kept: torch.Tensor,
                 hparams: dict[str, Any], table: torch.Tensor, scale: torch.Tensor | None = None) -> None:
        self.obs_shape = tuple(obs_shape)
        self.net = net.eval()
        self.kept = kept
        self.hparams = dict(hparams)
        self.table = table  # the frame of each kept code, flattened: (dim, H*W*3) in [0, 255]
        # refined codecs encode a frame to the nearest code frame in this per-pixel scale (see fit)
        self.scale = scale

    @property
    def dim(self) -> int:
        """The number of kept codes, the categorical dimension the family models."""
        return int(len(self.kept))

    @property
    def device(self) -> torch.device:
        return self.net.codebook.device

    @classmethod
    def fit(cls, frames: Any, seed: int = 0, device: str | torch.device = "cpu", progress: bool = True,
            min_share: float = 1e-4, **hparams: Any) -> "FrameCodec":
        """Train the codec on ``frames`` ``(N, H, W, 3)`` (uint8 or float in [0, 255]).

        Arguments:
            frames: the training frames (both sides of every transition, say); no states.
            seed: seeds initialisation and batches.
            device: where to train (and keep) the networks.
            progress: a progress bar on stderr.
            min_share: a code is kept when at least this share of the frames is encoded to it.
            **hparams: ``codes`` (codebook size K), ``latent``, ``channels``, ``steps``,
                ``batch_size``, ``lr``, ``beta``, ``refine`` (k-means iterations after training,
                0 for none) (``FRAME_CODEC_DEFAULTS``).
        """
        unknown = set(hparams) - set(FRAME_CODEC_DEFAULTS)
        if unknown:
            raise ValueError(f"unknown frame codec argument(s) {sorted(unknown)}; expected {sorted(FRAME_CODEC_DEFAULTS)}")
        hp = {**FRAME_CODEC_DEFAULTS, **hparams}
        for key in ("codes", "latent", "channels", "steps", "batch_size", "refine"):
            low = 0 if key == "refine" else 1
            if isinstance(hp[key], bool) or not isinstance(hp[key], (int, np.integer)) or hp[key] < low:
                raise ValueError(f"frame codec {key} must be an integer >= {low}, got {hp[key]!r}")
        for key in ("lr", "beta"):
            if not (isinstance(hp[key], (int, float)) and 0 < hp[key] < float("inf")):
                raise ValueError(f"frame codec {key} must be a number > 0, got {hp[key]!r}")
        x = frames if isinstance(frames, torch.Tensor) else torch.as_tensor(np.asarray(frames))
        if x.ndim != 4 or x.shape[-1] != 3:
            raise ValueError(f"frames must have shape (N, H, W, 3), got {tuple(x.shape)}")
        device = torch.device(device)
        with seeded(seed):
            gen = torch.Generator().manual_seed(seed)
            net = _VQAutoencoder(tuple(x.shape[1:]), hp["codes"], hp["latent"], hp["channels"]).to(device)
            opt = adam(net.parameters(), lr=hp["lr"])
            K, bs = hp["codes"], min(hp["batch_size"], len(x))
            # each pixel's error weighted min(1, VARIANCE_CAP / its variance over the frames)
            sample = x[torch.randint(len(x), (min(len(x), 20_000),), generator=gen)].float() / 255.0
            weight = (VARIANCE_CAP / sample.var(dim=0).clamp(min=VARIANCE_CAP)).to(device)
            with torch.no_grad():  # start the codebook on encoder outputs, so that every code is in use
                first = x[torch.randint(len(x), (max(K, bs),), generator=gen)].to(device)
                net.codebook.copy_(net.encode(first)[:K])
            used = torch.zeros(K, device=device)
            from tqdm import tqdm

            for step in tqdm(range(hp["steps"]), desc="frame codec", disable=not progress, leave=False):
                batch = x[torch.randint(len(x), (bs,), generator=gen)].to(device)
                z = net.encode(batch)
                k = net.nearest(z.detach())
                e = net.codebook[k]
                zq = z + (e - z).detach()  # straight-through
                recon = (weight * (net.decode(zq) - batch.float() / 255.0) ** 2).mean()
                loss = recon + F.mse_loss(e, z.detach()) + hp["beta"] * F.mse_loss(z, e.detach())
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                used += torch.bincount(k, minlength=K)
                if (step + 1) % 100 == 0 and step + 1 < hp["steps"]:  # dead-code restarts
                    dead = torch.nonzero(used == 0).flatten()
                    if len(dead):
                        with torch.no_grad():
                            pick = torch.randint(len(z), (len(dead),), generator=gen).to(device)
                            net.codebook[dead] = z.detach()[pick]
                    used.zero_()
            net.eval()
            counts = torch.zeros(K, device=device)
            sums = torch.zeros((K, int(np.prod(x.shape[1:]))), device=device)
            with torch.no_grad():  # each code's frame: the mean of the frames encoded to it
                for lo in range(0, len(x), 4096):
                    batch = x[lo:lo + 4096].to(device)
                    k = net.nearest(net.encode(batch))
                    counts += torch.bincount(k, minlength=K)
                    sums.index_add_(0, k, batch.reshape(len(batch), -1).float())
            kept = torch.nonzero(counts >= max(1.0, min_share * len(x))).flatten()
            table = sums[kept] / counts[kept, None]
            scale = weight.reshape(-1).sqrt()
            if not hp["refine"]:
                order = raster_order(table, scale, tuple(x.shape[1:]))
                return cls(tuple(x.shape[1:]), net, kept[order], hp, table=table[order])
            table = _refine(x, table, scale, hp["codes"], hp["refine"], gen, device, min_share)
            table = table[raster_order(table, scale, tuple(x.shape[1:]))]
            return cls(tuple(x.shape[1:]), net, torch.arange(len(table), device=device), hp, table=table, scale=scale)

    @torch.no_grad()
    def encode(self, obs: Any, chunk: int = 4096) -> torch.Tensor:
        """``(N, H, W, 3)`` frames -> ``(N, dim)`` one-hot codes (float, on the codec's device)."""
        x = torch.as_tensor(np.asarray(obs) if not isinstance(obs, torch.Tensor) else obs)
        out = []
        for lo in range(0, len(x), chunk):
            batch = x[lo:lo + chunk].to(self.device)
            if self.scale is None:
                k = self.net.nearest(self.net.encode(batch), self.kept)
            else:
                k = _nearest(batch.reshape(len(batch), -1).float(), self.table, self.scale)
            out.append(F.one_hot(k, self.dim).float())
        return torch.cat(out) if out else torch.zeros((0, self.dim), device=self.device)

    @torch.no_grad()
    def decode(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, dim)`` one-hot codes (or probability vectors: the expected frame) -> ``(N, H, W, 3)``
        frames, float in [0, 255], on ``x``'s device."""
        return (x.float() @ self.table.to(x.device)).reshape(len(x), *self.obs_shape)

    def to_dict(self) -> dict[str, Any]:
        """Tensors and plain values only (``torch.load(weights_only=True)`` reads it back)."""
        return {"type": "frames", "obs_shape": list(self.obs_shape), "hparams": self.hparams,
                "kept": self.kept.cpu(), "table": self.table.cpu(),
                "scale": None if self.scale is None else self.scale.cpu(),
                "state": {k: v.cpu() for k, v in self.net.state_dict().items()}}

    @classmethod
    def from_dict(cls, d: dict[str, Any], device: str | torch.device = "cpu") -> "FrameCodec":
        hp = {"refine": 0, **d["hparams"]}  # a codec saved before refinement existed
        net = _VQAutoencoder(tuple(d["obs_shape"]), hp["codes"], hp["latent"], hp["channels"])
        net.load_state_dict(d["state"])
        scale = d.get("scale")
        return cls(tuple(d["obs_shape"]), net.to(device), d["kept"].to(device), hp, d["table"].to(device),
                   None if scale is None else scale.to(device))


def raster_order(table: torch.Tensor, scale: torch.Tensor, shape: tuple[int, int, int]) -> torch.Tensor:
    """The codes sorted by where their frame differs from the background, in raster order.

    The background is the per-pixel median of the code frames; a code's key is the first pixel,
    in raster order (row by row), whose scaled difference from it (summed over the channels) is
    at least half its largest: the top left of what moved, the agent in a grid world. A
    gridworld numbers its states row by row, so on clean frames the codes come out in the order
    of their states, and a state's several codes (under nuisances) next to each other. Code
    numbers carry no meaning for the VAE and the GAN (their one-hot dimensions are exchangeable),
    but the flow models a code by its binary digits (``generative.flow``), which then follow
    position as they do for one-hot states. Measured with the flow on the 8x8 lake, 200,000
    transitions (BENCHMARKS.md): clean frames, TV 0.057 -> 0.042 and hallucinated mass 0.0212 ->
    0.0060 (the one-hot flow's figures); with pixel noise 0.05 and 4 distractors, TV 0.246 ->
    0.103 and hallucinated mass 0.196 -> 0.072.

    Arguments:
        table: ``(K, H*W*3)`` code frames.
        scale: ``(H*W*3,)`` per-pixel scale of the differences (flickering pixels weigh less).
        shape: ``(H, W, 3)``.

    Returns:
        ``(K,)`` the permutation (a stable sort: ties keep their order).
    """
    H, W, C = shape
    diff = ((table - table.median(dim=0).values).abs() * scale).reshape(len(table), H * W, C).sum(-1)
    peak = diff.max(dim=1).values
    first = (diff >= 0.5 * peak[:, None]).float().argmax(dim=1)  # first True, row-major
    first = torch.where(peak > 0, first, torch.full_like(first, H * W))  # the background last
    return torch.sort(first, stable=True).indices


def _nearest(flat: torch.Tensor, table: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """Index of the nearest ``table`` row to each row of ``flat`` in the per-pixel ``scale``."""
    return torch.cdist(flat * scale, table * scale).argmin(dim=1)


def _refine(x: torch.Tensor, table: torch.Tensor, scale: torch.Tensor, codes: int, iters: int,
            gen: torch.Generator, device: torch.device, min_share: float) -> torch.Tensor:
    """k-means of the frames in the scaled pixel space (Lloyd's algorithm), started from the conv
    codec's code frames plus k-means++ seeds (Arthur & Vassilvitskii 2007) up to ``codes``: the
    closed-form encoder (the nearest code frame) for the closed-form decoder (a code's mean frame).
    Seeds are added only at frames away from every code frame, so clean frames keep one code per
    frame; codes fewer than ``min_share`` of the frames choose are dropped at the end."""
    flat = x.reshape(len(x), -1)
    pick = torch.randperm(len(x), generator=gen)[:REFINE_SAMPLE]
    sample = flat[pick].to(device).float()
    centres = [table]
    scaled = sample * scale
    d2 = torch.cdist(scaled, table * scale).min(dim=1).values ** 2
    for _ in range(codes - len(table)):
        if float(d2.max()) <= 1e-6:  # every frame is one of the code frames already
            break
        i = int(torch.multinomial((d2 / d2.sum()).cpu(), 1, generator=gen))
        centres.append(sample[i:i + 1])
        d2 = torch.minimum(d2, ((scaled - scaled[i]) ** 2).sum(dim=1))
    table = torch.cat(centres)
    for _ in range(iters):
        k = _nearest(sample, table, scale)
        counts = torch.bincount(k, minlength=len(table)).float()
        sums = torch.zeros_like(table).index_add_(0, k, sample)
        table = torch.where(counts[:, None] > 0, sums / counts.clamp(min=1)[:, None], table)
    counts = torch.zeros(len(table), device=device)
    sums = torch.zeros_like(table)
    for lo in range(0, len(flat), 4096):  # every frame to its code; each code's frame the mean of its frames
        batch = flat[lo:lo + 4096].to(device).float()
        k = _nearest(batch, table, scale)
        counts += torch.bincount(k, minlength=len(table))
        sums.index_add_(0, k, batch)
    kept = counts >= max(1.0, min_share * len(flat))
    return sums[kept] / counts[kept, None]
