"""SOCKS_PROXY (+ SOCKS_USERNAME / SOCKS_PASSWORD): tcp connects go through a SOCKS5 proxy
(RFC 1928, RFC 1929), as libzmq's socks_connecter. A small proxy here records what each
client says; libzmq (pyzmq) and gzmq must say the same bytes, and the connection then
carries ZMTP to the real peer."""
from __future__ import annotations

import gevent
import gevent.socket
import gevent.server
import pytest

import gzmq

zmq = pytest.importorskip("zmq")
pytestmark = pytest.mark.timeout(20)


class Socks5Proxy:
    """Accepts one method (the first offered), checks user/pass if asked, relays CONNECT."""

    def __init__(self, credentials=None):
        self.credentials = credentials
        self.transcripts: list[bytes] = []
        self.server = gevent.server.StreamServer(("127.0.0.1", 0), self.handle)
        self.server.start()
        self.address = "127.0.0.1:%d" % self.server.server_port

    def handle(self, client, _):
        said = b""

        def read(size):
            nonlocal said
            data = b""
            while len(data) < size:
                chunk = client.recv(size - len(data))
                if not chunk:
                    raise EOFError
                data += chunk
            said += data
            return data

        try:
            version, count = read(2)
            methods = read(count)
            client.sendall(bytes((5, methods[0])))
            if methods[0] == 2:
                user = read(read(2)[1])
                password = read(read(1)[0])
                ok = self.credentials == (user, password)
                client.sendall(b"\x01\x00" if ok else b"\x01\x01")
                if not ok:
                    return
            _, command, _, kind = read(4)
            if kind == 1:
                host = ".".join(str(b) for b in read(4))
            else:
                host = read(read(1)[0]).decode()
            port = int.from_bytes(read(2), "big")
            self.transcripts.append(said)
            upstream = gevent.socket.create_connection((host, port))
            client.sendall(b"\x05\x00\x00\x01" + bytes(4) + b"\x00\x00")
            gevent.spawn(self._pipe, upstream, client)
            self._pipe(client, upstream)
        except (EOFError, OSError):
            pass
        finally:
            client.close()

    @staticmethod
    def _pipe(source, sink):
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                sink.sendall(data)
        except OSError:
            pass
        finally:
            sink.close()

    def stop(self):
        self.server.stop()


def _round_trip_through(proxy, module, ctx, gz, **options):
    """A DEALER of ``module`` connects through ``proxy`` to a gzmq ROUTER."""
    router = gz.socket(gzmq.ROUTER)
    router.linger = 0
    router.bind("tcp://127.0.0.1:*")
    dealer = ctx.socket(module.DEALER)
    dealer.linger = 0
    dealer.setsockopt(module.SOCKS_PROXY, proxy.address.encode())
    for name, value in options.items():
        dealer.setsockopt(getattr(module, name.upper()), value)
    dealer.connect(router.last_endpoint.decode())
    dealer.send(b"through the proxy")
    with gevent.Timeout(5):
        while not router.poll(10):
            gevent.sleep(0.01)  # let the proxy (this hub) run while libzmq's thread works
    assert router.recv_multipart()[1] == b"through the proxy"
    dealer.close()
    router.close()


@pytest.mark.parametrize("credentials", [None, (b"user", b"secret")], ids=["noauth", "auth"])
def test_socks5_connect_says_what_libzmq_says(zctx, ctx, credentials):
    proxy = Socks5Proxy(credentials)
    options = {}
    if credentials:
        options = {"socks_username": credentials[0], "socks_password": credentials[1]}
    try:
        _round_trip_through(proxy, zmq, zctx, ctx, **options)
        _round_trip_through(proxy, gzmq, ctx, ctx, **options)
        libzmq_said, gzmq_said = proxy.transcripts
        assert gzmq_said[:len(gzmq_said) - 2] == libzmq_said[:len(libzmq_said) - 2]  # but ports
    finally:
        proxy.stop()


def test_socks5_host_name(ctx):
    """A host name goes to the proxy as a name (ATYP 3), as libzmq sends it."""
    proxy = Socks5Proxy()
    try:
        router = ctx.socket(gzmq.ROUTER)
        router.linger = 0
        router.bind("tcp://127.0.0.1:*")
        port = router.last_endpoint.decode().rsplit(":", 1)[1]
        dealer = ctx.socket(gzmq.DEALER)
        dealer.linger = 0
        dealer.setsockopt(gzmq.SOCKS_PROXY, proxy.address.encode())
        dealer.connect(f"tcp://localhost:{port}")
        dealer.send(b"x")
        assert router.poll(3000)
        assert b"\x03\x09localhost" in proxy.transcripts[0]
    finally:
        proxy.stop()


def test_refused_credentials_are_retried_not_fatal(ctx):
    proxy = Socks5Proxy((b"user", b"right"))
    try:
        dealer = ctx.socket(gzmq.DEALER)
        dealer.linger = 0
        dealer.setsockopt(gzmq.RECONNECT_IVL, 20)
        dealer.setsockopt(gzmq.SOCKS_PROXY, proxy.address.encode())
        dealer.setsockopt(gzmq.SOCKS_USERNAME, b"user")
        dealer.setsockopt(gzmq.SOCKS_PASSWORD, b"wrong")
        monitor = dealer.get_monitor_socket()
        dealer.connect("tcp://127.0.0.1:9")
        from gzmq.utils.monitor import recv_monitor_message
        seen = []
        with gevent.Timeout(3):
            while seen.count(gzmq.EVENT_CONNECT_RETRIED) < 3:
                seen.append(recv_monitor_message(monitor)["event"])
        assert proxy.transcripts == []
    finally:
        proxy.stop()
