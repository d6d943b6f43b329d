"""CURVE against libzmq: gzmq as CURVE client and as CURVE server, tcp and ipc.

Messages both ways (DEALER/ROUTER, PUSH/PULL with the CURVE server connecting, PUB/SUB
with subscriptions travelling client -> server), multipart and 1 MiB, keys as Z85 and raw;
ZAP on whichever side is the server (gzmq.auth.Authenticator here, pyzmq's
ThreadAuthenticator in the peer) allowing one client key; a wrong server key.

libzmq 4.3.5 behaviour encoded here (security.md §4-§5, re-checked with pyzmq): a client
refused by ZAP (ERROR "400") reports HANDSHAKE_FAILED_AUTH 400 and never reconnects; the
server reports HANDSHAKE_FAILED_AUTH 400 too.  A HELLO sealed for the wrong server key makes
the server report HANDSHAKE_FAILED_PROTOCOL ZMTP_CRYPTOGRAPHIC and close; the client sees a
plain disconnect (HANDSHAKE_FAILED_NO_DETAIL) and keeps reconnecting.
"""
import os

import gevent
import pytest

from interop_helpers import (EV_ACCEPTED, EV_CONNECT_RETRIED, EV_CONNECTED, EV_HANDSHAKE_FAILED_AUTH,
                             EV_HANDSHAKE_FAILED_NO_DETAIL, EV_HANDSHAKE_FAILED_PROTOCOL,
                             EV_HANDSHAKE_SUCCEEDED, PROTOCOL_ERROR_ZMTP_CRYPTOGRAPHIC, SILENCE, assert_silent,
                             auth_lib, curve_keys, encmsg, events_for, events_until, gz_socket,
                             hexmsg, key_as, make_frame, peer_address, peer_scenario as scenario,
                             publisher, recv_msg)

pytestmark = pytest.mark.interop

BIG = {"size": 1 << 20, "pattern": bytes(range(251)).hex()}
MSGS = [[b"hello"], [b"multi", b"", b"part"], [b"big", make_frame(BIG)]]
SPECS = [hexmsg(m) for m in MSGS[:-1]] + [[b"big".hex(), BIG]]  # 1 MiB won't fit in argv
WAIT = {"op": "wait"}


def other(form):
    return "raw" if form == "z85" else "z85"


def server_opts(secret, form):
    return {"curve_server": 1, "curve_secretkey": key_as(secret, form)}


def client_opts(server_public, pair, form):
    return {"curve_serverkey": key_as(server_public, form),
            "curve_publickey": key_as(pair[0], form), "curve_secretkey": key_as(pair[1], form)}


@pytest.fixture
def certs(workdir):
    """(allowed_dir, good (pub, sec), bad (pub, sec)): certificate files written here, the
    allowed directory holding only the good client's public certificate."""
    allowed, other_dir = os.path.join(workdir, "allowed"), os.path.join(workdir, "other")
    os.mkdir(allowed)
    os.mkdir(other_dir)
    _, good_secret_file = auth_lib.create_certificates(allowed, "good")
    os.rename(good_secret_file, os.path.join(other_dir, "good.key_secret"))
    _, bad_secret_file = auth_lib.create_certificates(other_dir, "bad")
    good = auth_lib.load_certificate(os.path.join(other_dir, "good.key_secret"))
    bad = auth_lib.load_certificate(bad_secret_file)
    return allowed, good, bad


# -- messages ---------------------------------------------------------------------------------

@pytest.mark.parametrize("keyform", ["z85", "raw"])  # gz side; the peer gets the other form
@pytest.mark.parametrize("gz_role", ["client", "server"])
def test_curve_dealer_router(ctx, spawn, new_endpoint, gz_role, keyform):
    spub, ssec = curve_keys()
    pair = curve_keys()
    if gz_role == "client":  # gz DEALER connects to a libzmq ROUTER server that echoes
        peer = spawn(scenario("ROUTER", [{"op": "echo", "count": len(MSGS)}],
                              server_opts(ssec, other(keyform)), new_endpoint(), bind=True))
        sock = gz_socket(ctx, "DEALER", client_opts(spub, pair, keyform))
        sock.connect(peer.endpoint)
        for m in MSGS:
            sock.send_multipart(m)
            assert recv_msg(sock, "ROUTER") == m
        assert [g["recv"][1:] for g in peer.lines(len(MSGS))] == [encmsg(m) for m in MSGS]
    else:  # a libzmq DEALER client sends requests to a gz ROUTER server that echoes them
        sock = gz_socket(ctx, "ROUTER", server_opts(ssec, keyform))
        sock.bind(new_endpoint())
        peer = spawn(scenario("DEALER", [{"op": "req", "msgs": SPECS}],
                              client_opts(spub, pair, other(keyform)), sock.last_endpoint.decode()))
        for m in MSGS:
            got = recv_msg(sock, "DEALER")
            assert got[1:] == m
            sock.send_multipart(got)
        assert [g["recv"] for g in peer.lines(len(MSGS))] == [encmsg(m) for m in MSGS]
    assert peer.result() == []


@pytest.mark.parametrize("keyform", ["z85", "raw"])
@pytest.mark.parametrize("gz_role", ["client", "server"])
def test_curve_push_pull_server_connects(ctx, spawn, new_endpoint, gz_role, keyform):
    """The PUSH side is the CURVE server and connects; the PULL client binds."""
    spub, ssec = curve_keys()
    pair = curve_keys()
    if gz_role == "client":
        sock = gz_socket(ctx, "PULL", client_opts(spub, pair, keyform))
        sock.bind(new_endpoint())
        peer = spawn(scenario("PUSH", [{"op": "send", "msgs": SPECS}, WAIT],
                              server_opts(ssec, other(keyform)), sock.last_endpoint.decode()))
        assert [recv_msg(sock, "PUSH") for _ in MSGS] == MSGS
        assert peer.result() == [{"sent": len(MSGS)}]
    else:
        peer = spawn(scenario("PULL", [{"op": "recv", "count": len(MSGS)}],
                              client_opts(spub, pair, other(keyform)), new_endpoint(), bind=True))
        sock = gz_socket(ctx, "PUSH", server_opts(ssec, keyform))
        sock.connect(peer.endpoint)
        for m in MSGS:
            sock.send_multipart(m)
        peer.assert_received(MSGS, "PUSH")
        assert peer.result() == []


@pytest.mark.parametrize("keyform", ["z85", "raw"])
@pytest.mark.parametrize("gz_role", ["client", "server"])
def test_curve_pub_sub(ctx, spawn, new_endpoint, gz_role, keyform):
    """The SUB client's subscription travels encrypted client -> server (inner COMMAND)."""
    spub, ssec = curve_keys()
    pair = curve_keys()
    msgs = [[b"t", b"wanted"], [b"x", b"filtered out"]]
    if gz_role == "client":
        peer = spawn(scenario("PUB", [{"op": "pub", "msgs": [hexmsg(m) for m in msgs]}],
                              server_opts(ssec, other(keyform)), new_endpoint(), bind=True))
        sock = gz_socket(ctx, "SUB", dict(client_opts(spub, pair, keyform), subscribe=b"t"))
        sock.connect(peer.endpoint)
        assert [recv_msg(sock, "PUB") for _ in range(3)] == [msgs[0]] * 3
        assert peer.result()[0]["published"] >= 3
    else:
        sock = gz_socket(ctx, "PUB", server_opts(ssec, keyform))
        sock.bind(new_endpoint())
        opts = dict(client_opts(spub, pair, other(keyform)), subscribe=[b"t"])
        peer = spawn(scenario("SUB", [{"op": "recv", "count": 3}], opts, sock.last_endpoint.decode()))
        pub = publisher(sock, msgs)
        try:
            assert [g["recv"] for g in peer.lines(3)] == [encmsg(msgs[0])] * 3
        finally:
            pub.kill()
        assert peer.result() == []


# -- ZAP on the server side ----------------------------------------------------------------------

@pytest.mark.parametrize("policy", ["certs", "any"])
def test_curve_zap_gz_server(ctx, spawn, new_endpoint, transport, authenticator, certs, policy):
    """libzmq clients -> gz PULL server with gzmq.auth.Authenticator."""
    allowed_dir, good, bad = certs
    auth = authenticator()
    auth.configure_curve(domain="*", location=allowed_dir if policy == "certs" else auth_lib.CURVE_ALLOW_ANY)
    spub, ssec = curve_keys()
    sock = gz_socket(ctx, "PULL", server_opts(ssec, "z85"))
    mon = sock.get_monitor_socket()
    sock.bind(new_endpoint())
    endpoint = sock.last_endpoint.decode()

    def client(pair, body, **extra):
        return spawn(scenario("PUSH", [{"op": "send", "msgs": [[body.hex()]]}, WAIT],
                              dict(client_opts(spub, pair, "z85"), linger=0), endpoint, **extra))

    for pair, body in [(good, b"first"), (bad, b"second")] if policy == "any" else [(good, b"first")]:
        peer = client(pair, body)
        with gevent.Timeout(10):
            frames = sock.recv_multipart(copy=False)
        assert [f.bytes for f in frames] == [body]
        assert frames[0].get("User-Id") == pair[0].decode()
        assert frames[0].get("Socket-Type") == "PUSH"
        assert frames[0].get("Peer-Address") == peer_address(transport, peer)
        peer.result()
    if policy == "any":
        return

    denied = client(bad, b"denied", monitor=True)
    assert events_until(mon, EV_HANDSHAKE_FAILED_AUTH)[-1] == (EV_HANDSHAKE_FAILED_AUTH, 400)
    assert_silent(sock, SILENCE)
    later = events_for(mon, 0.05)
    assert EV_ACCEPTED not in [e for e, _ in later], "the refused libzmq client reconnected"
    out = denied.result()
    assert out[0] == {"sent": 1}
    ev = out[1]["events"]
    assert [EV_HANDSHAKE_FAILED_AUTH, 400] in ev
    assert [e for e, _ in ev].count(EV_CONNECTED) == 1 and EV_CONNECT_RETRIED not in [e for e, _ in ev]

    peer = client(good, b"again")  # the server still serves an allowed client
    with gevent.Timeout(10):
        frames = sock.recv_multipart(copy=False)
    assert [f.bytes for f in frames] == [b"again"] and frames[0].get("User-Id") == good[0].decode()
    peer.result()


def test_curve_zap_libzmq_server(ctx, spawn, new_endpoint, certs):
    """gz PUSH clients -> libzmq PULL server with pyzmq's ThreadAuthenticator reading the
    certificate directory gzmq wrote."""
    allowed_dir, good, bad = certs
    spub, ssec = curve_keys()
    peer = spawn(scenario("PULL", [{"op": "recv", "count": 2}, WAIT], server_opts(ssec, "raw"),
                          new_endpoint(), bind=True, zap={"curve": allowed_dir}, monitor=True,
                          props=["User-Id"]))
    first = gz_socket(ctx, "PUSH", client_opts(spub, good, "z85"))
    first.connect(peer.endpoint)
    first.send(b"first")
    line = peer.line()
    assert line["recv"] == [b"first".hex()] and line["props"] == {"User-Id": good[0].decode()}

    denied = gz_socket(ctx, "PUSH", client_opts(spub, bad, "raw"))
    mon = denied.get_monitor_socket()
    denied.connect(peer.endpoint)
    denied.send(b"denied")
    assert events_until(mon, EV_HANDSHAKE_FAILED_AUTH)[-1] == (EV_HANDSHAKE_FAILED_AUTH, 400)
    later = [e for e, _ in events_for(mon, SILENCE)]
    assert not {EV_CONNECTED, EV_CONNECT_RETRIED, EV_HANDSHAKE_SUCCEEDED} & set(later), \
        "the refused gz client reconnected: %r" % later
    denied.close()

    second = gz_socket(ctx, "PUSH", client_opts(spub, good, "raw"))
    second.connect(peer.endpoint)
    second.send(b"second")
    line = peer.line()  # the denied message never arrives
    assert line["recv"] == [b"second".hex()] and line["props"] == {"User-Id": good[0].decode()}
    ev = peer.result()[0]["events"]
    assert [EV_HANDSHAKE_FAILED_AUTH, 400] in ev
    assert [e for e, _ in ev].count(EV_HANDSHAKE_SUCCEEDED) == 2


# -- wrong server key ---------------------------------------------------------------------------

def test_curve_wrong_server_key_gz_client(ctx, spawn, new_endpoint):
    spub, ssec = curve_keys()
    pair = curve_keys()
    peer = spawn(scenario("PULL", [{"op": "recv", "count": 1}, WAIT], server_opts(ssec, "z85"),
                          new_endpoint(), bind=True, monitor=True))
    wrong = gz_socket(ctx, "PUSH", client_opts(curve_keys()[0], pair, "z85"))
    mon = wrong.get_monitor_socket()
    wrong.connect(peer.endpoint)
    wrong.send(b"wrong")
    ev = events_until(mon, EV_HANDSHAKE_FAILED_NO_DETAIL)
    ev += events_for(mon, SILENCE)
    kinds = [e for e, _ in ev]
    assert EV_HANDSHAKE_SUCCEEDED not in kinds and EV_HANDSHAKE_FAILED_AUTH not in kinds
    assert EV_CONNECT_RETRIED in kinds  # a plain disconnect to the client: it retries (libzmq)
    wrong.close()

    good = gz_socket(ctx, "PUSH", client_opts(spub, pair, "z85"))
    good.connect(peer.endpoint)
    good.send(b"right")
    assert peer.line()["recv"] == [b"right".hex()]  # "wrong" was never delivered
    ev = peer.result()[0]["events"]
    assert [EV_HANDSHAKE_FAILED_PROTOCOL, PROTOCOL_ERROR_ZMTP_CRYPTOGRAPHIC] in ev


def test_curve_wrong_server_key_gz_server(ctx, spawn, new_endpoint):
    spub, ssec = curve_keys()
    pair = curve_keys()
    sock = gz_socket(ctx, "PULL", server_opts(ssec, "raw"))
    mon = sock.get_monitor_socket()
    sock.bind(new_endpoint())
    endpoint = sock.last_endpoint.decode()
    wrong = spawn(scenario("PUSH", [{"op": "send", "msgs": [[b"wrong".hex()]]}, WAIT],
                           dict(client_opts(curve_keys()[0], pair, "z85"), linger=0), endpoint,
                           monitor=True))
    ev = events_until(mon, EV_HANDSHAKE_FAILED_PROTOCOL)
    assert ev[-1] == (EV_HANDSHAKE_FAILED_PROTOCOL, PROTOCOL_ERROR_ZMTP_CRYPTOGRAPHIC)
    assert_silent(sock, SILENCE)
    kinds = [e for e, _ in wrong.result()[1]["events"]]
    assert EV_HANDSHAKE_FAILED_NO_DETAIL in kinds and EV_HANDSHAKE_SUCCEEDED not in kinds

    good = spawn(scenario("PUSH", [{"op": "send", "msgs": [[b"right".hex()]]}, WAIT],
                          client_opts(spub, pair, "z85"), endpoint))
    assert recv_msg(sock, "PUSH") == [b"right"]
    assert good.result() == [{"sent": 1}]
