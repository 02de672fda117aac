import os

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
