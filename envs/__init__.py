"""gridlab worlds: gridworld MDPs as Gymnasium envs, each carrying its exact model.

``import envs`` registers the suite under the ``gridlab/`` namespace.

Example:
    >>> import gymnasium as gym, envs
    >>> env = gym.make("gridlab/FourRooms-v0")
    >>> env.unwrapped.mdp.n_states
    104
"""

from envs.gridworld import ACTIONS, OBS_MODES, GridWorldEnv, MazeEnv
from envs.layouts import parse_layout, random_maze, open_room
from envs.mdp import TabularMDP
from envs.registration import SUITE, register_suite
from envs.verify import ModelCheck, check_model

__all__ = [
    "ACTIONS",
    "OBS_MODES",
    "GridWorldEnv",
    "MazeEnv",
    "TabularMDP",
    "ModelCheck",
    "check_model",
    "SUITE",
    "parse_layout",
    "random_maze",
    "open_room",
    "register_suite",
]

register_suite()
