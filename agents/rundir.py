"""Run directories that are never half-written: ``envs.rundir``'s helpers, under their older import path.

They live in ``envs`` (the lowest layer) so that ``agents`` and ``generative`` write runs the same way.
"""

from envs.rundir import atomic_run_dir, atomic_write_text

__all__ = ["atomic_run_dir", "atomic_write_text"]
