"""SocketCore: what the machinery behind a socket may use of it (the typed seam).

A ``Socket`` is two objects. The ``Socket`` the application holds is a facade: frames, flags,
pyzmq's API. Its ``SocketCore`` is everything the background works with: options, the socket
type's routing, the two readiness signals, the endpoints, the lifecycle that owns every
greenlet, the monitor. Listeners, connectors, sessions, engines, inproc links and the lifecycle
hold the core, never the facade, so a socket the application drops is garbage-collected like
any Python object, and closed then, as pyzmq closes it (``Socket.__del__``).

Everything here is typed, so that mypy can tell which layer uses what of a socket.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional

from . import lifecycle
from .constants import Event, SocketType
from .options import Options
from .pipe import Signal
from .routing.base import Routing
from .transports.stream import MAX_PENDING_HANDSHAKES

if TYPE_CHECKING:
    from .socket import Socket

__all__ = ["SocketCore"]


class SocketCore:
    __slots__ = ("context", "type", "options", "routing", "recv_signal", "send_signal",
                 "endpoints", "lifecycle", "closed", "background_error", "monitor",
                 "monitor_events", "max_pending_handshakes", "events_seen", "bytes_in",
                 "bytes_out", "__weakref__")

    def __init__(self, context: Any, socket_type: SocketType, routing_class: type[Routing]) -> None:
        #: the Context (facade) the socket belongs to
        self.context = context
        self.type = socket_type
        self.options = Options(socket_type, routing_class.option_defaults)
        self.routing: Routing = routing_class(self.options)
        #: notified when the socket may have become readable / writable
        self.recv_signal = self.routing.recv_signal = Signal()
        self.send_signal = self.routing.send_signal = Signal()
        self.endpoints = lifecycle.EndpointTable()
        self.lifecycle = lifecycle.SocketLifecycle(self)
        self.closed = False
        #: an unexpected error that killed one of this socket's greenlets (see lifecycle)
        self.background_error: Optional[BaseException] = None
        #: the PAIR socket events are published on, and which events it wants
        self.monitor: Optional["Socket"] = None
        self.monitor_events = 0
        #: gzmq only: the bound on accepted connections still in their handshake (0 or None:
        #: none); the facade's ``max_pending_handshakes`` attribute
        self.max_pending_handshakes: Any = MAX_PENDING_HANDSHAKES
        #: statistics (``Socket.stats()``, gzmq.stats): every event emitted so far, by kind
        #: (counted whether or not a monitor listens), and the bytes of the tcp/ipc
        #: connections that have ended (live ones count on their engine)
        self.events_seen: dict[Event, int] = {}
        self.bytes_in = 0
        self.bytes_out = 0

    def emit(self, event: Event, value: int, endpoint: str) -> None:
        """Report ``event`` (with libzmq's value for it) to this socket's monitor, if it has
        one that wants it. Never raises: a monitor must not break the connection it watches.
        Counted in ``events_seen`` either way (events are rare: this is no per-message cost)."""
        seen = self.events_seen
        seen[event] = seen.get(event, 0) + 1
        if self.monitor is not None:
            from .monitor import emit
            emit(self, event, value, endpoint)

    def wake_all(self) -> None:
        """Wake every greenlet waiting on this socket (and pollers watching it)."""
        self.recv_signal.notify()
        self.send_signal.notify()

    def close(self, linger: Optional[int] = None) -> None:
        """Close now; queued messages keep going for LINGER ms in the background."""
        if self.closed:
            return
        if linger is not None:
            self.options.linger = linger
        self.closed = True
        self.wake_all()
        if self.monitor is not None:
            from .monitor import stop_monitor
            stop_monitor(self)
        self.lifecycle.close(self.options.linger)
