"""The strict core type-checks: ``mypy --strict`` on gzmq/zmtp, gzmq/pipe.py and gzmq/routing
(mypy.ini holds the settings). Run as a test so that the README's one test command covers it."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STRICT_CORE = ["gzmq/zmtp", "gzmq/pipe.py", "gzmq/routing", "gzmq/engine", "gzmq/core.py",
               "gzmq/pgm", "gzmq/transports/pgm.py", "gzmq/stats.py"]


@pytest.mark.timeout(300)
def test_the_strict_core_passes_mypy_strict() -> None:
    if os.environ.get("CI") != "true":
        pytest.importorskip("mypy", reason="pip install '.[test]' brings mypy")
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--cache-dir", os.path.join(ROOT, ".mypy_cache"),
         *STRICT_CORE], cwd=ROOT, capture_output=True, text=True, timeout=280)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.timeout(300)
def test_the_public_api_is_typed_as_pyzmqs_stubs_type_it() -> None:
    """``recv()`` is bytes, ``recv(copy=False)`` a Frame, ``send(copy=False)`` a tracker...:
    tests/typecheck/api_usage.py states it with ``assert_type`` and mypy --strict checks it."""
    if os.environ.get("CI") != "true":
        pytest.importorskip("mypy", reason="pip install '.[test]' brings mypy")
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--cache-dir", os.path.join(ROOT, ".mypy_cache"),
         "tests/typecheck/api_usage.py"], cwd=ROOT, capture_output=True, text=True, timeout=280)
    assert result.returncode == 0, result.stdout + result.stderr
