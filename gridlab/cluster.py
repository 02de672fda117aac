"""A real multi-node Ray cluster on this machine, for trying the cluster path of a sweep.

Each node is its own ``ray start --block`` process (a head, then workers joining it), bound to
127.0.0.1 only, with its own temporary directory; leaving the context stops every node (SIGTERM,
which ``--block`` passes on to the node's processes) and checks that none is left.

Example:
    >>> with loopback_cluster(nodes=2, cpus_per_node=1) as address:  # doctest: +SKIP
    ...     run_sweep(spec, "runs/sweep", address=address)
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

__all__ = ["loopback_cluster", "LOOPBACK_ENV"]

# Ray 2.60 turns on token authentication when ~/.ray/auth_token exists, and a node or driver
# without the token is refused and keeps retrying; a loopback cluster runs without it, so that
# it does not depend on the home directory. Pass this environment to the driver too.
LOOPBACK_ENV = {"RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_started(log: Path, proc: subprocess.Popen, timeout: float) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline and proc.poll() is None:
        if "Ray runtime started" in log.read_text(errors="replace"):
            return
        time.sleep(0.5)
    raise RuntimeError(f"a Ray node did not start within {timeout:.0f} s: {log.read_text(errors='replace')[-1500:]}")


@contextmanager
def loopback_cluster(nodes: int = 2, cpus_per_node: int = 1, timeout: float = 90.0) -> Iterator[str]:
    """Start a head and ``nodes - 1`` worker nodes on 127.0.0.1; yield the head's address.

    Arguments:
        nodes: Ray nodes, the head included (>= 1).
        cpus_per_node: CPUs each node offers.
        timeout: seconds a node may take to start.

    Raises:
        RuntimeError: a node did not start, or processes of the cluster outlived it.
    """
    if nodes < 1 or cpus_per_node < 1:
        raise ValueError(f"nodes and cpus_per_node must be >= 1, got {nodes} and {cpus_per_node}")
    ray = Path(sys.executable).parent / "ray"
    root = Path(tempfile.mkdtemp(prefix="rn"))  # short: Ray's unix socket paths must stay under 108 bytes
    port = _free_port()
    env = {**os.environ, **LOOPBACK_ENV}
    common = ["--block", "--node-ip-address=127.0.0.1", f"--num-cpus={cpus_per_node}", "--disable-usage-stats"]
    procs: list[subprocess.Popen] = []
    try:
        for i in range(nodes):
            args = (["--head", f"--port={port}", "--include-dashboard=false"] if i == 0
                    else [f"--address=127.0.0.1:{port}"])
            log = root / f"node{i}.log"
            with log.open("w") as f:
                procs.append(subprocess.Popen([str(ray), "start", *args, f"--temp-dir={root / f'n{i}'}", *common],
                                              stdout=f, stderr=subprocess.STDOUT, env=env, start_new_session=True))
            _wait_started(log, procs[-1], timeout)
        yield f"127.0.0.1:{port}"
    finally:
        for p in reversed(procs):
            p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
        left = subprocess.run(["pgrep", "-f", str(root)], capture_output=True, text=True).stdout.split()
        for pid in left:
            try:
                os.kill(int(pid), signal.SIGKILL)
            except ProcessLookupError:
                pass
        shutil.rmtree(root, ignore_errors=True)
    if left:
        raise RuntimeError(f"processes of the loopback cluster outlived it (killed): {left}")
