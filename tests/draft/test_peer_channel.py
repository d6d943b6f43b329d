"""PEER (RFC 51) and CHANNEL (RFC 52) — libzmq exports them, the zeromq.js oracle does not,
so these are spec tests only (libzmq ``peer.cpp``, ``channel.cpp``)."""
from __future__ import annotations

from typing import Any

import pytest

import gzmq
from draft_helpers import expect_errno

pytestmark = pytest.mark.timeout(15)


def test_connect_peer_returns_a_routing_id(ctx: Any, endpoint: str) -> None:
    alice = ctx.socket(gzmq.PEER)
    alice.bind(endpoint)
    bob = ctx.socket(gzmq.PEER)
    for sock in (alice, bob):
        sock.rcvtimeo = sock.sndtimeo = 5000
    to_alice = bob.connect_peer(alice.last_endpoint.decode())
    assert 0 < to_alice <= 0xFFFFFFFF
    bob.send(b"hi alice", routing_id=to_alice)  # queued before the handshake, as libzmq
    frame = alice.recv(copy=False)
    assert frame.bytes == b"hi alice"
    alice.send(b"hi bob", routing_id=frame.routing_id)
    reply = bob.recv(copy=False)
    assert (reply.bytes, reply.routing_id) == (b"hi bob", to_alice)


def test_peer_rules(ctx: Any) -> None:
    peer = ctx.socket(gzmq.PEER)
    expect_errno(gzmq.EHOSTUNREACH, peer.send, b"x", routing_id=42)
    expect_errno(gzmq.EINVAL, peer.send, b"x", gzmq.SNDMORE, routing_id=42)
    peer.immediate = 1
    expect_errno(gzmq.EFAULT, peer.connect_peer, "inproc://nobody")
    expect_errno(gzmq.ENOTSUP, ctx.socket(gzmq.SERVER).connect_peer, "inproc://nobody")


def test_two_peers_get_distinct_ids(ctx: Any) -> None:
    hub = ctx.socket(gzmq.PEER)
    hub.bind("inproc://peers")
    a, b = ctx.socket(gzmq.PEER), ctx.socket(gzmq.PEER)
    a.connect_peer("inproc://peers")
    b.connect_peer("inproc://peers")
    a.send(b"a", routing_id=a._routing.last_attached_id)
    b.send(b"b", routing_id=b._routing.last_attached_id)
    frames = {f.bytes: f.routing_id for f in (hub.recv(copy=False), hub.recv(copy=False))}
    assert frames[b"a"] != frames[b"b"]
    hub.send(b"to b", routing_id=frames[b"b"])
    assert b.recv() == b"to b"


def test_channel_is_an_exclusive_single_part_pair(ctx: Any, endpoint: str) -> None:
    left = ctx.socket(gzmq.CHANNEL)
    left.bind(endpoint)
    right = ctx.socket(gzmq.CHANNEL)
    right.connect(left.last_endpoint.decode())
    for sock in (left, right):
        sock.rcvtimeo = sock.sndtimeo = 5000
    right.send(b"ping")
    assert left.recv() == b"ping"
    left.send(b"pong")
    assert right.recv() == b"pong"
    expect_errno(gzmq.EINVAL, left.send, b"a", gzmq.SNDMORE)
    expect_errno(gzmq.EINVAL, left.send_multipart, [b"a", b"b"])


def test_channel_refuses_a_second_peer(ctx: Any) -> None:
    left = ctx.socket(gzmq.CHANNEL)
    left.bind("inproc://channel-2")
    first, second = ctx.socket(gzmq.CHANNEL), ctx.socket(gzmq.CHANNEL)
    first.connect("inproc://channel-2")
    second.connect("inproc://channel-2")
    first.send(b"from first")
    second.send(b"from second", gzmq.NOBLOCK)  # queued on a pipe nobody reads
    left.rcvtimeo = 1000
    assert left.recv() == b"from first"
    with pytest.raises(gzmq.Again):
        left.recv(gzmq.NOBLOCK)
