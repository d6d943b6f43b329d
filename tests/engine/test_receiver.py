"""ConnectionReader over a real socketpair: parsing whole and byte-by-byte input from the hub,
no more messages than the pipe has room for at RCVHWM (the rest held raw, resumed as room
appears), and the exception each ending raises in the engine's greenlet."""

from __future__ import annotations

import socket as stdlib_socket
from typing import Any, Optional

import gevent
import pytest
from gevent import socket as gsocket

from engine_helpers import CappedStream, FakeEngine, FakeRouting, PublisherRouting, ready_pair
from gzmq import zmtp
from gzmq.engine.handshake import PeerClosed
from gzmq.engine.receiver import ConnectionReader
from gzmq.pipe import Signal, SubscriptionCommand, pipe_pair
from gzmq.zmtp import encode_message
from helpers import wait_until


class Rig:
    """A reader on ``ours``; the test writes ZMTP bytes into ``theirs``; the socket's end of
    the pipe is ``socket_end``; ``runner`` is the engine's greenlet (``reader.run``)."""

    def __init__(self, hwm: int = 1000, cap: Optional[int] = None, routing: Any = None,
                 first_events: Optional[list[Any]] = None) -> None:
        self.ours, theirs = stdlib_socket.socketpair()
        self.ours.setblocking(False)  # read from the hub: never blocks
        self.theirs = gsocket.socket(fileno=theirs.detach())  # the peer's writes may block
        self.peer, conn = ready_pair("DEALER", "ROUTER", bare_theirs=True)  # the peer writes
        self.engine = FakeEngine(CappedStream(self.ours, cap), conn, fd=self.ours.fileno(),
                                 routing=routing)
        self.socket_end, engine_end = pipe_pair(hwm, hwm)
        try:
            self.reader = ConnectionReader(self.engine, engine_end.outbound)
        except BaseException:
            self.ours.close()
            self.theirs.close()
            raise
        engine_end.attach_notifiers(on_readable=Signal(), on_writable=self.reader.room)
        #: what ended ``reader.run`` (caught here: an expected end is not a greenlet's crash)
        self.error: Optional[BaseException] = None
        self.runner = gevent.spawn(self._run, first_events or [])

    def _run(self, first_events: list[Any]) -> None:
        try:
            self.reader.run(first_events)
        except Exception as error:  # noqa: BLE001 - the test asserts which one
            self.error = error

    def write(self, data: bytes) -> None:
        self.theirs.sendall(data)

    def queued(self) -> int:
        return len(self.socket_end.inbound)

    def take(self) -> Any:
        return self.socket_end.recv_nowait()

    def ended_with(self, timeout: float = 2.0) -> BaseException:
        self.runner.join(timeout)
        assert self.runner.dead, "the reader is still running"
        assert self.error is not None, "run() returned instead of raising"
        return self.error

    def close(self) -> None:
        self.reader.fail(PeerClosed())
        self.runner.join(1)
        self.runner.kill()
        self.reader.close()
        self.ours.close()
        self.theirs.close()


@pytest.fixture
def rig_factory():
    rigs: list[Rig] = []

    def make(**kwargs: Any) -> Rig:
        rigs.append(Rig(**kwargs))
        return rigs[-1]

    yield make
    for rig in rigs:
        rig.close()


#: a long frame whose 8-byte size has its top bit set: a protocol error (ZMTP 3.1)
TOP_BIT_SIZE = b"\x02\x80" + b"\x00" * 6 + b"\x01"

MESSAGES = [[b"one"], [b"two", b"parts"], [b""], [b"long" * 100]]  # the last: a long frame
WIRE = b"".join(encode_message(m) for m in MESSAGES)


@pytest.mark.parametrize("cap", [None, 1, 7], ids=["whole", "byte-by-byte", "7-bytes"])
def test_messages_arrive_whole_in_order_however_the_bytes_are_cut(rig_factory, cap) -> None:
    rig = rig_factory(cap=cap)
    rig.write(WIRE)
    assert wait_until(lambda: rig.queued() == len(MESSAGES))
    assert [rig.take() for _ in MESSAGES] == MESSAGES
    assert rig.engine.last_received > 0  # liveness for the heartbeat
    assert not rig.runner.dead


def test_literal_bytes_become_one_multipart_message(rig_factory) -> None:
    rig = rig_factory()
    rig.write(b"\x01\x03abc" + b"\x02" + (3).to_bytes(8, "big") + b"def")  # short MORE, long
    assert wait_until(lambda: rig.queued() == 1)
    assert rig.take() == [b"abc", b"def"]


def test_a_large_body_is_received_whole(rig_factory) -> None:
    body = bytes(range(256)) * 2048  # 512 KiB: the direct-buffer path
    rig = rig_factory()
    gevent.spawn(rig.write, encode_message([body]))  # more than the socket buffer holds
    assert wait_until(lambda: rig.queued() == 1, 5)
    assert rig.take() == [body]


def test_events_that_came_with_the_handshake_are_delivered_first(rig_factory) -> None:
    rig = rig_factory(first_events=[[b"early"]])  # (a bare message, as the engine's Connection returns)
    rig.write(encode_message([b"later"]))
    assert wait_until(lambda: rig.queued() == 2)
    assert [rig.take(), rig.take()] == [[b"early"], [b"later"]]


def test_at_rcvhwm_no_more_than_the_room_is_delivered_and_the_rest_is_held_raw(
        rig_factory) -> None:
    rig = rig_factory(hwm=3)
    messages = [[b"m%d" % i] for i in range(20)]
    rig.write(b"".join(encode_message(m) for m in messages))
    assert wait_until(lambda: rig.queued() == 3)
    gevent.sleep(0.05)
    assert rig.queued() == 3  # never past the mark
    assert rig.engine.conn.held_input > 0  # the rest waits as bytes, not as messages
    received = []
    while len(received) < len(messages):
        assert wait_until(lambda: rig.queued() > 0)
        assert rig.queued() <= 3
        received.append(rig.take())
        gevent.sleep(0)
    assert received == messages
    rig.write(encode_message([b"after"]))  # reading from the hub resumed
    assert wait_until(lambda: rig.queued() == 1)
    assert rig.take() == [b"after"]


def test_at_rcvhwm_byte_by_byte_input_still_resumes(rig_factory) -> None:
    rig = rig_factory(hwm=1, cap=1)
    messages = [[b"x%d" % i] for i in range(6)]
    rig.write(b"".join(encode_message(m) for m in messages))
    received = []
    while len(received) < len(messages):
        assert wait_until(lambda: rig.queued() > 0)
        assert rig.queued() == 1
        received.append(rig.take())
    assert received == messages


def test_eof_ends_the_reader_with_peer_closed(rig_factory) -> None:
    rig = rig_factory()
    rig.write(encode_message([b"last words"]))
    rig.theirs.shutdown(stdlib_socket.SHUT_WR)
    assert isinstance(rig.ended_with(), PeerClosed)
    assert rig.take() == [b"last words"]


def test_eof_behind_held_input_comes_after_every_message(rig_factory) -> None:
    rig = rig_factory(hwm=1)
    messages = [[b"h%d" % i] for i in range(5)]
    rig.write(b"".join(encode_message(m) for m in messages))
    rig.theirs.shutdown(stdlib_socket.SHUT_WR)
    received = []
    while len(received) < len(messages):
        assert wait_until(lambda: rig.queued() > 0), f"stuck after {received}"
        received.append(rig.take())
    assert received == messages
    assert isinstance(rig.ended_with(), PeerClosed)


def test_a_protocol_error_ends_the_reader_after_the_messages_before_it(rig_factory) -> None:
    rig = rig_factory()
    rig.write(encode_message([b"good"]) + TOP_BIT_SIZE)
    error = rig.ended_with()
    assert isinstance(error, zmtp.ProtocolError), error
    assert rig.take() == [b"good"]


def test_a_protocol_error_in_held_input_comes_after_the_messages_before_it(rig_factory) -> None:
    rig = rig_factory(hwm=1)
    rig.write(encode_message([b"a"]) + encode_message([b"b"]) + TOP_BIT_SIZE)
    assert wait_until(lambda: rig.queued() == 1)
    assert rig.take() == [b"a"]
    assert wait_until(lambda: rig.queued() == 1)
    assert rig.take() == [b"b"]
    assert isinstance(rig.ended_with(), zmtp.ProtocolError)


def test_a_message_the_socket_type_refuses_is_a_protocol_error(rig_factory) -> None:
    class SinglePart(FakeRouting):
        wire_check = staticmethod(lambda parts: len(parts) == 1)

    rig = rig_factory(routing=SinglePart())
    rig.write(encode_message([b"ok"]) + encode_message([b"two", b"parts"])
              + encode_message([b"never"]))
    assert isinstance(rig.ended_with(), zmtp.ProtocolError)
    assert rig.take() == [b"ok"] and rig.queued() == 0


SUBSCRIBE_T = b"\x04\x0b\x09SUBSCRIBEt"
CANCEL_T = b"\x04\x08\x06CANCELt"


def test_subscriptions_reach_a_publisher_in_order(rig_factory) -> None:
    rig = rig_factory(routing=PublisherRouting())
    rig.write(SUBSCRIBE_T + encode_message([b"m"]) + CANCEL_T)
    assert wait_until(lambda: rig.queued() == 3)
    first, message, last = rig.take(), rig.take(), rig.take()
    assert isinstance(first, SubscriptionCommand) and first.subscribe and first.topic == b"t"
    assert message == [b"m"]
    assert isinstance(last, SubscriptionCommand) and not last.subscribe


def test_subscriptions_to_anything_else_are_dropped(rig_factory) -> None:
    rig = rig_factory()
    rig.write(SUBSCRIBE_T + encode_message([b"m"]))
    assert wait_until(lambda: rig.queued() == 1)
    gevent.sleep(0.01)
    assert rig.take() == [b"m"] and rig.queued() == 0


def test_subscriptions_count_against_rcvhwm(rig_factory) -> None:
    rig = rig_factory(hwm=2, routing=PublisherRouting())
    rig.write(SUBSCRIBE_T * 10)
    assert wait_until(lambda: rig.queued() == 2)
    gevent.sleep(0.02)
    assert rig.queued() == 2


def test_a_ping_is_answered_and_its_ttl_reported(rig_factory) -> None:
    rig = rig_factory()
    rig.write(b"\x04\x09\x04PING\x00\x14ab")  # TTL 20 deciseconds, context "ab"
    assert wait_until(lambda: rig.engine.control)
    assert rig.engine.ttls == [2.0]
    assert rig.engine.control == [b"\x04\x07\x04PONGab"]  # the PONG goes to the writer
    assert rig.queued() == 0


def test_fail_ends_the_reader_with_that_error(rig_factory) -> None:
    rig = rig_factory()
    gevent.sleep(0.01)
    error = ConnectionResetError()
    rig.reader.fail(error)
    assert rig.ended_with() is error


def test_fail_wakes_a_reader_waiting_for_room(rig_factory) -> None:
    rig = rig_factory(hwm=1)
    rig.write(encode_message([b"a"]) + encode_message([b"b"]))
    assert wait_until(lambda: rig.queued() == 1)
    gevent.sleep(0.02)  # the greenlet now waits for room
    rig.reader.fail(PeerClosed())
    assert isinstance(rig.ended_with(), PeerClosed)
