"""gridlab agents: exact planning, and learning agents measured against it.

Two rooms, one arrow (``tests/test_layers.py`` checks both):

- **planning** (numpy, scipy, numba; never torch): ``dp`` (solvers, ``Solution``, certificates,
  ``certified_solution``), ``ssp`` (gamma = 1: end components and the two-sided certificate),
  ``gauss_seidel`` (numba kernels), ``solvers`` (the one registry of solvers), and
  ``dp_torch``, the torch backend, registered there and imported only when asked for;
- **learning** (Stable-Baselines3, torch): ``algos`` (the one registry of algorithms), ``sb3``
  (presets in RL Zoo's format, training into run directories, safe loading), ``compare`` (a
  trained agent against V^pi and V*, the declared ``METRICS``), ``callbacks`` (the exact metrics
  logged during training), ``extractors`` (``SmallCNN``, a ``CnnPolicy`` features extractor
  for frames smaller than SB3's NatureCNN reads).

Imports ``envs`` only, never ``generative`` or ``gridlab``.

Example:
    >>> import gymnasium as gym, envs
    >>> from agents import dp
    >>> sol = dp.solve(gym.make("gridlab/FourRooms-v0").unwrapped.mdp, 0.99)
    >>> sol.error_bound <= 1e-6
    True
"""
