"""Routing strategies against in-memory pipes: no engine, no network, no greenlets."""

import struct

import pytest

from gzmq.constants import EFSM, EHOSTUNREACH, ENOTSUP, SocketType
from gzmq.error import Again, ZMQError
from gzmq.options import Options
from gzmq.pipe import SubscriptionCommand, pipe_pair
from gzmq.routing import ROUTING
from gzmq.routing.base import attach_pipe
from gzmq.routing.primitives import FairQueue, LoadBalancer, Subscriptions


def make(socket_type, **options):
    opts = Options(socket_type)
    for name, value in options.items():
        setattr(opts, name, value)
    return ROUTING[socket_type](opts)


def peer(routing, hwm=10, routing_id=b""):
    """Attach a new pipe to ``routing``; return the far end (what the peer sees)."""
    mine, theirs = pipe_pair(hwm, hwm)
    mine.routing_id = routing_id
    assert attach_pipe(routing, mine)  # as the socket's lifecycle does
    return theirs


# --- primitives ---------------------------------------------------------------------------------

def test_load_balancer_round_robins_and_skips_full_pipes():
    lb = LoadBalancer()
    ends = []
    for hwm in (1, 10, 10):
        mine, theirs = pipe_pair(hwm, hwm)
        lb.attach(mine)
        ends.append(theirs)
    for i in range(7):
        lb.send([b"%d" % i])
    counts = [len(end.inbound) for end in ends]
    assert counts == [1, 3, 3]  # the first pipe filled at 1 and was skipped afterwards


def test_load_balancer_again_only_when_all_full():
    lb = LoadBalancer()
    with pytest.raises(Again):
        lb.send([b"nobody"])
    mine, _ = pipe_pair(1, 1)
    lb.attach(mine)
    lb.send([b"1"])
    with pytest.raises(Again):
        lb.send([b"2"])


def test_fair_queue_rotates_between_pipes():
    fq = FairQueue()
    ends = []
    for _ in range(3):
        mine, theirs = pipe_pair(10, 10)
        fq.attach(mine)
        ends.append(theirs)
    for index, end in enumerate(ends):
        for n in range(2):
            end.send_nowait([b"%d-%d" % (index, n)])
    order = [fq.recv()[0] for _ in range(6)]
    assert order == [b"0-0", b"1-0", b"2-0", b"0-1", b"1-1", b"2-1"]


def test_fair_queue_keeps_a_detached_pipe_until_drained():
    fq = FairQueue()
    mine, theirs = pipe_pair(10, 10)
    fq.attach(mine)
    theirs.send_nowait([b"last words"])
    fq.detach(mine)
    assert fq.recv() == [b"last words"]
    assert fq.last_pipe is mine
    assert fq.pipes == []


def test_subscriptions_prefix_match_on_lengths():
    subs = Subscriptions()
    a, _ = pipe_pair(1, 1)
    b, _ = pipe_pair(1, 1)
    assert subs.add(a, b"ab") is True
    assert subs.add(b, b"ab") is False
    subs.add(b, b"")
    assert subs.match(b"abc") == {a, b}
    assert subs.match(b"x") == {b}
    assert subs.remove(a, b"ab") is False  # b still wants "ab"
    assert subs.remove_pipe(b) == [b"ab", b""]
    assert subs.match(b"abc") == set()


# --- socket types -------------------------------------------------------------------------------

def test_push_cannot_receive_and_pull_cannot_send():
    with pytest.raises(ZMQError) as e:
        make(SocketType.PUSH).recv_nowait()
    assert e.value.errno == ENOTSUP
    with pytest.raises(ZMQError):
        make(SocketType.PULL).send_nowait([b"x"])


def test_req_envelope_and_state_machine():
    req = make(SocketType.REQ)
    rep_side = peer(req)
    with pytest.raises(ZMQError) as e:
        req.recv_nowait()
    assert e.value.errno == EFSM
    req.send_nowait([b"hello"])
    assert rep_side.recv_nowait() == [b"", b"hello"]
    with pytest.raises(ZMQError) as e:
        req.send_nowait([b"again"])
    assert e.value.errno == EFSM
    rep_side.send_nowait([b"no delimiter"])  # malformed: dropped
    rep_side.send_nowait([b"", b"world"])
    assert req.recv_nowait() == [b"world"]


def test_req_ignores_replies_from_other_peers():
    req = make(SocketType.REQ)
    first, second = peer(req), peer(req)
    req.send_nowait([b"q"])
    asked, other = (first, second) if first.inbound.readable else (second, first)
    other.send_nowait([b"", b"impostor"])
    asked.send_nowait([b"", b"answer"])
    assert req.recv_nowait() == [b"answer"]


def test_req_correlate_prefixes_request_id():
    req = make(SocketType.REQ, req_correlate=1, req_relaxed=1)
    far = peer(req)
    req.send_nowait([b"one"])
    request_id, delimiter, body = far.recv_nowait()
    assert len(request_id) == 4 and delimiter == b"" and body == b"one"
    req.send_nowait([b"two"])  # relaxed: allowed; the reply to "one" is now stale
    far.recv_nowait()
    far.send_nowait([request_id, b"", b"stale"])
    with pytest.raises(Again):
        req.recv_nowait()


def test_rep_restores_envelope():
    rep = make(SocketType.REP)
    far = peer(rep)
    far.send_nowait([b"id1", b"id2", b"", b"request"])
    assert rep.recv_nowait() == [b"request"]
    with pytest.raises(ZMQError):
        rep.recv_nowait()  # EFSM while a reply is owed
    rep.send_nowait([b"reply"])
    assert far.recv_nowait() == [b"id1", b"id2", b"", b"reply"]


def test_rep_drops_requests_without_delimiter():
    rep = make(SocketType.REP)
    far = peer(rep)
    far.send_nowait([b"garbage"])
    far.send_nowait([b"", b"ok"])
    assert rep.recv_nowait() == [b"ok"]


def test_router_generates_ids_and_routes_by_them():
    router = make(SocketType.ROUTER)
    named = peer(router, routing_id=b"alice")
    anonymous = peer(router)
    anonymous.send_nowait([b"hi"])
    generated, body = router.recv_nowait()
    assert len(generated) == 5 and generated[0] == 0 and body == b"hi"
    router.send_nowait([b"alice", b"to alice"])
    router.send_nowait([generated, b"to anon"])
    router.send_nowait([b"nobody", b"lost"])  # silently dropped
    assert named.recv_nowait() == [b"to alice"]
    assert anonymous.recv_nowait() == [b"to anon"]


def test_router_generated_ids_count_up_big_endian():
    router = make(SocketType.ROUTER)
    ids = []
    for _ in range(3):
        far = peer(router)
        far.send_nowait([b"x"])
        ids.append(router.recv_nowait()[0])
    numbers = [struct.unpack(">I", i[1:])[0] for i in ids]
    assert numbers[1] == (numbers[0] + 1) & 0xFFFFFFFF


def test_router_mandatory():
    router = make(SocketType.ROUTER, router_mandatory=1)
    peer(router, hwm=1, routing_id=b"slow")
    with pytest.raises(ZMQError) as e:
        router.send_nowait([b"ghost", b"x"])
    assert e.value.errno == EHOSTUNREACH
    router.send_nowait([b"slow", b"1"])
    with pytest.raises(Again):
        router.send_nowait([b"slow", b"2"])


def test_router_duplicate_identity_refused_unless_handover():
    router = make(SocketType.ROUTER)
    peer(router, routing_id=b"dup")
    mine, _ = pipe_pair(1, 1)
    mine.routing_id = b"dup"
    assert router.attach(mine) is False
    handover = make(SocketType.ROUTER, router_handover=1)
    peer(handover, routing_id=b"dup")
    newcomer = peer(handover, routing_id=b"dup")
    handover.send_nowait([b"dup", b"x"])
    assert newcomer.recv_nowait() == [b"x"]


def test_pub_filters_by_prefix_and_drops_at_hwm():
    pub = make(SocketType.PUB)
    a = peer(pub, hwm=2)
    b = peer(pub, hwm=100)
    a.send_nowait([b"\x01weather"])  # ZMTP 3.0 / XSUB form
    b.force_send(SubscriptionCommand(True, b""))
    for i in range(5):
        pub.send_nowait([b"weather %d" % i])
    pub.send_nowait([b"sports"])
    assert len(a.inbound) == 2  # dropped past its HWM, never blocked
    assert len(b.inbound) == 6


def test_xpub_reports_first_subscription_and_last_cancel():
    xpub = make(SocketType.XPUB)
    a, b = peer(xpub), peer(xpub)
    a.force_send(SubscriptionCommand(True, b"t"))
    b.force_send(SubscriptionCommand(True, b"t"))
    assert xpub.recv_nowait() == [b"\x01t"]
    with pytest.raises(Again):
        xpub.recv_nowait()  # the second subscriber to "t" is not news
    a.force_send(SubscriptionCommand(False, b"t"))
    b.send_nowait([b"\x00t"])
    assert xpub.recv_nowait() == [b"\x00t"]


def test_xpub_verbose_reports_every_subscription():
    xpub = make(SocketType.XPUB, xpub_verbose=1)
    a, b = peer(xpub), peer(xpub)
    a.force_send(SubscriptionCommand(True, b"t"))
    b.force_send(SubscriptionCommand(True, b"t"))
    assert [xpub.recv_nowait(), xpub.recv_nowait()] == [[b"\x01t"], [b"\x01t"]]


def test_sub_counts_subscriptions_and_filters_locally():
    sub = make(SocketType.SUB)
    far = peer(sub)
    sub.subscribe(b"a")
    sub.subscribe(b"a")
    sub.unsubscribe(b"a")
    commands = [(c.subscribe, c.topic) for c in far.inbound.take_batch(10)]
    assert commands == [(True, b"a"), (True, b"a")]  # no CANCEL while one subscription remains
    far.send_nowait([b"b-unwanted"])
    far.send_nowait([b"a-wanted"])
    assert sub.recv_nowait() == [b"a-wanted"]
    sub.unsubscribe(b"a")
    assert far.recv_nowait().subscribe is False


def test_xsub_resends_subscriptions_after_hiccup():
    xsub = make(SocketType.XSUB)
    mine, far = pipe_pair(10, 10)
    xsub.attach(mine)
    xsub.send_nowait([b"\x01news"])
    assert far.recv_nowait() == [b"\x01news"]  # user-sent form travels as data
    mine.send_nowait([b"queued data"])
    xsub.hiccup(mine)
    first = far.recv_nowait()
    assert (first.subscribe, first.topic) == (True, b"news")
    assert far.recv_nowait() == [b"queued data"]


def test_pair_refuses_a_second_peer():
    pair = make(SocketType.PAIR)
    first = peer(pair)
    mine, _ = pipe_pair(1, 1)
    assert pair.attach(mine) is False
    pair.send_nowait([b"x"])
    assert first.recv_nowait() == [b"x"]
