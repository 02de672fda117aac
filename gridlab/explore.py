"""``gridlab explore``: a world to edit, its Bellman backups step by step, and runs seen against the truth.

Built on Panel (a Bokeh server): the same app is served standalone by :func:`serve` (on 127.0.0.1
only, a free port, stopped with Ctrl-C) and shown in a notebook by ``Explorer().panel()`` (after
``pn.extension()``). Every control is a Python callback on the exact model: nothing here is a
second copy of the dynamics, and no web code is hand-written.

Five tabs:

- **World and planning**: pick a registered world or edit the grid by clicking (walls, start,
  goal, holes, one-way doors); sliders for slip, gamma and the rewards rebuild ``GridWorldEnv``'s
  exact model at once. Step value iteration sweep by sweep (or play it) and watch V, the greedy
  arrows, the Bellman residual :math:`\\lVert TV - V \\rVert_\\infty` and the certified bound on
  :math:`\\lVert V - V^* \\rVert_\\infty` (``agents.dp.certify``) shrink; or step policy iteration
  and see each policy's exact :math:`V^\\pi`. Click a state to see its Q-values and where each
  action leads (the exact successor distribution).
- **Agent runs** (``gridlab train`` or sweep trial directories): :math:`V^*`, the exact
  :math:`V^\\pi` of the agent's policy, its critic and the critic's error, the policy's exact
  discounted visitation, return gap and agreement (``agents.compare``), and the exact learning curves.
- **World-model runs** (``gridlab world train`` directories): per-state TV and hallucinated mass
  (``generative.score``), the true against the model's successor distribution of a clicked
  (state, action), and imagined against real rollouts from a clicked state under one common
  action sequence, with the exact TV of the imagined state distribution at each step.
- **Partial observability**: step a gridworld POMDP (``gridlab/FourRoomsWalls-v0``: four noisy wall
  sensors) by hand and watch the exact belief (the forward filter, :class:`BeliefWalk`) spread and
  sharpen over the grid after each observation, with the hidden state shown or hidden.
- **MiniGrid** (the minigrid extra): a Farama MiniGrid layout's exact :math:`V^*(s, t)` under
  MiniGrid's own objective, one map per direction the agent faces, in any situation the world can
  reach (carrying the key, the door open...) and at any time step (:class:`MiniGridTab`).
"""

from __future__ import annotations

import socket
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import numpy as np

from agents import dp
from envs import GridWorldEnv, ready_made_ids
from envs.gridworld import ACTIONS, ARROWS
from envs.layouts import FLOOR, GOAL, HOLE, ONE_WAY_CHARS, START, WALL
from envs.pixels import CELL_COLOURS

__all__ = ["Planner", "Explorer", "RunView", "BeliefWalk", "run_kind", "serve", "free_port", "BRUSHES", "METHODS",
           "grid_pomdp_ids", "MiniGridTab", "minigrid_value_figure", "MINIGRID_WORLDS"]

MINIGRID_WORLDS = ("MiniGrid-DoorKey-5x5-v0", "MiniGrid-Empty-Random-5x5-v0", "MiniGrid-Unlock-v0",
                   "MiniGrid-KeyCorridorS3R1-v0", "MiniGrid-LavaCrossingS9N1-v0", "MiniGrid-FourRooms-v0",
                   "MiniGrid-DoorKey-8x8-v0", "MiniGrid-Dynamic-Obstacles-5x5-v0")

METHODS = ("value iteration", "policy iteration")
# what a click on a cell paints: the layout's own characters, plus "inspect" (show the state's Q-values)
BRUSHES = {"inspect": None, "wall": WALL, "floor": FLOOR, "start": START, "goal": GOAL, "hole": HOLE,
           **{f"one-way {ARROWS[d]}": ch for d, ch in enumerate(ONE_WAY_CHARS)}}


# ---------------------------------------------------------------------- partial observability, by hand
def grid_pomdp_ids() -> list[str]:
    """The registered POMDP ids whose model is a gridworld (its ``info`` has ``layout`` and ``state_rc``)."""
    import gymnasium as gym

    from envs import POMDP_SUITE

    return [i for i in POMDP_SUITE if "layout" in gym.make(i).unwrapped.pomdp.info]


class BeliefWalk:
    r"""A gridworld POMDP stepped by hand, its exact belief kept after every step.

    After action :math:`a` and observation :math:`o`,
    :math:`b'(s') \propto O(o \mid s', a) \sum_s T(s' \mid s, a)\, b(s)`: the env's own
    ``belief`` (the forward filter on the episode's history). ``grid`` is the hidden
    :class:`~envs.gridworld.GridWorldEnv` the belief is drawn on.

    Arguments:
        world: a registered gridworld POMDP id (:func:`grid_pomdp_ids`).
        seed: seeds the hidden start state, the slips and the sensors.

    Example:
        >>> walk = BeliefWalk("gridlab/FourRoomsWalls-v0", seed=0)
        >>> float(walk.belief.max())  # the start cell is known
        1.0
        >>> seen = walk.act("right")  # a slip may have moved it elsewhere: the belief spreads
        >>> int((walk.belief > 0).sum()) > 1, round(float(walk.belief.sum()), 9)
        (True, 1.0)
    """

    def __init__(self, world: str, seed: int = 0) -> None:
        import gymnasium as gym

        from envs.pomdp_env import POMDPEnv

        self.env = gym.make(world)
        base = self.env.unwrapped
        if not isinstance(base, POMDPEnv) or "layout" not in base.pomdp.info:
            raise ValueError(f"{world!r} is not a gridworld POMDP; expected one of {', '.join(grid_pomdp_ids())}")
        self.base, self.world = base, world
        rows = list(base.pomdp.info["layout"])
        if not any(START in row for row in rows):  # a start belief spread over cells (the 4x3 maze): the grid
            r = next(i for i, row in enumerate(rows) if FLOOR in row)  # needs an 'S' to be built (the map labels it S)
            rows[r] = rows[r].replace(FLOOR, START, 1)
        self.grid = GridWorldEnv("\n".join(rows))
        if not np.array_equal(self.grid.state_rc, np.asarray(base.pomdp.info["state_rc"])):
            raise ValueError(f"{world!r}: its states are not numbered as its layout's grid numbers them")
        self.reset(seed)

    def reset(self, seed: int | None = None) -> None:
        """A new episode: the hidden state drawn from :math:`b_0`, the belief :math:`b_0`."""
        self.env.reset(seed=seed)
        self.steps, self.total, self.log_prob, self.done = 0, 0.0, 0.0, False
        self.observation = "start"

    @property
    def belief(self) -> np.ndarray:
        """The exact belief over hidden states."""
        return self.base.belief

    @property
    def state(self) -> int:
        """The hidden state (shown only when asked)."""
        return self.base.state

    def act(self, action: int | str) -> str:
        """Take an action (index or name), return the observation's name; the belief follows it."""
        names = self.base.pomdp.actions
        a = names.index(action) if isinstance(action, str) else int(action)
        if self.done:
            raise ValueError("the episode is over: reset it")
        b = self.belief
        _, reward, terminated, truncated, _ = self.env.step(a)
        o = self.base.last_observation
        self.log_prob += float(np.log(self.base.pomdp.predict(b, a) @ self.base.pomdp.O[a][:, o]))
        self.steps, self.total, self.done = self.steps + 1, self.total + reward, terminated or truncated
        self.observation = self.base.observation_names[o]
        return self.observation


# ---------------------------------------------------------------------- planning, step by step
class Planner:
    r"""Value or policy iteration on an exact model, one step at a time, certified at every step.

    Value iteration: :math:`V_{k+1}(s) = \max_a R(s,a) + \gamma \sum_{s'} P(s'|s,a) V_k(s')` from
    :math:`V_0 = 0`. Policy iteration: :math:`\pi_{k+1}` greedy in :math:`Q^{\pi_k}`, each policy
    evaluated exactly (``agents.dp.policy_iteration`` capped at k improvements, so gamma = 1 starts
    from a policy that terminates, as there). ``policy`` is greedy in V: for policy iteration the
    improved policy :math:`\pi_{k+1}`, whose value the next step shows. After each step ``residual`` is
    :math:`\lVert TV - V \rVert_\infty` and ``bound`` the certified bound on
    :math:`\lVert V - V^* \rVert_\infty` (``agents.dp.certify``; inf where none can be proved).

    Arguments:
        mdp: the model (``GridWorldEnv(...).mdp``).
        gamma: the discount; defaults to the model's.
        method: one of ``METHODS``.

    Example:
        >>> p = Planner(GridWorldEnv("S.G", gamma=0.9).mdp)
        >>> p.step(); p.step()
        >>> p.k, round(float(p.V[0]), 3), p.bound
        (2, 0.9, 0.0)
    """

    def __init__(self, mdp: Any, gamma: float | None = None, method: str = "value iteration") -> None:
        if method not in METHODS:
            raise ValueError(f"unknown planning method {method!r}; expected one of {METHODS}")
        self.mdp, self.gamma, self.method = mdp, dp.check_gamma(mdp, gamma), method
        self.reset()

    def reset(self) -> None:
        """Back to k = 0 and V = 0 (for policy iteration: before any policy is evaluated)."""
        self.k = 0
        self.history: list[tuple[int, float, float]] = []  # (k, residual, bound)
        self.error: str | None = None
        self.stable = False
        self._set(np.zeros(self.mdp.n_states))

    def _set(self, V: np.ndarray, policy: np.ndarray | None = None) -> None:
        self.V = V
        self.Q, self.residual, self.bound = dp.certify(self.mdp, V, self.gamma)
        self.policy = dp.greedy_policy(self.Q) if policy is None else policy
        self.history.append((self.k, self.residual, self.bound))

    def step(self) -> None:
        """One value-iteration sweep, or one more policy improvement with its exact evaluation."""
        if self.error is not None or self.stable:
            return
        self.k += 1
        if self.method == "value iteration":
            self._set(self.Q.max(axis=1))
            return
        with warnings.catch_warnings():  # the cap is the point here: no "max_iter reached" warning
            warnings.simplefilter("ignore")
            try:
                sol = dp.policy_iteration(self.mdp, self.gamma, max_iter=self.k)
            except ValueError as e:  # gamma = 1 and a world where no policy has a finite total reward
                self.error = str(e)
                return
        self.stable = bool(sol.converged)  # the policy no longer changes: V is V*
        self._set(sol.V, sol.policy)


# ---------------------------------------------------------------------- runs
def run_kind(run_dir: str | Path) -> str:
    """``"agent"`` for a directory with ``model.zip`` (``gridlab train``, a sweep's trial), ``"world"``
    for one with ``model.pt`` (``gridlab world train``).

    Raises:
        ValueError: the directory does not exist or holds neither.
    """
    path = Path(run_dir)
    if not path.is_dir():
        raise ValueError(f"run directory {str(run_dir)!r} does not exist")
    if (path / "model.zip").is_file():
        return "agent"
    if (path / "model.pt").is_file():
        return "world"
    raise ValueError(f"{str(run_dir)!r} is not a run directory: it holds no model.zip (an agent run) "
                     "and no model.pt (a world-model run)")


class RunView:
    """What the explorer shows of one run, computed once from its files and the exact model.

    Agent runs: ``comparison`` (``agents.compare.compare``), ``visitation`` (the policy's exact
    normalised discounted visitation) and ``curves`` (``exact_eval.csv``: the exact metrics during
    training). World-model runs: ``model`` and ``score`` (``generative.score``, or the run's saved
    ``score.json``), ``tv`` and ``hallucinated`` per state (means over the state's actions).

    Arguments:
        run_dir: an agent or world-model run directory (see :func:`run_kind`).
        n_samples: world models: samples per (state, action) when no ``score.json`` is saved.
    """

    def __init__(self, run_dir: str | Path, n_samples: int = 500) -> None:
        self.path = Path(run_dir).resolve()
        self.kind = run_kind(self.path)
        self.name = self.path.name
        if self.kind == "agent":
            self._load_agent()
        else:
            self._load_world(n_samples)

    def _load_agent(self) -> None:
        import csv

        from agents import sb3
        from agents.compare import compare, discounted_visitation

        from envs.pomdp_env import POMDPEnv

        model, env = sb3.load(self.path, device="cpu")
        if isinstance(env.unwrapped, POMDPEnv):
            raise ValueError(f"{str(self.path)!r} is an agent run on a POMDP ({model.config['env_id']}): the explorer "
                             "shows fully observed runs; gridlab compare judges this one against its certified bounds")
        self.comparison = c = compare(model, env)
        self.env = c.env
        self.visitation = discounted_visitation(c.env.mdp, c.pi, c.gamma)
        self.curves: dict[str, list[float]] = {}
        if (self.path / "exact_eval.csv").is_file():
            with (self.path / "exact_eval.csv").open() as f:
                for row in csv.DictReader(f):
                    for key, value in row.items():
                        self.curves.setdefault(key, []).append(float(value))

    def _load_world(self, n_samples: int) -> None:
        import json

        from generative import run, score
        from generative.plotting import per_state

        self.model, _ = run.load(self.path)
        self.env = self.model.env
        saved = self.path / "score.json"
        self.score = json.loads(saved.read_text()) if saved.is_file() else score(
            self.model, n_samples=n_samples, horizon=10, n_rollouts=500)
        S = self.env.n_states
        self.tv = per_state(self.score, "tv", S)
        self.hallucinated = per_state(self.score, "hallucinated_mass", S)

    def successors(self, s: int, a: int, n: int = 2000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """World models: the true :math:`P(\\cdot|s,a)` and the model's empirical one from ``n``
        samples, each over the S states then "no state" (length S + 1)."""
        import torch

        from generative.scoring import state_histogram, true_rows

        env = self.env
        obs = env.encode_batch(np.full(n, s), np.random.default_rng(seed))
        nxt = self.model.sample_next(obs, np.full(n, a), generator=torch.Generator().manual_seed(seed))
        return true_rows(env.mdp, np.array([[s, a]]))[0], state_histogram(env.decode_batch(nxt), env.n_states)

    def rollouts(self, s: int, horizon: int = 10, n: int = 500, seed: int = 0) -> dict[str, np.ndarray]:
        """World models: imagined and real rollouts from ``s`` under one common action sequence.

        The actions are drawn once, uniformly (seeded), and every rollout, imagined or real, takes
        them: the random numbers the two share. Returns ``actions (H,)``, one ``imagined`` and one
        ``real`` state path ``(H+1,)`` (-1: no state), and ``tv (H+1,)``: the total variation
        between the state distribution of ``n`` imagined rollouts at each step and the exact one
        (the true model pushed forward along the actions; "no state" counts as its own outcome).
        """
        from generative.metrics import tv
        from generative.scoring import state_histogram

        env, mdp = self.env, self.env.mdp
        S, A = mdp.n_states, mdp.n_actions
        rng = np.random.default_rng(seed)
        actions = rng.integers(A, size=horizon)
        step = iter(range(horizon))

        def policy(obs: np.ndarray) -> np.ndarray:
            return np.full(len(obs), actions[next(step)])

        imagined = self.model.rollout(env.encode_batch([s], rng)[0], policy, horizon, n=n, seed=seed)["states"]
        real = [s]
        exact = np.zeros(S + 1)  # terminal states are absorbing: their rows are self-loops
        exact[s] = 1.0
        distance = [float(tv(exact, state_histogram(imagined[:, 0], S)))]
        for t, a in enumerate(actions, start=1):
            P_a = mdp.P[np.arange(S) * A + a].toarray()
            real.append(int(rng.choice(S, p=P_a[real[-1]])))
            exact[:S] = exact[:S] @ P_a
            distance.append(float(tv(exact, state_histogram(imagined[:, t], S))))
        return {"actions": actions, "imagined": imagined[0], "real": np.array(real), "tv": np.array(distance)}


# ---------------------------------------------------------------------- drawing
def _hex(rgb: Sequence[int]) -> str:
    return "#%02x%02x%02x" % tuple(int(c) for c in rgb)


def _colours(values: np.ndarray, low: float, high: float, palette: Sequence[str]) -> list[str]:
    span = high - low if high > low else 1.0
    idx = np.clip(((values - low) / span * (len(palette) - 1)).round(), 0, len(palette) - 1).astype(int)
    return [palette[i] for i in idx]


class GridMap:
    """A world's grid drawn cell by cell (Bokeh): each state's value as a colour (goals, holes and
    walls in their own colours), a label per cell (greedy arrows, or a value), hover tooltips, and
    clicks reported to ``on_click(row, col)``.

    Arguments:
        title: the figure's title.
        on_click: called with the clicked cell's (row, column); None: clicks do nothing.
        diverging: colour values on a diverging palette centred on 0 (errors) instead of Viridis.
        size_px: the larger side of the figure, in pixels.
        palette: colours from low to high, instead of Viridis (a probability reads best from white).
    """

    def __init__(self, title: str, on_click: Callable[[int, int], None] | None = None, diverging: bool = False,
                 size_px: int = 360, palette: Sequence[str] | None = None) -> None:
        import panel as pn
        from bokeh.palettes import RdBu11, Viridis256

        self.title, self.on_click, self.size_px = title, on_click, size_px
        self.palette = list(reversed(RdBu11)) if diverging else list(palette or Viridis256)
        self.diverging = diverging
        self.pane = pn.pane.Bokeh(sizing_mode="fixed")
        self.env: GridWorldEnv | None = None

    def set_world(self, env: GridWorldEnv) -> None:
        """Draw a new grid (its shape may differ from the last one's). The figure is made once and
        then resized: a figure replaced in a live page would lose its click events."""
        self.env = env
        H, W = env.height, env.width
        cell = max(12, self.size_px // max(H, W))
        rows, cols = np.divmod(np.arange(H * W), W)
        data = {"x": cols + 0.5, "y": H - rows - 0.5, "row": rows, "col": cols, "colour": ["#ffffff"] * (H * W),
                "label": [""] * (H * W), "value": [""] * (H * W), "state": [""] * (H * W)}
        with _editing_bokeh():
            if not hasattr(self, "fig"):
                self._make_figure(data)
            else:
                self.source.data = data
            self.fig.x_range.end, self.fig.y_range.end = W, H
            self.fig.width, self.fig.height = W * cell, H * cell + 30
            self.label_glyph.text_font_size = f"{max(8, cell // 2)}px"

    def _make_figure(self, data: dict[str, Any]) -> None:
        from bokeh import events
        from bokeh.models import ColumnDataSource, HoverTool
        from bokeh.plotting import figure

        self.source = ColumnDataSource(data)
        fig = figure(title=self.title, x_range=(0, 1), y_range=(0, 1), tools="", toolbar_location=None,
                     min_border=0, min_border_top=30)  # the title's strip
        fig.axis.visible = False
        fig.grid.visible = False
        fig.outline_line_color = None
        fig.rect("x", "y", 1, 1, source=self.source, fill_color="colour", line_color="#dddddd")
        self.label_glyph = fig.text("x", "y", text="label", source=self.source, text_align="center",
                                    text_baseline="middle", text_color="#111111").glyph
        fig.add_tools(HoverTool(tooltips=[("cell", "(@row, @col)"), ("state", "@state"), ("value", "@value")]))
        if self.on_click is not None:
            fig.on_event(events.Tap, lambda e: self._tap(e.x, e.y))
        self.fig = fig
        self.pane.object = fig

    def _tap(self, x: float | None, y: float | None) -> None:
        if x is None or y is None or self.env is None:
            return
        r, c = self.env.height - 1 - int(np.floor(y)), int(np.floor(x))
        if 0 <= r < self.env.height and 0 <= c < self.env.width:
            self.on_click(r, c)

    def show(self, values: np.ndarray | None = None, labels: Sequence[str] | None = None,
             low: float | None = None, high: float | None = None) -> None:
        """Colour the floor by ``values`` (one per state; None: by cell kind) and write ``labels``
        (one per state) in the cells. Goals, holes and walls keep their own colours."""
        env = self.env
        grid = env.layout.grid.ravel()
        colour = [_hex(CELL_COLOURS.get(ch, CELL_COLOURS[FLOOR])) for ch in grid]
        label = [ch if ch in (GOAL, HOLE, START) + tuple(ONE_WAY_CHARS) and labels is None else "" for ch in grid]
        shown = [""] * grid.size
        states = [""] * grid.size
        flat = env.state_rc[:, 0] * env.width + env.state_rc[:, 1]
        for s, i in enumerate(flat):
            states[i] = str(s)
        if values is not None:
            v = np.asarray(values, dtype=float)
            finite = v[np.isfinite(v)]
            if self.diverging:
                top = float(np.max(np.abs(finite), initial=0.0)) or 1.0
                low, high = (-top if low is None else low), (top if high is None else high)
            else:
                low = float(finite.min(initial=0.0)) if low is None else low
                high = float(finite.max(initial=0.0)) if high is None else high
            painted = _colours(np.nan_to_num(v), low, high, self.palette)
            for s, i in enumerate(flat):
                if grid[i] not in (GOAL, HOLE):
                    colour[i] = painted[s]
                shown[i] = f"{v[s]:.4g}"
        if labels is not None:
            for s, i in enumerate(flat):
                label[i] = grid[i] if grid[i] in (GOAL, HOLE) else (START if grid[i] == START else "") + labels[s]
        with _editing_bokeh():
            self.source.data.update({"colour": colour, "label": label, "value": shown, "state": states})


@contextmanager
def _editing_bokeh() -> Iterator[None]:
    """Change Bokeh models directly (a :class:`GridMap`'s source and figure) from any callback.

    Panel runs a click that arrives while another change of the page is pending from a coroutine
    that does not hold Bokeh's document lock, and Bokeh refuses a model changed there ("_pending_writes
    should be non-None ..."). ``pn.io.unlocked`` holds the document's events and writes them to the
    page itself, locked or not; outside a served page it does nothing."""
    import panel as pn

    with pn.io.unlocked():
        yield


def _line_figure(title: str, y_label: str, log: bool = False, width: int = 420, height: int = 240) -> Any:
    from bokeh.plotting import figure

    fig = figure(title=title, width=width, height=height, y_axis_type="log" if log else "linear",
                 tools="pan,wheel_zoom,reset", toolbar_location="right")
    fig.yaxis.axis_label = y_label
    return fig


# ---------------------------------------------------------------------- the app
def _check_world(world: str) -> None:
    ids = ready_made_ids()
    if world not in ids:
        raise ValueError(f"unknown world {world!r}; expected one of {ids}")


def _world_settings(world_id: str) -> dict[str, Any]:
    import gymnasium as gym

    env = gym.make(world_id).unwrapped
    if not isinstance(env, GridWorldEnv):
        raise ValueError(f"{world_id!r} is not a gridlab grid world")
    return {"layout": [list(row) for row in env.layout.rows()], "slip": env.slip, "gamma": env.mdp.gamma,
            "step_reward": env.step_reward, "goal_reward": env.goal_reward, "hole_reward": env.hole_reward}


def _fmt(x: float) -> str:
    return "inf" if not np.isfinite(x) else f"{x:.3g}"


class Explorer:
    """The explorer's app: one per browser session (or notebook cell), its runs loaded once.

    Arguments:
        runs: agent and world-model run directories (or :class:`RunView` objects already loaded).
        world: the registered grid world the planning tab opens with.

    Example:
        >>> app = Explorer(world="gridlab/OpenRoom-v0")
        >>> app.planner.step(); app.planner.k
        1
    """

    def __init__(self, runs: Sequence[str | Path | RunView] = (), world: str = "gridlab/FourRooms-v0") -> None:
        import panel as pn

        self.runs = [r if isinstance(r, RunView) else RunView(r) for r in runs]
        _check_world(world)
        w = pn.widgets
        self.world = w.Select(label="world", options=ready_made_ids(), value=world, width=230)
        self.brush = w.RadioButtonGroup(label="click paints", options=list(BRUSHES), value="inspect",
                                        orientation="vertical")
        self.slip = w.FloatSlider(label="slip", start=0.0, end=1.0, step=0.05, width=230)
        self.gamma = w.FloatSlider(label="gamma", start=0.5, end=1.0, step=0.005, width=230)
        self.step_reward = w.FloatSlider(label="step reward", start=-2.0, end=0.0, step=0.05, width=230)
        self.goal_reward = w.FloatSlider(label="goal reward", start=0.0, end=10.0, step=0.5, width=230)
        self.hole_reward = w.FloatSlider(label="hole reward", start=-10.0, end=0.0, step=0.5, width=230)
        self.method = w.Select(label="method", options=list(METHODS), value=METHODS[0], width=230)
        self.step_button = w.Button(label="step")
        self.play_button = w.Toggle(label="play")
        self.solve_button = w.Button(label="solve")
        self.reset_button = w.Button(label="reset")
        self.status = pn.pane.Markdown("", sizing_mode="stretch_width")
        self.optimum = pn.pane.Markdown("")
        self.inspector = pn.pane.Markdown("Click a state (brush: inspect) to see its Q-values and successors.",
                                          width=380)
        self.values_map = GridMap("V (colour) and greedy actions", on_click=self._clicked)
        self.history = pn.pane.Bokeh()
        self._loading = False
        self._periodic = None
        self.selected: int | None = None

        self.brush_note = pn.pane.Markdown("a click inspects a state")  # the server's brush: feedback it arrived
        self.brush.param.watch(lambda e: setattr(self.brush_note, "object", "a click inspects a state" if e.new == "inspect"
                                                 else f"a click paints: {e.new}"), "value")
        self.world.param.watch(lambda e: self.load_world(e.new), "value")
        for slider in (self.slip, self.gamma, self.step_reward, self.goal_reward, self.hole_reward):
            slider.param.watch(lambda e: self.rebuild(), "value_throttled")
        self.method.param.watch(lambda e: self.replan(), "value")
        self.step_button.on_click(lambda e: self.step())
        self.solve_button.on_click(lambda e: self.solve())
        self.reset_button.on_click(lambda e: self.replan())
        self.play_button.param.watch(lambda e: self.play(e.new), "value")
        self.load_world(world)
        self.agent_tab = AgentTab(self.runs)
        self.world_model_tab = WorldModelTab(self.runs)
        self.belief_tab = BeliefTab()
        self.minigrid_tab = MiniGridTab()

    # ------------------------------------------------------------------ world
    def load_world(self, world_id: str) -> None:
        """Open a registered world: its layout and parameters into the controls, then rebuild."""
        settings = _world_settings(world_id)
        self.layout = settings.pop("layout")
        self._loading = True
        try:
            for name, value in settings.items():
                slider = getattr(self, name)
                slider.start, slider.end = min(slider.start, value), max(slider.end, value)
                slider.value = value
        finally:
            self._loading = False
        self.rebuild()

    def paint(self, row: int, col: int, brush: str) -> None:
        """Set the cell at (row, col) to ``brush`` (a name of ``BRUSHES``), then rebuild the model.
        Painting the start moves it: the old start becomes floor."""
        ch = BRUSHES[brush]
        if ch is None:
            return
        if ch == START:
            self.layout = [[FLOOR if c == START else c for c in line] for line in self.layout]
        self.layout[row][col] = ch
        self.rebuild()

    def rebuild(self) -> None:
        """The exact model of the current layout and parameters (``GridWorldEnv``), solved exactly
        for V*, and the planner restarted on it. A layout the env refuses keeps the last world."""
        if self._loading:
            return
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                env = GridWorldEnv(["".join(line) for line in self.layout], slip=self.slip.value,
                                   gamma=self.gamma.value, step_reward=self.step_reward.value,
                                   goal_reward=self.goal_reward.value, hole_reward=self.hole_reward.value)
            except ValueError as e:
                self.status.object = f"**That world cannot be built:** {e}"
                return
        self.env = env
        self.notes = [str(w.message) for w in caught]
        try:
            self.solution = dp.solve(env.mdp)
            start = float(env.mdp.initial @ self.solution.V)
            self.optimum.object = (f"**V\\*(start) = {start:.6g}** (exact: `dp.solve`, {self.solution.method}, "
                                   f"certified bound {_fmt(self.solution.error_bound)})")
        except ValueError as e:  # gamma = 1 and no finite optimum
            self.solution = None
            self.optimum.object = f"**No V\\*:** {e}"
        self.values_map.set_world(env)
        self.selected = None
        self.replan()

    # ------------------------------------------------------------------ planning
    def replan(self) -> None:
        """Start the chosen method again from k = 0 on the current model."""
        self.planner = Planner(self.env.mdp, self.gamma.value, self.method.value)
        self.refresh()

    def step(self) -> None:
        """One sweep of value iteration, or one policy improvement (policy iteration)."""
        self.planner.step()
        self.refresh()

    def solve(self, tol: float = 1e-6, max_steps: int = 100_000) -> None:
        """Step until the certified bound is at most ``tol`` (or the policy is stable)."""
        p = self.planner
        while p.bound > tol and not p.stable and p.error is None and p.k < max_steps:
            p.step()
        self.refresh()

    def play(self, on: bool) -> None:
        """Step five times a second until stopped, the bound is 1e-6 or the policy is stable."""
        import panel as pn

        if self._periodic is not None:
            self._periodic.stop()
            self._periodic = None
        if on:
            def tick() -> None:
                if self.planner.bound <= 1e-6 or self.planner.stable or self.planner.error:
                    self.play_button.value = False
                    return
                self.step()

            self._periodic = pn.state.add_periodic_callback(tick, period=200)

    def refresh(self) -> None:
        """Redraw V, the greedy arrows, the status line, the residual plot and the inspector."""
        p, env = self.planner, self.env
        live = ~env.mdp.terminal
        labels = [ARROWS[a] if live[s] else "" for s, a in enumerate(p.policy)]
        self.values_map.show(p.V, labels)
        what = ("V_k; arrows greedy in it" if p.method == "value iteration" else
                "V^pi_k, the exact value of the k-th policy; arrows: the improved policy, greedy in it")
        text = (f"**{p.method}, k = {p.k}** ({what}): Bellman residual ||TV - V|| = {_fmt(p.residual)}, "
                f"certified ||V - V\\*|| <= **{_fmt(p.bound)}**")
        if p.stable:
            text += " - the policy is stable: V = V\\*"
        if p.error:
            text = f"**{p.method} cannot run here:** {p.error}"
        self.status.object = "\n\n".join([text, *(f"note: {n}" for n in self.notes)])
        fig = _line_figure("Bellman residual and certified bound", "", log=True)
        k = np.array([h[0] for h in p.history], dtype=float)
        for col, name, colour in ((1, "residual", "#1f77b4"), (2, "bound on ||V - V*||", "#d62728")):
            y = np.array([h[col] for h in p.history], dtype=float)
            ok = np.isfinite(y) & (y > 0)
            if ok.any():
                fig.line(k[ok], y[ok], legend_label=name, color=colour, line_width=2)
                fig.scatter(k[ok], y[ok], legend_label=name, color=colour, size=4)
        fig.xaxis.axis_label = "k"
        self.history.object = fig
        if self.selected is not None:
            self.inspect(self.selected)

    # ------------------------------------------------------------------ inspecting a state
    def _clicked(self, row: int, col: int) -> None:
        if self.brush.value != "inspect":
            self.paint(row, col, self.brush.value)
            return
        s = int(self.env.cell_to_state[row, col])
        if s >= 0:
            self.inspect(s)

    def inspect(self, s: int) -> None:
        """Show state ``s``'s Q-values (of the planner's V, and Q\\*) and each action's exact successors."""
        env, p = self.env, self.planner
        mdp = env.mdp
        self.selected = s
        r, c = env.state_rc[s]
        lines = [f"**state {s}** (row {r}, column {c}){' - terminal' if mdp.terminal[s] else ''}", "",
                 "| action | Q of V_k | Q\\* | successors P(s' given s, a) |", "|---|---|---|---|"]
        Q_star = self.solution.Q if self.solution is not None else np.full_like(p.Q, np.nan)
        best = set(np.flatnonzero(np.isclose(Q_star[s], Q_star[s].max()))) if self.solution is not None else set()
        for a, name in enumerate(ACTIONS):
            row = mdp.P[s * mdp.n_actions + a]
            succ = ", ".join(f"{int(j)} ({tuple(int(x) for x in env.state_rc[j])}): {q:.3g}" for j, q in zip(row.indices, row.data) if q > 0)
            mark = " (optimal)" if a in best else ""
            lines.append(f"| {ARROWS[a]} {name}{mark} | {p.Q[s, a]:.4g} | {Q_star[s, a]:.4g} | {succ} |")
        self.inspector.object = "\n".join(lines)

    def panel(self) -> Any:
        """The whole explorer as a Panel layout (in a notebook: display it after ``pn.extension()``)."""
        import panel as pn

        controls = pn.Column(self.world, self.brush_note, self.brush, self.slip, self.gamma, self.step_reward,
                             self.goal_reward, self.hole_reward, self.method,
                             pn.Row(self.step_button, self.play_button), pn.Row(self.solve_button, self.reset_button),
                             width=260)
        planning = pn.Row(controls, pn.Column(self.optimum, self.status, self.values_map.pane, self.history, width=480),
                          self.inspector)
        return pn.Tabs(("World and planning", planning), ("Agent runs", self.agent_tab.panel()),
                       ("World-model runs", self.world_model_tab.panel()),
                       ("Partial observability", self.belief_tab.panel()), ("MiniGrid", self.minigrid_tab.panel()),
                       dynamic=False)


class AgentTab:
    """Agent runs against the truth: V\\*, V^pi, the critic, its error, the exact visitation, the
    return gap and agreement, and the exact learning curves."""

    def __init__(self, runs: Sequence[RunView]) -> None:
        import panel as pn

        self.runs = {r.name: r for r in runs if r.kind == "agent"}
        self.select = pn.widgets.Select(label="agent run", options=list(self.runs))
        self.metrics = pn.pane.Markdown("")
        self.maps = {key: GridMap(title, diverging=key == "error", size_px=260) for key, title in (
            ("V_star", "V*"), ("V_pi", "V^pi of the agent's policy (exact)"), ("V_learned", "the agent's critic"),
            ("error", "critic - V^pi"), ("visitation", "exact discounted visitation"))}
        self.curves = pn.pane.Bokeh()
        self.select.param.watch(lambda e: self.show(e.new), "value")
        if self.runs:
            self.show(self.select.value)

    def show(self, name: str) -> None:
        run = self.runs[name]
        c = run.comparison
        for m in self.maps.values():
            m.set_world(c.env)
        live = ~c.env.mdp.terminal
        arrows = [ARROWS[int(np.argmax(c.pi[s]))] if live[s] else "" for s in range(c.env.n_states)]
        low = float(min(c.V_star.min(), c.V_pi.min()))
        high = float(max(c.V_star.max(), c.V_pi.max()))
        self.maps["V_star"].show(c.V_star, [ARROWS[a] if live[s] else "" for s, a in enumerate(np.argmax(c.Q_star, 1))],
                                 low, high)
        self.maps["V_pi"].show(c.V_pi, arrows, low, high)
        self.maps["V_learned"].show(c.V_learned, None, low, high)
        self.maps["error"].show(np.where(live, c.V_learned - c.V_pi, 0.0))
        self.maps["visitation"].show(run.visitation)
        self.metrics.object = (
            f"**{name}** on `{c.env.spec.id if c.env.spec else 'a grid'}`: return gap **{c.return_gap:.4g}** "
            f"({100 * c.relative_gap:.2f}% of |V\\*(s0)| = {abs(c.V_star_s0):.4g}; greedy policy {c.return_gap_greedy:.4g}), "
            f"normalised score {c.normalised_score:.3f}, policy agreement {100 * c.policy_agreement:.1f}%, "
            f"critic rmse vs V^pi {c.rmse_vs_pi:.4g} (on the states it visits {c.rmse_vs_pi_visited:.4g})")
        fig = _line_figure("exact metrics during training", "", width=520)
        t = run.curves.get("timesteps", [])
        for key, colour in (("relative_gap", "#d62728"), ("policy_agreement", "#2ca02c"), ("rmse_vs_pi", "#1f77b4")):
            if key in run.curves:
                fig.line(t, run.curves[key], legend_label=key, color=colour, line_width=2)
        fig.xaxis.axis_label = "timesteps"
        self.curves.object = fig

    def panel(self) -> Any:
        import panel as pn

        if not self.runs:
            return pn.pane.Markdown("No agent run was given. Train one (`gridlab train gridlab/FourRooms-v0 --algo ppo "
                                    "--out runs/ppo`) and open it: `gridlab explore runs/ppo`.")
        return pn.Column(self.select, self.metrics, pn.Row(*(m.pane for m in self.maps.values())), self.curves)


class WorldModelTab:
    """World-model runs against the truth: per-state TV and hallucinated mass, a clicked (state,
    action)'s true and modelled successors, imagined and real rollouts from a clicked state."""

    def __init__(self, runs: Sequence[RunView]) -> None:
        import panel as pn

        self.runs = {r.name: r for r in runs if r.kind == "world"}
        self.select = pn.widgets.Select(label="world-model run", options=list(self.runs))
        self.action = pn.widgets.RadioButtonGroup(label="action", options=list(ACTIONS), value=ACTIONS[0])
        self.metrics = pn.pane.Markdown("")
        self.tv_map = GridMap("TV per state (click a state)", on_click=self._clicked, size_px=300)
        self.hallucinated_map = GridMap("hallucinated mass per state", on_click=self._clicked, size_px=300)
        self.successors = pn.pane.Bokeh()
        self.rollout = pn.pane.Markdown("")
        self.rollout_tv = pn.pane.Bokeh()
        self.state = 0
        self.select.param.watch(lambda e: self.show(e.new), "value")
        self.action.param.watch(lambda e: self.pick(self.state), "value")
        if self.runs:
            self.show(self.select.value)

    @property
    def run(self) -> RunView:
        return self.runs[self.select.value]

    def show(self, name: str) -> None:
        run = self.runs[name]
        r = run.score
        for m, values in ((self.tv_map, run.tv), (self.hallucinated_map, run.hallucinated)):
            m.set_world(run.env)
            m.show(values, None, 0.0, max(0.05, float(values.max(initial=0.0))))
        self.metrics.object = (f"**{name}** ({run.model.family}): mean TV **{r['tv']:.4f}** (a perfect model's "
                               f"sampling floor {r['noise_floor']['tv']:.4f}), mode recall {r['mode_recall']:.3f}, "
                               f"hallucinated mass {r['hallucinated_mass']:.4f}")
        self.pick(int(run.env.start_states[0]))

    def _clicked(self, row: int, col: int) -> None:
        s = int(self.run.env.cell_to_state[row, col])
        if s >= 0:
            self.pick(s)

    def pick(self, s: int) -> None:
        """Show state ``s``: the chosen action's successors, true against the model's, and rollouts from s."""
        from bokeh.plotting import figure

        self.state = s
        run = self.run
        a = ACTIONS.index(self.action.value)
        true, model = run.successors(s, a)
        S = run.env.n_states
        shown = np.flatnonzero((true > 0) | (model > 0))
        names = [str(j) if j < S else "no state" for j in shown]
        fig = figure(title=f"successors of state {s}, action {ACTIONS[a]}", x_range=names, width=520, height=240,
                     tools="", toolbar_location=None)
        fig.vbar(x=[(n) for n in names], top=true[shown], width=0.4, color="#2ca02c", legend_label="true (exact)",
                 alpha=0.6)
        fig.vbar(x=[(n) for n in names], top=model[shown], width=0.25, color="#d62728",
                 legend_label="model (2,000 samples)", alpha=0.8)
        fig.yaxis.axis_label = "probability"
        self.successors.object = fig
        roll = run.rollouts(s)
        path = lambda states: " -> ".join(str(int(x)) if x >= 0 else "none" for x in states)  # noqa: E731
        self.rollout.object = (f"**From state {s}, the actions {' '.join(ARROWS[int(x)] for x in roll['actions'])}** "
                               f"(drawn once, taken by every rollout)\n\nimagined: {path(roll['imagined'])}\n\n"
                               f"real: {path(roll['real'])}")
        tv = _line_figure("TV of 500 imagined rollouts' states vs the exact distribution", "TV", width=520)
        tv.line(np.arange(len(roll["tv"])), roll["tv"], line_width=2)
        tv.xaxis.axis_label = "step"
        self.rollout_tv.object = tv

    def panel(self) -> Any:
        import panel as pn

        if not self.runs:
            return pn.pane.Markdown("No world-model run was given. Train one (`gridlab world train "
                                    "gridlab/SlipperyLake-v0 --family vae --out runs/vae`) and open it: `gridlab explore runs/vae`.")
        return pn.Column(self.select, self.metrics, pn.Row(self.tv_map.pane, self.hallucinated_map.pane),
                         self.action, pn.Row(self.successors, pn.Column(self.rollout, self.rollout_tv)))


# ---------------------------------------------------------------------- serving
class BeliefTab:
    """A gridworld POMDP stepped by hand: four action buttons, the exact belief as a heatmap on the
    grid after each observation (cells labelled with their probability in %), the hidden state
    marked ``@`` when "show the hidden state" is ticked."""

    def __init__(self, seed: int = 0) -> None:
        import panel as pn

        w = pn.widgets
        ids = grid_pomdp_ids()
        self.world = w.Select(label="partially observable world", options=ids, value=ids[0], width=260)
        self.reveal = w.Checkbox(label="show the hidden state", value=False)
        self.buttons = {name: w.Button(label=name, width=60) for name in ("up", "left", "right", "down")}
        self.reset_button = w.Button(label="new episode", width=110)
        self.status = pn.pane.Markdown("", sizing_mode="stretch_width")
        from bokeh.palettes import Blues256

        self.map = GridMap("the exact belief b(s) after each observation", size_px=420,
                           palette=list(reversed(Blues256)))  # white: probability 0
        self.seed = seed
        self.walk = BeliefWalk(self.world.value, seed)
        self.map.set_world(self.walk.grid)
        for name, button in self.buttons.items():
            button.on_click(lambda e, name=name: self.act(name))
        self.reset_button.on_click(lambda e: self.new_episode())
        self.world.param.watch(lambda e: self.load(e.new), "value")
        self.reveal.param.watch(lambda e: self.refresh(), "value")
        self.refresh()

    def load(self, world: str) -> None:
        self.walk = BeliefWalk(world, self.seed)
        self.map.set_world(self.walk.grid)
        self.refresh()

    def new_episode(self) -> None:
        self.seed += 1
        self.walk.reset(self.seed)
        self.refresh()

    def act(self, name: str) -> None:
        if self.walk.done:
            self.status.object = "The episode is over: start a new one."
            return
        self.walk.act(name)
        self.refresh()

    def refresh(self) -> None:
        walk = self.walk
        b = walk.belief
        labels = [f"{100 * p:.0f}" if p >= 0.005 else "" for p in b]
        if self.reveal.value:
            labels[walk.state] = "@" + labels[walk.state]
        self.map.show(b, labels, 0.0, float(b.max()))
        entropy = float(-(b[b > 0] * np.log(b[b > 0])).sum())
        self.status.object = (
            f"step {walk.steps}: saw **{walk.observation}**; return so far {walk.total:.3g}; "
            f"log P(observations | actions) = {walk.log_prob:.4g}; belief entropy {entropy:.3f} nats "
            f"(max {np.log(len(b)):.3f}), most likely cell {100 * b.max():.1f}%" + (" (episode over)" if walk.done else ""))

    def panel(self) -> Any:
        import panel as pn

        b = self.buttons
        pad = pn.Column(pn.Row(pn.Spacer(width=64), b["up"]), pn.Row(b["left"], pn.Spacer(width=4), b["right"]),
                        pn.Row(pn.Spacer(width=64), b["down"]))
        return pn.Row(pn.Column(self.world, self.reveal, pad, self.reset_button, width=280),
                      pn.Column(self.status, self.map.pane, width=560))


def minigrid_value_figure(model: Any, situation: tuple[int, ...] | None = None, t: int = 0) -> Any:
    """Four maps of :math:`V^*(s, t)` (``model.value_grid``), one per direction the agent faces, over
    the layout: walls dark, the goal ``G``, lava ``L``, doors ``D`` and the objects where the
    situation puts them (``K`` key, ``o`` ball, ``B`` box); grey where the agent cannot be."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from minigrid.core.constants import OBJECT_TO_IDX

    situation = model.keys[model.start][2:] if situation is None else tuple(situation)
    grid = model.value_grid(situation, t)
    kinds = model.layout[:, :, 0].T  # (height, width) object indices at reset
    idx = {v: k for k, v in OBJECT_TO_IDX.items()}
    n = len(model.signatures or [])
    placed = {loc: sig[0] for loc, sig in zip(situation[1:1 + n], model.signatures or []) if loc >= 0}
    finite = grid[np.isfinite(grid)]
    top = float(finite.max()) if finite.size else 1.0
    bottom = float(finite.min()) if finite.size else 0.0
    bottom = min(bottom, top - 1e-9)  # the scale spans the values shown: near the goal they differ by 1e-3
    fig, axes = plt.subplots(1, 4, figsize=(10, 3.0))
    cmap = matplotlib.colormaps["viridis"].copy()
    cmap.set_bad("#bbbbbb")
    for d, ax in enumerate(axes):
        ax.imshow(np.ma.masked_invalid(grid[d]), cmap=cmap, vmin=bottom, vmax=top)
        H, W = kinds.shape
        for r in range(H):
            for c in range(W):
                kind = idx.get(int(kinds[r, c]), "")
                if kind == "wall":
                    ax.add_patch(plt.Rectangle((c - 0.5, r - 0.5), 1, 1, color="#333333"))
                mark = {"goal": "G", "lava": "L", "door": "D"}.get(kind, "")
                mark = {"key": "K", "ball": "o", "box": "B"}.get(placed.get(r * W + c, ""), mark)
                if mark:
                    ax.text(c, r, mark, ha="center", va="center", fontsize=9, color="white", weight="bold")
                elif np.isfinite(grid[d, r, c]) and W <= 9:
                    ax.text(c, r, f"{grid[d, r, c]:.3f}", ha="center", va="center", fontsize=5, color="white")
        ax.set_title(f"facing {('east', 'south', 'west', 'north')[d]}", fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(f"{model.env_id} seed {model.seed}: V*(s, t={t}) under MiniGrid's objective; {model.describe(situation)}",
                 fontsize=9)
    fig.tight_layout()
    return fig


class MiniGridTab:
    """A MiniGrid layout's exact V*: pick a world and a seed (the layout), a situation (what the
    agent carries, where objects are, the doors) and a time step; one map per direction faced."""

    def __init__(self, world: str = MINIGRID_WORLDS[0], seed: int = 0) -> None:
        import panel as pn

        w = pn.widgets
        self.world = w.Select(label="MiniGrid world", options=list(MINIGRID_WORLDS), value=world, width=260)
        self.seed = w.IntInput(label="reset seed (the layout)", value=seed, start=0, width=260)
        self.situation = w.Select(label="the rest of the world", options={}, width=260)
        self.t = w.IntSlider(label="steps already taken, t", start=0, end=1, value=0, width=260)
        self.status = pn.pane.Markdown("", sizing_mode="stretch_width")
        self.figure = pn.pane.Matplotlib(None, dpi=90, tight=True)
        self.model: Any = None
        self._loading = False
        self.world.param.watch(lambda e: self.load(), "value")
        self.seed.param.watch(lambda e: self.load(), "value")
        self.situation.param.watch(lambda e: self.refresh(), "value")
        self.t.param.watch(lambda e: self.refresh(), "value")
        self.load()

    def load(self) -> None:
        """Model the chosen (world, seed) exactly and show it as at reset, t = 0."""
        from envs.minigrid import MINIGRID_HINT, exact_model

        try:
            self.model = exact_model(self.world.value, seed=int(self.seed.value))
        except ImportError:
            self.model, self.status.object = None, MINIGRID_HINT
            return
        m = self.model
        self._loading = True  # the widgets' own callbacks wait until all of them fit the new model
        try:
            self.t.value, self.t.end = 0, m.max_steps - 1
            self.situation.options = {f"{i}: {m.describe(sit)}": i for i, sit in enumerate(m.situations())}
            self.situation.value = 0
        finally:
            self._loading = False
        self.refresh()

    def refresh(self) -> None:
        m = self.model
        if m is None or self._loading:
            return
        import matplotlib.pyplot as plt

        situation = m.situations()[int(self.situation.value or 0)]
        old = self.figure.object
        self.figure.object = minigrid_value_figure(m, situation, int(self.t.value))
        if old is not None:
            plt.close(old)
        how = "the shortest path (closed form)" if m.deterministic else "backward induction"
        self.status.object = (f"{m.n_states:,} states, layout {m.layout_digest}; V\\*(s0, 0) = "
                              f"{m.V_star(m.start, 0):.4f} by {how}; a success at step k pays 1 - 0.9 k / {m.max_steps}")

    def panel(self) -> Any:
        import panel as pn

        return pn.Row(pn.Column(self.world, self.seed, self.situation, self.t, width=280),
                      pn.Column(self.status, self.figure, width=900))


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port free on ``host`` now."""
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def serve(runs: Sequence[str | Path] = (), port: int = 0, open_browser: bool = True, world: str = "gridlab/FourRooms-v0",
          threaded: bool = False, announce: Callable[[str], None] | None = None) -> tuple[str, Any]:
    """Serve the explorer on 127.0.0.1 (never another interface) at ``port`` (0: a free one).

    Runs are loaded once, before the server starts (a bad directory fails here, naming it); each
    browser session gets its own :class:`Explorer` on them. The server serves the app and Panel's
    own resources only: no file of this machine, inside the run directories or not.

    Arguments:
        runs: agent and world-model run directories.
        port: the port; 0 picks a free one.
        open_browser: open the page in the default browser.
        world: the registered world the planning tab opens with.
        threaded: serve from a background thread and return (tests, notebooks); else block
            until Ctrl-C.
        announce: called with the page's URL once it is known, before serving starts.

    Returns:
        ``(url, server)``: the server is Panel's ``StoppableThread`` (``.stop()``) when threaded.
    """
    import panel as pn

    _check_world(world)  # a bad world id or run directory fails here, before the server starts
    views = [RunView(r) for r in runs]
    port = port or free_port()
    url = f"http://127.0.0.1:{port}/"
    if announce is not None:
        announce(url)
    server = pn.serve(lambda: Explorer(views, world).panel(), address="127.0.0.1", port=port, show=open_browser,
                      threaded=threaded, start=True, title="gridlab explorer", print_url=False)
    return url, server
