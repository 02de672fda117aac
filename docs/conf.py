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
    "sphinx-mathjax-offline",  # MathJax served with the pages: the docs read with no network
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
autodoc_typehints = "description"
autodoc_typehints_description_target = "documented_params"
autodoc_preserve_defaults = False
napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_custom_sections = [("Rules", "notes_style"), ("Class attributes", "params_style")]

html_theme = "furo"
html_title = "gridlab"
html_static_path: list[str] = []
suppress_warnings = ["myst.header"]  # BENCHMARKS.md, included whole, starts below level 1 in places
# every cross-reference must resolve (a renamed function breaks the build), except to the libraries
# the lab builds on, whose inventories would need a network at build time
nitpicky = True
nitpick_ignore_regex = [
    (r"py:.*", r"(numpy|np|torch|gymnasium|gym|scipy|sp|pathlib|stable_baselines3|sb3_contrib|abc|typing|collections"
               r"|numba|ray|optuna|panel|matplotlib|zuko|yaml|argparse)(\..*)?"),
    (r"py:class", r".*\._\w+"),  # private classes in signatures are not documented
    (r"py:class", r"Path|Any|Callable|Iterator"),  # names of the standard library as annotations write them
]
napoleon_attr_annotations = False  # dataclass fields' types are in their signatures already
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
