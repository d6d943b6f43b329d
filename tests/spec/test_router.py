"""RFC 28 ROUTER as libzmq 4.3.5 implements it (cf. test_spec_router, test_router_mandatory,
test_router_handover, test_connect_rid, test_probe_router). Each test runs on inproc, tcp, ipc.
"""
from __future__ import annotations

import pytest

BIG = b"x" * 65536


def unreachable(zmq, operation, *args):
    with pytest.raises(zmq.ZMQError) as info:
        operation(*args)
    assert info.value.errno == zmq.EHOSTUNREACH


def test_router_prefixes_peer_routing_id(zmq, net, sock):
    """ROUTER SHALL prefix each message with the peer's routing id (ROUTING_ID of the peer)."""
    router = sock(zmq.ROUTER)
    dealer = sock(zmq.DEALER, routing_id=b"dealer-A")
    req = sock(zmq.REQ, routing_id=b"req-B")
    net.link(router, dealer, req)
    dealer.send_multipart([b"x", b"y"])
    assert net.recv(router) == [b"dealer-A", b"x", b"y"]
    req.send(b"q")
    assert net.recv(router) == [b"req-B", b"", b"q"]


def test_router_generates_routing_ids(zmq, net, sock):
    """Without ROUTING_ID the ROUTER makes a 5-byte id starting with 0x00, unique per peer."""
    router = sock(zmq.ROUTER)
    dealers = [sock(zmq.DEALER) for _ in range(3)]
    net.link(router, *dealers)
    ids = []
    for index, dealer in enumerate(dealers):
        dealer.send(b"%d" % index)
        rid, body = net.recv(router)
        assert body == b"%d" % index
        assert len(rid) == 5 and rid[0] == 0, rid
        ids.append(rid)
    assert len(set(ids)) == 3
    for index, rid in enumerate(ids):  # and the generated ids route replies
        router.send_multipart([rid, b"back%d" % index])
    for index, dealer in enumerate(dealers):
        assert net.recv1(dealer) == b"back%d" % index


def test_router_routes_by_first_frame(zmq, net, sock):
    """ROUTER SHALL use the first frame to choose the peer, and remove it."""
    router = sock(zmq.ROUTER)
    a, b = sock(zmq.DEALER, routing_id=b"A"), sock(zmq.DEALER, routing_id=b"B")
    net.link(router, a, b)
    router.send_multipart([b"B", b"to-b", b"part2"])
    router.send_multipart([b"A", b"to-a"])
    router.send_multipart([b"B", b"to-b-again"])
    assert net.recv(a) == [b"to-a"]
    assert net.recv(b) == [b"to-b", b"part2"]
    assert net.recv(b) == [b"to-b-again"]
    net.nothing(a, 0.05)


def test_router_unknown_id_dropped(zmq, net, sock):
    """A message to an unknown routing id is silently dropped (no error, nobody gets it)."""
    router = sock(zmq.ROUTER)
    a = sock(zmq.DEALER, routing_id=b"A")
    net.link(router, a)
    router.send_multipart([b"nobody", b"lost"], zmq.NOBLOCK)
    router.send_multipart([b"nobody", b"lost"])
    router.send_multipart([b"A", b"found"])
    assert net.recv(a) == [b"found"]
    net.nothing(a, 0.05)


def test_router_mandatory_unknown_id(zmq, net, sock):
    """ROUTER_MANDATORY: an unknown routing id raises EHOSTUNREACH (blocking or not)."""
    router = sock(zmq.ROUTER, router_mandatory=1)
    a = sock(zmq.DEALER, routing_id=b"A")
    net.link(router, a)
    unreachable(zmq, router.send_multipart, [b"nobody", b"x"], zmq.NOBLOCK)
    unreachable(zmq, router.send_multipart, [b"nobody", b"x"])
    router.send_multipart([b"A", b"ok"])  # the failed message left no partial state
    assert net.recv(a) == [b"ok"]


def test_router_mandatory_full_pipe_again(zmq, net, sock):
    """ROUTER_MANDATORY: a peer at its HWM makes send raise EAGAIN (not a silent drop)."""
    router = sock(zmq.ROUTER, router_mandatory=1, sndhwm=1, sndtimeo=100)
    peer = sock(zmq.DEALER, routing_id=b"P", rcvhwm=1)
    net.link(router, peer)
    count = net.fill(lambda: router.send_multipart([b"P", BIG], zmq.NOBLOCK))
    with pytest.raises(zmq.Again):
        router.send_multipart([b"P", BIG])  # waits SNDTIMEO, then EAGAIN
    assert len(net.drain(peer)) == count  # nothing was dropped


def test_router_full_pipe_drops_without_mandatory(zmq, net, sock):
    """Without ROUTER_MANDATORY a full peer silently misses messages; send never blocks."""
    router = sock(zmq.ROUTER, sndhwm=1)
    peer = sock(zmq.DEALER, routing_id=b"P", rcvhwm=1)
    net.link(router, peer)
    total = 200 if net.transport == "inproc" else 1000
    for index in range(total):
        router.send_multipart([b"P", b"%d" % index + BIG], zmq.NOBLOCK)
    assert len(net.drain(peer)) < total


def same_id_twice(zmq, net, sock, **router_options):
    """A ROUTER that has heard from DEALER "X", then a second DEALER "X" that connects and
    sends b"hello-2"; (router, first, second)."""
    router = sock(zmq.ROUTER, **router_options)
    first = sock(zmq.DEALER, routing_id=b"X")
    second = sock(zmq.DEALER, routing_id=b"X")
    net.link(router, first)
    first.send(b"hello-1")
    assert net.recv(router) == [b"X", b"hello-1"]
    net.watch(second)
    second.connect(router.getsockopt(zmq.LAST_ENDPOINT).decode())
    net.wait(second)
    net.wait(router)
    second.send(b"hello-2")
    return router, first, second


def test_router_duplicate_id_ignored(zmq, net, sock):
    """A second peer presenting a routing id already in use is ignored (libzmq default)."""
    router, first, second = same_id_twice(zmq, net, sock)
    router.send_multipart([b"X", b"reply"])
    assert net.recv(first) == [b"reply"]
    net.nothing(second)
    net.nothing(router)
    first.send(b"again-1")
    assert net.recv(router) == [b"X", b"again-1"]


def test_router_handover(zmq, net, sock):
    """ROUTER_HANDOVER: the newcomer with a duplicate routing id takes the id over."""
    router, first, second = same_id_twice(zmq, net, sock, router_handover=1)
    assert net.recv(router) == [b"X", b"hello-2"]
    router.send_multipart([b"X", b"reply"])
    assert net.recv(second) == [b"reply"]
    net.nothing(first)


def test_connect_routing_id_names_connection(zmq, net, sock):
    """CONNECT_ROUTING_ID names the next outgoing connection of a ROUTER (router-router)."""
    server = sock(zmq.ROUTER, routing_id=b"server-self")
    client = sock(zmq.ROUTER, routing_id=b"client-self", router_mandatory=1)
    client.setsockopt(zmq.CONNECT_ROUTING_ID, b"to-server")
    net.link(server, client)
    client.send_multipart([b"to-server", b"hello"])
    assert net.recv(server) == [b"client-self", b"hello"]
    server.send_multipart([b"client-self", b"back"])
    assert net.recv(client) == [b"to-server", b"back"]
    unreachable(zmq, client.send_multipart, [b"server-self", b"x"], zmq.NOBLOCK)


def test_connect_routing_id_einval(zmq, sock):
    """libzmq accepts CONNECT_ROUTING_ID only on ROUTER (and STREAM, REP): EINVAL elsewhere."""
    refused = []
    for name in ("PAIR", "PUB", "SUB", "REQ", "DEALER", "PULL", "PUSH", "XPUB", "XSUB"):
        try:
            sock(getattr(zmq, name)).setsockopt(zmq.CONNECT_ROUTING_ID, b"x")
        except zmq.ZMQError as error:
            if error.errno == zmq.EINVAL:
                refused.append(name)
    assert refused == ["PAIR", "PUB", "SUB", "REQ", "DEALER", "PULL", "PUSH", "XPUB", "XSUB"]
    for name in ("ROUTER", "REP"):
        sock(getattr(zmq, name)).setsockopt(zmq.CONNECT_ROUTING_ID, b"x")


def test_router_router_explicit_ids(zmq, net, sock):
    """ROUTER to ROUTER: the connecting side learns the bound side's ROUTING_ID."""
    server = sock(zmq.ROUTER, routing_id=b"S")
    client = sock(zmq.ROUTER, routing_id=b"C", router_mandatory=1)
    net.link(server, client)
    client.send_multipart([b"S", b"ping"])
    assert net.recv(server) == [b"C", b"ping"]
    server.send_multipart([b"C", b"pong"])
    assert net.recv(client) == [b"S", b"pong"]


def test_probe_router_dealer(zmq, net, sock):
    """PROBE_ROUTER: a connecting DEALER sends one empty message as soon as it connects."""
    router = sock(zmq.ROUTER)
    dealer = sock(zmq.DEALER, routing_id=b"P", probe_router=1)
    net.link(router, dealer)
    assert net.recv(router) == [b"P", b""]
    dealer.send(b"after")
    assert net.recv(router) == [b"P", b"after"]


def test_probe_router_router(zmq, net, sock):
    """PROBE_ROUTER on a connecting ROUTER: the bound ROUTER gets [id, b""] and can reply."""
    server = sock(zmq.ROUTER)
    client = sock(zmq.ROUTER, routing_id=b"C", probe_router=1)
    net.link(server, client)
    assert net.recv(server) == [b"C", b""]
    server.send_multipart([b"C", b"hi"])
    rid, body = net.recv(client)
    assert body == b"hi" and len(rid) == 5 and rid[0] == 0


def test_router_fair_queue_in(zmq, net, sock):
    """ROUTER SHALL receive from its peers fair-queued."""
    router = sock(zmq.ROUTER)
    dealers = [sock(zmq.DEALER, routing_id=b"D%d" % i) for i in range(3)]
    net.link(router, *dealers)
    for dealer in dealers:
        dealer.send(b"first")
        dealer.send(b"second")
    assert router.poll(5000)
    net.settle()
    first = sorted(net.recv(router) for _ in range(3))
    assert first == [[b"D%d" % i, b"first"] for i in range(3)]
    second = sorted(net.recv(router) for _ in range(3))
    assert second == [[b"D%d" % i, b"second"] for i in range(3)]
