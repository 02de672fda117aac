"""Sphinx configuration of gridlab's documentation: ``make docs`` builds it into ``docs/_build/html``.

Sphinx (with furo, MyST and myst-nb) rather than MkDocs: the lab's docstrings are reStructuredText
with ``:math:`` roles and ``.. math::`` blocks, which autodoc and napoleon render as they are (the
way Stable-Baselines3, Gymnasium and zuko publish theirs), and myst-nb renders the executed
notebooks without running them again.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("MPLBACKEND", "Agg")

project = "gridlab"
author = "the gridlab developers"
copyright = "2026, the gridlab developers"  # noqa: A001 (Sphinx's name)

extensions = [
    "myst_nb",
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "cli_reference",  # docs/cli_reference.py: the `gridlab` commands' help, read from the parser itself
]

exclude_patterns = ["_build", "notebooks/make_notebooks.py", "**.ipynb_checkpoints"]
templates_path = ["_templates"]

# MyST: $...$ maths, ::: fences, and heading anchors for links between pages
myst_enable_extensions = ["dollarmath", "colon_fence", "deflist"]
myst_heading_anchors = 3
nb_execution_mode = "off"  # the notebooks are executed by the test suite and committed with their outputs
nb_merge_streams = True

# the API reference: one page per module, from the docstrings
autosummary_generate = True
autosummary_imported_members = False
autodoc_default_options = {"members": True, "show-inheritance": True}
autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_preserve_defaults = True
napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_custom_sections = [("Rules", "notes_style"), ("Warns", "params_style"), ("Class attributes", "params_style")]

html_theme = "furo"
html_title = "gridlab"
html_static_path: list[str] = []
suppress_warnings = ["myst.header"]  # BENCHMARKS.md, included whole, starts below level 1 in places
autodoc_inherit_docstrings = False  # Gymnasium's own Env.step etc. are written for its site, not ours


def _markdown_headings(app, what, name, obj, options, lines):
    """Class docstrings follow Gymnasium's toy_text envs, with ``## Description``-style sections:
    shown as rubrics (a heading outside the page's outline)."""
    out = []
    for line in lines:
        if line.startswith("## "):
            out += [f".. rubric:: {line[3:].strip()}", ""]
        else:
            out.append(line)
    lines[:] = out


def setup(app):
    app.connect("autodoc-process-docstring", _markdown_headings)
