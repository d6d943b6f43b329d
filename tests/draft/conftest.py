"""Fixtures for the draft socket types (CLIENT/SERVER, RADIO/DISH, SCATTER/GATHER, PEER,
CHANNEL) and udp: spec-style tests between two gzmq sockets over every transport, and interop
with libzmq's draft build through the zeromq.js oracle (``oracle.py``). Helpers the tests
import are in ``draft_helpers.py`` (a module named conftest would clash with tests/conftest)."""
from __future__ import annotations

import os
import shutil
import sys
import tempfile
from typing import Any, Iterator

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:  # make draft_helpers importable whatever pytest's import mode
    sys.path.insert(0, HERE)
pytest.register_assert_rewrite("draft_helpers")


@pytest.fixture
def tmpdir_short() -> Iterator[str]:
    """A short directory (ipc paths must stay under ~100 bytes)."""
    path = tempfile.mkdtemp(prefix="gzd", dir="/tmp")
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(params=["inproc", "tcp", "ipc"])
def endpoint(request: Any, tmpdir_short: str) -> str:
    """A bindable endpoint for each stream transport (and inproc)."""
    if request.param == "inproc":
        return f"inproc://draft-{id(request)}"
    if request.param == "ipc":
        return f"ipc://{tmpdir_short}/s"
    return "tcp://127.0.0.1:*"
