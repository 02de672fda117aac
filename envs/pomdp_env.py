"""Any :class:`~envs.pomdp.TabularPOMDP` as a Gymnasium env that samples it and hides its state.

``POMDPEnv`` draws the hidden start state from :math:`b_0`, and each step draws
:math:`s' \\sim T(\\cdot \\mid s, a)` and :math:`o \\sim O(\\cdot \\mid s', a)` with ``self.np_random``,
pays :math:`R(s, a)` and ends the episode on a terminal state. The observation is all the agent
gets: ``info`` holds no state (``env.unwrapped.state`` gives it, for debugging and tests).

Before any action there is no observation in Cassandra's convention; the env returns an extra one,
``"start"`` (index ``Z``), at reset, so the observation space has ``Z + 1`` values.

With ``frame_stack=k`` the observation is instead the last ``k`` (action, observation) pairs, oldest
first, each a one-hot action (``A + 1`` values, the last meaning "none yet") beside a one-hot
observation (``Z + 1``): the frame-stacked agent's input. At reset the window holds ``k`` copies of
(none, ``"start"``), as :func:`agents.pomdp_eval.window_value` starts it, so such an agent's value is
exact.

``env.unwrapped.belief`` is the exact belief over hidden states after the history so far (the forward
filter, :meth:`~envs.pomdp.TabularPOMDP.filter`, run on demand); ``render_mode="rgb_array"`` draws it,
on the grid for a gridworld POMDP (its ``info["layout"]`` and ``info["state_rc"]``), as a row of cells
otherwise, with the hidden state outlined.

Example:
    >>> from envs.pomdp_worlds import tiger
    >>> env = POMDPEnv(tiger())
    >>> obs, info = env.reset(seed=0)
    >>> obs, info, env.observation_names[obs]
    (2, {}, 'start')
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from envs.pomdp import TabularPOMDP

__all__ = ["POMDPEnv", "OBS_MODES", "check_pomdp_env", "encode_observation"]

OBS_MODES = ("index", "onehot")
BELIEF_COLOUR = (25, 70, 160)  # render_belief: the most probable state's cell
STATE_COLOUR = (220, 30, 30)  # render_belief: the outline of the hidden state's cell
WALL_COLOUR = (60, 60, 60)
GRID_LINE = 200


def encode_observation(o: int, n: int, obs_mode: str) -> Any:
    """Observation ``o`` of ``n`` (the POMDP's plus ``"start"``) as an env gives it: the index
    (``obs_mode="index"``) or a float32 one-hot vector (``"onehot"``).

    Example:
        >>> encode_observation(1, 3, "onehot")
        array([0., 1., 0.], dtype=float32)
    """
    if obs_mode == "index":
        return int(o)
    x = np.zeros(n, dtype=np.float32)
    x[o] = 1.0
    return x


class POMDPEnv(gym.Env):
    """A POMDP as a Gymnasium env (module doc).

    ## Arguments
    - ``pomdp``: the model, a callable returning it, or ``"module:builder"`` (as a registration gives
      it); further keyword arguments go to the builder.
    - ``obs_mode``: ``"index"`` (``Discrete(Z + 1)``) or ``"onehot"`` (``Box(0, 1, (Z + 1,))``).
    - ``frame_stack``: 0 (the observation alone) or ``k >= 1``: the last ``k`` (action, observation)
      pairs, ``Box(0, 1, (k * (A + Z + 2),))`` (module doc); ``obs_mode`` is then ignored.
    - ``render_mode``: ``"ansi"`` for a line with the hidden state and the last observation;
      ``"rgb_array"`` for a picture of the exact belief.
    """

    metadata = {"render_modes": ["ansi", "rgb_array"], "render_fps": 4}

    def __init__(self, pomdp: TabularPOMDP | Any, obs_mode: str = "index", render_mode: str | None = None,
                 frame_stack: int = 0, **builder_kwargs: Any) -> None:
        if isinstance(pomdp, str):  # "module:builder", as a registration gives it
            from envs.registration import load_entry_point

            pomdp = load_entry_point(pomdp)
        if not isinstance(pomdp, TabularPOMDP):
            if not callable(pomdp):
                raise TypeError(f"pomdp must be a TabularPOMDP or a builder of one, got {type(pomdp).__name__}")
            pomdp = pomdp(**builder_kwargs)
        elif builder_kwargs:
            raise TypeError(f"unexpected arguments for a ready model: {', '.join(builder_kwargs)}")
        if obs_mode not in OBS_MODES:
            raise ValueError(f"obs_mode must be one of {OBS_MODES}, got {obs_mode!r}")
        if render_mode not in (None, *self.metadata["render_modes"]):
            raise ValueError(f"render_mode must be None, 'ansi' or 'rgb_array', got {render_mode!r}")
        if isinstance(frame_stack, bool) or not isinstance(frame_stack, (int, np.integer)) or frame_stack < 0:
            raise ValueError(f"frame_stack must be an integer >= 0, got {frame_stack!r}")
        self.pomdp, self.obs_mode, self.render_mode, self.frame_stack = pomdp, obs_mode, render_mode, int(frame_stack)
        self.observation_names = (*pomdp.observations, "start")
        n = pomdp.n_observations + 1
        if self.frame_stack:
            width = self.frame_stack * (pomdp.n_actions + 1 + n)
            self.observation_space = spaces.Box(0.0, 1.0, (width,), np.float32)
        else:
            self.observation_space = spaces.Discrete(n) if obs_mode == "index" else spaces.Box(0.0, 1.0, (n,), np.float32)
        self.action_space = spaces.Discrete(pomdp.n_actions)
        self._T = [Ta.tocsr() for Ta in pomdp.T]
        self._O_cum = np.cumsum(pomdp.O, axis=2)
        self._b0_cum = np.cumsum(pomdp.b0)
        self.state = 0
        self.last_observation = pomdp.n_observations
        self.window: tuple[tuple[int, int], ...] = ((-1, n - 1),) * self.frame_stack
        self._history: list[tuple[int, int]] = []
        self._belief = (0, pomdp.b0)  # (steps of the history it follows, belief)

    def encode_window(self, window: tuple[tuple[int, int], ...]) -> np.ndarray:
        """The frame-stacked observation of a window of ``(action, observation)`` pairs (action -1:
        none yet), oldest first, as :func:`agents.pomdp_eval.window_value` passes it."""
        A, n = self.pomdp.n_actions, self.pomdp.n_observations + 1
        x = np.zeros((len(window), A + 1 + n), dtype=np.float32)
        for i, (a, o) in enumerate(window):
            x[i, a if a >= 0 else A] = 1.0
            x[i, A + 1 + o] = 1.0
        return x.ravel()

    @property
    def belief(self) -> np.ndarray:
        """The exact belief over hidden states after this episode's actions and observations."""
        done, b = self._belief
        if done < len(self._history):
            acts, obs = zip(*self._history[done:])
            b = self.pomdp.filter(acts, obs, b0=b, keep="last").beliefs[0, -1]
            self._belief = (len(self._history), b)
        return b

    def _observe(self, o: int) -> Any:
        if not self.frame_stack:
            return self._encode(o)
        return self.encode_window(self.window)

    def _encode(self, o: int) -> Any:
        return encode_observation(o, self.pomdp.n_observations + 1, self.obs_mode)

    def _draw(self, cumulative: np.ndarray) -> int:
        return int(min(np.searchsorted(cumulative, self.np_random.random(), side="right"), len(cumulative) - 1))

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Any, dict[str, Any]]:
        super().reset(seed=seed)
        self.state = self._draw(self._b0_cum)
        self.last_observation = self.pomdp.n_observations
        self.window = ((-1, self.last_observation),) * self.frame_stack
        self._history, self._belief = [], (0, self.pomdp.b0)
        return self._observe(self.last_observation), {}

    def step(self, action: int) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        if not self.action_space.contains(action):
            raise ValueError(f"action must be in [0, {self.pomdp.n_actions}), got {action!r}")
        a, s = int(action), self.state
        row = self._T[a]
        lo, hi = row.indptr[s], row.indptr[s + 1]
        s2 = int(row.indices[lo + self._draw(np.cumsum(row.data[lo:hi]))])
        o = self._draw(self._O_cum[a, s2])
        reward = float(self.pomdp.R[s, a])
        self.state, self.last_observation = s2, o
        self._history.append((a, o))
        if self.frame_stack:
            self.window = self.window[1:] + ((a, o),)
        return self._observe(o), reward, bool(self.pomdp.mdp.terminal[s2]), False, {}

    def render(self) -> str | np.ndarray | None:
        if self.render_mode == "rgb_array":
            return self.render_belief()
        if self.render_mode != "ansi":
            return None
        return (f"state {self.pomdp.states[self.state]!r}, "
                f"last observation {self.observation_names[self.last_observation]!r}")

    def render_belief(self, cell: int = 16) -> np.ndarray:
        """An ``(H*cell, W*cell, 3)`` uint8 picture of :attr:`belief`: each hidden state's cell from
        white (probability 0) to dark blue (the largest probability), the hidden state outlined in
        red. A gridworld POMDP is drawn on its map (walls dark grey); any other as one row of states."""
        b = self.belief
        layout, rc = self.pomdp.info.get("layout"), self.pomdp.info.get("state_rc")
        if layout is not None and rc is not None:
            rows = [str(r) for r in layout]
            H, W = len(rows), max(map(len, rows))
            walls = np.array([[ch == "#" for ch in r.ljust(W, "#")] for r in rows])
            where = np.asarray(rc, dtype=np.int64)
        else:
            H, W, walls = 1, self.pomdp.n_states, np.zeros((1, self.pomdp.n_states), dtype=bool)
            where = np.stack([np.zeros(W, np.int64), np.arange(W)], axis=1)
        shade = np.zeros((H, W))
        shade[where[:, 0], where[:, 1]] = b / max(float(b.max()), 1e-12)
        dark = np.array(BELIEF_COLOUR, dtype=np.float64)
        colours = 255.0 - shade[..., None] * (255.0 - dark)
        colours[walls] = WALL_COLOUR
        img = np.kron(colours.astype(np.uint8), np.ones((cell, cell, 1), np.uint8))
        img[::cell, :, :] = GRID_LINE
        img[:, ::cell, :] = GRID_LINE
        r, c = where[self.state]
        t = max(cell // 8, 1)
        box = img[r * cell:(r + 1) * cell, c * cell:(c + 1) * cell]
        box[:t], box[-t:], box[:, :t], box[:, -t:] = STATE_COLOUR, STATE_COLOUR, STATE_COLOUR, STATE_COLOUR
        return img


def check_pomdp_env(env: gym.Env, steps: int = 3000, seed: int = 0, alpha: float = 1e-6, per_pair: int = 50) -> int:
    r"""Step ``env`` (a :class:`POMDPEnv`, wrapped or not) from hidden states and actions and check
    what it does against its model: every (s', o) it draws must have
    :math:`T(s'|s,a) O(o|s',a) > 0`, its reward must be :math:`R(s,a)` and its ``terminated`` flag
    the model's; and for ``steps // per_pair`` live (state, action) pairs drawn at random, the
    joint frequencies of (s', o) over ``per_pair`` steps each must pass a chi-square test at level
    ``alpha`` (Bonferroni over the pairs; outcomes expected fewer than 5 times pooled into one). A
    model with fewer pairs spends all ``steps`` on them.
    Returns the number of pairs tested; raises ``ValueError`` naming the pair that differs.

    Example:
        >>> from envs.pomdp_worlds import tiger
        >>> check_pomdp_env(POMDPEnv(tiger()), steps=600)
        6
    """
    import scipy.stats

    base = env.unwrapped
    if not isinstance(base, POMDPEnv):
        raise TypeError(f"check_pomdp_env needs a POMDPEnv, got {type(base).__name__}")
    if int(steps) < per_pair or per_pair < 1:
        raise ValueError(f"steps must be >= per_pair >= 1, got steps={steps}, per_pair={per_pair}")
    m = base.pomdp
    pairs = [(int(s), a) for s in np.flatnonzero(~m.mdp.terminal) for a in range(m.n_actions)]
    rng = np.random.default_rng(seed)
    chosen = rng.choice(len(pairs), size=min(len(pairs), int(steps) // per_pair), replace=False)
    per_pair = int(steps) // len(chosen)  # every step spent: a small model's pairs get more than per_pair each
    base.reset(seed=seed)
    for k in chosen:
        s, a = pairs[k]
        where = f"state {m.states[s]!r}, action {m.actions[a]!r}"
        want = (m.T[a][s].toarray().ravel()[:, None] * m.O[a]).ravel()
        counts = np.zeros_like(want)
        for _ in range(per_pair):
            base.state = s
            _, reward, terminated, _, _ = base.step(a)
            s2, o = base.state, base.last_observation
            if want[s2 * m.n_observations + o] <= 0:
                raise ValueError(f"{where}: the env went to {m.states[s2]!r} seeing {m.observations[o]!r}, "
                                 "which the model gives probability 0")
            if reward != float(m.R[s, a]) or terminated != bool(m.mdp.terminal[s2]):
                raise ValueError(f"{where}: reward {reward} / terminated {terminated}, the model says "
                                 f"{float(m.R[s, a])} / {bool(m.mdp.terminal[s2])}")
            counts[s2 * m.n_observations + o] += 1
        expected = want * per_pair
        big = expected >= 5
        seen = np.append(counts[big], counts[~big].sum())
        bins = np.append(expected[big], expected[~big].sum())
        keep = bins > 0
        if keep.sum() < 2:
            continue
        p_value = scipy.stats.chisquare(seen[keep], bins[keep]).pvalue
        if p_value < alpha / len(chosen):
            raise ValueError(f"{where}: the env's (s', o) frequencies differ from the model's (chi-square p = "
                             f"{p_value:.2g})")
    return len(chosen)
