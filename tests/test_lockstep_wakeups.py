"""REQ and REP change readiness by their own sends and receives, not only by traffic: a REP that
has replied becomes readable if a request was already queued, and one that has received becomes
writable. A greenlet waiting on that readiness (Poller, ``socket.poll``, a blocking call) must be
woken by another greenlet's send or receive, as libzmq's pollers are (its ZMQ_EVENTS changes
with the socket's state)."""

from __future__ import annotations

import time

import gevent
import pytest

import gzmq as zmq

ENDPOINTS = ["inproc://lockstep", "tcp://127.0.0.1:*"]


def _pair(ctx, endpoint, server_type, client_type):
    server = ctx.socket(server_type)
    server.bind(endpoint)
    client = ctx.socket(client_type)
    client.connect(server.last_endpoint)
    return server, client


def _poll_in_greenlet(sock, flags):
    """A greenlet polling ``sock`` for up to 3 s; its value is the events seen, but only if they
    came promptly after the state change (``_changed()``), as a woken poller's would."""
    poller = zmq.Poller()
    poller.register(sock, flags)

    def poll():
        events = dict(poller.poll(3000)).get(sock, 0)
        return events if time.monotonic() - _changed.at < 1.0 else "woken only by the timeout"
    return gevent.spawn(poll)


def _changed():
    _changed.at = time.monotonic()


_changed.at = float("inf")


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_rep_poller_wakes_when_a_reply_makes_the_queued_request_readable(ctx, endpoint):
    rep, dealer = _pair(ctx, endpoint, zmq.REP, zmq.DEALER)
    dealer.send_multipart([b"", b"one"])
    dealer.send_multipart([b"", b"two"])
    assert rep.recv() == b"one"
    gevent.sleep(0.05)  # "two" is queued too, but REP must reply first
    assert rep.poll(0, zmq.POLLIN) == 0
    waiter = _poll_in_greenlet(rep, zmq.POLLIN)
    gevent.sleep(0.01)
    _changed()
    rep.send(b"reply")  # from this greenlet: nothing arrives, the state changes
    assert waiter.get(timeout=5) == zmq.POLLIN
    assert rep.recv() == b"two"


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_rep_poller_wakes_for_pollout_when_another_greenlet_receives(ctx, endpoint):
    rep, req = _pair(ctx, endpoint, zmq.REP, zmq.REQ)
    req.send(b"ask")
    assert rep.poll(2000, zmq.POLLIN) == zmq.POLLIN
    waiter = _poll_in_greenlet(rep, zmq.POLLOUT)
    gevent.sleep(0.01)
    assert not waiter.ready()  # REP has nothing to reply to yet
    _changed()
    assert rep.recv() == b"ask"
    assert waiter.get(timeout=5) == zmq.POLLOUT


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_req_poller_wakes_for_pollout_when_another_greenlet_gets_the_reply(ctx, endpoint):
    rep, req = _pair(ctx, endpoint, zmq.REP, zmq.REQ)
    req.send(b"ask")
    assert rep.recv() == b"ask"
    rep.send(b"answer")
    assert req.poll(2000, zmq.POLLIN) == zmq.POLLIN
    waiter = _poll_in_greenlet(req, zmq.POLLOUT)
    gevent.sleep(0.01)
    assert not waiter.ready()  # REQ must receive its reply before it may send
    _changed()
    assert req.recv() == b"answer"
    assert waiter.get(timeout=5) == zmq.POLLOUT


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_rep_blocking_recv_wakes_when_another_greenlet_replies(ctx, endpoint):
    rep, dealer = _pair(ctx, endpoint, zmq.REP, zmq.DEALER)
    dealer.send_multipart([b"", b"one"])
    dealer.send_multipart([b"", b"two"])
    assert rep.recv() == b"one"
    gevent.sleep(0.05)
    rep.rcvtimeo = 3000
    # a second greenlet's recv() is refused while a reply is owed (EFSM), so a blocking recv
    # in another greenlet is not the pattern; a poll() on the socket itself is
    waiter = gevent.spawn(rep.poll, 3000, zmq.POLLIN)
    gevent.sleep(0.01)
    t0 = time.monotonic()
    rep.send(b"reply")
    assert waiter.get(timeout=5) == zmq.POLLIN
    assert time.monotonic() - t0 < 1.0
