"""udp:// for RADIO/DISH between gzmq sockets: unicast, multicast (loopback), bind/connect
rules as libzmq, and hostile datagrams."""
from __future__ import annotations

import logging
import socket as pysocket
from typing import Any

import pytest

from gevent import socket as gsocket

import gzmq
from draft_helpers import drain, expect_errno, try_recv, until

pytestmark = pytest.mark.timeout(15)


def _dish(ctx: Any, url: str, *groups: str) -> tuple[Any, int]:
    dish = ctx.socket(gzmq.DISH)
    dish.bind(url)
    for group in groups:
        dish.join(group)
    return dish, int(dish.last_endpoint.decode().rsplit(":", 1)[1])


def test_unicast_filters_by_group(ctx: Any) -> None:
    dish, port = _dish(ctx, "udp://127.0.0.1:*", "g")
    assert dish.last_endpoint.decode() == f"udp://127.0.0.1:{port}"
    radio = ctx.socket(gzmq.RADIO)
    radio.connect(f"udp://127.0.0.1:{port}")
    radio.send(b"other group", group="x")
    radio.send(b"ours", group="g")
    dish.rcvtimeo = 5000
    frame = dish.recv(copy=False)
    assert (frame.bytes, frame.group) == (b"ours", "g")
    assert drain(dish) == 0


def test_wildcard_bind_and_datagram_bytes(ctx: Any) -> None:
    dish, port = _dish(ctx, "udp://*:*", "gg")
    raw = pysocket.socket(pysocket.AF_INET, pysocket.SOCK_DGRAM)
    raw.sendto(b"\x02gghi", ("127.0.0.1", port))  # what libzmq's RADIO sends [captured]
    dish.rcvtimeo = 5000
    assert dish.recv() == b"hi"
    raw.close()
    listener = gsocket.socket(pysocket.AF_INET, pysocket.SOCK_DGRAM)  # waits yield to the hub
    listener.bind(("127.0.0.1", 0))
    listener.settimeout(5)
    radio = ctx.socket(gzmq.RADIO)
    radio.connect(f"udp://127.0.0.1:{listener.getsockname()[1]}")
    radio.send(b"hi", group="gg")
    assert listener.recv(9000) == b"\x02gghi"
    radio.send(b"x" * 8190, group="g")  # 8192 bytes: the largest libzmq sends
    assert len(listener.recv(9000)) == 8192
    radio.send(b"x" * 8191, group="g")  # one more: dropped, as libzmq
    radio.send(b"after", group="g")
    assert listener.recv(9000) == b"\x01gafter"
    listener.close()


def test_multicast_loopback(ctx: Any) -> None:
    group_address = "239.192.17.%d" % (id(ctx) % 200 + 1)
    dish, _ = _dish(ctx, f"udp://{group_address}:0", "m")
    port = int(dish.last_endpoint.decode().rsplit(":", 1)[1])
    radio = ctx.socket(gzmq.RADIO)
    radio.connect(f"udp://{group_address}:{port}")
    frame = until(lambda: try_recv(dish), step=lambda: radio.send(b"multicast", group="m"))
    assert (frame.bytes, frame.group) == (b"multicast", "m")


def test_bind_and_connect_rules(ctx: Any) -> None:
    for kind, call in ((gzmq.RADIO, "bind"), (gzmq.DISH, "connect"), (gzmq.PUB, "bind"),
                       (gzmq.SUB, "connect"), (gzmq.SERVER, "bind")):
        expect_errno(gzmq.ENOCOMPATPROTO, getattr(ctx.socket(kind), call), "udp://127.0.0.1:5555")
    for bad in ("udp://127.0.0.1", "udp://127.0.0.1:x", "udp://127.0.0.1;239.1.1.1"):
        expect_errno(gzmq.EINVAL, ctx.socket(gzmq.DISH).bind, bad)
    with pytest.raises(gzmq.ZMQError) as info:  # an interface needs a multicast group
        ctx.socket(gzmq.DISH).bind("udp://127.0.0.1;127.0.0.1:5555")
    assert info.value.errno == gzmq.EINVAL


def test_unbind_and_disconnect(ctx: Any) -> None:
    dish, port = _dish(ctx, "udp://127.0.0.1:*", "g")
    radio = ctx.socket(gzmq.RADIO)
    url = f"udp://127.0.0.1:{port}"
    radio.connect(url)
    radio.send(b"1", group="g")
    dish.rcvtimeo = 5000
    assert dish.recv() == b"1"
    radio.disconnect(url)
    dish.unbind(dish.last_endpoint)
    with pytest.raises(gzmq.ZMQError):
        dish.unbind(dish.last_endpoint)


def test_hostile_datagrams_are_dropped(ctx: Any, caplog: Any) -> None:
    dish, port = _dish(ctx, "udp://127.0.0.1:*", "g")
    raw = pysocket.socket(pysocket.AF_INET, pysocket.SOCK_DGRAM)
    with caplog.at_level(logging.WARNING, logger="gzmq.security"):
        for datagram in (b"", b"\x05ab", b"\xff" + b"g" * 10, b"\x01gok"):
            raw.sendto(datagram, ("127.0.0.1", port))
        dish.rcvtimeo = 5000
        assert dish.recv() == b"ok"
    assert any("bad datagram" in record.message for record in caplog.records)
    raw.close()
