"""Writes the walkthrough notebooks from their cell sources (run: python notebooks/make_notebooks.py).

The notebooks are then executed (``tests/test_notebooks.py`` runs them with small budgets; the
committed copies were executed with the defaults).
"""

from pathlib import Path

import nbformat as nbf

HERE = Path(__file__).parent


def notebook(cells: list[tuple[str, str]]) -> nbf.NotebookNode:
    nb = nbf.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbf.v4.new_markdown_cell(src) if kind == "md" else nbf.v4.new_code_cell(src) for kind, src in cells]
    return nb


EXACT_VS_LEARNED = [
    ("md", "# Exact vs learned: how close do PPO and DQN get to the truth?\n\n"
           "We solve a grid exactly, train two Stable-Baselines3 agents briefly, and measure each against the exact "
           "value of its own policy ($V^{\\pi_\\theta}$, a linear solve) and the optimal values ($V^*$).\n\n"
           "`GRIDLAB_STEPS` sets the training budget (the test suite runs this notebook with a tiny one)."),
    ("code", "import os\n"
             "import matplotlib\nmatplotlib.use('Agg')\n"
             "import matplotlib.pyplot as plt\n"
             "import gymnasium as gym\n"
             "import numpy as np\n"
             "import torch\n"
             "import envs\n"
             "from agents import dp, sb3\n"
             "from agents.compare import compare, plot_learning_curves\n"
             "from envs.plotting import plot_values\n"
             "torch.set_num_threads(1)  # small MLPs: one thread is fastest\n"
             "STEPS = int(os.environ.get('GRIDLAB_STEPS', 30000))\n"
             "OUT = os.environ.get('GRIDLAB_OUT', 'runs/notebook01')\n"
             "ENV_ID = 'gridlab/FourRooms-v0'"),
    ("md", "## 1. The exact solution\nPolicy iteration on the sparse model; `error_bound` is a certified bound on $|V - V^*|$."),
    ("code", "env = gym.make(ENV_ID)\n"
             "mdp = env.unwrapped.mdp\n"
             "sol = dp.solve(mdp, gamma=0.99)\n"
             "print(f'{mdp.n_states} states, V*(s0) = {mdp.initial @ sol.V:.4f}, bound {sol.error_bound:.1e}, {sol.iterations} iterations')\n"
             "fig, ax = plt.subplots(figsize=(5, 5))\n"
             "plot_values(ax, env.unwrapped, sol.V, sol.policy, title='V* and the optimal policy')\n"
             "plt.show()"),
    ("md", "## 2. Train PPO and DQN with the shipped presets"),
    ("code", "runs = {}\n"
             "for algo in ('ppo', 'dqn'):\n"
             "    model = sb3.train(ENV_ID, algo, total_timesteps=STEPS, seed=0, out_dir=f'{OUT}/{algo}', progress_bar=False)\n"
             "    runs[algo] = model\n"
             "    print(algo, '->', model.run_dir)"),
    ("md", "## 3. Compare exactly\nThe return gap is $\\mu_0^\\top(V^* - V^{\\pi_\\theta})$: what the agent's policy loses from the start, "
           "computed exactly, not by rollouts."),
    ("code", "for algo, model in runs.items():\n"
             "    c = compare(model, env)\n"
             "    print(f'--- {algo}')\n"
             "    print(c.table())\n"
             "    c.plot(f'{OUT}/{algo}_comparison.png')"),
    ("code", "from IPython.display import Image, display\n"
             "for algo in runs:\n"
             "    display(Image(f'{OUT}/{algo}_comparison.png'))"),
    ("md", "## 4. Learning curves of the exact metrics\n`ExactEvalCallback` logged them during training (also to TensorBoard under `exact/`)."),
    ("code", "plot_learning_curves({a: f'{m.run_dir}/exact_eval.csv' for a, m in runs.items()}, f'{OUT}/curves.png')\n"
             "display(Image(f'{OUT}/curves.png'))"),
]


def main() -> None:
    nbf.write(notebook(EXACT_VS_LEARNED), HERE / "01_exact_vs_learned.ipynb")


if __name__ == "__main__":
    main()
