"""CLIENT / SERVER (RFC 47) as libzmq 4.3.5: single-part messages, SERVER replies by the
uint32 routing id of the received message."""
from __future__ import annotations

from typing import Any

import pytest

import gzmq
from draft_helpers import RawPeer, expect_errno

pytestmark = pytest.mark.timeout(15)


def _pair(ctx: Any, endpoint: str) -> tuple[Any, Any]:
    server = ctx.socket(gzmq.SERVER)
    server.bind(endpoint)
    client = ctx.socket(gzmq.CLIENT)
    client.connect(server.last_endpoint.decode())
    for sock in (server, client):
        sock.rcvtimeo = sock.sndtimeo = 5000
    return server, client


def test_round_trip_by_routing_id(ctx: Any, endpoint: str) -> None:
    server, client = _pair(ctx, endpoint)
    client.send(b"hello")
    frame = server.recv(copy=False)
    assert frame.bytes == b"hello"
    assert 0 < frame.routing_id <= 0xFFFFFFFF
    server.send(b"world", routing_id=frame.routing_id)
    assert client.recv() == b"world"
    reply = gzmq.Frame(b"again")
    reply.routing_id = frame.routing_id  # pyzmq's other spelling: the id on the Frame
    server.send(reply)
    assert client.recv() == b"again"


def test_two_clients_get_distinct_ids(ctx: Any, endpoint: str) -> None:
    server, first = _pair(ctx, endpoint)
    second = ctx.socket(gzmq.CLIENT)
    second.connect(server.last_endpoint.decode())
    first.send(b"1")
    second.send(b"2")
    frames = {server.recv(copy=False).bytes: None for _ in range(2)}
    assert set(frames) == {b"1", b"2"}
    first.send(b"a")
    a = server.recv(copy=False)
    second.send(b"b")
    b = server.recv(copy=False)
    assert a.routing_id != b.routing_id
    server.send(b"to-b", routing_id=b.routing_id)
    server.send(b"to-a", routing_id=a.routing_id)
    assert second.recv() == b"to-b"
    assert first.recv() == b"to-a"


def test_multipart_send_is_einval(ctx: Any) -> None:
    server, client = _pair(ctx, "inproc://cs-more")
    for sock, kwargs in ((client, {}), (server, {"routing_id": 1})):
        expect_errno(gzmq.EINVAL, sock.send, b"a", gzmq.SNDMORE, **kwargs)
        expect_errno(gzmq.EINVAL, sock.send_multipart, [b"a", b"b"])
    client.send(b"still fine")
    assert server.recv() == b"still fine"


def test_server_unknown_or_missing_routing_id(ctx: Any) -> None:
    server, client = _pair(ctx, "inproc://cs-unknown")
    for kwargs in ({}, {"routing_id": 12345}):
        expect_errno(gzmq.EHOSTUNREACH, server.send, b"x", **kwargs)
    for bad in (0, 2**32):
        expect_errno(gzmq.EINVAL, server.send, b"x", routing_id=bad)


def test_server_at_hwm_is_eagain(ctx: Any) -> None:
    server, client = _pair(ctx, "inproc://cs-hwm")
    client.send(b"hi")
    rid = server.recv(copy=False).routing_id
    client.close(0)  # nobody reads: the inproc pipe fills to its mark (or is gone)
    server.sndhwm = 1
    with pytest.raises(gzmq.ZMQError) as info:
        for _ in range(5000):
            server.send(b"x", routing_id=rid, flags=gzmq.NOBLOCK)
    assert info.value.errno in (gzmq.EAGAIN, gzmq.EHOSTUNREACH)


def test_multipart_from_the_wire_is_dropped(ctx: Any) -> None:
    """A DEALER cannot talk to a SERVER (Socket-Type check), so the multipart message comes
    from a raw ZMTP peer: libzmq's SERVER skips every frame of it."""
    server = ctx.socket(gzmq.SERVER)
    server.bind("tcp://127.0.0.1:*")
    client = RawPeer(server, "CLIENT")
    client.send(client.conn.send_message([b"multi", b"part"])
                + client.conn.send_message([b"single"]))
    server.rcvtimeo = 5000
    assert server.recv() == b"single"
    client.close()


def test_client_round_robin_and_poll(ctx: Any) -> None:
    one = ctx.socket(gzmq.SERVER)
    one.bind("inproc://cs-rr-1")
    two = ctx.socket(gzmq.SERVER)
    two.bind("inproc://cs-rr-2")
    client = ctx.socket(gzmq.CLIENT)
    client.connect("inproc://cs-rr-1")
    client.connect("inproc://cs-rr-2")
    for index in range(4):
        client.send(b"%d" % index)
    assert [one.recv(), one.recv()] == [b"0", b"2"]
    assert [two.recv(), two.recv()] == [b"1", b"3"]
    assert client.poll(0, gzmq.POLLIN) == 0
    assert client.poll(0, gzmq.POLLOUT) == gzmq.POLLOUT
