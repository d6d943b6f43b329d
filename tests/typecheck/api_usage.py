"""Checked by mypy --strict (tests/test_typing.py), never run: the public API is typed as pyzmq's
stubs type it, so code written against pyzmq's types checks against gzmq unchanged."""

from __future__ import annotations

from typing import Optional, Union

from typing_extensions import assert_type

import gzmq as zmq
from gzmq.stats import PeerStats, SocketStats


def usage(ctx: zmq.Context) -> None:
    sock = ctx.socket(zmq.DEALER)
    assert_type(sock.recv(), bytes)
    assert_type(sock.recv(zmq.NOBLOCK), bytes)
    assert_type(sock.recv(copy=False), zmq.Frame)
    assert_type(sock.recv(0, False), zmq.Frame)
    assert_type(sock.recv_multipart(), list[bytes])
    assert_type(sock.recv_multipart(copy=False), list[zmq.Frame])
    assert_type(sock.send(b"x"), None)
    assert_type(sock.send(b"x", copy=False), zmq.MessageTracker)
    assert_type(sock.send(b"x", 0, False, True), zmq.MessageTracker)
    assert_type(sock.send(zmq.Frame(b"x")), Optional[zmq.MessageTracker])
    copy = bool(sock.rcvmore)
    assert_type(sock.recv(0, copy), Union[bytes, zmq.Frame])
    stats = sock.stats()  # gzmq only: typed per key
    assert_type(stats, SocketStats)
    assert_type(stats["bytes_in"], int)
    assert_type(stats["dropped"], dict[str, int])
    assert_type(stats["peers"][0], PeerStats)
    sock.close()
