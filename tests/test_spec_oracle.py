"""The spec suite checks itself against libzmq: ``tests/spec`` run with ``GZMQ_SPEC_IMPL=pyzmq``
(real libzmq 4.3.5 through pyzmq, in a child process so that it cannot block this hub). A spec
test that libzmq fails describes gzmq, not ZeroMQ, and must be fixed before it can prove
anything about gzmq."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.mark.interop
@pytest.mark.timeout(400)
def test_the_spec_suite_passes_against_libzmq() -> None:
    if os.environ.get("CI") != "true":
        pytest.importorskip("zmq", reason="pip install '.[test]' brings pyzmq (libzmq)")
    env = dict(os.environ, GZMQ_SPEC_IMPL="pyzmq")
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/spec"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=380)
    summary = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else ""
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert " passed" in summary and "failed" not in summary, summary
