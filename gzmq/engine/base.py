"""What every engine is to the listener, the connector and the session: one stream, one peer.

``Engine`` (ZMTP) and ``RawEngine`` (STREAM, no protocol) both start from this; a Listener or
Connector reads only these attributes and the ``run`` / ``shutdown`` / ``close`` / ``abandon``
methods each defines.
"""

from __future__ import annotations

import sys
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Callable, Optional

from gevent import socket as gsocket

from .session import Session

if TYPE_CHECKING:
    from ..core import SocketCore

__all__ = ["EngineBase", "address_property"]


@lru_cache(maxsize=1024)
def address_property(peer_address: str) -> bytes:
    """The Peer-Address property: one bytes object for the many connections of one host."""
    return peer_address.encode()


class EngineBase:
    # __slots__ here and in every engine class: one per connection, 10,000 on a busy socket
    __slots__ = ("socket", "session", "stream", "fd", "endpoint", "peer_address", "_closing",
                 "handshake_done", "auth_refused", "on_handshake_done", "detached", "listener")

    def __init__(self, socket: "SocketCore", stream: gsocket.socket, peer_address: str,
                 session: Session) -> None:
        self.socket = socket
        self.session = session
        self.stream = stream
        #: the stream's fd, for monitor events (it reads -1 once the stream is closed)
        self.fd = stream.fileno()
        self.endpoint = session.endpoint
        #: interned: the many connections of one host share one string
        self.peer_address = sys.intern(peer_address)
        #: our own socket is ending this connection (closing, unbind, disconnect)
        self._closing = False
        #: the connection is usable (for ZMTP: the handshake succeeded)
        self.handshake_done = False
        #: set once ZAP refused this peer (its monitor event has been emitted)
        self.auth_refused = False
        #: called once the handshake succeeds (a Listener frees its handshake slot then)
        self.on_handshake_done: Optional[Callable[[], None]] = None
        #: the greenlet that ran ``run_detached`` ended, the connection going on without it
        self.detached = False
        #: the Listener or Connector that made the connection: its ``engine_ended(engine,
        #: outcome)`` is called once the connection has ended (not a bound method: 64 bytes
        #: per connection)
        self.listener: Any = None

    def run(self) -> str:
        """Drive the connection until it ends; return a ``ConnectionOutcome``."""
        raise NotImplementedError

    def run_detached(self) -> Optional[str]:
        """What a Listener or Connector runs in its greenlet: ``run``, unless the engine can
        let that greenlet end before the connection does (it returns None, and ``detached``
        says so; ``listener.engine_ended`` tells of the end)."""
        return self.run()

    def close(self) -> None:
        """Disconnect now, dropping whatever is queued."""
        self._closing = True
        self._close_stream()

    def close_silent_peer(self) -> None:
        """Heartbeat timeout: a network failure, so a connecting socket will reconnect."""
        self._close_stream()

    def _close_stream(self) -> None:
        """Close the stream, waking whatever of this engine waits on it."""
        raise NotImplementedError
