"""A hostile peer hurts nobody but its own connection (issue 7, items 1 and 2).

Each attack comes from a raw gevent socket against a gzmq socket that is serving an honest
peer at the same time. Whatever the attacker sends:

- memory grows only with what it really sent (never with a size it merely declared);
- only its connection closes, promptly, with a monitor event, a record on ``gzmq.security``
  and its fd released;
- the socket keeps serving the honest peer, and nothing is raised into the application's
  calls (a bug met on peer input is logged with its traceback, never re-raised from recv()).
"""

from __future__ import annotations

import logging
import time
from typing import Any, Iterator

import gevent
import pytest
from gevent import socket as gsocket
from helpers import (
    NULL_GREETING, EchoServer, assert_no_fd_left, long_header, open_fds, port_of, raw_peer,
    read_events, rss_bytes, seen, wait_for_event, wait_until,
)

import gzmq
from gzmq import zmtp

GIB = 1 << 30


@pytest.fixture
def echo(ctx: Any) -> Iterator[EchoServer]:
    server = EchoServer(ctx)
    yield server
    server.stop()


def _declares_before_handshake(port: int) -> gsocket.socket:
    stream = gsocket.create_connection(("127.0.0.1", port))
    stream.sendall(NULL_GREETING + long_header(GIB, 0x04))  # a 1 GiB command: READY, say
    return stream


def _declares_after_handshake(router: Any) -> gsocket.socket:
    stream, _ = raw_peer(router, "DEALER")
    stream.sendall(long_header(GIB, 0) + b"x" * 65536)  # a 1 GiB message that then stalls
    return stream


def test_declared_gigabytes_cost_nothing_and_the_honest_peer_is_served(echo: EchoServer) -> None:
    """8 connections declaring 1 GiB each (before and after the handshake) cost < 50 MB."""
    before = rss_bytes()
    port = port_of(echo.router)
    attackers = [_declares_before_handshake(port) for _ in range(4)]
    attackers += [_declares_after_handshake(echo.router) for _ in range(4)]
    worst = echo.worst_round_trip(40)
    grown = rss_bytes() - before
    assert grown < 50 * 1024 * 1024, f"RSS grew by {grown / 2**20:.1f} MiB"
    assert worst < 0.1, f"honest round trip took {worst * 1000:.1f} ms"
    for stream in attackers[:4]:  # a handshake-sized limit: these were dropped at once
        stream.settimeout(2)
        assert _read_until_closed(stream)
    for stream in attackers:
        stream.close()


def test_a_declared_2_to_the_62_frame_is_a_protocol_error(ctx: Any, echo: EchoServer) -> None:
    monitor = echo.router.get_monitor_socket()
    stream = gsocket.create_connection(("127.0.0.1", port_of(echo.router)))
    stream.sendall(NULL_GREETING + bytes.fromhex("064000000000000000"))
    events = read_events(monitor, 2, seen(gzmq.EVENT_DISCONNECTED))
    assert seen(gzmq.EVENT_HANDSHAKE_FAILED_PROTOCOL)(events)
    stream.settimeout(2)
    assert _read_until_closed(stream)
    assert echo.worst_round_trip(5) < 0.1


def _read_until_closed(stream: gsocket.socket) -> bool:
    """True once the peer closed (EOF or reset) within the stream's timeout."""
    try:
        while stream.recv(65536):
            pass
    except ConnectionResetError:
        pass
    except gsocket.timeout:
        return False
    return True


# ---------------------------------------------------------------------------------------------
# gzmq as the client of a hostile server


class HostileServer:
    """Accepts one connection, completes a NULL handshake as a ROUTER, then sends ``payload``."""

    def __init__(self, payload: bytes) -> None:
        self.listening = gsocket.socket()
        self.listening.bind(("127.0.0.1", 0))
        self.listening.listen(8)
        self.port = self.listening.getsockname()[1]
        self.payload = payload
        self.streams: list[gsocket.socket] = []
        self._greenlet = gevent.spawn(self._serve)

    def _serve(self) -> None:
        while True:
            stream, _ = self.listening.accept()
            self.streams.append(stream)
            conn = zmtp.Connection("ROUTER")
            stream.sendall(conn.initiate())
            while conn.state is not zmtp.ConnectionState.READY:
                data = stream.recv(4096)
                if not data:
                    break
                conn.receive_data(data)
                stream.sendall(conn.data_to_send())
            stream.sendall(self.payload)

    def close(self) -> None:
        self._greenlet.kill()
        for stream in self.streams:
            stream.close()
        self.listening.close()


def test_a_server_declaring_2_to_the_40_bytes_does_not_hurt_the_client(ctx: Any,
                                                                       echo: EchoServer) -> None:
    hostile = HostileServer(long_header(1 << 40, 0) + b"y" * 1000)
    client = echo.client  # the honest DEALER dials the hostile server too
    monitor = client.get_monitor_socket()
    before = rss_bytes()
    client.connect(f"tcp://127.0.0.1:{hostile.port}")
    wait_for_event(monitor, gzmq.EVENT_HANDSHAKE_SUCCEEDED, timeout=2)
    gevent.sleep(0.2)
    assert rss_bytes() - before < 50 * 1024 * 1024
    # DEALER round-robins; whatever went to the hostile server, the socket still works
    client.rcvtimeo = 200
    answered = 0
    for _ in range(10):
        client.send(b"ping")
        try:
            answered += client.recv() == b"ping"
        except gzmq.Again:
            pass
    assert answered >= 1
    hostile.close()


# ---------------------------------------------------------------------------------------------
# bytes that are not ZMTP after a valid greeting


NOT_ZMTP = {
    "http": b"GET / HTTP/1.1\r\nHost: example\r\nUser-Agent: curl/8.0\r\n\r\n",
    "tls": bytes.fromhex("160301020001000200fc0303") + b"\x11" * 200,
    "ssh": b"SSH-2.0-OpenSSH_9.6p1 Debian-4\r\n",
}


@pytest.mark.parametrize("name", sorted(NOT_ZMTP))
def test_greeting_then_other_protocols_is_closed_at_once(echo: EchoServer, name: str) -> None:
    fds = open_fds()
    monitor = echo.router.get_monitor_socket()
    stream = gsocket.create_connection(("127.0.0.1", port_of(echo.router)))
    started = time.monotonic()
    stream.sendall(NULL_GREETING + NOT_ZMTP[name])
    stream.settimeout(2)
    assert _read_until_closed(stream), "the server kept the connection open"
    assert time.monotonic() - started < 0.5
    events = read_events(monitor, 2, seen(gzmq.EVENT_DISCONNECTED))
    assert seen(gzmq.EVENT_DISCONNECTED)(events)
    stream.close()
    echo.router.disable_monitor()
    monitor.close()
    assert echo.worst_round_trip(5) < 0.1
    assert_no_fd_left(fds)


def test_null_zap_server_and_error_right_after_the_client_ready(ctx: Any, caplog: Any) -> None:
    """The READY (which asks ZAP) and an ERROR arrive together: the ERROR ends it, quietly
    (a refusal by the peer, not an internal error)."""
    from gzmq.auth import Authenticator
    auth = Authenticator(ctx)
    auth.start()
    try:
        server = ctx.socket(gzmq.PULL)
        server.zap_domain = b"global"
        server.linger = 0
        server.bind("tcp://127.0.0.1:*")
        conn = zmtp.Connection("PUSH")
        stream = gsocket.create_connection(("127.0.0.1", port_of(server)))
        stream.sendall(conn.initiate())
        with gevent.Timeout(2):
            while conn.state is zmtp.ConnectionState.GREETING:
                conn.receive_data(stream.recv(4096))
        error = zmtp.codec.encode_command(zmtp.codec.error_body(b"bye"))
        stream.sendall(conn.data_to_send() + error)  # greeting rest + READY + ERROR
        stream.settimeout(2)
        assert _read_until_closed(stream)
        # the socket is fine: an honest peer's message arrives, nothing raised
        push = ctx.socket(gzmq.PUSH)
        push.linger = 0
        push.connect(server.last_endpoint)
        push.send(b"hello")
        server.rcvtimeo = 2000
        assert server.recv() == b"hello"
        assert not [r for r in caplog.records if r.exc_info]
    finally:
        auth.stop()


def test_a_bug_on_peer_input_closes_that_connection_only(ctx: Any, echo: EchoServer,
                                                         monkeypatch: Any,
                                                         caplog: Any) -> None:
    """An unexpected exception while handling a peer's bytes is logged with its traceback and
    ends that connection; the application's calls never see it."""
    original = zmtp.Connection.receive_data

    def broken(self: Any, data: Any, *args: Any) -> Any:
        if bytes(data[:4]) == b"BOOM":
            raise RuntimeError("a bug triggered by this peer")
        return original(self, data, *args)

    monkeypatch.setattr(zmtp.Connection, "receive_data", broken)
    monitor = echo.router.get_monitor_socket()
    stream, _ = raw_peer(echo.router, "DEALER")
    wait_for_event(monitor, gzmq.EVENT_HANDSHAKE_SUCCEEDED, timeout=2)
    with caplog.at_level(logging.ERROR, logger="gzmq.security"):
        stream.sendall(b"BOOM and more")
        stream.settimeout(2)
        assert _read_until_closed(stream)
        assert wait_until(lambda: any(r.exc_info for r in caplog.records))
    record = next(r for r in caplog.records if r.exc_info)
    assert "a bug triggered by this peer" in str(record.exc_info[1])
    events = read_events(monitor, 2, seen(gzmq.EVENT_DISCONNECTED))
    assert seen(gzmq.EVENT_DISCONNECTED)(events)
    # the honest peer goes on: the echo greenlet's recv() raised nothing (conftest would fail
    # the test if it had died)
    assert echo.worst_round_trip(5) < 0.1


def test_subscribe_command_to_a_pull_is_dropped_not_delivered(ctx):
    """A hostile peer's SUBSCRIBE must not reach a PULL's queue (recv() raised TypeError)."""
    pull = ctx.socket(gzmq.PULL)
    pull.rcvtimeo = 2000
    pull.bind("tcp://127.0.0.1:*")
    stream, conn = raw_peer(pull, "PUSH")
    stream.sendall(b"\x04\x0a\x09SUBSCRIBE" + conn.send_message([b"after"]))
    assert pull.recv() == b"after"
    stream.close()
