"""Test discipline for the whole suite.

- Every test body runs under a ``gevent.Timeout`` (``GZMQ_TEST_TIMEOUT`` seconds, default 30):
  a hang fails that test fast instead of stalling the run. pytest-timeout (setup.cfg) is the
  backstop if the hub itself is stuck.
- An exception that a background greenlet reports to the hub fails the test that caused it,
  instead of being merely printed (gevent's ``error_fatal`` idea).
- ``ctx`` gives a fresh Context that is destroyed (linger 0) afterwards; ``zctx`` a pyzmq one
  (the libzmq oracle) per module; ``auth`` a started gzmq Authenticator on ``ctx``.
- Leak checks run after every test (``_no_leaks``, autouse): every gzmq socket the test made
  is closed, none of their greenlets still runs, and no fd the test opened is left open (each
  waited for briefly: closing finishes in the hub). A test that leaks on purpose says so with
  ``@pytest.mark.leaks("why")`` (setup.cfg lists the marker); ``GZMQ_LEAK_CHECK=0`` turns
  the check off.
- This directory goes on ``sys.path`` so that test modules can ``from helpers import ...``
  whatever pytest's import mode (tests/zmtp and tests/interop do the same for theirs).
"""

from __future__ import annotations

import gc
import os
import sys
import time
import weakref
from typing import Any, Iterator

import gevent
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)
# helpers.py asserts for the tests: give its asserts pytest's detailed failure messages
pytest.register_assert_rewrite("helpers")

TEST_TIMEOUT = float(os.environ.get("GZMQ_TEST_TIMEOUT", "30"))
#: how long a test's leftovers may take to go away (closing finishes in the hub) before the
#: leak check fails it
LEAK_GRACE = 2.0
#: GZMQ_LEAK_CHECK=0 turns the leak check off (to measure what it costs, say)
LEAK_CHECK = os.environ.get("GZMQ_LEAK_CHECK", "1") != "0"


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


def _leaks(sockets_before: "weakref.WeakSet[Any]", fds_before: set[int]) -> list[str]:
    """What the test left behind: unclosed gzmq sockets, their running greenlets, new fds."""
    from gzmq.lifecycle import all_lifecycles
    from helpers import open_fds
    problems = []
    for lifecycle in all_lifecycles():
        if lifecycle in sockets_before:
            continue
        # the socket (or, as the lifecycle may hold instead, its core)
        owner = getattr(lifecycle, "core", None) or lifecycle.socket
        name = f"{getattr(owner.type, 'name', owner.type)} socket"
        if not owner.closed:
            table = getattr(owner, "endpoints", None) or getattr(owner, "_endpoints", None)
            endpoints = [*table._bound, *table._connected] if table is not None else "?"
            problems.append(f"a {name} left unclosed (endpoints {endpoints})")
        elif lifecycle.group:
            problems.append(f"{len(lifecycle.group)} greenlet(s) of a closed {name} still "
                            f"running: {list(lifecycle.group)}")
    fds = _still_open(open_fds() - fds_before)
    if fds:
        problems.append("fds left open: " + ", ".join(f"{fd} -> {target}"
                                                     for fd, target in sorted(fds.items())))
    return problems


def _still_open(fds: set[int]) -> dict[int, str]:
    """What each of ``fds`` refers to, less those closed meanwhile (listdir's own fd, say)."""
    targets = {}
    for fd in fds:
        try:
            targets[fd] = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            pass
    return targets


@pytest.fixture(autouse=True)
def _no_leaks(request: pytest.FixtureRequest) -> Iterator[None]:
    """Fail a test (at teardown) that leaves a gzmq socket open, a greenlet of one of its
    sockets running, or an fd open; ``@pytest.mark.leaks("why")`` opts out. Runs after the
    test's other fixtures are torn down (``ctx`` is destroyed by then)."""
    if not LEAK_CHECK or request.node.get_closest_marker("leaks") is not None:
        yield
        return
    from gzmq.lifecycle import all_lifecycles
    from helpers import open_fds
    gevent.get_hub()  # made once per thread, with its own fds: not the test's
    sockets_before = weakref.WeakSet(all_lifecycles())
    fds_before = open_fds()
    yield
    problems = _leaks(sockets_before, fds_before)
    if problems:
        # Closing may still be finishing in the hub (a killed greenlet ends when the hub next
        # runs): give it a moment. Then, what nobody references is no leak: a socket dropped
        # without close() (pyzmq closes it when collected), a child process's pipes; collect
        # garbage once (not at once: on the suite's heap that costs more than the wait).
        now = time.monotonic()
        deadline, collect_at = now + LEAK_GRACE, now + 0.1
        delay = 0.0  # then 1 ms, doubling up to 16: most leftovers go within a hub turn or two
        while problems and time.monotonic() < deadline:
            gevent.sleep(delay)
            delay = min(2 * delay or 0.001, 0.016)
            if collect_at and time.monotonic() >= collect_at:
                gc.collect()
                collect_at = 0.0
            problems = _leaks(sockets_before, fds_before)
    if problems:
        pytest.fail("the test leaked (mark it @pytest.mark.leaks(why) if on purpose): "
                    + "; ".join(problems), pytrace=False)


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
    # libzmq starts its I/O thread (and opens its fds) with the first socket: let that happen
    # here, not in whichever test is first to make a socket (the leak check would blame it)
    context.socket(zmq.PUSH).close()
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
