"""XPUB's options as libzmq 4.3.5 implements them (xpub.cpp): XPUB_VERBOSER, XPUB_MANUAL and
XPUB_MANUAL_LAST_VALUE (with SUBSCRIBE on the XPUB), XPUB_WELCOME_MSG, ONLY_FIRST_SUBSCRIBE.
Each test runs on inproc, tcp, ipc, and against libzmq itself (test_spec_oracle.py).
"""
from __future__ import annotations

import pytest


def linked(zmq, net, sock, xpub_options, count=1, sub_type=None):
    xpub = sock(zmq.XPUB, **xpub_options)
    subs = [sock(sub_type or zmq.SUB) for _ in range(count)]
    net.link(xpub, *subs)
    return xpub, subs


def test_xpub_verboser_reports_every_unsubscription(zmq, net, sock):
    """XPUB_VERBOSER: every subscribe and every unsubscribe reaches the application."""
    xpub, subs = linked(zmq, net, sock, {"xpub_verboser": 1}, 2)
    for sub in subs:
        sub.setsockopt(zmq.SUBSCRIBE, b"A")
        assert net.recv1(xpub) == b"\x01A"
    for sub in subs:
        sub.setsockopt(zmq.UNSUBSCRIBE, b"A")
        assert net.recv1(xpub) == b"\x00A"


def test_xpub_verbose_after_verboser_reports_subscriptions_only(zmq, net, sock):
    """Setting XPUB_VERBOSE after XPUB_VERBOSER leaves only the subscriptions verbose."""
    xpub, subs = linked(zmq, net, sock, {"xpub_verboser": 1, "xpub_verbose": 1}, 2)
    for sub in subs:
        sub.setsockopt(zmq.SUBSCRIBE, b"A")
        assert net.recv1(xpub) == b"\x01A"
    subs[0].setsockopt(zmq.UNSUBSCRIBE, b"A")
    subs[0].setsockopt(zmq.SUBSCRIBE, b"B")  # marker: the unsubscribe was swallowed
    assert net.recv1(xpub) == b"\x01B"


@pytest.mark.parametrize("verboser", [0, 1])
def test_xpub_subscriber_leaving(zmq, net, sock, verboser):
    """A subscriber that goes away unsubscribes what nobody else wants (with XPUB_VERBOSER:
    everything it had)."""
    xpub, subs = linked(zmq, net, sock, {"xpub_verboser": verboser}, 2)
    subs[0].setsockopt(zmq.SUBSCRIBE, b"A")
    assert net.recv1(xpub) == b"\x01A"
    subs[1].setsockopt(zmq.SUBSCRIBE, b"A")
    if verboser:
        assert net.recv1(xpub) == b"\x01A"
    subs[1].setsockopt(zmq.SUBSCRIBE, b"B")
    assert net.recv1(xpub) == b"\x01B"
    subs[1].close()
    got = sorted(net.recv1(xpub) for _ in range(2 if verboser else 1))
    assert got == ([b"\x00A", b"\x00B"] if verboser else [b"\x00B"])
    net.nothing(xpub)


def test_subscribe_on_xpub_needs_manual(zmq, sock):
    """SUBSCRIBE/UNSUBSCRIBE are XPUB options only with XPUB_MANUAL: EINVAL otherwise."""
    xpub = sock(zmq.XPUB)
    for option in (zmq.SUBSCRIBE, zmq.UNSUBSCRIBE):
        with pytest.raises(zmq.ZMQError) as info:
            xpub.setsockopt(option, b"A")
        assert info.value.errno == zmq.EINVAL
    manual = sock(zmq.XPUB, xpub_manual=1)
    manual.setsockopt(zmq.SUBSCRIBE, b"A")  # nobody heard from yet: accepted, no effect


def test_xpub_manual(zmq, net, sock):
    """XPUB_MANUAL: every (un)subscription reaches the application and none takes effect; a
    SUBSCRIBE on the XPUB subscribes the peer whose subscription was read last."""
    xpub, (xsub,) = linked(zmq, net, sock, {"xpub_manual": 1}, sub_type=zmq.XSUB)
    xsub.send(b"\x01A")
    assert net.recv1(xpub) == b"\x01A"
    xpub.send(b"A-unwanted")  # not subscribed yet
    xpub.setsockopt(zmq.SUBSCRIBE, b"B")  # the application chooses B for it instead
    xpub.send(b"A-no")
    xpub.send(b"B-yes")
    assert net.recv1(xsub) == b"B-yes"
    xsub.send(b"\x01A")  # counted twice by the XSUB: the first cancel is not sent
    xsub.send(b"\x00A")
    xsub.send(b"\x00A")
    assert net.recv1(xpub) == b"\x01A"
    assert net.recv1(xpub) == b"\x00A"  # reported, although A never took effect
    xpub.setsockopt(zmq.UNSUBSCRIBE, b"B")
    xpub.send(b"B-no")
    net.nothing(xsub)


def test_xpub_manual_peer_leaving(zmq, net, sock):
    """XPUB_MANUAL: a peer that leaves unsubscribes everything it had asked for."""
    xpub, (sub,) = linked(zmq, net, sock, {"xpub_manual": 1})
    sub.setsockopt(zmq.SUBSCRIBE, b"A")
    assert net.recv1(xpub) == b"\x01A"
    sub.close()
    assert net.recv1(xpub) == b"\x00A"
    net.nothing(xpub)


def test_xpub_manual_last_value(zmq, net, sock):
    """XPUB_MANUAL_LAST_VALUE: the first send after a subscription was read goes to that
    subscriber only (its last value); the next ones to every subscriber."""
    xpub, subs = linked(zmq, net, sock, {"xpub_manual_last_value": 1}, 2)
    for sub in subs:
        sub.setsockopt(zmq.SUBSCRIBE, b"A")
        assert net.recv1(xpub) == b"\x01A"
        xpub.setsockopt(zmq.SUBSCRIBE, b"A")
    net.settle()
    xpub.send(b"A-last-value")  # to the second subscriber only
    xpub.send(b"A-everyone")
    assert net.recv1(subs[1]) == b"A-last-value"
    assert net.recv1(subs[1]) == b"A-everyone"
    assert net.recv1(subs[0]) == b"A-everyone"
    net.nothing(subs[0])


def test_xpub_welcome_msg(zmq, net, sock):
    """XPUB_WELCOME_MSG: each new subscriber gets it first (a SUB only if subscribed to it)."""
    xpub = sock(zmq.XPUB, xpub_welcome_msg=b"W-hello")
    sub = sock(zmq.SUB)
    sub.setsockopt(zmq.SUBSCRIBE, b"W")
    xsub = sock(zmq.XSUB)
    net.link(xpub, sub, xsub)
    assert net.recv1(sub) == b"W-hello"
    assert net.recv1(xsub) == b"W-hello"
    assert net.recv1(xpub) == b"\x01W"


def test_xpub_welcome_msg_cleared(zmq, net, sock):
    """An empty XPUB_WELCOME_MSG clears it."""
    xpub = sock(zmq.XPUB, xpub_welcome_msg=b"W-hello")
    xpub.setsockopt(zmq.XPUB_WELCOME_MSG, b"")
    xsub = sock(zmq.XSUB)
    net.link(xpub, xsub)
    net.nothing(xsub)


@pytest.mark.parametrize("only_first", [0, 1])
def test_xpub_multipart_upstream(zmq, net, sock, only_first):
    """Multipart messages from an XSUB: each frame that looks like an (un)subscription is
    one, the others are data; with ONLY_FIRST_SUBSCRIBE only if the first frame is one. The
    application reads data and reported subscriptions in order, a reported subscription
    ending the message it follows (libzmq pushes it without the MORE flag)."""
    xpub = sock(zmq.XPUB, only_first_subscribe=only_first)
    xsub = sock(zmq.XSUB)
    net.link(xpub, xsub)
    xsub.send_multipart([b"\x01a", b"\x01b"])
    assert [net.recv(xpub), net.recv(xpub)] == [[b"\x01a"], [b"\x01b"]]
    xsub.send_multipart([b"hello", b"\x01c"])  # c is a subscription unless only_first
    assert net.recv(xpub) == [b"hello", b"\x01c"]
    xsub.send_multipart([b"\x01d", b"data"])
    assert [net.recv(xpub), net.recv(xpub)] == [[b"\x01d"], [b"data"]]
    net.nothing(xpub)
    xpub.send(b"b-for-you")
    xpub.send(b"c-only-without-only-first")
    xpub.send(b"d-for-you")
    wanted = [b"b-for-you", b"d-for-you"]
    if not only_first:
        wanted.insert(1, b"c-only-without-only-first")
    assert [net.recv1(xsub) for _ in wanted] == wanted
    net.nothing(xsub)
