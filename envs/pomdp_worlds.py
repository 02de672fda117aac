"""Classic POMDPs written from their published definitions (no other project's files copied).

- :func:`tiger`: Kaelbling, Littman & Cassandra (1998), "Planning and acting in partially
  observable stochastic domains", Artificial Intelligence 101. A tiger is behind one of two
  doors; listening costs 1 and reports the correct side with probability 0.85; opening the
  tiger's door costs 100, the other pays 10, and either resets the problem (the tiger placed
  uniformly again, the observation then uninformative). At discount 0.95 from the uniform
  belief :math:`V^*(b_0) = 19.3714` (Cassandra's published value).

Example:
    >>> m = tiger()
    >>> m.states, m.actions, m.observations
    (('tiger-left', 'tiger-right'), ('listen', 'open-left', 'open-right'), ('tiger-left', 'tiger-right'))
"""

from __future__ import annotations

import numpy as np

from envs.pomdp import TabularPOMDP

__all__ = ["tiger"]


def tiger(listen_accuracy: float = 0.85, gamma: float = 0.95) -> TabularPOMDP:
    """The tiger problem (module doc), with its listening accuracy and discount as parameters.

    Arguments:
        listen_accuracy: probability that listening reports the tiger's true side, in [0.5, 1].
        gamma: the discount, in (0, 1).
    """
    if not 0.5 <= listen_accuracy <= 1.0:
        raise ValueError(f"listen_accuracy must be in [0.5, 1], got {listen_accuracy}")
    p = float(listen_accuracy)
    T = np.stack([np.eye(2), np.full((2, 2), 0.5), np.full((2, 2), 0.5)])  # listen; open-left; open-right
    O = np.stack([[[p, 1 - p], [1 - p, p]], np.full((2, 2), 0.5), np.full((2, 2), 0.5)])
    R = np.array([[-1.0, -100.0, 10.0],   # tiger-left: listen, open-left (the tiger), open-right
                  [-1.0, 10.0, -100.0]])  # tiger-right
    return TabularPOMDP.from_arrays(T, R, O, b0=[0.5, 0.5], gamma=gamma, states=("tiger-left", "tiger-right"),
                                    actions=("listen", "open-left", "open-right"),
                                    observations=("tiger-left", "tiger-right"), info={"source": "tiger"})
