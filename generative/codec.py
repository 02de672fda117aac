"""ObsCodec: observations <-> the vectors a generative model works on.

Dimensions that are constant over the training data (walls, goals and holes of an image, wall
cells of the agent channel) are held fixed, not modelled. The rest is typed from the data:

- ``"categorical"``: every observation is one-hot over the remaining dimensions (onehot and
  image observations of a grid);
- ``"bernoulli"``: values in {0, 1} but not one-hot;
- ``"gaussian"``: anything else (coords observations).

``encode`` gives the model-space vector (for categorical data the one-hot itself); ``decode``
puts model outputs back into the env's observation format.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

__all__ = ["ObsCodec", "codec_from_dict"]

KINDS = ("categorical", "bernoulli", "gaussian")


@dataclass
class ObsCodec:
    """Maps flat observations to model space and back (see module docstring)."""

    obs_shape: tuple[int, ...]
    free: np.ndarray  # indices of the modelled (non-constant) flat dimensions
    constant: np.ndarray  # flat observation with the constant dimensions' values
    kind: str

    @classmethod
    def fit(cls, obs: np.ndarray | torch.Tensor) -> "ObsCodec":
        """Infer the codec from a batch of observations ``(N, *obs_shape)``."""
        x = torch.as_tensor(obs).detach().cpu().numpy().astype(np.float32)
        shape = tuple(x.shape[1:])
        flat = x.reshape(len(x), -1)
        varies = np.any(flat != flat[:1], axis=0)
        free = np.flatnonzero(varies)
        sub = flat[:, free]
        binary = np.all((sub == 0) | (sub == 1))
        if binary and free.size and np.all(sub.sum(axis=1) == 1):
            kind = "categorical"
        elif binary:
            kind = "bernoulli"
        else:
            kind = "gaussian"
        return cls(shape, free, flat[0].copy(), kind)

    @property
    def dim(self) -> int:
        """Number of modelled dimensions."""
        return int(self.free.size)

    def encode(self, obs: Any) -> torch.Tensor:
        """``(N, *obs_shape)`` observations -> ``(N, dim)`` float tensor (same device as a tensor input)."""
        t = torch.as_tensor(obs, dtype=torch.float32)
        flat = t.reshape(t.shape[0], -1)
        return flat[:, torch.as_tensor(self.free, device=flat.device)]

    def decode(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, dim)`` model-space values -> ``(N, *obs_shape)`` observations (constants restored)."""
        out = torch.as_tensor(self.constant, device=x.device).repeat(x.shape[0], 1)
        out[:, torch.as_tensor(self.free, device=x.device)] = x.to(out.dtype)
        return out.reshape(x.shape[0], *self.obs_shape)

    def to_dict(self) -> dict[str, Any]:
        return {"obs_shape": list(self.obs_shape), "free": self.free.tolist(), "constant": self.constant.tolist(),
                "kind": self.kind}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "ObsCodec":
        if d["kind"] not in KINDS:
            raise ValueError(f"unknown codec kind {d['kind']!r}; expected one of {KINDS}")
        return cls(tuple(d["obs_shape"]), np.asarray(d["free"], dtype=np.int64),
                   np.asarray(d["constant"], dtype=np.float32), d["kind"])


def codec_from_dict(d: dict[str, Any], device: str | torch.device = "cpu") -> Any:
    """The codec a ``to_dict`` wrote: an ``ObsCodec``, or a ``generative.frames.FrameCodec``
    (``"type": "frames"``) placed on ``device``."""
    if d.get("type") == "frames":
        from generative.frames import FrameCodec

        return FrameCodec.from_dict(d, device)
    return ObsCodec.from_dict(d)
