"""gridlab generative world models: GAN, VAE and flow models of observations, scored exactly.

Rooms: ``family`` (the contract a family fulfils) and ``registry`` (the one list of families);
``vae``, ``gan``, ``flow`` (the families); ``codec``, ``data``, ``world_model`` (training,
sampling, rollouts, save and load); ``metrics``, ``scoring`` (exact scores against the true
transition probabilities); ``env`` (a world model as a Gymnasium env). World models with memory
of partially observed worlds: ``sequences`` (whole episodes), ``sequence_family`` (their contract),
``hmm``, ``rssm``, ``rnn`` and ``history`` (the families), ``sequence_model`` (training and filtering),
``sequence_scoring`` (exact scores against the forward algorithm), ``sequence_run`` (run
directories) and ``sequence_env`` (a dream to train agents in). Imports ``envs`` only, never
``agents`` or ``gridlab``.

The names below are imported on first use, so ``import generative.registry`` (the CLI's list
of families) does not pay for torch.

Example:
    >>> import gymnasium as gym, envs
    >>> from generative import collect_transitions, train_world_model, score
    >>> data = collect_transitions(gym.make("gridlab/Grid-v0", layout="S.G", obs_mode="onehot"), 2000)
    >>> model = train_world_model(data, "vae", steps=300, progress=False, device="cpu")
    >>> score(model, n_samples=200, horizon=2, n_rollouts=100)["tv"] < 0.1
    True
"""

import importlib
from typing import Any

_EXPORTS = {
    "ObsCodec": "generative.codec",
    "TransitionDataset": "generative.data",
    "collect_transitions": "generative.data",
    "tv": "generative.metrics",
    "forward_kl": "generative.metrics",
    "reverse_kl": "generative.metrics",
    "jsd": "generative.metrics",
    "score": "generative.scoring",
    "noise_floor": "generative.scoring",
    "rollout_tv": "generative.scoring",
    "sequence_log_prob": "generative.scoring",
    "conditional_entropy": "generative.scoring",
    "transition_histograms": "generative.scoring",
    "WorldModel": "generative.world_model",
    "WorldModelEnv": "generative.env",
    "train_world_model": "generative.world_model",
    "WorldModelFamily": "generative.family",
    "FAMILIES": "generative.registry",
    "register_family": "generative.registry",
    "family_names": "generative.registry",
    "load_family": "generative.registry",
    "SequenceDataset": "generative.sequences",
    "collect_sequences": "generative.sequences",
    "SequenceFamily": "generative.sequence_family",
    "SequenceWorldModel": "generative.sequence_model",
    "train_sequence_model": "generative.sequence_model",
    "score_sequence": "generative.sequence_scoring",
    "belief_probe": "generative.sequence_scoring",
    "SequenceDreamEnv": "generative.sequence_env",
    "dream_return": "generative.sequence_env",
    "register_sequence_family": "generative.registry",
    "sequence_family_names": "generative.registry",
    "load_sequence_family": "generative.registry",
}

__all__ = [*_EXPORTS, "DEFAULTS"]


def __getattr__(name: str) -> Any:
    if name == "DEFAULTS":  # each registered family's training budget
        from generative.registry import family_names, load_family

        return {f: dict(load_family(f).defaults) for f in family_names()}
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'generative' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
