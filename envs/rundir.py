"""Run directories and files that are never half-written: built under a temporary name, renamed when complete;
and :func:`~envs.rundir.regular_file`, the check every file a user names passes before it is read.

Shared by every package that writes runs (``agents``, ``generative``, ``gridlab``), so it sits in the lowest layer.
"""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

__all__ = ["atomic_run_dir", "atomic_file", "atomic_write_text", "regular_file"]


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


_KINDS = ((stat.S_ISDIR, "a directory"), (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
          (stat.S_ISFIFO, "a named pipe"), (stat.S_ISSOCK, "a socket"))


def regular_file(path: str | Path, what: str) -> Path:
    """``path`` as a ``Path`` if it is a regular file (or a link to one); else a ``ValueError`` that
    names what it is instead: missing, a directory, a device (``/dev/null``), a pipe, a socket.

    Reading a pipe would block and a device reads as empty, so a file a user names is checked
    before it is opened.

    Arguments:
        path: the file.
        what: what the file should be, for the message ("hyperparameter file").

    Example:
        >>> regular_file("/dev/null", "hyperparameter file")
        Traceback (most recent call last):
        ...
        ValueError: hyperparameter file '/dev/null' is a character device, not a regular file
    """
    p = Path(path)
    try:
        mode = p.stat().st_mode
    except FileNotFoundError:
        kind = "a link to nothing" if p.is_symlink() else None
        raise ValueError(f"{what} {str(p)!r} " + (f"is {kind}" if kind else "does not exist")) from None
    except OSError as e:
        raise ValueError(f"{what} {str(p)!r} cannot be read ({e.strerror})") from None
    if stat.S_ISREG(mode):
        return p
    kind = next((name for test, name in _KINDS if test(mode)), "not a file")
    raise ValueError(f"{what} {str(p)!r} is {kind}, not a regular file")
