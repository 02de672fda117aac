"""Output directories of the CLI and the demo: refused up front, in one line, when not writable."""

from __future__ import annotations

import tempfile
from pathlib import Path

from gridlab.envspec import UsageError

__all__ = ["check_writable"]


def check_writable(directory: str | Path, shown: str | None = None) -> None:
    """Create ``directory`` and write a probe file in it, or raise a one-line ``UsageError``.

    ``shown`` is the ``--out`` the user gave when ``directory`` is the parent of a run directory
    (which must not exist yet), so the message names what they typed.
    """
    path = Path(directory)
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".gridlab-probe-"):
            pass
    except OSError as e:
        where = f" (in {str(directory)!r})" if shown else ""
        raise UsageError(f"cannot write to --out {(shown or str(directory))!r}{where}: {e.strerror or e}") from None
