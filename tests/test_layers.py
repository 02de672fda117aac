"""The packages' arrows point one way: envs <- agents, envs <- generative, gridlab imports all,
nothing imports gridlab; and no module-level import cycle anywhere."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
PACKAGES = ("envs", "agents", "generative", "gridlab")
# what each package may import from the project, besides itself
ALLOWED = {"envs": set(), "agents": {"envs"}, "generative": {"envs"}, "gridlab": {"envs", "agents", "generative"}}


def _module(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, top_level_only: bool) -> set[str]:
    """Project modules ``path`` imports (anywhere in it, or in its top-level statements only)."""
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):  # `if TYPE_CHECKING:` blocks never run: annotations only
        if isinstance(node, ast.If) and ast.unparse(node.test) in ("TYPE_CHECKING", "typing.TYPE_CHECKING"):
            node.body = []
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    if top_level_only:  # statements inside top-level if/try blocks run at import time too
        nodes = [n for stmt in tree.body for n in ast.walk(stmt)
                 if not isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))]
        nodes += [n for stmt in tree.body if isinstance(stmt, ast.ClassDef)
                  for item in stmt.body if not isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef))
                  for n in ast.walk(item)]
    found = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            # "from pkg import sub" imports the submodule (the package itself is already loading)
            subs = {f"{node.module}.{a.name}" for a in node.names} & set(MODULES)
            found |= subs if len(subs) == len(node.names) else subs | {node.module}
    return {m for m in found if m.split(".")[0] in PACKAGES}


FILES = sorted(p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py"))
MODULES = {_module(p): p for p in FILES}


@pytest.mark.parametrize("path", FILES, ids=[_module(p) for p in FILES])
def test_no_module_imports_a_higher_layer(path):
    package = _module(path).split(".")[0]
    wrong = sorted(m for m in _imports(path, top_level_only=False)
                   if m.split(".")[0] != package and m.split(".")[0] not in ALLOWED[package])
    assert not wrong, f"{_module(path)} imports {wrong}"


# planning needs numpy, scipy and numba only; learning (SB3, torch) sits beside it, never under it
PLANNING = ("agents.dp", "agents.ssp", "agents.gauss_seidel", "agents.topological", "agents.solvers")
LEARNING_LIBRARIES = ("torch", "stable_baselines3", "sb3_contrib", "agents.sb3", "agents.compare", "agents.callbacks",
                      "agents.algos")


@pytest.mark.parametrize("module", PLANNING)
def test_planning_never_imports_learning(module):
    tree = ast.parse(MODULES[module].read_text())
    names = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    names |= {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    assert not {m for m in names if m.split(".")[0] in LEARNING_LIBRARIES or m in LEARNING_LIBRARIES}


def _find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """A cycle of the directed graph as a path that ends where it starts, or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(m: str, path: list[str]) -> list[str] | None:
        state[m] = 1
        for n in sorted(graph[m]):
            if state.get(n) == 1:
                return path[path.index(n):] + [n]
            if n not in state and (cycle := visit(n, path + [n])):
                return cycle
        state[m] = 2
        return None

    for m in sorted(graph):
        if m not in state and (cycle := visit(m, [m])):
            return cycle
    return None


def test_no_import_cycle_at_import_time():
    graph = {m: {i for i in _imports(p, top_level_only=True) if i in MODULES and i != m} for m, p in MODULES.items()}
    assert _find_cycle(graph) is None, " -> ".join(_find_cycle(graph))


def test_no_import_cycle_even_through_imports_inside_functions():
    """A lazy import only hides a cycle: the two modules still cannot be understood apart."""
    graph = {m: {i for i in _imports(p, top_level_only=False) if i in MODULES and i != m} for m, p in MODULES.items()}
    assert _find_cycle(graph) is None, " -> ".join(_find_cycle(graph))


def test_the_layer_check_catches_a_violation(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("def f():\n    from gridlab import report\n")
    assert _imports(bad, top_level_only=False) == {"gridlab.report"}
    assert _imports(bad, top_level_only=True) == set()  # a lazy import cannot form an import-time cycle
    typed = tmp_path / "typed.py"
    typed.write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from gridlab import report\n")
    assert _imports(typed, top_level_only=False) == set()
    assert _find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]
    assert _find_cycle({"a": {"b"}, "b": set()}) is None


def test_no_source_file_has_an_invalid_escape_sequence():
    """A ``\\p`` in a plain docstring warns today (DeprecationWarning in 3.11, SyntaxWarning from 3.12)
    and is to become a SyntaxError."""
    import warnings

    bad = []
    for folder in (*PACKAGES, "benchmarks", "tests", "docs", "notebooks"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                compile(path.read_text(), str(path), "exec")
            bad += [f"{path.relative_to(ROOT)}:{w.lineno}: {w.message}" for w in caught
                    if issubclass(w.category, (SyntaxWarning, DeprecationWarning))]
    assert bad == [], bad
