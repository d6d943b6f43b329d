"""Fixtures for the socket-semantics spec suite (RFC 28/29/30/31 + libzmq behaviour).

Every test runs once per transport (``inproc``, ``tcp``, ``ipc``) through the ``net`` fixture,
which makes endpoints and waits for connections by *events*, never by long sleeps:

- tcp/ipc: each watched socket gets a monitor; ``net.link()`` / ``net.wait()`` read
  ``EVENT_HANDSHAKE_SUCCEEDED`` until the expected number of peers is up (bounded).
- inproc: connecting to a bound name is immediate; nothing to wait for.
- After waiting, ``getsockopt(EVENTS)`` makes libzmq process the socket's pending commands
  (pipe attach), which a real libzmq needs before round-robin tests mean anything.

``GZMQ_SPEC_IMPL=pyzmq`` runs the same tests against plain pyzmq (real libzmq 4.3.5) to
validate the tests themselves; the default is gzmq. All waits use ``poll`` with timeouts, so
the suite is correct for both (libzmq has its own I/O thread; gzmq's runs while we poll).
"""
from __future__ import annotations

import os
import shutil
import socket as _pysocket
import struct
import tempfile
import time
from typing import Any, Iterator, Optional

import gevent
import pytest

IMPL = os.environ.get("GZMQ_SPEC_IMPL", "gzmq")
if IMPL == "pyzmq":
    import zmq as zmq_impl
elif IMPL == "gzmq":
    import gzmq as zmq_impl
else:  # pragma: no cover
    raise RuntimeError(f"GZMQ_SPEC_IMPL must be 'gzmq' or 'pyzmq', not {IMPL!r}")

TRANSPORTS = ["inproc", "tcp", "ipc"]
#: bound on every "this must happen" wait (seconds)
WAIT = 5.0
#: how long "nothing arrives" is observed (seconds); the thing would take microseconds
QUIET = 0.1
#: tcp/ipc only: time for bytes already written to reach the peer's queue (fair-queue tests)
SETTLE = 0.1


def _sleep(seconds: float) -> None:
    if IMPL == "gzmq":
        gevent.sleep(seconds)
    else:
        time.sleep(seconds)


class Net:
    """Endpoints, connection waits and bounded receive helpers for one transport."""

    def __init__(self, zmq: Any, ctx: Any, transport: str, tmpdir: str) -> None:
        self.zmq = zmq
        self.ctx = ctx
        self.transport = transport
        self.tmpdir = tmpdir
        self._count = 0
        self._monitors: dict[int, list[Any]] = {}  # id(socket) -> [monitor, seen, expected]

    # --- endpoints ------------------------------------------------------------------------

    def endpoint(self) -> str:
        """A fresh bindable endpoint (tcp: wildcard port; read the real one back)."""
        self._count += 1
        if self.transport == "inproc":
            return f"inproc://spec-{id(self):x}-{self._count}"
        if self.transport == "ipc":
            return f"ipc://{self.tmpdir}/{self._count}"
        return "tcp://127.0.0.1:*"

    def fixed_endpoint(self) -> str:
        """A concrete endpoint nobody is bound to yet (for connect-before-bind)."""
        if self.transport != "tcp":
            return self.endpoint()
        probe = _pysocket.socket(_pysocket.AF_INET, _pysocket.SOCK_STREAM)
        try:
            probe.bind(("127.0.0.1", 0))
            return f"tcp://127.0.0.1:{probe.getsockname()[1]}"
        finally:
            probe.close()

    def bind(self, sock: Any, endpoint: Optional[str] = None) -> str:
        sock.bind(endpoint or self.endpoint())
        return sock.getsockopt(self.zmq.LAST_ENDPOINT).decode()

    # --- waiting for peers ----------------------------------------------------------------

    def watch(self, *socks: Any) -> None:
        """Start counting handshakes on ``socks`` (call before bind/connect)."""
        if self.transport == "inproc":
            return
        for sock in socks:
            if id(sock) not in self._monitors:
                monitor = sock.get_monitor_socket(self.zmq.EVENT_HANDSHAKE_SUCCEEDED)
                self._monitors[id(sock)] = [monitor, 0, 0]

    def wait(self, sock: Any, more: int = 1, timeout: float = WAIT) -> None:
        """Wait until ``sock`` has completed ``more`` further handshakes."""
        if self.transport != "inproc":
            entry = self._monitors[id(sock)]
            entry[2] += more
            deadline = time.monotonic() + timeout
            while entry[1] < entry[2]:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not entry[0].poll(int(remaining * 1000) + 1):
                    raise AssertionError(
                        f"{sock!r}: {entry[1]} of {entry[2]} handshakes after {timeout} s")
                frames = entry[0].recv_multipart(self.zmq.NOBLOCK)
                if struct.unpack("=H", frames[0][:2])[0] == self.zmq.EVENT_HANDSHAKE_SUCCEEDED:
                    entry[1] += 1
        sock.getsockopt(self.zmq.EVENTS)  # libzmq: process pending attach commands now

    def link(self, binder: Any, *connecters: Any, endpoint: Optional[str] = None) -> str:
        """Bind ``binder``, connect every connecter, wait until all are up; the endpoint."""
        self.watch(binder, *connecters)
        address = self.bind(binder, endpoint)
        for sock in connecters:
            sock.connect(address)
        self.wait(binder, len(connecters))
        for sock in connecters:
            self.wait(sock)
        return address

    @staticmethod
    def pause(seconds: float) -> None:
        """A short bounded sleep that lets gzmq's connection greenlets run."""
        _sleep(seconds)

    def settle(self) -> None:
        """tcp/ipc: let bytes already sent reach the peer's queue (inproc needs nothing)."""
        if self.transport != "inproc":
            _sleep(SETTLE)

    # --- sending with nowhere to send -----------------------------------------------------

    def assert_send_blocks(self, sock: Any) -> None:
        """``sock`` (SNDTIMEO 100 ms) has no peer: a send is EAGAIN at once with NOBLOCK and
        after the timeout without it (it blocked), and POLLOUT is not set."""
        with pytest.raises(self.zmq.Again):
            sock.send(b"x", self.zmq.NOBLOCK)
        start = time.monotonic()
        with pytest.raises(self.zmq.Again):
            sock.send(b"x")
        assert time.monotonic() - start >= 0.08
        assert not sock.poll(0, self.zmq.POLLOUT)

    # --- filling a peer up ---------------------------------------------------------------

    def fill(self, send_nowait: Any, limit: int = 2000, stall: float = 0.3) -> int:
        """Call ``send_nowait()`` (a NOBLOCK send) until it keeps raising Again; the count.

        Connection writers drain into kernel buffers while there is room, so an EAGAIN is
        retried for ``stall`` seconds before the sender counts as blocked for good (POLLOUT
        is no help: libzmq's XPUB always reports it). ``limit`` bounds the total: a sender
        that never blocks fails the test.
        """
        count = 0
        blocked_since: Optional[float] = None
        while True:
            try:
                send_nowait()
                count, blocked_since = count + 1, None
            except self.zmq.Again:
                now = time.monotonic()
                blocked_since = blocked_since or now
                if now - blocked_since > stall:
                    return count
                _sleep(0.005)
            if count >= limit:
                raise AssertionError(f"sender never blocked after {limit} messages")

    # --- bounded receiving ----------------------------------------------------------------

    def recv(self, sock: Any, timeout: float = WAIT) -> list[bytes]:
        """The next whole message; AssertionError if none within ``timeout``."""
        deadline = time.monotonic() + timeout
        while True:  # POLLIN may be spurious (libzmq REQ: a reply from a peer not asked)
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not sock.poll(int(remaining * 1000) + 1):
                raise AssertionError(f"{sock!r}: no message within {timeout} s")
            try:
                return sock.recv_multipart(self.zmq.NOBLOCK)
            except self.zmq.Again:
                continue

    def recv1(self, sock: Any, timeout: float = WAIT) -> bytes:
        """The next message, which must be a single frame."""
        msg = self.recv(sock, timeout)
        assert len(msg) == 1, msg
        return msg[0]

    def nothing(self, sock: Any, timeout: float = QUIET) -> None:
        """Assert that no message arrives within ``timeout``."""
        if sock.poll(int(timeout * 1000)):
            raise AssertionError(f"unexpected message: {sock.recv_multipart(self.zmq.NOBLOCK)}")

    def drain(self, sock: Any, quiet: float = 0.2, limit: int = 1_000_000) -> list[list[bytes]]:
        """Everything that arrives until ``quiet`` seconds pass with nothing new."""
        got: list[list[bytes]] = []
        while len(got) < limit and sock.poll(int(quiet * 1000)):
            while len(got) < limit:
                try:
                    got.append(sock.recv_multipart(self.zmq.NOBLOCK))
                except self.zmq.Again:
                    break
        return got

    def sync_subs(self, pub: Any, subs: list[Any], prefix: bytes) -> None:
        """Publish numbered probes under ``prefix`` until every subscriber gets them.

        Messages on one connection stay in order, so once a subscriber has one probe it
        receives every later one: drain up to the last probe sent and the queues are empty
        of probes. Every subscriber that matches ``prefix`` must be in ``subs``.
        """
        deadline = time.monotonic() + WAIT
        sent = 0
        last: dict[int, int] = {}
        while len(last) < len(subs):
            if time.monotonic() > deadline:
                raise AssertionError(f"subscriptions to {prefix!r} never took effect")
            pub.send(prefix + b"#probe%d" % sent)
            sent += 1
            for sock in subs:
                if id(sock) not in last and sock.poll(10):
                    last[id(sock)] = self._probe_number(sock.recv_multipart(self.zmq.NOBLOCK))
        for sock in subs:
            while last[id(sock)] < sent - 1:
                last[id(sock)] = self._probe_number(self.recv(sock))

    @staticmethod
    def _probe_number(msg: list[bytes]) -> int:
        assert len(msg) == 1 and b"#probe" in msg[0], msg
        return int(msg[0].rsplit(b"#probe", 1)[1])


@pytest.fixture(scope="session")
def zmq() -> Any:
    """The module under test, used like pyzmq."""
    return zmq_impl


@pytest.fixture
def ctx() -> Iterator[Any]:
    context = zmq_impl.Context()
    yield context
    context.destroy(linger=0)


@pytest.fixture(params=TRANSPORTS)
def transport(request: Any) -> str:
    return request.param


@pytest.fixture
def net(zmq: Any, ctx: Any, transport: str) -> Iterator[Net]:
    tmpdir = tempfile.mkdtemp(prefix="gz", dir="/tmp")
    try:
        yield Net(zmq, ctx, transport, tmpdir)
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)


@pytest.fixture
def sock(ctx: Any) -> Any:
    """sock(TYPE, **options): a socket with options set (linger 0 unless given)."""

    def make(socket_type: int, **options: Any) -> Any:
        s = ctx.socket(socket_type)
        options.setdefault("linger", 0)
        for name, value in options.items():
            s.setsockopt(getattr(zmq_impl, name.upper()), value)
        return s

    return make
