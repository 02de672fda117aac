r"""Rendered frames of a gridworld as observations: drawing, nuisances, and decoding a frame to its state.

``GridWorldEnv(..., obs_mode="pixels")`` observes the RGB frame of its ``rgb_array`` render at
``cell_px`` pixels per cell: ``uint8``, height x width x 3, as Gymnasium's renders and SB3's
``CnnPolicy`` expect. Two optional nuisances carry no information about the state:

- ``pixel_noise`` :math:`\sigma`: every channel of every pixel gets independent Gaussian noise of
  standard deviation :math:`255\sigma`, rounded and clipped to [0, 255];
- ``distractors`` K: a strip of cells under the grid, K of which take a uniformly random colour
  in every frame (a status bar that flickers).

Both are drawn from the random generator passed in (the env's ``np_random``), so a seeded env
gives the same frames.

**Decoding.** A frame shows state s when every cell of the grid looks like s's clean frame
there, to within noise: the mean squared difference over a cell's pixels (channels in [0, 1]) is
at most

.. math:: \tau_c = \sigma^2 + d_c^2 / 16,

where :math:`d_c^2` is the mean squared difference between the cell with and without the agent
(walls use the smallest :math:`d_c^2` of the map). So a cell is read as "agent" or "no agent" only
when it lies within a quarter of the distance between the two (in root mean square) beyond the
noise; the distractor strip is not read. A frame with no agent, two agents, an agent blurred
between two cells (a 50/50 mixture of two frames is half-way, :math:`d^2/4 > \tau`) or a changed
layout decodes to -1. ``max_pixel_noise`` is the largest :math:`\sigma` for which pure noise
stays 6 standard deviations of a cell's mean squared noise inside :math:`\tau_c` on every cell;
a larger ``pixel_noise`` is refused (frames of different states would be confused).

Example:
    >>> import numpy as np
    >>> from envs.layouts import parse_layout
    >>> frames = PixelFrames(parse_layout("S.\n.G").grid, cell_px=4)
    >>> x = frames.encode(np.array([0, 3]), np.random.default_rng(0))
    >>> x.shape, x.dtype.name
    ((2, 8, 8, 3), 'uint8')
    >>> frames.decode(x).tolist(), frames.decode(x // 2 + x[::-1] // 2).tolist()  # a blend is no state
    ([0, 3], [-1, -1])
"""

from __future__ import annotations

import math

import numpy as np

from envs.layouts import FLOOR, GOAL, HOLE, ONE_WAY_CHARS, START, WALL

__all__ = ["PixelFrames", "draw_grid", "agent_box", "CELL_COLOURS", "AGENT_COLOUR", "GRID_LINE", "STRIP_COLOUR"]

CELL_COLOURS = {  # RGB of each cell kind in rendered frames (envs.plotting draws goals and holes the same)
    WALL: (60, 60, 70),
    FLOOR: (245, 245, 245),
    START: (210, 225, 250),
    GOAL: (90, 190, 100),
    HOLE: (30, 30, 30),
    **{c: (250, 235, 170) for c in ONE_WAY_CHARS},
}
AGENT_COLOUR = (220, 40, 40)
GRID_LINE = 200  # grey of the line along each cell's top and left edge
STRIP_COLOUR = (128, 128, 128)  # the distractor strip's cells that do not flicker
NOISE_SIGMAS = 6.0  # pure noise must stay this many standard deviations inside a cell's tolerance


def draw_grid(grid: np.ndarray, cell: int) -> np.ndarray:
    """The ``(H*cell, W*cell, 3)`` uint8 picture of a layout's cells with grid lines, no agent."""
    H, W = grid.shape
    colours = np.array([CELL_COLOURS[ch] for ch in grid.ravel()], np.uint8).reshape(H, W, 3)
    img = np.kron(colours, np.ones((cell, cell, 1), np.uint8))
    img[::cell, :, :] = GRID_LINE
    img[:, ::cell, :] = GRID_LINE
    return img


def agent_box(cell: int) -> slice:
    """Pixel rows (and columns) of a cell that the agent covers: the middle half of a cell of 8
    pixels or more, all of it inside the grid line below that (so small frames keep it visible)."""
    m = cell // 4
    return slice(m, cell - m) if cell >= 8 else slice(1, cell)


class PixelFrames:
    """Frames of the states of one layout, with nuisances, and their decoding (see the module doc).

    Arguments:
        grid: the layout's cell characters, ``(H, W)``.
        cell_px: pixels per cell side, >= 2.
        pixel_noise: :math:`\\sigma`, the noise's standard deviation as a fraction of 255, in
            [0, ``max_pixel_noise``].
        distractors: flickering cells in the strip under the grid, >= 0.
    """

    def __init__(self, grid: np.ndarray, cell_px: int = 4, pixel_noise: float = 0.0, distractors: int = 0) -> None:
        if isinstance(cell_px, bool) or not isinstance(cell_px, (int, np.integer)) or cell_px < 2:
            raise ValueError(f"cell_px must be an integer >= 2, got {cell_px!r}")
        if isinstance(distractors, bool) or not isinstance(distractors, (int, np.integer)) or distractors < 0:
            raise ValueError(f"distractors must be an integer >= 0, got {distractors!r}")
        self.grid = np.asarray(grid)
        self.cell_px, self.distractors = int(cell_px), int(distractors)
        H, W = self.grid.shape
        c = self.cell_px
        floor = self.grid != WALL
        self.cell_to_state = np.full((H, W), -1, np.int64)
        self.cell_to_state[floor] = np.arange(int(floor.sum()))
        self.state_rc = np.argwhere(floor)  # row-major, as GridWorldEnv numbers its states
        self.strip_rows = -(-self.distractors // W)  # ceil: cells under the grid holding the distractors
        self.grid_px = H * c  # the frame's top rows that show the grid (the strip is below them)
        self.background = np.concatenate([draw_grid(self.grid, c), np.broadcast_to(
            np.array(STRIP_COLOUR, np.uint8), (self.strip_rows * c, W * c, 3))])
        box = agent_box(c)
        self._offsets = np.arange(c)[box]  # the agent's pixel rows/columns inside its cell
        everywhere = self.background[:self.grid_px].copy()  # the agent drawn in every floor cell at once
        rows, cols = self._agent_pixels(np.arange(len(self.state_rc)))
        everywhere[rows[:, :, None], cols[:, None, :]] = AGENT_COLOUR
        self._bg = self._cells(self.background[None, :self.grid_px].astype(np.float32) / 255)[0]
        self._agent = self._cells(everywhere[None].astype(np.float32) / 255)[0]
        sep = ((self._bg - self._agent) ** 2).mean(axis=(1, 3, 4))  # d_c^2, (H, W); 0 on walls
        self.separation = np.where(floor, sep, sep[floor].min())
        # a cell's mean squared noise has mean sigma^2 and standard deviation sigma^2 sqrt(2 / n) over
        # its n = 3 c^2 values: keep NOISE_SIGMAS of those inside d^2 / 16
        self.max_pixel_noise = float(math.sqrt(self.separation.min() / 16 / (NOISE_SIGMAS * math.sqrt(2 / (3 * c * c)))))
        if not 0.0 <= float(pixel_noise) <= self.max_pixel_noise:
            raise ValueError(f"pixel_noise must be in [0, {self.max_pixel_noise:.3f}] at cell_px {c} (more would make "
                             f"frames of different states hard to tell apart), got {pixel_noise!r}")
        self.pixel_noise = float(pixel_noise)
        self.tolerance = self.pixel_noise ** 2 + self.separation / 16  # tau_c, (H, W)

    @property
    def shape(self) -> tuple[int, int, int]:
        """The shape of a frame, (height, width, 3)."""
        return self.background.shape

    def _cells(self, x: np.ndarray) -> np.ndarray:
        """``(n, H*c, W*c, 3)`` -> ``(n, H, c, W, c, 3)``."""
        H, W = self.grid.shape
        c = self.cell_px
        return x.reshape(len(x), H, c, W, c, 3)

    def _agent_pixels(self, states: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The pixel rows and columns ``(n, k)`` each state's agent covers."""
        r, col = self.state_rc[states].T
        return r[:, None] * self.cell_px + self._offsets[None], col[:, None] * self.cell_px + self._offsets[None]

    def clean(self, states: np.ndarray) -> np.ndarray:
        """Frames ``(n, height, width, 3)`` uint8 of ``states`` without nuisances."""
        states = np.asarray(states, np.int64).reshape(-1)
        n = len(states)
        out = np.repeat(self.background[None], n, axis=0)
        rows, cols = self._agent_pixels(states)
        out[np.arange(n)[:, None, None], rows[:, :, None], cols[:, None, :]] = AGENT_COLOUR
        return out

    def encode(self, states: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
        """Frames ``(n, height, width, 3)`` uint8 of ``states``; nuisances drawn from ``rng`` (needed
        only when there are nuisances)."""
        if (self.pixel_noise > 0 or self.distractors > 0) and rng is None:
            raise ValueError("frames with pixel noise or distractors need a random generator (rng)")
        out = self.clean(states)
        n, c = len(out), self.cell_px
        if self.distractors:
            W = self.grid.shape[1]
            colour = rng.integers(0, 256, (n, self.distractors, 3), dtype=np.uint8)
            for j in range(self.distractors):
                r0, c0 = self.grid_px + (j // W) * c, (j % W) * c
                out[:, r0:r0 + c, c0:c0 + c] = colour[:, j, None, None, :]
        if self.pixel_noise > 0:
            noisy = out + rng.normal(0.0, 255 * self.pixel_noise, out.shape).astype(np.float32)
            out = np.clip(np.rint(noisy), 0, 255).astype(np.uint8)
        return out

    def decode(self, frames: np.ndarray, chunk: int = 4096) -> np.ndarray:
        """The state each frame shows, or -1 (the rule in the module doc); any real dtype, values in [0, 255]."""
        frames = np.asarray(frames)
        if frames.ndim != 4 or frames.shape[1:] != self.shape:
            raise ValueError(f"frames must have shape (n, {', '.join(map(str, self.shape))}), got {frames.shape}")
        out = np.empty(len(frames), np.int64)
        wall = self.cell_to_state < 0
        for i in range(0, len(frames), chunk):
            x = self._cells(frames[i:i + chunk, :self.grid_px].astype(np.float32) / 255)
            e_bg = ((x - self._bg) ** 2).mean(axis=(2, 4, 5))
            e_agent = ((x - self._agent) ** 2).mean(axis=(2, 4, 5))
            agent = (e_agent <= self.tolerance) & ~wall
            plain = e_bg <= self.tolerance
            count = agent.reshape(len(x), -1).sum(axis=1)
            ok = (agent | plain).reshape(len(x), -1).all(axis=1) & (count == 1)
            where = np.argmax(agent.reshape(len(x), -1), axis=1)
            out[i:i + chunk] = np.where(ok, self.cell_to_state.reshape(-1)[where], -1)
        return out
