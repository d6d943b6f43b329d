"""RFC 31 (exclusive PAIR) as libzmq 4.3.5 implements it (cf. libzmq test_pair_inproc,
test_pair_tcp, test_pair_ipc). Each test runs on inproc, tcp and ipc.
"""
from __future__ import annotations

import pytest


def test_pair_exchanges_both_ways(zmq, net, sock):
    """PAIR is bidirectional: both sides send and receive, multipart intact, in order."""
    a, b = sock(zmq.PAIR), sock(zmq.PAIR)
    net.link(a, b)
    a.send(b"a1")
    a.send_multipart([b"a2", b"", b"a2c"])
    b.send(b"b1")
    assert net.recv(b) == [b"a1"]
    assert net.recv(b) == [b"a2", b"", b"a2c"]
    assert net.recv(a) == [b"b1"]
    for index in range(20):
        (a if index % 2 else b).send(b"%d" % index)
    assert [net.recv1(a) for _ in range(10)] == [b"%d" % i for i in range(0, 20, 2)]
    assert [net.recv1(b) for _ in range(10)] == [b"%d" % i for i in range(1, 20, 2)]


def test_pair_second_peer_refused(zmq, net, sock):
    """SHALL NOT accept a second peer while connected: it gets nothing and is not heard,
    and is not adopted later when the first peer leaves (libzmq)."""
    a, b, c = sock(zmq.PAIR), sock(zmq.PAIR), sock(zmq.PAIR)
    address = net.link(a, b)
    net.watch(c)
    c.connect(address)
    net.wait(c)
    for index in range(3):
        c.send(b"from-c%d" % index, zmq.NOBLOCK)  # queued on c's own pipe, never delivered
    a.send(b"from-a")
    b.send(b"from-b")
    assert net.recv(b) == [b"from-a"]
    assert net.recv(a) == [b"from-b"]
    net.nothing(c)
    net.nothing(a)
    b.close()
    net.pause(0.3)
    with pytest.raises(zmq.Again):
        a.send(b"to-anyone", zmq.NOBLOCK)
    net.nothing(c, 0.05)


def test_pair_block_on_send_no_peer(zmq, net, sock):
    """SHALL block on send (EAGAIN with NOBLOCK / SNDTIMEO) while it has no peer."""
    a = sock(zmq.PAIR, sndtimeo=100)
    net.bind(a)
    net.assert_send_blocks(a)


def test_pair_recv_no_peer_again(zmq, net, sock):
    """recv with no peer: EAGAIN with NOBLOCK, Again after RCVTIMEO."""
    a = sock(zmq.PAIR, rcvtimeo=100)
    net.bind(a)
    with pytest.raises(zmq.Again):
        a.recv(zmq.NOBLOCK)
    with pytest.raises(zmq.Again):
        a.recv()


def test_pair_queues_before_bind(zmq, net, sock):
    """A connecting PAIR queues messages until its peer binds."""
    b = sock(zmq.PAIR)
    endpoint = net.fixed_endpoint()
    b.connect(endpoint)
    b.send(b"early", zmq.NOBLOCK)
    a = sock(zmq.PAIR)
    a.bind(endpoint)
    assert net.recv(a) == [b"early"]
    a.send(b"reply")
    assert net.recv(b) == [b"reply"]


def test_pair_hwm_blocks(zmq, net, sock):
    """At its HWM a PAIR blocks (never drops); inproc holds SNDHWM + RCVHWM messages."""
    a = sock(zmq.PAIR, sndhwm=5, sndtimeo=100)
    b = sock(zmq.PAIR, rcvhwm=5)
    net.link(a, b)
    payload = b"p" if net.transport == "inproc" else b"p" * 65536
    count = net.fill(lambda: a.send(payload, zmq.NOBLOCK))
    if net.transport == "inproc":
        assert count == 10
    with pytest.raises(zmq.Again):
        a.send(payload)
    assert len(net.drain(b)) == count
