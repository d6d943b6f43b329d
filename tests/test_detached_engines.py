"""An idle tcp connection runs no greenlet (issue 12: idle connection memory).

A ZMTP engine, accepted or dialled, lets its greenlet end after the handshake while the
connection is idle; the hub reads and writes for it, and a greenlet comes back only when one
is needed: backpressure at RCVHWM, the end of the connection (a connector then decides about
redialling), the socket closing (LINGER). These tests check each of those still behaves as
with a greenlet per connection.
"""

from __future__ import annotations

import gevent
import pytest

import gzmq
from helpers import wait_for_event, wait_until

PEERS = 5


def _router_with_dealers(ctx, count=PEERS, **router_options):
    router = ctx.socket(gzmq.ROUTER)
    for name, value in router_options.items():
        setattr(router, name, value)
    monitor = router.get_monitor_socket(gzmq.EVENT_HANDSHAKE_SUCCEEDED | gzmq.EVENT_DISCONNECTED)
    router.bind("tcp://127.0.0.1:*")
    dealers = []
    for index in range(count):
        dealer = ctx.socket(gzmq.DEALER)
        dealer.routing_id = b"d%d" % index
        dealer.connect(router.last_endpoint)
        dealers.append(dealer)
    for _ in range(count):
        wait_for_event(monitor, gzmq.EVENT_HANDSHAKE_SUCCEEDED)
    return router, monitor, dealers


def test_idle_accepted_connections_run_no_greenlet_and_still_route(ctx):
    router, monitor, dealers = _router_with_dealers(ctx)
    assert wait_until(lambda: len(router._core.lifecycle.group) == 1), \
        list(router._core.lifecycle.group)  # the accept loop only
    engines = list(router._core.lifecycle.peers)
    assert all(engine.detached for engine in engines)
    # reading uses the stream's own read watcher (no second one per connection)
    assert all(engine._reader._watcher is engine.stream._read_event for engine in engines)
    # an engine's end of the pipe shares one empty properties mapping
    assert engines[0].session.engine_end.properties is engines[1].session.engine_end.properties
    for dealer in dealers:
        dealer.send(b"ping")
    got = sorted(router.recv_multipart() for _ in dealers)
    assert got == sorted([dealer.routing_id, b"ping"] for dealer in dealers)
    for dealer in dealers:
        router.send_multipart([dealer.routing_id, b"pong"])
    assert [dealer.recv() for dealer in dealers] == [b"pong"] * PEERS
    assert wait_until(lambda: len(router._core.lifecycle.group) == 1)
    monitor.close()


def test_backpressure_on_a_detached_engine_delivers_everything_in_order(ctx):
    router, monitor, (dealer,) = _router_with_dealers(ctx, 1, rcvhwm=4)
    sent = [b"%d" % n for n in range(2000)]
    for body in sent:
        dealer.send(body)
    gevent.sleep(0.05)  # the engine meets RCVHWM: a greenlet waits for room again
    received = [router.recv_multipart()[1] for _ in sent]
    assert received == sent
    assert wait_until(lambda: len(router._core.lifecycle.group) == 1)  # idle again
    monitor.close()


def test_a_peer_hanging_up_ends_a_detached_engine(ctx):
    router, monitor, dealers = _router_with_dealers(ctx, 2)
    dealers[0].close(linger=0)
    wait_for_event(monitor, gzmq.EVENT_DISCONNECTED)
    assert wait_until(lambda: len(router._core.lifecycle.peers) == 1)
    dealers[1].send(b"still here")
    assert router.recv_multipart() == [b"d1", b"still here"]
    monitor.close()


@pytest.mark.parametrize("linger", [1000, -1])
def test_closing_with_linger_delivers_what_detached_engines_queued(ctx, linger):
    router, monitor, dealers = _router_with_dealers(ctx)
    monitor.close()
    for dealer in dealers:
        router.send_multipart([dealer.routing_id, b"last words"])
    router.close(linger=linger)
    assert [dealer.recv() for dealer in dealers] == [b"last words"] * PEERS


def test_closing_with_linger_0_ends_detached_engines_at_once(ctx):
    router, monitor, dealers = _router_with_dealers(ctx)
    monitor.close()
    lifecycle = router._core.lifecycle
    engines = list(lifecycle.peers)
    router.close(linger=0)
    assert wait_until(lambda: not lifecycle.peers and not lifecycle.group)
    assert all(engine.stream.fileno() == -1 for engine in engines)


def test_idle_connections_of_a_connecting_socket_run_no_greenlet_and_still_route(ctx):
    routers = [ctx.socket(gzmq.ROUTER) for _ in range(3)]
    dealer = ctx.socket(gzmq.DEALER)
    dealer.routing_id = b"dealer"
    monitor = dealer.get_monitor_socket(gzmq.EVENT_HANDSHAKE_SUCCEEDED)
    for router in routers:
        router.bind("tcp://127.0.0.1:*")
        dealer.connect(router.last_endpoint)
    for _ in routers:
        wait_for_event(monitor, gzmq.EVENT_HANDSHAKE_SUCCEEDED)
    lifecycle = dealer._core.lifecycle
    assert wait_until(lambda: len(lifecycle.group) == 0), list(lifecycle.group)
    for _ in routers:
        dealer.send(b"hello")
    for router in routers:
        assert router.recv_multipart() == [b"dealer", b"hello"]
        router.send_multipart([b"dealer", b"back"])
    assert [dealer.recv() for _ in routers] == [b"back"] * 3
    monitor.close()


def test_a_detached_connection_that_drops_is_redialled(ctx):
    router = ctx.socket(gzmq.ROUTER)
    router.bind("tcp://127.0.0.1:*")
    endpoint = router.last_endpoint
    dealer = ctx.socket(gzmq.DEALER)
    dealer.routing_id = b"dealer"
    dealer.reconnect_ivl = 20
    monitor = dealer.get_monitor_socket(gzmq.EVENT_HANDSHAKE_SUCCEEDED)
    dealer.connect(endpoint)
    wait_for_event(monitor, gzmq.EVENT_HANDSHAKE_SUCCEEDED)
    assert wait_until(lambda: len(dealer._core.lifecycle.group) == 0)  # idle, detached
    router.close(linger=0)
    router = ctx.socket(gzmq.ROUTER)
    router.bind(endpoint)
    wait_for_event(monitor, gzmq.EVENT_HANDSHAKE_SUCCEEDED)  # redialled
    dealer.send(b"again")
    assert router.recv_multipart() == [b"dealer", b"again"]
    assert wait_until(lambda: len(dealer._core.lifecycle.group) == 0)
    monitor.close()
