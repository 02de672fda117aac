"""gridlab generative world models: GAN, VAE and flow models of observations, scored exactly.

Example:
    >>> import gymnasium as gym, envs
    >>> from generative import collect_transitions, train_world_model, score
    >>> data = collect_transitions(gym.make("gridlab/Grid-v0", layout="S.G", obs_mode="onehot"), 2000)
    >>> model = train_world_model(data, "vae", steps=300, progress=False, device="cpu")
    >>> score(model, n_samples=200, horizon=2, n_rollouts=100)["tv"] < 0.1
    True
"""

from generative.codec import ObsCodec
from generative.data import TransitionDataset, collect_transitions
from generative.env import WorldModelEnv
from generative.metrics import forward_kl, jsd, reverse_kl, tv
from generative.scoring import conditional_entropy, rollout_tv, score, sequence_log_prob, transition_histograms
from generative.world_model import DEFAULTS, FAMILIES, WorldModel, train_world_model

__all__ = [
    "ObsCodec",
    "TransitionDataset",
    "collect_transitions",
    "tv",
    "forward_kl",
    "reverse_kl",
    "jsd",
    "score",
    "rollout_tv",
    "sequence_log_prob",
    "conditional_entropy",
    "transition_histograms",
    "WorldModel",
    "WorldModelEnv",
    "train_world_model",
    "FAMILIES",
    "DEFAULTS",
]
