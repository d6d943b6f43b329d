"""A raw CURVE client for the hostile-handshake tests, and the gzmq server they attack.

``RawCurveClient`` speaks just enough ZMTP 3.1 + CURVE (security.md §4) over a plain gevent
socket to reach any point of the handshake; every command is built by hand with PyNaCl, so each
field can be bent (tests/test_security_hostile.py does the bending). ``Server`` is a monitored
gzmq CURVE ROUTER with a check that it still serves an honest gzmq CURVE client.

The one test here shows that the raw client, unbent, is a correct CURVE peer.
"""

from __future__ import annotations

import errno
import os
import struct
import time
from typing import Any, Optional

import gevent
from gevent import socket as gsocket
from nacl.bindings import (
    crypto_box, crypto_box_afternm, crypto_box_beforenm, crypto_box_keypair,
    crypto_box_open, crypto_box_open_afternm,
)

import gzmq as zmq
from helpers import wait_for_event

#: server HANDSHAKE_IVL for the attacks (ms): bounds every stalled handshake
SERVER_HANDSHAKE_IVL = 500
#: MAXMSGSIZE of the server under attack: makes a 2 MiB INITIATE oversized
SERVER_MAXMSGSIZE = 1 << 20
DEALER_METADATA = (b"\x0bSocket-Type\x00\x00\x00\x06DEALER"
                   b"\x08Identity\x00\x00\x00\x00")


# ---------------------------------------------------------------------------------------------
# wire helpers


def greeting(mechanism: bytes = b"CURVE") -> bytes:
    """A ZMTP 3.1 greeting (64 bytes), as-server 0 like libzmq."""
    return (b"\xff" + bytes(8) + b"\x7f\x03\x01" + mechanism.ljust(20, b"\0") + b"\0"
            + bytes(31))


def frame(body: bytes, flags: int) -> bytes:
    if len(body) > 255:
        return bytes((flags | 0x02,)) + struct.pack(">Q", len(body)) + body
    return bytes((flags, len(body))) + body


def command(body: bytes) -> bytes:
    return frame(body, 0x04)


def metadata_property(name: bytes, value: bytes) -> bytes:
    return bytes((len(name),)) + name + struct.pack(">I", len(value)) + value


class Dropped(Exception):
    """The server closed the connection (EOF or reset)."""


class RawPeer:
    """A plain TCP connection to the server, read with deadlines."""

    def __init__(self, port: int) -> None:
        self.sock = gsocket.create_connection(("127.0.0.1", port), timeout=5)
        self.sock.settimeout(None)
        self._buffer = b""
        self.dropped = False  # the server hung up while we were still writing

    def send(self, data: bytes) -> None:
        try:
            self.sock.sendall(data)
        except OSError as error:
            if error.errno not in (errno.ECONNRESET, errno.EPIPE):
                raise
            self.dropped = True

    def _fill(self, timeout: float) -> None:
        with gevent.Timeout(timeout, AssertionError(f"server silent for {timeout} s")):
            try:
                data = self.sock.recv(65536)
            except OSError as error:
                if error.errno in (errno.ECONNRESET, errno.EPIPE):
                    raise Dropped() from None
                raise
        if not data:
            raise Dropped()
        self._buffer += data

    def read_exact(self, count: int, timeout: float = 2.0) -> bytes:
        while len(self._buffer) < count:
            self._fill(timeout)
        data, self._buffer = self._buffer[:count], self._buffer[count:]
        return data

    def read_frame(self, timeout: float = 2.0) -> tuple[int, bytes]:
        flags = self.read_exact(1, timeout)[0]
        if flags & 0x02:
            size = struct.unpack(">Q", self.read_exact(8, timeout))[0]
        else:
            size = self.read_exact(1, timeout)[0]
        return flags, self.read_exact(size, timeout)

    def wait_dropped(self, timeout: float = 2.0) -> float:
        """Discard input until the server closes; return how long that took (s)."""
        start = time.monotonic()
        self._buffer = b""
        if self.dropped:
            return 0.0
        try:
            while True:
                self._fill(timeout)
                self._buffer = b""
        except Dropped:
            return time.monotonic() - start

    def close(self) -> None:
        self.sock.close()


class RawCurveClient(RawPeer):
    """The client side of CURVE, each command built by hand (security.md §4.3-4.8)."""

    def __init__(self, port: int, server_key: bytes,
                 keypair: Optional[tuple[bytes, bytes]] = None) -> None:
        super().__init__(port)
        self.server_key = server_key
        self.public, self.secret = keypair or crypto_box_keypair()  # C, c
        self.cn_public, self.cn_secret = crypto_box_keypair()  # C', c'
        self.nonce = 0  # last short nonce sent
        self.precom = b""
        self.server_transient = b""
        self.cookie = b""
        self.peer_nonce = 0

    def _next_nonce(self) -> bytes:
        self.nonce += 1
        return struct.pack(">Q", self.nonce)

    def exchange_greetings(self) -> bytes:
        self.send(greeting())
        peer = self.read_exact(64)
        assert peer[12:32].rstrip(b"\0") == b"CURVE"
        return peer

    def hello(self, version: bytes = b"\x01\x00", box_key: Optional[bytes] = None) -> bytes:
        short = self._next_nonce()
        box = crypto_box(bytes(64), b"CurveZMQHELLO---" + short,
                         box_key or self.server_key, self.cn_secret)
        return b"\x05HELLO" + version + bytes(72) + self.cn_public + short + box

    def read_welcome(self) -> None:
        flags, body = self.read_frame()
        assert flags == 0x04 and body[:8] == b"\x07WELCOME" and len(body) == 168, body[:16]
        plain = crypto_box_open(body[24:], b"WELCOME-" + body[8:24], self.server_key,
                                self.cn_secret)
        self.server_transient, self.cookie = plain[:32], plain[32:128]
        self.precom = crypto_box_beforenm(self.server_transient, self.cn_secret)

    def initiate(self, metadata: bytes = DEALER_METADATA, cookie: Optional[bytes] = None,
                 vouched_transient: Optional[bytes] = None,
                 vouch_signer: Optional[bytes] = None,
                 vouched_server: Optional[bytes] = None) -> bytes:
        """INITIATE; ``vouch_signer`` is a secret key signing the vouch instead of ours, and
        ``vouched_server`` the server key the vouch names instead of the real one."""
        vouch_nonce = os.urandom(16)
        server = self.server_key if vouched_server is None else vouched_server
        vouch = vouch_nonce + crypto_box(
            (vouched_transient or self.cn_public) + server, b"VOUCH---" + vouch_nonce,
            self.server_transient, vouch_signer or self.secret)
        short = self._next_nonce()
        box = crypto_box_afternm(self.public + vouch + metadata,
                                 b"CurveZMQINITIATE" + short, self.precom)
        return b"\x08INITIATE" + (cookie or self.cookie) + short + box

    def read_ready(self) -> bytes:
        flags, body = self.read_frame()
        assert body[:6] == b"\x05READY", body[:16]
        short = body[6:14]
        self.peer_nonce = struct.unpack(">Q", short)[0]
        return crypto_box_open_afternm(body[14:], b"CurveZMQREADY---" + short, self.precom)

    def handshake(self) -> bytes:
        """The honest handshake; returns the server's READY metadata."""
        self.exchange_greetings()
        self.send(command(self.hello()))
        self.read_welcome()
        self.send(command(self.initiate()))
        return self.read_ready()

    def message(self, payload: bytes, more: bool = False, nonce: Optional[int] = None) -> bytes:
        """A MESSAGE in a ZMTP message frame (libzmq's outer flags), short nonce settable."""
        short = self._next_nonce() if nonce is None else struct.pack(">Q", nonce)
        box = crypto_box_afternm(bytes((1 if more else 0,)) + payload,
                                 b"CurveZMQMESSAGEC" + short, self.precom)
        return frame(b"\x07MESSAGE" + short + box, 0x00)

    def read_message(self) -> tuple[int, bytes]:
        _, body = self.read_frame()
        assert body[:8] == b"\x07MESSAGE", body[:16]
        short = body[8:16]
        nonce = struct.unpack(">Q", short)[0]
        assert nonce > self.peer_nonce
        self.peer_nonce = nonce
        plain = crypto_box_open_afternm(body[16:], b"CurveZMQMESSAGES" + short, self.precom)
        return plain[0], plain[1:]


def flip(data: bytes, offset: int) -> bytes:
    return data[:offset] + bytes((data[offset] ^ 0x01,)) + data[offset + 1:]


# ---------------------------------------------------------------------------------------------
# the server under attack


class Server:
    """A gzmq CURVE ROUTER (no ZAP handler: any client key), monitored."""

    def __init__(self, ctx: Any, handshake_ivl: int = SERVER_HANDSHAKE_IVL,
                 maxmsgsize: int = SERVER_MAXMSGSIZE) -> None:
        self.public, self.secret = crypto_box_keypair()
        self.router = ctx.socket(zmq.ROUTER)
        self.router.curve_server = True
        self.router.curve_secretkey = self.secret
        self.router.curve_publickey = self.public
        self.router.handshake_ivl = handshake_ivl
        self.router.maxmsgsize = maxmsgsize
        self.monitor = self.router.get_monitor_socket()
        self.port = self.router.bind_to_random_port("tcp://127.0.0.1")
        self._served = 0

    def serve_honest_client(self, ctx: Any) -> None:
        """A gzmq CURVE DEALER gets a request through and the reply back."""
        self._served += 1
        token = b"honest-%d" % self._served
        client = ctx.socket(zmq.DEALER)
        client.curve_serverkey = self.public
        client.curve_publickey, client.curve_secretkey = zmq.curve_keypair()
        client.connect(f"tcp://127.0.0.1:{self.port}")
        try:
            client.send(token)
            while True:  # skip what a hostile peer may have got through before being dropped
                assert self.router.poll(2000), "the server stopped serving"
                identity, *body = self.router.recv_multipart()
                if body == [token]:
                    break
            self.router.send_multipart([identity, b"re: " + token])
            assert client.poll(2000), "no reply from the server"
            assert client.recv() == b"re: " + token
        finally:
            client.close(linger=0)

    def close(self) -> None:
        self.router.disable_monitor()
        self.monitor.close()
        self.router.close()


def test_raw_client_honest_handshake(ctx: Any) -> None:
    """Unbent, the raw client is a correct CURVE peer (so each attack differs from a valid
    handshake only where it says)."""
    server = Server(ctx)
    client = RawCurveClient(server.port, server.public)
    try:
        ready = client.handshake()
        assert b"\x0bSocket-Type\x00\x00\x00\x06ROUTER" in ready
        assert client.peer_nonce == 1  # READY carries the server's first short nonce
        client.send(client.message(b"a", more=True) + client.message(b"b"))
        assert server.router.poll(2000)
        identity, first, second = server.router.recv_multipart()
        assert (first, second) == (b"a", b"b")
        server.router.send_multipart([identity, b"reply"])
        assert client.read_message() == (0, b"reply")
        assert client.peer_nonce == 2  # MESSAGE nonces continue from READY's
        wait_for_event(server.monitor, zmq.EVENT_HANDSHAKE_SUCCEEDED, timeout=1.0)
    finally:
        client.close()
