"""10,000 idle tcp peers on one ROUTER: all handshaken, and each costs at most 20 KiB of RSS.

Runs perf/idle_connections.py (which measures in its own process, so this test's own memory
does not blur the number). Marked slow: about half a minute on two cores.
"""

import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_ten_thousand_idle_connections_fit_in_20_kib_each():
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    run = subprocess.run(
        [sys.executable, os.path.join(ROOT, "perf", "idle_connections.py"),
         "--connections", "10000", "--limit", "200", "--json"],
        capture_output=True, text=True, timeout=280, env=env)
    assert run.returncode == 0, run.stdout + run.stderr[-2000:]
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert result["handshaken"] == 10000
    assert result["bytes_per_connection"] <= 20 * 1024, result
