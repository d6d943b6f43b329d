"""ZMTP 3.x wire codec: pure functions from values to bytes and back.

Nothing here keeps state; :class:`~gzmq.zmtp.connection.Connection` owns the
buffers and the phase.  Multi-byte integers are big-endian everywhere.  The
rule throughout is libzmq's: *lenient on input, strict on output*.

Greeting (64 bytes; zmtp.md §2.1)::

    offset len  field         we send                      we check on input
    ------ ---  ------------  ---------------------------  -----------------------
         0   1  signature     0xFF                         == 0xFF
         1   8  padding       uint64 len(routing id) + 1   nothing (libzmq trick)
         9   1  signature     0x7F                         bit 0 set
        10   1  major         0x03                         0,1 refused; 2, >=4 as 3.1
        11   1  minor         0x01                         0 -> peer speaks ZMTP 3.0
        12  20  mechanism     b"NULL" + NUL padding        all 20 bytes == ours
        32   1  as-server     mechanism.as_server          nothing (libzmq ignores it)
        33  31  filler        zeros                        nothing

Frame (zmtp.md §4)::

    flags(1) size(1, or 8 if LONG) body(size)

    flags bit  mask  name     encoder                      decoder
    --------- -----  -------  ---------------------------  -----------------------
            0  0x01  MORE     set on all but the last part honoured (even on commands)
            1  0x02  LONG     only when body > 255 bytes   accepted for any size
            2  0x04  COMMAND  commands only                honoured
          3-7  0xF8  -        always 0                     ignored

Command body (zmtp.md §5.1; RFC 37's "NUL separator" prose is wrong)::

    name-len(1) name(name-len) data(rest)

    READY      05 READY      metadata
    ERROR      05 ERROR      reason-len(1) reason
    SUBSCRIBE  09 SUBSCRIBE  topic (rest of body)
    CANCEL     06 CANCEL     topic
    PING       04 PING       ttl(2, deciseconds) context(0..16)
    PONG       04 PONG       context

Metadata (zmtp.md §6), a sequence of properties::

    name-len(1) name(name-len) value-len(4) value(value-len)

Property names are kept as ``str`` decoded with latin-1 (one code point per
byte, so nothing is lost and case is preserved); values stay ``bytes``.
"""

from __future__ import annotations

import struct
import sys
from collections.abc import Iterable, Sequence
from typing import Final, NamedTuple

from .errors import LocalProtocolError, ProtocolError, ProtocolErrorCode

__all__ = [
    "FLAG_MORE", "FLAG_LONG", "FLAG_COMMAND", "GREETING_SIZE", "SNIFF_SIZE",
    "MAX_FRAME_SIZE", "MAX_HANDSHAKE_FRAME", "Greeting", "encode_greeting",
    "check_greeting_prefix", "decode_greeting", "encode_frame_header", "decode_frame_header",
    "encode_frame", "encode_command", "command_body", "split_command",
    "encode_metadata", "decode_metadata", "ping_body", "parse_ping",
    "pong_body", "error_body", "parse_error_reason", "encode_message",
    "encode_messages_into",
]

FLAG_MORE: Final = 0x01
FLAG_LONG: Final = 0x02
FLAG_COMMAND: Final = 0x04

#: Full greeting length, and the prefix (signature + major) after which
#: libzmq -- and we -- send the rest of the greeting (zmtp.md §2.2).
GREETING_SIZE: Final = 64
SNIFF_SIZE: Final = 11
#: Largest legal frame size: the LONG size is an unsigned 64-bit field, but
#: libzmq refuses sizes with the top bit set (they would overflow int64_t).
MAX_FRAME_SIZE: Final = (1 << 63) - 1
#: Largest frame accepted before the handshake is complete (a gzmq rule; libzmq has none and
#: would allocate whatever a header declares, up to ZMQ_MAXMSGSIZE).  The largest real
#: handshake command is a CURVE INITIATE: 257 bytes + metadata, which libzmq fills with
#: Socket-Type, Identity (routing id <= 255 bytes) and the ZMQ_METADATA properties; PLAIN's
#: HELLO is at most 518 bytes.  64 KiB leaves some 63 KiB of application metadata and is
#: refused at the header, so HTTP, TLS or SSH bytes after a greeting (whose first bytes read
#: as a LONG size in the exabytes) fail at once.
MAX_HANDSHAKE_FRAME: Final = 64 * 1024
#: Longest PING/PONG context (RFC 37; libzmq truncates longer ones).
MAX_PING_CONTEXT: Final = 16

_U64 = struct.Struct(">Q")
_U32 = struct.Struct(">I")
_LONG_HEADER = struct.Struct(">BQ")
unpack_u64_from = _U64.unpack_from  # shared with the Connection's hot loop

# Every possible short header, built once: the encoder's hot path then costs
# one list index per part instead of building a 2-byte object.
_SHORT_LAST: Final[list[bytes]] = [bytes((0, n)) for n in range(256)]
_SHORT_MORE: Final[list[bytes]] = [bytes((FLAG_MORE, n)) for n in range(256)]

_SIGNATURE_END: Final = 0x7F
_FILLER: Final = bytes(31)


# ---------------------------------------------------------------- greeting


class Greeting(NamedTuple):
    """The fields of a peer's greeting that mean anything."""

    major: int
    minor: int
    mechanism: bytes  #: all 20 bytes, NUL padding included
    as_server: bool  #: informational only; libzmq always sends 0


def encode_greeting(
    mechanism: bytes, as_server: bool = False, identity_len: int = 0, minor: int = 1
) -> bytes:
    """Our 64-byte greeting.

    The padding is libzmq's ``len(routing id) + 1`` so that a ZMTP 1.0 peer
    would read the signature as the header of our identity frame (§2.4).
    """
    if not 0 < len(mechanism) <= 20:
        raise LocalProtocolError(f"mechanism name must be 1..20 bytes: {mechanism!r}")
    return b"".join((
        b"\xff",
        _U64.pack(identity_len + 1),
        bytes((_SIGNATURE_END, 3, minor)),
        mechanism.ljust(20, b"\x00"),
        b"\x01" if as_server else b"\x00",
        _FILLER,
    ))


def check_greeting_prefix(data: bytes) -> None:
    """Validate as much of the first 11 greeting bytes as *data* holds.

    Called on every partial greeting so that garbage is refused at the first
    byte that proves it (a non-ZMTP peer may never send 64 bytes).

    Raises ProtocolError: unversioned ZMTP 1.0 signature, or major 0/1
    (ZMTP 1.0/2.0 -- we do not implement the downgrade of §3.3).
    """
    n = len(data)
    if n >= 1 and data[0] != 0xFF:
        raise ProtocolError(f"not a ZMTP 3 peer: greeting starts {data[0]:#04x}")
    if n >= 10 and not data[9] & 0x01:
        raise ProtocolError("unversioned ZMTP 1.0 peer (signature byte 9 bit 0 clear)")
    if n >= 11 and data[10] < 2:
        raise ProtocolError(f"ZMTP {data[10] + 1}.0 peer (major {data[10]}) not supported")


def decode_greeting(data: bytes) -> Greeting:
    """Parse the first 64 bytes of *data*; padding and filler are ignored."""
    if len(data) < GREETING_SIZE:
        raise ValueError("greeting needs 64 bytes")
    check_greeting_prefix(data)
    return Greeting(data[10], data[11], bytes(data[12:32]), bool(data[32]))


# ------------------------------------------------------------------ frames


def encode_frame_header(size: int, flags: int = 0) -> bytes:
    """Header for a frame of *size* bytes; LONG is added iff size > 255."""
    if size < 256:
        return bytes((flags, size))
    if size > MAX_FRAME_SIZE:
        raise LocalProtocolError(f"frame too large: {size}")
    return _LONG_HEADER.pack(flags | FLAG_LONG, size)


def decode_frame_header(data: bytes, pos: int = 0) -> tuple[int, int, int] | None:
    """``(flags, size, header_length)`` of the frame at *pos*.

    Returns ``None`` while the header is incomplete (nothing is consumed: the
    caller keeps the bytes).  Reserved flag bits are returned untouched and
    never rejected (libzmq ignores them).

    Raises ProtocolError: a LONG size with the top bit set.
    """
    left = len(data) - pos
    if left < 2:
        return None
    flags = data[pos]
    if not flags & FLAG_LONG:
        return flags, data[pos + 1], 2
    if left < 9:
        return None
    size: int = _U64.unpack_from(data, pos + 1)[0]
    if size > MAX_FRAME_SIZE:
        raise ProtocolError(f"frame size {size:#x} has the top bit set")
    return flags, size, 9


def encode_frame(body: bytes, flags: int = 0) -> bytes:
    """One whole frame (header + body)."""
    return encode_frame_header(len(body), flags) + body


# ---------------------------------------------------------------- commands


def command_body(name: bytes, data: bytes = b"") -> bytes:
    """``name-len name data`` -- the body of a command frame."""
    return bytes((len(name),)) + name + data


def encode_command(body: bytes) -> bytes:
    """A complete command frame for an already built command *body*."""
    return encode_frame_header(len(body), FLAG_COMMAND) + body


def split_command(body: bytes) -> tuple[bytes, bytes]:
    """``(name, data)`` of a command body.

    Raises ProtocolError (MALFORMED_COMMAND_UNSPECIFIED): empty body, or a
    name length pointing past the end (libzmq ``process_command_message``).
    """
    if not body or len(body) < 1 + body[0]:
        raise ProtocolError(
            f"malformed command {bytes(body[:16])!r}",
            ProtocolErrorCode.ZMTP_MALFORMED_COMMAND_UNSPECIFIED,
        )
    end = 1 + body[0]
    return body[1:end], body[end:]


def ping_body(ttl_deciseconds: int, context: bytes = b"") -> bytes:
    """``04 PING ttl(2) context`` -- libzmq always writes the TTL."""
    if not 0 <= ttl_deciseconds <= 0xFFFF:
        raise LocalProtocolError(f"PING TTL out of range: {ttl_deciseconds} ds")
    if len(context) > MAX_PING_CONTEXT:
        raise LocalProtocolError("PING context is limited to 16 bytes")
    return b"\x04PING" + ttl_deciseconds.to_bytes(2, "big") + context


def parse_ping(data: bytes) -> tuple[int, bytes]:
    """``(ttl_deciseconds, context)`` from the data part of a PING.

    libzmq reads the TTL without checking the length; a PING too short to
    hold one is taken as TTL 0 rather than refused.
    """
    if len(data) < 2:
        return 0, b""
    return (data[0] << 8) | data[1], data[2:]


def pong_body(context: bytes) -> bytes:
    """``04 PONG context``, the context cut to 16 bytes as libzmq does."""
    return b"\x04PONG" + context[:MAX_PING_CONTEXT]


def error_body(reason: bytes) -> bytes:
    """``05 ERROR reason-len reason`` (NULL/CURVE form; see security.md §3.3)."""
    if len(reason) > 255:
        raise LocalProtocolError("ERROR reason is limited to 255 bytes")
    return b"\x05ERROR" + bytes((len(reason),)) + reason


def parse_error_reason(data: bytes) -> bytes:
    """The reason from the data part of an ERROR command.

    Bytes after the reason are ignored, as in libzmq.

    Raises ProtocolError (MALFORMED_COMMAND_ERROR): no length byte, or a
    length pointing past the end.
    """
    if not data or data[0] > len(data) - 1:
        raise ProtocolError(
            "malformed ERROR command", ProtocolErrorCode.ZMTP_MALFORMED_COMMAND_ERROR
        )
    return data[1 : 1 + data[0]]


# ---------------------------------------------------------------- metadata


def encode_metadata(properties: Iterable[tuple[str, bytes]]) -> bytes:
    """Encode properties in the given order (the caller decides the order)."""
    out = []
    for name, value in properties:
        raw = name.encode("latin-1")
        if not 0 < len(raw) <= 255:
            raise LocalProtocolError(f"property name must be 1..255 bytes: {name!r}")
        if len(value) > 0x7FFFFFFF:
            raise LocalProtocolError(f"property {name!r} value too long")
        out.append(bytes((len(raw),)) + raw + _U32.pack(len(value)) + value)
    return b"".join(out)


def decode_metadata(data: bytes, socket_types: list[bytes] | None = None) -> dict[str, bytes]:
    """Properties from a READY/INITIATE metadata block.

    Duplicate names, as libzmq's ``mechanism_t::parse_metadata``: each occurrence is
    parsed, and the first value is the one kept (libzmq inserts into a ``std::map``,
    which keeps the first).  Every ``Socket-Type`` value is appended to *socket_types*
    (when given), because libzmq checks each occurrence against our socket type: a valid
    one followed by a bogus one fails.  (libzmq also sets the peer's routing id from
    *every* ``Identity``, so its ROUTER routes by the last one while the property map
    shows the first; we keep the first for both.)

    Stricter than libzmq on one point: libzmq accepts a property cut exactly
    after its name or value length; we refuse every truncation.

    Raises ProtocolError (INVALID_METADATA): truncated property or trailing
    bytes.
    """
    props: dict[str, bytes] = {}
    pos, n = 0, len(data)
    while pos < n:
        name_end = pos + 1 + data[pos]
        value_start = name_end + 4
        if value_start > n:
            break
        value_end = value_start + _U32.unpack_from(data, name_end)[0]
        if value_end > n:
            break
        # interned: every connection's properties share one "Socket-Type", "Identity"...
        name = sys.intern(bytes(data[pos + 1 : name_end]).decode("latin-1"))
        value = bytes(data[value_start:value_end])
        if name not in props:
            props[name] = value
        if socket_types is not None and name == "Socket-Type":
            socket_types.append(value)
        pos = value_end
    if pos != n:
        raise ProtocolError(
            f"malformed metadata at offset {pos} of {n}",
            ProtocolErrorCode.ZMTP_INVALID_METADATA,
        )
    return props


# ---------------------------------------------------------------- messages


def encode_message(parts: Sequence[bytes]) -> bytes:
    """One whole message as a single ``bytes`` (copies every part)."""
    chunks: list[bytes] = []
    encode_messages_into((parts,), chunks)
    return b"".join(chunks)


def encode_messages_into(messages: Iterable[Sequence[bytes]], out: list[bytes]) -> None:
    """Append ``header, part, header, part, ...`` for each message to *out*.

    The part objects themselves are appended -- a 16 MiB body is never copied
    here; the writer hands the list to one ``sendmsg``/``join``.  Parts may be
    any bytes-like object with one-byte items.

    Raises LocalProtocolError: a message with no parts (ZeroMQ has none).
    """
    append = out.append
    short_last, short_more, long_hdr = _SHORT_LAST, _SHORT_MORE, _LONG_HEADER.pack
    for parts in messages:
        last = len(parts) - 1
        if last < 0:
            raise LocalProtocolError("a message needs at least one part")
        if last:  # the rare multipart case pays for the slice
            for part in parts[:last]:
                n = len(part)
                append(short_more[n] if n < 256 else long_hdr(0x03, n))
                append(part)
        part = parts[last]
        n = len(part)
        append(short_last[n] if n < 256 else long_hdr(0x02, n))
        append(part)
