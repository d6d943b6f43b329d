"""The tcp-level socket options libzmq 4.3.5 sets on its sockets (tcp.cpp
``tcp_open_socket``, ``tune_tcp_maxrt``): TOS, PRIORITY, BUSY_POLL on the socket that dials
or listens (an accepted connection inherits what Linux passes on: TOS, not PRIORITY), TCP_MAXRT
on every connection. BINDTODEVICE needs CAP_NET_RAW: tested with ``lo``."""
from __future__ import annotations

import socket as stdsocket

import pytest

import gzmq

pytestmark = pytest.mark.timeout(20)


def connected_streams(ctx, **options):
    server, client = ctx.socket(gzmq.ROUTER), ctx.socket(gzmq.DEALER)
    for sock in (server, client):
        sock.linger = 0
        for name, value in options.items():
            sock.setsockopt(getattr(gzmq, name.upper()), value)
    server.bind("tcp://127.0.0.1:*")
    client.connect(server.last_endpoint.decode())
    client.send(b"hi")
    assert server.poll(3000)
    server.recv_multipart()
    (accepted,), (dialled,) = ([peer.stream for peer in sock._core.lifecycle.peers]
                               for sock in (server, client))
    return accepted, dialled


def test_tos_priority_maxrt(ctx):
    accepted, dialled = connected_streams(ctx, tos=0x28, priority=3, tcp_maxrt=4000)
    for stream in (accepted, dialled):
        assert stream.getsockopt(stdsocket.IPPROTO_IP, stdsocket.IP_TOS) == 0x28
        assert stream.getsockopt(stdsocket.IPPROTO_TCP, stdsocket.TCP_USER_TIMEOUT) == 4000
    # set on the listening socket, as libzmq does; Linux does not pass it to accepted ones
    assert dialled.getsockopt(stdsocket.SOL_SOCKET, stdsocket.SO_PRIORITY) == 3


def test_defaults_leave_the_sockets_alone(ctx):
    for stream in connected_streams(ctx):
        assert stream.getsockopt(stdsocket.IPPROTO_IP, stdsocket.IP_TOS) == 0
        assert stream.getsockopt(stdsocket.IPPROTO_TCP, stdsocket.TCP_USER_TIMEOUT) == 0


def _can_bind_to_device() -> bool:
    probe = stdsocket.socket()
    try:
        probe.setsockopt(stdsocket.SOL_SOCKET, stdsocket.SO_BINDTODEVICE, b"lo")
        return True
    except OSError:
        return False
    finally:
        probe.close()


@pytest.mark.skipif(not _can_bind_to_device(), reason="SO_BINDTODEVICE needs CAP_NET_RAW")
def test_bindtodevice(ctx):
    for stream in connected_streams(ctx, bindtodevice=b"lo"):
        assert stream.getsockopt(stdsocket.SOL_SOCKET, stdsocket.SO_BINDTODEVICE,
                                 16).rstrip(b"\0") == b"lo"


@pytest.mark.skipif(not _can_bind_to_device(), reason="SO_BINDTODEVICE needs CAP_NET_RAW")
def test_bindtodevice_unknown_device_fails_the_bind(ctx):
    sock = ctx.socket(gzmq.ROUTER)
    sock.setsockopt(gzmq.BINDTODEVICE, b"no-such-dev0")
    with pytest.raises(gzmq.ZMQError):
        sock.bind("tcp://127.0.0.1:*")
