"""Bounded waits and receive helpers for tests/draft."""
from __future__ import annotations

from typing import Any, Callable

import gevent

import gzmq

#: bound on every "this must happen" wait (seconds)
WAIT = 5.0


def until(check: Callable[[], Any], timeout: float = WAIT, step: Callable[[], Any] = lambda: None,
          interval: float = 0.01) -> Any:
    """Call ``step`` then ``check`` until ``check`` returns something truthy (bounded)."""
    with gevent.Timeout(timeout, AssertionError(f"not within {timeout} s: {check}")):
        while True:
            step()
            result = check()
            if result:
                return result
            gevent.sleep(interval)


def try_recv(sock: Any, copy: bool = False) -> Any:
    try:
        return sock.recv(gzmq.NOBLOCK, copy=copy)
    except gzmq.Again:
        return None


def drain(sock: Any, quiet: float = 0.15) -> int:
    """Receive and discard until nothing has come for ``quiet`` seconds; how many came."""
    count = 0
    with gevent.Timeout(WAIT, AssertionError("never quiet")):
        while sock.poll(int(quiet * 1000)):
            sock.recv(gzmq.NOBLOCK)
            count += 1
    return count


def expect_errno(number: int, call: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
    """``call(*args, **kwargs)`` raises a ZMQError with errno ``number``."""
    try:
        call(*args, **kwargs)
    except gzmq.ZMQError as error:
        assert error.errno == number, (error.errno, error)
    else:
        raise AssertionError(f"{call} did not raise errno {number}")


class RawPeer:
    """A hand-driven ZMTP peer (``gzmq.zmtp.Connection`` over a plain socket) connected to a
    gzmq socket bound at a tcp endpoint: for bytes no well-behaved libzmq peer sends."""

    def __init__(self, sock: Any, socket_type: str) -> None:
        import socket as pysocket

        from gzmq import zmtp

        port = int(sock.last_endpoint.decode().rsplit(":", 1)[1])
        self.raw = pysocket.create_connection(("127.0.0.1", port))
        self.raw.settimeout(0)
        self.conn = zmtp.Connection(socket_type)
        self.events: list[Any] = []
        self.raw.sendall(self.conn.initiate())
        until(lambda: self.conn.state is zmtp.ConnectionState.READY, step=self.pump)

    def pump(self) -> None:
        """Read what has arrived (events into ``events``) and write what the protocol owes."""
        try:
            data = self.raw.recv(65536)
        except BlockingIOError:
            data = b""
        if data:
            self.events.extend(self.conn.receive_data(data))
        out = self.conn.data_to_send()
        if out:
            self.raw.sendall(out)

    def send(self, data: bytes) -> None:
        self.raw.sendall(data)

    def close(self) -> None:
        self.raw.close()
