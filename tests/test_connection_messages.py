"""HELLO_MSG, DISCONNECT_MSG, HICCUP_MSG and ROUTER_NOTIFY where libzmq 4.3.5's draft build
has them (session_base.cpp, stream_engine_base.cpp, ctx.cpp for inproc); the wire against
libzmq is in tests/interop/test_interop_connection_messages.py. pyzmq's libzmq is not a draft
build (it refuses these options), so these follow libzmq's source:

- HELLO_MSG: DEALER, ROUTER, CLIENT, SERVER, PEER send it first to each new peer, tcp, ipc
  and inproc; DISCONNECT_MSG: ROUTER, SERVER, PEER get it from a peer that had connected to
  them when it goes (tcp, ipc, inproc); HICCUP_MSG: DEALER, CLIENT, PEER get it when a
  connection they made drops (tcp, ipc). Any socket type may set them.
- ROUTER_NOTIFY (ROUTER only, 0 to 3): tcp and ipc only.
- RECONNECT_STOP (tcp_connecter.cpp, stream_engine_base.cpp): CONN_REFUSED stops redialling
  a refused tcp address, HANDSHAKE_FAILED a peer whose handshake failed (not ZMTP, or
  silent); AFTER_DISCONNECT is not implemented, so EINVAL.
"""
from __future__ import annotations

import gevent
import gevent.socket
import pytest

import gzmq

pytestmark = pytest.mark.timeout(20)


def recv(sock, timeout=2000):
    assert sock.poll(timeout), f"{sock}: nothing within {timeout} ms"
    return sock.recv_multipart()


def nothing(sock, timeout=100):
    assert not sock.poll(timeout), sock.recv_multipart()


def make(ctx, kind, **options):
    sock = ctx.socket(kind)
    sock.linger = 0
    for name, value in options.items():
        sock.setsockopt(getattr(gzmq, name.upper()), value)
    return sock


@pytest.mark.parametrize("value", [-1, 4, 100])
def test_router_notify_values(ctx, value):
    with pytest.raises(gzmq.ZMQError) as info:
        make(ctx, gzmq.ROUTER).setsockopt(gzmq.ROUTER_NOTIFY, value)
    assert info.value.errno == gzmq.EINVAL


@pytest.mark.parametrize("kind", [gzmq.DEALER, gzmq.PUB, gzmq.REQ])
def test_router_notify_is_for_router(ctx, kind):
    with pytest.raises(gzmq.ZMQError) as info:
        make(ctx, kind).setsockopt(gzmq.ROUTER_NOTIFY, 1)
    assert info.value.errno == gzmq.EINVAL


def test_any_type_may_set_the_messages(ctx):
    for kind in (gzmq.PUB, gzmq.SUB, gzmq.PUSH, gzmq.PAIR):
        sock = make(ctx, kind)
        for option in (gzmq.HELLO_MSG, gzmq.DISCONNECT_MSG, gzmq.HICCUP_MSG):
            sock.setsockopt(option, b"x")
            sock.setsockopt(option, b"")


def test_hello_msg_inproc_both_ways(ctx):
    """inproc: each side's HELLO_MSG comes before anything the connecter queued."""
    router = make(ctx, gzmq.ROUTER, hello_msg=b"from-router")
    dealer = make(ctx, gzmq.DEALER, routing_id=b"D", hello_msg=b"from-dealer")
    dealer.connect("inproc://hello")
    dealer.send(b"queued")
    router.bind("inproc://hello")
    assert recv(router) == [b"D", b"from-dealer"]
    assert recv(router) == [b"D", b"queued"]
    assert recv(dealer) == [b"from-router"]


def test_hello_msg_again_after_reconnect(ctx):
    """tcp: each new connection gets it (libzmq's hello_msg_session_t::reset)."""
    router = make(ctx, gzmq.ROUTER, hello_msg=b"hi")
    router.bind("tcp://127.0.0.1:*")
    endpoint = router.last_endpoint.decode()
    dealer = make(ctx, gzmq.DEALER, reconnect_ivl=20)
    dealer.connect(endpoint)
    assert recv(dealer) == [b"hi"]
    router.close()
    gevent.sleep(0.1)
    router = make(ctx, gzmq.ROUTER, hello_msg=b"hi again")
    router.bind(endpoint)
    assert recv(dealer) == [b"hi again"]


def test_hello_msg_ignored_by_other_types(ctx):
    pull = make(ctx, gzmq.PULL)
    pull.bind("tcp://127.0.0.1:*")
    push = make(ctx, gzmq.PUSH, hello_msg=b"hi")
    push.connect(pull.last_endpoint.decode())
    push.send(b"body")
    assert recv(pull) == [b"body"]


@pytest.mark.parametrize("option,last", [("disconnect_msg", [b"D", b"gone"]),
                                         ("router_notify", None)])
def test_peer_leaving_inproc(ctx, option, last):
    """inproc: DISCONNECT_MSG comes from a leaving peer; ROUTER_NOTIFY is tcp/ipc only."""
    router = make(ctx, gzmq.ROUTER, **{option: b"gone" if option == "disconnect_msg" else 3})
    router.bind("inproc://bye")
    dealer = make(ctx, gzmq.DEALER, routing_id=b"D")
    dealer.connect("inproc://bye")
    dealer.send(b"hi")
    assert recv(router) == [b"D", b"hi"]
    dealer.close()
    if last is None:
        nothing(router, 200)
    else:
        assert recv(router) == last


@pytest.mark.parametrize("transport", ["tcp", "inproc"])
def test_disconnect_msg_not_on_the_connecting_side(ctx, transport):
    endpoint = "tcp://127.0.0.1:*" if transport == "tcp" else "inproc://nobye"
    server = make(ctx, gzmq.ROUTER, routing_id=b"S")
    server.bind(endpoint)
    client = make(ctx, gzmq.ROUTER, disconnect_msg=b"gone")
    client.connect(server.last_endpoint.decode())
    gevent.sleep(0.1)
    server.close()
    nothing(client, 300)


def test_hiccup_msg_not_on_the_binding_side(ctx):
    dealer = make(ctx, gzmq.DEALER, hiccup_msg=b"hiccup")
    dealer.bind("tcp://127.0.0.1:*")
    peer = make(ctx, gzmq.DEALER)
    peer.connect(dealer.last_endpoint.decode())
    peer.send(b"hi")
    assert recv(dealer) == [b"hi"]
    peer.close()
    nothing(dealer, 300)


def test_router_notify_on_the_connecting_side(ctx):
    server = make(ctx, gzmq.ROUTER, routing_id=b"S")
    server.bind("tcp://127.0.0.1:*")
    client = make(ctx, gzmq.ROUTER, router_notify=3)
    client.connect(server.last_endpoint.decode())
    assert recv(client) == [b"S", b""]
    server.close()
    assert recv(client) == [b"S", b""]


# --- RECONNECT_STOP (draft): a connect() that gives up -----------------------------------

def _events(monitor, seconds):
    from gzmq.utils.monitor import recv_monitor_message
    seen = []
    deadline = gevent.Timeout(seconds, False)
    with deadline:
        while True:
            if monitor.poll(50):
                seen.append(recv_monitor_message(monitor)["event"])
    return seen


def test_reconnect_stop_conn_refused(ctx):
    probe = gevent.socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()  # nobody listens there
    for stop, redials in ((0, True), (1, False)):
        dealer = make(ctx, gzmq.DEALER, reconnect_ivl=10, reconnect_stop=stop)
        monitor = dealer.get_monitor_socket()
        dealer.connect(f"tcp://127.0.0.1:{port}")
        retried = _events(monitor, 0.3).count(gzmq.EVENT_CONNECT_RETRIED)
        assert (retried > 1) if redials else retried == 0, (stop, retried)
        dealer.close()


def test_reconnect_stop_handshake_failed(ctx):
    """A server that is not ZMTP (it hangs up at once): redialled unless HANDSHAKE_FAILED."""
    for stop, redials in ((0, True), (2, False)):
        server = gevent.socket.socket()
        server.bind(("127.0.0.1", 0))
        server.listen(50)
        accepted = []

        def hang_up(server=server, accepted=accepted):
            while True:
                conn, _ = server.accept()
                accepted.append(conn)
                conn.close()

        acceptor = gevent.spawn(hang_up)
        dealer = make(ctx, gzmq.DEALER, reconnect_ivl=10, reconnect_stop=stop)
        dealer.connect("tcp://127.0.0.1:%d" % server.getsockname()[1])
        gevent.sleep(0.3)
        assert (len(accepted) > 1) if redials else len(accepted) == 1, (stop, len(accepted))
        dealer.close()
        acceptor.kill()
        server.close()


@pytest.mark.parametrize("option,value", [
    (gzmq.RECONNECT_STOP, 4),  # AFTER_DISCONNECT
    (gzmq.XSUB_VERBOSE_UNSUBSCRIBE, 1),  # not in libzmq 4.3.5 at all
])
def test_what_gzmq_does_not_implement_is_einval(ctx, option, value):
    sock = make(ctx, gzmq.XSUB)
    with pytest.raises(gzmq.ZMQError) as info:
        sock.setsockopt(option, value)
    assert info.value.errno == gzmq.EINVAL
