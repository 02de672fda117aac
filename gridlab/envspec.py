"""Turning command-line env ids and ``key=value`` pairs into envs, with one-line errors."""

from __future__ import annotations

import ast
import difflib
from typing import Any

import gymnasium as gym

import envs  # noqa: F401  (registers the suite)
from envs import GridWorldEnv, TabularMDP

__all__ = ["UsageError", "parse_kwargs", "make_env", "model_of"]


class UsageError(Exception):
    """A user error the CLI reports in one line, exiting with status 2."""


def parse_kwargs(pairs: list[str] | None) -> dict[str, Any]:
    """``["slip=0.2", "layout=S.G/..."]`` -> ``{"slip": 0.2, "layout": "S.G\\n..."}``.

    Values are Python literals when they parse as one, strings otherwise. In ``layout``, ``/``
    separates rows.
    """
    out: dict[str, Any] = {}
    for pair in pairs or []:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise UsageError(f"--kw expects key=value, got {pair!r}")
        try:
            value: Any = ast.literal_eval(raw)
        except (ValueError, SyntaxError):
            value = raw
        if key == "layout" and isinstance(value, str):
            value = value.replace("/", "\n")
        out[key] = value
    return out


def closest_id(env_id: str) -> str | None:
    ids = list(gym.registry)
    ours = [i for i in ids if i.startswith("gridlab/")]
    match = difflib.get_close_matches(env_id, ours, n=1, cutoff=0.3) or difflib.get_close_matches(env_id, ids, n=1)
    return match[0] if match else None


def make_env(env_id: str, kwargs: dict[str, Any] | None = None, **extra: Any) -> gym.Env:
    """``gym.make`` with the CLI's error messages: unknown ids suggest the closest registered one."""
    from envs.minigrid import ensure_registered

    try:
        ensure_registered(env_id)  # MiniGrid's ids are registered by importing minigrid, an optional extra
    except ImportError as e:
        raise UsageError(str(e)) from None
    if env_id not in gym.registry:
        hint = closest_id(env_id)
        raise UsageError(f"unknown env id {env_id!r}" + (f"; did you mean {hint!r}?" if hint else ""))
    try:
        return gym.make(env_id, **(kwargs or {}), **extra)
    except TypeError as e:
        raise UsageError(f"bad argument for {env_id}: {str(e).split(' was raised')[0]}") from None
    except ValueError as e:
        raise UsageError(f"{env_id}: {e}") from None


def model_of(env: gym.Env, gamma: float | None = None) -> TabularMDP:
    """The exact model of a gridlab env, or one read from a toy_text env's ``P``."""
    base = env.unwrapped
    if isinstance(base, GridWorldEnv):
        return base.mdp
    try:
        return TabularMDP.from_gym(base, gamma=0.99 if gamma is None else gamma)
    except ValueError as e:
        raise UsageError(str(e)) from None
