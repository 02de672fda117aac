"""The documentation site builds with no warning (nitpicky: every cross-reference resolves), its
internal links and anchors all lead somewhere, and the README stays a front door."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"

pytest.importorskip("sphinx", reason="the docs toolchain is the 'docs' extra: make installs it")


def build(source: Path, out: Path) -> subprocess.CompletedProcess:
    """``make docs``'s build: warnings are errors, every reference must resolve."""
    return subprocess.run([sys.executable, "-m", "sphinx", "-b", "html", "-n", "-W", "--keep-going", "-q",
                           "-d", str(out / "doctrees"), str(source), str(out / "html")],
                          capture_output=True, text=True, timeout=600, cwd=ROOT)


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        for key in ("id", "name"):
            if a.get(key):
                self.ids.add(a[key])
        for key in ("href", "src"):
            if a.get(key) and not (tag == "link" and a.get("rel") == "canonical"):
                self.links.append(a[key])


def broken_links(site: Path) -> list[str]:
    """Every relative link or image of the site's pages whose file, or anchor in it, is missing."""
    pages = {p: _Page() for p in site.rglob("*.html")}
    for p, parsed in pages.items():
        parsed.feed(p.read_text(errors="replace"))
    broken = []
    for page, parsed in pages.items():
        for link in parsed.links:
            parts = urlsplit(link)
            if parts.scheme or link.startswith(("//", "data:", "mailto:")):
                continue
            target = (page.parent / unquote(parts.path)).resolve() if parts.path else page
            if target.is_dir():
                target = target / "index.html"
            if not target.exists():
                broken.append(f"{page.relative_to(site)}: {link} (no such file)")
            elif parts.fragment and target.suffix == ".html" and unquote(parts.fragment) not in pages[target].ids:
                broken.append(f"{page.relative_to(site)}: {link} (no such anchor)")
    return broken


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("docs")
    done = build(DOCS, out)
    assert done.returncode == 0, done.stderr[-4000:] + done.stdout[-2000:]
    return out / "html"


def test_the_docs_build_with_no_warning_and_every_internal_link_resolves(site):
    assert not broken_links(site)
    pages = {p.relative_to(site).as_posix() for p in site.rglob("*.html")}
    for page in ("getting-started.html", "concepts/values.html", "concepts/certified-bounds.html",
                 "guides/own-map.html", "guides/sweeps.html", "cli.html", "benchmarks.html",
                 "notebooks/00_quickstart.html", "reference/_generated/gridlab.findings.html"):
        assert page in pages


def test_the_api_reference_holds_every_module_with_its_docstrings(site):
    modules = [".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
               for pkg in ("envs", "agents", "generative", "gridlab") for p in (ROOT / pkg).rglob("*.py")]
    generated = site / "reference" / "_generated"
    missing = [m for m in modules if not m.endswith("__main__") and not (generated / f"{m}.html").exists()]
    assert not missing
    page = (generated / "agents.dp.html").read_text()
    assert 'id="agents.dp.solve"' in page and "certified" in page


def test_the_cli_reference_is_read_from_the_parser(site):
    text = (site / "cli.html").read_text()
    for command in ("gridlab solve", "gridlab world train", "gridlab sweep", "gridlab tune", "gridlab demo"):
        assert f'id="{command.replace(" ", "-")}"' in text
    assert "--hyperparams" in text


def test_the_notebooks_are_rendered_with_their_outputs(site):
    page = (site / "notebooks" / "01_exact_vs_learned.html").read_text()
    assert "What these numbers support" in page and "<img" in page


def test_a_reference_to_a_function_that_does_not_exist_fails_the_build(tmp_path):
    """The site's own settings (docs/conf.py, nitpicky, under ``make docs``'s -n -W) on a one-page site
    (the whole site is built once, above): a reference to a declared function builds, one to a
    renamed function fails, naming it."""
    source = tmp_path / "docs"
    source.mkdir()
    for name in ("conf.py", "cli_reference.py"):
        shutil.copy(DOCS / name, source / name)
    shutil.copytree(DOCS / "_templates", source / "_templates")
    page = "# One page\n\n```{eval-rst}\n.. py:function:: agents.dp.solve(mdp)\n```\n\nSee {func}`agents.dp.solve`.\n"
    (source / "index.md").write_text(page)
    done = build(source, tmp_path / "good")
    assert done.returncode == 0, done.stderr[-4000:]
    (source / "index.md").write_text(page + "\nSee {func}`agents.dp.solve_renamed`.\n")
    done = build(source, tmp_path / "bad")
    assert done.returncode != 0
    assert "agents.dp.solve_renamed" in done.stderr


def test_the_link_check_finds_a_missing_page_and_a_missing_anchor(tmp_path):
    (tmp_path / "a.html").write_text('<p id="here"><a href="b.html">b</a> <a href="a.html#here">ok</a> '
                                     '<a href="a.html#gone">x</a> <img src="_images/x.png"></p>')
    assert broken_links(tmp_path) == ["a.html: b.html (no such file)", "a.html: a.html#gone (no such anchor)",
                                      "a.html: _images/x.png (no such file)"]


def test_the_readme_is_a_front_door():
    readme = (ROOT / "README.md").read_text()
    assert len(readme) <= 10_000, len(readme)
    first_block = re.search(r"```\n(.*?)```", readme, re.S).group(1).splitlines()
    assert first_block[0].startswith("make run ") and first_block[1].startswith("make test ")  # the two commands first
    for link in re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", readme):
        if not urlsplit(link).scheme:
            assert (ROOT / link).exists(), link


def test_ci_runs_the_readmes_test_command_verbatim():
    readme = (ROOT / "README.md").read_text()
    command = re.search(r"```\n(.*?)```", readme, re.S).group(1).splitlines()[1].split("#")[0].strip()
    assert command in (ROOT / ".ci" / "run").read_text().splitlines()


def test_make_bench_runs_every_benchmark_that_benchmarks_md_quotes():
    """BENCHMARKS.md says ``make bench`` runs all of them: every module of ``benchmarks/`` with a
    ``main`` is in the Makefile's bench target, and every command BENCHMARKS.md names is one of them."""
    make = (ROOT / "Makefile").read_text()
    bench = re.search(r"^bench:.*?\n((?:\t.*\n)+)", make, re.M).group(1)
    ran = set(re.findall(r"-m benchmarks\.(\w+)", bench))
    modules = {p.stem for p in (ROOT / "benchmarks").glob("*.py") if "def main(" in p.read_text()}
    assert modules == ran, (modules - ran, ran - modules)
    quoted = set(re.findall(r"python -m benchmarks\.(\w+)", (ROOT / "BENCHMARKS.md").read_text()))
    assert quoted <= ran, quoted - ran
