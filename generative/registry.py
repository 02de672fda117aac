"""The registries of world-model families, one-step and with memory, by name, loaded lazily (like
Gymnasium's env registry).

Registering a family needs no torch import: an entry point ``"module:Class"`` is imported when
the family is first used, so listing the families (``gridlab world train --help``) stays cheap.
Families installed by other packages are found through the ``gridlab.world_models`` entry-point
group (``[project.entry-points."gridlab.world_models"] myfam = "mypkg.fam:MyFamily"``). World
models with memory (``generative.sequence_family.SequenceFamily``) have a registry of their own,
built the same way (:func:`register_sequence_family`, group ``gridlab.sequence_models``).

Example:
    >>> "vae" in family_names()
    True
    >>> load_family("vae").__name__
    'ConditionalVAE'
"""

from __future__ import annotations

from importlib.metadata import entry_points
from typing import Any

__all__ = ["FAMILIES", "register_family", "family_names", "load_family", "ENTRY_POINT_GROUP", "Registry",
           "SEQUENCE_FAMILIES", "register_sequence_family", "sequence_family_names", "load_sequence_family",
           "SEQUENCE_ENTRY_POINT_GROUP"]

ENTRY_POINT_GROUP = "gridlab.world_models"
SEQUENCE_ENTRY_POINT_GROUP = "gridlab.sequence_models"


class Registry:
    """Families by name, each ``"module:Class"`` imported on first use and checked against one contract.

    Arguments:
        contract: ``"module:Class"``, the abstract base every family must subclass.
        group: the entry-point group through which other packages add families.
        what: what a family is, for messages (``"family"``).
    """

    def __init__(self, contract: str, group: str, what: str = "family") -> None:
        self.contract, self.group, self.what = contract, group, what
        self.entries: dict[str, Any] = {}  # name -> "module:Class" entry point, or the class itself once loaded
        self._plugins_loaded = False

    def register(self, name: str, entry_point: Any) -> None:
        """Add ``name``: a class, or ``"module:Class"`` imported on first use."""
        if not (isinstance(name, str) and name.isidentifier() and name == name.lower()):
            raise ValueError(f"a {self.what} name must be a lowercase identifier, got {name!r}")
        if name in self.entries:
            raise ValueError(f"{self.what} {name!r} is already registered ({self.entries[name]!r})")
        self.entries[name] = entry_point

    def _load_plugins(self) -> None:
        if not self._plugins_loaded:
            self._plugins_loaded = True
            for ep in entry_points(group=self.group):
                if ep.name not in self.entries:
                    self.register(ep.name, ep.value)

    def names(self) -> list[str]:
        """The registered names, built-in ones first."""
        self._load_plugins()
        return list(self.entries)

    def load(self, name: str) -> type:
        """The class registered as ``name``, imported if needed and checked against the contract."""
        self._load_plugins()
        if name not in self.entries:
            raise ValueError(f"unknown {self.what} {name!r}; expected one of {', '.join(self.entries)}")
        from envs.registration import load_entry_point

        base = load_entry_point(self.contract)
        target = load_entry_point(self.entries[name])
        if not (isinstance(target, type) and issubclass(target, base)):
            raise TypeError(f"{self.what} {name!r} must be a subclass of {self.contract.replace(':', '.')}, got {target!r}")
        missing = sorted(getattr(target, "__abstractmethods__", ()))
        if missing:
            raise TypeError(f"{self.what} {name!r} ({target.__name__}) leaves {', '.join(missing)} unimplemented")
        self.entries[name] = target
        return target


_ONE_STEP = Registry("generative.family:WorldModelFamily", ENTRY_POINT_GROUP)
_SEQUENCE = Registry("generative.sequence_family:SequenceFamily", SEQUENCE_ENTRY_POINT_GROUP, "sequence family")
FAMILIES: dict[str, Any] = _ONE_STEP.entries
SEQUENCE_FAMILIES: dict[str, Any] = _SEQUENCE.entries


def register_family(name: str, entry_point: Any) -> None:
    """Register a family under ``name``: its class, or ``"module:Class"`` imported on first use.

    Raises:
        ValueError: the name is taken or not a lowercase identifier.
    """
    _ONE_STEP.register(name, entry_point)


def family_names() -> list[str]:
    """Every registered family's name, built-in ones first."""
    return _ONE_STEP.names()


def load_family(name: str) -> type:
    """The class registered as ``name``, imported if needed and checked against the contract.

    Raises:
        ValueError: no family has that name.
        TypeError: the class does not subclass ``generative.family.WorldModelFamily`` or leaves
            one of its abstract hooks unimplemented.
    """
    return _ONE_STEP.load(name)


def register_sequence_family(name: str, entry_point: Any) -> None:
    """Register a world model with memory (a ``generative.sequence_family.SequenceFamily``) under
    ``name``, as :func:`register_family` does for one-step families."""
    _SEQUENCE.register(name, entry_point)


def sequence_family_names() -> list[str]:
    """Every registered sequence family's name, built-in ones first."""
    return _SEQUENCE.names()


def load_sequence_family(name: str) -> type:
    """The sequence family registered as ``name``, checked against ``SequenceFamily``.

    Raises:
        ValueError: no sequence family has that name.
        TypeError: the class does not subclass ``SequenceFamily`` or leaves a hook unimplemented.
    """
    return _SEQUENCE.load(name)


register_family("vae", "generative.vae:ConditionalVAE")
register_family("gan", "generative.gan:ConditionalGAN")
register_family("flow", "generative.flow:ConditionalFlow")
register_sequence_family("hmm", "generative.hmm:NeuralHMM")
register_sequence_family("rssm", "generative.rssm:RSSM")
register_sequence_family("rnn", "generative.rnn:RecurrentCategorical")
# the one-step families made sequence-aware (a recurrent summary), and their memoryless contrast
register_sequence_family("rnn_vae", "generative.history:RecurrentVAE")
register_sequence_family("rnn_gan", "generative.history:RecurrentGAN")
register_sequence_family("rnn_flow", "generative.history:RecurrentFlow")
register_sequence_family("markov_vae", "generative.history:MarkovVAE")
register_sequence_family("markov_gan", "generative.history:MarkovGAN")
register_sequence_family("markov_flow", "generative.history:MarkovFlow")
