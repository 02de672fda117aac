"""gridlab's numba kernels leave torch's thread count as the caller set it (envs.parallel)."""

import os
import subprocess
import sys

import pytest

SCRIPT = """
import torch
torch.set_num_threads(1)
torch.randn(64, 64) @ torch.randn(64, 64)  # torch's OpenMP pool started, as in any training loop
import gymnasium as gym, numba
import envs
from agents import dp
from envs import GridWorldEnv, open_room
from generative import collect_sequences
from generative.sequence_scoring import check_source
env = gym.make("gridlab/TMaze-v0")
check_source(env.unwrapped.pomdp, collect_sequences(env, 8, seed=1))  # the forward algorithm's parallel kernel
dp.solve(GridWorldEnv(open_room(30), slip=0.2).mdp, tol=1e-6)  # the solver's
print(torch.get_num_threads(), numba.threading_layer())
"""


def _run(**env):
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=300,
                         env={**os.environ, **env})
    assert out.returncode == 0, out.stderr
    return out.stdout.split()


def test_a_filter_and_a_solve_leave_torchs_one_thread_alone():
    assert _run() == ["1", "workqueue"]


@pytest.mark.skipif(sys.platform != "linux", reason="numba's OpenMP layer is Linux's default")
def test_a_threading_layer_the_user_chose_is_kept():
    _, layer = _run(NUMBA_THREADING_LAYER="omp")
    assert layer == "omp"
