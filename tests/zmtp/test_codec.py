"""Codec: one table of (value, exact bytes), checked in both directions.

Decoders are also checked fed byte by byte (``None`` until complete) and with
trailing bytes (which must be left alone) -- h11's ``tr`` idiom at the
pure-function level.  Connection-level ``tr`` cases are in test_connection.py.
"""

from __future__ import annotations

import pytest
from zmtp_helpers import (
    CANCEL_TOPIC, ERROR_400, LIBZMQ_GREETING, PING_TTL25, PUB_READY, ROUTER_READY,
    SUBSCRIBE_TOPIC, greeting,
)

from gzmq.zmtp import LocalProtocolError, ProtocolError, ProtocolErrorCode, codec

# (flags, size) <-> header bytes, as the encoder writes them.
HEADERS = [
    ((0x00, 0), "00 00"),
    ((0x01, 5), "01 05"),
    ((0x00, 255), "00 ff"),
    ((0x04, 0x29), "04 29"),
    ((0x02, 256), "02 00 00 00 00 00 00 01 00"),
    ((0x03, 70_000), "03 00 00 00 00 00 01 11 70"),
    ((0x06, 298), "06 00 00 00 00 00 00 01 2a"),
    ((0x02, 16 << 20), "02 00 00 00 00 01 00 00 00"),
]


@pytest.mark.parametrize(("value", "hexbytes"), HEADERS)
def test_frame_header_both_ways(value: tuple[int, int], hexbytes: str) -> None:
    flags, size = value
    wire = bytes.fromhex(hexbytes)
    assert codec.encode_frame_header(size, flags & ~0x02) == wire
    assert codec.decode_frame_header(wire) == (flags, size, len(wire))
    # byte by byte: incomplete until the last byte
    for i in range(len(wire)):
        assert codec.decode_frame_header(wire[:i]) is None
    # trailing bytes are not consumed; an offset works too
    assert codec.decode_frame_header(wire + b"xyz") == (flags, size, len(wire))
    assert codec.decode_frame_header(b"??" + wire, 2) == (flags, size, len(wire))


@pytest.mark.parametrize(
    ("hexbytes", "expected"),
    [
        ("02 00 00 00 00 00 00 00 03", (0x02, 3, 9)),  # long form for a tiny size
        ("f0 05", (0xF0, 5, 2)),  # reserved bits ignored, not rejected
        ("05 07", (0x05, 7, 2)),  # MORE on a command is not rejected
    ],
)
def test_frame_header_lenient_input(hexbytes: str, expected: tuple[int, int, int]) -> None:
    assert codec.decode_frame_header(bytes.fromhex(hexbytes)) == expected


def test_frame_header_top_bit_refused() -> None:
    with pytest.raises(ProtocolError):
        codec.decode_frame_header(b"\x02\x80" + bytes(7))
    assert codec.decode_frame_header(b"\x02\x7f" + b"\xff" * 7) == (2, 2**63 - 1, 9)


def test_greeting_encode_matches_libzmq() -> None:
    assert codec.encode_greeting(b"NULL") == LIBZMQ_GREETING
    # padding is len(routing id) + 1; as-server byte follows the mechanism
    g = codec.encode_greeting(b"PLAIN", as_server=True, identity_len=3)
    assert g[:11] == bytes.fromhex("ff 00 00 00 00 00 00 00 04 7f 03")
    assert g[12:32] == b"PLAIN" + bytes(15) and g[32] == 1 and len(g) == 64


def test_greeting_decode() -> None:
    assert codec.decode_greeting(LIBZMQ_GREETING) == (3, 1, b"NULL" + bytes(16), False)
    # padding, as-server and filler are never validated
    odd = greeting(minor=0, padding=0xDEAD, as_server=7)[:33] + b"\xee" * 31
    assert codec.decode_greeting(odd) == (3, 0, b"NULL" + bytes(16), True)


@pytest.mark.parametrize(
    ("data", "bad_at"),
    [
        (b"\x00" + LIBZMQ_GREETING[1:], 0),  # ZMTP 1.0 length byte
        (greeting(sig_end=0x7E), 9),  # byte 9 bit 0 clear: unversioned
        (greeting(major=0), 10),
        (greeting(major=1), 10),
    ],
)
def test_greeting_prefix_refused_at_first_bad_byte(data: bytes, bad_at: int) -> None:
    for i in range(bad_at + 1):  # every prefix without the bad byte is fine
        codec.check_greeting_prefix(data[:i])
    with pytest.raises(ProtocolError):
        codec.check_greeting_prefix(data[: bad_at + 1])


@pytest.mark.parametrize("major", [2, 3, 4, 255])
def test_greeting_majors_accepted(major: int) -> None:
    codec.check_greeting_prefix(greeting(major=major))


# command bodies <-> the exact frames from zmtp.md
COMMANDS = [
    (codec.command_body(b"SUBSCRIBE", b"topic"), SUBSCRIBE_TOPIC),
    (codec.command_body(b"CANCEL", b"topic"), CANCEL_TOPIC),
    (codec.ping_body(25), PING_TTL25),
    (codec.pong_body(b""), b"\x04\x05\x04PONG"),
    (codec.error_body(b"400"), ERROR_400),
    (
        b"\x05READY" + codec.encode_metadata([("Socket-Type", b"ROUTER"), ("Identity", b"")]),
        ROUTER_READY,
    ),
    (b"\x05READY" + codec.encode_metadata([("Socket-Type", b"PUB")]), PUB_READY),
]


@pytest.mark.parametrize(("body", "wire"), COMMANDS)
def test_command_both_ways(body: bytes, wire: bytes) -> None:
    assert codec.encode_command(body) == wire
    flags, size, hlen = codec.decode_frame_header(wire) or (0, 0, 0)
    assert flags == 0x04 and wire[hlen:] == body and size == len(body)
    name, data = codec.split_command(body)
    assert body == bytes((len(name),)) + name + data


def test_long_command_frame() -> None:
    body = codec.command_body(b"SUBSCRIBE", b"t" * 300)
    assert codec.encode_command(body)[:9] == b"\x06" + len(body).to_bytes(8, "big")


def test_split_command_malformed() -> None:
    for body in (b"", b"\x05REA", b"\x09SUB"):
        with pytest.raises(ProtocolError) as info:
            codec.split_command(body)
        assert info.value.code == ProtocolErrorCode.ZMTP_MALFORMED_COMMAND_UNSPECIFIED
    assert codec.split_command(b"\x00") == (b"", b"")


def test_ping_pong_details() -> None:
    assert codec.parse_ping(b"\x00\x19") == (25, b"")
    assert codec.parse_ping(b"\xff\xffctx") == (65535, b"ctx")
    assert codec.parse_ping(b"") == (0, b"")  # lenient: no TTL -> 0
    assert codec.pong_body(b"x" * 20) == b"\x04PONG" + b"x" * 16  # truncated
    with pytest.raises(LocalProtocolError):
        codec.ping_body(25, b"x" * 17)
    with pytest.raises(LocalProtocolError):
        codec.ping_body(65536)


def test_error_reason() -> None:
    assert codec.parse_error_reason(b"\x03400") == b"400"
    assert codec.parse_error_reason(b"\x00") == b""
    assert codec.parse_error_reason(b"\x01ab") == b"a"  # extra bytes ignored (libzmq)
    for bad in (b"", b"\x04400"):
        with pytest.raises(ProtocolError) as info:
            codec.parse_error_reason(bad)
        assert info.value.code == ProtocolErrorCode.ZMTP_MALFORMED_COMMAND_ERROR


METADATA = [
    ([], b""),
    ([("Socket-Type", b"PUB")], b"\x0bSocket-Type\x00\x00\x00\x03PUB"),
    ([("X-a", b""), ("X-b", b"v")], b"\x03X-a\x00\x00\x00\x00\x03X-b\x00\x00\x00\x01v"),
    ([("socket-type", b"\xff\x00")], b"\x0bsocket-type\x00\x00\x00\x02\xff\x00"),
]


@pytest.mark.parametrize(("props", "wire"), METADATA)
def test_metadata_both_ways(props: list[tuple[str, bytes]], wire: bytes) -> None:
    assert codec.encode_metadata(props) == wire
    assert codec.decode_metadata(wire) == dict(props)


def test_metadata_duplicate_keeps_first() -> None:
    wire = codec.encode_metadata([("X-a", b"1"), ("X-a", b"2")])
    assert codec.decode_metadata(wire) == {"X-a": b"1"}


@pytest.mark.parametrize(
    "wire",
    [
        b"\x0bSocket-Type\x00\x00\x00\x03PU",  # truncated value
        b"\x0bSocket-Type\x00\x00",  # truncated length
        b"\x0bSocket-Type",  # name only (libzmq would even accept this one)
        b"\x0bSocket",  # truncated name
        b"\x0bSocket-Type\x00\x00\x00\x03PUB\x00",  # one trailing byte
    ],
)
def test_metadata_malformed(wire: bytes) -> None:
    with pytest.raises(ProtocolError) as info:
        codec.decode_metadata(wire)
    assert info.value.code == ProtocolErrorCode.ZMTP_INVALID_METADATA


MESSAGES = [
    ([b""], "00 00"),
    ([b"hi"], "00 02 68 69"),
    ([b"g", b"hi"], "01 01 67 00 02 68 69"),  # RADIO group + body, zmtp.md §9
    ([b"", b""], "01 00 00 00"),
    ([b"x" * 256], "02 00 00 00 00 00 00 01 00" + " 78" * 256),
]


@pytest.mark.parametrize(("parts", "hexbytes"), MESSAGES)
def test_encode_message(parts: list[bytes], hexbytes: str) -> None:
    assert codec.encode_message(parts) == bytes.fromhex(hexbytes)


def test_encode_messages_into_does_not_copy_bodies() -> None:
    big, mid = b"b" * 70_000, bytearray(b"m" * 300)
    out: list[bytes] = []
    codec.encode_messages_into([[b"a", big], [mid]], out)  # type: ignore[list-item]
    assert out[3] is big and out[5] is mid
    assert b"".join(out) == codec.encode_message([b"a", big]) + codec.encode_message([bytes(mid)])


def test_encode_message_needs_a_part() -> None:
    with pytest.raises(LocalProtocolError):
        codec.encode_message([])
