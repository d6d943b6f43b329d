"""Monitor events of security handshakes, gzmq <-> gzmq over tcp, as libzmq 4.3.5 emits them.

Each expectation was observed with the same scenario between two libzmq 4.3.5 sockets (pyzmq
27.3): which side reports what (HANDSHAKE_SUCCEEDED, HANDSHAKE_FAILED_AUTH with the ZAP status,
HANDSHAKE_FAILED_PROTOCOL with a ZMQ_PROTOCOL_ERROR_* code, HANDSHAKE_FAILED_NO_DETAIL) and
whether the connecting side tries again: after ERROR 400 or a protocol error it does not, after
ZAP 300 (connection dropped at the server's HANDSHAKE_IVL) or a plain disconnect it does.
"""

from __future__ import annotations

import errno
import time
from typing import Any, Callable, Optional

import gevent
import pytest
from helpers import count, read_events, seen

import gzmq as zmq
from gzmq.auth import CURVE_ALLOW_ANY

RECONNECT_IVL = 50  # ms
NO_RECONNECT_WINDOW = 0.5  # s: a client that reconnects would show a 2nd CONNECTED by then


def any_failure(events: list[dict[str, Any]]) -> bool:
    return any(e["event"] & FAILURES for e in events)


FAILURES = (zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL | zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL
            | zmq.EVENT_HANDSHAKE_FAILED_AUTH)


def names(events: list[dict[str, Any]]) -> list[tuple[str, int]]:
    return [(zmq.Event(e["event"]).name, e["value"]) for e in events]


class Pair:
    """A bound server and a connecting client, both monitored; the client connects last."""

    def __init__(self, ctx: Any, server_setup: Callable[[Any], None],
                 client_setup: Callable[[Any], None], server_ivl: Optional[int] = None) -> None:
        self.server = ctx.socket(zmq.PULL)
        server_setup(self.server)
        if server_ivl is not None:
            self.server.handshake_ivl = server_ivl
        self.server_monitor = self.server.get_monitor_socket()
        port = self.server.bind_to_random_port("tcp://127.0.0.1")
        self.client = ctx.socket(zmq.PUSH)
        client_setup(self.client)
        self.client.reconnect_ivl = RECONNECT_IVL
        self.client_monitor = self.client.get_monitor_socket()
        self.client.connect(f"tcp://127.0.0.1:{port}")
        self.client.send(b"payload")

    def server_events(self, timeout: float, until: Any = None) -> list[dict[str, Any]]:
        return read_events(self.server_monitor, timeout, until)

    def client_events(self, timeout: float, until: Any = None) -> list[dict[str, Any]]:
        return read_events(self.client_monitor, timeout, until)

    def assert_client_gave_up(self, events: list[dict[str, Any]]) -> None:
        """No second CONNECTED within NO_RECONNECT_WINDOW after the failure."""
        events = events + self.client_events(NO_RECONNECT_WINDOW)
        assert count(events, zmq.EVENT_CONNECTED) == 1, names(events)
        assert not self.server.poll(0)


SERVER_KEYS = zmq.curve_keypair()


def curve_server_setup(sock: Any) -> None:
    sock.curve_server = True
    sock.curve_secretkey = SERVER_KEYS[1]
    sock.curve_publickey = SERVER_KEYS[0]


def curve_client_setup(server_key: bytes = SERVER_KEYS[0]) -> Callable[[Any], None]:
    def setup(sock: Any) -> None:
        public, secret = zmq.curve_keypair()
        sock.curve_serverkey = server_key
        sock.curve_publickey = public
        sock.curve_secretkey = secret
    return setup


def plain_server_setup(sock: Any) -> None:
    sock.plain_server = True


def plain_client_setup(password: bytes) -> Callable[[Any], None]:
    def setup(sock: Any) -> None:
        sock.plain_username = b"admin"
        sock.plain_password = password
    return setup


@pytest.fixture
def auth(auth: Any) -> Any:
    """conftest's Authenticator, with the PLAIN user every test here logs in as."""
    auth.configure_plain(domain="*", passwords={"admin": "secret"})
    return auth


def zap_handler(ctx: Any, status: bytes) -> tuple[gevent.Greenlet, list[list[bytes]]]:
    """A ROUTER bound as the ZAP handler that answers every request with ``status``."""
    handler = ctx.socket(zmq.ROUTER)
    handler.bind("inproc://zeromq.zap.01")
    requests: list[list[bytes]] = []

    def serve() -> None:
        try:
            while True:
                request = handler.recv_multipart()
                requests.append(request)
                envelope = request[:request.index(b"") + 1]
                request_id = request[len(envelope) + 1]
                handler.send_multipart(envelope + [b"1.0", request_id, status, b"status text",
                                                   b"", b""])
        except zmq.ZMQError:
            pass

    return gevent.spawn(serve), requests


# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("mechanism", ["PLAIN", "CURVE"])
def test_success_both_sides(ctx: Any, auth: Any, mechanism: str) -> None:
    auth.configure_curve(domain="*", location=CURVE_ALLOW_ANY)
    if mechanism == "PLAIN":
        pair = Pair(ctx, plain_server_setup, plain_client_setup(b"secret"))
    else:
        pair = Pair(ctx, curve_server_setup, curve_client_setup())
    assert pair.server.poll(2000) and pair.server.recv() == b"payload"
    succeeded = seen(zmq.EVENT_HANDSHAKE_SUCCEEDED, 0)
    assert succeeded(pair.server_events(2, succeeded))
    assert succeeded(pair.client_events(2, succeeded))
    assert pair.server.mechanism == pair.client.mechanism == getattr(zmq, mechanism)


@pytest.mark.parametrize("mechanism", ["PLAIN", "CURVE"])
def test_zap_400_is_final_for_the_client(ctx: Any, auth: Any, mechanism: str,
                                         tmp_path: Any) -> None:
    auth.configure_curve(domain="*", location=str(tmp_path))  # no key is known
    if mechanism == "PLAIN":
        pair = Pair(ctx, plain_server_setup, plain_client_setup(b"wrong"))
    else:
        pair = Pair(ctx, curve_server_setup, curve_client_setup())
    denied = seen(zmq.EVENT_HANDSHAKE_FAILED_AUTH, 400)
    server_events = pair.server_events(2, denied)
    assert denied(server_events), names(server_events)
    assert not seen(zmq.EVENT_HANDSHAKE_SUCCEEDED)(server_events)
    client_events = pair.client_events(2, denied)
    assert denied(client_events), names(client_events)
    pair.assert_client_gave_up(client_events)


def test_zap_500_is_final_too(ctx: Any) -> None:
    zap_handler(ctx, b"500")
    pair = Pair(ctx, curve_server_setup, curve_client_setup())
    failed = seen(zmq.EVENT_HANDSHAKE_FAILED_AUTH, 500)
    assert failed(pair.server_events(2, failed))
    client_events = pair.client_events(2, failed)
    assert failed(client_events), names(client_events)
    pair.assert_client_gave_up(client_events)


def test_zap_300_drops_at_handshake_ivl_and_client_reconnects(ctx: Any) -> None:
    _, requests = zap_handler(ctx, b"300")
    pair = Pair(ctx, curve_server_setup, curve_client_setup(), server_ivl=150)
    temporary = seen(zmq.EVENT_HANDSHAKE_FAILED_AUTH, 300)
    server_events = pair.server_events(2, temporary)
    assert temporary(server_events), names(server_events)
    # nothing is sent for 300: the client sees its connection dropped and dials again
    client_events = pair.client_events(3, lambda ev: count(ev, zmq.EVENT_CONNECTED) >= 2)
    assert count(client_events, zmq.EVENT_CONNECTED) >= 2, names(client_events)
    assert not seen(zmq.EVENT_HANDSHAKE_FAILED_AUTH)(client_events), names(client_events)
    assert pair.server_events(2, temporary)  # and the server asks ZAP about it again
    assert len(requests) >= 2
    assert not pair.server.poll(0)


def test_zap_300_connection_lives_until_handshake_ivl(ctx: Any) -> None:
    zap_handler(ctx, b"300")
    pair = Pair(ctx, curve_server_setup, curve_client_setup(), server_ivl=400)
    start = time.monotonic()
    assert pair.server_events(2, seen(zmq.EVENT_HANDSHAKE_FAILED_AUTH, 300))
    events = pair.client_events(2, seen(zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL))
    assert seen(zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL)(events), names(events)
    assert 0.3 < time.monotonic() - start < 1.0


def test_mechanism_mismatch_both_sides_protocol_error(ctx: Any) -> None:
    # libzmq: both peers read the other's greeting, both report MECHANISM_MISMATCH, and the
    # client does not reconnect
    pair = Pair(ctx, curve_server_setup, plain_client_setup(b"secret"))
    mismatch = seen(zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL,
                    zmq.PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH)
    client_events = pair.client_events(2, mismatch)
    assert mismatch(client_events), names(client_events)
    server_events = pair.server_events(1, any_failure)
    assert mismatch(server_events), names(server_events)
    pair.assert_client_gave_up(client_events)


def test_wrong_curve_server_key(ctx: Any) -> None:
    # libzmq: the server cannot open HELLO (CRYPTOGRAPHIC) and closes without a word; for the
    # client that is a plain disconnect during the handshake, so it keeps retrying
    other_server_key = zmq.curve_keypair()[0]
    pair = Pair(ctx, curve_server_setup, curve_client_setup(other_server_key))
    crypto = seen(zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL, zmq.PROTOCOL_ERROR_ZMTP_CRYPTOGRAPHIC)
    server_events = pair.server_events(2, crypto)
    assert crypto(server_events), names(server_events)
    client_events = pair.client_events(2, lambda ev: count(ev, zmq.EVENT_CONNECTED) >= 2)
    assert seen(zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL)(client_events), names(client_events)
    assert not seen(zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL)(client_events), names(client_events)
    assert count(client_events, zmq.EVENT_CONNECTED) >= 2, names(client_events)
    assert not pair.server.poll(0)


def test_plain_without_handler_server_reports_no_detail_efault(ctx: Any) -> None:
    # libzmq plain_server_t::process_hello: zap_connect() fails ->
    # event_handshake_failed_no_detail(endpoint, EFAULT), connection closed without ERROR
    pair = Pair(ctx, plain_server_setup, plain_client_setup(b"secret"))
    failed = seen(zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL, errno.EFAULT)
    server_events = pair.server_events(2, any_failure)
    assert failed(server_events), names(server_events)
    assert not seen(zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL)(server_events), names(server_events)
