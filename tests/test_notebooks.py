"""Every notebook runs top to bottom (with small budgets), so none can go stale; the committed copies
are what the generator writes, executed, with nothing in their outputs a reader should not see."""

import re
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

HERE = Path(__file__).parent.parent / "notebooks"
NOTEBOOKS = sorted(HERE.glob("*.ipynb"))
FINDINGS = "What these numbers support (computed from them"
# what must not reach a saved output: a path of this machine, a warning, a traceback
LEAKS = re.compile(r"(^|[\s'\"(])/(work|home|tmp|usr|root|opt)/|site-packages|Warning|Traceback")


def _texts(nb):
    """(stream name or output type, text) of every code cell's outputs."""
    for cell in nb.cells:
        for o in cell.get("outputs", []) if cell.cell_type == "code" else []:
            if o.output_type == "stream":
                yield o.name, o.text
            elif o.output_type == "error":
                yield "error", "\n".join(o.traceback)
            else:
                yield o.output_type, o.get("data", {}).get("text/plain", "")


def _check_outputs(nb):
    shown = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
             if o.output_type in ("display_data", "execute_result")]
    assert not [o for o in shown if "Figure" in o.get("data", {}).get("text/plain", "") and "image/png" not in o["data"]]
    outputs = list(_texts(nb))
    assert not [t for kind, t in outputs if kind in ("stderr", "error")]
    assert not [t for _, t in outputs if LEAKS.search(t)]
    return "\n".join(t for _, t in outputs)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_executes(path, tmp_path, monkeypatch):
    monkeypatch.setenv("GRIDLAB_STEPS", "1500")
    monkeypatch.setenv("GRIDLAB_QUICK", "1")
    monkeypatch.setenv("GRIDLAB_OUT", "out")  # relative, under the kernel's working directory
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    text = _check_outputs(nb)
    assert FINDINGS in text  # the interpretation is computed from this run's numbers


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_committed_notebook_is_the_generators_executed_and_clean(path):
    import sys

    sys.path.insert(0, str(HERE))
    try:
        from make_notebooks import NOTEBOOKS as CELLS
    finally:
        sys.path.remove(str(HERE))
    nb = nbformat.read(path, as_version=4)
    assert [(("md" if c.cell_type == "markdown" else "code"), c.source) for c in nb.cells] == CELLS[path.name]
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.execution_count is not None for c in code)  # saved executed, with its numbers
    assert FINDINGS in _check_outputs(nb)
