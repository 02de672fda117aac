"""GridWorldEnv: a gridworld built from an ASCII layout, carrying its exact model."""

from __future__ import annotations

import warnings
from functools import cached_property
from typing import Any, Sequence

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from envs.layouts import GOAL, HOLE, ONE_WAY_CHARS, START, WALL, Layout, parse_layout, random_maze
from envs.mdp import TabularMDP
from envs.pixels import AGENT_COLOUR, CELL_COLOURS, PixelFrames, agent_box, draw_grid
from envs.transitions import grid_transitions

__all__ = ["GridWorldEnv", "MazeEnv", "OBS_MODES", "ACTIONS", "CELL_COLOURS", "AGENT_COLOUR"]

UP, RIGHT, DOWN, LEFT = 0, 1, 2, 3
ACTIONS = ("up", "right", "down", "left")
ARROWS = ("↑", "→", "↓", "←")
DELTAS = np.array([(-1, 0), (0, 1), (1, 0), (0, -1)])
OBS_MODES = ("index", "onehot", "coords", "image", "pixels")
IMAGE_CHANNELS = ("wall", "goal", "hole", "agent")
COORD_TOL = 0.25  # a coords observation decodes when it lies within a quarter cell of a cell centre



class GridWorldEnv(gym.Env):
    r"""A gridworld whose exact model is built once and sampled by ``step``.

    ## Description
    The agent moves on the floor of an ASCII layout (see ``envs.layouts``) from a start cell
    towards a goal, avoiding holes. With probability ``slip`` a move goes to one of the two
    perpendicular directions instead (``slip/2`` each). Moving into a wall, the border, or a
    one-way door against its arrow leaves the agent where it is. The exact model is
    ``env.unwrapped.mdp`` (a ``TabularMDP``); ``env.unwrapped.P`` is the same model in
    toy_text's dict form.

    ## Action Space
    ``Discrete(4)``: 0 up, 1 right, 2 down, 3 left.

    ## Observation Space
    Set by ``obs_mode``:

    - ``"index"`` (default): ``Discrete(S)``, the state index (floor cells numbered row-major).
    - ``"onehot"``: ``Box(0, 1, (S,), float32)``.
    - ``"coords"``: ``Box(0, 1, (2,), float32)``, row / (H-1) and column / (W-1).
    - ``"image"``: ``Box(0, 1, (4, H, W), float32)``, channels wall, goal, hole, agent.
    - ``"pixels"``: ``Box(0, 255, (H*cell_px, W*cell_px, 3), uint8)``, the ``rgb_array`` frame
      at ``cell_px`` pixels per cell, with optional nuisances (``envs.pixels``).

    ``encode(s)`` gives the observation of state s; ``decode(obs)`` gives back s, or -1 when
    ``obs`` is the observation of no state.

    ## Rewards
    :math:`r(s, a, s')` is ``goal_reward`` when s' is a goal, ``hole_reward`` when s' is a hole,
    and ``step_reward`` otherwise. Terminal states are absorbing and pay nothing.

    ## Starting State
    Uniform over the ``S`` cells; ``reset(options={"state": s})`` starts from any state s.

    ## Episode End
    Terminated on entering a goal or a hole. Truncation is left to the ``TimeLimit`` wrapper
    (``max_episode_steps`` of the registered ids).

    ## Arguments
    - ``layout``: rows of the map, one multi-line string or a list of strings.
    - ``slip``: probability in [0, 1] that a move goes sideways. Default 0.
    - ``goal_reward``, ``hole_reward``, ``step_reward``: rewards as above. Defaults 1, 0, 0.
    - ``gamma``: the discount attached to the model, in (0, 1]. Default 0.99.
    - ``obs_mode``: one of ``"index"``, ``"onehot"``, ``"coords"``, ``"image"``, ``"pixels"``.
    - ``cell_px``, ``pixel_noise``, ``distractors``: the ``"pixels"`` frames' pixels per cell
      (default 4), Gaussian pixel noise (a fraction of 255, default 0) and flickering cells in a
      strip under the grid (default 0); see ``envs.pixels``, which also states when a frame
      decodes to a state.
    - ``render_mode``: ``"ansi"`` or ``"rgb_array"``.

    ## Example
    >>> env = GridWorldEnv("S.G", slip=0.0)
    >>> obs, info = env.reset(seed=0)
    >>> env.step(1)[:3]
    (1, 0.0, False)

    ## Version History
    - v0: initial release.
    """

    metadata = {"render_modes": ["ansi", "rgb_array"], "render_fps": 4}

    def __init__(
        self,
        layout: str | Sequence[str] | Layout,
        slip: float = 0.0,
        goal_reward: float = 1.0,
        hole_reward: float = 0.0,
        step_reward: float = 0.0,
        gamma: float = 0.99,
        obs_mode: str = "index",
        render_mode: str | None = None,
        cell_px: int = 4,
        pixel_noise: float = 0.0,
        distractors: int = 0,
    ) -> None:
        if not 0.0 <= float(slip) <= 1.0:
            raise ValueError(f"slip must be in [0, 1], got {slip}")
        for name, value in (("goal_reward", goal_reward), ("hole_reward", hole_reward), ("step_reward", step_reward)):
            if not np.isfinite(float(value)):
                raise ValueError(f"{name} must be a finite number, got {value}")
        if not 0.0 < float(gamma) <= 1.0:
            raise ValueError(f"gamma must be in (0, 1], got {gamma}")
        if obs_mode not in OBS_MODES:
            raise ValueError(f"unknown obs_mode {obs_mode!r}; expected one of {OBS_MODES}")
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"unknown render_mode {render_mode!r}; expected one of {self.metadata['render_modes']}")
        self.layout = parse_layout(layout)
        if not np.isin(self.layout.grid, (GOAL, HOLE)).any():
            warnings.warn("layout has no goal 'G' or hole 'H': no episode terminates (only a time limit ends one), "
                          "and at gamma = 1 every policy's value diverges unless step_reward is 0", stacklevel=2)
        self.slip = float(slip)
        self.goal_reward, self.hole_reward, self.step_reward = float(goal_reward), float(hole_reward), float(step_reward)
        self.obs_mode = obs_mode
        self.render_mode = render_mode
        if obs_mode != "pixels" and (pixel_noise or distractors or cell_px != 4):
            raise ValueError(f"cell_px, pixel_noise and distractors shape 'pixels' observations; obs_mode is {obs_mode!r}")
        self.frames = PixelFrames(self.layout.grid, cell_px, pixel_noise, distractors) if obs_mode == "pixels" else None

        grid = self.layout.grid
        self.height, self.width = grid.shape
        floor = grid != WALL
        self.state_rc = np.stack(np.divmod(np.flatnonzero(floor), self.width), axis=1)  # (S, 2), row-major
        S = len(self.state_rc)
        self.cell_to_state = np.full(grid.shape, -1, dtype=np.int64)
        self.cell_to_state[floor] = np.arange(S)
        self.mdp = self._build_model(gamma)
        self.n_states = S

        self.action_space = spaces.Discrete(4)
        if obs_mode == "index":
            self.observation_space = spaces.Discrete(S)
        elif obs_mode == "onehot":
            self.observation_space = spaces.Box(0.0, 1.0, (S,), np.float32)
        elif obs_mode == "coords":
            self.observation_space = spaces.Box(0.0, 1.0, (2,), np.float32)
        elif obs_mode == "image":
            self.observation_space = spaces.Box(0.0, 1.0, (len(IMAGE_CHANNELS), self.height, self.width), np.float32)
        else:
            self.observation_space = spaces.Box(0, 255, self.frames.shape, np.uint8)
        self.start_states = np.flatnonzero(self.mdp.initial > 0)  # the states an episode may start in
        self.s = int(self.start_states[0])

    # ------------------------------------------------------------------ model
    def _moves(self) -> np.ndarray:
        """``(4, S)``: the state a deterministic move in each direction reaches (walls, border and
        one-way doors against their arrow leave the agent in place).

        Vectorised on the grid padded with a wall border, so a move is one flat-index offset.
        """
        grid, S = self.layout.grid, len(self.state_rc)
        H, W = grid.shape
        index = np.int32 if S < 2**31 - 1 else np.int64
        target = np.full((H + 2, W + 2), -1, dtype=index)  # state of each padded cell, -1 wall/border
        target[1:-1, 1:-1] = self.cell_to_state
        door = np.full((H + 2, W + 2), -1, dtype=np.int8)  # action that may enter the cell, -1 any
        for d, ch in enumerate(ONE_WAY_CHARS):
            door[1:-1, 1:-1][grid == ch] = d
        target, door = target.reshape(-1), door.reshape(-1)
        here = (self.state_rc[:, 0] + 1) * (W + 2) + self.state_rc[:, 1] + 1
        stay = np.arange(S, dtype=index)
        move = np.empty((4, S), dtype=index)
        for d, (dr, dc) in enumerate(DELTAS):
            to = here + (dr * (W + 2) + dc)
            t, gate = target[to], door[to]
            move[d] = np.where((t >= 0) & ((gate < 0) | (gate == d)), t, stay)
        return move

    def _build_model(self, gamma: float) -> TabularMDP:
        grid, S = self.layout.grid, len(self.state_rc)
        rc = self.state_rc
        cells = grid[rc[:, 0], rc[:, 1]]
        terminal = (cells == GOAL) | (cells == HOLE)
        move = self._moves()
        entry = np.full(S, self.step_reward)
        entry[cells == GOAL] = self.goal_reward
        entry[cells == HOLE] = self.hole_reward
        P, R = grid_transitions(move, self.slip, terminal, entry)
        starts = (cells == START).astype(np.float64)
        return TabularMDP(P, R, terminal, starts / starts.sum(), gamma=gamma, entry_reward=entry,
                          info={"layout": self.layout, "slip": self.slip}, validate=False)

    @property
    def init_kwargs(self) -> dict[str, Any]:
        """The arguments that rebuild this world anywhere, ``GridWorldEnv(**env.init_kwargs)`` (saved with world models)."""
        pixels = {"cell_px": self.frames.cell_px, "pixel_noise": self.frames.pixel_noise,
                  "distractors": self.frames.distractors} if self.frames is not None else {}
        return {"layout": str(self.layout), "slip": self.slip, "goal_reward": self.goal_reward,
                "hole_reward": self.hole_reward, "step_reward": self.step_reward, "gamma": self.mdp.gamma,
                "obs_mode": self.obs_mode, **pixels}

    @cached_property
    def cumulative_probs(self) -> np.ndarray:
        """Cumulative probabilities within each row of ``mdp.P``, aligned with ``mdp.P.data``: the
        sampling table of ``step`` (inverse CDF), shared by ``envs.vector``."""
        P = self.mdp.P
        c = np.cumsum(P.data)
        before = np.concatenate([[0.0], c])[P.indptr[:-1]]
        return c - np.repeat(before, np.diff(P.indptr))

    @cached_property
    def _reward(self) -> np.ndarray:
        """r(s, a, s') of each stored transition, aligned with ``mdp.P.data``, for ``step``."""
        return self.mdp.reward_matrix.data

    @property
    def initial_state_distrib(self) -> np.ndarray:
        """The start distribution, under toy_text's name (``TabularMDP.from_gym`` reads it)."""
        return self.mdp.initial

    @cached_property
    def P(self) -> dict[int, dict[int, list[tuple[float, int, float, bool]]]]:
        """The exact model in toy_text's form, ``P[s][a] = [(prob, next_state, reward, terminated)]``."""
        return self.mdp.to_gym_dict()

    # ------------------------------------------------------------------ observations
    def encode(self, s: int) -> Any:
        """Observation of state ``s`` in this env's ``obs_mode``."""
        if not 0 <= int(s) < self.n_states:
            raise ValueError(f"state {s} is outside [0, {self.n_states})")
        return self.encode_batch(np.array([s]))[0] if self.obs_mode != "index" else int(s)

    def encode_batch(self, states: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
        """Observations of an array of states, stacked on the first axis; the nuisances of
        ``"pixels"`` frames are drawn from ``rng`` (default this env's ``np_random``)."""
        states = np.asarray(states, dtype=np.int64).reshape(-1)
        n = len(states)
        if self.obs_mode == "index":
            return states.copy()
        if self.obs_mode == "pixels":
            return self.frames.encode(states, self.np_random if rng is None else rng)
        if self.obs_mode == "onehot":
            out = np.zeros((n, self.n_states), np.float32)
            out[np.arange(n), states] = 1.0
            return out
        if self.obs_mode == "coords":
            rc = self.state_rc[states].astype(np.float32)
            return rc / np.array([max(self.height - 1, 1), max(self.width - 1, 1)], np.float32)
        out = np.repeat(self._static_image[None], n, axis=0)
        r, c = self.state_rc[states].T
        out[np.arange(n), 3, r, c] = 1.0
        return out

    @cached_property
    def _static_image(self) -> np.ndarray:
        g = self.layout.grid
        img = np.zeros((len(IMAGE_CHANNELS), self.height, self.width), np.float32)
        img[0], img[1], img[2] = g == WALL, g == GOAL, g == HOLE
        return img

    def decode(self, obs: Any) -> int:
        """State index of an observation, or -1 when it is the observation of no state."""
        return int(self.decode_batch(np.asarray(obs)[None])[0])

    def decode_batch(self, obs: np.ndarray, atol: float = 1e-6) -> np.ndarray:
        """State index of each observation in a batch (first axis), -1 where none matches.

        ``onehot`` and ``image`` observations must match an encoding to within ``atol``;
        ``coords`` decode to the nearest floor cell when within a quarter cell of its centre;
        ``pixels`` by the rule of ``envs.pixels`` (robust to the env's own nuisances).
        """
        obs = np.asarray(obs)
        n = obs.shape[0]
        S = self.n_states
        if self.obs_mode == "pixels":
            return self.frames.decode(obs.reshape(n, *self.frames.shape))
        if self.obs_mode == "index":
            flat = obs.reshape(n)
            ok = (flat >= 0) & (flat < S) & (np.mod(flat, 1) == 0)
            return np.where(ok, flat, -1).astype(np.int64)
        if self.obs_mode == "onehot":
            x = obs.reshape(n, S)
            idx = np.argmax(x, axis=1)
            target = np.zeros_like(x)
            target[np.arange(n), idx] = 1.0
            ok = np.all(np.abs(x - target) <= atol, axis=1)
            return np.where(ok, idx, -1).astype(np.int64)
        if self.obs_mode == "coords":
            x = obs.reshape(n, 2).astype(np.float64)
            scaled = x * np.array([max(self.height - 1, 1), max(self.width - 1, 1)])
            cell = np.rint(scaled).astype(np.int64)
            near = np.all(np.abs(scaled - cell) <= COORD_TOL, axis=1)
            inside = (cell[:, 0] >= 0) & (cell[:, 0] < self.height) & (cell[:, 1] >= 0) & (cell[:, 1] < self.width)
            r, c = np.where(inside, cell[:, 0], 0), np.where(inside, cell[:, 1], 0)
            s = self.cell_to_state[r, c]
            return np.where(near & inside & (s >= 0), s, -1).astype(np.int64)
        x = obs.reshape(n, len(IMAGE_CHANNELS), self.height, self.width)
        static_ok = np.all(np.abs(x[:, :3] - self._static_image[None, :3]) <= atol, axis=(1, 2, 3))
        agent = x[:, 3].reshape(n, -1)
        pos = np.argmax(agent, axis=1)
        target = np.zeros_like(agent)
        target[np.arange(n), pos] = 1.0
        agent_ok = np.all(np.abs(agent - target) <= atol, axis=1)
        s = self.cell_to_state.reshape(-1)[pos]
        return np.where(static_ok & agent_ok & (s >= 0), s, -1).astype(np.int64)

    # ------------------------------------------------------------------ dynamics
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Any, dict[str, Any]]:
        super().reset(seed=seed)
        if options and "state" in options:
            s = int(options["state"])
            if not 0 <= s < self.n_states:
                raise ValueError(f"options['state'] must be in [0, {self.n_states}), got {options['state']}")
            self.s = s
        else:
            self.s = int(self.start_states[self.np_random.integers(len(self.start_states))])
        return self.encode(self.s), {"state": self.s, "prob": 1.0}

    def step(self, action: int) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        a = int(action)
        if not 0 <= a < 4:
            raise ValueError(f"action must be in [0, 4), got {action}")
        s = self.s
        row = s * 4 + a
        P = self.mdp.P
        lo, hi = P.indptr[row], P.indptr[row + 1]
        cum = self.cumulative_probs
        k = lo + int(np.searchsorted(cum[lo:hi], self.np_random.random() * cum[hi - 1], side="right"))
        k = min(k, hi - 1)
        s_next = int(P.indices[k])
        reward = float(self._reward[k])
        self.s = s_next
        return self.encode(s_next), reward, bool(self.mdp.terminal[s_next]), False, {"state": s_next, "prob": float(P.data[k])}

    # ------------------------------------------------------------------ rendering
    def render(self) -> str | np.ndarray | None:
        if self.render_mode == "ansi":
            return self.render_ansi()
        if self.render_mode == "rgb_array":
            return self.render_rgb()
        return None

    def render_ansi(self, s: int | None = None) -> str:
        """The layout as text with the agent (state ``s``, default current) drawn as ``@``."""
        g = self.layout.grid.copy()
        r, c = self.state_rc[self.s if s is None else s]
        g[r, c] = "@"
        return "\n".join("".join(row) for row in g) + "\n"

    def render_rgb(self, s: int | None = None, cell: int = 16) -> np.ndarray:
        """An ``(H*cell, W*cell, 3)`` uint8 picture of the grid with the agent as a red square
        (``envs.pixels.draw_grid``; a ``"pixels"`` observation is this at ``cell_px``, with its nuisances)."""
        img = draw_grid(self.layout.grid, cell)
        r, c = self.state_rc[self.s if s is None else s]
        box = agent_box(cell)
        img[r * cell + box.start:r * cell + box.stop, c * cell + box.start:c * cell + box.stop] = AGENT_COLOUR
        return img


class MazeEnv(GridWorldEnv):
    """A seeded random maze (``envs.layouts.random_maze``) as a ``GridWorldEnv``.

    ## Arguments
    - ``size``: rooms per side; the grid is ``2*size + 1`` cells square. Default 7.
    - ``seed``: seed of the maze carving (not of the episode). Default 0.
    - any other ``GridWorldEnv`` argument.
    """

    def __init__(self, size: int = 7, seed: int = 0, **kwargs: Any) -> None:
        for name, value in (("size", size), ("seed", seed)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
                raise ValueError(f"maze {name} must be an integer, got {value!r}")
        self.maze_size, self.maze_seed = int(size), int(seed)
        super().__init__(random_maze(self.maze_size, self.maze_seed), **kwargs)
