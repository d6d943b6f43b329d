"""The libzmq draft-API oracle: ``tests/interop/node/peer.mjs`` (zeromq.js 6.8.0, which bundles
libzmq 4.3.5 built with draft sockets) run by Node in a separate process, read cooperatively.

Provisioning: ``cd tests/interop/node && npm ci``. Without it these tests skip (saying so),
except in CI (``CI=true``), where a missing oracle is a failure: CI must test interop.
"""
from __future__ import annotations

import json
import os
import shutil
from typing import Any, Optional

import gevent
import gevent.subprocess
import pytest

NODE_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                        "interop", "node")
PEER = os.path.join(NODE_DIR, "peer.mjs")
INSTALL = "cd tests/interop/node && npm ci"

LINE_TIMEOUT = 10.0


def require_oracle() -> str:
    """The node executable; skip (fail in CI) when the oracle is not installed."""
    node = shutil.which("node")
    problem = None
    if node is None:
        problem = "node (Node.js >= 18) is not on PATH"
    elif not os.path.isdir(os.path.join(NODE_DIR, "node_modules", "zeromq")):
        problem = f"the zeromq.js oracle is not installed: {INSTALL}"
    if problem is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"libzmq draft oracle missing in CI: {problem}")
        pytest.skip(f"libzmq draft oracle missing: {problem}")
    return node  # type: ignore[return-value]


class NodePeer:
    """One ``peer.mjs`` process. ``scenario`` as documented at the top of peer.mjs."""

    def __init__(self, scenario: dict[str, Any], workdir: str) -> None:
        node = require_oracle()
        self.scenario = scenario
        self._errpath = os.path.join(workdir, f"node-{id(self)}.stderr")
        self._err = open(self._errpath, "wb")
        self.proc = gevent.subprocess.Popen(
            [node, PEER, json.dumps(scenario)], cwd=NODE_DIR,
            stdin=gevent.subprocess.PIPE, stdout=gevent.subprocess.PIPE, stderr=self._err)
        self.endpoint: Optional[str] = None

    def __repr__(self) -> str:
        side = "bind" if self.scenario.get("bind") else "connect"
        return f"<NodePeer {self.scenario['type']} {side} {self.endpoint}>"

    def stderr(self) -> str:
        self._err.flush()
        with open(self._errpath, "rb") as f:
            return f.read().decode(errors="replace")

    def _readline(self, timeout: float) -> str:
        with gevent.Timeout(timeout, False):
            line = self.proc.stdout.readline()
            if not line:
                raise AssertionError(f"{self!r} exited (rc={self.proc.wait(timeout=2)}) "
                                     f"without output; stderr:\n{self.stderr()}")
            return str(line.decode().rstrip("\n"))
        raise AssertionError(f"{self!r}: no output within {timeout} s; stderr:\n{self.stderr()}")

    def wait_ready(self, timeout: float = LINE_TIMEOUT) -> str:
        line = self._readline(timeout)
        assert line.startswith("READY "), f"{self!r}: {line!r}; stderr:\n{self.stderr()}"
        self.endpoint = line.split(" ", 1)[1]
        return self.endpoint

    def line(self, timeout: float = LINE_TIMEOUT) -> dict[str, Any]:
        obj: dict[str, Any] = json.loads(self._readline(timeout))
        assert "error" not in obj, f"{self!r} reported {obj}; stderr:\n{self.stderr()}"
        return obj

    def close_stdin(self) -> None:
        if self.proc.stdin and not self.proc.stdin.closed:
            self.proc.stdin.close()

    def finish(self, timeout: float = LINE_TIMEOUT) -> list[dict[str, Any]]:
        """Close stdin (ends ``wait``/``repeat``); the lines up to ``{"done": true}``."""
        self.close_stdin()
        lines = []
        while True:
            obj = self.line(timeout)
            if obj.get("done"):
                break
            lines.append(obj)
        assert self.proc.wait(timeout=timeout) == 0, self.stderr()
        return lines

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=5)
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None and not stream.closed:
                stream.close()
        self._err.close()


def hexs(data: bytes | str) -> str:
    return (data.encode() if isinstance(data, str) else data).hex()
