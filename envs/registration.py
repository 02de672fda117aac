"""The registered suite: ``gym.make("gridlab/FourRooms-v0")`` and friends."""

from __future__ import annotations

import importlib
from typing import Any

import gymnasium as gym

from envs import layouts

__all__ = ["SUITE", "POMDP_SUITE", "register_suite", "required_kwargs", "ready_made_ids", "load_entry_point"]

# id -> (entry point, kwargs, max_episode_steps)
SUITE: dict[str, tuple[str, dict, int]] = {
    "gridlab/OpenRoom-v0": ("envs.gridworld:GridWorldEnv", {"layout": layouts.OPEN_ROOM}, 100),
    "gridlab/FourRooms-v0": ("envs.gridworld:GridWorldEnv", {"layout": layouts.FOUR_ROOMS}, 200),
    "gridlab/CliffWalk-v0": (
        "envs.gridworld:GridWorldEnv",
        {"layout": layouts.CLIFF_WALK, "step_reward": -1.0, "hole_reward": -100.0, "goal_reward": -1.0},
        200,
    ),
    "gridlab/SlipperyLake-v0": ("envs.gridworld:GridWorldEnv", {"layout": layouts.SLIPPERY_LAKE, "slip": 0.2}, 200),
    "gridlab/Maze-v0": ("envs.gridworld:MazeEnv", {"size": 7, "seed": 0}, 400),
    "gridlab/RiskyShortcut-v0": ("envs.gridworld:GridWorldEnv", {"layout": layouts.RISKY_SHORTCUT, "slip": 0.1}, 200),
    "gridlab/OneWay-v0": ("envs.gridworld:GridWorldEnv", {"layout": layouts.ONE_WAY}, 100),
    "gridlab/Grid-v0": ("envs.gridworld:GridWorldEnv", {}, 500),
}


# partially observable worlds: id -> (POMDPEnv's model builder, its kwargs, max_episode_steps)
POMDP_SUITE: dict[str, tuple[str, dict, int]] = {
    "gridlab/Tiger-v0": ("envs.pomdp_worlds:tiger", {}, 100),
    "gridlab/TMaze-v0": ("envs.pomdp_worlds:t_maze", {"length": 6}, 100),
    "gridlab/FourRoomsWalls-v0": ("envs.pomdp_worlds:wall_sensor_grid",
                                  {"layout": layouts.FOUR_ROOMS, "slip": 0.1, "sensor_noise": 0.1}, 200),
    "gridlab/Maze4x3-v0": ("envs.pomdp_worlds:maze_4x3", {}, 100),
    "gridlab/Tag-v0": ("envs.pomdp_worlds:tag", {}, 100),
    "gridlab/RockSample-v0": ("envs.pomdp_worlds:rock_sample", {}, 100),
}


VECTOR_ENTRY_POINTS = {
    "envs.gridworld:GridWorldEnv": "envs.vector:GridWorldVectorEnv",
    "envs.gridworld:MazeEnv": "envs.vector:MazeVectorEnv",
}


def load_entry_point(target: Any) -> Any:
    """What an entry point names: ``"module:attr"`` imported (as Gymnasium's registry does), any
    other value (a class or function registered directly) as it is. Every gridlab registry
    (solvers, algorithms, world-model families) loads its entries through this.

    Example:
        >>> load_entry_point("envs.gridworld:GridWorldEnv").__name__
        'GridWorldEnv'
    """
    if not isinstance(target, str):
        return target
    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr)


def required_kwargs(env_id: str) -> list[str]:
    """The constructor arguments ``gym.make(env_id)`` still needs: those of its entry point
    without a default that the registration does not give (``gridlab/Grid-v0``: ``["layout"]``).

    Example:
        >>> required_kwargs("gridlab/Grid-v0"), required_kwargs("gridlab/FourRooms-v0")
        (['layout'], [])
    """
    import inspect

    entry_point, kwargs, _ = SUITE[env_id]
    params = inspect.signature(load_entry_point(entry_point)).parameters.values()
    return [p.name for p in params if p.default is inspect.Parameter.empty
            and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and p.name not in kwargs]


def ready_made_ids() -> list[str]:
    """The registered ids ``gym.make`` builds with no further argument (the suite tables and tests use them)."""
    return [env_id for env_id in SUITE if not required_kwargs(env_id)]


def register_suite() -> None:
    """Register every id of ``SUITE`` with Gymnasium, each with its native vector env, and every id
    of ``POMDP_SUITE`` as a :class:`~envs.pomdp_env.POMDPEnv` of its model (idempotent)."""
    for env_id, (entry_point, kwargs, steps) in SUITE.items():
        if env_id not in gym.registry:
            gym.register(id=env_id, entry_point=entry_point, vector_entry_point=VECTOR_ENTRY_POINTS[entry_point],
                         kwargs=kwargs, max_episode_steps=steps)
    for env_id, (builder, kwargs, steps) in POMDP_SUITE.items():
        if env_id not in gym.registry:
            gym.register(id=env_id, entry_point="envs.pomdp_env:POMDPEnv", kwargs={"pomdp": builder, **kwargs},
                         max_episode_steps=steps)
