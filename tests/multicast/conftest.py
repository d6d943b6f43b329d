"""Multicast tests run only inside a network namespace each test creates (``unshare --net``),
with the libzmq oracle (Debian's python3-zmq: libzmq built with OpenPGM) on the other side.

Missing pieces are a skip that says how to install them, except in CI (``CI=true``), where
they are a failure: CI provisions them (.ci/run).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from typing import Any

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
ORACLE = "/usr/bin/python3"
INSTALL = "apt-get install -y python3-zmq iproute2 util-linux (as root)"

if HERE not in sys.path:
    sys.path.insert(0, HERE)


def _missing() -> str:
    if not shutil.which("unshare") or not shutil.which("ip"):
        return "unshare and ip are needed"
    try:
        has_pgm = subprocess.run([ORACLE, "-c", "import zmq; print(zmq.has('pgm'))"],
                                 capture_output=True, text=True, timeout=30).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        has_pgm = ""
    if has_pgm != "True":
        return f"{ORACLE} with pyzmq on a libzmq built with OpenPGM is needed"
    probe = subprocess.run(["unshare", "--net", "true"], capture_output=True, timeout=30)
    if probe.returncode:
        return "unshare --net needs root (CAP_SYS_ADMIN)"
    return ""


_REASON = None


@pytest.fixture(scope="session")
def multicast_lab() -> "Lab":
    global _REASON
    if _REASON is None:
        _REASON = _missing()
    if _REASON:
        message = f"multicast oracle unavailable: {_REASON}; install with: {INSTALL}"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return Lab()


class Lab:
    """Runs a plan (netns_run.py) in a fresh network namespace and returns its results."""

    gzmq = sys.executable
    oracle = ORACLE

    def run(self, plan: dict[str, Any], timeout: float = 90) -> dict[str, Any]:
        plan = dict(plan, pythonpath=ROOT)
        result = subprocess.run(
            ["unshare", "--net", sys.executable, os.path.join(HERE, "netns_run.py"),
             json.dumps(plan)], capture_output=True, text=True, timeout=timeout)
        lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
        assert lines, result.stdout + result.stderr
        outcome: dict[str, Any] = json.loads(lines[-1])
        assert "error" not in outcome, outcome
        for side in [outcome["pub"], *outcome["subs"]]:
            assert "error" not in side, side
        return outcome
