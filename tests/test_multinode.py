"""A sweep on a real two-node Ray cluster: a head and a worker node started as separate processes
on this machine (loopback only, one CPU each, stopped at the end), trials landing on both."""

import csv
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

RAY = Path(sys.executable).parent / "ray"
ROOT = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for(path: Path, text: str, proc: subprocess.Popen, timeout: float = 90) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if text in path.read_text(errors="replace"):
            return
        if proc.poll() is not None:
            break
        time.sleep(0.5)
    pytest.fail(f"the Ray node did not start: {path.read_text(errors='replace')[-2000:]}")


@pytest.mark.skipif(not RAY.exists(), reason="the ray command is not installed beside this Python")
def test_a_sweep_runs_on_a_head_and_a_worker_node(tmp_path):
    root = Path(tempfile.mkdtemp(prefix="rn"))  # short: Ray's unix socket paths must stay under 108 bytes
    port = _free_port()
    # token authentication is Ray's default when ~/.ray/auth_token exists; on loopback the test runs
    # without it, so that it does not depend on this machine's home directory
    env = {**os.environ, "RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0"}
    common = ["--block", "--node-ip-address=127.0.0.1", "--num-cpus=1", "--disable-usage-stats"]
    nodes = []
    try:
        head_log = (root / "head.log").open("w")
        nodes.append(subprocess.Popen([str(RAY), "start", "--head", f"--port={port}", "--include-dashboard=false",
                                       f"--temp-dir={root / 'h'}", *common], stdout=head_log, stderr=subprocess.STDOUT,
                                      env=env, start_new_session=True))
        _wait_for(root / "head.log", "Ray runtime started", nodes[0])
        worker_log = (root / "worker.log").open("w")
        nodes.append(subprocess.Popen([str(RAY), "start", f"--address=127.0.0.1:{port}", f"--temp-dir={root / 'w'}", *common], stdout=worker_log,
                                      stderr=subprocess.STDOUT, env=env, start_new_session=True))
        _wait_for(root / "worker.log", "Ray runtime started", nodes[1])
        out = tmp_path / "sweep"
        proc = subprocess.run([sys.executable, "-m", "gridlab", "sweep", "agents", "--worlds", "gridlab/OpenRoom-v0",
                               "--algos", "ppo", "--seeds", "0-3", "--steps", "512", "--evals", "1", "--out", str(out),
                               "--address", f"127.0.0.1:{port}"], capture_output=True, text=True, env=env, cwd=ROOT,
                              timeout=300)
        assert proc.returncode == 0, proc.stderr[-2000:]
        with (out / "trials.csv").open() as f:
            rows = list(csv.DictReader(f))
        assert len(rows) == 4 and all(r["status"] == "done" for r in rows)
        assert len({r["node"] for r in rows}) == 2  # one CPU per node, two trials at a time: both nodes ran trials
    finally:
        for p in reversed(nodes):  # `ray start --block` stops its node's processes on SIGTERM
            p.send_signal(signal.SIGTERM)
        for p in nodes:
            try:
                p.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
        left = subprocess.run(["pgrep", "-f", str(root)], capture_output=True, text=True).stdout.split()
        shutil.rmtree(root, ignore_errors=True)
    assert not left, f"Ray processes of the test cluster still running: {left}"
