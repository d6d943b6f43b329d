"""``Socket.stats()`` and ``Context.stats()``: each counter proven with real traffic over
inproc, tcp and ipc (peers, handshakes in progress and failed, messages and bytes in and out,
drops by reason, queue depth per peer)."""

from __future__ import annotations

import itertools
import os
from typing import Any

import gevent
import pytest
from gevent import socket as gsocket

import gzmq
from gzmq import zmtp
from gzmq.stats import count_of
from helpers import port_of, raw_peer, wait_until

pytestmark = pytest.mark.timeout(20)

TRANSPORTS = ("inproc", "tcp", "ipc")
_names = itertools.count()


def endpoint_for(transport: str) -> str:
    if transport == "inproc":
        return f"inproc://stats-{os.getpid()}-{next(_names)}"
    if transport == "ipc":
        return f"ipc://@gzmq-stats-{os.getpid()}-{next(_names)}"
    return "tcp://127.0.0.1:*"


def bind(sock: Any, transport: str) -> str:
    sock.bind(endpoint_for(transport))
    return sock.last_endpoint.decode()


def settle(condition: Any, timeout: float = 5.0) -> None:
    assert wait_until(condition, timeout), "condition never held"


def test_count_of_reads_without_advancing() -> None:
    counter = itertools.count(1)
    assert count_of(counter) == 0
    next(counter), next(counter)
    assert count_of(counter) == 2 and count_of(counter) == 2


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_messages_bytes_and_peers(ctx: Any, transport: str) -> None:
    pull = ctx.socket(gzmq.PULL)
    push = ctx.socket(gzmq.PUSH)
    push.connect(bind(pull, transport))
    for _ in range(10):
        push.send(b"hello")  # 7 bytes on the wire: flags, size, body
    push.send_multipart([b"a", b"bc"])  # 3 + 4 bytes
    for _ in range(10):
        assert pull.recv() == b"hello"
    assert pull.recv_multipart() == [b"a", b"bc"]
    gevent.sleep(0.05)
    sent, got = push.stats(), pull.stats()
    assert sent["messages_out"] == 11 and sent["messages_in"] == 0
    assert got["messages_in"] == 11 and got["messages_out"] == 0
    wire = 0 if transport == "inproc" else 10 * 7 + 7
    assert sent["bytes_out"] == wire and got["bytes_in"] == wire
    assert sent["bytes_in"] == got["bytes_out"] == 0
    assert sent["peers_connected"] == got["peers_connected"] == 1
    assert sent["handshakes_in_progress"] == 0 and sent["handshakes_failed"] == 0
    if transport != "inproc":
        assert sent["handshakes_succeeded"] == got["handshakes_succeeded"] == 1
        assert sent["connected"] == 1 and got["accepted"] == 1
    [peer] = got["peers"]
    assert peer["connected"] and peer["socket_type"] == "PUSH"
    assert peer["endpoint"].startswith(transport + "://")
    assert sent["type"] == "PUSH" and sent["dropped"] == {}
    # the counts survive the connection: bytes of ended connections stay counted
    push.close(linger=0)
    settle(lambda: pull.stats()["peers_connected"] == 0)
    after = pull.stats()
    assert after["bytes_in"] == wire and after["messages_in"] == 11
    if transport != "inproc":
        assert after["disconnected"] == 1 and after["events"]["DISCONNECTED"] == 1


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_messages_received_after_waiting_are_counted(ctx: Any, transport: str) -> None:
    pull = ctx.socket(gzmq.PULL)
    push = ctx.socket(gzmq.PUSH)
    push.connect(bind(pull, transport))

    def later() -> None:
        gevent.sleep(0.05)
        push.send(b"one")
        gevent.sleep(0.05)
        push.send_multipart([b"two", b"parts"])

    gevent.spawn(later)
    assert pull.recv() == b"one"  # recv() waited
    assert pull.recv_multipart() == [b"two", b"parts"]  # recv_multipart() waited
    assert pull.stats()["messages_in"] == 2


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_peers_connected_follow_connects_and_disconnects(ctx: Any, transport: str) -> None:
    router = ctx.socket(gzmq.ROUTER)
    endpoint = bind(router, transport)
    dealers = []
    for index in range(3):
        dealer = ctx.socket(gzmq.DEALER)
        dealer.routing_id = b"d%d" % index
        dealer.connect(endpoint)
        dealers.append(dealer)
    settle(lambda: router.stats()["peers_connected"] == 3)
    assert sorted(p["routing_id"] for p in router.stats()["peers"]) == [b"d0", b"d1", b"d2"]
    dealers[0].close(linger=0)
    settle(lambda: router.stats()["peers_connected"] == 2)
    dealers[1].disconnect(endpoint)
    settle(lambda: router.stats()["peers_connected"] == 1)
    assert dealers[1].stats()["peers_connected"] == 0
    assert [p["routing_id"] for p in router.stats()["peers"]] == [b"d2"]


def test_a_connect_with_nobody_there_queues_and_is_not_connected(ctx: Any) -> None:
    dealer = ctx.socket(gzmq.DEALER)
    dealer.connect(f"tcp://127.0.0.1:{_free_port()}")
    for _ in range(3):
        dealer.send(b"queued")
    stats = dealer.stats()
    assert stats["peers_connected"] == 0 and stats["queued_out"] == 3
    [peer] = stats["peers"]
    assert not peer["connected"] and peer["queued_out"] == 3


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_queue_depth_per_peer_while_the_socket_does_not_read(ctx: Any, transport: str) -> None:
    pull = ctx.socket(gzmq.PULL)
    endpoint = bind(pull, transport)
    pushes = []
    for index, count in enumerate((5, 2)):
        push = ctx.socket(gzmq.PUSH)
        push.connect(endpoint)
        settle(lambda: pull.stats()["peers_connected"] == index + 1)
        for _ in range(count):
            push.send(b"x")
        pushes.append(push)
    settle(lambda: pull.stats()["queued_in"] == 7)
    assert sorted(p["queued_in"] for p in pull.stats()["peers"]) == [2, 5]
    for _ in range(7):
        pull.recv()
    assert pull.stats()["queued_in"] == 0


def test_queue_depth_per_peer_while_a_peer_does_not_read(ctx: Any) -> None:
    router = ctx.socket(gzmq.ROUTER)
    endpoint = bind(router, "inproc")
    dealers = [ctx.socket(gzmq.DEALER) for _ in range(2)]
    for dealer, name in zip(dealers, (b"a", b"b")):
        dealer.routing_id = name
        dealer.connect(endpoint)
    settle(lambda: router.stats()["peers_connected"] == 2)
    for _ in range(4):
        router.send_multipart([b"a", b"for a"])
    router.send_multipart([b"b", b"for b"])
    depth = {p["routing_id"]: p["queued_out"] for p in router.stats()["peers"]}
    assert depth == {b"a": 4, b"b": 1}


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_pub_drops_for_a_slow_subscriber(ctx: Any, transport: str) -> None:
    pub = ctx.socket(gzmq.PUB)
    pub.sndhwm = 10
    sub = ctx.socket(gzmq.SUB)
    sub.rcvhwm = 10
    sub.subscribe(b"")
    sub.connect(bind(pub, transport))
    settle(lambda: pub.stats()["peers_connected"] == 1)
    while not sub.poll(10):  # the subscription has arrived once a message gets through
        pub.send(b"ready")
    sub.recv()
    while sub.poll(50):
        sub.recv()
    before = pub.stats()["messages_out"]
    seen_before = sub.stats()["messages_in"]
    sent = 2000
    for _ in range(sent):
        pub.send(b"m" * 1000)
    dropped = pub.stats()["dropped"].get("hwm", 0)
    assert dropped > 0
    if transport == "inproc":
        assert dropped == sent - 20  # summed HWMs: 10 + 10 queued, the rest dropped
    # every message was either delivered or counted as dropped
    received = 0
    while received + dropped < sent:
        with gevent.Timeout(5):
            sub.recv()
        received += 1
    assert sub.stats()["messages_in"] == seen_before + received
    assert not sub.poll(100)
    assert pub.stats()["messages_out"] == before + sent


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_router_drops_unroutable_and_at_hwm(ctx: Any, transport: str) -> None:
    router = ctx.socket(gzmq.ROUTER)
    router.sndhwm = 5
    dealer = ctx.socket(gzmq.DEALER)
    dealer.routing_id = b"peer"
    dealer.rcvhwm = 5
    dealer.connect(bind(router, transport))
    settle(lambda: router.stats()["peers_connected"] == 1)
    router.send_multipart([b"nobody", b"lost"])
    router.send_multipart([b"nobody", b"lost"])
    assert router.stats()["dropped"] == {"unroutable": 2}
    for _ in range(5000):
        router.send_multipart([b"peer", b"x" * 1000])
    dropped = router.stats()["dropped"]
    assert dropped["unroutable"] == 2 and dropped["hwm"] > 0
    if transport == "inproc":
        assert dropped["hwm"] == 5000 - 10
    router.router_mandatory = True  # with MANDATORY nothing is dropped: the send says so
    with pytest.raises(gzmq.ZMQError):
        router.send_multipart([b"nobody", b"lost"])
    assert router.stats()["dropped"]["unroutable"] == 2


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_rep_drops_a_reply_to_a_requester_that_left(ctx: Any, transport: str) -> None:
    rep = ctx.socket(gzmq.REP)
    req = ctx.socket(gzmq.REQ)
    req.connect(bind(rep, transport))
    req.send(b"question")
    assert rep.recv() == b"question"
    req.close(linger=0)
    settle(lambda: rep.stats()["peers_connected"] == 0)
    rep.send(b"answer")
    assert rep.stats()["dropped"] == {"peer-gone": 1}


def test_handshakes_failed_with_a_bad_curve_key(ctx: Any) -> None:
    server_public, server_secret = gzmq.curve_keypair()
    other_public, _ = gzmq.curve_keypair()
    server = ctx.socket(gzmq.REP)
    server.curve_server = True
    server.curve_secretkey = server_secret
    endpoint = bind(server, "tcp")
    client = ctx.socket(gzmq.REQ)
    client.curve_publickey, client.curve_secretkey = gzmq.curve_keypair()
    client.curve_serverkey = other_public  # not the server's key: its HELLO cannot be opened
    client.connect(endpoint)
    settle(lambda: server.stats()["handshakes_failed"] >= 1)
    stats = server.stats()
    assert stats["peers_connected"] == 0 and stats["handshakes_succeeded"] == 0
    assert stats["events"].get("HANDSHAKE_FAILED_PROTOCOL", 0) \
        + stats["events"].get("HANDSHAKE_FAILED_NO_DETAIL", 0) >= 1
    good = ctx.socket(gzmq.REQ)
    good.curve_publickey, good.curve_secretkey = gzmq.curve_keypair()
    good.curve_serverkey = server_public
    good.connect(endpoint)
    settle(lambda: server.stats()["handshakes_succeeded"] == 1)


def test_handshakes_in_progress_and_failed_with_a_garbage_peer(ctx: Any) -> None:
    server = ctx.socket(gzmq.ROUTER)
    bind(server, "tcp")
    silent = gsocket.create_connection(("127.0.0.1", port_of(server)))
    try:
        settle(lambda: server.stats()["handshakes_in_progress"] == 1)
        assert server.stats()["peers_connected"] == 0
        garbage = gsocket.create_connection(("127.0.0.1", port_of(server)))
        try:
            garbage.sendall(b"GET / HTTP/1.1\r\n\r\n" + b"\xff" * 64)
            settle(lambda: server.stats()["handshakes_failed"] == 1)
        finally:
            garbage.close()
        assert server.stats()["handshakes_in_progress"] == 1  # the silent one still waits
    finally:
        silent.close()
    settle(lambda: server.stats()["handshakes_in_progress"] == 0)


def test_bytes_equal_what_crossed_the_wire(ctx: Any) -> None:
    push = ctx.socket(gzmq.PUSH)
    bind(push, "tcp")
    stream, conn = raw_peer(push, "PULL")  # a hand-driven PULL: we see the very bytes
    try:
        settle(lambda: push.stats()["peers_connected"] == 1)
        message = [b"k" * 300, b"", b"v" * 5]  # a long frame, an empty one, a short one
        expected = zmtp.encode_message(message)
        push.send_multipart(message)
        received = b""
        with gevent.Timeout(5):
            while len(received) < len(expected):
                received += stream.recv(4096)
        assert received == expected
        assert push.stats()["bytes_out"] == len(expected) == 9 + 300 + 2 + 2 + 5

        pull = ctx.socket(gzmq.PULL)
        bind(pull, "tcp")
        inbound, _ = raw_peer(pull, "PUSH")
        try:
            inbound.sendall(expected)
            assert pull.recv_multipart() == message
            assert pull.stats()["bytes_in"] == len(expected)
        finally:
            inbound.close()
    finally:
        stream.close()


def test_threaded_context_and_context_totals() -> None:
    ctx = gzmq.Context(io_mode="thread")
    try:
        pull = ctx.socket(gzmq.PULL)
        endpoint = bind(pull, "tcp")
        push = ctx.socket(gzmq.PUSH)
        push.connect(endpoint)
        push.send(b"hello")
        assert pull.recv() == b"hello"
        assert push.stats()["messages_out"] == 1 and pull.stats()["messages_in"] == 1
        total = ctx.stats()
        assert total["sockets"] == 2 and total["messages_out"] == 1
        assert total["messages_in"] == 1 and total["peers_connected"] == 2
        assert total["bytes_out"] == total["bytes_in"] == 7
        assert total["events"]["HANDSHAKE_SUCCEEDED"] == 2
    finally:
        ctx.destroy(linger=0)


def test_stats_of_a_closed_socket_and_addressed_sends(ctx: Any) -> None:
    server = ctx.socket(gzmq.SERVER)
    client = ctx.socket(gzmq.CLIENT)
    client.connect(bind(server, "inproc"))
    client.send(b"hi")
    frame = server.recv(copy=False)
    server.send(b"back", routing_id=frame.routing_id)
    assert client.recv() == b"back"
    assert server.stats()["messages_out"] == 1 and server.stats()["messages_in"] == 1
    server.close()
    assert server.stats()["messages_out"] == 1  # still readable after close


def _free_port() -> int:
    with gsocket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
