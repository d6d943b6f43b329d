"""What a hostile peer's connection may cost: memory follows the bytes it really sent.

- RCVHWM bounds what a connection holds: peers flooding empty messages (2 bytes each on the
  wire) into a PULL whose application is slow used to cost 5-7 MiB a connection (a whole
  256 KiB read became 131,072 Message objects, kept beyond RCVHWM as a backlog), and a fast
  application's hub stalled up to 750 ms (the GC walking those objects). Now a read is parsed
  into no more messages than the pipe has room for; the rest stays raw bytes.
- A header declaring a large frame, followed by a byte or two, holds those bytes: not a
  64 KiB receive buffer sized for what the header announces (before and after the handshake).

Each attack comes from raw gevent sockets against a gzmq socket of this process; the cost is
read from the connections themselves (introspection) and from the process's RSS, while an
honest peer on another socket keeps round-tripping.
"""

from __future__ import annotations

import gc
from typing import Any, Iterator

import gevent
import pytest
from gevent import socket as gsocket
from helpers import NULL_GREETING, EchoServer, long_header, port_of, raw_peer, rss_bytes, wait_until

import gzmq
from gzmq import zmtp

KIB, MIB = 1 << 10, 1 << 20
def engines(socket: Any) -> list[Any]:
    return [engine for engine in socket._lifecycle.peers if engine.conn is not None]


def buffered(engine: Any) -> int:
    """Bytes the connection holds for its peer's unfinished input."""
    return int(engine.conn._reader.buffered_bytes())


@pytest.fixture
def echo(ctx: Any) -> Iterator[EchoServer]:
    server = EchoServer(ctx)
    yield server
    server.stop()


# ------------------------------------------------------- a partial large frame


@pytest.mark.parametrize("phase", ["after the handshake", "in the handshake"])
def test_a_large_header_and_one_body_byte_cost_what_was_sent(ctx: Any, echo: EchoServer,
                                                             phase: str) -> None:
    """10 bytes (a header declaring 1 MiB, one body byte) after the handshake, or a 64 KiB
    command header and one byte during it: each connection held a 64 KiB buffer (~80 KiB a
    connection in all, 800x the bytes sent); now the byte itself."""
    count = 300
    router = ctx.socket(gzmq.ROUTER)
    router.linger = 0
    router.bind("tcp://127.0.0.1:*")
    gc.collect()
    before = rss_bytes()
    attackers = []
    for _ in range(count):
        if phase == "after the handshake":
            stream, _ = raw_peer(router, "DEALER")
            stream.sendall(long_header(MIB) + b"x")
        else:
            stream = gsocket.create_connection(("127.0.0.1", port_of(router)))
            stream.sendall(NULL_GREETING + long_header(64 * KIB, 0x04) + b"\x05")
        attackers.append(stream)
    assert wait_until(lambda: len(engines(router)) == count
                      and all(buffered(engine) == 1 for engine in engines(router)), 10)
    gevent.sleep(0.2)
    grown = rss_bytes() - before
    worst = echo.worst_round_trip(seconds=0.3)
    for stream in attackers:
        stream.close()
    # a connection costs ~15 KiB of its own (greenlet, socket, parser); ~80 KiB before
    assert grown < count * 40 * KIB, f"{grown / count / KIB:.1f} KiB a connection"
    assert worst < 0.1, f"honest round trip took {worst * 1000:.1f} ms"


# ------------------------------------------------------- tiny messages beyond RCVHWM

FLOOD = b"\x00\x00" * (2 * MIB)  # 4 MiB of empty messages


def flood(stream: gsocket.socket) -> None:
    try:
        while True:
            stream.sendall(FLOOD)
    except OSError:
        pass


PUSH_READY = b"\x04\x1a\x05READY\x0bSocket-Type\x00\x00\x00\x04PUSH"


def flooders(socket: Any, count: int, bundled: bool = False,
             ) -> tuple[list[gsocket.socket], list[gevent.Greenlet]]:
    """*count* PUSH peers flooding *socket*; *bundled*: each sends its greeting, READY and
    the first 64 KiB of the flood at once, so that they arrive with the handshake."""
    if not bundled:
        streams = [raw_peer(socket, "PUSH")[0] for _ in range(count)]
    else:
        streams = [gsocket.create_connection(("127.0.0.1", port_of(socket)))
                   for _ in range(count)]
        for stream in streams:
            stream.sendall(NULL_GREETING + PUSH_READY + FLOOD[:64 * KIB])
    return streams, [gevent.spawn(flood, stream) for stream in streams]


def stop(streams: list[gsocket.socket], greenlets: list[gevent.Greenlet]) -> None:
    gevent.killall(greenlets)
    for stream in streams:
        stream.close()


@pytest.mark.parametrize("bundled", [False, True], ids=["after", "with the handshake"])
def test_tiny_messages_beyond_rcvhwm_stay_raw_bytes(ctx: Any, echo: EchoServer, bundled: bool) -> None:
    """20 peers flood a PULL that does not read: each connection holds RCVHWM messages in
    the pipe and at most one read (256 KiB) of raw bytes, not 131,072 messages a read; also
    when the flood comes with the handshake, in the handshake's own read."""
    count = 20
    pull = ctx.socket(gzmq.PULL)
    pull.linger = 0
    pull.bind("tcp://127.0.0.1:*")
    gc.collect()
    before, objects = rss_bytes(), len(gc.get_objects())
    streams, greenlets = flooders(pull, count, bundled)
    try:
        assert wait_until(lambda: len(engines(pull)) == count, 5)
        worst = echo.worst_round_trip(seconds=1.5)
        gc.collect()
        grown, objects = rss_bytes() - before, len(gc.get_objects()) - objects
        held = [(buffered(engine), engine.conn.held_input) for engine in engines(pull)]
    finally:
        stop(streams, greenlets)
    assert len(held) == count
    # RCVHWM (1000) messages a connection in the pipe, a few objects each; ~260,000 before
    assert objects < count * 3000, f"{objects / count:.0f} objects a connection"
    assert all(raw <= 256 * KIB + 64 for raw, _ in held), held
    assert sum(1 for _, unparsed in held if unparsed) >= count // 2, held  # really at HWM
    # 1000 queued messages (~120 KiB) and 256 KiB of raw bytes at most, plus the connection
    assert grown < count * MIB, f"{grown / count / MIB:.1f} MiB a connection"
    assert worst < 0.1, f"honest round trip took {worst * 1000:.1f} ms"


def test_a_fast_application_and_an_honest_peer_are_not_stalled(ctx: Any, echo: EchoServer) -> None:
    """10 peers flood a PULL read as fast as it goes: messages keep coming in order per
    peer, and the honest peer on another socket keeps round-tripping under 100 ms."""
    pull = ctx.socket(gzmq.PULL)
    pull.linger = 0
    pull.bind("tcp://127.0.0.1:*")
    received = 0

    def consume() -> None:
        nonlocal received
        while True:
            assert pull.recv() == b""
            received += 1

    reader = gevent.spawn(consume)
    streams, greenlets = flooders(pull, 10)
    try:
        worst = echo.worst_round_trip(seconds=2.0)
    finally:
        stop(streams, greenlets)
        reader.kill()
    assert received > 100_000
    assert worst < 0.1, f"honest round trip took {worst * 1000:.1f} ms"


def test_subscription_flood_into_an_idle_pub_is_bounded_by_rcvhwm(ctx):
    pub = ctx.socket(gzmq.PUB)
    pub.rcvhwm = 100
    pub.bind("tcp://127.0.0.1:*")
    stream, conn = raw_peer(pub, "SUB")
    stream.setblocking(False)
    flood = b"".join(conn.subscribe(b"t%d" % i) for i in range(1000))
    for _ in range(100):  # 100k subscriptions, more than the kernel buffers hold
        try:
            stream.sendall(flood)
        except (BlockingIOError, OSError):
            break
        gevent.sleep(0)
    gevent.sleep(0.2)
    (engine,) = pub._lifecycle.peers
    assert len(engine.session.pipe.inbound) <= 100
    pub.send(b"t5 hello")  # the publisher still works, and drains what was queued
    assert pub._routing.subscription_count > 0
    stream.close()
