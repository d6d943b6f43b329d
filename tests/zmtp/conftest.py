"""Make ``gzmq.zmtp`` and the shared helpers importable for these tests.

``gzmq.zmtp`` is stdlib-only, so it must be testable even while the rest of
``gzmq`` is missing or half-written: if importing it through the real
``gzmq/__init__.py`` fails, fall back to a bare package stub that exposes only
the source directory (the same trick the purity test uses).
"""

from __future__ import annotations

import os
import sys
import types

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))

# zmtp_helpers.py sits next to this file; works in every pytest import mode.
for path in (HERE, ROOT):
    if path not in sys.path:
        sys.path.insert(0, path)
# its checks (refused, tr, ...) assert for the tests: keep pytest's detailed messages
pytest.register_assert_rewrite("zmtp_helpers")

try:
    import gzmq.zmtp  # noqa: F401
except Exception:  # gzmq/__init__.py broken or mid-edit by someone else
    for name in [m for m in sys.modules if m == "gzmq" or m.startswith("gzmq.")]:
        del sys.modules[name]
    stub = types.ModuleType("gzmq")
    stub.__path__ = [os.path.join(ROOT, "gzmq")]
    sys.modules["gzmq"] = stub
    import gzmq.zmtp  # noqa: F401
