"""REQ/REP/DEALER/ROUTER and PAIR against libzmq, gzmq on either side, tcp and ipc,
gzmq binding and connecting: request envelopes, routing ids, echo both ways.
"""
import gevent
import pytest

from interop_helpers import InteropTimeout, enc, encmsg, hexmsg, recv_msg

pytestmark = pytest.mark.interop

# bodies: single, multipart, with empty frames (also leading/trailing), and a "big" frame
BODIES = [[b"ping"], [b"a", b"", b"b"], [b"", b"lead-empty"], [b"trail-empty", b""], [b"x" * 1000]]


def reply_to(body):
    return [b"re:"] + body


def check_auto_id(rid):
    """libzmq's generated routing id: 5 bytes, 0x00 + uint32 counter."""
    assert len(rid) == 5 and rid[0] == 0, rid


def check_id(rid, expected):
    if expected is None:
        check_auto_id(rid)
    else:
        assert rid == expected


# -- REQ -> REP ----------------------------------------------------------------------------

@pytest.mark.parametrize("gz_side", ["REQ", "REP"])
def test_req_rep(link, gz_side):
    if gz_side == "REQ":
        sock, peer = link("REQ", "REP", [{"op": "echo", "count": len(BODIES)}])
        for body in BODIES:
            sock.send_multipart(body)
            assert recv_msg(sock, "REP") == body
        peer.assert_received(BODIES, "REQ")  # REP strips the envelope
    else:
        sock, peer = link("REP", "REQ", [{"op": "req", "msgs": [hexmsg(b) for b in BODIES]}])
        for body in BODIES:
            assert recv_msg(sock, "REQ") == body
            sock.send_multipart(reply_to(body))
        peer.assert_received([reply_to(b) for b in BODIES], "REP")
    assert peer.result() == []


# -- REQ / DEALER -> ROUTER ----------------------------------------------------------------

@pytest.mark.parametrize("rid", [b"client-1", b"\x00id-with-nul", None], ids=["id", "nul-id", "auto-id"])
@pytest.mark.parametrize("client", ["REQ", "DEALER"])
def test_gz_client_to_libzmq_router(link, client, rid):
    """The libzmq ROUTER sees [routing id, (b"" for REQ,) body] and routes the echo back."""
    sock, peer = link(client, "ROUTER", [{"op": "echo", "count": len(BODIES)}],
                      gz_opts={"routing_id": rid} if rid is not None else None)
    delim = [b""] if client == "REQ" else []
    for body in BODIES:
        sock.send_multipart(body)
        assert recv_msg(sock, "ROUTER") == body
    got = peer.lines(len(BODIES))
    assert {g["st"] for g in got} == {client}
    ids = set()
    for g, body in zip(got, BODIES):
        ids.add(g["recv"][0])
        assert g["recv"][1:] == encmsg(delim + body)
    (the_id,) = ids  # one connection, one id
    check_id(bytes.fromhex(the_id), rid)
    assert peer.result() == []


@pytest.mark.parametrize("rid", [b"client-1", b"\x00id-with-nul", None], ids=["id", "nul-id", "auto-id"])
@pytest.mark.parametrize("client", ["REQ", "DEALER"])
def test_libzmq_client_to_gz_router(link, client, rid):
    """The gzmq ROUTER sees the libzmq peer's routing id (or a generated 5-byte one)."""
    delim = [b""] if client == "REQ" else []
    sock, peer = link("ROUTER", client, [{"op": "req", "msgs": [hexmsg(b) for b in BODIES]}],
                      peer_opts={"routing_id": rid} if rid is not None else None)
    ids = set()
    for body in BODIES:
        frames = recv_msg(sock, client)
        ids.add(frames[0])
        assert frames[1:] == delim + body
        sock.send_multipart([frames[0]] + delim + reply_to(body))
    (the_id,) = ids
    if rid is None:  # gzmq's own generated id: same convention as libzmq
        check_auto_id(the_id)
    else:
        assert the_id == rid
    peer.assert_received([reply_to(b) for b in BODIES], "ROUTER")
    assert peer.result() == []


# -- DEALER -> REP -------------------------------------------------------------------------

@pytest.mark.parametrize("gz_side", ["DEALER", "REP"])
def test_dealer_rep(link, gz_side):
    if gz_side == "DEALER":
        sock, peer = link("DEALER", "REP", [{"op": "echo", "count": len(BODIES)}])
        for body in BODIES:
            sock.send_multipart([b""] + body)  # the DEALER application supplies the delimiter
            assert recv_msg(sock, "REP") == [b""] + body
        peer.assert_received(BODIES, "DEALER")
    else:
        sock, peer = link("REP", "DEALER", [{"op": "req", "msgs": [hexmsg([b""] + b) for b in BODIES]}])
        for body in BODIES:
            assert recv_msg(sock, "DEALER") == body
            sock.send_multipart(reply_to(body))
        peer.assert_received([[b""] + reply_to(b) for b in BODIES], "REP")
    assert peer.result() == []


def test_gz_rep_keeps_full_envelope(link):
    """A libzmq DEALER sending [hop2, hop1, b"", body] gets the whole envelope back from gzmq REP."""
    env = [b"hop-2", b"\x00\x01", b""]
    msgs = [env + b for b in BODIES]
    sock, peer = link("REP", "DEALER", [{"op": "req", "msgs": [hexmsg(m) for m in msgs]}])
    for body in BODIES:
        assert recv_msg(sock, "DEALER") == body
        sock.send_multipart(reply_to(body))
    assert peer.recv_msgs(len(BODIES)) == [encmsg(env + reply_to(b)) for b in BODIES]
    assert peer.result() == []


# -- symmetric pairs: DEALER <-> DEALER, PAIR <-> PAIR -------------------------------------

@pytest.mark.parametrize("gz_first", [True, False], ids=["gz-first", "libzmq-first"])
@pytest.mark.parametrize("kind", ["DEALER", "PAIR"])
def test_symmetric(link, kind, gz_first):
    if gz_first:
        sock, peer = link(kind, kind, [{"op": "echo", "count": len(BODIES)}])
        for body in BODIES:
            sock.send_multipart(body)
        assert [recv_msg(sock, kind) for _ in BODIES] == BODIES
        assert peer.recv_msgs(len(BODIES)) == [encmsg(b) for b in BODIES]
        assert peer.result() == []
    else:
        sock, peer = link(kind, kind, [{"op": "send", "msgs": [hexmsg(b) for b in BODIES]},
                                       {"op": "recv", "count": len(BODIES)}])
        for body in BODIES:
            assert recv_msg(sock, kind) == body
            sock.send_multipart(reply_to(body))
        got = peer.lines(1 + len(BODIES))
        assert got[0] == {"sent": len(BODIES)}
        assert [g["recv"] for g in got[1:]] == [encmsg(reply_to(b)) for b in BODIES]
        assert {g["st"] for g in got[1:]} == {kind}
        assert peer.result() == []


# -- ROUTER <-> ROUTER ---------------------------------------------------------------------

GZ_ID, LZ_ID = b"gz-router", b"lz-router"


def test_router_router(link, gz_binds):
    """Both sides named; the connecting side addresses the bound one by its routing id."""
    if gz_binds:
        # libzmq connects: ROUTER_MANDATORY makes its first send fail (EHOSTUNREACH, retried
        # by peer.py) until the handshake has told it our routing id.
        sock, peer = link("ROUTER", "ROUTER",
                          [{"op": "send", "retry": True, "msgs": [hexmsg([GZ_ID, b"hello", b""])]},
                           {"op": "recv", "count": 2}],
                          gz_opts={"routing_id": GZ_ID}, peer_opts={"routing_id": LZ_ID, "router_mandatory": 1})
        assert recv_msg(sock, "ROUTER") == [LZ_ID, b"hello", b""]
        sock.send_multipart([LZ_ID, b"back", b""])
        sock.send_multipart([LZ_ID, b"again"])
        assert peer.lines(3) == [{"sent": 1},
                                 {"recv": encmsg([GZ_ID, b"back", b""]), "st": "ROUTER"},
                                 {"recv": encmsg([GZ_ID, b"again"]), "st": "ROUTER"}]
    else:
        # gzmq connects: messages to a not-yet-known id are dropped silently, so resend
        # (with a sequence number) until the libzmq ROUTER's echo comes back.
        sock, peer = link("ROUTER", "ROUTER", [{"op": "echo"}],
                          gz_opts={"routing_id": GZ_ID}, peer_opts={"routing_id": LZ_ID})
        reply = None
        with gevent.Timeout(10, InteropTimeout("no echo from the libzmq ROUTER")):
            for i in range(1000):
                sock.send_multipart([LZ_ID, b"hello-%d" % i, b""])
                with gevent.Timeout(0.1, False):
                    reply = recv_msg(sock, "ROUTER")
                    break
        assert reply is not None and reply[0] == LZ_ID and reply[1].startswith(b"hello-") and reply[2:] == [b""]
        sock.send_multipart([LZ_ID, b"second"])
        while True:  # a late echo of an earlier hello may come first
            msg = recv_msg(sock, "ROUTER")
            if not msg[1].startswith(b"hello-"):
                break
        assert msg == [LZ_ID, b"second"]
        got = peer.result()
        assert got and {g["recv"][0] for g in got} == {enc(GZ_ID)}
        assert got[-1]["recv"] == encmsg([GZ_ID, b"second"])
