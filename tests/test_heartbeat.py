"""ZMTP heartbeats: we send PINGs when HEARTBEAT_IVL is set, and drop silent peers.

The far end here is a hand-driven ZMTP peer (our own sans-IO Connection on a raw gevent
socket), so it can do what a well-behaved library never would: finish the handshake and then
go silent.
"""

from time import monotonic

import gevent
import pytest
from gevent import socket as gsocket

import gzmq
from gzmq import zmtp
from helpers import raw_peer, wait_for_event


class SilentPeer:
    """Accepts one ZMTP connection, completes the NULL handshake, then only listens."""

    def __init__(self, socket_type="ROUTER"):
        self.listener = gsocket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(1)
        self.endpoint = "tcp://127.0.0.1:%d" % self.listener.getsockname()[1]
        self.conn = zmtp.Connection(socket_type, zmtp.NullMechanism())
        self.events = []
        self.stream = None
        self.closed_at = None
        self.greenlet = gevent.spawn(self._serve)

    def _serve(self):
        self.stream, _ = self.listener.accept()
        self.stream.sendall(self.conn.initiate())
        while True:
            data = self.stream.recv(65536)
            if not data:
                self.closed_at = monotonic()
                return
            self.events.extend(self.conn.receive_data(data))
            out = self.conn.data_to_send()
            if out and not any(isinstance(e, zmtp.Ping) for e in self.events):
                self.stream.sendall(out)  # the handshake, but never a PONG

    def send_raw(self, data):
        self.stream.sendall(data)

    def close(self):
        self.greenlet.kill()
        if self.stream is not None:
            self.stream.close()
        self.listener.close()


def test_we_ping_and_drop_a_peer_that_never_answers(ctx):
    peer = SilentPeer()
    dealer = ctx.socket(gzmq.DEALER)
    dealer.heartbeat_ivl = 50
    dealer.heartbeat_timeout = 150
    dealer.heartbeat_ttl = 1000
    dealer.reconnect_ivl = -1
    monitor = dealer.get_monitor_socket()
    dealer.connect(peer.endpoint)
    wait_for_event(monitor, gzmq.EVENT_HANDSHAKE_SUCCEEDED)
    started = monotonic()
    wait_for_event(monitor, gzmq.EVENT_DISCONNECTED)
    elapsed = monotonic() - started
    assert 0.1 <= elapsed < 1.5
    pings = [e for e in peer.events if isinstance(e, zmtp.Ping)]
    assert pings and pings[0].ttl_ms == 1000
    peer.close()


def test_answered_heartbeats_keep_the_connection(ctx):
    router = ctx.socket(gzmq.ROUTER)
    router.heartbeat_ivl = 30
    router.bind("tcp://127.0.0.1:*")
    dealer = ctx.socket(gzmq.DEALER)
    dealer.heartbeat_ivl = 30
    dealer.heartbeat_timeout = 90
    monitor = dealer.get_monitor_socket()
    dealer.connect(router.last_endpoint)
    wait_for_event(monitor, gzmq.EVENT_HANDSHAKE_SUCCEEDED)
    gevent.sleep(0.5)  # many heartbeat periods, no traffic
    dealer.send(b"still here")
    assert router.recv_multipart()[1] == b"still here"
    assert not monitor.poll(0)  # no DISCONNECTED (nor anything else) happened


def test_peer_ping_ttl_drops_us_when_it_goes_quiet(ctx):
    peer = SilentPeer()
    dealer = ctx.socket(gzmq.DEALER)
    dealer.reconnect_ivl = -1
    monitor = dealer.get_monitor_socket()
    dealer.connect(peer.endpoint)
    wait_for_event(monitor, gzmq.EVENT_HANDSHAKE_SUCCEEDED)
    gevent.sleep(0.05)
    peer.send_raw(peer.conn.ping(ttl_ms=200))
    started = monotonic()
    wait_for_event(monitor, gzmq.EVENT_DISCONNECTED)
    assert 0.15 <= monotonic() - started < 1.5
    peer.close()


def test_ping_from_peer_gets_pong_with_context(ctx):
    peer = SilentPeer()
    dealer = ctx.socket(gzmq.DEALER)
    monitor = dealer.get_monitor_socket()
    dealer.connect(peer.endpoint)
    wait_for_event(monitor, gzmq.EVENT_HANDSHAKE_SUCCEEDED)
    gevent.sleep(0.05)
    peer.send_raw(peer.conn.ping(context=b"ctx-1234"))
    with gevent.Timeout(5):
        while not any(isinstance(e, zmtp.Pong) for e in peer.events):
            gevent.sleep(0.01)
    pong = next(e for e in peer.events if isinstance(e, zmtp.Pong))
    assert pong.context == b"ctx-1234"
    peer.close()


def test_ping_flood_leaves_a_bounded_pong_queue(ctx):
    router = ctx.socket(gzmq.ROUTER)
    router.bind("tcp://127.0.0.1:*")
    stream, conn = raw_peer(router, "DEALER", rcvbuf=4096)
    ping = conn.ping(context=b"c" * 16)
    for _ in range(1500):  # never read the PONGs: far more than the kernel buffers take
        stream.sendall(ping * 500)
    gevent.sleep(0.2)
    engine = next(iter(router._lifecycle.peers))
    assert len(engine._writer.control) <= 16
    stream.close()
