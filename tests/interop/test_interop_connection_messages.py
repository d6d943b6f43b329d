"""What a gzmq socket says or hears about a connection, against a libzmq peer: HELLO_MSG,
ROUTER_NOTIFY, DISCONNECT_MSG, HICCUP_MSG. These are draft options: pyzmq's libzmq 4.3.5 is
not a draft build and refuses to set them, so gzmq sets them and libzmq is the other end
(libzmq's semantics are those of its source: session_base.cpp, stream_engine_base.cpp).
"""
import gevent
import pytest

from interop_helpers import recv_msg

pytestmark = pytest.mark.interop


def test_hello_msg_from_gz_dealer(link, gz_binds):
    """A gzmq DEALER's HELLO_MSG is the first message the libzmq ROUTER gets from it."""
    sock, peer = link("DEALER", "ROUTER", [{"op": "recv", "count": 2}],
                      gz_opts={"routing_id": b"D", "hello_msg": b"hello!"})
    sock.send(b"body")
    assert peer.recv_msgs(2) == [[b"D".hex(), b"hello!".hex()], [b"D".hex(), b"body".hex()]]
    assert peer.result() == []


def test_hello_msg_from_gz_router(link):
    """A gzmq ROUTER's HELLO_MSG reaches each libzmq DEALER, with no routing id."""
    sock, peer = link("ROUTER", "DEALER", [{"op": "recv", "count": 1}],
                      gz_opts={"hello_msg": b"welcome"})
    assert peer.recv_msgs(1) == [[b"welcome".hex()]]
    assert peer.result() == []


def test_router_notify(link):
    """ROUTER_NOTIFY: an empty message with the peer's routing id when it connects, and
    again when it goes."""
    sock, peer = link("ROUTER", "DEALER", [{"op": "send", "msgs": [[b"hi".hex()]]}],
                      gz_opts={"router_notify": 3}, peer_opts={"routing_id": b"P"})
    assert recv_msg(sock) == [b"P", b""]
    assert recv_msg(sock) == [b"P", b"hi"]
    assert peer.result() == [{"sent": 1}]
    assert recv_msg(sock) == [b"P", b""]


@pytest.mark.parametrize("bits", [1, 2])
def test_router_notify_one_way(link, bits):
    """NOTIFY_CONNECT (1) and NOTIFY_DISCONNECT (2) each alone."""
    sock, peer = link("ROUTER", "DEALER", [{"op": "send", "msgs": [[b"hi".hex()]]}],
                      gz_opts={"router_notify": bits}, peer_opts={"routing_id": b"P"})
    if bits == 1:
        assert recv_msg(sock) == [b"P", b""]
    assert recv_msg(sock) == [b"P", b"hi"]
    assert peer.result() == [{"sent": 1}]
    if bits == 2:
        assert recv_msg(sock) == [b"P", b""]
    assert not sock.poll(200)


def test_disconnect_msg(zmq, ctx, spawn, new_endpoint):
    """DISCONNECT_MSG: a gzmq ROUTER that accepted a peer gets it, as from that peer, when
    the peer goes."""
    sock = ctx.socket(zmq.ROUTER)
    sock.linger = 0
    sock.setsockopt(zmq.DISCONNECT_MSG, b"gone")
    sock.bind(new_endpoint())
    peer = spawn({"type": "DEALER", "bind": False, "endpoint": sock.last_endpoint.decode(),
                  "options": {"routing_id": b"P".hex()},
                  "steps": [{"op": "send", "msgs": [[b"hi".hex()]]}]})
    assert recv_msg(sock) == [b"P", b"hi"]
    assert peer.result() == [{"sent": 1}]
    assert recv_msg(sock) == [b"P", b"gone"]


def test_hiccup_msg(zmq, ctx, spawn, new_endpoint):
    """HICCUP_MSG: a gzmq DEALER that connected gets it when the connection drops."""
    peer = spawn({"type": "ROUTER", "bind": True, "endpoint": new_endpoint(),
                  "steps": [{"op": "echo", "count": 1}]})
    sock = ctx.socket(zmq.DEALER)
    sock.linger = 0
    sock.setsockopt(zmq.HICCUP_MSG, b"hiccup")
    sock.connect(peer.endpoint)
    sock.send(b"ping")
    assert recv_msg(sock) == [b"ping"]
    assert len(peer.result()) == 1
    assert recv_msg(sock) == [b"hiccup"]
    gevent.sleep(0.1)
    assert not sock.poll(0)
