"""The one registry of world-model families, by name, loaded lazily (like Gymnasium's env registry).

Registering a family needs no torch import: an entry point ``"module:Class"`` is imported when
the family is first used, so listing the families (``gridlab world train --help``) stays cheap.
Families installed by other packages are found through the ``gridlab.world_models`` entry-point
group (``[project.entry-points."gridlab.world_models"] myfam = "mypkg.fam:MyFamily"``).

Example:
    >>> "vae" in family_names()
    True
    >>> load_family("vae").__name__
    'ConditionalVAE'
"""

from __future__ import annotations

from importlib.metadata import entry_points
from typing import Any

__all__ = ["FAMILIES", "register_family", "family_names", "load_family", "ENTRY_POINT_GROUP"]

ENTRY_POINT_GROUP = "gridlab.world_models"

FAMILIES: dict[str, Any] = {}  # name -> "module:Class" entry point, or the class itself once loaded
_plugins_loaded = False


def register_family(name: str, entry_point: Any) -> None:
    """Register a family under ``name``: its class, or ``"module:Class"`` imported on first use.

    Raises:
        ValueError: the name is taken or not a lowercase identifier.
    """
    if not (isinstance(name, str) and name.isidentifier() and name == name.lower()):
        raise ValueError(f"a family name must be a lowercase identifier, got {name!r}")
    if name in FAMILIES:
        raise ValueError(f"family {name!r} is already registered ({FAMILIES[name]!r})")
    FAMILIES[name] = entry_point


def _load_plugins() -> None:
    global _plugins_loaded
    if not _plugins_loaded:
        _plugins_loaded = True
        for ep in entry_points(group=ENTRY_POINT_GROUP):
            if ep.name not in FAMILIES:
                register_family(ep.name, ep.value)


def family_names() -> list[str]:
    """Every registered family's name, built-in ones first."""
    _load_plugins()
    return list(FAMILIES)


def load_family(name: str) -> type:
    """The class registered as ``name``, imported if needed and checked against the contract.

    Raises:
        ValueError: no family has that name.
        TypeError: the class does not subclass ``generative.family.WorldModelFamily`` or leaves
            one of its abstract hooks unimplemented.
    """
    _load_plugins()
    if name not in FAMILIES:
        raise ValueError(f"unknown family {name!r}; expected one of {', '.join(FAMILIES)}")
    from envs.registration import load_entry_point
    from generative.family import WorldModelFamily

    target = load_entry_point(FAMILIES[name])

    if not (isinstance(target, type) and issubclass(target, WorldModelFamily)):
        raise TypeError(f"family {name!r} must be a subclass of generative.family.WorldModelFamily, got {target!r}")
    missing = sorted(getattr(target, "__abstractmethods__", ()))
    if missing:
        raise TypeError(f"family {name!r} ({target.__name__}) leaves {', '.join(missing)} unimplemented")
    FAMILIES[name] = target
    return target


register_family("vae", "generative.vae:ConditionalVAE")
register_family("gan", "generative.gan:ConditionalGAN")
register_family("flow", "generative.flow:ConditionalFlow")
