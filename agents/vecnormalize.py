"""VecNormalize's statistics, saved and read without pickle's power to run code.

An agent trained behind SB3's ``VecNormalize`` (the RL Zoo's ``normalize: true``, which its MiniGrid
presets use) acts on normalised observations and learns from scaled rewards; judging it exactly
needs those statistics. The lab writes them as JSON (:func:`save_stats`, :func:`load_stats`). The
RL Zoo writes ``vecnormalize.pkl``; :func:`load_zoo_pickle` reads it with an unpickler that builds
only the classes such a file holds (VecNormalize, its running statistics, numpy arrays, Gymnasium
spaces) and refuses any other, as :func:`agents.sb3.load_model` refuses pickled model attributes.
"""

from __future__ import annotations

import ast
import json
import pickle
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["find_vec_normalize", "normalize_kwargs", "save_stats", "load_stats", "load_zoo_pickle", "ZOO_PICKLE_CLASSES"]

# what a zoo vecnormalize.pkl names (SB3 2.x; numpy 1.x and 2.x spell their module two ways)
ZOO_PICKLE_CLASSES = {
    ("stable_baselines3.common.vec_env.vec_normalize", "VecNormalize"),
    ("stable_baselines3.common.running_mean_std", "RunningMeanStd"),
    ("numpy", "ndarray"), ("numpy", "dtype"),
    ("numpy._core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "scalar"),
    ("numpy.core.multiarray", "_reconstruct"), ("numpy.core.multiarray", "scalar"),
    ("gymnasium.spaces.box", "Box"), ("gymnasium.spaces.discrete", "Discrete"), ("gymnasium.spaces.dict", "Dict"),
    ("collections", "OrderedDict"),
    # a space's seeded random generator (numpy builds it by name from its own bit generators)
    ("numpy.random._pickle", "__generator_ctor"), ("numpy.random._pickle", "__bit_generator_ctor"),
    ("numpy.random._pcg64", "PCG64"), ("numpy.random.bit_generator", "SeedSequence"),
    ("numpy.random.bit_generator", "__pyx_unpickle_SeedSequence"),
}
_FIELDS = ("norm_obs", "norm_reward", "clip_obs", "clip_reward", "gamma", "epsilon")


def find_vec_normalize(obj: Any) -> Any:
    """The ``VecNormalize`` wrapper in a vec env's chain (``obj``, ``obj.venv``, ...), or None.

    Example:
        >>> find_vec_normalize(None) is None
        True
    """
    from stable_baselines3.common.vec_env import VecNormalize

    while obj is not None:
        if isinstance(obj, VecNormalize):
            return obj
        obj = getattr(obj, "venv", None)
    return None


def normalize_kwargs(value: Any, gamma: float) -> dict[str, Any] | None:
    """A preset's ``normalize`` as VecNormalize's keyword arguments, read as the RL Zoo reads it:
    ``true``, a mapping, or a string ``"dict(norm_obs=True, norm_reward=False)"``; the agent's
    ``gamma`` unless the preset gives one. ``None`` when it is off.

    Example:
        >>> normalize_kwargs("dict(norm_reward=False)", 0.99)
        {'norm_reward': False, 'gamma': 0.99}
    """
    if not value:
        return None
    if value is True:
        kwargs: dict[str, Any] = {}
    elif isinstance(value, dict):
        kwargs = dict(value)
    elif isinstance(value, str):
        try:
            call = ast.parse(value, mode="eval").body
            if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id == "dict"
                    and not call.args):
                raise ValueError
            kwargs = {kw.arg: ast.literal_eval(kw.value) for kw in call.keywords}
        except (SyntaxError, ValueError):
            raise ValueError(f"normalize must be true, a mapping or 'dict(key=value, ...)', got {value!r}") from None
    else:
        raise ValueError(f"normalize must be true, a mapping or 'dict(key=value, ...)', got {value!r}")
    kwargs.setdefault("gamma", gamma)
    return kwargs


def save_stats(norm: Any, path: str | Path) -> Path:
    """Write a VecNormalize's settings and running statistics as JSON."""
    record = {k: (bool(getattr(norm, k)) if k.startswith("norm") else float(getattr(norm, k))) for k in _FIELDS}
    for name in ("obs_rms", "ret_rms"):
        rms = getattr(norm, name)
        record[name] = {"mean": np.asarray(rms.mean).tolist(), "var": np.asarray(rms.var).tolist(),
                        "count": float(rms.count)}
    path = Path(path)
    path.write_text(json.dumps(record))
    return path


def load_stats(path: str | Path, env: Any) -> Any:
    """A frozen VecNormalize (``training=False``) around ``env`` with the statistics :func:`save_stats` wrote."""
    from stable_baselines3.common.vec_env import DummyVecEnv, VecNormalize

    record = json.loads(Path(path).read_text())
    norm = VecNormalize(DummyVecEnv([lambda: env]), training=False, **{k: record[k] for k in _FIELDS})
    for name in ("obs_rms", "ret_rms"):
        rms = getattr(norm, name)
        rms.mean = np.asarray(record[name]["mean"], dtype=np.float64).reshape(np.shape(rms.mean))
        rms.var = np.asarray(record[name]["var"], dtype=np.float64).reshape(np.shape(rms.var))
        rms.count = record[name]["count"]
    return norm


class _ZooUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in ZOO_PICKLE_CLASSES:
            raise pickle.UnpicklingError(f"{module}.{name}")
        return super().find_class(module, name)


def load_zoo_pickle(path: str | Path) -> Any:
    """The VecNormalize an RL Zoo run saved in ``vecnormalize.pkl``, frozen, without its venv.

    Raises:
        ValueError: the file names a class outside ``ZOO_PICKLE_CLASSES`` (loading it could run
            code) or is not a pickle of a VecNormalize.
    """
    from stable_baselines3.common.vec_env import VecNormalize

    try:
        with open(path, "rb") as f:
            norm = _ZooUnpickler(f).load()
    except pickle.UnpicklingError as e:
        raise ValueError(f"{str(path)!r} names {e}, which a VecNormalize file does not hold; it is not loaded "
                         "(unpickling it could run code)") from None
    except (OSError, EOFError) as e:
        raise ValueError(f"{str(path)!r} is not a readable VecNormalize file ({e})") from None
    if not isinstance(norm, VecNormalize):
        raise ValueError(f"{str(path)!r} holds a {type(norm).__name__}, not a VecNormalize")
    norm.training = False
    return norm
