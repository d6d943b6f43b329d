"""FanOutWriter: the writers of a publisher's connections share the encoding of a batch that
is the same message objects in the same order, and encode anything else themselves."""

from __future__ import annotations

from typing import Any

import gevent
import pytest

import gzmq
from engine_helpers import FakeStream, messages_in, ready_pair
from gzmq.engine import writer as writer_module
from gzmq.engine.writer import LARGE_CHUNK, ConnectionWriter, FanOutWriter
from gzmq.frame import _TrackedMessage
from gzmq.pipe import Signal, SubscriptionCommand, pipe_pair
from helpers import wait_until


class Subscriber:
    """One publisher connection: a pipe, a FanOutWriter and a fake stream."""

    def __init__(self) -> None:
        self.stream = FakeStream()
        self.conn, _ = ready_pair("PUB", "SUB")
        self.socket_end, engine_end = pipe_pair(0, 0)
        self.writer = FanOutWriter(self.stream, self.conn, engine_end.inbound,
                                   lambda graceful: None, gevent.spawn)
        engine_end.attach_notifiers(on_readable=self.writer, on_writable=Signal())

    def put(self, item: Any) -> None:
        assert self.socket_end.outbound.try_put(item)

    def received(self) -> list[Any]:
        return messages_in(self.stream.wire, "PUB", "SUB")


@pytest.fixture
def subscribers():
    made: list[Subscriber] = []

    def make(count: int) -> list[Subscriber]:
        made.extend(Subscriber() for _ in range(count))
        return made[-count:]

    yield make
    for sub in made:
        sub.writer.stop()
    writer_module._last_shared = None


def _never(*args: Any) -> None:
    raise AssertionError("this writer should have sent the shared bytes")


def test_the_same_batch_is_encoded_once_and_sent_to_every_subscriber(subscribers) -> None:
    first, *others = subscribers(3)
    messages = [[b"topic %d" % i, b"x" * i] for i in range(40)] + [[b""], [b"last"]]
    for sub in (first, *others):
        for message in messages:
            sub.put(message)  # the same objects, as a PUB puts them
    for sub in others:
        sub.conn.encode_messages = _never  # type: ignore[method-assign]
    gevent.sleep(0.01)
    for sub in (first, *others):
        assert sub.received() == messages
        assert len(sub.stream.raw_sends) == 1  # one send each, from the hub
    assert first.stream.wire == others[0].stream.wire == others[1].stream.wire


def test_a_subscriber_that_missed_a_message_encodes_its_own_batch(subscribers) -> None:
    full, missing = subscribers(2)
    messages = [[b"m%d" % i] for i in range(10)]
    for message in messages:
        full.put(message)
        if message != [b"m4"]:  # dropped at its high-water mark, say
            missing.put(message)
    gevent.sleep(0.01)
    assert full.received() == messages
    assert missing.received() == [m for m in messages if m != [b"m4"]]


def test_commands_large_bodies_and_tracked_messages_are_never_shared(subscribers) -> None:
    one, two = subscribers(2)
    tracked = _TrackedMessage([b"zero-copy"])
    large = [b"L" * LARGE_CHUNK]
    batches = [
        [[b"a"], SubscriptionCommand(True, b"t"), [b"b"]],  # (a PUB never queues these; XSUB)
        [large],
        [tracked],
    ]
    for batch in batches:
        for sub in (one, two):
            for item in batch:
                sub.put(item)
        gevent.sleep(0.01)
        shared = writer_module._last_shared
        assert shared is None or all(item not in shared[0] for item in batch)
    assert one.received()[-2:] == two.received()[-2:] == [large, [b"zero-copy"]]
    # the large body went out as the object itself, not joined into a copy
    assert any(chunk is large[0] for chunk in one.stream.sendall_chunks)


@pytest.mark.parametrize(("curve", "kind", "expected"), [
    (False, gzmq.PUB, FanOutWriter),
    (True, gzmq.PUB, ConnectionWriter),
    (False, gzmq.PUSH, ConnectionWriter),
])
def test_the_engine_shares_only_for_fan_out_without_curve(curve, kind, expected) -> None:
    ctx = gzmq.Context()
    sender, receiver = ctx.socket(kind), ctx.socket(gzmq.SUB if kind == gzmq.PUB else gzmq.PULL)
    try:
        if curve:
            server_public, server_secret = gzmq.curve_keypair()
            sender.curve_server = True
            sender.curve_secretkey = server_secret
            receiver.curve_serverkey = server_public
            receiver.curve_publickey, receiver.curve_secretkey = gzmq.curve_keypair()
        if kind == gzmq.PUB:
            receiver.subscribe(b"")
        sender.bind("tcp://127.0.0.1:*")
        receiver.connect(sender.last_endpoint)
        engines = sender._core.lifecycle.peers
        assert wait_until(lambda: any(getattr(e, "_writer", None) for e in engines), 5)
        writers = [e._writer for e in engines if getattr(e, "_writer", None)]
        assert [type(w) for w in writers] == [expected]
        sender.send(b"through")  # and it still delivers
        assert receiver.poll(5000) and receiver.recv() == b"through"
    finally:
        sender.close(linger=0)
        receiver.close(linger=0)
        ctx.term()
