"""Regression tests for defects found in review: each once hung, leaked or crashed."""

import gevent
import pytest
from gevent import socket as gsocket

import gzmq
from gzmq import zmtp
from helpers import raw_peer, wait_until


def test_close_and_term_while_the_reader_waits_for_room(ctx):
    """A connection blocked at RCVHWM must still end when the socket closes (term() hung)."""
    pull = ctx.socket(gzmq.PULL)
    pull.rcvhwm = 2
    pull.bind("tcp://127.0.0.1:*")
    push = ctx.socket(gzmq.PUSH)
    push.sndhwm = 2
    push.linger = 0
    push.connect(pull.last_endpoint)
    for _ in range(50):
        try:
            push.send(b"x" * 10000, gzmq.NOBLOCK)
        except gzmq.Again:
            gevent.sleep(0.01)
    gevent.sleep(0.2)  # the PULL's engine now waits for room
    pull.close()
    push.close()
    with gevent.Timeout(5):
        ctx.term()


def test_linger_zero_close_stops_the_connector_for_good(ctx):
    """Killing a live connection at close must not let its connector redial (it did, forever,
    while messages were still queued)."""
    pull = ctx.socket(gzmq.PULL)
    pull.rcvhwm = 1
    pull.bind("tcp://127.0.0.1:*")
    push = ctx.socket(gzmq.PUSH)
    push.reconnect_ivl = 10
    push.sndhwm = 1000
    push.connect(pull.last_endpoint)
    for _ in range(1000):  # the PULL never reads: most of these stay queued
        try:
            push.send(b"x" * 10000, gzmq.NOBLOCK)
        except gzmq.Again:
            break
    gevent.sleep(0.2)
    assert push._lifecycle.peers  # connected, with messages pending
    push.close(linger=0)
    gevent.sleep(0.3)
    assert len(push._lifecycle.group) == 0


def test_inproc_sender_blocked_before_bind_resumes_after_bind(ctx):
    push = ctx.socket(gzmq.PUSH)
    push.sndhwm = 5
    push.connect("inproc://late")
    sent = []

    def sender():
        for i in range(20):
            push.send(b"%d" % i)
            sent.append(i)

    greenlet = gevent.spawn(sender)
    gevent.sleep(0.05)
    assert len(sent) == 5  # blocked at the connecter's own mark
    pull = ctx.socket(gzmq.PULL)
    pull.bind("inproc://late")
    received = [pull.recv() for _ in range(20)]
    greenlet.join(timeout=5)
    assert received == [b"%d" % i for i in range(20)] and greenlet.successful()


def test_closed_unjoined_inproc_connecter_is_not_adopted_by_a_later_bind(ctx):
    dead = ctx.socket(gzmq.PAIR)
    dead.connect("inproc://pair")
    dead.close()
    live = ctx.socket(gzmq.PAIR)
    live.connect("inproc://pair")
    server = ctx.socket(gzmq.PAIR)
    server.bind("inproc://pair")
    server.send(b"hello")
    live.rcvtimeo = 2000
    assert live.recv() == b"hello"


def test_subscribe_command_to_a_pull_is_dropped_not_delivered(ctx):
    """A hostile peer's SUBSCRIBE must not reach a PULL's queue (recv() raised TypeError)."""
    pull = ctx.socket(gzmq.PULL)
    pull.rcvtimeo = 2000
    pull.bind("tcp://127.0.0.1:*")
    stream, conn = raw_peer(pull, "PUSH")
    stream.sendall(b"\x04\x0a\x09SUBSCRIBE" + conn.send_message([b"after"]))
    assert pull.recv() == b"after"
    stream.close()


def test_ping_flood_leaves_a_bounded_pong_queue(ctx):
    router = ctx.socket(gzmq.ROUTER)
    router.bind("tcp://127.0.0.1:*")
    stream, conn = raw_peer(router, "DEALER", rcvbuf=4096)
    ping = conn.ping(context=b"c" * 16)
    for _ in range(1500):  # never read the PONGs: far more than the kernel buffers take
        stream.sendall(ping * 500)
    gevent.sleep(0.2)
    engine = next(iter(router._lifecycle.peers))
    assert len(engine._writer.control) <= 16
    stream.close()


def test_zap_works_again_after_the_handler_restarts(ctx):
    from gzmq.auth import Authenticator
    for attempt in range(2):
        auth = Authenticator(ctx)
        auth.start()
        auth.configure_plain(domain="*", passwords={"admin": "secret"})
        server = ctx.socket(gzmq.PULL)
        server.plain_server = 1
        server.rcvtimeo = 5000
        server.bind("tcp://127.0.0.1:*")
        client = ctx.socket(gzmq.PUSH)
        client.plain_username, client.plain_password = b"admin", b"secret"
        client.connect(server.last_endpoint)
        client.send(b"round %d" % attempt)
        assert server.recv() == b"round %d" % attempt
        client.close(linger=0)
        server.close()
        auth.stop()


def test_a_background_failure_surfaces_on_the_next_blocking_call(ctx):
    """An unexpected error in one of the socket's greenlets is not only printed by the hub:
    the next blocking call raises it (as the cause of a RuntimeError)."""
    pull = ctx.socket(gzmq.PULL)

    def broken() -> None:
        raise ValueError("a bug")

    hub = gevent.get_hub()
    # this error is expected: keep it from the hub's printer and from conftest's trap
    original, hub.handle_error = hub.handle_error, lambda *args: None
    try:
        greenlet = pull._lifecycle.spawn(broken)
        greenlet.join()
        with pytest.raises(RuntimeError) as raised:
            with gevent.Timeout(5):
                pull.recv()
    finally:
        hub.handle_error = original
    assert isinstance(raised.value.__cause__, ValueError)
    pull.rcvtimeo = 10
    with pytest.raises(gzmq.Again):  # reported once; the socket goes on
        pull.recv()


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
