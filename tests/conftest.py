import os
import shutil
import warnings
from pathlib import Path

import pytest

import matplotlib

matplotlib.use("Agg")
os.environ.setdefault("MPLBACKEND", "Agg")

import torch  # noqa: E402

torch.set_num_threads(1)  # the suite is an entry point: small MLPs run fastest on one thread

import envs  # noqa: E402,F401  (registers the suite)
from envs import ready_made_ids  # noqa: E402

# every registered id that builds with no further argument
SUITE_IDS = ready_made_ids()
GRID_KW = {"layout": "S..#\n.H..\n...G", "slip": 0.1}


@pytest.fixture(scope="session")
def ray_session():
    """One local Ray instance for the whole suite (starting one costs ~10 s here), stopped at the end."""
    import ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield ray
    ray.shutdown()


# `make test` runs the suite under pytest-xdist, one worker per core. A module-scoped fixture (a
# sweep, the demo, the docs site) is built by each worker that runs a test using it, so a module that
# defines one is sent to a single worker whole; every other test is scheduled on its own.
@pytest.hookimpl(optionalhook=True)  # a hook of pytest-xdist, absent when it is not installed
def pytest_xdist_make_scheduler(config, log):
    from xdist.scheduler import LoadScopeScheduling

    # read here, by xdist's controller only: a plain run and the workers never need it
    shared = {p.name for p in Path(__file__).parent.glob("test_*.py") if 'scope="module"' in p.read_text()}

    class WholeModulesWhereShared(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            module = nodeid.split("::", 1)[0]
            return module if Path(module).name in shared else nodeid

    return WholeModulesWhereShared(config, log)


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture
def open_in_chromium():
    """``open_in_chromium(path)`` loads an HTML file in headless Chromium and returns what a reader
    would see wrong: console errors, image natural widths, how much each image is scaled down, the
    table cells that wrap, and the page title. Skips (with a warning) where Chromium is absent."""
    if CHROMIUM is None:
        warnings.warn("no chromium on this machine: a report's browser test is SKIPPED")
        pytest.skip("no chromium installed (.ci/run installs Debian's chromium)")
    from playwright.sync_api import sync_playwright

    def open_page(path):
        errors = []
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=[
                "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync"])
            page = browser.new_page()
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(path.as_uri())
            page.wait_for_load_state("load")
            seen = {
                "errors": errors,
                "widths": page.eval_on_selector_all("img", "imgs => imgs.map(i => i.complete ? i.naturalWidth : 0)"),
                "shrink": page.eval_on_selector_all("img", "imgs => imgs.map(i => i.naturalWidth / i.clientWidth)"),
                # a cell on one line is no taller than its line height plus its padding
                "wrapped": page.eval_on_selector_all("td", """tds => tds.filter(td => {
                    const s = getComputedStyle(td);
                    return td.clientHeight > 1.5 * parseFloat(s.lineHeight) + parseFloat(s.paddingTop) + parseFloat(s.paddingBottom);
                }).map(td => td.textContent)"""),
                "title": page.title(),
            }
            browser.close()
        return seen

    return open_page
