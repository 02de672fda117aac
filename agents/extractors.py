"""A convolutional features extractor for the lab's small frames (SB3 ``CnnPolicy``).

SB3's default ``NatureCNN`` (8x8 stride-4, 4x4 stride-2 and 3x3 convolutions) needs frames of
at least 36 x 36 pixels; the lab's pixel worlds at their default 4 pixels per cell are smaller
(the 8 x 8 lake is 32 x 32, a 3 x 3 room 12 x 12). :class:`SmallCNN` keeps the cell grid in view:
a 3x3 convolution at full resolution (one cell is ``cell_px`` pixels wide), then two 3x3
stride-2 convolutions and a linear layer.

Example:
    >>> import gymnasium as gym, envs
    >>> from stable_baselines3 import PPO
    >>> env = gym.make("gridlab/Grid-v0", layout="S..\\n...\\n..G", obs_mode="pixels")
    >>> agent = PPO("CnnPolicy", env, policy_kwargs=SMALL_CNN, n_steps=64, batch_size=32, device="cpu")
    >>> agent.policy.features_extractor.features_dim
    64
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import torch
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor
from torch import nn

__all__ = ["SmallCNN", "SMALL_CNN"]


class SmallCNN(BaseFeaturesExtractor):
    """Conv(3x3, 16) -> Conv(3x3, stride 2, 32) -> Conv(3x3, stride 2, 32) -> Linear(features_dim),
    ReLU after each; for channel-first image observations of any size >= 1 pixel (SB3 transposes
    channel-last frames and scales them to [0, 1] before they reach it).

    Arguments:
        observation_space: the (channel-first) image space.
        features_dim: width of the output features. Default 64.
    """

    def __init__(self, observation_space: gym.spaces.Box, features_dim: int = 64) -> None:
        if len(observation_space.shape) != 3:
            raise ValueError(f"SmallCNN needs image observations (C, H, W), got shape {observation_space.shape}")
        if isinstance(features_dim, bool) or not isinstance(features_dim, int) or features_dim < 1:
            raise ValueError(f"features_dim must be an integer >= 1, got {features_dim!r}")
        super().__init__(observation_space, features_dim)
        channels = observation_space.shape[0]
        self.cnn = nn.Sequential(
            nn.Conv2d(channels, 16, 3, padding=1), nn.ReLU(),
            nn.Conv2d(16, 32, 3, stride=2, padding=1), nn.ReLU(),
            nn.Conv2d(32, 32, 3, stride=2, padding=1), nn.ReLU(),
            nn.Flatten(),
        )
        with torch.no_grad():
            n_flat = self.cnn(torch.zeros(1, *observation_space.shape)).shape[1]
        self.linear = nn.Sequential(nn.Linear(n_flat, features_dim), nn.ReLU())

    def forward(self, observations: torch.Tensor) -> torch.Tensor:
        return self.linear(self.cnn(observations))


# policy_kwargs for SB3's CnnPolicy on the lab's pixel worlds
SMALL_CNN: dict[str, Any] = {"features_extractor_class": SmallCNN, "features_extractor_kwargs": {"features_dim": 64}}
