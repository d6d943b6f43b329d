"""run_handshake over a real socketpair: NULL on both sides, a peer that sends garbage or
nothing (HANDSHAKE_IVL), a peer that hangs up, and a peer that answers with ERROR."""

from __future__ import annotations

from time import monotonic
from typing import Any

import gevent
import pytest
from gevent import socket as gsocket

from engine_helpers import FakeEngine
from gzmq import zmtp
from gzmq.engine.handshake import AuthFailure, HandshakeTimeout, PeerClosed, run_handshake
from helpers import NULL_GREETING

#: literal ZMTP 3.1 NULL commands: READY with Socket-Type DEALER, ERROR with a reason
READY_DEALER = b"\x04\x1c\x05READY\x0bSocket-Type\x00\x00\x00\x06DEALER"


def error_command(reason: bytes) -> bytes:
    body = b"\x05ERROR" + bytes([len(reason)]) + reason
    return b"\x04" + bytes([len(body)]) + body


@pytest.fixture
def streams():
    ours, theirs = gsocket.socketpair()
    yield ours, theirs
    ours.close()
    theirs.close()


def engine_on(stream: Any, socket_type: str = "ROUTER", handshake_ivl: int = 0) -> FakeEngine:
    return FakeEngine(stream, zmtp.Connection(socket_type, zmtp.NullMechanism()),
                      handshake_ivl=handshake_ivl)


def handshake_outcome(engine: FakeEngine, timeout: float = 2.0) -> Any:
    """What ``run_handshake`` returned or raised (bounded)."""
    with gevent.Timeout(timeout, AssertionError("the handshake did not end")):
        try:
            return run_handshake(engine)
        except Exception as error:  # noqa: BLE001 - the test asserts which one
            return error


def test_null_on_both_sides_completes_with_the_peers_metadata(streams) -> None:
    ours, theirs = streams
    client, server = engine_on(ours, "DEALER"), engine_on(theirs, "ROUTER")
    peer = gevent.spawn(handshake_outcome, server)
    events = handshake_outcome(client)
    assert isinstance(events, list) and isinstance(events[0], zmtp.HandshakeComplete), events
    assert events[0].properties["Socket-Type"] == b"ROUTER"
    server_events = peer.get(timeout=2)
    assert server_events[0].properties["Socket-Type"] == b"DEALER"
    assert client.conn.state is zmtp.ConnectionState.READY


def test_bytes_after_the_handshake_stay_raw_for_the_reader(streams) -> None:
    ours, theirs = streams
    theirs.sendall(NULL_GREETING + READY_DEALER + b"\x00\x05early")  # all in one write
    engine = engine_on(ours, "ROUTER")
    events = handshake_outcome(engine)
    assert [type(e) for e in events] == [zmtp.HandshakeComplete]
    assert engine.conn.held_input == 7  # the message: parsed later, within RCVHWM
    assert engine.conn.next_events() == [zmtp.Message([b"early"])]
    # what we wrote: our greeting, then our READY
    sent = theirs.recv(4096)
    assert sent[:10] == NULL_GREETING[:10] and b"\x05READY" in sent


def test_a_peer_that_sends_garbage_is_a_protocol_error(streams) -> None:
    ours, theirs = streams
    theirs.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n" + b"\0" * 64)
    engine = engine_on(ours)
    outcome = handshake_outcome(engine)
    assert isinstance(outcome, zmtp.ProtocolError), outcome
    assert engine.conn.state is zmtp.ConnectionState.CLOSED


def test_an_incompatible_socket_type_is_a_protocol_error(streams) -> None:
    ours, theirs = streams
    # a PUB's READY to our ROUTER
    theirs.sendall(NULL_GREETING + b"\x04\x19\x05READY\x0bSocket-Type\x00\x00\x00\x03PUB")
    outcome = handshake_outcome(engine_on(ours, "ROUTER"))
    assert isinstance(outcome, zmtp.ProtocolError), outcome


def test_a_peer_that_hangs_up_ends_the_handshake_with_peer_closed(streams) -> None:
    ours, theirs = streams
    theirs.sendall(NULL_GREETING[:20])
    theirs.shutdown(gsocket.SHUT_WR)
    assert isinstance(handshake_outcome(engine_on(ours)), PeerClosed)


def test_a_silent_peer_times_out_after_handshake_ivl(streams) -> None:
    ours, _ = streams
    started = monotonic()
    outcome = handshake_outcome(engine_on(ours, handshake_ivl=100))
    elapsed = monotonic() - started
    assert isinstance(outcome, HandshakeTimeout), outcome
    assert 0.09 <= elapsed < 1.0


def test_handshake_ivl_zero_means_no_timer(streams) -> None:
    ours, _ = streams
    with pytest.raises(gevent.Timeout):
        with gevent.Timeout(0.2):
            run_handshake(engine_on(ours, handshake_ivl=0))


@pytest.mark.parametrize("reason, status", [(b"400", 400), (b"300", 300), (b"500", 500),
                                            (b"go away", None)])
def test_an_error_from_the_peer_is_an_auth_failure_with_its_status(streams, reason,
                                                                    status) -> None:
    ours, theirs = streams
    theirs.sendall(NULL_GREETING + error_command(reason))
    outcome = handshake_outcome(engine_on(ours, "DEALER"))
    assert isinstance(outcome, AuthFailure), outcome
    assert outcome.status == status and outcome.protocol_code == 0
