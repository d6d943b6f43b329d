"""Issue 7 (reliability): the codec is safe against any peer input.

* memory grows only with the bytes the peer really sent (never with a declared size), and
  frames larger than a handshake command are refused as soon as their header arrives, until
  the handshake is done;
* so HTTP/TLS/SSH bytes after a greeting are a ProtocolError at once;
* ``max_message_size`` bounds a whole multipart message, not only each frame.

Elsewhere: small-order CURVE keys and the vouch's S in test_curve.py, a repeated Socket-Type
in test_duplicate_properties.py, and generated input (random and mutated conversations) in
test_fuzz.py.
"""

from __future__ import annotations

import os
import tracemalloc
from collections.abc import Callable
from typing import Any

import pytest
from nacl.bindings import crypto_box_keypair
from zmtp_helpers import (
    PING_TTL25, command, fresh, frames, greeting, ready_body, ready_conn, refused,
)

from gzmq.zmtp import (
    Connection, ConnectionState, CurveClient, CurveServer, LocalProtocolError, Message, NullMechanism, Ping, PlainClient, PlainServer, ProtocolError,
    ProtocolErrorCode, codec, reader,
)

Code = ProtocolErrorCode
KiB, MiB = 1024, 1024 * 1024
CLIENT = crypto_box_keypair()
SERVER = crypto_box_keypair()
LIMIT = codec.MAX_HANDSHAKE_FRAME


def long_header(size: int, flags: int = 0x00) -> bytes:
    return bytes((flags | 0x02,)) + size.to_bytes(8, "big")


def held(conn: Connection) -> int:
    return conn._reader.buffered_bytes()


# ------------------------------------------------- 1. memory follows the bytes received


def test_handshake_size_limit_is_sane() -> None:
    # Big enough for any real handshake command: a CURVE INITIATE (257 bytes + metadata)
    # with a 255-byte routing id and kilobytes of application metadata.
    assert LIMIT == 64 * KiB


@pytest.mark.parametrize("flags", [0x04, 0x00, 0x05, 0x01])
def test_null_greeting_then_2_62_bytes_declared(flags: int) -> None:
    # The brief's example: 06 40 00 00 00 00 00 00 00 after a NULL greeting used to be
    # bytearray(2**62) -> MemoryError.
    conn = fresh("PULL")
    data = greeting() + long_header(1 << 62, flags)
    code = refused(conn, data)
    assert code in (Code.ZMTP_MALFORMED_COMMAND_UNSPECIFIED, Code.ZMTP_UNEXPECTED_COMMAND)


def _client_and_server_connections() -> list[Any]:
    cases = [
        ("null", lambda: Connection("PULL"), b"NULL"),
        ("null-zap", lambda: Connection("PULL", NullMechanism(zap=True)), b"NULL"),
        ("plain-client", lambda: Connection("PULL", PlainClient(b"u", b"p")), b"PLAIN"),
        ("plain-server", lambda: Connection("PULL", PlainServer()), b"PLAIN"),
        ("curve-client", lambda: Connection("PULL", CurveClient(*CLIENT, SERVER[0])), b"CURVE"),
        ("curve-server", lambda: Connection("PULL", CurveServer(*SERVER, zap=False)), b"CURVE"),
    ]
    return [pytest.param(make, mechanism, id=name) for name, make, mechanism in cases]


@pytest.mark.parametrize(("make", "mechanism"), _client_and_server_connections())
@pytest.mark.parametrize("size", [LIMIT + 1, 1 << 30, 1 << 40, (1 << 63) - 1])
def test_handshake_refuses_a_huge_header_at_once(make: Callable[[], Connection],
                                                 mechanism: bytes, size: int) -> None:
    """Before the handshake completes, only handshake-sized frames are accepted: the error
    comes with the 9-byte header, before any body byte, and nothing was allocated."""
    for flags in (0x04, 0x00):
        conn = make()
        conn.initiate()
        conn.receive_data(greeting(mechanism=mechanism))
        tracemalloc.start()
        try:
            with pytest.raises(ProtocolError):
                conn.receive_data(long_header(size, flags))
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert peak < 64 * KiB
        assert conn.state is ConnectionState.CLOSED


def test_handshake_command_of_exactly_the_limit_is_accepted() -> None:
    def ready_of(total: int) -> bytes:
        base = ready_body([(b"Socket-Type", b"PUSH"), (b"X-Pad", b"")])
        return command(ready_body([(b"Socket-Type", b"PUSH"),
                                   (b"X-Pad", b"x" * (total - len(base)))]))
    ok = ready_of(LIMIT)
    assert len(frames(ok)[0][1]) == LIMIT
    conn = fresh("PULL")
    events = conn.receive_data(greeting() + ok)
    assert conn.state is ConnectionState.READY
    assert len(events[0].properties["X-Pad"]) > LIMIT - 100
    assert refused(fresh("PULL"), greeting() + ready_of(LIMIT + 1)) == (
        Code.ZMTP_MALFORMED_COMMAND_UNSPECIFIED)


def test_our_own_handshake_must_fit_the_limit() -> None:
    # We never send what we would refuse: metadata too large for an INITIATE is a local error.
    with pytest.raises(ValueError):
        Connection("DEALER", metadata={"X-Big": b"x" * LIMIT})
    Connection("DEALER", metadata={"X-Big": b"x" * (LIMIT - 1024)})


@pytest.mark.parametrize("mechanism", ["plain", "curve"])
def test_max_size_routing_id_and_metadata_handshake_both_ways(mechanism: str) -> None:
    meta = {"X-Big": b"m" * (LIMIT - 1024)}
    if mechanism == "plain":
        a_mech, b_mech = PlainClient(b"u" * 255, b"p" * 255), PlainServer(zap=False)
    else:
        a_mech, b_mech = CurveClient(*CLIENT, SERVER[0]), CurveServer(*SERVER, zap=False)
    a = Connection("DEALER", a_mech, identity=b"i" * 255, metadata=meta)
    b = Connection("ROUTER", b_mech, identity=b"j" * 255, metadata=meta)
    wire_a, wire_b = a.initiate(), b.initiate()
    events_a, events_b = [], []
    while wire_a or wire_b:
        events_b += b.receive_data(wire_a)
        events_a += a.receive_data(wire_b)
        wire_a, wire_b = a.data_to_send(), b.data_to_send()
    assert a.state is b.state is ConnectionState.READY
    assert events_a[0].properties["X-Big"] == events_b[0].properties["X-Big"] == meta["X-Big"]


def test_post_handshake_2_62_declared_allocates_only_what_arrived() -> None:
    conn = ready_conn("PULL", b"PUSH")
    tracemalloc.start()
    try:
        assert conn.receive_data(long_header(1 << 62) + b"x" * 100) == []
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 256 * KiB
    assert held(conn) == 100  # the bytes themselves, no buffer sized for what may come
    assert conn.receive_buffer() is None


@pytest.mark.parametrize("declared", [256 * MiB, 1 << 30])
def test_declared_size_is_not_allocated_up_front(declared: int) -> None:
    conn = ready_conn("PULL", b"PUSH")
    tracemalloc.start()
    try:
        conn.receive_data(long_header(declared) + b"y" * 1000)
        for _ in range(3):
            conn.receive_data(b"z" * 10_000)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 512 * KiB
    assert held(conn) <= 4 * 31_000


def test_receive_window_grows_with_the_data() -> None:
    """The in-place window grows with the data (doubling, rounded up to a pool size)."""
    conn = ready_conn("PULL", b"PUSH")
    body = os.urandom(3 * MiB + 12345)
    assert conn.receive_data(long_header(len(body)) + body[:10]) == []
    received, events = 10, []
    while received < 64 * KiB:  # chunks as they come until 64 KiB are here
        assert conn.receive_buffer() is None and held(conn) == received
        step = min(20_000, 64 * KiB - received)
        assert conn.receive_data(body[received:received + step]) == []
        received += step
    while received < len(body):
        window = conn.receive_buffer()
        assert window is not None
        assert 0 < len(window) <= 3 * received
        assert held(conn) <= 4 * received
        step = min(len(window), len(body) - received, 100_000)
        window[:step] = body[received:received + step]
        received += step
        events = conn.received_into(step)
        assert (events == []) == (received < len(body))
    assert events == [Message([body])] and type(events[0].parts[0]) is bytes
    assert conn.receive_buffer() is None and held(conn) == 0
    assert conn.receive_data(b"\x00\x01x") == [Message([b"x"])]


@pytest.mark.parametrize("first", [64 * KiB, 70_000, 100_000, 250_000])
def test_receive_window_after_a_large_first_read(first: int) -> None:
    # the bytes in hand count as received: a window of about as many again, rounded up to
    # a pool size (the fuzz found the first bound, 2 * max(64 KiB, received), too tight)
    conn = ready_conn("PULL", b"PUSH")
    conn.receive_data(long_header(10 * MiB) + b"f" * first)
    window = conn.receive_buffer()
    assert window is not None and first <= len(window) <= 3 * first
    assert held(conn) <= 4 * first


@pytest.mark.parametrize("first", [0, 1, 9, 1000, 64 * KiB - 1])
def test_a_large_header_with_little_body_holds_only_that_body(first: int) -> None:
    """A header declaring 1 MiB plus a few bytes used to take a 64 KiB buffer at once (a
    connection then cost ~80 KiB for 10 bytes sent): now it holds the bytes that came, in
    a handshake command as after it, until 64 KiB of the body are really here."""
    conn = ready_conn("PULL", b"PUSH")
    tracemalloc.start()
    try:
        assert conn.receive_data(long_header(MiB) + b"f" * first) == []
        current = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert held(conn) == first and conn.receive_buffer() is None
    assert current < first + 4 * KiB
    conn.receive_data(b"g")  # one more byte: still no buffer sized for what may come
    assert held(conn) == first + 1
    if first + 1 < 64 * KiB:
        assert conn.receive_buffer() is None
    else:
        window = conn.receive_buffer()
        assert window is not None and len(window) <= 3 * (first + 1)
    # the same during the handshake: a command of exactly the handshake limit
    conn = fresh("PULL")
    conn.receive_data(greeting() + long_header(LIMIT, 0x04) + b"\x05READY"[:max(0, min(first, 6))])
    assert conn.state is ConnectionState.HANDSHAKE
    assert held(conn) == min(first, 6) and conn.receive_buffer() is None


def test_a_large_body_is_whole_whatever_the_chunking_around_64_kib() -> None:
    body = os.urandom(200 * KiB)
    wire = long_header(len(body)) + body + b"\x00\x01z"
    for cuts in ([9 + 64 * KiB - 1, 9 + 64 * KiB], [9 + 1, 9 + 64 * KiB + 1, 9 + 150 * KiB],
                 [9 + 64 * KiB], [5, 9, 9 + 100, 9 + 70_000]):
        conn = ready_conn("PULL", b"PUSH")
        events, start = [], 0
        for cut in [*cuts, len(wire)]:
            if cut > start:
                events += conn.receive_data(wire[start:cut])
                start = cut
            window = conn.receive_buffer()
            if window is not None:  # mix in the direct path
                assert len(window) <= 3 * (start - 9)
                step = min(len(window), 1000)
                window[:step] = wire[start:start + step]
                events += conn.received_into(step)
                start += step
        events += conn.receive_data(wire[start:])
        assert events == [Message([body]), Message([b"z"])], cuts
        assert held(conn) == 0


def test_receive_window_misuse_is_a_local_error() -> None:
    conn = ready_conn("PULL", b"PUSH")
    with pytest.raises(LocalProtocolError):
        conn.received_into(1)  # no body pending
    conn.receive_data(long_header(100 * KiB) + b"m" * 64 * KiB)
    window = conn.receive_buffer()
    assert window is not None
    with pytest.raises(LocalProtocolError):
        conn.received_into(len(window) + 1)
    with pytest.raises(LocalProtocolError):
        conn.received_into(0)
    conn2 = ready_conn("PULL", b"PUSH", max_message_size=100)
    with pytest.raises(ProtocolError):
        conn2.receive_data(b"\x00\x65" + b"x" * 101)
    with pytest.raises(LocalProtocolError):
        conn2.received_into(1)
    assert conn2.receive_buffer() is None


def test_max_message_size_is_enforced_at_the_header_on_the_direct_path() -> None:
    conn = ready_conn("PULL", b"PUSH", max_message_size=MiB)
    tracemalloc.start()
    try:
        with pytest.raises(ProtocolError):
            conn.receive_data(long_header(MiB + 1))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 64 * KiB
    conn = ready_conn("PULL", b"PUSH", max_message_size=MiB)
    body = b"q" * MiB
    assert conn.receive_data(long_header(MiB) + body) == [Message([body])]


def test_reused_buffers_are_bounded_per_process() -> None:
    """Buffers kept for the next large body are shared by all connections and capped in
    total: a peer that sends one big message per connection cannot pin memory per
    connection (the old per-connection spare kept up to 16 MiB each)."""
    body = b"\x07" * (8 * MiB)
    conns = [ready_conn("PULL", b"PUSH") for _ in range(4)]
    tracemalloc.start()
    try:
        for conn in conns:
            assert conn.receive_data(long_header(len(body)) + body) == [Message([body])]
        current = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert current <= reader.POOL_LIMIT + MiB
    assert reader.pooled_bytes() <= reader.POOL_LIMIT
    assert all(held(conn) == 0 for conn in conns)


def test_reused_buffers_do_not_alias_delivered_messages() -> None:
    conn = ready_conn("PULL", b"PUSH")
    first, second = b"\x01" * 300_000, b"\x02" * 300_000
    header = long_header(300_000)
    events = conn.receive_data(header + first[:10]) + conn.receive_data(first[10:])
    events += conn.receive_data(header + second[:10]) + conn.receive_data(second[10:])
    assert [e.parts for e in events] == [[first], [second]]


# ------------------------------------------------------- 2. only ProtocolError escapes


@pytest.mark.parametrize("garbage", [
    b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
    bytes.fromhex("16 03 01 02 00 01 00 01 fc 03 03") + bytes(range(32)),  # TLS ClientHello
    b"SSH-2.0-OpenSSH_9.0\r\n",
    b"\x00" * 64,
    b"\xff" * 64,
], ids=["http", "tls", "ssh", "zeros", "ones"])
@pytest.mark.parametrize(("make", "mechanism"), _client_and_server_connections())
def test_greeting_then_other_protocol_is_refused_promptly(
        garbage: bytes, make: Callable[[], Connection], mechanism: bytes) -> None:
    # whole
    conn = make()
    conn.initiate()
    conn.receive_data(greeting(mechanism=mechanism))
    with pytest.raises(ProtocolError):
        conn.receive_data(garbage)
    # byte by byte: within the first frame header (9 bytes) for the text protocols
    conn = make()
    conn.initiate()
    conn.receive_data(greeting(mechanism=mechanism))
    fed = 0
    with pytest.raises(ProtocolError):
        for i in range(len(garbage)):
            fed += 1
            conn.receive_data(garbage[i:i + 1])
    if garbage[0] & 0x02:  # a LONG header: its size alone gives it away
        assert fed <= 9


# ------------------------------------------------- 5. max_message_size on the whole message


def test_max_message_size_bounds_the_sum_of_frames() -> None:
    conn = ready_conn("PULL", b"PUSH", max_message_size=40)
    ok = b"\x01\x14" + b"a" * 20 + b"\x00\x14" + b"b" * 20
    assert conn.receive_data(ok) == [Message([b"a" * 20, b"b" * 20])]
    # the budget is per message: the next one starts afresh
    assert conn.receive_data(b"\x00\x28" + b"c" * 40) == [Message([b"c" * 40])]
    bad = b"\x01\x14" + b"a" * 20 + b"\x01\x14" + b"b" * 20 + b"\x00\x01c"
    assert refused(conn, bad) == Code.ZMTP_UNSPECIFIED


def test_endless_small_more_frames_are_refused_once_over_the_limit() -> None:
    conn = ready_conn("PULL", b"PUSH", max_message_size=1000)
    frame = b"\x01\x0a" + b"m" * 10
    for _ in range(100):  # exactly 1000 bytes of parts
        assert conn.receive_data(frame) == []
    assert held(conn) == 1000
    with pytest.raises(ProtocolError):
        conn.receive_data(b"\x00\x01z")


@pytest.mark.parametrize("chunk", [1, 3, 7, 1000])
def test_whole_message_limit_in_any_chunking(chunk: int) -> None:
    wire = (b"\x01\x14" + b"a" * 20) * 3 + b"\x02" + (41).to_bytes(8, "big") + b"b" * 41
    limit_ok = ready_conn("PULL", b"PUSH", max_message_size=101)
    events = []
    for i in range(0, len(wire), chunk):
        events += limit_ok.receive_data(wire[i:i + chunk])
    assert events == [Message([b"a" * 20] * 3 + [b"b" * 41])]
    too_small = ready_conn("PULL", b"PUSH", max_message_size=100)
    with pytest.raises(ProtocolError):
        for i in range(0, len(wire), chunk):
            too_small.receive_data(wire[i:i + chunk])


def test_commands_between_frames_do_not_count_against_the_message() -> None:
    conn = ready_conn("PULL", b"PUSH", max_message_size=40)
    data = b"\x01\x28" + b"a" * 40 + PING_TTL25 + b"\x00\x00"
    assert conn.receive_data(data) == [Ping(2500, b""), Message([b"a" * 40, b""])]


def test_whole_message_limit_with_large_frames_on_the_direct_path() -> None:
    conn = ready_conn("PULL", b"PUSH", max_message_size=200 * KiB)
    part = b"p" * (150 * KiB)
    with pytest.raises(ProtocolError):
        conn.receive_data(long_header(len(part), 0x01) + part + long_header(len(part)))


def test_whole_message_limit_through_curve() -> None:
    a = Connection("PUSH", CurveClient(*CLIENT, SERVER[0]))
    # (as in libzmq, the limit applies to the handshake commands too: INITIATE is 300 bytes)
    b = Connection("PULL", CurveServer(*SERVER, zap=False), max_message_size=400)
    wire_a, wire_b = a.initiate(), b.initiate()
    while wire_a or wire_b:
        b.receive_data(wire_a)
        a.receive_data(wire_b)
        wire_a, wire_b = a.data_to_send(), b.data_to_send()
    assert b.receive_data(a.send_message([b"x" * 150, b"y" * 250])) == [
        Message([b"x" * 150, b"y" * 250])]
    # a PING between two frames (a MESSAGE frame outside, like the parts) does not count
    wire = (a.mechanism.encode_frame(b"x" * 360, 0x01) + a.ping(25_000)
            + a.mechanism.encode_frame(b"y" * 40, 0))
    assert b.receive_data(wire) == [Ping(25_000, b""), Message([b"x" * 360, b"y" * 40])]
    with pytest.raises(ProtocolError):
        b.receive_data(a.send_message([b"x" * 150, b"y" * 150, b"z" * 150]))


def test_endless_empty_more_frames_are_bounded_too() -> None:
    # an empty MORE frame counts one byte, else a run of them would grow without bound
    conn = ready_conn("PULL", b"PUSH", max_message_size=30)
    assert conn.receive_data(b"\x01\x00" * 30 + b"\x00\x00") == [Message([b""] * 31)]
    assert refused(conn, b"\x01\x00" * 31 + b"\x00\x00") == Code.ZMTP_UNSPECIFIED
    conn = ready_conn("PULL", b"PUSH", max_message_size=30)
    with pytest.raises(ProtocolError):
        for _ in range(1000):
            conn.receive_data(b"\x01\x00")


def test_without_a_limit_multipart_frames_are_not_counted() -> None:
    # as libzmq: no max_message_size, no bound on a message in progress (its bytes were sent)
    conn = ready_conn("PULL", b"PUSH")
    part = b"\x02" + (70_000).to_bytes(8, "big") + b"p" * 70_000
    wire = (b"\x03" + part[1:]) * 20 + part
    assert conn.receive_data(wire) == [Message([b"p" * 70_000] * 21)]


def test_short_single_frames_around_multipart_and_commands_keep_their_order() -> None:
    # the reader takes short single-frame messages before its general tests: a short final
    # frame that ends a multipart message, a command between them and a split frame must
    # still come out as they went in, fed whole and byte by byte
    wire = (b"\x00\x01a" + b"\x01\x01b" + b"\x00\x01c" + command(b"\x04PING\x00\x00")
            + b"\x00\x00" + b"\x02" + (3).to_bytes(8, "big") + b"def" + b"\x00\x02gh")
    expected = [[b"a"], [b"b", b"c"], [b""], [b"def"], [b"gh"]]
    whole = ready_conn("PULL", b"PUSH", bare_messages=True)
    assert [e for e in whole.receive_data(wire) if type(e) is list] == expected
    split = ready_conn("PULL", b"PUSH", bare_messages=True)
    got = [e for i in range(len(wire)) for e in split.receive_data(wire[i:i + 1])]
    assert [e for e in got if type(e) is list] == expected


def test_a_short_frame_over_a_small_message_limit_is_refused() -> None:
    conn = ready_conn("PULL", b"PUSH", max_message_size=100)
    assert conn.receive_data(b"\x00\x64" + b"x" * 100) == [Message([b"x" * 100])]
    with pytest.raises(ProtocolError):
        conn.receive_data(b"\x00\x65" + b"x" * 101)
