"""Bounded parsing: ``receive_data(data, max_messages=n)`` and ``next_events(n)``.

An engine passes the room left under RCVHWM: a burst of tiny messages then stays raw bytes
(2 bytes an empty message) instead of Message objects (~120 bytes each) beyond the mark.
Bounded parsing only delays events: order, multipart atomicity, commands between frames,
CURVE and the in-place path for large bodies are as without a bound (test_fuzz.py also
checks this on generated input).
"""

from __future__ import annotations

import os
import tracemalloc
from typing import Any

import pytest
from zmtp_helpers import (
    PING_TTL25, SUBSCRIBE_TOPIC, command, fresh, greeting, ready_conn, ready_frame,
)

from gzmq.zmtp import (
    Cancel, Connection, ConnectionState, CurveClient, CurveServer, HandshakeComplete, Message,
    Ping, ProtocolError, Subscribe,
)

KiB = 1024


def long_header(size: int, flags: int = 0) -> bytes:
    return bytes((flags | 0x02,)) + size.to_bytes(8, "big")


def messages(events: list[Any]) -> int:
    return sum(isinstance(event, (Message, Subscribe, Cancel)) for event in events)


def drain(conn: Connection, room: int) -> list[Any]:
    """What an engine does while input is held: next_events(room) until none is held."""
    events: list[Any] = []
    while conn.held_input:
        assert conn.receive_buffer() is None  # held bytes come before any in-place read
        more = conn.next_events(room)
        assert messages(more) <= room
        events += more
    return events


def bounded(conn: Connection, data: bytes, room: int, chunk: int = 0) -> list[Any]:
    events: list[Any] = []
    for start in range(0, len(data), chunk or len(data)):
        got = conn.receive_data(data[start:start + (chunk or len(data))], room)
        assert messages(got) <= room
        events += got + drain(conn, max(room, 1))
    return events


# A stream with every kind of thing between and inside messages.
BIG = os.urandom(100 * KiB)
STREAM = b"".join([
    b"\x00\x00",                                            # empty message
    b"\x00\x05hello",
    b"\x01\x01a" + PING_TTL25 + b"\x01\x01b" + b"\x00\x01c",  # PING inside a multipart
    SUBSCRIBE_TOPIC,                                        # a command between messages
    command(b"\x06CANCELtopic"),
    long_header(300, 0x01) + b"x" * 300 + b"\x00\x01y",     # long MORE frame + short
    long_header(len(BIG)) + BIG,                            # a large body (in place later)
    b"\x00\x00" * 50,
    b"\x01\x00" * 7 + b"\x00\x00",                          # 8 empty parts
])


def expected() -> list[Any]:
    conn = ready_conn("XPUB", b"XSUB")
    return conn.receive_data(STREAM)


def test_the_stream_covers_what_it_should() -> None:
    events = expected()
    assert events[:6] == [Message([b""]), Message([b"hello"]), Ping(2500, b""),
                          Message([b"a", b"b", b"c"]), Subscribe(b"topic"), Cancel(b"topic")]
    assert events[7] == Message([BIG]) and events[-1] == Message([b""] * 8)


@pytest.mark.parametrize("room", [0, 1, 2, 3, 5, 1000])
@pytest.mark.parametrize("chunk", [0, 1, 7, 4096, 70_000])
def test_bounded_parsing_only_delays_events(room: int, chunk: int) -> None:
    conn = ready_conn("XPUB", b"XSUB")
    assert bounded(conn, STREAM, room, chunk) == expected()
    assert conn.held_input == 0 and conn._reader.buffered_bytes() == 0
    # the PING was answered once it was parsed
    assert conn.data_to_send() == command(b"\x04PONG")


def test_a_flood_of_empty_messages_stays_raw_beyond_the_bound() -> None:
    """256 KiB of empty messages (what one read brings) used to become 131,072 Message
    objects at once (~15 MiB); with a bound of 1000 the rest stays as the 2 bytes each."""
    conn = ready_conn("PULL", b"PUSH")
    flood = b"\x00\x00" * (128 * KiB)
    tracemalloc.start()
    try:
        events = conn.receive_data(flood, 1000)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert events == [Message([b""])] * 1000
    assert conn.held_input == len(flood) - 2000
    assert conn._reader.buffered_bytes() == len(flood)  # kept by offset, not copied
    assert peak < 512 * KiB, peak
    total = len(events)
    while conn.held_input:
        total += len(conn.next_events(1000))
        # once most of it is parsed, the rest is copied and the big buffer let go
        assert conn._reader.buffered_bytes() <= 2 * conn.held_input
    assert total == 128 * KiB
    assert conn.next_events(1000) == [] and conn._reader.buffered_bytes() == 0


def test_held_input_costs_linear_copying() -> None:
    """next_events(1) over a large held input copies it O(n) in all, not once per call."""
    conn = ready_conn("PULL", b"PUSH")
    flood = b"\x00\x01z" * 20_000
    assert len(conn.receive_data(flood, 1)) == 1
    copied, last = 0, conn._reader.tail
    while conn.held_input:
        assert conn.next_events(1) == [Message([b"z"])]
        if conn._reader.tail is not last:
            last = conn._reader.tail
            copied += len(last)
    assert copied <= len(flood)


def test_max_messages_zero_completes_the_handshake_and_holds_the_rest() -> None:
    conn = fresh("PULL")
    data = greeting() + ready_frame(b"PUSH") + PING_TTL25 + b"\x00\x01a" * 3
    events = conn.receive_data(data, 0)
    assert events == [HandshakeComplete({"Socket-Type": b"PUSH"})]
    assert conn.state is ConnectionState.READY
    assert conn.held_input == len(PING_TTL25) + 9
    assert conn.next_events(0) == []  # still nothing parsed
    conn.data_to_send()
    assert conn.next_events() == [Ping(2500, b"")] + [Message([b"a"])] * 3
    assert conn.data_to_send() == command(b"\x04PONG")


def test_new_data_comes_after_the_held_input() -> None:
    conn = ready_conn("PULL", b"PUSH")
    assert conn.receive_data(b"\x00\x011\x00\x012\x01\x013", 1) == [Message([b"1"])]
    assert conn.held_input == 6
    # more data while input is held (a sans-IO user may): it is parsed after the held bytes
    assert conn.receive_data(b"\x00\x014\x00\x015") == [
        Message([b"2"]), Message([b"3", b"4"]), Message([b"5"])]
    assert conn.held_input == 0


def test_a_pending_body_is_completed_within_the_bound() -> None:
    conn = ready_conn("PULL", b"PUSH")
    assert conn.receive_data(long_header(100) + b"p" * 50) == []
    assert conn.receive_data(b"p" * 50 + b"\x00\x01b", 0) == []
    assert conn.held_input == 53
    assert conn.next_events(1) == [Message([b"p" * 100])]
    assert conn.next_events(1) == [Message([b"b"])]
    assert conn.held_input == 0


def test_the_in_place_path_waits_for_held_input() -> None:
    conn = ready_conn("PULL", b"PUSH")
    body = os.urandom(200 * KiB)
    wire = b"\x00\x01a" + long_header(len(body)) + body[:70_000]
    assert conn.receive_data(wire, 1) == [Message([b"a"])]
    assert conn.held_input and conn.receive_buffer() is None
    assert conn.next_events(1) == []  # the body has begun: 70,000 bytes of it are here
    window = conn.receive_buffer()
    assert window is not None and conn.held_input == 0
    received, events = 70_000, []
    while received < len(body):
        window = conn.receive_buffer()
        step = min(len(window), len(body) - received)
        window[:step] = body[received:received + step]
        received += step
        events += conn.received_into(step)
    assert events == [Message([body])]


def test_curve_messages_are_bounded_too() -> None:
    from nacl.bindings import crypto_box_keypair
    client, server = crypto_box_keypair(), crypto_box_keypair()
    push = Connection("PUSH", CurveClient(client[0], client[1], server[0]))
    pull = Connection("PULL", CurveServer(server[0], server[1], zap=False))
    wire_push, wire_pull = push.initiate(), pull.initiate()
    while wire_push or wire_pull:
        pull.receive_data(wire_push)
        push.receive_data(wire_pull)
        wire_push, wire_pull = push.data_to_send(), pull.data_to_send()
    assert push.state is pull.state is ConnectionState.READY
    sent = [[b"%d" % i] for i in range(10)] + [[b"m1", b"m2", b"m3"]]
    wire = b"".join(push.send_message(parts) for parts in sent)
    wire += push.ping(2500)
    events = bounded(pull, wire, 3)
    assert events == [Message(parts) for parts in sent] + [Ping(2500, b"")]


def test_the_message_size_limit_holds_across_bounded_calls() -> None:
    conn = ready_conn("PULL", b"PUSH", max_message_size=30)
    a, b, c = b"a" * 12, b"b" * 12, b"c" * 12
    frame = lambda flags, body: bytes((flags, len(body))) + body  # noqa: E731
    assert bounded(conn, frame(1, a) + frame(0, b), 1) == [Message([a, b])]
    assert conn.receive_data(frame(1, a) + frame(1, b), 1) == []
    assert conn.held_input
    with pytest.raises(ProtocolError):  # 36 bytes in all: over the limit
        conn.next_events(1)
        conn.receive_data(frame(0, c), 1)
    assert conn.state is ConnectionState.CLOSED


def test_a_protocol_error_in_held_input_closes_with_the_events_before_it() -> None:
    conn = ready_conn("PULL", b"PUSH", max_message_size=30)
    assert conn.receive_data(b"\x00\x01a\x00\x01b\x00\x01c\x00\x1f" + b"x" * 31, 1) == [
        Message([b"a"])]
    with pytest.raises(ProtocolError) as info:
        conn.next_events(5)
    assert info.value.events == [Message([b"b"]), Message([b"c"])]
    assert conn.state is ConnectionState.CLOSED and conn.held_input == 0
    assert conn.next_events(5) == []
