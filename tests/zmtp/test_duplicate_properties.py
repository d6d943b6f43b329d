"""Socket-Type given twice (issue 7): each occurrence is checked, as libzmq's
``mechanism_t::parse_metadata`` does, for NULL READY and PLAIN/CURVE metadata; other
duplicate properties keep their first value (libzmq's std::map)."""

from __future__ import annotations

import pytest
from nacl.bindings import crypto_box_keypair
from zmtp_helpers import command, fresh, greeting, ready_body, refused

from gzmq.zmtp import (
    Connection, ConnectionState, CurveClient, CurveServer, HandshakeComplete, PlainClient,
    PlainServer, ProtocolError, ProtocolErrorCode, codec,
)

Code = ProtocolErrorCode
CLIENT = crypto_box_keypair()
SERVER = crypto_box_keypair()



def _null_ready(*props: tuple[bytes, bytes]) -> bytes:
    return greeting() + command(ready_body(list(props)))


@pytest.mark.parametrize("second", [b"BOGUS", b"PULL", b"", b"push"])
def test_null_second_socket_type_is_checked(second: bytes) -> None:
    data = _null_ready((b"Socket-Type", b"PUSH"), (b"Socket-Type", second))
    assert refused(fresh("PULL"), data) == Code.ZMTP_INVALID_METADATA


def test_null_first_socket_type_is_checked_too() -> None:
    data = _null_ready((b"Socket-Type", b"BOGUS"), (b"Socket-Type", b"PUSH"))
    assert refused(fresh("PULL"), data) == Code.ZMTP_INVALID_METADATA


def test_two_compatible_socket_types_are_accepted_first_kept() -> None:
    # libzmq checks each occurrence and keeps the first in its property map
    conn = fresh("DEALER")
    events = conn.receive_data(_null_ready((b"Socket-Type", b"ROUTER"),
                                           (b"Socket-Type", b"DEALER")))
    assert conn.state is ConnectionState.READY
    assert events == [HandshakeComplete({"Socket-Type": b"ROUTER"})]
    assert conn.peer_socket_type == "ROUTER"


def test_other_duplicate_properties_keep_the_first_value() -> None:
    conn = fresh("DEALER")
    events = conn.receive_data(_null_ready(
        (b"Socket-Type", b"ROUTER"), (b"Identity", b"one"), (b"Identity", b"two"),
        (b"X-A", b"1"), (b"X-A", b"2")))
    assert events == [HandshakeComplete({"Socket-Type": b"ROUTER", "Identity": b"one",
                                         "X-A": b"1"})]


def test_plain_initiate_second_socket_type_is_checked() -> None:
    conn = Connection("PULL", PlainServer(zap=False))
    conn.initiate()
    conn.receive_data(greeting(mechanism=b"PLAIN") + command(b"\x05HELLO\x01u\x01p"))
    initiate = b"\x08INITIATE" + ready_body([(b"Socket-Type", b"PUSH"),
                                            (b"Socket-Type", b"PUB")])[6:]
    assert refused(conn, command(initiate)) == Code.ZMTP_INVALID_METADATA


def test_plain_ready_second_socket_type_is_checked() -> None:
    conn = Connection("PULL", PlainClient(b"u", b"p"))
    conn.initiate()
    conn.receive_data(greeting(mechanism=b"PLAIN") + command(b"\x07WELCOME"))
    ready = ready_body([(b"Socket-Type", b"PUSH"), (b"Socket-Type", b"XX")])
    assert refused(conn, command(ready)) == Code.ZMTP_INVALID_METADATA


def test_curve_second_socket_type_is_checked_both_sides() -> None:
    bad = codec.encode_metadata([("Socket-Type", b"DEALER"), ("Socket-Type", b"SUB")])
    # server side: the client's INITIATE metadata
    a = Connection("DEALER", CurveClient(*CLIENT, SERVER[0]))
    a._metadata = bad
    b = Connection("ROUTER", CurveServer(*SERVER, zap=False))
    b_out = _drive_until_error(a, b)
    assert b_out == Code.ZMTP_INVALID_METADATA
    # client side: the server's READY metadata
    a = Connection("DEALER", CurveClient(*CLIENT, SERVER[0]))
    b = Connection("ROUTER", CurveServer(*SERVER, zap=False))
    b._metadata = codec.encode_metadata([("Socket-Type", b"ROUTER"), ("Socket-Type", b"PUB")])
    assert _drive_until_error(a, b) == Code.ZMTP_INVALID_METADATA


def _drive_until_error(a: Connection, b: Connection) -> int:
    wire_a, wire_b = a.initiate(), b.initiate()
    while wire_a or wire_b:
        for conn, data in ((b, wire_a), (a, wire_b)):
            try:
                conn.receive_data(data)
            except ProtocolError as err:
                return err.code
        wire_a, wire_b = a.data_to_send(), b.data_to_send()
    raise AssertionError("handshake completed")
