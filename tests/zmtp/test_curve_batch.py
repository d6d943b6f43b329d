"""CURVE MESSAGE frames boxed a batch at a time and opened by offset (curve.py's
``_box_messages`` and ``frame_decoder``, reader.py's ``read_decoded``).

The frames are checked against boxes made independently with PyNaCl's own
``crypto_box_afternm`` (the literal bytes a peer sends), and the receiver is fed those
reference bytes whole, byte by byte, in random pieces, under a message budget, and
with trailing bytes; tampering, replays and short nonces must close the connection.
"""

from __future__ import annotations

import struct
from array import array
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from nacl.bindings import crypto_box_afternm, crypto_box_keypair, crypto_box_open_afternm
from zmtp_helpers import ConnectionPair, byte_by_byte, frames, refused

from gzmq.zmtp import (
    Connection, CurveClient, CurveServer, LocalProtocolError, Message, Ping, ProtocolError,
    ProtocolErrorCode, codec,
)

Code = ProtocolErrorCode
CLIENT = crypto_box_keypair()
SERVER = crypto_box_keypair()
# part sizes around the short/long outer frame boundary: 222 + 33 = 255 is the last short one
SIZES = st.sampled_from([0, 1, 7, 221, 222, 223, 224, 1024, 5000, 40000])
MESSAGES = st.lists(st.lists(SIZES, min_size=1, max_size=3), min_size=1, max_size=12)
HYPOTHESIS = {"deadline": None, "suppress_health_check": [HealthCheck.too_slow]}


def pair() -> tuple[Connection, Connection]:
    """A CURVE client and server in READY, their handshake events taken."""
    p = ConnectionPair(Connection("DEALER", CurveClient(*CLIENT, SERVER[0])),
                       Connection("ROUTER", CurveServer(*SERVER, zap=False))).handshake()
    return p.a, p.b


def mech(conn: Connection) -> Any:
    return conn.mechanism


def reference_frame(precom: bytes, prefix: bytes, nonce: int, inner: int, part: bytes) -> bytes:
    """A MESSAGE frame as PyNaCl boxes it: what any CurveZMQ peer must send."""
    short = struct.pack(">Q", nonce)
    body = b"\x07MESSAGE" + short + crypto_box_afternm(bytes((inner,)) + part, prefix + short,
                                                       precom)
    return codec.encode_frame(body)


def reference_stream(sender: Connection, messages: list[list[bytes]]) -> bytes:
    """*messages* boxed with PyNaCl, with *sender*'s key and its next nonces (taken)."""
    m = mech(sender)
    out = []
    for parts in messages:
        for index, part in enumerate(parts):
            inner = 1 if index < len(parts) - 1 else 0
            out.append(reference_frame(m._precom, m._send_prefix, m._send_nonce, inner, part))
            m._send_nonce += 1
    return b"".join(out)


def payloads(shape: list[list[int]]) -> list[list[bytes]]:
    return [[bytes((i % 251,)) * size for i, size in enumerate(sizes)] for sizes in shape]


def test_a_batch_is_the_reference_boxes_in_few_chunks() -> None:
    client, server = pair()
    messages = [[b"a"], [b"", b"x" * 300], [b"y" * 70_000], [b"z" * 222, b"w" * 223]]
    first = mech(client)._send_nonce
    out: list[bytes] = []
    client.encode_messages(messages, out)
    # small frames share 32 KiB buffers; a frame larger than that gets one of its own
    assert [len(chunk) for chunk in out] == [2 + 34 + 2 + 33 + 9 + 333, 9 + 70_033,
                                             2 + 255 + 9 + 256]
    m = mech(client)
    expected = b"".join(
        reference_frame(m._precom, b"CurveZMQMESSAGEC", first + i, inner, part)
        for i, (inner, part) in enumerate([(0, b"a"), (1, b""), (0, b"x" * 300),
                                           (0, b"y" * 70_000), (1, b"z" * 222),
                                           (0, b"w" * 223)]))
    assert b"".join(out) == expected
    assert m._send_nonce == first + 6
    assert server.receive_data(expected) == [Message(parts) for parts in messages]


def test_reference_bytes_whole_byte_by_byte_and_with_trailing_bytes() -> None:
    client, server = pair()
    messages = [[b"one"], [b"two", b"three"], [b"x" * 1000]]
    wire = reference_stream(client, messages)
    assert server.receive_data(wire) == [Message(parts) for parts in messages]
    wire = reference_stream(client, messages)
    assert byte_by_byte(server, wire) == [Message(parts) for parts in messages]
    # trailing bytes: a whole message, then the first 5 bytes of the next one's frame
    wire = reference_stream(client, [[b"four"], [b"five"]])
    cut = len(frames(wire)[0][1]) + 2 + 5
    assert server.receive_data(wire[:cut]) == [Message([b"four"])]
    assert server.receive_data(wire[cut:]) == [Message([b"five"])]


def test_a_command_between_the_parts_of_a_message() -> None:
    client, server = pair()
    m = mech(client)
    ping = reference_frame(m._precom, m._send_prefix, m._send_nonce + 1, 0x02, b"\x04PING\x00\x01")
    m._send_nonce += 2
    wire = (reference_frame(m._precom, m._send_prefix, m._send_nonce - 2, 1, b"p1") + ping
            + reference_stream(client, [[b"p2"]]))
    assert server.receive_data(wire) == [Ping(100, b""), Message([b"p1", b"p2"])]
    assert server.data_to_send()  # the PONG, boxed


@settings(max_examples=60, **HYPOTHESIS)  # type: ignore[arg-type]
@given(shape=MESSAGES, cuts=st.lists(st.integers(1, 3000), max_size=8),
       budget=st.integers(1, 5), batched=st.booleans())
def test_any_batch_in_any_pieces_under_any_budget(
    shape: list[list[int]], cuts: list[int], budget: int, batched: bool,
) -> None:
    client, server = pair()
    messages = payloads(shape)
    if batched:
        out: list[bytes] = []
        client.encode_messages(messages, out)
        wire = b"".join(out)
    else:
        wire = reference_stream(client, messages)
    got: list[Any] = []
    pos = 0
    for cut in [*cuts, len(wire)]:
        got += server.receive_data(wire[pos:pos + cut], max_messages=budget)
        pos += cut
        while server.held_input:
            got += server.next_events(budget)
        if pos >= len(wire):
            break
    assert got == [Message(parts) for parts in messages]


@settings(max_examples=80, **HYPOTHESIS)  # type: ignore[arg-type]
@given(victim=st.integers(0, 2), offset=st.integers(0, 1000), bit=st.integers(0, 7))
def test_a_flipped_bit_anywhere_in_a_box_closes_after_the_frames_before(
    victim: int, offset: int, bit: int,
) -> None:
    client, server = pair()
    messages = [[b"a" * 100], [b"b" * 300], [b"c" * 50]]
    out: list[bytes] = []
    client.encode_messages(messages, out)
    wire = bytearray(b"".join(out))
    spans = []
    pos = 0
    for flags, body in frames(bytes(wire)):
        head = 9 if flags & codec.FLAG_LONG else 2
        spans.append((pos + head + 16, pos + head + len(body)))  # the box: MAC + ciphertext
        pos += head + len(body)
    start, end = spans[victim]
    wire[start + offset % (end - start)] ^= 1 << bit
    with pytest.raises(ProtocolError) as info:
        server.receive_data(bytes(wire))
    assert info.value.code == Code.ZMTP_CRYPTOGRAPHIC
    assert info.value.events == [Message(parts) for parts in messages[:victim]]


def test_replayed_and_stale_nonces_are_refused_before_the_box() -> None:
    client, server = pair()
    wire = reference_stream(client, [[b"x"], [b"y"]])
    first = wire[:len(wire) // 2]
    assert server.receive_data(wire) == [Message([b"x"]), Message([b"y"])]
    assert refused(server, first) == Code.ZMTP_INVALID_SEQUENCE
    client, server = pair()
    m = mech(client)
    same = reference_frame(m._precom, m._send_prefix, m._send_nonce, 0, b"z")
    assert server.receive_data(same) == [Message([b"z"])]
    with pytest.raises(ProtocolError) as info:  # the same nonce, another (valid) box
        server.receive_data(reference_frame(m._precom, m._send_prefix, m._send_nonce, 0, b"q"))
    assert info.value.code == Code.ZMTP_INVALID_SEQUENCE


def test_short_and_foreign_frames() -> None:
    client, server = pair()
    body = frames(reference_stream(client, [[b""]]))[0][1]
    assert len(body) == 33
    assert refused(server, codec.encode_frame(body[:32])) == Code.ZMTP_MALFORMED_COMMAND_MESSAGE
    client, server = pair()
    # "07 MESSAGE" must lie within the frame: a short frame followed by the rest of one
    wire = codec.encode_frame(body[:5]) + body[5:]
    assert refused(server, wire) == Code.ZMTP_MALFORMED_COMMAND_UNSPECIFIED
    client, server = pair()
    assert refused(server, codec.encode_frame(b"\x07MASSAGE" + body[8:])) == \
        Code.ZMTP_UNEXPECTED_COMMAND


def test_an_empty_message_mid_batch_raises_and_nonces_stay_fresh() -> None:
    client, server = pair()
    out: list[bytes] = []
    with pytest.raises(LocalProtocolError):
        client.encode_messages([[b"before"], [], [b"after"]], out)
    assert server.receive_data(b"".join(out)) == [Message([b"before"])]
    assert server.receive_data(client.send_message([b"next"])) == [Message([b"next"])]
    # a part whose len() is not its size in bytes fails half-way through its frame: only
    # the whole frames before it are handed on
    out = []
    with pytest.raises(BufferError):
        client.encode_messages([[b"whole"], [memoryview(array("i", [1, 2]))]], out)
    assert server.receive_data(b"".join(out)) == [Message([b"whole"])]
    assert server.receive_data(client.send_message([b"again"])) == [Message([b"again"])]


def test_the_buffer_a_connection_keeps_to_open_boxes_stays_small() -> None:
    client, server = pair()
    assert len(mech(server)._plain) == 0  # nothing until a message arrives
    assert server.receive_data(client.send_message([b"x" * 1000])) == [Message([b"x" * 1000])]
    assert 1001 <= len(mech(server)._plain) <= 2048
    big = [b"y" * 100_000]
    assert server.receive_data(client.send_message(big)) == [Message(big)]
    assert len(mech(server)._plain) <= 8 * 1024


def test_the_box_is_libsodiums_with_the_wire_nonce() -> None:
    client, server = pair()
    out: list[bytes] = []
    server.encode_messages([[b"hello"]], out)
    ((flags, body),) = frames(bytes(out[0]))
    assert flags == 0 and body[:8] == b"\x07MESSAGE"
    plain = crypto_box_open_afternm(body[16:], b"CurveZMQMESSAGES" + body[8:16],
                                    mech(client)._precom)
    assert plain == b"\x00hello"
    assert client.receive_data(bytes(out[0])) == [Message([b"hello"])]
