"""Test discipline for the whole suite.

- Every test body runs under a ``gevent.Timeout`` (``GZMQ_TEST_TIMEOUT`` seconds, default 30):
  a hang fails that test fast instead of stalling the run. pytest-timeout (setup.cfg) is the
  backstop if the hub itself is stuck.
- An exception that a background greenlet reports to the hub fails the test that caused it,
  instead of being merely printed (gevent's ``error_fatal`` idea).
- ``ctx`` gives a fresh Context that is destroyed (linger 0) afterwards; ``zctx`` a pyzmq one
  (the libzmq oracle) per module; ``auth`` a started gzmq Authenticator on ``ctx``.
- This directory goes on ``sys.path`` so that test modules can ``from helpers import ...``
  whatever pytest's import mode (tests/zmtp and tests/interop do the same for theirs).
"""

from __future__ import annotations

import os
import sys
from typing import Any, Iterator

import gevent
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)
# helpers.py asserts for the tests: give its asserts pytest's detailed failure messages
pytest.register_assert_rewrite("helpers")

TEST_TIMEOUT = float(os.environ.get("GZMQ_TEST_TIMEOUT", "30"))


class _HubErrors:
    def __init__(self) -> None:
        self.errors: list[Any] = []
        self._original: Any = None

    def install(self) -> None:
        hub = gevent.get_hub()
        self._original = hub.handle_error
        errors = self.errors

        def handle_error(context: Any, type_: Any, value: Any, tb: Any) -> None:
            # hub.NOT_ERROR: what gevent itself treats as not-an-error (e.g. a failed name
            # lookup in its resolver thread), besides greenlet exits
            expected = (gevent.GreenletExit, KeyboardInterrupt, SystemExit) + tuple(hub.NOT_ERROR)
            if not issubclass(type_, expected):
                errors.append((context, type_, value))
            self._original(context, type_, value, tb)

        hub.handle_error = handle_error

    def uninstall(self) -> None:
        gevent.get_hub().handle_error = self._original


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    trap = _HubErrors()
    trap.install()
    limit = item.get_closest_marker("timeout")
    seconds = float(limit.args[0]) if limit and limit.args else TEST_TIMEOUT
    timer = gevent.Timeout(seconds, AssertionError(f"test exceeded {seconds} s (gevent.Timeout)"))
    timer.start()
    try:
        outcome = yield
    finally:
        timer.close()
        trap.uninstall()
    if trap.errors and outcome.excinfo is None:
        context, type_, value = trap.errors[0]
        pytest.fail(f"a greenlet died with {type_.__name__}: {value} (in {context!r})")


@pytest.fixture
def ctx() -> Iterator[Any]:
    import gzmq
    context = gzmq.Context()
    yield context
    context.destroy(linger=0)


@pytest.fixture(scope="module")
def zctx() -> Iterator[Any]:
    """A pyzmq Context: libzmq as the oracle (reading and setting options never blocks)."""
    zmq = pytest.importorskip("zmq")
    context = zmq.Context()
    yield context
    context.destroy(linger=0)


@pytest.fixture
def auth(ctx: Any) -> Iterator[Any]:
    """A started ``gzmq.auth.Authenticator`` on ``ctx`` (the ZAP handler), stopped afterwards."""
    from gzmq.auth import Authenticator
    authenticator = Authenticator(ctx)
    authenticator.start()
    yield authenticator
    authenticator.stop()


def pytest_report_header(config: Any) -> str:
    return f"gzmq tests under gevent {gevent.__version__}, Python {sys.version.split()[0]}"
