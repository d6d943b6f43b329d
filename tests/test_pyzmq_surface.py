"""The pyzmq API surface that pyzmq's own test suite found missing or different (issue 10):
shadows and copies, ``dir()``, attribute and option errors, ``recv_into``'s checks, Frame and
MessageTracker, repr texts, Poller.register(s, 0), Context(-1) and instance(), the modules
``zmq.sugar.*`` / ``zmq.utils.garbage`` / ``zmq.utils.jsonapi``, versions, curve_keygen's
prog name, and subscriptions made just before a send.

pyzmq (libzmq) is the oracle where a call gives an answer at once (``helpers.outcome``);
pyzmq sockets are given RCVTIMEO so that nothing here can block for long.
"""

from __future__ import annotations

import copy
import gc
import importlib
import json
import socket as stdlib_socket
import subprocess
import sys
import threading
from typing import Any

import gevent
import pytest
from helpers import Ticker, outcome, wait_until

import gzmq

zmq = pytest.importorskip("zmq")


def pair(context: Any, lib: Any, name: str, types: tuple[int, int] = (0, 0)) -> tuple[Any, Any]:
    """A bound and a connected socket over inproc (PAIR by default), RCVTIMEO 1 s."""
    a = context.socket(types[0] or lib.PAIR)
    b = context.socket(types[1] or lib.PAIR)
    for sock in (a, b):
        sock.linger = 0
        sock.rcvtimeo = 1000
    a.bind(f"inproc://{name}")
    b.connect(f"inproc://{name}")
    return a, b


def free_port() -> int:
    probe = stdlib_socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    return int(port)


def test_ipc_path_too_long_names_the_limit(ctx: Any, zctx: Any) -> None:
    path = "ipc://" + "a" * (gzmq.IPC_PATH_MAX_LEN + 1)
    ours, theirs = ctx.socket(gzmq.PUB), zctx.socket(zmq.PUB)
    try:
        with pytest.raises(gzmq.ZMQError) as mine:
            ours.bind(path)
        with pytest.raises(zmq.ZMQError) as oracle:
            theirs.bind(path)
        assert mine.value.errno == oracle.value.errno
        assert str(gzmq.IPC_PATH_MAX_LEN) in mine.value.strerror
        assert mine.value.strerror == oracle.value.strerror
    finally:
        theirs.close(linger=0)


# --------------------------------------------------------------------------------------------
# 7. Poller


def test_poller_register_zero_flags(ctx: Any, zctx: Any) -> None:
    for lib, context in ((gzmq, ctx), (zmq, zctx)):
        sock = context.socket(lib.PAIR)
        poller = lib.Poller()
        poller.register(sock, 0)  # never registered: nothing happens
        assert sock not in poller and poller.sockets == []
        poller.register(sock, lib.POLLIN)
        poller.register(sock, 0)  # registered: unregisters
        assert sock not in poller
        sock.close(linger=0)


# --------------------------------------------------------------------------------------------
# 10. curve_keygen's prog


@pytest.mark.parametrize("module, runner", [
    ("gzmq.curve_keygen", []),
    ("zmq.curve_keygen", ["-m", "gzmq.run"]),
])
def test_curve_keygen_help_names_the_module_it_ran_as(module: str, runner: list[str]) -> None:
    result = subprocess.run([sys.executable, *runner, "-m", module, "-h"],
                            capture_output=True, text=True, timeout=60, check=True)
    assert f"usage: python3 -m {module} " in result.stdout and "--json" in result.stdout
