"""What ``stream.Listener`` and the connect side need of a byte-stream transport (tcp, ipc).

A transport is an object, handed to the listener that serves it (and its ``dial`` to the
connector), so that ``stream.py`` need not know which transports exist and ``tcp.py`` /
``ipc.py`` need not import ``stream.py``: the dependencies point one way,
``transports/__init__`` → {tcp, ipc, stream} → base.

``apply_buffer_sizes`` is here because every stream transport configures streams with it.
"""

from __future__ import annotations

import socket as stdsocket
from typing import Callable, Optional, Protocol, TypeVar

from gevent import socket as gsocket

from ..options import Options

__all__ = ["StreamTransport", "Listening", "apply_buffer_sizes"]

#: what ``listen`` returns: the listening socket, the endpoint it resolved to (what
#: LAST_ENDPOINT reports) and the function that removes what binding left behind
Listening = tuple[gsocket.socket, str, Callable[[], None]]

_Target = TypeVar("_Target")


class StreamTransport(Protocol[_Target]):
    """A byte-stream transport. ``_Target`` is what ``parse_connect_address`` makes of an
    address for ``dial`` (tcp: host, port, ipv6; ipc: the socket path)."""

    #: the URL scheme, e.g. "tcp"
    scheme: str

    def listen(self, address: str, options: Options, mode: Optional[int] = None) -> Listening:
        """Bind and listen at ``address`` (the URL after ``scheme://``); ZMQError if not."""
        ...

    def parse_connect_address(self, address: str, options: Options) -> _Target:
        """Check ``address`` at connect() time (ZMQError if invalid), without blocking."""
        ...

    def dial(self, target: _Target, options: Options) -> gsocket.socket:
        """A connected, configured stream to ``target``; OSError if not (the caller retries)."""
        ...

    def configure_stream(self, stream: gsocket.socket, options: Options) -> None:
        """Socket options for every connection, dialled or accepted."""
        ...

    def peer_address(self, stream: gsocket.socket) -> str:
        """What libzmq reports as the Peer-Address property of messages from ``stream``."""
        ...


def apply_buffer_sizes(stream: gsocket.socket, options: Options) -> None:
    """SNDBUF/RCVBUF, when set (>= 0), become the kernel's SO_SNDBUF/SO_RCVBUF (libzmq)."""
    if options.sndbuf >= 0:
        stream.setsockopt(stdsocket.SOL_SOCKET, stdsocket.SO_SNDBUF, options.sndbuf)
    if options.rcvbuf >= 0:
        stream.setsockopt(stdsocket.SOL_SOCKET, stdsocket.SO_RCVBUF, options.rcvbuf)
