"""RFC 30 (PUSH/PULL) as libzmq 4.3.5 implements it (cf. libzmq tests/test_spec_pushpull.cpp).

Each test runs on inproc, tcp and ipc (the ``net`` fixture).
"""
from __future__ import annotations

import pytest

#: big enough that a few hundred of them fill any kernel socket buffer on loopback
BIG = b"x" * 65536
# --- RFC 30: PUSH ---------------------------------------------------------------------------

def test_push_round_robin_out(zmq, net, sock):
    """SHALL route outgoing messages to connected peers using a round-robin strategy."""
    push = sock(zmq.PUSH)
    pulls = [sock(zmq.PULL) for _ in range(3)]
    net.link(push, *pulls)
    for round_ in (b"a", b"b"):
        for index in range(3):
            push.send(round_ + b"%d" % index)
    got = [[net.recv1(p), net.recv1(p)] for p in pulls]
    for p in pulls:
        net.nothing(p, 0.05)
    # every peer got one message per round, at the same position in each round
    positions = []
    for first, second in got:
        assert first[:1] == b"a" and second[:1] == b"b", got
        assert first[1:] == second[1:], got
        positions.append(first[1:])
    assert sorted(positions) == [b"0", b"1", b"2"], got


def test_push_round_robin_connect_order(zmq, net, sock):
    """A connecting PUSH attaches its peers at connect(): round-robin in connect order."""
    pulls = [sock(zmq.PULL) for _ in range(3)]
    push = sock(zmq.PUSH)
    for p in pulls:
        net.link(p, push)
    for index in range(6):
        push.send(b"%d" % index)
    for index, p in enumerate(pulls):
        assert [net.recv1(p), net.recv1(p)] == [b"%d" % index, b"%d" % (index + 3)]


def test_push_block_on_send_no_peers(zmq, net, sock):
    """SHALL block on send (or EAGAIN with DONTWAIT / SNDTIMEO) when it has no peers."""
    push = sock(zmq.PUSH, sndtimeo=100)
    net.bind(push)
    net.assert_send_blocks(push)


def test_push_queues_before_bind(zmq, net, sock):
    """Connecting creates the pipe at once: messages sent before the peer binds are queued."""
    push = sock(zmq.PUSH)
    endpoint = net.fixed_endpoint()
    push.connect(endpoint)
    for index in range(3):
        push.send(b"early%d" % index, zmq.NOBLOCK)
    pull = sock(zmq.PULL)
    pull.bind(endpoint)
    assert [net.recv1(pull) for _ in range(3)] == [b"early0", b"early1", b"early2"]


def test_push_waits_for_late_connect(zmq, net, sock):
    """A bound PUSH holds a blocking send until a PULL connects, then delivers it."""
    push = sock(zmq.PUSH, sndtimeo=3000)
    pull = sock(zmq.PULL)
    net.watch(push)
    address = net.bind(push)
    with pytest.raises(zmq.Again):
        push.send(b"x", zmq.NOBLOCK)
    pull.connect(address)
    net.wait(push)
    push.send(b"late")
    assert net.recv1(pull) == b"late"


def test_push_skips_full_peer(zmq, net, sock):
    """LB skips a pipe at its HWM: a peer that never reads does not stall the others."""
    push = sock(zmq.PUSH, sndhwm=1, sndtimeo=2000)
    stuck = sock(zmq.PULL, rcvhwm=1)
    net.link(push, stuck)
    stuck_count = net.fill(lambda: push.send(BIG, zmq.NOBLOCK))
    assert stuck_count >= 1
    reader = sock(zmq.PULL)
    net.watch(reader)
    reader.connect(push.getsockopt(zmq.LAST_ENDPOINT).decode())
    net.wait(push)
    net.wait(reader)
    for index in range(50):
        push.send(b"m%d" % index)  # blocks at most SNDTIMEO: the reader always has room
        assert net.recv1(reader) == b"m%d" % index
    assert stuck.recv(zmq.NOBLOCK) == BIG  # the stuck peer still has its first message


def test_push_hwm_blocks(zmq, net, sock):
    """At the HWM a PUSH blocks (never drops): EAGAIN with NOBLOCK, Again after SNDTIMEO."""
    push = sock(zmq.PUSH, sndhwm=10, sndtimeo=100)
    pull = sock(zmq.PULL, rcvhwm=10)
    net.link(pull, push)
    payload = b"p" * 100 if net.transport == "inproc" else BIG
    count = net.fill(lambda: push.send(payload, zmq.NOBLOCK))
    if net.transport == "inproc":
        assert count == 20  # inproc: a pipe holds SNDHWM + RCVHWM messages
    else:
        assert count >= 10  # + whatever the kernel buffers hold (bounded: fill asserts)
    with pytest.raises(zmq.Again):
        push.send(payload)
    # nothing was dropped: every message sent is received, in order, and then there is room
    got = [net.recv1(pull) for _ in range(count)]
    assert got == [payload] * count
    net.nothing(pull, 0.05)
    push.send(b"after")
    assert net.recv1(pull) == b"after"


def test_push_cannot_recv(zmq, net, sock):
    """PUSH SHALL NOT receive: ENOTSUP."""
    push, pull = sock(zmq.PUSH), sock(zmq.PULL)
    net.link(pull, push)
    with pytest.raises(zmq.ZMQError) as info:
        push.recv(zmq.NOBLOCK)
    assert info.value.errno == zmq.ENOTSUP


def test_push_multipart_atomic(zmq, net, sock):
    """A multipart message goes whole to one peer; frames of two messages never mix."""
    push = sock(zmq.PUSH)
    pulls = [sock(zmq.PULL) for _ in range(2)]
    net.link(push, *pulls)
    for index in range(10):
        tag = b"%d" % index
        push.send(tag + b"a", zmq.SNDMORE)
        push.send(tag + b"b", zmq.SNDMORE)
        push.send(tag + b"c")
    seen = []
    for p in pulls:
        for _ in range(5):
            assert p.poll(5000)
            head = p.recv()
            assert p.getsockopt(zmq.RCVMORE) == 1
            tag = head[:-1]
            assert head == tag + b"a"
            assert p.recv() == tag + b"b" and p.getsockopt(zmq.RCVMORE) == 1
            assert p.recv() == tag + b"c" and p.getsockopt(zmq.RCVMORE) == 0
            seen.append(int(tag))
        net.nothing(p, 0.05)
    assert sorted(seen) == list(range(10))


# --- RFC 30: PULL ---------------------------------------------------------------------------

def test_pull_fair_queue_in(zmq, net, sock):
    """SHALL receive incoming messages from its peers using a fair-queuing strategy."""
    pull = sock(zmq.PULL)
    pushes = [sock(zmq.PUSH) for _ in range(3)]
    net.link(pull, *pushes)
    for index, push in enumerate(pushes):
        push.send(b"first%d" % index)
        push.send(b"second%d" % index)
    assert pull.poll(5000)
    net.settle()
    first = sorted(net.recv1(pull) for _ in range(3))
    assert first == [b"first0", b"first1", b"first2"]
    second = sorted(net.recv1(pull) for _ in range(3))
    assert second == [b"second0", b"second1", b"second2"]


def test_pull_cannot_send(zmq, net, sock):
    """PULL SHALL NOT send: ENOTSUP."""
    pull, push = sock(zmq.PULL), sock(zmq.PUSH)
    net.link(pull, push)
    with pytest.raises(zmq.ZMQError) as info:
        pull.send(b"x", zmq.NOBLOCK)
    assert info.value.errno == zmq.ENOTSUP


def test_pull_keeps_messages_of_gone_peer(zmq, net, sock):
    """Messages that arrived before a PUSH closed are still delivered (no loss on detach)."""
    pull = sock(zmq.PULL)
    push = sock(zmq.PUSH, linger=1000)
    net.link(pull, push)
    for index in range(5):
        push.send(b"%d" % index)
    push.close()
    assert [net.recv1(pull) for _ in range(5)] == [b"%d" % i for i in range(5)]
