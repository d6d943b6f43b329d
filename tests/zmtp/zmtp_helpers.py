"""Test helpers for gzmq.zmtp: wire constants from zmtp.md, ``tr``, ConnectionPair, and what
the PLAIN and CURVE tests share (``frames``, ``refused``, ``handshake_byte_by_byte``).

The byte strings below are copied from shared/spec/zmtp.md, where they were
captured from libzmq 4.3.5 on the wire.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import pytest

from gzmq.zmtp import (
    AuthRequest, Connection, ConnectionState, Event, Message, ProtocolError, codec,
)

# ---------------------------------------------------------- libzmq bytes

#: libzmq 4.3.5 greeting, NULL, no routing id (zmtp.md §2.1) [verified].
LIBZMQ_GREETING = bytes.fromhex(
    "ff 00 00 00 00 00 00 00 01 7f 03 01 4e 55 4c 4c" + " 00" * 16 + " 00" + " 00" * 31
)
#: READY of a libzmq ROUTER without routing id (zmtp.md §6) [verified].
ROUTER_READY = bytes.fromhex(
    "04 29 05 52 45 41 44 59"
    "0b 53 6f 63 6b 65 74 2d 54 79 70 65"
    "00 00 00 06 52 4f 55 54 45 52"
    "08 49 64 65 6e 74 69 74 79"
    "00 00 00 00"
)
#: READY of a libzmq PUB (zmtp.md §6).
PUB_READY = b"\x04\x19\x05READY\x0bSocket-Type\x00\x00\x00\x03PUB"
#: Commands (zmtp.md §5.1) [verified].
SUBSCRIBE_TOPIC = bytes.fromhex("04 0f 09 53 55 42 53 43 52 49 42 45 74 6f 70 69 63")
CANCEL_TOPIC = bytes.fromhex("04 0c 06 43 41 4e 43 45 4c 74 6f 70 69 63")
PING_TTL25 = bytes.fromhex("04 07 04 50 49 4e 47 00 19")
PONG_EMPTY = b"\x04\x05\x04PONG"
#: NULL ERROR after a ZAP denial (security.md §2) [verified].
ERROR_400 = bytes.fromhex("04 0a 05 45 52 52 4f 52 03 34 30 30")
#: RADIO -> DISH message, group "g", body "hi" (zmtp.md §9).
RADIO_G_HI = bytes.fromhex("01 01 67 00 02 68 69")

#: The properties a DEALER / ROUTER Connection announces (no routing id).
DEALER_PROPS = {"Socket-Type": b"DEALER", "Identity": b""}
ROUTER_PROPS = {"Socket-Type": b"ROUTER", "Identity": b""}

#: Bytes that follow an item in the "trailing bytes" leg of ``tr``, and what
#: they must produce once completed: proves nothing was eaten past the item.
TRAILER = b"\x00\x05after"
TRAILER_EVENTS: list[Event] = [Message([b"after"])]


def greeting(
    major: int = 3, minor: int = 1, mechanism: bytes = b"NULL", padding: int = 1,
    as_server: int = 0, sig_end: int = 0x7F,
) -> bytes:
    """A peer greeting with any field bent for a test."""
    return (
        b"\xff" + padding.to_bytes(8, "big") + bytes((sig_end, major, minor))
        + mechanism.ljust(20, b"\0") + bytes((as_server,)) + bytes(31)
    )


def ready_body(props: Sequence[tuple[bytes, bytes]]) -> bytes:
    out = b"\x05READY"
    for name, value in props:
        out += bytes((len(name),)) + name + len(value).to_bytes(4, "big") + value
    return out


def command(body: bytes, flags: int = 0x04) -> bytes:
    if len(body) > 255:
        return bytes((flags | 0x02,)) + len(body).to_bytes(8, "big") + body
    return bytes((flags, len(body))) + body


def ready_frame(socket_type: bytes | None, *extra: tuple[bytes, bytes]) -> bytes:
    props = [(b"Socket-Type", socket_type)] if socket_type is not None else []
    return command(ready_body(props + list(extra)))


def frames(data: bytes) -> list[tuple[int, bytes]]:
    """Split wire bytes (no greeting) into ``(flags, body)``."""
    out, pos = [], 0
    while pos < len(data):
        header = codec.decode_frame_header(data, pos)
        assert header is not None
        flags, size, hlen = header
        out.append((flags, data[pos + hlen : pos + hlen + size]))
        pos += hlen + size
    return out


# ----------------------------------------------------------- connections


def fresh(socket_type: str = "SUB", **kwargs: Any) -> Connection:
    """A connection that has sent its first 11 bytes."""
    conn = Connection(socket_type, **kwargs)
    conn.initiate()
    return conn


def ready_conn(
    socket_type: str = "XPUB", peer_type: bytes = b"XSUB", minor: int = 1, major: int = 3,
    **kwargs: Any,
) -> Connection:
    """Our connection in READY after a raw peer greeting + READY."""
    conn = fresh(socket_type, **kwargs)
    events = conn.receive_data(greeting(major=major, minor=minor) + ready_frame(peer_type))
    assert conn.state is ConnectionState.READY, events
    conn.data_to_send()
    return conn


def refused(conn: Connection, data: bytes) -> int:
    """The ProtocolError code ``data`` makes ``conn`` raise; it must close with nothing to send."""
    with pytest.raises(ProtocolError) as info:
        conn.receive_data(data)
    assert conn.state is ConnectionState.CLOSED
    assert conn.data_to_send() == b""
    return info.value.code


def byte_by_byte(conn: Connection, data: bytes) -> list[Event]:
    """Feed ``data`` to ``conn`` one byte at a time; all the events."""
    events: list[Event] = []
    for i in range(len(data)):
        events += conn.receive_data(data[i : i + 1])
    return events


def handshake_byte_by_byte(a: Connection, b: Connection, request: AuthRequest,
                           user_id: bytes) -> dict[str, list[Event]]:
    """Run a handshake feeding each side one byte at a time; server ``b`` answers its ZAP
    ``request`` with 200 and ``user_id``. The events each side got."""
    wire_a, wire_b = a.initiate(), b.initiate()
    events: dict[str, list[Event]] = {"a": [], "b": []}
    while wire_a or wire_b:
        events["b"] += byte_by_byte(b, wire_a)
        events["a"] += byte_by_byte(a, wire_b)
        if events["b"] == [request]:
            events["b"] = b.auth_reply(b"200", user_id)
        wire_a, wire_b = a.data_to_send(), b.data_to_send()
    return events


def tr(
    make: Callable[[], Connection],
    data: bytes,
    expected: list[Event],
    check: Callable[[Connection], None] | None = None,
    trailer: bytes = TRAILER,
    trailer_events: list[Event] | None = None,
) -> None:
    """h11's ``tr``: check one item fed whole, byte by byte, and with trailing bytes.

    * whole: exactly *expected*;
    * one byte at a time: no event before the last byte, then *expected*
      (an item made of several events, e.g. a PING inside a multipart
      message, may emit the earlier ones earlier, but must end on its last
      byte);
    * followed by the first bytes of *trailer*: still exactly *expected*,
      and the rest of *trailer* then yields *trailer_events*.
    """
    conn = make()
    assert conn.receive_data(data) == expected
    if check:
        check(conn)

    conn = make()
    got: list[Event] = []
    for i in range(len(data) - 1):
        events = conn.receive_data(data[i : i + 1])
        assert len(expected) > 1 or events == [], f"event after byte {i}"
        got += events
    last = conn.receive_data(data[-1:])
    assert got + last == expected
    assert last or not expected, "the item must complete on its last byte"
    if check:
        check(conn)

    conn = make()
    cut = 3
    assert conn.receive_data(data + trailer[:cut]) == expected
    if check:
        check(conn)
    events = TRAILER_EVENTS if trailer_events is None else trailer_events
    assert conn.receive_data(trailer[cut:]) == events


class ConnectionPair:
    """Two Connections wired back to back through an in-memory 'network'."""

    def __init__(self, a: Connection | str = "DEALER", b: Connection | str = "ROUTER") -> None:
        self.a = Connection(a) if isinstance(a, str) else a
        self.b = Connection(b) if isinstance(b, str) else b
        self.events: dict[str, list[Event]] = {"a": [], "b": []}
        self.wire: dict[str, list[bytes]] = {"a": [], "b": []}  # bytes *sent by* a / b

    def start(self) -> None:
        first_a, first_b = self.a.initiate(), self.b.initiate()
        self._deliver("a", first_a)
        self._deliver("b", first_b)

    def _deliver(self, sender: str, data: bytes) -> None:
        if not data:
            return
        self.wire[sender].append(data)
        receiver = "b" if sender == "a" else "a"
        conn = self.b if sender == "a" else self.a
        self.events[receiver] += conn.receive_data(data)

    def pump(self) -> None:
        """Move protocol output both ways until both sides are quiet."""
        while True:
            out_a, out_b = self.a.data_to_send(), self.b.data_to_send()
            if not out_a and not out_b:
                return
            self._deliver("a", out_a)
            self._deliver("b", out_b)

    def run(self) -> ConnectionPair:
        """Start both sides and let them talk as far as they get alone (e.g. up to ZAP)."""
        self.start()
        self.pump()
        return self

    def handshake(self) -> ConnectionPair:
        self.run()
        assert self.a.state is ConnectionState.READY, self.events
        assert self.b.state is ConnectionState.READY, self.events
        return self

    def take(self, side: str) -> list[Event]:
        events, self.events[side] = self.events[side], []
        return events

    def a_to_b(self, data: bytes) -> list[Event]:
        events = self.b.receive_data(data)
        self.pump()
        return events

    def b_to_a(self, data: bytes) -> list[Event]:
        events = self.a.receive_data(data)
        self.pump()
        return events
