"""RADIO/DISH wire formats (gzmq.zmtp.radio, Connection.join/leave): literal bytes from
libzmq 4.3.5 (zeromq.js 6.8.0's draft build), whole, byte by byte, with trailing data, and
hostile datagrams (hypothesis)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from zmtp_helpers import ConnectionPair, command, ready_conn, tr

from gzmq.zmtp import (
    GROUP_MAX_LENGTH, MAX_DATAGRAM, Join, Leave, LocalProtocolError, Message, ProtocolError,
    decode_datagram, encode_datagram,
)

#: what a libzmq RADIO sent over udp for group b"gg", body b"hi" [captured with a raw socket]
LIBZMQ_DATAGRAM_GG_HI = b"\x02gghi"
#: a libzmq DISH's JOIN / LEAVE of group b"g" (dish_session_t: a command frame, 3.0 or 3.1)
JOIN_G = b"\x04\x06\x04JOINg"
LEAVE_G = b"\x04\x07\x05LEAVEg"


def test_datagram_matches_libzmq() -> None:
    assert encode_datagram(b"gg", b"hi") == LIBZMQ_DATAGRAM_GG_HI
    assert decode_datagram(LIBZMQ_DATAGRAM_GG_HI) == (b"gg", b"hi")


@pytest.mark.parametrize(("datagram", "expected"), [
    (b"\x00", (b"", b"")),
    (b"\x00body", (b"", b"body")),
    (b"\x01g", (b"g", b"")),
    (b"\xff" + b"g" * 255 + b"x", (b"g" * 255, b"x")),
])
def test_datagram_edges(datagram: bytes, expected: tuple[bytes, bytes]) -> None:
    assert decode_datagram(datagram) == expected
    assert encode_datagram(*expected) == datagram


@pytest.mark.parametrize("datagram", [b"", b"\x01", b"\x05abcd", b"\xff" + b"g" * 254])
def test_short_datagrams_are_protocol_errors(datagram: bytes) -> None:
    with pytest.raises(ProtocolError):
        decode_datagram(datagram)


def test_encode_refuses_what_libzmq_would_not_send() -> None:
    with pytest.raises(LocalProtocolError):
        encode_datagram(b"g" * (GROUP_MAX_LENGTH + 1), b"")
    encode_datagram(b"g", b"x" * (MAX_DATAGRAM - 2))  # exactly the limit
    with pytest.raises(LocalProtocolError):
        encode_datagram(b"g", b"x" * (MAX_DATAGRAM - 1))


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=600))
def test_any_datagram_decodes_or_is_refused(datagram: bytes) -> None:
    try:
        group, body = decode_datagram(datagram)
    except ProtocolError:
        assert not datagram or len(datagram) < 1 + datagram[0]
    else:
        assert len(group) <= GROUP_MAX_LENGTH
        assert bytes((len(group),)) + group + body == datagram


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=GROUP_MAX_LENGTH), st.binary(max_size=1000))
def test_datagram_round_trip(group: bytes, body: bytes) -> None:
    assert decode_datagram(encode_datagram(group, body)) == (group, body)


# -- JOIN / LEAVE over ZMTP ---------------------------------------------------------------

def _radio() -> object:
    return ready_conn("RADIO", b"DISH")


def test_tr_join_leave_from_dish() -> None:
    tr(_radio, JOIN_G, [Join(b"g")])  # type: ignore[arg-type]
    tr(_radio, LEAVE_G, [Leave(b"g")])  # type: ignore[arg-type]
    long = b"g" * 300  # bounding the group is the receiver's business: the event carries it
    tr(_radio, command(b"\x04JOIN" + long), [Join(long)])  # type: ignore[arg-type]


def test_radio_message_is_group_frame_then_body() -> None:
    conn = ready_conn("DISH", b"RADIO")
    tr(lambda: ready_conn("DISH", b"RADIO"), b"\x01\x01g\x00\x02hi",
       [Message([b"g", b"hi"])])
    assert conn.receive_data(b"\x01\x00\x00\x00") == [Message([b"", b""])]


@pytest.mark.parametrize("minor", [0, 1])
def test_dish_sends_commands_to_30_and_31_peers(minor: int) -> None:
    conn = ready_conn("DISH", b"RADIO", minor=minor)
    assert conn.join(b"g") == JOIN_G
    assert conn.leave(b"g") == LEAVE_G
    assert conn.join(b"") == b"\x04\x05\x04JOIN"


def test_join_refuses_long_group() -> None:
    conn = ready_conn("DISH", b"RADIO")
    conn.join(b"g" * GROUP_MAX_LENGTH)
    with pytest.raises(LocalProtocolError):
        conn.join(b"g" * (GROUP_MAX_LENGTH + 1))
    with pytest.raises(LocalProtocolError):
        conn.leave(b"g" * (GROUP_MAX_LENGTH + 1))


def test_join_round_trip_between_connections() -> None:
    pair = ConnectionPair("DISH", "RADIO").handshake()
    assert pair.a_to_b(pair.a.join(b"weather")) == [Join(b"weather")]
    assert pair.a_to_b(pair.a.leave(b"weather")) == [Leave(b"weather")]


def test_radio_takes_join_from_a_30_peer() -> None:
    """libzmq's DISH sends JOIN as a command frame to ZMTP 3.0 peers too (no message form)."""
    conn = ready_conn("RADIO", b"DISH", minor=0)
    assert conn.receive_data(JOIN_G + LEAVE_G) == [Join(b"g"), Leave(b"g")]
