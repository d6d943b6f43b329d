"""RFC 29 (PUB/SUB, XPUB/XSUB) as libzmq 4.3.5 implements it (cf. test_spec_pubsub,
test_xpub_*, test_sub_forward). Each test runs on inproc, tcp and ipc.

Subscriptions propagate asynchronously; ``net.sync_subs`` publishes numbered probes until every
subscriber gets one (the "slow joiner" handshake), and XPUB tests wait for the subscription
message itself.
"""
from __future__ import annotations

import time

import pytest

BIG = b"x" * 65536


def pub_sub(zmq, net, sock, *topics, pub_type=None, **sub_options):
    pub = sock(pub_type or zmq.PUB)
    sub = sock(zmq.SUB, **sub_options)
    for topic in topics:
        sub.setsockopt(zmq.SUBSCRIBE, topic)
    net.link(pub, sub)
    return pub, sub


# --- SUB: matching --------------------------------------------------------------------------

def test_prefix_match_on_first_frame_only(zmq, net, sock):
    """SHALL match a subscription as a prefix of the first frame; later frames are not looked at."""
    pub, sub = pub_sub(zmq, net, sock, b"A")
    net.sync_subs(pub, [sub], b"A")
    pub.send_multipart([b"B", b"A-in-second-frame"])
    pub.send_multipart([b"AB", b"tail"])
    pub.send(b"")
    pub.send(b"A")
    pub.send(b"xA")
    pub.send(b"end-A")  # not delivered either
    pub.send(b"Aend")
    assert net.recv(sub) == [b"AB", b"tail"]
    assert net.recv(sub) == [b"A"]
    assert net.recv(sub) == [b"Aend"]
    net.nothing(sub)


def test_multiple_subscriptions(zmq, net, sock):
    """A SUB with several subscriptions gets the union; nothing else."""
    pub, sub = pub_sub(zmq, net, sock, b"A", b"B")
    net.sync_subs(pub, [sub], b"A")
    net.sync_subs(pub, [sub], b"B")
    for topic in (b"A1", b"C1", b"B1", b"AB", b"BA", b"CA"):
        pub.send(topic)
    assert [net.recv1(sub) for _ in range(4)] == [b"A1", b"B1", b"AB", b"BA"]
    net.nothing(sub)


def test_subscribe_empty_gets_everything(zmq, net, sock):
    """Subscribing to the empty prefix matches every message."""
    pub, sub = pub_sub(zmq, net, sock, b"")
    net.sync_subs(pub, [sub], b"")
    messages = [[b""], [b"\x00\x01"], [b"anything", b"more"], [b"\xff" * 300]]
    for msg in messages:
        pub.send_multipart(msg)
    assert [net.recv(sub) for _ in messages] == messages


def test_no_subscription_gets_nothing(zmq, net, sock):
    """A SUB that never subscribed receives nothing."""
    pub, sub = pub_sub(zmq, net, sock)
    for index in range(10):
        pub.send(b"%d" % index)
    net.nothing(sub)


def test_unsubscribe_is_counted(zmq, net, sock):
    """Subscribing twice needs two unsubscribes; only the last one reaches the publisher."""
    xpub, sub = pub_sub(zmq, net, sock, b"A", b"A", pub_type=zmq.XPUB)
    assert net.recv1(xpub) == b"\x01A"  # the duplicate is not reported (not verbose)
    sub.setsockopt(zmq.UNSUBSCRIBE, b"A")
    net.nothing(xpub)
    xpub.send(b"A1")
    assert net.recv1(sub) == b"A1"
    sub.setsockopt(zmq.UNSUBSCRIBE, b"A")
    assert net.recv1(xpub) == b"\x00A"
    xpub.send(b"A2")
    net.nothing(sub)


def test_unsubscribe_filters_locally_at_once(zmq, net, sock):
    """After the last unsubscribe the SUB filters locally, even if the PUB still sends."""
    pub, sub = pub_sub(zmq, net, sock, b"A", b"B")
    net.sync_subs(pub, [sub], b"A")
    sub.setsockopt(zmq.UNSUBSCRIBE, b"A")
    pub.send(b"A-late")
    pub.send(b"B-marker")
    assert net.recv1(sub) == b"B-marker"
    net.nothing(sub)


def test_invert_matching(zmq, net, sock):
    """INVERT_MATCHING on both sides: deliver exactly what does NOT match a subscription."""
    pub = sock(zmq.PUB, invert_matching=1)
    sub = sock(zmq.SUB, invert_matching=1)
    sub.setsockopt(zmq.SUBSCRIBE, b"A")
    net.link(pub, sub)
    net.sync_subs(pub, [sub], b"B")
    for topic in (b"A1", b"B1", b"AB", b"C1", b""):
        pub.send(topic)
    assert [net.recv1(sub) for _ in range(3)] == [b"B1", b"C1", b""]
    net.nothing(sub)


# --- PUB -----------------------------------------------------------------------------------

def test_pub_never_blocks_drops_at_hwm(zmq, net, sock):
    """SHALL NOT block on send; a subscriber at its HWM silently misses messages."""
    pub = sock(zmq.PUB, sndhwm=10)
    sub = sock(zmq.SUB, rcvhwm=10)
    sub.setsockopt(zmq.SUBSCRIBE, b"")
    net.link(pub, sub)
    net.sync_subs(pub, [sub], b"")
    inproc = net.transport == "inproc"
    total, payload = (1000, b"m" * 10) if inproc else (2000, BIG)
    start = time.monotonic()
    for _ in range(total):
        pub.send(payload, zmq.NOBLOCK)  # never Again
    assert time.monotonic() - start < 10
    assert pub.poll(0, zmq.POLLOUT)
    received = len(net.drain(sub))
    if inproc:
        assert 1 <= received <= 20  # the pipe holds SNDHWM + RCVHWM
    else:
        assert 1 <= received < total


def test_pub_cannot_recv(zmq, net, sock):
    """PUB SHALL NOT receive: ENOTSUP."""
    pub, sub = pub_sub(zmq, net, sock, b"")
    with pytest.raises(zmq.ZMQError) as info:
        pub.recv(zmq.NOBLOCK)
    assert info.value.errno == zmq.ENOTSUP


def test_sub_cannot_send(zmq, net, sock):
    """SUB SHALL NOT send: ENOTSUP."""
    pub, sub = pub_sub(zmq, net, sock, b"")
    with pytest.raises(zmq.ZMQError) as info:
        sub.send(b"x", zmq.NOBLOCK)
    assert info.value.errno == zmq.ENOTSUP


def test_pub_fans_out_to_all_subscribers(zmq, net, sock):
    """Every matching subscriber gets its own copy."""
    pub = sock(zmq.PUB)
    subs = [sock(zmq.SUB) for _ in range(3)]
    for s in subs:
        s.setsockopt(zmq.SUBSCRIBE, b"T")
    net.link(pub, *subs)
    net.sync_subs(pub, subs, b"T")
    pub.send_multipart([b"T1", b"body"])
    for s in subs:
        assert net.recv(s) == [b"T1", b"body"]


def test_late_subscriber_slow_joiner(zmq, net, sock):
    """Messages published before a subscription arrives are lost; later ones are delivered."""
    pub = sock(zmq.PUB)
    address = net.bind(pub)
    pub.send(b"A-before-anyone")
    sub = sock(zmq.SUB)
    sub.setsockopt(zmq.SUBSCRIBE, b"A")
    net.watch(sub)
    sub.connect(address)
    net.wait(sub)
    net.sync_subs(pub, [sub], b"A")
    pub.send(b"A-after")
    assert net.recv1(sub) == b"A-after"
    net.nothing(sub)


def test_subscriptions_survive_reconnect(zmq, net, sock):
    """A SUB resends its subscriptions to a new publisher on the same endpoint."""
    if net.transport == "inproc":
        pytest.skip("libzmq does not reconnect inproc connections")
    endpoint = net.fixed_endpoint()
    sub = sock(zmq.SUB)
    sub.setsockopt(zmq.SUBSCRIBE, b"A")
    net.watch(sub)
    sub.connect(endpoint)
    pub = sock(zmq.PUB)
    pub.bind(endpoint)
    net.wait(sub)
    net.sync_subs(pub, [sub], b"A")
    pub.close()
    xpub = sock(zmq.XPUB)
    deadline = time.monotonic() + 5
    while True:  # the old listener's port/path may take a moment to be free
        try:
            xpub.bind(endpoint)
            break
        except zmq.ZMQError:
            assert time.monotonic() < deadline, "could not rebind the endpoint"
            net.pause(0.02)
    net.wait(sub)  # reconnected (libzmq resends subscriptions when the SUB next runs)
    assert net.recv1(xpub) == b"\x01A"
    net.sync_subs(xpub, [sub], b"A")
    xpub.send(b"A-new")
    xpub.send(b"B-new")
    assert net.recv1(sub) == b"A-new"
    net.nothing(sub)


# --- XPUB ----------------------------------------------------------------------------------

def test_xpub_receives_subscriptions(zmq, net, sock):
    """XPUB's application sees b"\\x01topic" / b"\\x00topic" for (un)subscriptions."""
    xpub, sub = pub_sub(zmq, net, sock, pub_type=zmq.XPUB)
    sub.setsockopt(zmq.SUBSCRIBE, b"topic")
    assert net.recv1(xpub) == b"\x01topic"
    sub.setsockopt(zmq.UNSUBSCRIBE, b"topic")
    assert net.recv1(xpub) == b"\x00topic"
    sub.setsockopt(zmq.SUBSCRIBE, b"")
    assert net.recv1(xpub) == b"\x01"


def xpub_with_shared_topic(zmq, net, sock):
    """An XPUB and two SUBs, both on topic A, the second on B too; returns (xpub, subs)
    once the XPUB has reported A for the first SUB only and then B."""
    xpub = sock(zmq.XPUB)
    subs = [sock(zmq.SUB) for _ in range(2)]
    net.link(xpub, *subs)
    subs[0].setsockopt(zmq.SUBSCRIBE, b"A")
    assert net.recv1(xpub) == b"\x01A"
    subs[1].setsockopt(zmq.SUBSCRIBE, b"A")
    subs[1].setsockopt(zmq.SUBSCRIBE, b"B")
    assert net.recv1(xpub) == b"\x01B"  # after A's duplicate, which was swallowed
    return xpub, subs


def test_xpub_reports_topic_once(zmq, net, sock):
    """Without XPUB_VERBOSE a topic is reported only for its first subscriber."""
    xpub, _ = xpub_with_shared_topic(zmq, net, sock)
    net.nothing(xpub)


def test_xpub_verbose_reports_every_subscription(zmq, net, sock):
    """XPUB_VERBOSE passes on every subscribe (unsubscribes still only for the last one)."""
    xpub = sock(zmq.XPUB, xpub_verbose=1)
    subs = [sock(zmq.SUB) for _ in range(2)]
    net.link(xpub, *subs)
    subs[0].setsockopt(zmq.SUBSCRIBE, b"A")
    assert net.recv1(xpub) == b"\x01A"
    subs[1].setsockopt(zmq.SUBSCRIBE, b"A")
    assert net.recv1(xpub) == b"\x01A"
    subs[0].setsockopt(zmq.UNSUBSCRIBE, b"A")
    subs[1].setsockopt(zmq.SUBSCRIBE, b"B")  # marker: the unsubscribe above was swallowed
    assert net.recv1(xpub) == b"\x01B"
    subs[1].setsockopt(zmq.UNSUBSCRIBE, b"A")
    assert net.recv1(xpub) == b"\x00A"


def test_xpub_verboser_reports_every_unsubscription(zmq, net, sock):
    """XPUB_VERBOSER also passes on every unsubscribe."""
    xpub = sock(zmq.XPUB, xpub_verboser=1)
    subs = [sock(zmq.SUB) for _ in range(2)]
    net.link(xpub, *subs)
    for s in subs:
        s.setsockopt(zmq.SUBSCRIBE, b"A")
        assert net.recv1(xpub) == b"\x01A"
    subs[0].setsockopt(zmq.UNSUBSCRIBE, b"A")
    assert net.recv1(xpub) == b"\x00A"
    subs[1].setsockopt(zmq.UNSUBSCRIBE, b"A")
    assert net.recv1(xpub) == b"\x00A"


def test_xpub_unsubscribe_when_last_subscriber_leaves(zmq, net, sock):
    """A subscriber's disconnect yields b"\\x00topic" for topics that lost their last one."""
    xpub, subs = xpub_with_shared_topic(zmq, net, sock)
    subs[0].close()
    net.nothing(xpub, 0.3)  # A and B both still have subs[1]
    subs[1].close()
    assert sorted(net.recv1(xpub) for _ in range(2)) == [b"\x00A", b"\x00B"]
    net.nothing(xpub)


def test_xpub_nodrop_raises_again(zmq, net, sock):
    """XPUB_NODROP: a full subscriber makes send raise EAGAIN instead of dropping."""
    xpub = sock(zmq.XPUB, xpub_nodrop=1, sndhwm=1, sndtimeo=100)
    sub = sock(zmq.SUB, rcvhwm=1)
    net.link(xpub, sub)
    sub.setsockopt(zmq.SUBSCRIBE, b"")
    assert net.recv1(xpub) == b"\x01"
    count = net.fill(lambda: xpub.send(BIG, zmq.NOBLOCK))
    with pytest.raises(zmq.Again):
        xpub.send(BIG)  # SNDTIMEO
    assert count >= 1
    received = net.drain(sub)
    assert len(received) == count  # nothing was dropped


def test_xpub_without_nodrop_never_blocks(zmq, net, sock):
    """Default XPUB drops for a full subscriber: send never raises."""
    xpub = sock(zmq.XPUB, sndhwm=1)
    sub = sock(zmq.SUB, rcvhwm=1)
    net.link(xpub, sub)
    sub.setsockopt(zmq.SUBSCRIBE, b"")
    assert net.recv1(xpub) == b"\x01"
    for _ in range(200 if net.transport == "inproc" else 1000):
        xpub.send(BIG, zmq.NOBLOCK)


def test_xpub_welcome_msg(zmq, net, sock):
    """XPUB_WELCOME_MSG is sent to every new subscriber as soon as it connects."""
    xpub = sock(zmq.XPUB, xpub_welcome_msg=b"W")
    sub = sock(zmq.SUB)
    sub.setsockopt(zmq.SUBSCRIBE, b"W")
    net.link(xpub, sub)
    assert net.recv1(xpub) == b"\x01W"
    assert net.recv1(sub) == b"W"
    net.nothing(sub)


def test_xpub_upstream_messages(zmq, net, sock):
    """Non-subscription messages from an XSUB reach the XPUB application unchanged."""
    xpub, xsub = sock(zmq.XPUB), sock(zmq.XSUB)
    net.link(xpub, xsub)
    xsub.send(b"\x02raw")
    xsub.send_multipart([b"hello", b"world"])
    assert net.recv1(xpub) == b"\x02raw"
    assert net.recv(xpub) == [b"hello", b"world"]


# --- XSUB ----------------------------------------------------------------------------------

def test_xsub_send_subscribes(zmq, net, sock):
    """XSUB sending b"\\x01topic" subscribes; b"\\x00topic" unsubscribes; no local filter."""
    pub, xsub = sock(zmq.PUB), sock(zmq.XSUB)
    net.link(pub, xsub)
    xsub.send(b"\x01A")
    xsub.send(b"\x01M")
    net.sync_subs(pub, [xsub], b"A")
    pub.send(b"A1")
    pub.send(b"B1")
    pub.send(b"M1")
    assert [net.recv1(xsub) for _ in range(2)] == [b"A1", b"M1"]
    xsub.send(b"\x00A")
    deadline = time.monotonic() + 5
    for index in range(1000):  # until the cancel has reached the publisher
        assert time.monotonic() < deadline
        pub.send(b"A-%d" % index)
        pub.send(b"M-%d" % index)
        if net.recv1(xsub) == b"M-%d" % index:
            break
        assert net.recv1(xsub) == b"M-%d" % index
    pub.send(b"A-final")
    pub.send(b"M-final")
    assert net.recv1(xsub) == b"M-final"


def test_xpub_nodrop_pollout_stays_set(zmq, net, sock):
    """libzmq quirk: XPUB always reports POLLOUT (dist_t::has_out), even with NODROP and a
    full subscriber; only send() tells EAGAIN."""
    xpub = sock(zmq.XPUB, xpub_nodrop=1, sndhwm=1)
    sub = sock(zmq.SUB, rcvhwm=1)
    net.link(xpub, sub)
    sub.setsockopt(zmq.SUBSCRIBE, b"")
    assert net.recv1(xpub) == b"\x01"
    deadline = time.monotonic() + 5
    while True:
        try:
            xpub.send(BIG, zmq.NOBLOCK)
        except zmq.Again:
            break
        assert time.monotonic() < deadline
    assert xpub.poll(0, zmq.POLLOUT) == zmq.POLLOUT
    assert xpub.getsockopt(zmq.EVENTS) & zmq.POLLOUT
