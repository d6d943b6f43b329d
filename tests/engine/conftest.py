"""The engine's parts (writer, receiver, handshake, session) tested one by one.

``engine_helpers.py`` sits next to this file; putting this directory on ``sys.path`` makes
``from engine_helpers import ...`` work in every pytest import mode (tests/zmtp does the same).
"""

from __future__ import annotations

import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)
pytest.register_assert_rewrite("engine_helpers")
