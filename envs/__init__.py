"""gridlab worlds: gridworld MDPs as Gymnasium envs, each carrying its exact model.

``import envs`` registers the suite under the ``gridlab/`` namespace. Rooms: ``layouts``,
``gridworld``, ``mdp`` (``TabularMDP``, also read from any toy_text env), ``verify`` (a model
checked against its env), ``vector`` (native vector envs), ``registration`` (the suite),
``plotting``; partially observable worlds: ``pomdp`` (``TabularPOMDP``, its belief filter),
``pomdp_file`` (Cassandra's ``.pomdp`` format), ``pomdp_worlds`` (Tiger, the T-maze) and
``pomdp_env`` (``POMDPEnv``); and two helpers every package shares: ``rundir`` (atomic run directories and files)
and ``resources`` (memory limits, ``device="auto"``). The lowest layer: it imports no other
gridlab package.

Example:
    >>> import gymnasium as gym, envs
    >>> env = gym.make("gridlab/FourRooms-v0")
    >>> env.unwrapped.mdp.n_states
    104
"""

from envs.gridworld import ACTIONS, OBS_MODES, GridWorldEnv, MazeEnv
from envs.layouts import parse_layout, random_maze, open_room
from envs.mdp import TabularMDP
from envs.pomdp import TabularPOMDP
from envs.pomdp_env import POMDPEnv
from envs.registration import POMDP_SUITE, SUITE, ready_made_ids, register_suite, required_kwargs
from envs.verify import ModelCheck, check_model

__all__ = [
    "ACTIONS",
    "OBS_MODES",
    "GridWorldEnv",
    "MazeEnv",
    "TabularMDP",
    "TabularPOMDP",
    "POMDPEnv",
    "POMDP_SUITE",
    "ModelCheck",
    "check_model",
    "SUITE",
    "ready_made_ids",
    "required_kwargs",
    "parse_layout",
    "random_maze",
    "open_room",
    "register_suite",
]

register_suite()
