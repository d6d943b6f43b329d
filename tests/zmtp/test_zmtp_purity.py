"""gzmq.zmtp is sans-IO: it imports nothing but the stdlib, PyNaCl and itself.

PyNaCl (``nacl``) is allowed: it is pure computation (libsodium) for CURVE and
the key helpers, and does no I/O.

Two independent checks:

* dynamic -- a fresh interpreter with gevent, greenlet, socket, selectors and
  select poisoned in ``sys.modules`` imports ``gzmq.zmtp`` through a bare
  package stub (so ``gzmq/__init__.py``, which needs gevent, never runs) and
  completes a NULL and a CURVE handshake;
* static -- every import statement under gzmq/zmtp is relative, stdlib or
  ``nacl``, and not an I/O or clock module.  ``time`` cannot be poisoned dynamically (the
  interpreter has already imported it at startup), hence this check.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import textwrap

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PACKAGE = os.path.join(ROOT, "gzmq", "zmtp")

#: Third-party packages gzmq.zmtp may import (computation only, no I/O).
ALLOWED_THIRD_PARTY = {"nacl"}

FORBIDDEN = {
    "gevent", "greenlet", "socket", "select", "selectors", "time", "threading", "asyncio",
    "ssl", "signal", "subprocess", "multiprocessing", "concurrent",
}

SCRIPT = textwrap.dedent(
    """
    import sys, types
    for name in ("gevent", "greenlet", "socket", "selectors", "select"):
        sys.modules[name] = None  # any import of these now raises ImportError
    package = types.ModuleType("gzmq")
    package.__path__ = ["gzmq"]
    sys.modules["gzmq"] = package
    import gzmq.zmtp as zmtp

    def talk(a, b):  # handshake, then one message a -> b
        wire_a, wire_b = a.initiate(), b.initiate()
        while wire_a or wire_b:
            b.receive_data(wire_a)
            a.receive_data(wire_b)
            wire_a, wire_b = a.data_to_send(), b.data_to_send()
        assert a.state is b.state is zmtp.ConnectionState.READY
        assert b.receive_data(a.send_message([b"ok"])) == [zmtp.Message([b"ok"])]

    talk(zmtp.Connection("DEALER"), zmtp.Connection("ROUTER"))
    from nacl.bindings import crypto_box_keypair
    (cp, cs), (sp, ss) = crypto_box_keypair(), crypto_box_keypair()
    talk(zmtp.Connection("DEALER", zmtp.CurveClient(cp, cs, sp)),
         zmtp.Connection("ROUTER", zmtp.CurveServer(sp, ss, zap=False)))
    outside = [m for m in sys.modules if m.startswith("gzmq.") and not m.startswith("gzmq.zmtp")]
    assert not outside, outside
    print("PURE")
    """
)


def test_imports_with_io_modules_poisoned() -> None:
    result = subprocess.run(
        [sys.executable, "-I", "-c", SCRIPT], cwd=ROOT, capture_output=True, text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "PURE"


def test_import_statements_are_stdlib_only() -> None:
    found = []
    for filename in sorted(os.listdir(PACKAGE)):
        if not filename.endswith(".py"):
            continue
        path = os.path.join(PACKAGE, filename)
        with open(path, encoding="utf-8") as f:
            tree = ast.parse(f.read(), path)
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                if node.level:  # relative: inside gzmq.zmtp
                    continue
                names = [node.module or ""]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                found.append(name)
                if name.startswith("gzmq.zmtp"):
                    continue
                assert top != "gzmq", f"{filename}: imports {name} (outside gzmq.zmtp)"
                assert top in sys.stdlib_module_names or top in ALLOWED_THIRD_PARTY, (
                    f"{filename}: imports non-stdlib {name}"
                )
                assert top not in FORBIDDEN, f"{filename}: imports {name} (I/O or clock)"
    assert "struct" in found  # the walk did see the codec's imports
    assert "nacl.bindings" in found  # ... and CURVE's
