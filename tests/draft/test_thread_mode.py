"""The draft API from a plain thread (io_mode="thread"): join, leave and connect_peer run in
the Context's I/O thread like every other call that touches socket state."""
from __future__ import annotations

import time

import pytest

import gzmq

pytestmark = pytest.mark.timeout(15)


def test_draft_calls_cross_to_the_io_thread() -> None:
    ctx = gzmq.Context(io_mode="thread")
    try:
        dish = ctx.socket(gzmq.DISH)
        dish.bind("udp://127.0.0.1:*")
        dish.join("g")
        radio = ctx.socket(gzmq.RADIO)
        radio.connect(dish.last_endpoint.decode())
        radio.send(b"x", group="g")
        dish.rcvtimeo = 5000
        assert dish.recv() == b"x"
        dish.leave("g")
        with pytest.raises(gzmq.ZMQError):
            dish.leave("g")
        hub = ctx.socket(gzmq.PEER)
        hub.bind("tcp://127.0.0.1:*")
        peer = ctx.socket(gzmq.PEER)
        routing_id = peer.connect_peer(hub.last_endpoint.decode())
        peer.send(b"hello", routing_id=routing_id)
        hub.rcvtimeo = 5000
        frame = hub.recv(copy=False)
        hub.send(b"back", routing_id=frame.routing_id)
        peer.rcvtimeo = 5000
        assert peer.recv() == b"back"
        time.sleep(0)  # a plain program: nothing cooperative here
    finally:
        ctx.destroy(0)
