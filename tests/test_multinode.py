"""A sweep on a real two-node Ray cluster: a head and a worker node started as separate processes
on this machine (loopback only, one CPU each, stopped at the end), trials landing on both."""

import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest

from gridlab.cluster import LOOPBACK_ENV, loopback_cluster

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(not (Path(sys.executable).parent / "ray").exists(), reason="the ray command is not installed beside this Python")
def test_a_sweep_runs_on_a_head_and_a_worker_node(tmp_path):
    out = tmp_path / "sweep"
    with loopback_cluster(nodes=2, cpus_per_node=1) as address:  # raises if a node outlives it
        proc = subprocess.run([sys.executable, "-m", "gridlab", "sweep", "agents", "--worlds", "gridlab/OpenRoom-v0",
                               "--algos", "ppo", "--seeds", "0-3", "--steps", "512", "--evals", "1", "--out", str(out),
                               "--address", address], capture_output=True, text=True, env={**os.environ, **LOOPBACK_ENV},
                              cwd=ROOT, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    with (out / "trials.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 4 and all(r["status"] == "done" for r in rows)
    assert len({r["node"] for r in rows}) == 2  # one CPU per node, two trials at a time: both nodes ran trials
