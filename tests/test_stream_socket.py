"""STREAM sockets (and ROUTER_RAW) with plain tcp/ipc peers: raw bytes, routing ids,
connect/disconnect notifications as empty frames, closing a peer with an empty frame, and
RCVHWM holding a flooding peer back. Each behaviour here was checked against libzmq 4.3.5
through pyzmq; gzmq STREAM against libzmq's STREAM is in tests/interop/test_interop_stream.py.
"""
from __future__ import annotations

import os
import sys
import tempfile

import gevent
import gevent.subprocess
import pytest
from gevent import socket as gsocket

import gzmq

pytestmark = pytest.mark.timeout(30)

HTTP_REPLY = b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello"


@pytest.fixture
def stream(ctx):
    def make(**options):
        sock = ctx.socket(gzmq.STREAM)
        sock.linger = 0
        for name, value in options.items():
            sock.setsockopt(getattr(gzmq, name.upper()), value)
        return sock
    return make


def recv(sock, timeout=3000):
    assert sock.poll(timeout), f"{sock}: nothing within {timeout} ms"
    return sock.recv_multipart()


def nothing(sock, timeout=100):
    assert not sock.poll(timeout), sock.recv_multipart()


def port_of(sock):
    return int(sock.last_endpoint.rsplit(b":", 1)[1])


def read_to_eof(client, timeout=3.0):
    data = b""
    with gevent.Timeout(timeout, AssertionError(f"no EOF; got {data!r}")):
        while True:
            chunk = client.recv(65536)
            if not chunk:
                return data
            data += chunk


def serve_http_once(sock):
    """Answer one HTTP request on a STREAM socket; return the request."""
    rid, empty = recv(sock)  # connected
    assert empty == b"" and len(rid) == 5 and rid[0] == 0
    request = b""
    while b"\r\n\r\n" not in request:
        peer, data = recv(sock)
        assert peer == rid
        request += data
    sock.send_multipart([rid, HTTP_REPLY])
    sock.send_multipart([rid, b""])  # and close
    return request


@pytest.mark.parametrize("kind", ["STREAM", "ROUTER_RAW"])
def test_serves_http_to_a_plain_client(ctx, kind):
    """A real HTTP client (urllib, in another process) gets the reply, then EOF."""
    if kind == "STREAM":
        sock = ctx.socket(gzmq.STREAM)
    else:
        sock = ctx.socket(gzmq.ROUTER)
        sock.setsockopt(gzmq.ROUTER_RAW, 1)
    sock.linger = 0
    sock.bind("tcp://127.0.0.1:*")
    url = f"http://127.0.0.1:{port_of(sock)}/path?q=1"
    client = gevent.subprocess.Popen(
        [sys.executable, "-c", "import sys, urllib.request; "
         "sys.stdout.write(urllib.request.urlopen(sys.argv[1], timeout=10).read().decode())",
         url], stdout=gevent.subprocess.PIPE)
    try:
        request = serve_http_once(sock)
        assert request.startswith(b"GET /path?q=1 HTTP/1.1\r\n")
        out, _ = client.communicate(timeout=10)
        assert out == b"hello" and client.returncode == 0
        nothing(sock)  # we closed it: no disconnect notification
    finally:
        if client.poll() is None:
            client.kill()


def test_connects_out_to_a_plain_server(stream):
    """A STREAM connect()s to a plain tcp server, speaks HTTP to it, reads the reply."""
    server = gsocket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)

    def serve():
        conn, _ = server.accept()
        request = b""
        while b"\r\n\r\n" not in request:
            request += conn.recv(1024)
        conn.sendall(HTTP_REPLY)
        conn.close()
        return request

    serving = gevent.spawn(serve)
    sock = stream()
    sock.connect("tcp://127.0.0.1:%d" % server.getsockname()[1])
    rid, empty = recv(sock)
    assert empty == b""
    sock.send_multipart([rid, b"GET / HTTP/1.0\r\nHost: x\r\n\r\n"])
    reply = b""
    while True:
        peer, data = recv(sock)
        assert peer == rid
        if not data:
            break  # the server closed: the disconnect notification
        reply += data
    assert reply == HTTP_REPLY
    assert serving.get(timeout=3).startswith(b"GET / HTTP/1.0")
    server.close()


def test_ipc(stream):
    path = os.path.join(tempfile.mkdtemp(prefix="gz", dir="/tmp"), "s")
    sock = stream()
    sock.bind("ipc://" + path)
    client = gsocket.socket(gsocket.AF_UNIX)
    client.connect(path)
    rid, _ = recv(sock)
    client.sendall(b"ping")
    assert recv(sock) == [rid, b"ping"]
    sock.send_multipart([rid, b"pong"])
    sock.send_multipart([rid, b""])
    assert read_to_eof(client) == b"pong"


def test_peer_closing_is_announced(stream):
    sock = stream()
    sock.bind("tcp://127.0.0.1:*")
    clients = [gsocket.create_connection(("127.0.0.1", port_of(sock))) for _ in range(2)]
    ids = [recv(sock)[0] for _ in clients]
    assert len(set(ids)) == 2
    assert sock.stats()["peers_connected"] == 2
    clients[1].close()
    assert recv(sock) == [ids[1], b""]
    clients[0].sendall(b"still here")
    assert recv(sock) == [ids[0], b"still here"]


def test_closing_a_peer(stream):
    """An empty data frame closes the peer after what was queued for it (a megabyte here);
    nothing is announced, and the id is unknown from then on."""
    sock = stream()
    sock.bind("tcp://127.0.0.1:*")
    client = gsocket.create_connection(("127.0.0.1", port_of(sock)))
    rid, _ = recv(sock)
    big = os.urandom(1 << 20)
    sock.send_multipart([rid, big])
    sock.send_multipart([rid, b""])
    assert read_to_eof(client) == big
    nothing(sock)
    with pytest.raises(gzmq.ZMQError) as info:
        sock.send_multipart([rid, b"late"])
    assert info.value.errno == gzmq.EHOSTUNREACH


def test_unknown_routing_id_is_ehostunreach(stream):
    sock = stream()
    with pytest.raises(gzmq.ZMQError) as info:
        sock.send_multipart([b"\x00nope", b"x"])
    assert info.value.errno == gzmq.EHOSTUNREACH


def test_stream_notify_off(stream):
    sock = stream(stream_notify=0)
    sock.bind("tcp://127.0.0.1:*")
    client = gsocket.create_connection(("127.0.0.1", port_of(sock)))
    client.sendall(b"first")
    rid, data = recv(sock)
    assert data == b"first"
    client.close()
    nothing(sock, 200)


def test_connect_routing_id_and_redial(stream):
    """CONNECT_ROUTING_ID names the next connect(); that peer keeps its id when the STREAM
    redials after the server went; after the application closes it, it does not redial."""
    server = gsocket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(5)
    server.settimeout(3)
    sock = stream(connect_routing_id=b"web", reconnect_ivl=20)
    sock.connect("tcp://127.0.0.1:%d" % server.getsockname()[1])
    conn, _ = server.accept()
    assert recv(sock) == [b"web", b""]
    conn.close()
    assert recv(sock) == [b"web", b""]
    conn, _ = server.accept()  # redialled
    assert recv(sock) == [b"web", b""]
    sock.send_multipart([b"web", b"bye"])
    sock.send_multipart([b"web", b""])
    assert read_to_eof(conn) == b"bye"
    server.settimeout(0.3)
    with pytest.raises(OSError):
        server.accept()
    server.close()


def test_flood_is_bounded_by_rcvhwm(stream):
    """A peer sending without pause while nobody reads: reads stop at RCVHWM (each at most
    IN_BATCH_SIZE bytes), TCP pushes back on the peer, and nothing is lost."""
    sock = stream(rcvhwm=4, rcvbuf=65536)
    sock.bind("tcp://127.0.0.1:*")
    client = gsocket.create_connection(("127.0.0.1", port_of(sock)))
    client.setsockopt(gsocket.SOL_SOCKET, gsocket.SO_SNDBUF, 65536)
    rid, _ = recv(sock)
    client.setblocking(False)
    chunk, sent = b"f" * 65536, 0
    stalled = 0
    while stalled < 20 and sent < 64 << 20:
        try:
            sent += client.send(chunk)
            stalled = 0
        except BlockingIOError:
            stalled += 1
            gevent.sleep(0.01)
    assert sent < 64 << 20, "the peer was never held back"
    routing = sock._routing
    queued = sum(len(pipe.inbound) for pipe in routing._by_id.values())
    assert queued <= 4
    received = 0
    while received < sent:
        peer, data = recv(sock)
        assert peer == rid and 0 < len(data) <= 8192
        received += len(data)
    assert received == sent


def test_options(ctx):
    stream_sock = ctx.socket(gzmq.STREAM)
    for option in (gzmq.ROUTER_RAW, gzmq.ROUTER_MANDATORY, gzmq.PROBE_ROUTER):
        with pytest.raises(gzmq.ZMQError):
            stream_sock.setsockopt(option, 1)
    with pytest.raises(gzmq.ZMQError):
        stream_sock.setsockopt(gzmq.STREAM_NOTIFY, 2)
    for kind in (gzmq.ROUTER, gzmq.DEALER, gzmq.PUB):
        with pytest.raises(gzmq.ZMQError) as info:
            ctx.socket(kind).setsockopt(gzmq.STREAM_NOTIFY, 1)
        assert info.value.errno == gzmq.EINVAL
    stream_sock.setsockopt(gzmq.STREAM_NOTIFY, 0)
    stream_sock.setsockopt(gzmq.CONNECT_ROUTING_ID, b"x")


def test_router_raw_unknown_id_dropped(ctx):
    """ROUTER_RAW keeps ROUTER's rule: an unknown id is dropped (EHOSTUNREACH only with
    ROUTER_MANDATORY), where STREAM always says EHOSTUNREACH."""
    router = ctx.socket(gzmq.ROUTER)
    router.setsockopt(gzmq.ROUTER_RAW, 1)
    router.send_multipart([b"\x00nope", b"x"])
