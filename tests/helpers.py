"""Helpers shared by the top-level test modules (``from helpers import ...``).

tests/conftest.py puts this directory on ``sys.path``, as tests/zmtp and tests/interop do for
their own helper modules, so the import works in every pytest import mode. Only what more
than one module needs lives here; fixtures live in conftest.py.

- leak checks: ``live_greenlets``/``open_fds`` snapshots, then ``assert_no_greenlet_left``
  /``assert_no_fd_left``; ``wait_until``
- hub liveness: ``Ticker``
- monitor events: ``wait_for_event`` (the one waiting helper), ``read_events``, ``seen``,
  ``count``
- pyzmq as the oracle: ``outcome``
- a hand-driven ZMTP peer: ``raw_peer``; raw frames: ``NULL_GREETING``, ``long_header``
- an honest peer measuring round trips while attacks run: ``EchoServer``; ``rss_bytes``
"""

from __future__ import annotations

import gc
import os
import struct
import time
from typing import Any, Callable, Optional

import gevent
import gevent.threadpool
import greenlet

from gevent import socket as gsocket

import gzmq
from gzmq import zmtp
from gzmq.utils.monitor import recv_monitor_message

# ---------------------------------------------------------------------------------------------
# leak checks: take a snapshot, do the work, then wait until nothing new is left

_POOL_WORKER = getattr(gevent.threadpool, "_WorkerGreenlet", ())


def live_greenlets() -> set[Any]:
    """Running greenlets of this thread, less the hub: what gzmq could have left behind.

    gevent's thread pool (its DNS resolver) keeps idle worker threads; their greenlets
    (ThreadPoolWorker, each thread's main greenlet) are gevent's, not leaks."""
    gc.collect()
    return {o for o in gc.get_objects()
            if isinstance(o, greenlet.greenlet) and not o.dead and o.parent is not None
            and not isinstance(o, _POOL_WORKER)
            and o is not gevent.get_hub() and o is not greenlet.getcurrent()}


def open_fds() -> set[int]:
    return {int(name) for name in os.listdir("/proc/self/fd")}


def wait_until(condition: Callable[[], bool], timeout: float = 2.0) -> bool:
    """Poll ``condition`` (letting the hub run) until it holds or ``timeout`` s pass."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        gevent.sleep(0.01)
    return True


def assert_no_greenlet_left(before: set[Any], timeout: float = 2.0) -> None:
    """Every greenlet that was not running at ``before = live_greenlets()`` ends in time."""
    assert wait_until(lambda: not (live_greenlets() - before), timeout), \
        f"left running: {live_greenlets() - before}"


def assert_no_fd_left(before: set[int], timeout: float = 2.0) -> None:
    """Every fd opened since ``before = open_fds()`` is closed in time."""
    assert wait_until(lambda: open_fds() <= before, timeout), \
        f"fds left open: {sorted(open_fds() - before)}"


# ---------------------------------------------------------------------------------------------
# hub liveness


class Ticker:
    """A greenlet that counts how often it gets to run (every ``interval`` s): proof that the
    hub keeps running while a test blocks in gzmq."""

    def __init__(self, interval: float = 0.01) -> None:
        self.ticks = 0
        self._greenlet = gevent.spawn(self._run, interval)

    def _run(self, interval: float) -> None:
        while True:
            gevent.sleep(interval)
            self.ticks += 1

    def stop(self) -> int:
        self._greenlet.kill()
        return self.ticks


# ---------------------------------------------------------------------------------------------
# monitor events (dicts from gzmq.utils.monitor.recv_monitor_message)

Events = list[dict[str, Any]]


def _next_event(monitor: Any, deadline: float) -> Optional[dict[str, Any]]:
    """The next monitor event, or None if none comes before ``deadline`` (monotonic)."""
    remaining = deadline - time.monotonic()
    if remaining > 0 and monitor.poll(max(1, int(remaining * 1000))):
        return recv_monitor_message(monitor)
    return None


def wait_for_event(monitor: Any, event: int, value: Optional[int] = None,
                   timeout: float = 5.0, into: Optional[Events] = None) -> dict[str, Any]:
    """Read ``monitor`` until ``event`` (with ``value``, if given) arrives, and return it (the
    dict of ``recv_monitor_message``). Every event read on the way, the one waited for
    included, is appended to ``into`` if given. Fails after ``timeout`` seconds, listing the
    events that did come.

    The one way tests wait for a monitor event; ``read_events`` collects them for a while."""
    events: Events = [] if into is None else into
    start = len(events)
    deadline = time.monotonic() + timeout
    while True:
        got = _next_event(monitor, deadline)
        if got is None:
            came = [(_event_name(e["event"]), e["value"]) for e in events[start:]]
            wanted = _event_name(event) + ("" if value is None else f" ({value})")
            raise AssertionError(f"no {wanted} within {timeout} s; the events that came: "
                                 f"{came or 'none'}")
        events.append(got)
        if got["event"] == event and (value is None or got["value"] == value):
            return got


def _event_name(event: int) -> str:
    member = gzmq.Event._value2member_map_.get(event)  # (a flag enum: no made-up names)
    return f"EVENT_{member.name}" if member is not None else str(event)


def read_events(monitor: Any, timeout: float,
                until: Optional[Callable[[Events], bool]] = None) -> Events:
    """Monitor events for ``timeout`` seconds, or until ``until(events)`` holds (it never
    fails: for "this must come", use ``wait_for_event``)."""
    events: Events = []
    deadline = time.monotonic() + timeout
    while not (until is not None and until(events)):
        got = _next_event(monitor, deadline)
        if got is None:
            break
        events.append(got)
    return events


def seen(event: int, value: Optional[int] = None) -> Callable[[Events], bool]:
    """A predicate on an event list: ``event`` (with ``value``, if given) is among them."""
    return lambda events: any(e["event"] == event and (value is None or e["value"] == value)
                              for e in events)


def count(events: Events, event: int) -> int:
    return sum(1 for e in events if e["event"] == event)


# ---------------------------------------------------------------------------------------------
# pyzmq (libzmq) as the oracle


def outcome(function: Any, *args: Any) -> tuple[str, Any]:
    """('ok', value) or ('ZMQError', errno) or (exception class name, None): comparable
    between a gzmq call and the same pyzmq call."""
    import zmq  # pyzmq; only the oracle tests call this, and they skip without it
    try:
        return ("ok", function(*args))
    except (zmq.ZMQError, gzmq.ZMQError) as e:
        return ("ZMQError", e.errno)
    except Exception as e:  # noqa: BLE001 - the class is what we compare
        return (type(e).__name__, None)


# ---------------------------------------------------------------------------------------------
# a hand-driven ZMTP peer


def raw_peer(bound, socket_type, rcvbuf=None):
    """A hand-driven ZMTP peer of ``socket_type`` connected to ``bound``, handshake done."""
    port = int(bound.last_endpoint.rsplit(b":", 1)[1])
    stream = gsocket.create_connection(("127.0.0.1", port))
    if rcvbuf is not None:
        stream.setsockopt(gsocket.SOL_SOCKET, gsocket.SO_RCVBUF, rcvbuf)
    conn = zmtp.Connection(socket_type, zmtp.NullMechanism())
    stream.sendall(conn.initiate())
    with gevent.Timeout(5):
        while conn.state is not zmtp.ConnectionState.READY:
            conn.receive_data(stream.recv(4096))
            stream.sendall(conn.data_to_send())
    return stream, conn


#: a ZMTP 3.1 NULL greeting as a client's (as-server 0)
NULL_GREETING = zmtp.Connection("DEALER").initiate() + \
    b"\x01NULL" + b"\0" * 16 + b"\0" + b"\0" * 31


def long_header(size: int, flags: int = 0) -> bytes:
    """A long frame header declaring ``size`` bytes."""
    return bytes([flags | 0x02]) + struct.pack(">Q", size)


def port_of(socket: Any) -> int:
    return int(socket.last_endpoint.rsplit(b":", 1)[1])


def rss_bytes() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


class EchoServer:
    """A ROUTER that echoes every request, and an honest DEALER measuring round trips."""

    def __init__(self, ctx: Any) -> None:
        self.router = ctx.socket(gzmq.ROUTER)
        self.router.linger = 0
        self.router.bind("tcp://127.0.0.1:*")
        self._echo = gevent.spawn(self._serve)
        self.client = ctx.socket(gzmq.DEALER)
        self.client.linger = 0
        self.client.rcvtimeo = 2000
        self.client.connect(self.router.last_endpoint)
        self.round_trip()  # connected

    def _serve(self) -> None:
        while True:
            self.router.send_multipart(self.router.recv_multipart())

    def round_trip(self) -> float:
        started = time.monotonic()
        self.client.send(b"ping")
        assert self.client.recv() == b"ping"
        return time.monotonic() - started

    def worst_round_trip(self, count: int = 0, seconds: float = 0.0) -> float:
        """The slowest of ``count`` round trips, or of those made for ``seconds``.

        The objects that exist when it starts are kept out of the cyclic GC meanwhile
        (``gc.freeze``): a full collection walks every object of the test process (pytest's,
        hypothesis', earlier tests'), 50-100 ms at this point of the suite, a stall of the
        test's making. What the measured traffic allocates is still collected."""
        gc.freeze()
        try:
            worst, made, until = 0.0, 0, time.monotonic() + seconds
            while made < count or time.monotonic() < until:
                worst = max(worst, self.round_trip())
                made += 1
                gevent.sleep(0.005)
            return worst
        finally:
            gc.unfreeze()

    def stop(self) -> None:
        self._echo.kill()
