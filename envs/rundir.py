"""Run directories and files that are never half-written: built under a temporary name, renamed when complete.

Shared by every package that writes runs (``agents``, ``generative``, ``gridlab``), so it sits in the lowest layer.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

__all__ = ["atomic_run_dir", "atomic_file", "atomic_write_text"]


@contextmanager
def atomic_run_dir(run_dir: str | Path) -> Iterator[Path]:
    """Yield a temporary directory beside ``run_dir``; on success it is renamed to ``run_dir``.

    On any exception (Ctrl-C included) the temporary directory is removed and nothing is left
    where a later command would read it as complete. ``run_dir`` must not exist, or be empty.

    Example:
        >>> import tempfile
        >>> root = Path(tempfile.mkdtemp())
        >>> with atomic_run_dir(root / "run") as tmp:
        ...     _ = (tmp / "model.zip").write_text("weights")
        >>> sorted(p.name for p in root.iterdir())
        ['run']
    """
    run_dir = Path(run_dir)
    if run_dir.exists() and any(run_dir.iterdir()):
        raise ValueError(f"run directory {str(run_dir)!r} already exists and is not empty")
    run_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{run_dir.name}.", dir=run_dir.parent))
    try:
        yield tmp
        if run_dir.exists():
            run_dir.rmdir()
        os.replace(tmp, run_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


@contextmanager
def atomic_file(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path`` to write; on success it is renamed to ``path``.

    A reader never sees a half-written file: ``path`` holds the old content or the new. On any
    exception the temporary file is removed and ``path`` is untouched.

    Example:
        >>> import tempfile
        >>> target = Path(tempfile.mkdtemp()) / "score.json"
        >>> with atomic_file(target) as tmp:
        ...     _ = tmp.write_text("{}")
        >>> target.read_text()
        '{}'
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def atomic_write_text(path: str | Path, text: str) -> Path:
    """Write a text file atomically (:func:`atomic_file`)."""
    with atomic_file(path) as tmp:
        tmp.write_text(text)
    return Path(path)
