"""ConnectionWriter over a fake stream: one non-blocking send from the hub, a greenlet only
when the stream pushes back, large bodies unjoined, control bytes first, how it finishes."""

from __future__ import annotations

import socket as stdlib_socket
import time
from typing import Any

import gevent
import gevent.event
import pytest
from gevent import socket as gsocket

from engine_helpers import FakeStream, messages_in, ready_pair
from gzmq.engine.writer import (
    BATCH_MESSAGES, ENCRYPTED_BATCH_MESSAGES, LARGE_CHUNK, MAX_CONTROL, ConnectionWriter,
)
from gzmq.pipe import Signal, SubscriptionCommand, pipe_pair
from helpers import wait_until

#: literal ZMTP: a PONG command with an empty context, and two short messages
PONG = b"\x04\x05\x04PONG"
HELLO = b"\x00\x05hello"
WORLD = b"\x00\x05world"


class Rig:
    """A writer between a pipe (``socket_end`` is what the socket sends into) and ``stream``."""

    def __init__(self, stream: FakeStream, hwm: int = 10000, pair=("DEALER", "ROUTER"),
                 curve: bool = False) -> None:
        self.stream = stream
        self.conn, self.peer = ready_pair(*pair, curve=curve)
        self.socket_end, engine_end = pipe_pair(hwm, hwm)
        self.finished: list[bool] = []
        self.spawned: list[gevent.Greenlet] = []
        self.writer = ConnectionWriter(stream, self.conn, engine_end.inbound,
                                       self.finished.append, self._spawn)
        engine_end.attach_notifiers(on_readable=self.writer, on_writable=Signal())

    def _spawn(self, function: Any) -> gevent.Greenlet:
        greenlet = gevent.spawn(function)
        self.spawned.append(greenlet)
        return greenlet

    def send(self, *parts: bytes) -> None:
        self.socket_end.send_nowait(list(parts))

    def settle(self, timeout: float = 2.0) -> None:
        """Let the hub flush (a callback may schedule the next), and any writer greenlet
        finish."""
        gevent.sleep(0.005)
        assert wait_until(lambda: all(g.dead for g in self.spawned), timeout)

    def close(self) -> None:
        self.writer.stop()
        gevent.joinall(self.spawned, timeout=2)


@pytest.fixture
def rig_factory():
    rigs: list[Rig] = []

    def make(*args: Any, **kwargs: Any) -> Rig:
        rigs.append(Rig(*args, **kwargs))
        return rigs[-1]

    yield make
    for rig in rigs:
        rig.close()


def test_an_idle_connection_has_no_writer_greenlet(rig_factory) -> None:
    rig = rig_factory(FakeStream())
    rig.writer.notify()  # a wake-up with nothing queued
    gevent.sleep(0.02)
    assert rig.spawned == [] and rig.stream.raw_sends == [] and rig.finished == []


def test_a_burst_goes_out_in_one_send_from_the_hub(rig_factory) -> None:
    rig = rig_factory(FakeStream())
    rig.send(b"hello")
    rig.send(b"world")
    assert rig.stream.wire == b""  # nothing before the sender yields
    rig.settle()
    assert rig.stream.raw_sends == [HELLO + WORLD]  # one syscall for the burst
    assert rig.spawned == [] and rig.stream.sendall_chunks == []


def test_sends_between_yields_go_out_together_when_the_hub_polls(rig_factory) -> None:
    # gevent.sleep(0) runs the hub's callbacks, not its poll: the writer flushes once per turn
    # of the loop, so a sender that yields between messages still makes one batch (a
    # publisher's every subscriber: one send per turn, not one per yield)
    rig = rig_factory(FakeStream())
    for word in (b"hello", b"world", b"again"):
        rig.send(word)
        gevent.sleep(0)
        assert rig.stream.raw_sends == []
    rig.settle()
    assert rig.stream.raw_sends == [HELLO + WORLD + b"\x00\x05again"]


def test_a_wake_up_from_a_flush_does_not_wait_for_the_next_event(rig_factory) -> None:
    # the flush runs after gevent has run its callbacks for this turn: a greenlet it wakes (a
    # sender waiting for room, here) must run without the loop first blocking in its poll
    room = Signal()
    rig = rig_factory(FakeStream())
    rig.socket_end.attach_notifiers(on_readable=Signal(), on_writable=room)  # (the senders')
    waiter = gevent.spawn(room.wait)
    gevent.sleep(0)  # it waits now
    rig.send(b"hello")
    started = time.monotonic()
    waiter.join(timeout=2)  # nothing else would wake the loop for 2 s
    assert waiter.dead and time.monotonic() - started < 0.5
    assert rig.stream.raw_sends == [HELLO]


def test_more_than_a_batch_is_flushed_from_the_hub_batch_by_batch(rig_factory) -> None:
    rig = rig_factory(FakeStream())
    for i in range(BATCH_MESSAGES + 10):
        rig.send(b"%d" % i)
    rig.settle()
    assert len(rig.stream.raw_sends) == 2 and rig.spawned == []
    assert messages_in(bytes(rig.stream.wire)) == [[b"%d" % i] for i in range(BATCH_MESSAGES + 10)]


def test_an_encrypting_connection_boxes_and_writes_smaller_batches(rig_factory) -> None:
    # CURVE: boxing is the expensive part, so fewer messages are boxed before each write
    rig = rig_factory(FakeStream(), curve=True)
    count = 3 * ENCRYPTED_BATCH_MESSAGES + 5
    for i in range(count):
        rig.send(b"%d" % i)
    rig.settle()
    assert len(rig.stream.raw_sends) == 4 and rig.spawned == []
    events = rig.peer.receive_data(bytes(rig.stream.wire))
    assert [event.parts for event in events] == [[b"%d" % i] for i in range(count)]
    assert rig_factory(FakeStream()).writer.batch_messages == BATCH_MESSAGES  # NULL: as before


def test_a_partial_send_leaves_the_rest_to_one_writer_greenlet(rig_factory) -> None:
    rig = rig_factory(FakeStream(accept=4))
    body = bytes(range(200))
    rig.send(b"a", body)
    rig.settle()
    expected = b"\x01\x01a" + b"\x00\xc8" + body
    assert rig.stream.raw_sends == [expected[:4]]  # the hub's one try took 4 bytes
    assert len(rig.spawned) == 1  # the rest went to a greenlet...
    assert rig.stream.sendall_greenlets == [rig.spawned[0]]
    assert bytes(rig.stream.sendall_chunks[0]) == expected[4:]  # ...without resending a byte
    assert rig.stream.wire == expected


def test_eagain_from_the_hub_starts_the_greenlet(rig_factory) -> None:
    rig = rig_factory(FakeStream(accept=0))
    rig.send(b"hello")
    rig.settle()
    assert rig.stream.raw_sends == [] and len(rig.spawned) == 1
    assert rig.stream.wire == HELLO


def test_messages_sent_while_the_greenlet_writes_keep_their_order(rig_factory) -> None:
    stream = FakeStream(accept=3)
    stream.unblock = gevent.event.Event()  # the kernel buffer stays full for now
    rig = rig_factory(stream)
    rig.send(b"hello")
    gevent.sleep(0.01)
    assert len(rig.spawned) == 1 and not rig.spawned[0].dead  # blocked in sendall
    rig.send(b"world")
    rig.send(b"again")
    gevent.sleep(0.01)
    assert stream.raw_sends == [HELLO[:3]]  # the hub did not write past the backlog
    stream.unblock.set()
    rig.settle()
    assert len(rig.spawned) == 1  # the running greenlet drained the pipe itself
    assert stream.wire == HELLO + WORLD + b"\x00\x05again"
    # once it is idle, the next message goes out from the hub again
    stream.accept = None
    rig.send(b"hello")
    rig.settle()
    assert stream.raw_sends[-1] == HELLO and len(rig.spawned) == 1


def test_a_large_body_is_written_by_the_greenlet_without_being_joined(rig_factory) -> None:
    rig = rig_factory(FakeStream())
    body = b"x" * LARGE_CHUNK
    rig.send(b"small")
    rig.send(b"head", body)
    rig.send(b"tail")
    rig.settle()
    assert rig.stream.raw_sends == []  # the hub left the batch to the greenlet
    chunks = rig.stream.sendall_chunks
    assert [len(chunk) for chunk in chunks] == [7 + 6 + 9, LARGE_CHUNK, 6]
    assert chunks[1] is body  # the body object itself: not copied into a joined buffer
    assert rig.stream.wire == (b"\x00\x05small" + b"\x01\x04head"
                               + b"\x02" + LARGE_CHUNK.to_bytes(8, "big") + body
                               + b"\x00\x04tail")


def test_just_below_the_large_chunk_size_goes_from_the_hub(rig_factory) -> None:
    rig = rig_factory(FakeStream())
    rig.send(b"y" * (LARGE_CHUNK - 1))
    rig.settle()
    assert len(rig.stream.raw_sends) == 1 and rig.spawned == []


def test_control_bytes_go_before_the_batch_queued_with_them(rig_factory) -> None:
    rig = rig_factory(FakeStream())
    rig.send(b"hello")
    rig.writer.send_control(PONG)  # queued after the message, written before it
    rig.settle()
    assert rig.stream.raw_sends == [PONG + HELLO]


def test_control_bytes_wait_for_the_backlog_but_not_for_the_next_batch(rig_factory) -> None:
    stream = FakeStream(accept=3)
    stream.unblock = gevent.event.Event()
    rig = rig_factory(stream)
    rig.send(b"hello")
    gevent.sleep(0.01)  # HELLO[3:] is the greenlet's backlog now
    rig.send(b"world")
    rig.writer.send_control(PONG)
    stream.unblock.set()
    rig.settle()
    assert stream.wire == HELLO + PONG + WORLD  # never inside a frame, ahead of the batch


def test_control_on_an_idle_connection_is_written_alone(rig_factory) -> None:
    rig = rig_factory(FakeStream())
    rig.writer.send_control(PONG)
    rig.settle()
    assert rig.stream.raw_sends == [PONG] and rig.spawned == []


def test_pending_control_bytes_are_bounded(rig_factory) -> None:
    rig = rig_factory(FakeStream())
    for _ in range(MAX_CONTROL * 10):  # a PING flood answered before the hub runs
        rig.writer.send_control(PONG)
    assert len(rig.writer.control) == MAX_CONTROL
    rig.settle()
    assert rig.stream.wire == PONG * MAX_CONTROL


def test_subscriptions_are_written_as_commands_between_messages(rig_factory) -> None:
    rig = rig_factory(FakeStream(), pair=("SUB", "PUB"))
    rig.socket_end.send_nowait([b"before"])
    rig.socket_end.force_send(SubscriptionCommand(True, b"ab"))
    rig.socket_end.force_send(SubscriptionCommand(False, b"ab"))
    rig.socket_end.send_nowait([b"after"])
    rig.settle()
    assert rig.stream.raw_sends == [b"\x00\x06before" + b"\x04\x0c\x09SUBSCRIBEab"
                                    + b"\x04\x09\x06CANCELab" + b"\x00\x05after"]


def test_closing_finishes_gracefully_once_everything_is_written(rig_factory) -> None:
    rig = rig_factory(FakeStream())
    rig.send(b"hello")
    rig.socket_end.close_writing()
    rig.settle()
    assert rig.finished == [True] and rig.stream.wire == HELLO


def test_closing_during_a_backlog_finishes_after_the_backlog(rig_factory) -> None:
    stream = FakeStream(accept=2)
    stream.unblock = gevent.event.Event()
    rig = rig_factory(stream)
    rig.send(b"hello")
    rig.send(b"world")
    gevent.sleep(0.01)
    rig.socket_end.close_writing()
    gevent.sleep(0.01)
    assert rig.finished == []  # not while bytes are still owed
    stream.unblock.set()
    rig.settle()
    assert rig.finished == [True] and stream.wire == HELLO + WORLD


def test_closing_an_empty_idle_pipe_finishes_at_once(rig_factory) -> None:
    rig = rig_factory(FakeStream())
    rig.socket_end.close_writing()
    rig.settle()
    assert rig.finished == [True] and rig.spawned == []


@pytest.mark.parametrize("accept", [None, 2], ids=["from-the-hub", "from-the-greenlet"])
def test_a_failed_write_finishes_ungracefully_once(rig_factory, accept) -> None:
    stream = FakeStream(accept=accept)
    rig = rig_factory(stream)
    rig.send(b"hello")
    rig.settle()
    stream.error = BrokenPipeError()  # the peer went away
    rig.send(b"world")
    rig.send(b"again")
    rig.settle()
    assert rig.finished == [False]
    rig.send(b"more")
    rig.settle()
    assert rig.finished == [False]  # told once


def test_stop_ends_the_greenlet_and_the_hub_path(rig_factory) -> None:
    stream = FakeStream(accept=1)
    stream.unblock = gevent.event.Event()
    rig = rig_factory(stream)
    rig.send(b"hello")
    gevent.sleep(0.01)
    rig.writer.stop()
    assert wait_until(lambda: rig.spawned[0].dead, 1)
    stream.accept = None
    rig.send(b"world")
    gevent.sleep(0.01)
    assert stream.wire == HELLO[:1] and rig.finished == []


# --- the real kernel: a greenlet only while the socket buffer is full -----------------------


@pytest.fixture
def tiny_socketpair():
    ours, theirs = gsocket.socketpair()
    ours.setsockopt(stdlib_socket.SOL_SOCKET, stdlib_socket.SO_SNDBUF, 4096)
    theirs.setsockopt(stdlib_socket.SOL_SOCKET, stdlib_socket.SO_RCVBUF, 4096)
    yield ours, theirs
    ours.close()
    theirs.close()


def test_a_kernel_that_takes_everything_needs_no_greenlet(rig_factory, tiny_socketpair) -> None:
    ours, theirs = tiny_socketpair
    rig = rig_factory(ours)
    rig.send(b"hello")
    rig.settle()
    assert rig.spawned == [] and theirs.recv(100) == HELLO


def test_a_full_kernel_buffer_hands_over_to_a_greenlet_until_drained(rig_factory,
                                                                     tiny_socketpair) -> None:
    ours, theirs = tiny_socketpair
    rig = rig_factory(ours)
    messages = [[b"%06d" % i + b"." * 200] for i in range(400)]  # ~200 KB, far past the buffers
    for message in messages:
        rig.socket_end.send_nowait(message)
    gevent.sleep(0.05)
    assert len(rig.spawned) == 1 and not rig.spawned[0].dead  # waiting for the kernel
    expected = b"".join(b"\x00" + bytes([len(m[0])]) + m[0] for m in messages)
    received = bytearray()
    with gevent.Timeout(5):
        while len(received) < len(expected):
            received += theirs.recv(65536)
    assert received == expected
    assert wait_until(lambda: rig.spawned[0].dead, 2)  # idle again: no greenlet left
    rig.send(b"hello")
    rig.settle()
    assert len(rig.spawned) == 1 and theirs.recv(100) == HELLO


# --- large bodies over a real socket: gathered by sendmsg from the hub ----------------------


def _read_exactly(sock: Any, size: int) -> bytes:
    received = bytearray()
    with gevent.Timeout(5):
        while len(received) < size:
            received += sock.recv(1 << 20)
    return bytes(received)


def test_a_large_body_that_fits_the_kernel_goes_in_one_sendmsg_without_a_greenlet(
        rig_factory) -> None:
    ours, theirs = gsocket.socketpair()
    try:
        ours.setsockopt(stdlib_socket.SOL_SOCKET, stdlib_socket.SO_SNDBUF, 1 << 20)
        rig = rig_factory(ours)
        body = bytes(range(256)) * (LARGE_CHUNK // 256)
        rig.send(b"head", body)
        rig.send(b"tail")
        rig.settle()
        assert rig.spawned == []  # headers and body gathered by the kernel from the hub
        expected = (b"\x01\x04head" + b"\x02" + LARGE_CHUNK.to_bytes(8, "big") + body
                    + b"\x00\x04tail")
        assert _read_exactly(theirs, len(expected)) == expected
        assert rig.writer.bytes_out == len(expected)
    finally:
        ours.close()
        theirs.close()


def test_what_sendmsg_leaves_of_a_large_batch_is_written_by_the_greenlet_in_order(
        rig_factory, tiny_socketpair) -> None:
    ours, theirs = tiny_socketpair  # a few KiB of buffer: sendmsg takes a part of a body
    rig = rig_factory(ours)
    bodies = [bytes([i]) * (LARGE_CHUNK + 1000 * i) for i in range(3)]
    for i, body in enumerate(bodies):
        rig.send(b"%d" % i, body)
    expected = b"".join(b"\x01\x01%d" % i + b"\x02" + len(body).to_bytes(8, "big") + body
                        for i, body in enumerate(bodies))
    assert _read_exactly(theirs, len(expected)) == expected
    assert wait_until(lambda: rig.spawned and all(g.dead for g in rig.spawned), 2)
    assert rig.writer.bytes_out == len(expected)
