"""SCATTER / GATHER (RFC 49): PUSH/PULL for single-part messages, as libzmq 4.3.5."""
from __future__ import annotations

from typing import Any

import pytest

import gzmq
from draft_helpers import expect_errno

pytestmark = pytest.mark.timeout(15)


def test_round_robin_and_fair_queue(ctx: Any, endpoint: str) -> None:
    gather = ctx.socket(gzmq.GATHER)
    gather.bind(endpoint)
    address = gather.last_endpoint.decode()
    scatters = [ctx.socket(gzmq.SCATTER) for _ in range(2)]
    for scatter in scatters:
        scatter.connect(address)
    gather.rcvtimeo = 5000
    for index, scatter in enumerate(scatters):
        for n in range(3):
            scatter.send(b"%d-%d" % (index, n))
    got = [gather.recv() for _ in range(6)]
    assert sorted(got) == sorted(b"%d-%d" % (i, n) for i in range(2) for n in range(3))
    for index in range(2):  # each peer's messages in its own order
        assert [m for m in got if m.startswith(b"%d-" % index)] == \
            [b"%d-%d" % (index, n) for n in range(3)]


def test_scatter_round_robin(ctx: Any) -> None:
    gathers = [ctx.socket(gzmq.GATHER) for _ in range(2)]
    for index, gather in enumerate(gathers):
        gather.bind(f"inproc://sg-{index}")
    scatter = ctx.socket(gzmq.SCATTER)
    for index in range(2):
        scatter.connect(f"inproc://sg-{index}")
    for n in range(4):
        scatter.send(b"%d" % n)
    assert [gathers[0].recv(), gathers[0].recv()] == [b"0", b"2"]
    assert [gathers[1].recv(), gathers[1].recv()] == [b"1", b"3"]


def test_single_part_and_direction_rules(ctx: Any) -> None:
    scatter = ctx.socket(gzmq.SCATTER)
    gather = ctx.socket(gzmq.GATHER)
    expect_errno(gzmq.EINVAL, scatter.send, b"a", gzmq.SNDMORE)
    expect_errno(gzmq.EINVAL, scatter.send_multipart, [b"a", b"b"])
    expect_errno(gzmq.ENOTSUP, scatter.recv, gzmq.NOBLOCK)
    expect_errno(gzmq.ENOTSUP, gather.send, b"a")
    with pytest.raises(gzmq.Again):
        scatter.send(b"no peer", gzmq.NOBLOCK)  # blocks like PUSH: nobody to take it
