"""Writes the walkthrough notebooks from their cell sources.

``python notebooks/make_notebooks.py --execute [NAME.ipynb ...]`` also runs them (all, or the named ones) with their default budgets (the
committed copies are executed so); ``tests/test_notebooks.py`` runs them with small budgets.
"""

from pathlib import Path

import nbformat as nbf

HERE = Path(__file__).parent


def notebook(cells: list[tuple[str, str]]) -> nbf.NotebookNode:
    nb = nbf.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbf.v4.new_markdown_cell(src) if kind == "md" else nbf.v4.new_code_cell(src) for kind, src in cells]
    return nb


QUICKSTART = [
    ("md", "# gridlab in five minutes\n\n"
           "Worlds with exact models, solvers with certified bounds, agents and world models measured against the truth. "
           "`GRIDLAB_STEPS` sets the agent's budget (the test suite runs this notebook with a tiny one)."),
    ("code", "import os\nimport time\n"

             "import matplotlib.pyplot as plt\n"
             "import gymnasium as gym\n"
             "import numpy as np\n"
             "import torch\n"
             "import envs  # registers the gridlab/ suite\n"
             "from envs import GridWorldEnv, TabularMDP\n"
             "from envs.gridworld import ACTIONS\n"
             "from envs.plotting import plot_values\n"
             "from agents import dp, sb3\n"
             "from agents.compare import compare\n"
             "from gridlab.findings import agent_findings\n"
             "torch.set_num_threads(1)\n"
             "STEPS = int(os.environ.get('GRIDLAB_STEPS', 20000))\n"
             "OUT = os.environ.get('GRIDLAB_OUT', time.strftime('runs/notebook00-%Y%m%d-%H%M%S'))  # a fresh folder per run"),
    ("md", "## A world and its exact model\nEvery env carries `mdp`: sparse `P` of shape (S*A, S), `R` (S, A), terminals and the start distribution."),
    ("code", "env = gym.make('gridlab/RiskyShortcut-v0')\n"
             "mdp = env.unwrapped.mdp\n"
             "print(env.unwrapped.render_ansi())\n"
             "print(mdp.n_states, 'states,', mdp.n_actions, 'actions,', mdp.P.nnz, 'transitions; slip', env.unwrapped.slip)"),
    ("md", "## Solve it exactly\nA shortcut runs along a row of holes; a detour goes round. Which one is optimal depends "
           "on the slip (how often a move goes sideways) and on gamma (how much a later reward is worth). The optimal first "
           "move from the start says which route each solution takes."),
    ("code", "fig, axes = plt.subplots(1, 3, figsize=(15, 3.6))\n"
             "for ax, (slip, gamma) in zip(axes, [(0.1, 0.99), (0.0, 0.99), (0.1, 0.9)]):\n"
             "    world = GridWorldEnv(env.unwrapped.layout, slip=slip)\n"
             "    sol = dp.solve(world.mdp, gamma)\n"
             "    first = ACTIONS[sol.policy[int(world.mdp.initial.argmax())]]\n"
             "    route = 'the shortcut along the holes' if first == 'right' else 'the detour'\n"
             "    print(f'slip {slip}, gamma {gamma}: first move {first}, so {route}; V*(s0) = {world.mdp.initial @ sol.V:.4f}')\n"
             "    plot_values(ax, world, sol.V, sol.policy, title=f'slip={slip}, gamma={gamma}: |V - V*| <= {sol.error_bound:.0e}')\n"
             "plt.show()"),
    ("md", "## Any toy_text env, any policy\n`TabularMDP.from_gym` reads FrozenLake, CliffWalking or Taxi; `policy_evaluation` is an exact linear solve."),
    ("code", "lake = TabularMDP.from_gym(gym.make('FrozenLake-v1'))\n"
             "V_star = dp.solve(lake, 0.99).V\n"
             "V_random = dp.policy_evaluation(lake, np.full((lake.n_states, 4), 0.25), 0.99)\n"
             "print(f'FrozenLake V*(s0) = {V_star[0]:.4f}; the uniform random policy gets {V_random[0]:.4f}')"),
    ("md", "## Train an agent and measure it exactly"),
    ("code", "model = sb3.train('gridlab/FourRooms-v0', 'ppo', total_timesteps=STEPS, seed=0, out_dir=f'{OUT}/ppo', progress_bar=False)\n"
             "c = compare(model, gym.make('gridlab/FourRooms-v0'))\n"
             "print(c.table())\n"
             "print('\\nWhat these numbers support (computed from them, as in the demo report):')\n"
             "for sentence in agent_findings({'ppo': c.metrics()}):\n"
             "    print('-', sentence)"),
    ("md", "Next: `01_exact_vs_learned.ipynb` (agents in depth) and `02_world_models.ipynb` (generative world models)."),
]

EXACT_VS_LEARNED = [
    ("md", "# Exact vs learned: how close do PPO and DQN get to the truth?\n\n"
           "We solve a grid exactly, train two Stable-Baselines3 agents briefly, and measure each against the exact "
           "value of its own policy ($V^{\\pi_\\theta}$, a linear solve) and the optimal values ($V^*$).\n\n"
           "The budget is small on purpose: whether an agent learned the task at all is one of the things measured, and the "
           "sentences under the numbers are computed from them (as the demo report's are), never written in advance.\n\n"
           "`GRIDLAB_STEPS` sets the training budget (the test suite runs this notebook with a tiny one)."),
    ("code", "import os\nimport time\n"

             "import matplotlib.pyplot as plt\n"
             "import gymnasium as gym\n"
             "import numpy as np\n"
             "import torch\n"
             "import envs\n"
             "from agents import dp, sb3\n"
             "from agents.compare import compare, plot_learning_curves\n"
             "from envs.plotting import value_figure\n"
             "from gridlab.findings import agent_findings\n"
             "torch.set_num_threads(1)  # small MLPs: one thread is fastest\n"
             "STEPS = int(os.environ.get('GRIDLAB_STEPS', 30000))\n"
             "OUT = os.environ.get('GRIDLAB_OUT', time.strftime('runs/notebook01-%Y%m%d-%H%M%S'))  # a fresh folder per run\n"
             "ENV_ID = 'gridlab/FourRooms-v0'"),
    ("md", "## 1. The exact solution\nPolicy iteration on the sparse model; `error_bound` is a certified bound on $|V - V^*|$."),
    ("code", "env = gym.make(ENV_ID)\n"
             "mdp = env.unwrapped.mdp\n"
             "sol = dp.solve(mdp, gamma=0.99)\n"
             "print(f'{mdp.n_states} states, V*(s0) = {mdp.initial @ sol.V:.4f}, bound {sol.error_bound:.1e}, {sol.iterations} iterations')\n"
             "value_figure(env.unwrapped, sol.V, sol.policy, 'V* and the optimal policy')"),
    ("md", "## 2. Train PPO and DQN with the shipped presets"),
    ("code", "runs = {}\n"
             "for algo in ('ppo', 'dqn'):\n"
             "    model = sb3.train(ENV_ID, algo, total_timesteps=STEPS, seed=0, out_dir=f'{OUT}/{algo}', progress_bar=False)\n"
             "    runs[algo] = model\n"
             "    print(algo, '->', model.run_dir)"),
    ("md", "## 3. Compare exactly\nThe return gap is $\\mu_0^\\top(V^* - V^{\\pi_\\theta})$: what the agent's policy loses from the start, "
           "computed exactly, not by rollouts."),
    ("code", "comparisons = {algo: compare(model, env) for algo, model in runs.items()}\n"
             "for algo, c in comparisons.items():\n"
             "    print(f'--- {algo}')\n"
             "    print(c.table())\n"
             "print('\\nWhat these numbers support (computed from them, as in the demo report):')\n"
             "for sentence in agent_findings({algo: c.metrics() for algo, c in comparisons.items()}):\n"
             "    print('-', sentence)"),
    ("md", "The heatmaps: V* is the same in both figures, so both are drawn on one colour scale."),
    ("code", "from IPython.display import display\n"
             "ranges = [c.value_range() for c in comparisons.values()]\n"
             "shared = (min(r[0] for r in ranges), max(r[1] for r in ranges))\n"
             "for algo, c in comparisons.items():\n"
             "    display(c.figure(value_range=shared))"),
    ("md", "## 4. Learning curves of the exact metrics\n`ExactEvalCallback` logged them during training (also to TensorBoard under `exact/`)."),
    ("code", "from IPython.display import Image\n"
             "plot_learning_curves({a: f'{m.run_dir}/exact_eval.csv' for a, m in runs.items()}, f'{OUT}/curves.png')\n"
             "display(Image(f'{OUT}/curves.png'))"),
]


WORLD_MODELS = [
    ("md", "# World models scored exactly: VAE, GAN and flow on a slippery grid\n\n"
           "Each model learns $P(o' \\mid o, a)$ from transitions. Because the true dynamics are known, every model is "
           "scored exactly: total variation, both directions of KL, mode recall, hallucinated mass, and the TV of "
           "imagined multi-step rollouts. The lecture predicts a pattern: maximum likelihood (VAE, flow) minimises "
           "$\\mathrm{KL}(P_{data} \\| P_{model})$ and tends to cover modes; the GAN game relates to the JSD and can drop them. "
           "Whether these models show it is not assumed: every number is set beside its noise floor (what a perfect model "
           "scores with the same sample sizes) and the sentences at the end of section 3 are computed from the numbers.\n\n"
           "`GRIDLAB_QUICK=1` runs it with a tiny budget (the test suite does)."),
    ("code", "import os\nimport time\n"

             "import matplotlib.pyplot as plt\n"
             "import gymnasium as gym\n"
             "import numpy as np\n"
             "import torch\n"
             "import envs\n"
             "from agents import dp\n"
             "from agents.compare import compare\n"
             "from generative import collect_transitions, train_world_model, score, WorldModelEnv, sequence_log_prob\n"
             "from generative.registry import family_names\n"
             "from gridlab.findings import world_model_findings\n"
             "torch.set_num_threads(1)\n"
             "QUICK = bool(os.environ.get('GRIDLAB_QUICK'))\n"
             "OUT = os.environ.get('GRIDLAB_OUT', time.strftime('runs/notebook02-%Y%m%d-%H%M%S'))  # a fresh folder per run\n"
             "os.makedirs(OUT, exist_ok=True)\n"
             "N, EPOCHS = (3000, 2) if QUICK else (50000, None)  # None: each family's default budget"),
    ("md", "## 1. Data: transitions from every (state, action) of a slippery 5x5 map"),
    ("code", "env = gym.make('gridlab/Grid-v0', layout='S...H\\n.....\\n..H..\\n.....\\nH...G', slip=0.2, obs_mode='onehot')\n"
             "data = collect_transitions(env, N, seed=0)\n"
             "train, held = data.split(0.9)\n"
             "print(len(train), 'training transitions,', len(held), 'held out; observation shape', tuple(data.obs.shape[1:]))"),
    ("md", "## 2. Train the three families with their defaults and score them exactly"),
    ("code", "models, results = {}, {}\n"
             "for family in family_names():  # every registered family: vae, gan, flow, and any added\n"
             "    models[family] = train_world_model(train, family, epochs=EPOCHS, progress=False, device='auto')\n"
             "    results[family] = score(models[family], n_samples=200 if QUICK else 1000, horizon=5 if QUICK else 20,\n"
             "                            n_rollouts=200 if QUICK else 2000, held_out=held)\n"
             "keys = ['tv', 'forward_kl', 'reverse_kl', 'jsd', 'mode_recall', 'hallucinated_mass']\n"
             "print(f\"{'family':6s}\" + ''.join(f'{k:>18s}' for k in keys) + f\"{'train s':>9s}\")\n"
             "for f, r in results.items():\n"
             "    print(f'{f:6s}' + ''.join(f'{r[k]:18.4f}' for k in keys) + f'{models[f].train_seconds:9.1f}')\n"
             "floor = results['vae']['noise_floor']  # same world and sample sizes for every family\n"
             "print('floor ' + ''.join(f'{floor[k]:18.4f}' for k in keys) + '   (a perfect model, same sample sizes)')"),
    ("md", "## 3. Forward vs reverse KL, and rollouts over time"),
    ("code", "fig, axes = plt.subplots(1, 2, figsize=(11, 3.5))\n"
             "x = np.arange(len(results))\n"
             "axes[0].bar(x - 0.2, [results[f]['forward_kl'] for f in results], 0.4, label='KL(P || Q): misses modes')\n"
             "axes[0].bar(x + 0.2, [results[f]['reverse_kl'] for f in results], 0.4, label='KL(Q || P): invents mass')\n"
             "axes[0].axhline(max(floor['forward_kl'], floor['reverse_kl']), color='black', ls='--', lw=1, label='perfect model (noise floor)')\n"
             "axes[0].set_xticks(x, list(results)); axes[0].legend(fontsize=8); axes[0].set_title('the two directions of KL')\n"
             "for f, r in results.items():\n"
             "    axes[1].plot(np.arange(1, len(r['rollout_tv']) + 1), r['rollout_tv'], marker='.', label=f)\n"
             "axes[1].plot(np.arange(1, len(floor['rollout_tv']) + 1), floor['rollout_tv'], ls='--', color='gray', label='perfect model')\n"
             "axes[1].set_xlabel('horizon k'); axes[1].set_title('TV of imagined vs exact k-step state distribution'); axes[1].legend()\n"
             "plt.tight_layout(); plt.savefig(f'{OUT}/kl_and_rollouts.png'); plt.show()\n"
             "print('What these numbers support (computed from them, as in the demo report):')\n"
             "for sentence in world_model_findings(results):\n"
             "    print('-', sentence)"),
    ("md", "## 4. Whole imagined sequences, scored by the forward algorithm\n"
           "The exact log-probability of each imagined state sequence under the true dynamics and the uniform policy "
           "(summing over the hidden actions): $-\\infty$ means the model imagined something impossible."),
    ("code", "mdp = env.unwrapped.mdp\n"
             "s0 = np.zeros(200, dtype=int)\n"
             "for f, m in models.items():\n"
             "    roll = m.rollout(env.unwrapped.encode_batch(s0), 'uniform', horizon=8, n=200, seed=1)\n"
             "    lp = sequence_log_prob(mdp, roll['states'])\n"
             "    possible = lp[np.isfinite(lp)]\n"
             "    mean = f'{possible.mean():.2f}' if possible.size else 'none is possible'\n"
             "    print(f'{f:5s} impossible sequences: {np.mean(~np.isfinite(lp)):.1%}   mean log-prob of the possible ones: {mean}')"),
    ("md", "## 5. Train an agent in the dream, evaluate it in the real MDP exactly"),
    ("code", "from stable_baselines3 import PPO\n"
             "dream = WorldModelEnv(models['vae'], max_episode_steps=100)\n"
             "agent = PPO('MlpPolicy', dream, seed=0, device='cpu', n_steps=256, batch_size=64, verbose=0)\n"
             "agent.learn(2000 if QUICK else 60000)\n"
             "c = compare(agent, env)\n"
             "print(f'trained in the dream; in the real MDP its return gap is {c.return_gap:.4f} '\n"
             "      f'({100 * c.relative_gap:.1f}% of V*(s0) = {c.V_star_s0:.4f})')"),
]


SWEEPS = [
    ("md", "# Many seeds, several algorithms, several worlds: a sweep on Ray\n\n"
           "One seed says little about a deep-RL algorithm (Agarwal et al., *Deep RL at the Edge of the Statistical "
           "Precipice*, NeurIPS 2021). Here every (world, algorithm, seed) is one Ray Tune trial, and every trial is "
           "judged exactly: its **normalised score** $(J^\\pi - J^{unif}) / (J^* - J^{unif})$ comes from the world's model "
           "(1 is optimal, 0 is the uniform-random policy), with no evaluation noise. What is left is the noise of "
           "training, and the interval estimates say how much of it there is.\n\n"
           "The question: *at this budget, does PPO beat A2C on these worlds?* It is a hypothesis until the intervals "
           "answer it. `GRIDLAB_STEPS` sets the budget per trial (the test suite runs this notebook with a tiny one)."),
    ("code", "import csv\nimport os\nimport time\n"
             "import torch\n"
             "from gridlab.sweep import SweepSpec, run_sweep\n"
             "from gridlab.findings import sweep_findings\n"
             "from gridlab.sweep_report import curves_figure, interval_figure, profile_figure\n"
             "torch.set_num_threads(1)  # the driver; every trial sets its own\n"
             "STEPS = int(os.environ.get('GRIDLAB_STEPS', 20000))\n"
             "QUICK = bool(os.environ.get('GRIDLAB_QUICK'))\n"
             "OUT = os.environ.get('GRIDLAB_OUT', time.strftime('runs/notebook03-%Y%m%d-%H%M%S'))  # a fresh folder per run"),
    ("md", "## 1. The sweep\nA spec names the worlds, methods and seeds; `run_sweep` starts a local Ray instance sized to "
           "this machine (or joins a cluster given `address=` or `RAY_ADDRESS`), runs one trial per combination on one "
           "CPU each, and writes `trials.csv`, `curves.csv`, `aggregate.json` and `report.html`."),
    ("code", "spec = SweepSpec('agents', worlds=('gridlab/OpenRoom-v0', 'gridlab/OneWay-v0'), methods=('ppo', 'a2c'),\n"
             "                 seeds=(0, 1, 2) if QUICK else (0, 1, 2, 3, 4), steps=STEPS, evals=4)\n"
             "t = time.perf_counter()\n"
             "agg = run_sweep(spec, f'{OUT}/sweep', progress=False)\n"
             "print(f'{len(spec.trials())} trials in {time.perf_counter() - t:.0f} s')\n"
             "with open(f'{OUT}/sweep/trials.csv') as f:\n"
             "    rows = list(csv.DictReader(f))\n"
             "print(f\"{'world':22s} {'method':6s} {'seed':>4s} {'score':>7s} {'gap/|V*|':>9s} {'agreement':>9s}\")\n"
             "for r in rows:\n"
             "    print(f\"{r['world']:22s} {r['method']:6s} {r['seed']:>4s} {float(r['normalised_score']):7.3f} \"\n"
             "          f\"{float(r['relative_gap']):9.3f} {float(r['policy_agreement']):9.2f}\")"),
    ("md", "## 2. Interval estimates\nIQM (the mean of the middle half of all runs x worlds), median, mean and "
           "optimality gap, each with a stratified-bootstrap 95% interval (rliable). Two methods are ranked only where "
           "their intervals do not overlap."),
    ("code", "for m, a in agg.items():\n"
             "    print(f\"{m:4s} IQM {a['iqm'][0]:.3f} [{a['iqm'][1]:.3f}, {a['iqm'][2]:.3f}]   \"\n"
             "          f\"P({m} > other) = \" + ', '.join(f'{p:.2f} [{lo:.2f}, {hi:.2f}] vs {b}' for b, (p, lo, hi) in a['probability_of_improvement'].items()))\n"
             "interval_figure(agg)"),
    ("md", "## 3. Performance profiles\nThe share of runs x worlds scoring above each threshold tau: one curve above "
           "another everywhere is better at every level of ambition."),
    ("code", "profile_figure(agg)"),
    ("md", "## 4. Exact learning curves\nThe return gap as a share of $|V^*(s_0)|$ at each evaluation during training, "
           "computed exactly: median over seeds, band from min to max."),
    ("code", "with open(f'{OUT}/sweep/curves.csv') as f:\n"
             "    curves = [{k: (v if k in ('name', 'world', 'method') else float(v)) for k, v in r.items()} for r in csv.DictReader(f)]\n"
             "curves_figure(curves)"),
    ("md", "## 5. What the numbers support"),
    ("code", "print('What these numbers support (computed from them, as in the sweep report):')\n"
             "for sentence in sweep_findings(agg):\n"
             "    print('-', sentence)"),
]


PIXEL_WORLD_MODELS = [
    ("md", "# World models of frames, scored exactly\n\n"
           "World-model research models what an agent *sees*: frames. Such models are usually judged by PSNR or by the "
           "returns of agents trained in them, because their worlds have no known model. This lab's worlds do: every "
           "frame a model imagines is decoded back to the state drawn in it (or to *no state*), so a pixel world model "
           "gets the same exact scores as a symbolic one (TV, both KL directions, mode recall, hallucinated mass, "
           "rollout TV), with PSNR beside them. The question: *do the pixel metrics the field uses agree with the "
           "exact ones?* (The test suite runs this notebook with tiny budgets; `GRIDLAB_QUICK` sets them.)"),
    ("code", "import os\nimport time\n"
             "import matplotlib.pyplot as plt\n"
             "import gymnasium as gym\n"
             "import numpy as np\n"
             "import torch\n"
             "import envs\n"
             "from agents.compare import compare\n"
             "from agents.extractors import SMALL_CNN\n"
             "from generative import WorldModel, WorldModelEnv, collect_transitions, score, train_world_model\n"
             "from generative.registry import family_names\n"
             "from gridlab.findings import pixel_findings, world_model_findings\n"
             "torch.set_num_threads(1)\n"
             "QUICK = bool(os.environ.get('GRIDLAB_QUICK'))\n"
             "OUT = os.environ.get('GRIDLAB_OUT', time.strftime('runs/notebook04-%Y%m%d-%H%M%S'))  # a fresh folder per run\n"
             "os.makedirs(OUT, exist_ok=True)\n"
             "N, STEPS, CODEC_STEPS, AGENT_STEPS = (2000, 150, 80, 512) if QUICK else (50000, 4000, 1000, 60000)"),
    ("md", "## 1. Frames: what the agent sees, and what decodes to a state\n"
           "`obs_mode='pixels'` gives the `rgb_array` frame, 4 pixels per cell. `decode` returns the state whose agent "
           "is drawn in a frame, or -1: a blend of two frames, a blank grid and pixel noise beyond the documented "
           "limit are no state."),
    ("code", "LAYOUT = 'S...\\n.H.H\\n...H\\nH..G'\n"
             "env = gym.make('gridlab/Grid-v0', layout=LAYOUT, slip=0.2, obs_mode='pixels')\n"
             "world = env.unwrapped\n"
             "noisy = gym.make('gridlab/Grid-v0', layout=LAYOUT, slip=0.2, obs_mode='pixels', pixel_noise=0.05, distractors=2).unwrapped\n"
             "noisy.reset(seed=0)\n"
             "frames = {'state 0': world.encode(0), 'state 0, noise + distractors': noisy.encode(0),\n"
             "          'blend of states 0 and 1': ((world.encode(0).astype(float) + world.encode(1)) / 2).astype(np.uint8)}\n"
             "fig, axes = plt.subplots(1, 3, figsize=(9, 3.2))\n"
             "for ax, (name, f) in zip(axes, frames.items()):\n"
             "    dec = (noisy if 'noise' in name else world).decode_batch(f[None])[0]\n"
             "    ax.imshow(f, interpolation='nearest'); ax.set_title(f'{name}\\ndecodes to {dec}', fontsize=9); ax.axis('off')\n"
             "plt.tight_layout(); plt.savefig(f'{OUT}/frames.png'); plt.show()\n"
             "print('frame shape', world.observation_space.shape, world.observation_space.dtype)"),
    ("md", "## 2. Train the three families on frames and score them exactly\n"
           "Each family uses the latent route of World Models: a small VQ autoencoder of frames, then the family models "
           "the next frame's code given the frame and the action; a sampled code is decoded to a frame."),
    ("code", "data = collect_transitions(env, N, seed=0)\n"
             "models, results = {}, {}\n"
             "for family in family_names():\n"
             "    models[family] = train_world_model(data, family, steps=STEPS, frame_codec={'steps': CODEC_STEPS},\n"
             "                                       progress=False, device='auto', seed=0)\n"
             "    results[family] = score(models[family], n_samples=50 if QUICK else 500, horizon=5 if QUICK else 20,\n"
             "                            n_rollouts=100 if QUICK else 2000)\n"
             "floor = results['vae']['noise_floor']\n"
             "print(f\"{'family':8s}{'TV':>8s}{'recall':>8s}{'halluc.':>9s}{'PSNR samples':>14s}{'PSNR mean frame':>17s}{'train s':>9s}\")\n"
             "for f, r in results.items():\n"
             "    print(f\"{f:8s}{r['tv']:8.3f}{r['mode_recall']:8.3f}{r['hallucinated_mass']:9.4f}\"\n"
             "          f\"{r['pixel']['psnr_samples']:14.1f}{r['pixel']['psnr_expected_frame']:17.1f}{models[f].train_seconds:9.0f}\")\n"
             "print(f\"{'perfect':8s}{floor['tv']:8.3f}{floor['mode_recall']:8.3f}{floor['hallucinated_mass']:9.4f}\"\n"
             "      f\"{floor['pixel']['psnr_samples']:14.1f}{'inf':>17s}   (same sample sizes)\")"),
    ("md", "## 3. A blurry model: the best PSNR, and the wrong dynamics\n"
           "A model that outputs the true *expected* frame minimises pixel MSE. Its frame is a blend wherever the next "
           "state is uncertain; `decode` reads a blend as its dominant state when that state has at least 3/4 of the "
           "weight, and as no state otherwise. So such a model either drops every less likely outcome or shows no "
           "state at all, and the exact scores say which."),
    ("code", "class Blurry(WorldModel):\n"
             "    \"\"\"Outputs the exact expected next frame (it knows the true model).\"\"\"\n"
             "    def sample_next(self, obs, action, generator=None):\n"
             "        s = self.env.decode_batch(np.asarray(obs))\n"
             "        F = self.env.frames.clean(np.arange(self.env.n_states)).astype(np.float64)\n"
             "        P = self.env.mdp.P[s * self.n_actions + np.asarray(action).reshape(-1)].toarray()\n"
             "        return np.tensordot(P, F, axes=1).astype(np.float32)\n"
             "blurry = Blurry('vae', models['vae'].codec, world.init_kwargs, device='cpu')\n"
             "results['blurry'] = score(blurry, n_samples=50 if QUICK else 500, horizon=5 if QUICK else 20,\n"
             "                          n_rollouts=100 if QUICK else 2000)  # the sizes the families were scored with\n"
             "r = results['blurry']\n"
             "print(f\"blurry: TV {r['tv']:.3f}, hallucinated {r['hallucinated_mass']:.3f}, PSNR of samples {r['pixel']['psnr_samples']:.1f} dB\")\n"
             "s, a = 5, 2\n"
             "fig, axes = plt.subplots(1, 4, figsize=(10, 3))\n"
             "nxt, p = world.mdp.transitions(s, a)\n"
             "axes[0].imshow(world.encode(int(nxt[np.argmax(p)]))); axes[0].set_title(f'true: most likely next\\n(p = {p.max():.2f})', fontsize=9)\n"
             "for ax, name in zip(axes[1:], ['vae', 'gan', 'blurry']):\n"
             "    m = models.get(name, blurry)\n"
             "    f = m.sample_next(world.encode(s)[None], np.array([a]), generator=torch.Generator().manual_seed(0))[0]\n"
             "    ax.imshow(np.clip(f, 0, 255).astype(np.uint8)); ax.set_title(f'{name}: decodes to {world.decode_batch(f[None])[0]}', fontsize=9)\n"
             "for ax in axes: ax.axis('off')\n"
             "plt.tight_layout(); plt.savefig(f'{OUT}/samples.png'); plt.show()"),
    ("md", "## 4. An agent trained in the pixel dream, judged in the real world\n"
           "PPO with a `CnnPolicy` (`SMALL_CNN`: these frames are smaller than SB3's NatureCNN reads) learns only from "
           "imagined frames; then its policy is evaluated exactly in the real pixel world."),
    ("code", "best = min(family_names(), key=lambda f: results[f]['tv'])\n"
             "from stable_baselines3 import PPO\n"
             "dream = WorldModelEnv(models[best], max_episode_steps=100)\n"
             "agent = PPO('CnnPolicy', dream, seed=0, device='cpu', n_steps=256, batch_size=64, policy_kwargs=SMALL_CNN, verbose=0)\n"
             "agent.learn(AGENT_STEPS)\n"
             "c = compare(agent, env)\n"
             "print(f'trained in the {best.upper()} dream; in the real MDP its return gap is {c.return_gap:.4f} '\n"
             "      f'({100 * c.relative_gap:.1f}% of V*(s0) = {c.V_star_s0:.4f}); greedy: {c.return_gap_greedy:.4f}')"),
    ("md", "## 5. What the numbers support"),
    ("code", "print('What these numbers support (computed from them, as in the demo report):')\n"
             "for sentence in world_model_findings({f: results[f] for f in family_names()}) + pixel_findings(results):\n"
             "    print('-', sentence)"),
]


PARTIAL_OBSERVABILITY = [
    ("md", "# Partial observability, exactly\n\n"
           "The agent no longer sees the state. What it knows is the belief: the forward algorithm over the hidden states, "
           "exact here because every world carries its model. The optimum is known within certified bounds, so agents with "
           "and without memory are judged against it. `GRIDLAB_QUICK=1` runs this notebook with tiny budgets (the test suite does)."),
    ("code", "import os\nimport time\n"
             "import gymnasium as gym\n"
             "import matplotlib.pyplot as plt\n"
             "import numpy as np\n"
             "import torch\n"
             "import envs  # registers the gridlab/ ids\n"
             "from envs.pomdp_worlds import tiger\n"
             "from agents import sb3\n"
             "from agents.pomdp import solve\n"
             "from agents.pomdp_compare import compare_pomdp, plot_pomdp_learning_curves, pomdp_references\n"
             "from gridlab.findings import pomdp_findings\n"
             "torch.set_num_threads(1)\n"
             "QUICK = bool(os.environ.get('GRIDLAB_QUICK'))\n"
             "OUT = os.environ.get('GRIDLAB_OUT', time.strftime('runs/notebook05-%Y%m%d-%H%M%S'))  # a fresh folder per run"),
    ("md", "## Tiger: the belief moves with each growl\n"
           "A tiger is behind the left or the right door. Listening costs 1 and hears the tiger on the correct side with "
           "probability 0.85; opening the tiger's door costs 100, the other pays 10 (Kaelbling, Littman & Cassandra 1998). "
           "`filter` is the forward algorithm: every belief and the exact log-likelihood of the growls heard."),
    ("code", "m = tiger()\n"
             "listen = m.actions.index('listen')\n"
             "heard = ['tiger-left', 'tiger-left', 'tiger-right', 'tiger-left', 'tiger-left', 'tiger-left']\n"
             "run = m.filter([listen] * len(heard), [m.observations.index(o) for o in heard])\n"
             "left = run.beliefs[0, :, m.states.index('tiger-left')]\n"
             "print(f'log P(growls | listening) = {run.log_prob[0]:.4f}')\n"
             "fig, ax = plt.subplots(figsize=(8, 3))\n"
             "ax.plot(range(len(left)), left, marker='o')\n"
             "ax.set_xticks(range(len(left)), ['start'] + heard, rotation=20)\n"
             "ax.set_ylabel('b(tiger-left)'); ax.set_ylim(0, 1); ax.grid(alpha=0.3)\n"
             "plt.show()"),
    ("md", "## The optimum, certified\n`solve` brackets V\\*(b0) between a lower bound (alpha vectors of a policy it can play) "
           "and an upper bound (the fast informed bound refined by sawtooth updates), searching beliefs as HSVI2 does. "
           "Cassandra's published value for Tiger at discount 0.95 is 19.3714."),
    ("code", "sol = solve(m, tol=1e-3)\n"
             "print(f'{sol.lower:.4f} <= V*(b0) <= {sol.upper:.4f} (gap {sol.gap:.1e}, {sol.seconds:.2f} s, {sol.stop_reason}); '\n"
             "      f'QMDP {sol.qmdp:.2f} and FIB {sol.fib:.2f} are looser upper bounds')\n"
             "print('the published 19.3714 is inside the bounds:', sol.lower - 1e-4 <= 19.3714 <= sol.upper + 1e-4)"),
    ("md", "## A gridworld seen through noisy wall sensors\nIn `gridlab/FourRoomsWalls-v0` the agent reads, for each of its "
           "four neighbours, whether it is a wall, each reading flipped with probability 0.1, and a move slips with "
           "probability 0.1. `render_mode='rgb_array'` draws the exact belief on the map (the hidden state outlined in red)."),
    ("code", "env = gym.make('gridlab/FourRoomsWalls-v0', render_mode='rgb_array')\n"
             "env.reset(seed=0)\n"
             "fig, axes = plt.subplots(1, 4, figsize=(14, 3.6))\n"
             "for ax, action in zip(axes, ['start', 'right', 'right', 'down']):\n"
             "    if action != 'start':\n"
             "        env.step(env.unwrapped.pomdp.actions.index(action))\n"
             "    b = env.unwrapped.belief\n"
             "    ax.imshow(env.render()); ax.axis('off')\n"
             "    seen = env.unwrapped.observation_names[env.unwrapped.last_observation]\n"
             "    ax.set_title(f'{action}: saw {seen}\\nmost likely cell {100 * b.max():.0f}%', fontsize=9)\n"
             "plt.show()"),
    ("md", "## The T-maze: memory, judged\n"
           "The cue (go up or go down at the junction) is seen in the first cell only; the junction is 6 cells on. An agent "
           "that acts on its observation alone must guess there. Three agents, with the shipped presets:\n\n"
           "- PPO on the observation (memoryless): its value is exact, a linear solve on (hidden state, last observation);\n"
           "- PPO on its last 6 actions and observations (`frame_stack=6`): exact too, on (hidden state, window);\n"
           "- RecurrentPPO (an LSTM): a certified interval from its history tree, or a Monte Carlo 95% interval where that is "
           "narrower (its sampled policy branches on every action)."),
    ("code", "AGENTS = {'PPO': ('ppo', {}), 'PPO, frame stack 6': ('ppo', {'frame_stack': 6}),\n"
             "          'RecurrentPPO': ('recurrentppo', {})}\n"
             "SMALL = {'n_envs': 4, 'n_steps': 64, 'batch_size': 256}  # the quick run's budget\n"
             "refs = pomdp_references(gym.make('gridlab/TMaze-v0').unwrapped.pomdp, tol=1e-6)\n"
             "print(f'V*(b0) in [{refs.lower:.4f}, {refs.upper:.4f}]; uniform-random {refs.uniform:.4f}; '\n"
             "      f'best deterministic memoryless policy {refs.best_memoryless:.4f}; seeing the state {refs.mdp_value:.4f}')\n"
             "results, runs = {}, {}\n"
             "for name, (algo, kwargs) in AGENTS.items():\n"
             "    steps = 2048 if QUICK else sb3.load_hyperparams('gridlab/TMaze-v0', algo)['n_timesteps']\n"
             "    model = sb3.train('gridlab/TMaze-v0', algo, total_timesteps=int(steps), seed=0, env_kwargs=kwargs,\n"
             "                      hyperparams=SMALL if QUICK else None, out_dir=f'{OUT}/{algo}{len(kwargs)}',\n"
             "                      eval_freq=int(steps) // (2 if QUICK else 4), progress_bar=False)\n"
             "    c = compare_pomdp(model, gym.make('gridlab/TMaze-v0', **kwargs), references=refs,\n"
             "                      tree_time_limit=5 if QUICK else 30, episodes=5000)\n"
             "    results[name], runs[name] = c.to_dict(), model.run_dir\n"
             "    print(f'\\n{name} ({steps:.0f} steps, {model.config[\"train_seconds\"]:.0f} s):')\n"
             "    print(c.table())"),
    ("md", "## Scores as intervals\nEach bar spans the agent's normalised score interval, (V^pi - V^uniform) / (V\\* - V^uniform) "
           "over the certified bounds on V\\* (and over the agent's own interval): 1 is optimal, 0 the uniform-random policy."),
    ("code", "fig, ax = plt.subplots(figsize=(9, 2.8))\n"
             "for y, (name, r) in enumerate(results.items()):\n"
             "    ax.plot([r['normalised_score'], r['normalised_score_upper']], [y, y], lw=8, solid_capstyle='butt')\n"
             "    ax.plot([r['normalised_score'], r['normalised_score_upper']], [y, y], '|', color='black', ms=16)\n"
             "best = (refs.best_memoryless - refs.uniform) / (refs.upper - refs.uniform)\n"
             "ax.axvline(best, color='tab:purple', ls='--', label='best deterministic memoryless')\n"
             "ax.set_yticks(range(len(results)), list(results)); ax.set_xlabel('normalised score'); ax.legend(fontsize=8)\n"
             "ax.grid(axis='x', alpha=0.3)\n"
             "plt.show()"),
    ("md", "## Learning curves, exactly\n`ExactEvalCallback` judged each agent during training the same way: its value "
           "(the band is its interval) inside the certified band of V\\*(b0)."),
    ("code", "from IPython.display import Image\n"
             "Image(plot_pomdp_learning_curves({n: f'{d}/exact_eval.csv' for n, d in runs.items()}, f'{OUT}/curves.png'))"),
    ("code", "print('What these numbers support (computed from them, as in the demo report):')\n"
             "for sentence in pomdp_findings(results):\n"
             "    print('-', sentence)"),
]


SEQUENCE_WORLD_MODELS = [
    ("md", "# World models with memory, scored by the forward algorithm\n\n"
           "In a partially observed world a world model must predict the next observation from the whole history. The lab "
           "knows the true answer, p(o_t+1 | history), exactly: the forward algorithm on the world's own POMDP. So every "
           "model below is scored per step against it, in nats, and its state is probed for the true belief. "
           "`GRIDLAB_QUICK=1` runs this notebook with tiny budgets (the test suite does)."),
    ("code", "import os\nimport time\n"
             "import gymnasium as gym\n"
             "import matplotlib.pyplot as plt\n"
             "import numpy as np\n"
             "import torch\n"
             "import envs  # registers the gridlab/ ids\n"
             "from agents.pomdp_compare import compare_pomdp\n"
             "from agents.sb3 import load_hyperparams, model_kwargs\n"
             "from generative import collect_sequences, score_sequence\n"
             "from generative.plotting import sequence_score_figure\n"
             "from generative.sequence_env import SequenceDreamEnv\n"
             "from generative.sequence_model import train_sequence_model\n"
             "from gridlab.findings import sequence_findings\n"
             "torch.set_num_threads(1)\n"
             "QUICK = bool(os.environ.get('GRIDLAB_QUICK'))\n"
             "OUT = os.environ.get('GRIDLAB_OUT', time.strftime('runs/notebook06-%Y%m%d-%H%M%S'))  # a fresh folder per run\n"
             "os.makedirs(OUT, exist_ok=True)"),
    ("md", "## Whole episodes of the T-maze\n"
           "The cue (up or down) is seen in the first cell only; the junction is 6 cells on, where the agent must turn the "
           "cue's way. `collect_sequences` plays whole episodes under the uniform policy and keeps the hidden states apart, "
           "for scoring only: the models see observations and actions."),
    ("code", "world = gym.make('gridlab/TMaze-v0')\n"
             "pomdp = world.unwrapped.pomdp\n"
             "train = collect_sequences(world, 30 if QUICK else 500, seed=0)\n"
             "held_out = collect_sequences(world, 8 if QUICK else 200, seed=1)\n"
             "print(f'{len(train)} training episodes ({int(train.mask.sum())} steps); {len(held_out)} held out; '\n"
             "      f'observations {pomdp.observations}')"),
    ("md", "## Four families, one contract\n"
           "- `rssm`: a GRU state plus a categorical latent (PlaNet and Dreamer's RSSM), trained on the ELBO with KL balancing;\n"
           "- `hmm`: the lecture's HMM with action-conditioned transitions, its tables made by networks, trained by exact "
           "likelihood through its own forward algorithm;\n"
           "- `rnn_vae`: the one-step VAE conditioned on a GRU summary of the history;\n"
           "- `markov_vae`: the same VAE on the last observation only: no memory, for contrast.\n\n"
           "Each is trained with its family's default budget (a few minutes each on 2 CPU cores), then scored on the "
           "held-out episodes: the KL rate (cross-entropy minus the true conditional entropy, in nats per step, with a "
           "bootstrap interval), the predictive TV, the k-step open-loop TV beside a perfect model's, and the belief probe."),
    ("code", "FAMILIES = ['rssm', 'hmm', 'rnn_vae', 'markov_vae']\n"
             "models, results = {}, {}\n"
             "for family in FAMILIES:\n"
             "    models[family] = train_sequence_model(train, family, seed=0, device='cpu', progress=False,\n"
             "                                          steps=5 if QUICK else None)\n"
             "    results[family] = score_sequence(models[family], world, data=held_out, seed=1, k_max=3 if QUICK else 12,\n"
             "                                     n_open_loop=8 if QUICK else 64)\n"
             "    r = results[family]\n"
             "    print(f\"{family:>10}: KL rate {r['kl_rate']:.4f} nats/step [{r['kl_rate_ci'][0]:.4f}, {r['kl_rate_ci'][1]:.4f}], \"\n"
             "          f\"TV {r['tv']:.3f}, probe KL {r['probe']['kl']:.3f} (shuffled {r['probe']['kl_shuffled']:.3f}); \"\n"
             "          f\"trained {models[family].train_seconds:.0f} s\")"),
    ("md", "## Where the models pay, step by step\n"
           "Left: the KL of each step's prediction against the forward algorithm's. A memoryless model pays most at the "
           "junction, where the cue seen at the start decides what comes next. Middle: imagined rollouts k steps ahead, "
           "against a perfect model's own sampling noise (dashed). Right: a linear probe from each model's state to the true "
           "belief, beside the same probe on shuffled states."),
    ("code", "fig = sequence_score_figure([results[f] for f in FAMILIES])\n"
             "fig.savefig(f'{OUT}/scores.png', dpi=120)\n"
             "fig"),
    ("md", "## A dream agent\n"
           "RecurrentPPO (an LSTM policy) is trained only in the RSSM's dream (`SequenceDreamEnv`: observations, rewards "
           "and ends drawn from the model), with the T-maze preset, then judged in the real T-maze against the certified "
           "bounds on V\\*(b0)."),
    ("code", "from sb3_contrib import RecurrentPPO\n"
             "from stable_baselines3.common.vec_env import DummyVecEnv\n"
             "hp = load_hyperparams('gridlab/TMaze-v0', 'recurrentppo')\n"
             "if QUICK:\n"
             "    hp.update(n_envs=2, n_steps=32, batch_size=64, n_timesteps=64)\n"
             "limit = world.spec.max_episode_steps\n"
             "dream = DummyVecEnv([lambda: SequenceDreamEnv(models['rssm'], max_episode_steps=limit)] * int(hp['n_envs']))\n"
             "agent = RecurrentPPO(hp['policy'], dream, seed=0, device='cpu', verbose=0, **model_kwargs(hp))\n"
             "t0 = time.perf_counter()\n"
             "agent.learn(int(hp['n_timesteps']))\n"
             "c = compare_pomdp(agent, gym.make('gridlab/TMaze-v0'), seed=0, tree_time_limit=2 if QUICK else 30,\n"
             "                  episodes=200 if QUICK else 5000)\n"
             "print(f\"{hp['n_timesteps']:.0f} steps in the dream, {time.perf_counter() - t0:.0f} s; in the real T-maze:\")\n"
             "print(c.table())"),
    ("code", "print('What these numbers support (computed from them, as in the demo report):')\n"
             "for sentence in sequence_findings(results):\n"
             "    print('-', sentence)"),
]


NOTEBOOKS = {"00_quickstart.ipynb": QUICKSTART, "01_exact_vs_learned.ipynb": EXACT_VS_LEARNED,
             "02_world_models.ipynb": WORLD_MODELS, "03_sweeps.ipynb": SWEEPS,
             "04_pixel_world_models.ipynb": PIXEL_WORLD_MODELS, "05_partial_observability.ipynb": PARTIAL_OBSERVABILITY,
             "06_sequence_world_models.ipynb": SEQUENCE_WORLD_MODELS}


def main() -> None:
    import sys

    only = [a for a in sys.argv[1:] if not a.startswith("--")]  # e.g. 02_world_models.ipynb; default all
    for name, cells in NOTEBOOKS.items():
        if only and name not in only:
            continue
        nb = notebook(cells)
        if "--execute" in sys.argv:  # run with the default budgets, from the repository root
            from nbclient import NotebookClient

            NotebookClient(nb, timeout=3600, kernel_name="python3",
                           resources={"metadata": {"path": str(HERE.parent)}}).execute()
        nbf.write(nb, HERE / name)
        print("wrote", HERE / name)


if __name__ == "__main__":
    main()
