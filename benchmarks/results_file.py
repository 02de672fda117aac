"""The JSON results file every benchmark writes: its rows plus a few facts about the run, such as
the machine's plain-Python speed (:func:`python_reference_ms`), which timings are read against."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable, Hashable


def write_rows(path: str | Path, rows: list[dict[str, Any]], key: Callable[[dict[str, Any]], Hashable],
               merge: bool = False, **meta: Any) -> list[dict[str, Any]]:
    """Write ``{**meta, "rows": rows}`` to ``path``; returns the rows written.

    With ``merge``, rows already in the file are kept unless this run re-measured their
    ``key`` (a re-run of some configurations updates only those), and the file's other
    top-level entries are kept where ``meta`` does not replace them.

    Example:
        >>> import tempfile
        >>> p = Path(tempfile.mkdtemp()) / "r.json"
        >>> _ = write_rows(p, [{"algo": "ppo", "x": 1}, {"algo": "dqn", "x": 2}], key=lambda r: r["algo"])
        >>> [r["x"] for r in write_rows(p, [{"algo": "dqn", "x": 3}], key=lambda r: r["algo"], merge=True)]
        [1, 3]
    """
    path = Path(path)
    old: dict[str, Any] = json.loads(path.read_text()) if merge and path.is_file() else {}
    rerun = {key(r) for r in rows}
    rows = [r for r in old.get("rows", []) if key(r) not in rerun] + rows
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({**old, **meta, "rows": rows}, indent=1))
    return rows


def python_reference_ms() -> float:
    """This machine's speed at plain Python: the best of 5 runs of ``sum(range(10**6))``, in ms (machines
    lent to this project have differed by up to 3x at it), so timings can be compared across machines."""
    import timeit

    return min(timeit.repeat("sum(range(10**6))", number=10, repeat=5)) / 10 * 1e3
