"""Connection: the byte-level ``tr`` table, then whole conversations in memory.

Part 1 feeds exact libzmq byte strings to one Connection (whole, one byte at
a time, with trailing bytes).  Part 2 wires two Connections back to back
(``ConnectionPair``) and walks every phase and protocol error.
"""

from __future__ import annotations

from typing import Any

import pytest
from zmtp_helpers import (
    CANCEL_TOPIC, ERROR_400, LIBZMQ_GREETING, PING_TTL25, PONG_EMPTY, PUB_READY,
    RADIO_G_HI, ROUTER_READY, SUBSCRIBE_TOPIC, ConnectionPair, command, fresh, greeting,
    ready_body, ready_conn, ready_frame, refused, tr,
)

from gzmq.zmtp import (
    Cancel, Connection, ConnectionState, HandshakeComplete, Join, Leave, LocalProtocolError, Message,
    PeerError, Ping, Pong, ProtocolError, ProtocolErrorCode, Subscribe,
)

Code = ProtocolErrorCode

# ----------------------------------------------------- part 1: tr table

# Items fed to a connection already in READY: (bytes, expected events).
READY_CASES: list[tuple[str, bytes, list[Any]]] = [
    ("empty frame", b"\x00\x00", [Message([b""])]),
    ("short frame", b"\x00\x05hello", [Message([b"hello"])]),
    ("multipart (RADIO group+body)", RADIO_G_HI, [Message([b"g", b"hi"])]),
    ("empty multipart", b"\x01\x00\x00\x00", [Message([b"", b""])]),
    ("long form, tiny size", b"\x02" + (3).to_bytes(8, "big") + b"abc", [Message([b"abc"])]),
    ("long frame 300", b"\x02" + (300).to_bytes(8, "big") + b"x" * 300, [Message([b"x" * 300])]),
    ("long MORE + short", b"\x03" + (256).to_bytes(8, "big") + b"y" * 256 + b"\x00\x01z",
     [Message([b"y" * 256, b"z"])]),
    ("reserved flag bits ignored", b"\xf0\x02hi", [Message([b"hi"])]),
    ("SUBSCRIBE", SUBSCRIBE_TOPIC, [Subscribe(b"topic")]),
    ("CANCEL", CANCEL_TOPIC, [Cancel(b"topic")]),
    ("SUBSCRIBE empty topic", b"\x04\x0a\x09SUBSCRIBE", [Subscribe(b"")]),
    ("SUBSCRIBE long command", command(b"\x09SUBSCRIBE" + b"t" * 300), [Subscribe(b"t" * 300)]),
    ("command with MORE bit", b"\x05" + SUBSCRIBE_TOPIC[1:], [Subscribe(b"topic")]),
    ("PING ttl 2.5 s", PING_TTL25, [Ping(2500, b"")]),
    ("PING with context", command(b"\x04PING\x00\x00ctx"), [Ping(0, b"ctx")]),
    ("PONG", command(b"\x04PONGctx"), [Pong(b"ctx")]),
    ("command inside multipart", b"\x01\x01a" + PING_TTL25 + b"\x00\x01b",
     [Ping(2500, b""), Message([b"a", b"b"])]),
    ("unknown command ignored", command(b"\x06FOOBAR"), []),
    ("late READY ignored", PUB_READY, []),
    ("late ERROR ignored", ERROR_400, []),
    ("JOIN", command(b"\x04JOINgroup"), [Join(b"group")]),
    ("LEAVE", command(b"\x05LEAVEgroup"), [Leave(b"group")]),
    ("JOIN empty group", command(b"\x04JOIN"), [Join(b"")]),
]


@pytest.mark.parametrize(("data", "expected"), [c[1:] for c in READY_CASES],
                         ids=[c[0] for c in READY_CASES])
def test_tr_ready(data: bytes, expected: list[Any]) -> None:
    tr(ready_conn, data, expected)


def _bare(events: list[Any]) -> list[Any]:
    return [event.parts if type(event) is Message else event for event in events]


@pytest.mark.parametrize(("data", "expected"), [c[1:] for c in READY_CASES],
                         ids=[c[0] for c in READY_CASES])
def test_bare_messages_are_part_lists_and_everything_else_is_unchanged(
        data: bytes, expected: list[Any]) -> None:
    # the engine's Connection (bare_messages=True) returns each message as its parts list: the
    # same events in the same order otherwise, fed whole, byte by byte, or with a frame cut
    want = _bare(expected)
    whole = ready_conn(bare_messages=True)
    assert whole.receive_data(data) == want
    one_by_one = ready_conn(bare_messages=True)
    got: list[Any] = []
    for i in range(len(data)):
        got += one_by_one.receive_data(data[i:i + 1])
    assert got == want
    assert all(type(e) is list for e in got if type(e) not in (Ping, Pong, Subscribe, Cancel,
                                                               Join, Leave))


def test_bare_messages_before_a_fault_are_part_lists_too() -> None:
    conn = ready_conn("PULL", b"PUSH", bare_messages=True)
    good = b"\x00\x02ok\x01\x01a\x00\x01b"
    with pytest.raises(ProtocolError) as caught:
        conn.receive_data(good + b"\x02" + b"\xff" * 8)  # a size with the top bit set
    assert caught.value.events == [[b"ok"], [b"a", b"b"]]
    plain = ready_conn("PULL", b"PUSH")
    with pytest.raises(ProtocolError) as caught:
        plain.receive_data(good + b"\x02" + b"\xff" * 8)
    assert caught.value.events == [Message([b"ok"]), Message([b"a", b"b"])]


def test_tr_ping_queues_pong() -> None:
    def check(conn: Connection) -> None:
        assert conn.data_to_send() == PONG_EMPTY
        assert conn.data_to_send() == b""

    def check_truncated(conn: Connection) -> None:
        assert conn.data_to_send() == command(b"\x04PONG" + b"c" * 16)

    tr(ready_conn, PING_TTL25, [Ping(2500, b"")], check)
    # a 20-byte context is reported whole but echoed cut to 16 bytes (libzmq)
    tr(ready_conn, command(b"\x04PING\x00\x01" + b"c" * 20), [Ping(100, b"c" * 20)],
       check_truncated)


def test_tr_greeting_alone() -> None:
    def check(conn: Connection) -> None:
        assert conn.state is ConnectionState.HANDSHAKE
        assert (conn.peer_major, conn.peer_minor) == (3, 1)
        # rest of our greeting, then our READY (a PUB's READY, byte-exact)
        assert conn.data_to_send() == LIBZMQ_GREETING[11:] + PUB_READY

    tr(lambda: fresh("PUB"), LIBZMQ_GREETING, [], check,
       trailer=ready_frame(b"SUB"), trailer_events=[HandshakeComplete({"Socket-Type": b"SUB"})])


def test_tr_greeting_and_ready() -> None:
    def check(conn: Connection) -> None:
        assert conn.state is ConnectionState.READY
        assert conn.peer_socket_type == "PUB"

    tr(lambda: fresh("SUB"), LIBZMQ_GREETING + PUB_READY,
       [HandshakeComplete({"Socket-Type": b"PUB"})], check)
    tr(lambda: fresh("DEALER"), LIBZMQ_GREETING + ROUTER_READY,
       [HandshakeComplete({"Socket-Type": b"ROUTER", "Identity": b""})])


def test_tr_error_during_handshake() -> None:
    def check(conn: Connection) -> None:
        assert conn.state is ConnectionState.CLOSED
        assert conn.data_to_send() == b""

    conn = fresh("DEALER")
    assert conn.receive_data(LIBZMQ_GREETING + ERROR_400 + b"\x00\x01x") == [PeerError(b"400")]
    check(conn)
    # byte by byte too; anything after ERROR is dropped
    conn = fresh("DEALER")
    data = LIBZMQ_GREETING + ERROR_400
    assert all(conn.receive_data(data[i : i + 1]) == [] for i in range(len(data) - 1))
    assert conn.receive_data(data[-1:]) == [PeerError(b"400")]
    check(conn)
    with pytest.raises(LocalProtocolError):
        conn.receive_data(b"\x00")


def test_greeting_is_staged_like_libzmq() -> None:
    conn = Connection("DEALER")
    assert conn.initiate() == bytes.fromhex("ff 00 00 00 00 00 00 00 01 7f 03")
    for i in range(10):
        conn.receive_data(LIBZMQ_GREETING[i : i + 1])
        assert conn.data_to_send() == b"", f"nothing may be sent before peer byte {i + 1}"
    conn.receive_data(LIBZMQ_GREETING[10:11])
    assert conn.data_to_send() == LIBZMQ_GREETING[11:]  # bytes 11..63 exactly
    conn.receive_data(LIBZMQ_GREETING[11:])
    assert conn.data_to_send().startswith(b"\x04")  # our READY


def test_greeting_padding_carries_identity_length() -> None:
    assert Connection("DEALER", identity=b"abc").initiate()[1:9] == (4).to_bytes(8, "big")


def test_router_ready_byte_exact() -> None:
    conn = fresh("ROUTER")
    conn.receive_data(LIBZMQ_GREETING)
    assert conn.data_to_send() == LIBZMQ_GREETING[11:] + ROUTER_READY


def test_ready_metadata_order() -> None:
    conn = fresh("REQ", identity=b"id", metadata={"X-b": b"2", "X-B": b"1", "X-a": b""})
    conn.receive_data(LIBZMQ_GREETING)
    expected = ready_frame(b"REQ", (b"Identity", b"id"), (b"X-B", b"1"), (b"X-a", b""),
                           (b"X-b", b"2"))
    assert conn.data_to_send() == LIBZMQ_GREETING[11:] + expected


@pytest.mark.parametrize("bad", [{"Foo": b"x"}, {"x-foo": b"x"}, {"X-" + "a" * 254: b""}])
def test_metadata_names_must_be_x(bad: dict[str, bytes]) -> None:
    with pytest.raises(ValueError):
        Connection("DEALER", metadata=bad)


def test_constructor_refusals() -> None:
    for socket_type in ("STREAM", "dealer", "NOPE"):
        with pytest.raises(ValueError):
            Connection(socket_type)
    with pytest.raises(ValueError):
        Connection("DEALER", identity=b"x" * 256)


# ------------------------------------------- part 2: connection pairs

CLASSIC = ["PAIR", "PUB", "SUB", "REQ", "REP", "DEALER", "ROUTER", "PULL", "PUSH", "XPUB", "XSUB"]
DRAFT = ["SERVER", "CLIENT", "RADIO", "DISH", "GATHER", "SCATTER", "PEER", "CHANNEL"]


def _pairs(types: list[str]) -> list[tuple[str, str]]:
    from gzmq.zmtp import COMPATIBLE

    return [(a, b) for a in types for b in sorted(COMPATIBLE[a]) if a <= b]


@pytest.mark.parametrize(("a", "b"), _pairs(CLASSIC) + _pairs(DRAFT))
def test_handshake_compatible_pair(a: str, b: str) -> None:
    pair = ConnectionPair(Connection(a, identity=b"A"), Connection(b, identity=b"B")).handshake()
    for side, mine, peer, ident in (("a", a, b, b"B"), ("b", b, a, b"A")):
        events = pair.take(side)
        props = {"Socket-Type": peer.encode()}
        if peer in ("REQ", "DEALER", "ROUTER"):
            props["Identity"] = ident
        assert events == [HandshakeComplete(props)]
    assert (pair.a.peer_socket_type, pair.b.peer_socket_type) == (b, a)


@pytest.mark.parametrize(("a", "b"), [("PUB", "PUSH"), ("REQ", "REQ"), ("PAIR", "DEALER"),
                                      ("SUB", "SUB"), ("ROUTER", "REP")])
def test_handshake_incompatible(a: str, b: str) -> None:
    pair = ConnectionPair(a, b)
    pair.start()
    with pytest.raises(ProtocolError) as info:
        pair.pump()
    assert info.value.code == Code.ZMTP_INVALID_METADATA
    closed = pair.b if pair.b.state is ConnectionState.CLOSED else pair.a
    assert closed.data_to_send() == b""
    with pytest.raises(LocalProtocolError):
        closed.receive_data(b"\x00")


def test_peer_socket_type_case_sensitive_and_optional() -> None:
    conn = fresh("PUB")
    with pytest.raises(ProtocolError):
        conn.receive_data(greeting() + ready_frame(b"sub"))  # "sub" is not "SUB"
    # missing Socket-Type: accepted; other-case name is just another property
    conn = fresh("PUB")
    events = conn.receive_data(greeting() + ready_frame(None, (b"socket-type", b"PUSH")))
    assert events == [HandshakeComplete({"socket-type": b"PUSH"})]
    assert conn.peer_socket_type is None


PAYLOADS = [
    [b""], [b"", b""], [b"a", b"", b"c"], [b"x" * 300], [b"h", b"y" * 70 * 1024],
    [b"z" * (16 << 20)],
]


@pytest.mark.parametrize("parts", PAYLOADS, ids=lambda p: f"{len(p)}x{len(p[-1])}")
def test_messages_both_ways(parts: list[bytes]) -> None:
    pair = ConnectionPair("DEALER", "ROUTER").handshake()
    assert pair.a_to_b(pair.a.send_message(parts)) == [Message(parts)]
    assert pair.b_to_a(pair.b.send_message(parts)) == [Message(parts)]
    for event in pair.b.receive_data(pair.a.send_message(parts)):
        assert all(type(p) is bytes for p in event.parts)  # type: ignore[attr-defined]


def test_many_messages_random_chunking() -> None:
    import random

    rng = random.Random(5)
    pair = ConnectionPair("PUSH", "PULL").handshake()
    msgs = [[rng.randbytes(rng.choice([0, 1, 7, 255, 256, 300, 5000])) for _ in
             range(rng.randint(1, 4))] for _ in range(300)]
    out: list[bytes] = []
    pair.a.encode_messages(msgs, out)
    wire = b"".join(out)
    received: list[Any] = []
    pos = 0
    while pos < len(wire):
        step = rng.choice([1, 2, 3, 9, 10, 100, 4096])
        chunk = wire[pos : pos + step]
        received += pair.b.receive_data(bytearray(chunk) if step % 2 else chunk)
        pos += step
    assert received == [Message(m) for m in msgs]


def test_16mib_in_64kib_chunks_is_linear() -> None:
    import time

    pair = ConnectionPair("PUSH", "PULL").handshake()
    body = bytes(range(256)) * (1 << 16)  # 16 MiB
    wire = pair.a.send_message([body]) + pair.a.send_message([b"next"])
    view = memoryview(wire)
    events: list[Any] = []
    started = time.perf_counter()
    for pos in range(0, len(wire), 65536):
        events += pair.b.receive_data(view[pos : pos + 65536])
    elapsed = time.perf_counter() - started
    assert events == [Message([body]), Message([b"next"])]
    assert elapsed < 2.0, f"16 MiB took {elapsed:.2f}s"


def test_input_buffer_reuse_is_safe() -> None:
    pair = ConnectionPair("PUSH", "PULL").handshake()
    buf = bytearray(pair.a.send_message([b"hello", b"world"]))
    events = pair.b.receive_data(memoryview(buf))
    buf[:] = b"\xff" * len(buf)
    assert events == [Message([b"hello", b"world"])]


def test_encode_messages_fast_path_keeps_body_objects() -> None:
    pair = ConnectionPair("PUSH", "PULL").handshake()
    big = b"q" * 100_000
    out: list[bytes] = []
    pair.a.encode_messages([[b"k", big], [b"v"]], out)
    assert any(chunk is big for chunk in out)
    assert pair.b.receive_data(b"".join(out)) == [Message([b"k", big]), Message([b"v"])]


def test_subscribe_to_31_peer_uses_commands() -> None:
    pair = ConnectionPair("SUB", "XPUB").handshake()
    assert pair.a.subscribe(b"topic") == SUBSCRIBE_TOPIC
    assert pair.a.cancel(b"topic") == CANCEL_TOPIC
    assert pair.a_to_b(pair.a.subscribe(b"")) == [Subscribe(b"")]
    assert pair.a_to_b(pair.a.cancel(b"t")) == [Cancel(b"t")]


@pytest.mark.parametrize(("major", "minor", "commands"),
                         [(3, 0, False), (3, 1, True), (3, 7, True), (2, 0, True), (4, 0, True)])
def test_subscribe_form_depends_on_peer_version(major: int, minor: int, commands: bool) -> None:
    conn = ready_conn("SUB", b"PUB", minor=minor, major=major)
    assert (conn.peer_major, conn.peer_minor) == (major, minor)
    if commands:
        assert conn.subscribe(b"topic") == SUBSCRIBE_TOPIC
        assert conn.cancel(b"topic") == CANCEL_TOPIC
    else:  # ZMTP 3.0: old-style message frames (zmtp.md §8)
        assert conn.subscribe(b"topic") == b"\x00\x06\x01topic"
        assert conn.cancel(b"topic") == b"\x00\x06\x00topic"


def test_subscription_message_frames_stay_messages() -> None:
    conn = ready_conn("XPUB", b"SUB", minor=0)
    assert conn.receive_data(b"\x00\x06\x01topic") == [Message([b"\x01topic"])]


def test_ping_pong_round_trip() -> None:
    pair = ConnectionPair("DEALER", "DEALER").handshake()
    pair.take("a")
    ping = pair.a.ping(2550, b"ctx")
    assert ping == command(b"\x04PING\x00\x19ctx")  # 2550 ms -> 25 ds
    assert pair.a.ping() == command(b"\x04PING\x00\x00")
    assert pair.a_to_b(ping) == [Ping(2500, b"ctx")]
    assert pair.take("a") == [Pong(b"ctx")]  # auto-PONG was pumped back


def test_data_in_same_chunk_as_ready() -> None:
    conn = fresh("PULL")
    data = greeting() + ready_frame(b"PUSH") + b"\x01\x01a\x00\x01b" + b"\x00\x00"
    assert conn.receive_data(data) == [
        HandshakeComplete({"Socket-Type": b"PUSH"}), Message([b"a", b"b"]), Message([b""])]


def test_second_ready_in_same_chunk_is_ignored() -> None:
    conn = fresh("PULL")
    data = greeting() + ready_frame(b"PUSH") + ready_frame(b"PUSH")
    assert conn.receive_data(data) == [HandshakeComplete({"Socket-Type": b"PUSH"})]


def _expect_error(conn: Connection, data: bytes, code: int) -> ProtocolError:
    with pytest.raises(ProtocolError) as info:
        conn.receive_data(data)
    assert info.value.code == code, hex(info.value.code)
    assert conn.state is ConnectionState.CLOSED
    if code == ProtocolErrorCode.ZMTP_MECHANISM_MISMATCH:
        # libzmq has written its whole greeting before it sees the mismatch: so do we, so the
        # peer learns which mechanism we wanted (bytes 11..63 are still owed after initiate())
        rest = conn.data_to_send()
        assert len(rest) == 64 - 11 and rest[1:6] == conn.mechanism.name.ljust(5, b"\0")[:5]
        assert conn.data_to_send() == b""
    else:
        assert conn.data_to_send() == b""
    with pytest.raises(LocalProtocolError):
        conn.receive_data(b"\x00\x00")
    with pytest.raises(LocalProtocolError):
        conn.send_message([b"x"])
    with pytest.raises(LocalProtocolError):
        conn.subscribe(b"")
    with pytest.raises(LocalProtocolError):
        conn.ping()
    return info.value


@pytest.mark.parametrize(("data", "code"), [
    (b"\x01" + greeting()[1:], Code.ZMTP_UNSPECIFIED),
    (greeting(sig_end=0x00), Code.ZMTP_UNSPECIFIED),
    (greeting(major=0), Code.ZMTP_UNSPECIFIED),
    (greeting(major=1), Code.ZMTP_UNSPECIFIED),
    (greeting(mechanism=b"PLAIN"), Code.ZMTP_MECHANISM_MISMATCH),
    (greeting(mechanism=b"NULL\x00\x00X"), Code.ZMTP_MECHANISM_MISMATCH),  # all 20 bytes
    (greeting() + b"\x00\x02hi", Code.ZMTP_UNEXPECTED_COMMAND),  # data before READY
    (greeting() + command(b"\x05HELLO"), Code.ZMTP_UNEXPECTED_COMMAND),
    (greeting() + command(b"\x04PING\x00\x00"), Code.ZMTP_UNEXPECTED_COMMAND),
    (greeting() + command(ready_body([(b"Socket-Type", b"PUSH")])[:-1]),
     Code.ZMTP_INVALID_METADATA),
    (greeting() + command(ready_body([(b"Socket-Type", b"PUSH")]) + b"\x00"),
     Code.ZMTP_INVALID_METADATA),
    (greeting() + command(b"\x05ERROR\x05abc"), Code.ZMTP_MALFORMED_COMMAND_ERROR),
    (greeting() + command(b"\x05ERROR"), Code.ZMTP_MALFORMED_COMMAND_ERROR),
    (greeting() + b"\x06\x80" + bytes(7), Code.ZMTP_UNSPECIFIED),  # size top bit
])
def test_protocol_errors_before_ready(data: bytes, code: int) -> None:
    _expect_error(fresh("PULL"), data, code)
    # byte by byte the error comes at some byte, and is the same error
    conn = fresh("PULL")
    with pytest.raises(ProtocolError) as info:
        for i in range(len(data)):
            conn.receive_data(data[i : i + 1])
    assert info.value.code == code


def test_greeting_errors_at_the_first_bad_byte() -> None:
    conn = fresh("PULL")
    with pytest.raises(ProtocolError):
        conn.receive_data(b"\x00")
    conn = fresh("PULL")
    conn.receive_data(greeting(major=1)[:10])
    with pytest.raises(ProtocolError):
        conn.receive_data(b"\x01")


@pytest.mark.parametrize(("data", "code"), [
    (b"\x00\x29" + b"x" * 41, Code.ZMTP_UNSPECIFIED),  # over max_message_size
    (b"\x01\x01a\x02" + (10**6).to_bytes(8, "big"), Code.ZMTP_UNSPECIFIED),
    (b"\x02\xff" + bytes(7), Code.ZMTP_UNSPECIFIED),  # top bit set
    (b"\x04\x00", Code.ZMTP_MALFORMED_COMMAND_UNSPECIFIED),  # empty command
    (b"\x04\x03\x05REA", Code.ZMTP_MALFORMED_COMMAND_UNSPECIFIED),
])
def test_protocol_errors_when_ready(data: bytes, code: int) -> None:
    _expect_error(ready_conn(max_message_size=40), data, code)


def test_max_message_size_is_per_message_and_inclusive() -> None:
    # the sum of the frames, not only each frame (unlike libzmq: see test_reliability.py)
    conn = ready_conn(max_message_size=40)
    a, b = b"a" * 20, b"b" * 20
    assert conn.receive_data(b"\x01\x14" + a + b"\x00\x14" + b) == [Message([a, b])]
    assert refused(conn, b"\x01\x14" + a + b"\x00\x15" + b + b"!") == Code.ZMTP_UNSPECIFIED


def test_max_message_size_applies_to_handshake_commands() -> None:
    # as in libzmq, whose v2 decoder (with ZMQ_MAXMSGSIZE) reads the handshake
    _expect_error(fresh("PULL", max_message_size=25), greeting() + ready_frame(b"PUSH"),
                  Code.ZMTP_UNSPECIFIED)


def test_events_before_an_error_are_kept_on_the_exception() -> None:
    conn = ready_conn(max_message_size=40)
    err = _expect_error(conn, b"\x00\x01a" + SUBSCRIBE_TOPIC + b"\x00\x29" + b"x" * 41,
                        Code.ZMTP_UNSPECIFIED)
    assert err.events == [Message([b"a"]), Subscribe(b"topic")]


def test_misuse_raises_local_errors() -> None:
    conn = Connection("DEALER")
    with pytest.raises(LocalProtocolError):
        conn.receive_data(LIBZMQ_GREETING)  # initiate() first
    conn.initiate()
    with pytest.raises(LocalProtocolError):
        conn.initiate()
    for state_data in (b"", LIBZMQ_GREETING):  # GREETING, then HANDSHAKE
        conn.receive_data(state_data)
        for call in (lambda: conn.send_message([b"x"]), lambda: conn.encode_messages([[b"x"]], []),
                     lambda: conn.subscribe(b"x"), lambda: conn.cancel(b"x"), conn.ping,
                     lambda: conn.auth_reply(b"200")):
            with pytest.raises(LocalProtocolError):
                call()
    conn.receive_data(ROUTER_READY)
    assert conn.state is ConnectionState.READY
    with pytest.raises(LocalProtocolError):
        conn.send_message([])
    with pytest.raises(LocalProtocolError):
        conn.ping(context=b"x" * 17)
    assert conn.receive_data(b"") == []


def test_large_body_received_in_place() -> None:
    """An engine may recv_into the rest of a large frame body (one copy fewer)."""
    conn = fresh("PULL")
    conn.receive_data(greeting() + ready_frame(b"PUSH"))
    body = bytes(range(256)) * 4096  # 1 MiB
    header = b"\x02" + len(body).to_bytes(8, "big")
    assert conn.receive_buffer() is None
    assert conn.receive_data(header + body[:1000]) == []
    # no buffer of its own for a body until 64 KiB of it are here (a header is a claim)
    assert conn.receive_buffer() is None
    assert conn.receive_data(body[1000:65536]) == []
    received = 65536
    while received < len(body):
        buffer = conn.receive_buffer()
        # the window grows with the data, never with the declared size
        assert buffer is not None and 0 < len(buffer) <= 3 * received
        step = min(70000, len(buffer))
        buffer[:step] = body[received:received + step]
        received += step
        events = conn.received_into(step)
        assert (events == []) == (received < len(body))
    assert events == [Message([body])] and type(events[0].parts[0]) is bytes
    assert conn.receive_buffer() is None
    # afterwards the normal path goes on, and mixing both paths keeps every byte
    assert conn.receive_data(b"\x00\x01x") == [Message([b"x"])]


def test_large_body_fed_through_receive_data_still_works() -> None:
    conn = fresh("PULL")
    conn.receive_data(greeting() + ready_frame(b"PUSH"))
    body = b"\xab" * (200 * 1024)
    wire = b"\x02" + len(body).to_bytes(8, "big") + body + b"\x00\x01y"
    events = []
    for offset in range(0, len(wire), 65536):
        events += conn.receive_data(wire[offset:offset + 65536])
    assert events == [Message([body]), Message([b"y"])]


def test_large_bodies_of_one_size_reuse_a_buffer_without_aliasing() -> None:
    conn = fresh("PULL")
    conn.receive_data(greeting() + ready_frame(b"PUSH"))
    first, second = b"\x01" * 100_000, b"\x02" * 100_000
    header = b"\x02" + (100_000).to_bytes(8, "big")
    events = conn.receive_data(header + first[:10]) + conn.receive_data(first[10:])
    events += conn.receive_data(header + second[:10]) + conn.receive_data(second[10:])
    assert [e.parts for e in events] == [[first], [second]]  # the first is not overwritten
