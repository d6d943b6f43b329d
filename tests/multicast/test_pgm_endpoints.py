"""pgm/epgm endpoint errors, as libzmq 4.3 reports them (checked against the oracle). None of
these opens a socket, so they run outside a network namespace and send nothing."""

from __future__ import annotations

import pytest

import gzmq as zmq


@pytest.mark.parametrize("kind", ["PUSH", "PULL", "REQ", "REP", "DEALER", "ROUTER", "PAIR"])
@pytest.mark.parametrize("scheme", ["pgm", "epgm"])
def test_only_pub_xpub_sub_xsub_take_pgm(ctx: zmq.Context, kind: str, scheme: str) -> None:
    sock = ctx.socket(getattr(zmq, kind))
    for op in (sock.bind, sock.connect):
        with pytest.raises(zmq.ZMQError) as info:
            op(f"{scheme}://127.0.0.1;239.192.1.1:5555")
        assert info.value.errno == zmq.ENOCOMPATPROTO


@pytest.mark.parametrize("address", [
    "127.0.0.1;239.192.1.1",          # no port
    "127.0.0.1;239.192.1.1:0",        # port 0 (libzmq leaks EAGAIN here; gzmq says EINVAL)
    "127.0.0.1;239.192.1.1:abc",      # libzmq aborts on this one
    "nosuchif0;239.192.1.1:5555",     # no such interface
    "127.0.0.1;10.0.0.1:5555",        # not a multicast group (libzmq aborts)
    "127.0.0.1;not-an-ip:5555",
])
@pytest.mark.parametrize("kind", ["PUB", "SUB"])
def test_bad_pgm_addresses_are_einval(ctx: zmq.Context, kind: str, address: str) -> None:
    sock = ctx.socket(getattr(zmq, kind))
    with pytest.raises(zmq.ZMQError) as info:
        sock.connect("epgm://" + address)
    assert info.value.errno == zmq.EINVAL
