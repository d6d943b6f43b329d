"""RFC 28 (REQ/REP, DEALER) as libzmq 4.3.5 implements it (cf. test_spec_req, test_spec_rep,
test_spec_dealer, test_req_correlate, test_req_relaxed). Each test runs on inproc, tcp, ipc.
"""
from __future__ import annotations

import struct
import sys
import time

import pytest

NATIVE_U32 = "<I" if sys.byteorder == "little" else ">I"


def first_readable(socks, timeout=5.0):
    """Index of the first socket in ``socks`` that has a message (bounded wait)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for index, s in enumerate(socks):
            if s.poll(5):
                return index
    raise AssertionError("no socket received anything")


def efsm(zmq, operation, *args):
    with pytest.raises(zmq.ZMQError) as info:
        operation(*args)
    assert info.value.errno == zmq.EFSM


# --- REQ/REP state machines -----------------------------------------------------------------

def test_req_send_twice_efsm(zmq, net, sock):
    """REQ SHALL NOT send a second request before it has received the reply: EFSM."""
    req, rep = sock(zmq.REQ), sock(zmq.REP)
    net.link(rep, req)
    req.send(b"one")
    efsm(zmq, req.send, b"two", zmq.NOBLOCK)
    efsm(zmq, req.send, b"two")
    assert net.recv1(rep) == b"one"
    rep.send(b"r1")
    assert net.recv1(req) == b"r1"
    req.send(b"three")  # strict alternation: allowed again
    assert net.recv1(rep) == b"three"


def test_req_recv_before_send_efsm(zmq, net, sock):
    """REQ SHALL NOT receive before it has sent a request: EFSM."""
    req, rep = sock(zmq.REQ), sock(zmq.REP)
    net.link(rep, req)
    efsm(zmq, req.recv, zmq.NOBLOCK)
    efsm(zmq, req.recv)


def test_rep_send_before_recv_efsm(zmq, net, sock):
    """REP SHALL NOT send a reply before it has received a request: EFSM."""
    req, rep = sock(zmq.REQ), sock(zmq.REP)
    net.link(rep, req)
    efsm(zmq, rep.send, b"x", zmq.NOBLOCK)
    efsm(zmq, rep.send, b"x")


def test_rep_recv_twice_efsm(zmq, net, sock):
    """REP SHALL NOT receive again before it has replied: EFSM (even with requests queued)."""
    rep = sock(zmq.REP)
    reqs = [sock(zmq.REQ) for _ in range(2)]
    net.link(rep, *reqs)
    for index, req in enumerate(reqs):
        req.send(b"q%d" % index)
    first = net.recv1(rep)
    efsm(zmq, rep.recv, zmq.NOBLOCK)
    rep.send(b"r")
    second = net.recv1(rep)
    assert sorted([first, second]) == [b"q0", b"q1"]


def test_req_rep_multipart_roundtrip(zmq, net, sock):
    """Request and reply bodies are delivered whole, frames in order."""
    req, rep = sock(zmq.REQ), sock(zmq.REP)
    net.link(rep, req)
    req.send_multipart([b"a", b"", b"c"])
    assert net.recv(rep) == [b"a", b"", b"c"]
    rep.send_multipart([b"x", b"y"])
    assert net.recv(req) == [b"x", b"y"]


# --- REQ routing ----------------------------------------------------------------------------

def test_req_round_robin_out(zmq, net, sock):
    """REQ SHALL route requests to its peers round-robin (connect order when connecting)."""
    reps = [sock(zmq.REP) for _ in range(3)]
    req = sock(zmq.REQ)
    for rep in reps:
        net.link(rep, req)
    for index in range(6):
        req.send(b"q%d" % index)
        rep = reps[index % 3]
        assert net.recv1(rep) == b"q%d" % index
        rep.send(b"r%d" % index)
        assert net.recv1(req) == b"r%d" % index


def test_req_round_robin_bound(zmq, net, sock):
    """A bound REQ also round-robins; each REP gets every third request."""
    req = sock(zmq.REQ)
    reps = [sock(zmq.REP) for _ in range(3)]
    net.link(req, *reps)
    order = []
    for index in range(6):
        req.send(b"q%d" % index)
        position = first_readable(reps)
        assert reps[position].recv() == b"q%d" % index
        reps[position].send(b"r")
        assert net.recv1(req) == b"r"
        order.append(position)
    assert sorted(order[:3]) == [0, 1, 2]
    assert order[3:] == order[:3]


def test_req_wire_format_seen_by_router(zmq, net, sock):
    """REQ SHALL prefix the request with an empty delimiter frame: [id, b"", body...]."""
    router = sock(zmq.ROUTER)
    req = sock(zmq.REQ, routing_id=b"REQ")
    net.link(router, req)
    req.send_multipart([b"a", b"b"])
    assert net.recv(router) == [b"REQ", b"", b"a", b"b"]
    router.send_multipart([b"REQ", b"", b"x", b"y"])
    assert net.recv(req) == [b"x", b"y"]


def reply_without_delimiter(zmq, net, sock):
    """A REQ whose request a ROUTER answers first without the empty delimiter, then with a
    good reply b"good"; returns (router, req)."""
    router = sock(zmq.ROUTER)
    req = sock(zmq.REQ, routing_id=b"REQ")
    net.link(router, req)
    req.send(b"q")
    assert net.recv(router) == [b"REQ", b"", b"q"]
    router.send_multipart([b"REQ", b"bogus", b"reply"])
    router.send_multipart([b"REQ", b"", b"good"])
    return router, req


def test_req_discards_reply_without_delimiter(zmq, net, sock):
    """REQ SHALL discard a reply that does not start with an empty delimiter (inproc)."""
    if net.transport != "inproc":
        pytest.skip("tcp/ipc: see test_req_malformed_reply_drops_connection")
    _, req = reply_without_delimiter(zmq, net, sock)
    assert net.recv(req) == [b"good"]


def test_req_malformed_reply_drops_connection(zmq, net, sock):
    """tcp/ipc: libzmq's req_session_t rejects a reply without delimiter as a protocol
    error (EFAULT): the connection is closed for good (no reconnect) and whatever the peer
    sent behind it is lost."""
    if net.transport == "inproc":
        pytest.skip("inproc has no session: see test_req_discards_reply_without_delimiter")
    router, req = reply_without_delimiter(zmq, net, sock)
    net.nothing(req, 0.3)
    router.send_multipart([b"REQ", b"", b"again"])  # a reconnect would have delivered this
    net.nothing(req, 0.3)


def test_req_accepts_reply_only_from_its_peer(zmq, net, sock):
    """REQ SHALL accept a reply only from the peer it sent the request to."""
    routers = [sock(zmq.ROUTER) for _ in range(2)]
    req = sock(zmq.REQ, routing_id=b"REQ")
    for router in routers:
        net.link(router, req)
    req.send(b"q1")
    assert net.recv(routers[0]) == [b"REQ", b"", b"q1"]  # connect order: first router
    routers[1].send_multipart([b"REQ", b"", b"wrong-peer"])
    net.settle()
    routers[0].send_multipart([b"REQ", b"", b"right-peer"])
    assert net.recv(req) == [b"right-peer"]
    # the stale reply is not taken for the answer to the next request (to routers[1])
    req.send(b"q2")
    assert net.recv(routers[1]) == [b"REQ", b"", b"q2"]
    routers[1].send_multipart([b"REQ", b"", b"answer2"])
    assert net.recv(req) == [b"answer2"]
    net.nothing(req)


def test_req_relaxed_allows_resend(zmq, net, sock):
    """REQ_RELAXED: a new request may be sent without waiting for the reply."""
    router = sock(zmq.ROUTER)
    req = sock(zmq.REQ, routing_id=b"R", req_relaxed=1, req_correlate=1)
    net.link(router, req)
    req.send(b"one")
    req.send(b"two")
    first, second = net.recv(router), net.recv(router)
    assert first[0] == second[0] == b"R" and first[2:] == [b"", b"one"]
    assert second[2:] == [b"", b"two"]
    router.send_multipart(first[:3] + [b"reply-one"])  # stale: dropped
    router.send_multipart(second[:3] + [b"reply-two"])
    assert net.recv(req) == [b"reply-two"]
    net.nothing(req)


def test_req_relaxed_without_correlate_takes_next_reply(zmq, net, sock):
    """REQ_RELAXED alone: no ids, so the first reply on the pipe answers the latest request."""
    router = sock(zmq.ROUTER)
    req = sock(zmq.REQ, routing_id=b"R", req_relaxed=1)
    net.link(router, req)
    req.send(b"one")
    req.send(b"two")
    assert net.recv(router) == [b"R", b"", b"one"]
    assert net.recv(router) == [b"R", b"", b"two"]
    router.send_multipart([b"R", b"", b"reply"])
    assert net.recv(req) == [b"reply"]


def test_req_correlate_request_id(zmq, net, sock):
    """REQ_CORRELATE prefixes a 4-byte request id (host order, +1 per request); replies
    with another id are discarded."""
    router = sock(zmq.ROUTER)
    req = sock(zmq.REQ, routing_id=b"R", req_correlate=1)
    net.link(router, req)
    ids = []
    for body in (b"a", b"b"):
        req.send(body)
        msg = net.recv(router)
        assert len(msg) == 4 and msg[0] == b"R" and msg[2:] == [b"", body], msg
        assert len(msg[1]) == 4
        ids.append(struct.unpack(NATIVE_U32, msg[1])[0])
        wrong = struct.pack(NATIVE_U32, (ids[-1] + 7) & 0xFFFFFFFF)
        router.send_multipart([b"R", wrong, b"", b"bad"])
        router.send_multipart([b"R", b"", b"no-id"])
        router.send_multipart([b"R", msg[1], b"", b"ok-" + body])
        assert net.recv(req) == [b"ok-" + body]
    assert ids[1] == (ids[0] + 1) & 0xFFFFFFFF


# --- REP ------------------------------------------------------------------------------------

def test_rep_restores_envelope(zmq, net, sock):
    """REP SHALL return the reply with the request's envelope (everything up to the delimiter)."""
    rep, dealer = sock(zmq.REP), sock(zmq.DEALER)
    net.link(rep, dealer)
    dealer.send_multipart([b"id1", b"id2", b"", b"body", b"more"])
    assert net.recv(rep) == [b"body", b"more"]
    rep.send(b"reply")
    assert net.recv(dealer) == [b"id1", b"id2", b"", b"reply"]


def test_rep_envelope_through_router_dealer(zmq, net, sock):
    """REQ -> ROUTER/DEALER device -> REP: the stacked envelope comes back intact."""
    front, back = sock(zmq.ROUTER), sock(zmq.DEALER)
    req, rep = sock(zmq.REQ, routing_id=b"client"), sock(zmq.REP)
    net.link(front, req)
    net.link(back, rep)
    req.send(b"hello")
    msg = net.recv(front)
    assert msg == [b"client", b"", b"hello"]
    back.send_multipart(msg)
    assert net.recv(rep) == [b"hello"]
    rep.send(b"world")
    reply = net.recv(back)
    assert reply == [b"client", b"", b"world"]
    front.send_multipart(reply)
    assert net.recv(req) == [b"world"]


def test_rep_drops_request_without_delimiter(zmq, net, sock):
    """REP SHALL silently discard a message with no empty delimiter frame."""
    rep, dealer = sock(zmq.REP), sock(zmq.DEALER)
    net.link(rep, dealer)
    dealer.send_multipart([b"no", b"delimiter"])
    dealer.send(b"single")
    dealer.send_multipart([b"", b"ok"])
    assert net.recv(rep) == [b"ok"]
    rep.send(b"reply")
    assert net.recv(dealer) == [b"", b"reply"]
    net.nothing(rep)


def test_rep_fair_queues_requests(zmq, net, sock):
    """REP SHALL receive requests from its peers fair-queued."""
    rep = sock(zmq.REP)
    dealers = [sock(zmq.DEALER) for _ in range(3)]
    net.link(rep, *dealers)
    for index, dealer in enumerate(dealers):
        dealer.send_multipart([b"", b"first%d" % index])
        dealer.send_multipart([b"", b"second%d" % index])
    assert rep.poll(5000)
    net.settle()
    got = []
    for _ in range(6):
        got.append(net.recv1(rep))
        rep.send(b"r")
    assert sorted(got[:3]) == [b"first0", b"first1", b"first2"]
    assert sorted(got[3:]) == [b"second0", b"second1", b"second2"]


# --- DEALER ---------------------------------------------------------------------------------

def test_dealer_rep(zmq, net, sock):
    """DEALER talks to REP by adding/stripping the empty delimiter itself."""
    dealer, rep = sock(zmq.DEALER), sock(zmq.REP)
    net.link(rep, dealer)
    dealer.send_multipart([b"", b"hi"])
    assert net.recv(rep) == [b"hi"]
    rep.send(b"re")
    assert net.recv(dealer) == [b"", b"re"]


def test_dealer_router(zmq, net, sock):
    """DEALER <-> ROUTER: no envelope added by the DEALER; the ROUTER adds the routing id."""
    router, dealer = sock(zmq.ROUTER), sock(zmq.DEALER, routing_id=b"D")
    net.link(router, dealer)
    dealer.send_multipart([b"x", b"y"])
    assert net.recv(router) == [b"D", b"x", b"y"]
    router.send_multipart([b"D", b"back"])
    assert net.recv(dealer) == [b"back"]


def test_dealer_round_robin_out(zmq, net, sock):
    """DEALER SHALL route outgoing messages round-robin (connect order when connecting)."""
    routers = [sock(zmq.ROUTER) for _ in range(3)]
    dealer = sock(zmq.DEALER, routing_id=b"D")
    for router in routers:
        net.link(router, dealer)
    for index in range(6):
        dealer.send(b"%d" % index)
    for index, router in enumerate(routers):
        assert net.recv(router) == [b"D", b"%d" % index]
        assert net.recv(router) == [b"D", b"%d" % (index + 3)]


def test_dealer_fair_queue_in(zmq, net, sock):
    """DEALER SHALL receive incoming messages from its peers fair-queued."""
    routers = [sock(zmq.ROUTER) for _ in range(3)]
    dealer = sock(zmq.DEALER, routing_id=b"D")
    for router in routers:
        net.link(router, dealer)
    for index, router in enumerate(routers):
        router.send_multipart([b"D", b"first%d" % index])
        router.send_multipart([b"D", b"second%d" % index])
    assert dealer.poll(5000)
    net.settle()
    assert sorted(net.recv1(dealer) for _ in range(3)) == [b"first0", b"first1", b"first2"]
    assert sorted(net.recv1(dealer) for _ in range(3)) == [b"second0", b"second1", b"second2"]


def test_dealer_block_on_send_no_peers(zmq, net, sock):
    """DEALER SHALL block (EAGAIN with NOBLOCK / SNDTIMEO) when it has no peers."""
    dealer = sock(zmq.DEALER, sndtimeo=100)
    net.bind(dealer)
    net.assert_send_blocks(dealer)


def test_req_block_on_send_no_peers(zmq, net, sock):
    """REQ SHALL block (EAGAIN with NOBLOCK / SNDTIMEO) when it has no peers."""
    req = sock(zmq.REQ, sndtimeo=100)
    net.bind(req)
    net.assert_send_blocks(req)
