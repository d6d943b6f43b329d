"""PLAIN, NULL with ZAP, and ZAP metadata against libzmq, tcp and ipc.

libzmq 4.3.5 behaviour encoded here (security.md §3, §5, re-checked with pyzmq):

- a PLAIN server asks ZAP for every client; refused (ZAP 400) both ends report
  HANDSHAKE_FAILED_AUTH 400 and the client never reconnects (libzmq's PLAIN ERROR is the
  quirky ``5E 'RROR'`` form, which is all a libzmq PLAIN client recognises);
- a PLAIN server with nothing bound at inproc://zeromq.zap.01 drops every client after HELLO
  and reports HANDSHAKE_FAILED_NO_DETAIL with errno EFAULT; its clients see a plain
  disconnect (HANDSHAKE_FAILED_NO_DETAIL) and keep retrying;
- NULL asks ZAP only on a side with ZAP_DOMAIN set; a 400 reply is ERROR "400" as above;
- a ZAP request is ``[1.0, 1, domain, address, server routing id, mechanism, credentials...]``
  and the reply's user id and metadata become message properties (User-Id, X-...).
"""
import errno

import gevent
import pytest

from interop_helpers import (EV_ACCEPTED, EV_CONNECT_RETRIED, EV_CONNECTED, EV_HANDSHAKE_FAILED_AUTH,
                             EV_HANDSHAKE_FAILED_NO_DETAIL, EV_HANDSHAKE_FAILED_PROTOCOL,
                             EV_HANDSHAKE_SUCCEEDED, SILENCE, assert_silent, curve_keys, events_for,
                             events_until, gz_socket, peer_address, peer_scenario, z85)

pytestmark = pytest.mark.interop

WAIT = {"op": "wait"}
USERS = {"admin": "secret"}
PLAIN_SERVER = {"plain_server": 1}
HANDSHAKE_FAILED = (EV_HANDSHAKE_FAILED_NO_DETAIL, EV_HANDSHAKE_FAILED_PROTOCOL, EV_HANDSHAKE_FAILED_AUTH)


def plain_client(password, user="admin"):
    return {"plain_username": user.encode(), "plain_password": password.encode()}


def recv_frames(sock, timeout=10):
    with gevent.Timeout(timeout):
        return sock.recv_multipart(copy=False)


def kinds(events):
    return [e for e, _ in events]


def assert_refused_libzmq_client(out):
    """A libzmq client's run (send, wait) after a ZAP 400: AUTH 400, never reconnected."""
    assert out[0] == {"sent": 1}
    ev = out[1]["events"]
    assert [EV_HANDSHAKE_FAILED_AUTH, 400] in ev
    assert kinds(ev).count(EV_CONNECTED) == 1 and EV_CONNECT_RETRIED not in kinds(ev), ev


def assert_refused_gz_client(mon):
    assert events_until(mon, *HANDSHAKE_FAILED)[-1] == (EV_HANDSHAKE_FAILED_AUTH, 400)
    later = kinds(events_for(mon, SILENCE))
    assert not {EV_CONNECTED, EV_CONNECT_RETRIED, EV_HANDSHAKE_SUCCEEDED} & set(later), \
        "the refused gz client reconnected: %r" % later


def gz_server_refuses(sock, mon, refused_peer):
    """The gz server refused `refused_peer` by ZAP: AUTH 400 here, nothing delivered, and
    the libzmq client did not come back."""
    assert events_until(mon, *HANDSHAKE_FAILED)[-1] == (EV_HANDSHAKE_FAILED_AUTH, 400)
    assert_silent(sock, SILENCE)
    assert EV_ACCEPTED not in kinds(events_for(mon, 0.05)), "the refused libzmq client reconnected"
    assert_refused_libzmq_client(refused_peer.result())


# -- PLAIN -------------------------------------------------------------------------------------

def test_plain_gz_client(ctx, spawn, new_endpoint):
    """gz PUSH clients -> libzmq PULL PLAIN server with pyzmq's ThreadAuthenticator."""
    peer = spawn(peer_scenario("PULL", [{"op": "recv", "count": 2}, WAIT], PLAIN_SERVER, new_endpoint(),
                               bind=True, zap={"plain": USERS}, monitor=True, props=["User-Id"]))
    first = gz_socket(ctx, "PUSH", plain_client("secret"))
    first.connect(peer.endpoint)
    first.send(b"first")
    assert peer.line() == {"recv": [b"first".hex()], "st": "PUSH", "props": {"User-Id": "admin"}}

    denied = gz_socket(ctx, "PUSH", plain_client("wrong"))
    mon = denied.get_monitor_socket()
    denied.connect(peer.endpoint)
    denied.send(b"denied")
    assert_refused_gz_client(mon)  # libzmq's "^RROR" ERROR understood as ERROR 400
    denied.close()

    second = gz_socket(ctx, "PUSH", plain_client("secret"))  # the server still serves clients
    second.connect(peer.endpoint)
    second.send(b"second")  # and "denied" never arrives
    assert peer.line()["recv"] == [b"second".hex()]
    assert [EV_HANDSHAKE_FAILED_AUTH, 400] in peer.result()[0]["events"]


def test_plain_gz_server(ctx, spawn, new_endpoint, transport, authenticator):
    """libzmq PUSH clients -> gz PULL PLAIN server with gzmq.auth.Authenticator."""
    authenticator().configure_plain(domain="*", passwords=USERS)
    sock = gz_socket(ctx, "PULL", PLAIN_SERVER)
    mon = sock.get_monitor_socket()
    sock.bind(new_endpoint())

    def client(password, body, **extra):
        return spawn(peer_scenario("PUSH", [{"op": "send", "msgs": [[body.hex()]]}, WAIT],
                                   dict(plain_client(password), linger=0), sock.last_endpoint.decode(),
                                   **extra))

    peer = client("secret", b"first")
    frames = recv_frames(sock)
    assert [f.bytes for f in frames] == [b"first"]
    assert frames[0].get("User-Id") == "admin" and frames[0].get("Socket-Type") == "PUSH"
    assert frames[0].get("Peer-Address") == peer_address(transport, peer)
    peer.result()

    # the libzmq client reports AUTH 400 only if our ERROR uses libzmq's "^RROR" prefix
    gz_server_refuses(sock, mon, client("wrong", b"denied", monitor=True))

    peer = client("secret", b"again")
    frames = recv_frames(sock)
    assert [f.bytes for f in frames] == [b"again"] and frames[0].get("User-Id") == "admin"
    peer.result()


@pytest.mark.parametrize("gz_role", ["client", "server"])
def test_plain_server_without_zap_handler(ctx, spawn, new_endpoint, gz_role):
    if gz_role == "client":
        peer = spawn(peer_scenario("PULL", [{"op": "idle", "ms": 600}], PLAIN_SERVER, new_endpoint(),
                                   bind=True, monitor=True))
        sock = gz_socket(ctx, "PUSH", plain_client("secret"))
        mon = sock.get_monitor_socket()
        sock.connect(peer.endpoint)
        sock.send(b"x")
        # dropped without ERROR: a plain disconnect for the client
        assert events_until(mon, *HANDSHAKE_FAILED)[-1][0] == EV_HANDSHAKE_FAILED_NO_DETAIL
        out = peer.result()
        assert out[0] == {"idle": 0}
        assert [EV_HANDSHAKE_FAILED_NO_DETAIL, errno.EFAULT] in out[1]["events"]
        assert EV_HANDSHAKE_SUCCEEDED not in kinds(out[1]["events"])
    else:
        sock = gz_socket(ctx, "PULL", PLAIN_SERVER)
        mon = sock.get_monitor_socket()
        sock.bind(new_endpoint())
        peer = spawn(peer_scenario("PUSH", [{"op": "send", "msgs": [["78"]]}, WAIT],
                                   dict(plain_client("secret"), linger=0), sock.last_endpoint.decode(),
                                   monitor=True))
        ev = events_until(mon, *HANDSHAKE_FAILED)
        assert_silent(sock, SILENCE)
        peer_ev = kinds(peer.result()[1]["events"])
        assert EV_HANDSHAKE_FAILED_NO_DETAIL in peer_ev and EV_HANDSHAKE_SUCCEEDED not in peer_ev
        assert ev[-1] == (EV_HANDSHAKE_FAILED_NO_DETAIL, errno.EFAULT), \
            "libzmq's PLAIN server without a ZAP handler reports NO_DETAIL/EFAULT, got %r" % (ev[-1],)


# -- NULL with ZAP_DOMAIN ----------------------------------------------------------------------

@pytest.mark.parametrize("verdict", ["deny", "allow"])
def test_null_zap_address_filter(ctx, spawn, authenticator, verdict):
    """libzmq NULL client -> gz PULL with ZAP_DOMAIN; the Authenticator filters 127.0.0.1."""
    auth = authenticator()
    getattr(auth, verdict)("127.0.0.1")
    sock = gz_socket(ctx, "PULL", {"zap_domain": b"global"})
    mon = sock.get_monitor_socket()
    sock.bind("tcp://127.0.0.1:*")
    peer = spawn(peer_scenario("PUSH", [{"op": "send", "msgs": [["78"]]}, WAIT], {"linger": 0},
                               sock.last_endpoint.decode(), monitor=True))
    if verdict == "deny":
        gz_server_refuses(sock, mon, peer)
    else:
        frames = recv_frames(sock)
        assert [f.bytes for f in frames] == [b"x"]
        assert frames[0].get("User-Id") == "anonymous"  # pyzmq's authenticator's NULL user id
        assert frames[0].get("Peer-Address") == "127.0.0.1"
        peer.result()


# -- ZAP replies on messages received by gzmq ------------------------------------------------------

METADATA = b"\x06X-Role" + (5).to_bytes(4, "big") + b"admin"


@pytest.mark.parametrize("mechanism", ["NULL", "PLAIN", "CURVE"])
def test_zap_metadata_on_gz_messages(ctx, spawn, new_endpoint, transport, mechanism):
    """A REP ZAP handler in gz: the request's frames are libzmq's; its user id and metadata
    show on every frame from the libzmq client."""
    requests = []
    rep = gz_socket(ctx, "REP")
    rep.bind("inproc://zeromq.zap.01")

    def serve():
        while True:
            req = rep.recv_multipart()
            requests.append(req)
            rep.send_multipart([b"1.0", req[1], b"200", b"OK", b"user-" + req[5].lower(), METADATA])

    server = gevent.spawn(serve)
    try:
        client_opts, creds = {}, []
        server_opts = {"zap_domain": b"dom"}
        if mechanism == "PLAIN":
            server_opts.update(PLAIN_SERVER)
            client_opts, creds = plain_client("secret"), [b"admin", b"secret"]
        elif mechanism == "CURVE":
            spub, ssec = curve_keys()
            cpub, csec = curve_keys()
            server_opts.update(curve_server=1, curve_secretkey=ssec)
            client_opts = {"curve_serverkey": spub, "curve_publickey": cpub, "curve_secretkey": csec}
            creds = [z85.decode(cpub)]  # the raw 32-byte client key
        sock = gz_socket(ctx, "PULL", server_opts)
        sock.bind(new_endpoint())
        peer = spawn(peer_scenario("PUSH", [{"op": "send", "msgs": [["61", "62"]]}, WAIT], client_opts,
                                   sock.last_endpoint.decode()))
        frames = recv_frames(sock)
        assert [f.bytes for f in frames] == [b"a", b"b"]
        address = peer_address(transport, peer)
        for f in frames:
            assert f.get("User-Id") == "user-" + mechanism.lower()
            assert f.get("X-Role") == "admin"
            assert f.get("Socket-Type") == "PUSH"
            assert f.get("Peer-Address") == address
        assert requests == [[b"1.0", b"1", b"dom", address.encode(), b"", mechanism.encode()] + creds]
        assert peer.result() == [{"sent": 1}]
    finally:
        server.kill()
        rep.close()
