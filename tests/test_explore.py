"""The interactive explorer: planning step by step (certified at every step), world editing, runs
against the truth, and the page itself in headless Chromium, served on loopback only."""

import os
import re
import shutil
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest

import envs  # noqa: F401
from agents import dp
from envs import GridWorldEnv
from gridlab.explore import Explorer, Planner, RunView, run_kind, serve

SLIPPERY = GridWorldEnv("S...\n.#H.\n...G", slip=0.2, gamma=0.95)
TINY_PPO = {"n_envs": 2, "n_steps": 64, "batch_size": 64, "n_epochs": 2}


def test_each_value_iteration_sweep_is_certified_and_the_residual_never_grows():
    mdp = SLIPPERY.mdp
    V_star = dp.solve(mdp, tol=1e-12).V
    p = Planner(mdp)
    for _ in range(60):
        p.step()
        assert np.max(np.abs(p.V - V_star)) <= p.bound + 1e-12  # the bound is sound at every step
    residuals = [h[1] for h in p.history]
    assert all(b <= a + 1e-15 for a, b in zip(residuals, residuals[1:]))
    assert p.history[1][2] > 1 and p.bound <= 1e-9  # from a loose bound to none left


def test_value_iteration_at_gamma_one_gets_a_finite_sound_bound():
    env = GridWorldEnv("S..\n.#.\n..G", slip=0.2, step_reward=-1.0, goal_reward=0.0, gamma=1.0)
    V_star = dp.solve(env.mdp, tol=1e-12).V
    p = Planner(env.mdp)
    p.step()
    assert p.bound == np.inf or np.max(np.abs(p.V - V_star)) <= p.bound  # no bound may be claimed too early
    for _ in range(200):
        p.step()
    assert np.isfinite(p.bound) and np.max(np.abs(p.V - V_star)) <= p.bound + 1e-12


def test_each_policy_iteration_step_shows_its_policys_exact_value_until_the_policy_is_stable():
    mdp = SLIPPERY.mdp
    p = Planner(mdp, method="policy iteration")
    improved = None  # the arrows shown: the improvement greedy in the last V^pi, evaluated at the next step
    while not p.stable:
        p.step()
        if improved is not None:
            assert np.allclose(p.V, dp.policy_evaluation(mdp, improved), atol=1e-12)
        improved = p.policy.copy()
        assert p.k < 20
    assert p.k >= 2
    assert np.allclose(p.V, dp.solve(mdp, tol=1e-12).V, atol=1e-9) and p.bound <= 1e-9
    k = p.k
    p.step()  # a stable policy stays where it is
    assert p.k == k


@pytest.mark.parametrize("world", envs.ready_made_ids())
def test_every_registered_world_opens_and_solves_to_its_v_star(world):
    app = Explorer(world=world)
    app.solve()
    assert app.planner.bound <= 1e-6 and np.allclose(app.planner.V, app.solution.V, atol=1e-5)


def test_planner_refuses_an_unknown_method():
    with pytest.raises(ValueError, match="unknown planning method 'sarsa'"):
        Planner(SLIPPERY.mdp, method="sarsa")


def test_painting_a_cell_rebuilds_the_exact_model_and_v_star():
    app = Explorer(world="gridlab/OpenRoom-v0")
    before = dp.solve(app.env.mdp).V @ app.env.mdp.initial
    assert f"{before:.6g}" in app.optimum.object
    app.paint(0, 1, "goal")  # a goal next to the start
    after = float(app.env.mdp.initial @ dp.solve(app.env.mdp).V)
    assert after > before and f"{after:.6g}" in app.optimum.object
    assert app.env.layout.rows()[0][1] == "G" and app.planner.k == 0
    app.paint(4, 4, "start")  # the start moves: one start, where it was painted
    assert app.env.state_rc[app.env.start_states].tolist() == [[4, 4]]
    layout = app.env.layout.rows()
    app.slip.value = 0.4
    app.rebuild()
    assert app.env.slip == 0.4 and app.env.layout.rows() == layout


def test_a_world_the_env_refuses_keeps_the_last_one_and_says_why():
    app = Explorer(world="gridlab/OpenRoom-v0")
    env = app.env
    app.paint(0, 0, "wall")  # the only start becomes a wall
    assert app.env is env and "cannot be built" in app.status.object


def test_clicking_a_state_shows_its_q_values_and_exact_successors():
    app = Explorer(world="gridlab/SlipperyLake-v0")
    app.solve()
    s = int(app.env.start_states[0])
    r, c = app.env.state_rc[s]
    app._clicked(int(r), int(c))
    text = app.inspector.object
    assert f"**state {s}**" in text and text.count("| ") >= 4 * 4
    row = app.env.mdp.P[s * 4 + 1]  # action right: its successors and probabilities appear
    for j, q in zip(row.indices, row.data):
        assert f"{int(j)} (" in text and f"{q:.3g}" in text


def test_run_kind_names_what_is_wrong(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        run_kind(tmp_path / "nope")
    with pytest.raises(ValueError, match="holds no model.zip .* and no model.pt"):
        run_kind(tmp_path)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A tiny PPO run on OpenRoom and a tiny VAE world model of a slippery grid."""
    from agents import sb3
    from generative import run

    root = tmp_path_factory.mktemp("explore")
    sb3.train("gridlab/OpenRoom-v0", "ppo", total_timesteps=256, seed=0, hyperparams=TINY_PPO, out_dir=root / "ppo",
              progress_bar=False, device="cpu", eval_freq=128)
    run.train("gridlab/Grid-v0", "vae", env_kwargs={"layout": "S..\n.H.\n..G", "slip": 0.2, "obs_mode": "onehot"},
              samples=3000, steps=300, seed=0, device="cpu", out_dir=root / "vae", progress=False)
    return root / "ppo", root / "vae"


def test_an_agent_run_is_shown_against_its_exact_comparison(runs):
    from agents import sb3
    from agents.compare import compare

    view = RunView(runs[0])
    model, env = sb3.load(runs[0], device="cpu")
    c = compare(model, env)
    assert view.kind == "agent" and view.comparison.return_gap == pytest.approx(c.return_gap, abs=1e-12)
    assert view.visitation.sum() == pytest.approx(1.0) and len(view.curves["timesteps"]) >= 2
    app = Explorer([view], world="gridlab/OpenRoom-v0")
    assert f"return gap **{c.return_gap:.4g}**" in app.agent_tab.metrics.object


def test_a_world_model_run_shows_true_and_modelled_successors_and_rollouts(runs):
    view = RunView(runs[1])
    assert view.kind == "world" and view.tv.shape == (view.env.n_states,)
    true, model = view.successors(0, 1)
    assert true.sum() == pytest.approx(1.0) and model.sum() == pytest.approx(1.0) and true[-1] == 0.0
    roll = view.rollouts(0, horizon=6, n=400)
    assert roll["tv"][0] == 0.0 and np.all((roll["tv"] >= 0) & (roll["tv"] <= 1))
    assert len(roll["imagined"]) == len(roll["real"]) == 7 and roll["real"][0] == 0
    assert roll["tv"].max() < 0.5  # a trained model's imagined states stay near the exact distribution


def _chromium():
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        pytest.skip("no chromium installed (.ci/run installs Debian's chromium)")
    return path


def _wait_until_serving(url):
    for _ in range(100):  # the server's thread is starting
        try:
            urllib.request.urlopen(url, timeout=10).close()
            return
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.2)


def test_the_explorer_page_in_a_headless_browser(runs, tmp_path):
    import psutil
    from playwright.sync_api import sync_playwright

    chromium = _chromium()
    url, server = serve(runs, open_browser=False, world="gridlab/OpenRoom-v0", threaded=True)
    port = int(url.rsplit(":", 1)[1].strip("/"))
    try:
        _wait_until_serving(url)
        listening = [c for c in psutil.net_connections(kind="inet") if c.laddr and c.laddr.port == port
                     and c.status == psutil.CONN_LISTEN]
        assert listening and {c.laddr.ip for c in listening} == {"127.0.0.1"}  # loopback only
        for path in ("etc/passwd", "../../../../etc/passwd", "static/../../../../etc/passwd",
                     f"{runs[0]}/config.json", "ppo/config.json"):
            try:
                with urllib.request.urlopen(url + path, timeout=10) as r:
                    body = r.read().decode(errors="replace")
                    assert "root:" not in body and "hyperparams" not in body, path
            except urllib.error.HTTPError as e:
                assert e.code in (403, 404), (path, e.code)
        errors = []
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox", "--disable-gpu"])
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.on("pageerror", lambda e: errors.append(str(e)))
            outside = []
            page.on("request", lambda r: outside.append(r.url) if r.url.startswith(("http:", "https:"))
                    and not r.url.startswith(url[:-1]) else None)  # nothing from the network (no CDN)
            page.goto(url)
            page.get_by_text("value iteration, k = 0").wait_for(timeout=30_000)
            assert page.title() == "gridlab explorer"
            residuals = []
            for k in (1, 2):
                page.get_by_role("button", name="step", exact=True).click()
                page.get_by_text(f"value iteration, k = {k}").wait_for(timeout=10_000)
                status = page.get_by_text("Bellman residual ||TV - V|| =").inner_text()
                residuals.append(status.split("||TV - V|| = ")[1].split(",")[0])
            assert residuals[0] != residuals[1], residuals  # a sweep changes the residual
            # play: five sweeps a second, until the bound is 0 (8 sweeps: the room's deterministic diameter)
            page.get_by_role("button", name="play", exact=True).click()
            page.get_by_text("value iteration, k = 8").wait_for(timeout=20_000)
            time.sleep(1.0)
            assert page.get_by_text(re.compile(r"value iteration, k = \d+")).inner_text() == "value iteration, k = 8"
            before = page.get_by_text("V*(start) =").inner_text()
            # paint a goal in the cell right of the start (0, 0) of the 5 x 5 room
            page.get_by_role("button", name="goal", exact=True).click()
            page.get_by_text("a click paints: goal").wait_for(timeout=10_000)  # the server has the brush
            canvas = page.locator("canvas").first
            box = canvas.bounding_box()
            cell = box["width"] / 5
            page.mouse.click(box["x"] + 1.5 * cell, box["y"] + 30 + 0.5 * cell)
            page.get_by_text("value iteration, k = 0").wait_for(timeout=10_000)  # the model was rebuilt
            after = page.get_by_text("V*(start) =").inner_text()
            assert after != before, after
            page.get_by_role("button", name="inspect", exact=True).click()
            page.get_by_text("a click inspects a state").wait_for(timeout=10_000)
            page.mouse.click(box["x"] + 0.5 * cell, box["y"] + 30 + 0.5 * cell)  # the start: state 0
            page.get_by_text("(row 0, column 0)").wait_for(timeout=10_000)
            for k in (1, 2, 3):
                page.get_by_role("button", name="step", exact=True).click()
                page.get_by_text(f"value iteration, k = {k}").wait_for(timeout=10_000)
            page.screenshot(path=str(tmp_path / "explorer.png"))
            page.get_by_text("Agent runs", exact=True).click()
            page.get_by_text("return gap").first.wait_for(timeout=10_000)
            assert "normalised score" in page.get_by_text("return gap").first.inner_text()
            page.get_by_text("World-model runs", exact=True).click()
            page.get_by_text("mean TV").first.wait_for(timeout=10_000)
            page.get_by_text("Partial observability", exact=True).click()
            page.get_by_text("step 0: saw start").wait_for(timeout=10_000)
            page.get_by_role("button", name="right", exact=True).click()
            # the first belief compiles the filter's numba kernel (4 s alone here, more on a busy 2-core CI box)
            page.get_by_text(re.compile(r"step 1: saw \S+")).wait_for(timeout=60_000)
            page.screenshot(path=str(tmp_path / "belief.png"))
            browser.close()
        assert errors == [] and outside == []
        if os.environ.get("GRIDLAB_SCREENSHOT"):  # the README's figure is this test's screenshot
            shutil.copy(tmp_path / "explorer.png", Path(__file__).parents[1] / "docs" / "explorer.png")
    finally:
        server.stop()


def test_a_click_run_outside_bokehs_document_lock_still_redraws_the_belief(monkeypatch):
    """Panel runs a click that arrives while another change of the page is pending from a coroutine
    that does not hold Bokeh's document lock; Bokeh then refuses a model changed directly ("_pending_writes
    should be non-None ..."), which once left the POMDP tab's map and status unchanged in the browser
    test. Here every click takes that path."""
    from functools import partial

    from panel.io.state import set_curdoc, state
    from panel.reactive import Syncable
    from playwright.sync_api import sync_playwright

    def scheduled(self, doc, event):  # Panel's own branch for a click queued behind a pending change
        with set_curdoc(doc):
            state.execute(partial(self._event_coroutine, doc, event), schedule=True)

    monkeypatch.setattr(Syncable, "_server_event", scheduled)
    raised = []
    monkeypatch.setattr(state, "_handle_exception", lambda e: raised.append(e))
    chromium = _chromium()
    url, server = serve(open_browser=False, world="gridlab/OpenRoom-v0", threaded=True)
    try:
        _wait_until_serving(url)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox", "--disable-gpu"])
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(url)
            page.get_by_text("Partial observability", exact=True).click()
            page.get_by_text("step 0: saw start").wait_for(timeout=30_000)
            page.get_by_role("button", name="right", exact=True).click()
            page.get_by_text(re.compile(r"step 1: saw \S+")).wait_for(timeout=60_000)
            browser.close()
    finally:
        server.stop()
    assert raised == []


def test_the_belief_tab_steps_a_pomdp_and_draws_the_exact_filter_on_the_grid():
    from gridlab.explore import BeliefWalk, grid_pomdp_ids

    assert grid_pomdp_ids() == ["gridlab/FourRoomsWalls-v0", "gridlab/Maze4x3-v0"]
    assert BeliefWalk("gridlab/Maze4x3-v0").belief.max() == pytest.approx(1 / 9)  # a start spread over nine cells
    app = Explorer(world="gridlab/OpenRoom-v0")
    tab = app.belief_tab
    walk = tab.walk
    acts, obs = [], []
    for name in ("right", "right", "down", "down", "left"):
        tab.act(name)
        acts.append(walk.base.pomdp.actions.index(name))
        obs.append(walk.base.last_observation)
    m = walk.base.pomdp
    exact = m.filter(acts, obs, keep="last")
    np.testing.assert_allclose(walk.belief, exact.beliefs[0, -1], atol=1e-12)
    assert walk.log_prob == pytest.approx(float(exact.log_prob[0]), abs=1e-9)
    assert f"step 5: saw **{walk.observation}**" in tab.status.object
    best = int(np.argmax(walk.belief))
    r, c = walk.grid.state_rc[best]
    cell = r * walk.grid.width + c
    data = tab.map.source.data
    assert data["value"][cell] == f"{walk.belief[best]:.4g}" and "@" not in "".join(data["label"])
    tab.reveal.value = True  # the hidden state appears
    r, c = walk.grid.state_rc[walk.state]
    assert tab.map.source.data["label"][r * walk.grid.width + c].startswith("@")
    tab.new_episode()
    assert walk.steps == 0 and walk.belief.max() == 1.0
    with pytest.raises(ValueError, match="not a gridworld POMDP"):
        BeliefWalk("gridlab/Tiger-v0")


def test_the_command_serves_until_ctrl_c_and_refuses_a_directory_that_is_no_run(tmp_path):
    import signal
    import subprocess
    import sys

    bad = subprocess.run([sys.executable, "-m", "gridlab", "explore", str(tmp_path), "--no-browser"],
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "is not a run directory" in bad.stderr
    proc = subprocess.Popen([sys.executable, "-m", "gridlab", "explore", "--no-browser", "--world", "gridlab/OpenRoom-v0"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        first = proc.stdout.readline()
        assert first.startswith("gridlab explorer at http://127.0.0.1:"), first
        url = first.split(" at ", 1)[1].split()[0]
        for _ in range(100):
            try:
                with urllib.request.urlopen(url, timeout=10) as r:
                    assert r.status == 200
                break
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.2)
        else:
            pytest.fail("the explorer did not answer")
        proc.send_signal(signal.SIGINT)  # Ctrl-C, even where the test runner ignores SIGINT
        out, _ = proc.communicate(timeout=30)
        assert proc.returncode == 0 and "gridlab explorer stopped" in out
    finally:
        if proc.poll() is None:
            proc.kill()


def test_the_explorer_displays_in_a_notebook():
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        "import panel as pn\npn.extension()\nfrom gridlab.explore import Explorer\n"
        "app = Explorer(world='gridlab/CliffWalk-v0')\napp.panel()")])
    NotebookClient(nb, timeout=120, kernel_name="python3").execute()
    outputs = nb.cells[0].outputs
    assert not [o for o in outputs if o.output_type == "error"]
    shown = [o for o in outputs if o.output_type == "execute_result"]
    assert shown and "application/vnd.holoviews_exec.v0+json" in shown[0]["data"]


def test_the_minigrid_tab_draws_v_star_per_cell_and_direction_in_each_situation():
    pytest.importorskip("minigrid", reason="the minigrid extra is not installed (make installs it)")
    from envs.minigrid import exact_model
    from gridlab.explore import MiniGridTab

    tab = MiniGridTab("MiniGrid-DoorKey-5x5-v0", seed=0)
    m = exact_model("MiniGrid-DoorKey-5x5-v0", seed=0)
    x, y, d = m.keys[0][0] % m.width, m.keys[0][0] // m.width, m.keys[0][1]
    assert tab.model.value_grid()[d, y, x] == pytest.approx(m.V_star(0, 0))
    assert "V\\*(s0, 0) = 0.9604" in tab.status.object and tab.figure.object is not None
    options = list(tab.situation.options)
    assert options[0] == "0: door 0: locked" and any("carrying the yellow key" in o for o in options)
    carrying = next(v for k, v in tab.situation.options.items() if "carrying the yellow key" in k)
    tab.situation.value = carrying
    assert "carrying the yellow key" in tab.figure.object.texts[0].get_text()
    tab.t.value = m.max_steps - 2  # two steps left: only states beside the goal keep any value
    grid = tab.model.value_grid(tab.model.situations()[carrying], tab.t.value)
    assert np.nanmax(grid) <= m.success_reward(m.max_steps - 1) + 1e-12
    tab.world.value = "MiniGrid-Empty-Random-5x5-v0"
    assert tab.model.env_id == "MiniGrid-Empty-Random-5x5-v0" and tab.t.value == 0
