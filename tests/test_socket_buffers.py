"""SNDBUF / RCVBUF reach the kernel's SO_SNDBUF / SO_RCVBUF on every connection (libzmq)."""

import socket

import gevent
import pytest

import gzmq


@pytest.mark.parametrize("transport", ["tcp", "ipc"])
def test_buffer_sizes_applied_to_both_ends(ctx, tmp_path, transport):
    endpoint = "tcp://127.0.0.1:*" if transport == "tcp" else f"ipc://{tmp_path}/b.ipc"
    server = ctx.socket(gzmq.PULL)
    server.rcvbuf = 50_000
    server.bind(endpoint)
    client = ctx.socket(gzmq.PUSH)
    client.sndbuf = 60_000
    client.connect(server.last_endpoint)
    client.send(b"x")
    server.rcvtimeo = 5000
    assert server.recv() == b"x"
    (server_engine,) = server._lifecycle.peers
    (client_engine,) = client._lifecycle.peers
    # Linux doubles what it is given (bookkeeping overhead); at least the asked size it is
    assert server_engine.stream.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF) >= 50_000
    assert client_engine.stream.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF) >= 60_000

