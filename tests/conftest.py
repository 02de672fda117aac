import os

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
