"""The one registry of learning algorithms: name -> Stable-Baselines3 class, imported on first use.

The CLI lists the names without importing torch; ``agents.sb3.train`` loads the class. An
algorithm also needs its presets, ``agents/hyperparams/<name>.yml`` in RL Zoo's format, and a
policy ``agents.compare.extract`` can read (actor-critic, Q-network or quantile Q-network), or, on a
POMDP, a recurrent policy ``agents.pomdp_compare`` reads.

Example:
    >>> list(ALGOS)
    ['ppo', 'a2c', 'dqn', 'qrdqn', 'recurrentppo']
    >>> load_algo("ppo").__name__
    'PPO'
"""

from __future__ import annotations

from typing import Any

__all__ = ["ALGOS", "ZOO_NAMES", "register_algo", "load_algo"]

ALGOS: dict[str, Any] = {}  # name -> "module:Class", or the class itself
#: RL Baselines3 Zoo's names for the algorithms it names differently (the zoo runs
#: ``agents/hyperparams/recurrentppo.yml`` as ``rl_zoo3.train --algo ppo_lstm --conf-file ...``).
ZOO_NAMES = {"recurrentppo": "ppo_lstm"}


def register_algo(name: str, entry_point: Any) -> None:
    """Register an SB3-style algorithm class (or ``"module:Class"``) under ``name``.

    Raises:
        ValueError: the name is taken.
    """
    if name in ALGOS:
        raise ValueError(f"algorithm {name!r} is already registered ({ALGOS[name]!r})")
    ALGOS[name] = entry_point


def load_algo(name: str) -> type:
    """The class registered as ``name``.

    Raises:
        ValueError: no algorithm has that name.
    """
    if name not in ALGOS:
        raise ValueError(f"unknown algo {name!r}; expected one of {', '.join(ALGOS)}")
    from envs.registration import load_entry_point

    ALGOS[name] = load_entry_point(ALGOS[name])
    return ALGOS[name]


register_algo("ppo", "stable_baselines3:PPO")
register_algo("a2c", "stable_baselines3:A2C")
register_algo("dqn", "stable_baselines3:DQN")
register_algo("qrdqn", "sb3_contrib:QRDQN")  # quantile-regression DQN (sb3-contrib)
register_algo("recurrentppo", "sb3_contrib:RecurrentPPO")  # PPO with an LSTM policy (sb3-contrib), for POMDPs
