"""Bounded resources under connection floods (issue 7, item 7).

- **The handshake bound.** A socket keeps at most ``max_pending_handshakes`` (default
  ``gzmq.transports.stream.MAX_PENDING_HANDSHAKES``, 1024) accepted connections in their
  handshake. Beyond it a new connection is admitted and a pending one is evicted: closed at
  once with a reset, nothing sent after its greeting, counted in
  ``handshake_gate(sock).evicted`` (``refused``, its former name, still reads it), reported as
  ACCEPT_FAILED (EAGAIN) then DISCONNECTED on the monitor, and logged on ``gzmq.security`` once
  per flood plus a periodic summary. The victim is the oldest of the newcomer's own source
  once that source holds half the bound, else the oldest of a source holding more than half,
  else the oldest of all: a flood that keeps the gate full never locks a new peer out (it
  has bound / flood rate seconds for its handshake, or HANDSHAKE_IVL if the flood comes from
  another address). The slot is given back however the handshake ends.
- **HANDSHAKE_IVL at every stall point.** Observed with a libzmq 4.3.5 ROUTER (pyzmq 27,
  HANDSHAKE_IVL 300 ms) and a raw TCP peer: whether the peer says nothing, stops inside the
  greeting (after 1, 10, 11 or 63 bytes), stops after a NULL, PLAIN or CURVE greeting, or
  waits on a ZAP handler that never answers, libzmq closes at 0.30 s and reports
  HANDSHAKE_FAILED_NO_DETAIL (value EAGAIN, the errno of the moment; gzmq says the same)
  then DISCONNECTED. After a ZAP 300 it reports HANDSHAKE_FAILED_AUTH 300 at once, then only
  DISCONNECTED at 0.30 s.
- **MAX_SOCKETS** as libzmq enforces it (compared with pyzmq in a subprocess).
- **Floods** of connections that never send a byte leave the socket serving its peers, and
  nothing behind once the attackers hang up: 500 and 5,000 held connections (about 1 s each;
  the 5,000 raise RLIMIT_NOFILE's soft limit if needed, or skip), a slow 10 s churn of
  attackers that dial and hang up while new peers join, and a raw flood from another process
  that keeps the gate full and redials every evicted connection, while new gzmq and libzmq
  peers get in within a second (they used to wait for a slot, up to HANDSHAKE_IVL).
"""

from __future__ import annotations

import errno
import gc
import importlib.util
import json
import logging
import os
import resource
import subprocess
import sys
import time
from typing import Any, Callable, Optional

import gevent
import gevent.pool
import pytest
from gevent import socket as gsocket
from helpers import assert_no_fd_left, count, open_fds, read_events, seen, wait_until

import gzmq as zmq
from gzmq.transports import stream as stream_module
from gzmq.transports.stream import handshake_gate

SECURITY_LOG = "gzmq.security"


# ---------------------------------------------------------------------------------------------
# helpers


class Server:
    """A monitored ROUTER that echoes every message back, bound on tcp."""

    def __init__(self, ctx: Any, bound: Optional[int] = None, handshake_ivl: Optional[int] = None,
                 setup: Optional[Callable[[Any], None]] = None) -> None:
        self.ctx = ctx
        self.router = ctx.socket(zmq.ROUTER)
        if bound is not None:
            self.router.max_pending_handshakes = bound
        if handshake_ivl is not None:
            self.router.handshake_ivl = handshake_ivl
        if setup is not None:
            setup(self.router)
        self.monitor = self.router.get_monitor_socket()
        self.port = self.router.bind_to_random_port("tcp://127.0.0.1")
        self.endpoint = f"tcp://127.0.0.1:{self.port}"
        self.gate = handshake_gate(self.router)
        self._echo = gevent.spawn(self._run_echo)

    def _run_echo(self) -> None:
        try:
            while True:
                self.router.send_multipart(self.router.recv_multipart())
        except zmq.ZMQError:
            pass

    def events(self, timeout: float, until: Any = None) -> list[dict[str, Any]]:
        return read_events(self.monitor, timeout, until)

    def client(self, setup: Optional[Callable[[Any], None]] = None) -> Any:
        dealer = self.ctx.socket(zmq.DEALER)
        dealer.linger = 0
        dealer.rcvtimeo = 5000
        dealer.reconnect_ivl = 50
        if setup is not None:
            setup(dealer)
        dealer.connect(self.endpoint)
        return dealer

    def round_trip(self, dealer: Any, payload: bytes = b"ping") -> float:
        start = time.perf_counter()
        dealer.send(payload)
        assert dealer.recv() == payload
        return time.perf_counter() - start

    def new_peer_round_trip(self) -> float:
        """A fresh gzmq peer connects, does one round trip, and hangs up."""
        dealer = self.client()
        try:
            return self.round_trip(dealer)
        finally:
            dealer.close()

    def close(self) -> None:
        self._echo.kill()
        self.monitor.close(linger=0)
        self.router.close(linger=0)


def silent_peer(port: int, source: str = "") -> Optional[gsocket.socket]:
    """A TCP connection (from ``source``, an address of lo, if given) that never sends a byte;
    None if the server reset it during connect."""
    sock = gsocket.socket(gsocket.AF_INET, gsocket.SOCK_STREAM)
    try:
        if source:
            sock.bind((source, 0))
        sock.connect(("127.0.0.1", port))
    except OSError as error:
        sock.close()
        if error.errno in (errno.ECONNRESET, errno.ECONNREFUSED):
            return None
        raise
    return sock


def silent_peers(port: int, attempts: int, batch: int) -> tuple[list[gsocket.socket], int]:
    """``attempts`` silent peers, at most ``batch`` dialling at once: (the connected ones, how
    many were reset while connecting)."""
    peers: list[gsocket.socket] = []
    reset = [0]

    def dial() -> None:
        sock = silent_peer(port)
        if sock is None:
            reset[0] += 1
        else:
            peers.append(sock)

    pool = gevent.pool.Pool(batch)
    for _ in range(attempts):
        pool.spawn(dial)
    pool.join(raise_error=True)
    return peers, reset[0]


def read_until_closed(sock: gsocket.socket, timeout: float = 2.0) -> tuple[bytes, float]:
    """What the server sent before it closed the connection, and how long that took."""
    start = time.monotonic()
    received = b""
    with gevent.Timeout(timeout, AssertionError(f"still open after {timeout} s")):
        try:
            while True:
                data = sock.recv(4096)
                if not data:
                    break
                received += data
        except ConnectionResetError:
            pass
    return received, time.monotonic() - start


def is_reset_after_greeting(sock: gsocket.socket, timeout: float = 2.0) -> bool:
    """Closed by the server with a reset, and nothing sent but (the rest of) its greeting:
    how an evicted handshake ends for a peer that said nothing."""
    received = b""
    with gevent.Timeout(timeout, AssertionError(f"still open after {timeout} s")):
        try:
            while True:
                data = sock.recv(4096)
                if not data:
                    return False  # a FIN: a graceful close, not a reset
                received += data
                assert len(received) <= 64 and received[:1] == b"\xff", received
        except ConnectionResetError:
            return True


def is_open(sock: gsocket.socket, wait: float = 0.2) -> bool:
    """Still connected (nothing but greeting bytes arrive, no end) after ``wait`` s."""
    with gevent.Timeout(wait, False):
        try:
            while sock.recv(4096):
                pass
        except OSError:
            pass
        return False
    return True


def close_all(socks: list[gsocket.socket]) -> None:
    for sock in socks:
        sock.close()


def ensure_fd_limit(needed: int) -> None:
    """Raise the soft RLIMIT_NOFILE towards the hard one if ``needed`` fds would not fit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    have = len(os.listdir("/proc/self/fd"))
    if soft != resource.RLIM_INFINITY and soft < have + needed:
        target = have + needed if hard == resource.RLIM_INFINITY else min(hard, have + needed)
        if target < have + needed:
            pytest.skip(f"needs {needed} more fds, the hard limit is {hard}")
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


def rss_kib() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def greeting(mechanism: bytes = b"NULL") -> bytes:
    return (b"\xff" + b"\0" * 8 + b"\x7f" + b"\x03\x01" + mechanism.ljust(20, b"\0") + b"\0"
            + b"\0" * 31)


def command(body: bytes) -> bytes:
    return bytes([0x04, len(body)]) + body


def plain_hello(username: bytes = b"admin", password: bytes = b"secret") -> bytes:
    return command(b"\x05HELLO" + bytes([len(username)]) + username
                   + bytes([len(password)]) + password)


def security_warnings(caplog: Any, about: str = "") -> list[str]:
    """The gzmq.security warnings (mentioning ``about``: other tests' sockets may log too)."""
    return [r.getMessage() for r in caplog.records
            if r.name == SECURITY_LOG and r.levelno >= logging.WARNING
            and about in r.getMessage()]


# ---------------------------------------------------------------------------------------------
# the handshake bound


def test_default_bound_is_readable_and_per_socket(ctx: Any) -> None:
    a, b = ctx.socket(zmq.ROUTER), ctx.socket(zmq.ROUTER)
    assert a.max_pending_handshakes == stream_module.MAX_PENDING_HANDSHAKES == 1024
    a.max_pending_handshakes = 10
    assert b.max_pending_handshakes == 1024
    assert handshake_gate(a).limit == 10 and handshake_gate(b).limit == 1024
    b.max_pending_handshakes = 0
    assert handshake_gate(b).limit == 0  # no bound


def test_a_full_gate_evicts_the_oldest_pending_handshake(ctx: Any, caplog: Any) -> None:
    caplog.set_level(logging.WARNING, SECURITY_LOG)
    server = Server(ctx, bound=4)
    peers = [silent_peer(server.port) for _ in range(4)]
    assert all(peers)
    assert wait_until(lambda: server.gate.pending == 4)
    for peer in peers:  # they are in their handshake: the server has sent its greeting
        assert peer.recv(64)[:1] == b"\xff"
    for n in range(6):  # each newcomer is admitted, and the oldest pending one goes
        newcomer = silent_peer(server.port)
        assert newcomer is not None
        assert newcomer.recv(64)[:1] == b"\xff"  # admitted: it got the greeting
        assert is_reset_after_greeting(peers[n])  # reset, nothing more sent
        assert server.gate.evicted == n + 1 and server.gate.pending == 4
        peers.append(newcomer)
    assert server.gate.refused == 6  # the former name
    assert all(is_open(peer, 0.05) for peer in peers[6:])
    events = server.events(1, lambda ev: count(ev, zmq.EVENT_DISCONNECTED) >= 6
                           and count(ev, zmq.EVENT_ACCEPTED) >= 10)
    assert count(events, zmq.EVENT_ACCEPTED) == 10
    assert count(events, zmq.EVENT_ACCEPT_FAILED) == 6
    assert all(e["value"] == errno.EAGAIN for e in events if e["event"] == zmq.EVENT_ACCEPT_FAILED)
    assert count(events, zmq.EVENT_DISCONNECTED) == 6  # each one ACCEPTED before
    warnings = security_warnings(caplog, server.endpoint)
    assert len(warnings) == 1, warnings  # one line for the flood, not one per connection
    assert "max_pending_handshakes" in warnings[0] and server.endpoint in warnings[0]
    assert "4 are from 127.0.0.1" in warnings[0], warnings
    # the four in their handshake are untouched, and their end frees the slots
    close_all(peers)
    assert wait_until(lambda: server.gate.pending == 0)
    assert server.new_peer_round_trip() < 1.0
    assert server.gate.evicted == 6


def test_a_source_over_its_share_evicts_its_own(ctx: Any) -> None:
    # one address may keep at most half the slots once the gate is full: a flood from
    # 127.0.0.2 only ever displaces its own connections, so a slow handshake from 127.0.0.1
    # keeps its slot (with oldest-first alone it would go after 8 more connections)
    server = Server(ctx, bound=8)
    slow = silent_peer(server.port)
    assert wait_until(lambda: server.gate.pending == 1)
    flood = []
    for n in range(40):
        peer = silent_peer(server.port, source="127.0.0.2")
        assert peer is not None
        flood.append(peer)
        assert wait_until(lambda: server.gate.holding("127.0.0.2") == min(n + 1, 7)
                          and server.gate.evicted == max(n - 6, 0))
    assert server.gate.pending == 8 and server.gate.holding("127.0.0.1") == 1
    assert is_open(slow)
    assert all(is_reset_after_greeting(peer) for peer in flood[:33])
    # a second peer from 127.0.0.1 is under its share: the flood's oldest makes room
    second = silent_peer(server.port)
    assert wait_until(lambda: server.gate.holding("127.0.0.1") == 2)
    assert server.gate.holding("127.0.0.2") == 6
    assert is_reset_after_greeting(flood[33])
    assert is_open(slow, 0.05) and is_open(second, 0.05)
    # and a legitimate peer from 127.0.0.1 finishes its handshake
    assert server.new_peer_round_trip() < 1.0
    close_all(flood + [slow, second])
    assert wait_until(lambda: server.gate.pending == 0)


@pytest.mark.parametrize("address, key", [
    ("192.0.2.7", "192.0.2.7"), ("::ffff:192.0.2.7", "192.0.2.7"),
    ("2001:db8:1:2:3:4:5:6", "2001:0db8:0001:0002"), ("2001:db8:1:2::9", "2001:0db8:0001:0002"),
    ("fe80::1%lo", "fe80:0000:0000:0000"), ("localhost:1000:1000:4242", "localhost:1000:1000"),
    ("", ""),
])
def test_source_key(address: str, key: str) -> None:
    assert stream_module.source_key(address) == key


def test_evicting_a_handshake_waiting_on_zap_ends_its_engine(ctx: Any) -> None:
    # the engine waits for a ZAP reply, not on its stream: closing the stream alone would
    # leave it (and its memory) until HANDSHAKE_IVL; eviction ends it at once
    handler = _silent_zap_handler(ctx)
    server = Server(ctx, bound=2, setup=_plain)
    peers = []
    for _ in range(5):
        peer = silent_peer(server.port)
        peer.sendall(greeting(b"PLAIN") + plain_hello())
        peers.append(peer)
        handler.recv_multipart()  # its engine asked ZAP
    assert server.gate.pending == 2 and server.gate.evicted == 3
    assert all(is_reset_after_greeting(peer) for peer in peers[:3])
    assert wait_until(lambda: len(server.router._lifecycle.peers) == 2), \
        server.router._lifecycle.peers
    assert all(is_open(peer, 0.05) for peer in peers[3:])
    close_all(peers)
    handler.close()


def test_established_connections_do_not_count(ctx: Any) -> None:
    server = Server(ctx, bound=2)
    clients = [server.client() for _ in range(6)]
    for client in clients:
        server.round_trip(client)
    assert server.gate.pending == 0


def _end_by_success(server: Server, ctx: Any) -> Any:
    dealer = server.client()
    server.round_trip(dealer)
    return dealer  # still connected: the slot is free because the handshake succeeded


def _end_by_protocol_error(server: Server, ctx: Any) -> Any:
    peer = silent_peer(server.port)
    peer.sendall(b"GET / HTTP/1.1\r\n\r\n" + b"x" * 64)
    read_until_closed(peer)
    return peer


def _end_by_timeout(server: Server, ctx: Any) -> Any:
    peer = silent_peer(server.port)
    read_until_closed(peer)  # HANDSHAKE_IVL is 200 ms here
    return peer


def _end_by_hang_up(server: Server, ctx: Any) -> Any:
    peer = silent_peer(server.port)
    assert wait_until(lambda: server.gate.pending == 1)
    peer.sendall(greeting()[:20])
    peer.close()
    return None


def _end_by_unbind(server: Server, ctx: Any) -> Any:
    peer = silent_peer(server.port)
    assert wait_until(lambda: server.gate.pending == 1)
    server.router.unbind(server.endpoint)
    read_until_closed(peer)
    return peer


def _end_by_zap_denial(server: Server, ctx: Any) -> Any:
    from gzmq.auth import Authenticator
    auth = Authenticator(ctx)
    auth.start()
    auth.configure_plain(domain="*", passwords={"admin": "right"})
    peer = silent_peer(server.port)
    peer.sendall(greeting(b"PLAIN") + plain_hello(b"admin", b"wrong"))
    assert wait_until(lambda: server.gate.pending == 0, timeout=3)
    auth.stop()
    return peer


ENDINGS = {
    "success": _end_by_success, "protocol-error": _end_by_protocol_error,
    "timeout": _end_by_timeout, "peer-hang-up": _end_by_hang_up, "unbind": _end_by_unbind,
    "zap-denial": _end_by_zap_denial,
}


@pytest.mark.parametrize("ending", list(ENDINGS))
def test_slot_given_back_however_the_handshake_ends(ctx: Any, ending: str) -> None:
    setup = (lambda s: setattr(s, "plain_server", True)) if ending == "zap-denial" else None
    server = Server(ctx, bound=1, handshake_ivl=200, setup=setup)
    left = ENDINGS[ending](server, ctx)
    assert wait_until(lambda: server.gate.pending == 0), server.gate.pending
    if ending not in ("unbind", "zap-denial"):  # a second peer gets the (only) slot
        assert server.new_peer_round_trip() < 1.0
    assert server.gate.evicted == 0
    if left is not None:
        left.close()


def test_slots_given_back_when_the_socket_closes(ctx: Any) -> None:
    fds = open_fds()
    server = Server(ctx, bound=3)
    peers = [silent_peer(server.port) for _ in range(3)]
    assert wait_until(lambda: server.gate.pending == 3)
    gate = server.gate
    server.close()
    assert wait_until(lambda: gate.pending == 0)
    for peer in peers:
        read_until_closed(peer)
        peer.close()
    assert_no_fd_left(fds)


def test_slot_given_back_when_the_engine_is_killed_before_it_runs(ctx: Any) -> None:
    # close(linger=0) right after accept: the engine greenlet never starts; its stream is
    # closed and its slot freed all the same
    fds = open_fds()
    server = Server(ctx, bound=5)
    peers = [silent_peer(server.port) for _ in range(5)]
    gate = server.gate
    assert wait_until(lambda: gate.pending == 5)
    server.router.max_pending_handshakes = 50
    more = [silent_peer(server.port) for _ in range(5)]
    gevent.sleep(0)  # accepted, perhaps with engines not yet started
    server.close()
    assert wait_until(lambda: gate.pending == 0)
    close_all(peers + [p for p in more if p is not None])
    assert_no_fd_left(fds)


def test_eviction_log_is_one_warning_then_summaries(ctx: Any, caplog: Any,
                                                    monkeypatch: Any) -> None:
    caplog.set_level(logging.WARNING, SECURITY_LOG)
    monkeypatch.setattr(stream_module, "REFUSALS_LOG_INTERVAL", 0.3)
    server = Server(ctx, bound=1)
    holder = silent_peer(server.port)
    assert wait_until(lambda: server.gate.pending == 1)
    evicted = []
    deadline = time.monotonic() + 0.75
    while time.monotonic() < deadline:  # 2-3 intervals of evictions
        peer = silent_peer(server.port)
        if peer is not None:
            evicted.append(peer)
        gevent.sleep(0.01)
    assert wait_until(lambda: server.gate.evicted >= 20)
    total = server.gate.evicted
    assert wait_until(lambda: any("no pending handshake evicted" in w
                                  for w in security_warnings(caplog, server.endpoint)), timeout=2)
    warnings = security_warnings(caplog, server.endpoint)
    assert "max_pending_handshakes" in warnings[0]
    summaries = [w for w in warnings if "in the last 0.3 s" in w]
    assert 1 <= len(summaries) <= 3, warnings
    assert f"{total - 1} were in the flood" in warnings[-1] or \
        f"{total} were in the flood" in warnings[-1], (total, warnings)
    assert len(warnings) <= 5 < total
    # a new flood starts a new episode, with a new first warning
    caplog.clear()
    extra = silent_peer(server.port)
    assert wait_until(lambda: server.gate.evicted == total + 1)
    assert len(security_warnings(caplog, server.endpoint)) == 1
    close_all(evicted + [holder] + ([extra] if extra else []))
    server.close()  # ends the episode with its last line at once
    assert "socket closed" in security_warnings(caplog, server.endpoint)[-1]


def test_no_bound_with_zero(ctx: Any) -> None:
    server = Server(ctx, bound=0)
    peers, reset = silent_peers(server.port, 60, 20)
    assert reset == 0
    assert wait_until(lambda: server.gate.pending == 60)
    assert server.gate.evicted == 0
    close_all(peers)
    assert wait_until(lambda: server.gate.pending == 0)


def test_bound_is_per_socket_across_its_endpoints(ctx: Any) -> None:
    server = Server(ctx, bound=2)
    other_port = server.router.bind_to_random_port("tcp://127.0.0.1")
    first = silent_peer(server.port)
    assert wait_until(lambda: server.gate.pending == 1)
    second = silent_peer(other_port)
    assert wait_until(lambda: server.gate.pending == 2)
    third = silent_peer(other_port)
    assert is_reset_after_greeting(first)  # the oldest, though on the other endpoint
    assert server.gate.evicted == 1 and server.gate.pending == 2
    assert is_open(second, 0.05) and is_open(third, 0.05)
    close_all([first, second, third])


LIBZMQ_CLIENT = r"""
import sys, zmq
ctx = zmq.Context()
s = ctx.socket(zmq.DEALER)
s.linger = 0
s.reconnect_ivl = 50
s.rcvtimeo = 10000
s.connect(sys.argv[1])
s.send(b"from libzmq")
print(s.recv().decode(), flush=True)
s.close()
ctx.term()
"""


@pytest.mark.interop
def test_libzmq_client_gets_in_past_a_full_gate(ctx: Any) -> None:
    pytest.importorskip("zmq")
    from gevent import subprocess as gsubprocess
    server = Server(ctx, bound=1)
    holder = silent_peer(server.port)
    assert wait_until(lambda: server.gate.pending == 1)
    client = gsubprocess.Popen([sys.executable, "-c", LIBZMQ_CLIENT, server.endpoint],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        out, err = client.communicate(timeout=15)
    finally:
        if client.poll() is None:
            client.kill()
            client.wait()
    assert client.returncode == 0, err.decode()[-2000:]
    assert out.decode().strip() == "from libzmq"
    assert server.gate.evicted == 1 and is_reset_after_greeting(holder)
    holder.close()


# ---------------------------------------------------------------------------------------------
# HANDSHAKE_IVL at every stall point (see the module docstring for libzmq's behaviour)

STALL_IVL = 200  # ms


def _silent_zap_handler(ctx: Any) -> Any:
    handler = ctx.socket(zmq.ROUTER)  # reads requests, never answers
    handler.linger = 0
    handler.bind("inproc://zeromq.zap.01")
    return handler


def _zap_300_handler(ctx: Any) -> Any:
    handler = ctx.socket(zmq.ROUTER)
    handler.linger = 0
    handler.bind("inproc://zeromq.zap.01")

    def serve() -> None:
        try:
            while True:
                frames = handler.recv_multipart()
                handler.send_multipart(frames[:2] + [b"1.0", frames[3], b"300", b"later",
                                                     b"", b""])
        except zmq.ZMQError:
            pass
    gevent.spawn(serve)
    return handler


def _plain(sock: Any) -> None:
    sock.plain_server = True


def _curve(sock: Any) -> None:
    public, secret = zmq.curve_keypair()
    sock.curve_server = True
    sock.curve_secretkey = secret


STALLS: dict[str, tuple[Optional[Callable[[Any], None]], Optional[Callable[[Any], Any]], bytes]] = {
    "silent": (None, None, b""),
    "greeting-1-byte": (None, None, greeting()[:1]),
    "greeting-10-bytes": (None, None, greeting()[:10]),
    "greeting-11-bytes": (None, None, greeting()[:11]),
    "greeting-63-bytes": (None, None, greeting()[:63]),
    "null-no-ready": (None, None, greeting()),
    "plain-no-hello": (_plain, None, greeting(b"PLAIN")),
    "curve-no-hello": (_curve, None, greeting(b"CURVE")),
    "zap-never-answers": (_plain, _silent_zap_handler, greeting(b"PLAIN") + plain_hello()),
    "zap-300": (_plain, _zap_300_handler, greeting(b"PLAIN") + plain_hello()),
}


@pytest.mark.parametrize("stall", list(STALLS))
def test_stalled_handshake_ends_at_handshake_ivl(ctx: Any, stall: str) -> None:
    setup, zap, data = STALLS[stall]
    handler = zap(ctx) if zap is not None else None
    server = Server(ctx, handshake_ivl=STALL_IVL, setup=setup)
    fds = open_fds()
    peer = silent_peer(server.port)
    if data:
        peer.sendall(data)
    _, elapsed = read_until_closed(peer, timeout=STALL_IVL / 1000 + 2)
    peer.close()
    assert STALL_IVL / 1000 * 0.9 <= elapsed < STALL_IVL / 1000 + 0.4, elapsed
    events = server.events(1, seen(zmq.EVENT_DISCONNECTED))
    failures = [(e["event"], e["value"]) for e in events if e["event"] in (
        zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL, zmq.EVENT_HANDSHAKE_FAILED_AUTH)]
    if stall == "zap-300":
        assert failures == [(zmq.EVENT_HANDSHAKE_FAILED_AUTH, 300)], events
    else:
        # libzmq 4.3.5 says EAGAIN (whatever errno was when its timer fired), and so do we
        assert failures == [(zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL, errno.EAGAIN)], events
    assert seen(zmq.EVENT_DISCONNECTED)(events), events
    assert wait_until(lambda: server.gate.pending == 0)
    assert_no_fd_left(fds)
    if handler is not None:
        handler.close()


def test_stalled_handshake_on_the_connect_side_ends_at_handshake_ivl(ctx: Any) -> None:
    # a server that accepts and never answers: the connecting socket gives up at
    # HANDSHAKE_IVL and dials again
    listener = gsocket.socket(gsocket.AF_INET, gsocket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    accepted: list[Any] = []
    acceptor = gevent.spawn(lambda: [accepted.append(listener.accept()[0]) for _ in range(8)])
    dealer = ctx.socket(zmq.DEALER)
    dealer.handshake_ivl = STALL_IVL
    dealer.reconnect_ivl = 50
    monitor = dealer.get_monitor_socket()
    start = time.monotonic()
    dealer.connect(f"tcp://127.0.0.1:{listener.getsockname()[1]}")
    events = read_events(monitor, 2, seen(zmq.EVENT_CONNECT_RETRIED))
    assert seen(zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL)(events), events
    assert STALL_IVL / 1000 * 0.9 <= time.monotonic() - start < STALL_IVL / 1000 + 0.5
    dealer.close(linger=0)
    acceptor.kill()
    close_all([s for s in accepted] + [listener])


# ---------------------------------------------------------------------------------------------
# MAX_SOCKETS, as libzmq: EMFILE beyond it, fixed when the first socket is made


def _make_until_emfile(ctx: Any, limit: int = 5000) -> tuple[list[Any], Optional[int]]:
    socks = []
    try:
        for _ in range(limit):
            socks.append(ctx.socket(zmq.PAIR))
    except zmq.ZMQError as error:
        return socks, error.errno
    return socks, None


def test_max_sockets_default_is_1023_then_emfile(ctx: Any) -> None:
    assert ctx.max_sockets == ctx.get(zmq.MAX_SOCKETS) == 1023
    socks, error = _make_until_emfile(ctx)
    assert len(socks) == 1023 and error == errno.EMFILE
    with pytest.raises(zmq.ZMQError, match="Too many open files") as raised:
        ctx.socket(zmq.PUSH)
    assert raised.value.errno == errno.EMFILE  # pyzmq has no zmq.EMFILE either
    with pytest.raises(zmq.ZMQError):
        zmq.Socket(ctx, zmq.PUSH)  # built directly, as pyzmq allows: counted too
    socks.pop().close()  # a closed socket frees its slot
    socks.append(ctx.socket(zmq.PUSH))
    with pytest.raises(zmq.ZMQError):
        ctx.socket(zmq.PUSH)
    socks.pop()  # dropped without close(): freed once collected, as pyzmq's __del__ does
    gc.collect()
    socks.append(ctx.socket(zmq.PUSH))
    for sock in socks:
        sock.close()


def test_max_sockets_set_before_the_first_socket(ctx: Any) -> None:
    ctx.max_sockets = 3
    assert ctx.get(zmq.MAX_SOCKETS) == 3
    socks, error = _make_until_emfile(ctx)
    assert len(socks) == 3 and error == errno.EMFILE
    ctx.set(zmq.MAX_SOCKETS, 10)  # accepted and reported, but the slots are fixed (libzmq)
    assert ctx.max_sockets == 10
    with pytest.raises(zmq.ZMQError):
        ctx.socket(zmq.PAIR)
    for sock in socks:
        sock.close()


@pytest.mark.parametrize("value, expected", [
    (0, "EINVAL"), (-1, "EINVAL"), (1, 1), (True, 1), (100000, 100000),
    (2**31, "OverflowError"), ("7", "TypeError"), (1.5, "TypeError"),
])
def test_max_sockets_values_as_pyzmq(value: Any, expected: Any) -> None:
    ctx = zmq.Context()
    try:
        ctx.set(zmq.MAX_SOCKETS, value)
        got: Any = ctx.get(zmq.MAX_SOCKETS)
    except zmq.ZMQError as error:
        got = errno.errorcode[error.errno]
    except (OverflowError, TypeError) as error:
        got = type(error).__name__
    finally:
        ctx.term()
    assert got == expected


def test_monitor_socket_takes_a_slot_zap_client_does_not(ctx: Any) -> None:
    from gzmq.auth import Authenticator
    ctx.max_sockets = 3
    server = ctx.socket(zmq.ROUTER)
    server.plain_server = True
    authenticator = Authenticator(ctx)  # its ZAP ROUTER is a socket of ctx (in pyzmq too)
    authenticator.start()
    authenticator.configure_plain(domain="*", passwords={"admin": "secret"})
    client = ctx.socket(zmq.DEALER)  # the third: none left, not even for a monitor (libzmq)
    with pytest.raises(zmq.ZMQError) as raised:
        server.monitor("inproc://monitor.flood")
    assert raised.value.errno == errno.EMFILE
    client.plain_username, client.plain_password = b"admin", b"secret"
    client.rcvtimeo = server.rcvtimeo = 5000
    port = server.bind_to_random_port("tcp://127.0.0.1")
    client.connect(f"tcp://127.0.0.1:{port}")
    client.send(b"hello")  # the handshake asks ZAP through gzmq's own DEALER: not counted
    assert server.recv_multipart()[1] == b"hello"
    authenticator.stop()


ORACLE = r"""
import errno, json, time, zmq
def make(ctx, n=50):
    socks = []
    try:
        for _ in range(n):
            socks.append(ctx.socket(zmq.PAIR))
    except zmq.ZMQError as e:
        return socks, errno.errorcode[e.errno]
    return socks, None
out = {}
ctx = zmq.Context()
out["default"] = ctx.max_sockets
ctx.max_sockets = 3
socks, err = make(ctx)
out["made_with_3"], out["error"] = len(socks), err
ctx.set(zmq.MAX_SOCKETS, 10)
out["get_after_raise"] = ctx.get(zmq.MAX_SOCKETS)
more, err = make(ctx)
out["made_after_raise"], out["error_after_raise"] = len(more), err
socks.pop().close()
time.sleep(0.2)  # libzmq frees the slot from its reaper thread
more, err = make(ctx)
out["made_after_close"] = len(more)
for s in socks + more:
    s.close()
ctx.term()
try:
    ctx.socket(zmq.PAIR)
except zmq.ZMQError as e:
    out["after_term"] = errno.errorcode[e.errno]
print(json.dumps(out))
"""


def _gzmq_scenario() -> dict[str, Any]:
    out: dict[str, Any] = {}
    ctx = zmq.Context()
    out["default"] = ctx.max_sockets
    ctx.max_sockets = 3
    socks, err = _make_until_emfile(ctx, 50)
    out["made_with_3"], out["error"] = len(socks), errno.errorcode.get(err)
    ctx.set(zmq.MAX_SOCKETS, 10)
    out["get_after_raise"] = ctx.get(zmq.MAX_SOCKETS)
    more, err = _make_until_emfile(ctx, 50)
    out["made_after_raise"], out["error_after_raise"] = len(more), errno.errorcode.get(err)
    socks.pop().close()
    more, err = _make_until_emfile(ctx, 50)
    out["made_after_close"] = len(more)
    for sock in socks + more:
        sock.close()
    ctx.term()
    try:
        ctx.socket(zmq.PAIR)
    except zmq.ZMQError as error:
        out["after_term"] = errno.errorcode[error.errno]
    return out


@pytest.mark.interop
def test_max_sockets_as_libzmq() -> None:
    pytest.importorskip("zmq")
    from gevent import subprocess as gsubprocess
    run = gsubprocess.run([sys.executable, "-c", ORACLE], capture_output=True, text=True,
                          timeout=20)
    assert run.returncode == 0, run.stderr[-2000:]
    libzmq = json.loads(run.stdout)
    assert libzmq == {"default": 1023, "made_with_3": 3, "error": "EMFILE",
                      "get_after_raise": 10, "made_after_raise": 0,
                      "error_after_raise": "EMFILE", "made_after_close": 1,
                      "after_term": "ENOTSUP"}
    assert _gzmq_scenario() == libzmq


# ---------------------------------------------------------------------------------------------
# floods of connections that never send a byte


def run_flood(ctx: Any, attempts: int, batch: int, bound: Optional[int] = None) -> dict[str, Any]:
    """Open ``attempts`` silent connections (``batch`` dialling at once, all held open) while
    an established gzmq peer does round trips; then hang them all up. Returns the numbers."""
    ensure_fd_limit(attempts + (bound or stream_module.MAX_PENDING_HANDSHAKES) + 200)
    server = Server(ctx, bound=bound)
    limit = server.gate.limit
    legit = server.client()
    server.round_trip(legit)  # connected and handshaken before the flood
    fds, rss_before = open_fds(), rss_kib()
    latencies: list[float] = []
    flooding = [True]

    def ping() -> None:
        while flooding[0]:
            latencies.append(server.round_trip(legit))
            gevent.sleep(0.005)

    pinger = gevent.spawn(ping)
    start = time.monotonic()
    peers, reset = silent_peers(server.port, attempts, batch)
    assert wait_until(lambda: server.gate.pending + server.gate.evicted >= attempts, timeout=10)
    flood_time = time.monotonic() - start
    result = {
        "attempts": attempts, "seconds": round(flood_time, 2), "pending": server.gate.pending,
        "evicted": server.gate.evicted, "reset_while_connecting": reset,
        "fds_during": len(open_fds() - fds),
        "rss_during_kib": rss_kib() - rss_before,
    }
    during = list(latencies)
    assert server.gate.pending == limit
    assert server.gate.evicted == attempts - limit
    close_all(peers)
    assert wait_until(lambda: server.gate.pending == 0, timeout=10)
    flooding[0] = False
    pinger.join(timeout=5)
    assert pinger.successful(), pinger.exception
    assert_no_fd_left(fds, timeout=5)
    result["new_peer_round_trip_ms"] = round(server.new_peer_round_trip() * 1000, 1)
    during.sort()
    result.update(round_trips=len(during),
                  p50_ms=round(during[len(during) // 2] * 1000, 1),
                  max_ms=round(during[-1] * 1000, 1))
    server.close()
    legit.close()
    return result


def test_flood_of_500_silent_connections(ctx: Any) -> None:
    result = run_flood(ctx, attempts=500, batch=100, bound=100)
    print(result)
    assert result["round_trips"] >= 1
    assert result["max_ms"] < 200, result


def test_flood_of_5000_silent_connections(ctx: Any) -> None:
    result = run_flood(ctx, attempts=5000, batch=100)  # the default bound, 1024
    print(result)
    assert result["round_trips"] >= 3
    assert result["max_ms"] < 200, result
    assert result["new_peer_round_trip_ms"] < 200, result
    assert result["rss_during_kib"] < 1024 * 40, result  # ~15 KiB per pending handshake


FLOODER = r"""
import errno, selectors, socket, sys, time
port, hold, inflight_max, duration = (int(a) for a in sys.argv[1:5])
sel = selectors.DefaultSelector()
inflight = held = 0
def dial():
    global inflight
    s = socket.socket()
    s.setblocking(False)
    if s.connect_ex(("127.0.0.1", port)) not in (0, errno.EINPROGRESS):
        s.close()
        return
    sel.register(s, selectors.EVENT_WRITE, "dialling")
    inflight += 1
print("flooding", flush=True)
end = time.monotonic() + duration
while time.monotonic() < end:
    while inflight < inflight_max and held + inflight < hold:
        dial()
    for key, _ in sel.select(0.05):
        s = key.fileobj
        if key.data == "dialling":
            inflight -= 1
            if s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR):
                sel.unregister(s)
                s.close()
            else:
                sel.modify(s, selectors.EVENT_READ, "held")
                held += 1
            continue
        try:
            data = s.recv(4096)  # the server's greeting, which it never answers
        except OSError:
            data = b""
        if not data:  # evicted: dial again at once
            sel.unregister(s)
            s.close()
            held -= 1
"""

LIBZMQ_NEWCOMERS = r"""
import sys, time, zmq
ctx = zmq.Context()
for n in range(int(sys.argv[2])):
    s = ctx.socket(zmq.DEALER)
    s.linger = 0
    s.rcvtimeo = 30000
    start = time.perf_counter()
    s.connect(sys.argv[1])
    s.send(b"from libzmq")
    assert s.recv() == b"from libzmq"
    print(round(time.perf_counter() - start, 4), flush=True)
    s.close()
ctx.term()
"""


@pytest.mark.timeout(120)
def test_new_peers_get_in_while_a_flood_keeps_the_gate_full(ctx: Any) -> None:
    """Another process keeps 1,124 silent connections dialled, redialling each one the
    server closes, so the gate (the default 1024) stays full and turns over thousands of
    times a second. Closing newcomers at accept shut new peers out until a slot freed, up
    to HANDSHAKE_IVL (30 s here; 3.9 s in the review's repro with 3 s); evicting the oldest
    lets them in at once: a new gzmq peer, then a libzmq one, each round-trip within 1 s."""
    from gevent import subprocess as gsubprocess
    limit = stream_module.MAX_PENDING_HANDSHAKES
    ensure_fd_limit(limit + 300)
    # HANDSHAKE_IVL 30 s: no slot frees by itself during the test. BACKLOG holds the whole
    # flood, so that the kernel's accept queue never overflows: a full one drops new SYNs,
    # and TCP retries them 1 s, 3 s... later, whatever the gate does (a separate limit)
    server = Server(ctx, setup=lambda sock: setattr(sock, "backlog", 2 * limit))
    assert server.gate.limit == limit
    legit = server.client()
    server.round_trip(legit)
    flooder = gsubprocess.Popen([sys.executable, "-c", FLOODER, str(server.port),
                                 str(limit + 100), "50", "60"], stdout=subprocess.PIPE)
    try:
        assert flooder.stdout.readline() == b"flooding\n"
        assert wait_until(lambda: server.gate.pending == limit, timeout=20), server.gate.pending
        before = server.gate.evicted
        assert wait_until(lambda: server.gate.evicted >= before + 2 * limit, timeout=20)
        start, before = time.monotonic(), server.gate.evicted
        joins = []
        for _ in range(5):
            joins.append(server.new_peer_round_trip())
            gevent.sleep(0.1)
        assert server.gate.pending == limit  # still full, the flood still on
        rate = (server.gate.evicted - before) / (time.monotonic() - start)
        newcomers = gsubprocess.run([sys.executable, "-c", LIBZMQ_NEWCOMERS, server.endpoint,
                                     "3"], capture_output=True, timeout=60) \
            if importlib.util.find_spec("zmq") is not None else None
        assert server.gate.pending == limit
        assert server.round_trip(legit) < 1.0  # the established peer too
    finally:
        flooder.kill()
        flooder.wait()
    result = {"joins_ms": [round(j * 1000, 1) for j in joins],
              "evicted_per_s": round(rate), "evicted": server.gate.evicted}
    if newcomers is not None:
        assert newcomers.returncode == 0, newcomers.stderr.decode()[-2000:]
        result["libzmq_joins_ms"] = [round(float(t) * 1000, 1)
                                     for t in newcomers.stdout.decode().split()]
    print(result)
    assert rate > 200, result  # the gate turned over while the newcomers got in
    assert max(joins) < 1.0, result
    if newcomers is not None:
        assert len(result["libzmq_joins_ms"]) == 3 and max(result["libzmq_joins_ms"]) < 1000, \
            result
    assert wait_until(lambda: server.gate.pending == 0, timeout=10)
    server.close()
    legit.close()


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_sustained_flood_with_churn(ctx: Any, caplog: Any, monkeypatch: Any) -> None:
    """About 10 s of attackers that dial, stay silent and hang up (some only after the
    server's HANDSHAKE_IVL), tens of thousands of attempts against a bound of 256: an
    established peer keeps fast round trips, new gzmq peers get in at once (each evicts an
    attacker's pending handshake), fds and RSS stay flat, and the log stays a handful of
    lines."""
    caplog.set_level(logging.WARNING, SECURITY_LOG)
    monkeypatch.setattr(stream_module, "REFUSALS_LOG_INTERVAL", 2.0)
    workers, duration, bound = 400, 10.0, 256
    ensure_fd_limit(2 * workers + bound + 200)
    server = Server(ctx, bound=bound, handshake_ivl=500)
    legit = server.client()
    server.round_trip(legit)
    fds = open_fds()
    attempts = [0]
    latencies: list[float] = []
    joins: list[float] = []
    samples: list[tuple[int, int]] = []
    running = [True]

    def attacker(seed: int) -> None:
        import random
        rng = random.Random(seed)
        while running[0]:
            attempts[0] += 1
            peer = silent_peer(server.port)
            if peer is not None:
                gevent.sleep(rng.uniform(0, 0.8))  # beyond 0.5 s: the server times it out
                peer.close()

    def ping() -> None:
        while running[0]:
            latencies.append(server.round_trip(legit))
            gevent.sleep(0.01)

    def newcomers() -> None:
        while running[0]:
            joins.append(server.new_peer_round_trip())
            gevent.sleep(0.2)

    def sample() -> None:
        while running[0]:
            samples.append((len(open_fds()), rss_kib()))
            gevent.sleep(1.0)

    rss_before = rss_kib()
    greenlets = [gevent.spawn(attacker, seed) for seed in range(workers)]
    helpers_ = [gevent.spawn(ping), gevent.spawn(newcomers), gevent.spawn(sample)]
    gevent.sleep(duration)
    running[0] = False
    gevent.joinall(greenlets + helpers_, timeout=10, raise_error=True)
    assert wait_until(lambda: server.gate.pending == 0, timeout=5)
    assert_no_fd_left(fds, timeout=5)
    latencies.sort()
    joins.sort()
    result = {
        "attempts": attempts[0], "evicted": server.gate.evicted,
        "round_trips": len(latencies), "p50_ms": round(latencies[len(latencies) // 2] * 1000, 1),
        "p99_ms": round(latencies[int(len(latencies) * 0.99)] * 1000, 1),
        "max_ms": round(latencies[-1] * 1000, 1), "newcomers": len(joins),
        "newcomer_max_s": round(joins[-1], 2),
        "peak_fds": max(f for f, _ in samples) - len(fds),
        "rss_growth_kib": [r - rss_before for _, r in samples],
        "log_lines": len(security_warnings(caplog, server.endpoint)),
    }
    print(result)
    assert server.gate.evicted > 1000, result  # the bound was hit all along
    assert result["p99_ms"] < 200, result
    assert len(joins) >= 5, result  # new peers got in during the flood
    # a newcomer whose SYN met a full kernel accept queue (BACKLOG) is retried by TCP after
    # 1 s, whatever gzmq does; locked out, as before the eviction policy, it waited up to
    # HANDSHAKE_IVL (30 s by default)
    assert result["newcomer_max_s"] < 2.5, result
    assert result["peak_fds"] <= workers + bound + 50, result
    # flat once warmed up (a 30 s run levels off after ~10 s): under 6 MiB in the second half
    assert samples[-1][1] - samples[len(samples) // 2][1] < 6 * 1024, result
    assert result["log_lines"] <= 2 + duration / 2.0 + 2, result
    server.close()
    legit.close()


def test_ended_and_evicted_handshakes_leave_no_reference_cycles(ctx: Any) -> None:
    # A flood's connections must be freed as they end, by reference counting: garbage in
    # reference cycles waits for a full collection, which then walks a whole flood's engines in
    # one pause of the hub (100-170 ms for this file's 5,000-connection flood before the
    # cycles through the handshake slot were broken)
    router = ctx.socket(zmq.ROUTER)
    router.max_pending_handshakes = 8  # 40 connections: most of them are evicted
    router.bind("tcp://127.0.0.1:*")
    port = int(router.last_endpoint.decode().rsplit(":", 1)[1])
    gc.collect()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        peers = [gsocket.create_connection(("127.0.0.1", port)) for _ in range(40)]
        gevent.sleep(0.2)
        for peer in peers:
            peer.close()  # the rest end at once, during their handshake
        gevent.sleep(0.2)
        gc.collect()
        engines = [o for o in gc.garbage if type(o).__name__ in ("Engine", "_Slot", "Session")]
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()
    assert engines == []
