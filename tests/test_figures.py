"""Figures sized for the page, one colour scale per quantity, legends, and no global matplotlib state."""

import subprocess
import sys

import gymnasium as gym
import numpy as np
import pytest
import torch
from stable_baselines3 import PPO

from agents.compare import compare
from envs import GridWorldEnv
from envs.gridworld import AGENT_COLOUR, CELL_COLOURS
from envs.layouts import GOAL, HOLE
from envs.plotting import value_figure
from generative.plotting import score_figure, score_limits, strip_figure

torch.set_num_threads(1)
LAYOUT = "S...\n.H..\n...G"


def _comparison():
    env = gym.make("gridlab/Grid-v0", layout=LAYOUT)
    return compare(PPO("MlpPolicy", env, seed=0, device="cpu"), env)


def _images(fig):
    return [im for ax in fig.axes for im in ax.get_images()]


def test_the_comparison_draws_its_three_value_panels_on_one_scale_and_accepts_a_shared_one():
    c = _comparison()
    lo, hi = c.value_range()
    assert lo <= min(c.V_star.min(), c.V_pi.min(), c.V_learned.min()) and hi >= c.V_star.max()
    fig = c.figure()
    clims = [im.get_clim() for im in _images(fig)]
    assert clims[:3] == [(lo, hi)] * 3
    assert clims[3][0] == -clims[3][1]  # the error panel is centred on zero
    assert [im.get_clim() for im in _images(c.figure((-2.0, 3.0)))][:3] == [(-2.0, 3.0)] * 3
    assert fig.get_size_inches()[0] * 110 == pytest.approx(1100)  # the report's column at the saved dpi


def _score_result(tv, kl, rollout, floor_rollout):
    """A score() result with the fields the figure reads."""
    floor = {"forward_kl": kl / 10, "reverse_kl": kl / 10, "rollout_tv": floor_rollout}
    return {"per_pair": {"pairs": [[0, 0], [0, 1], [1, 0]], "tv": tv}, "forward_kl": kl, "reverse_kl": 2 * kl,
            "rollout_tv": rollout, "noise_floor": floor}


def test_score_figures_share_their_axes_when_given_common_limits():
    class Model:  # what score_figure reads of a world model
        env, family = GridWorldEnv(LAYOUT), "vae"

    good = _score_result([0.02, 0.04, 0.01], 0.01, [0.02, 0.03], [0.02, 0.025])
    bad = _score_result([0.5, 0.7, 0.2], 1.5, [0.3, 0.6], [0.02, 0.025])
    limits = score_limits([good, bad])
    assert limits["tv"] == pytest.approx(1.1 * 0.6)  # state 0's mean over its two scored actions
    assert limits["kl"] == pytest.approx(1.1 * 3.0) and limits["rollout_tv"] == pytest.approx(1.1 * 0.6)
    for result in (good, bad):
        fig = score_figure(Model(), result, limits)
        heat, kl, rollout = fig.axes[:3]
        assert heat.get_images()[0].get_clim() == (0.0, limits["tv"])
        assert kl.get_ylim()[1] == limits["kl"] and rollout.get_ylim()[1] == limits["rollout_tv"]
        assert [t.get_text() for t in kl.texts] == [f"{result['forward_kl']:.3f}", f"{result['reverse_kl']:.3f}"]
    assert score_limits([good])["rollout_tv"] == 0.1  # never an axis filled by sampling noise alone


def test_rollout_strips_say_they_are_independent_samples_and_name_their_colours():
    env = GridWorldEnv(LAYOUT)
    fig = strip_figure(env, np.array([0, 1, -1]), np.array([0, 4, 5]), "vae")
    assert "independent samples" in fig._suptitle.get_text()
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert {"agent", "goal", "hole", "decodes to no state"} <= set(labels)
    clean = strip_figure(env, np.array([0, 1, 2]), np.array([0, 4, 5]), "vae")
    assert "decodes to no state" not in [t.get_text() for t in clean.legends[0].get_texts()]


def test_heatmaps_draw_goals_and_holes_in_the_colours_of_the_rendered_frames():
    env = GridWorldEnv(LAYOUT)
    fig = value_figure(env, np.zeros(env.n_states), title="V")
    assert len(fig.axes) == 2  # the heatmap and its colour bar
    marks = [tuple(np.round(255 * c.get_facecolor()[0][:3]).astype(int)) for c in fig.axes[0].collections]
    assert marks == [CELL_COLOURS[GOAL], CELL_COLOURS[HOLE]]
    frame = env.render_rgb(0)
    assert tuple(frame[8, 8]) == AGENT_COLOUR
    r, c = np.argwhere(env.layout.grid == HOLE)[0]
    assert tuple(frame[r * 16 + 2, c * 16 + 2]) == CELL_COLOURS[HOLE]


def test_library_figures_leave_matplotlib_global_state_alone(tmp_path):
    """No backend switch and no pyplot: a notebook's or an application's matplotlib is theirs."""
    script = (
        "import sys, matplotlib\n"
        "matplotlib.use('svg')\n"
        "import gymnasium as gym, torch\n"
        "from stable_baselines3 import PPO\n"
        "from agents.compare import compare, plot_learning_curves\n"
        f"env = gym.make('gridlab/Grid-v0', layout={LAYOUT!r})\n"
        "c = compare(PPO('MlpPolicy', env, seed=0, device='cpu'), env)\n"
        f"c.plot({str(tmp_path / 'c.png')!r})\n"
        f"open({str(tmp_path / 'e.csv')!r}, 'w').write('timesteps,return_gap,rmse_vs_pi,rmse_vs_star,policy_agreement\\n1,0.5,0.1,0.2,0.5\\n')\n"
        f"plot_learning_curves({str(tmp_path / 'e.csv')!r}, {str(tmp_path / 'l.png')!r})\n"
        "print(matplotlib.get_backend(), 'matplotlib.pyplot' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["svg", "False"]
    assert (tmp_path / "c.png").stat().st_size > 0 and (tmp_path / "l.png").stat().st_size > 0
