"""gzmq.pgm is sans-IO: no sockets, no gevent, no clock (time is passed in).

Static: every import under gzmq/pgm is relative or a stdlib module that does no I/O and
reads no clock. Dynamic: a fresh interpreter with gevent, greenlet, socket, select and
selectors poisoned imports gzmq.pgm through a bare package stub and moves messages through a
sender and a receiver.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import textwrap

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PACKAGE = os.path.join(ROOT, "gzmq", "pgm")
ALLOWED = {"__future__", "collections", "dataclasses", "ipaddress", "random", "struct",
           "typing"}


def test_gzmq_pgm_imports_only_pure_modules() -> None:
    for name in sorted(os.listdir(PACKAGE)):
        if not name.endswith(".py"):
            continue
        tree = ast.parse(open(os.path.join(PACKAGE, name)).read())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    continue
                modules = [node.module or ""]
            else:
                continue
            for module in modules:
                assert module.split(".")[0] in ALLOWED, f"{name} imports {module}"


SCRIPT = textwrap.dedent(
    """
    import sys, types
    for name in ("gevent", "greenlet", "socket", "selectors", "select"):
        sys.modules[name] = None
    stub = types.ModuleType("gzmq")
    stub.__path__ = [%r]
    sys.modules["gzmq"] = stub
    from gzmq.pgm.sender import Sender
    from gzmq.pgm.receiver import Receiver
    s = Sender(gsi=b"abcdef", sport=1, dport=5555, nla="127.0.0.1", group="239.1.1.1")
    r = Receiver(dport=5555, group="239.1.1.1")
    s.send_messages([[b"hello", b"world"]])
    for d in s.poll(1.0):
        r.receive(d, 1.0)
    assert r.take_messages() == [[b"hello", b"world"]]
    print("ok")
    """) % os.path.join(ROOT, "gzmq")


def test_gzmq_pgm_runs_without_io_modules() -> None:
    result = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                            timeout=60)
    assert result.stdout.strip() == "ok", result.stderr
