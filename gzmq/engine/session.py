"""Session: the socket's side of one peer slot, across the connections that fill it.

libzmq splits a connection in two: the *engine* speaks the protocol over one stream and dies
with it; the *session* (``session_base``) belongs to the socket and owns the pipe. gzmq does the
same, so that nothing about pipes is decided by an engine flag that a connector reads later:

- A connect() makes its session at once. Its pipe exists from the start and, unless the socket
  type waits for a handshake (ROUTER, or IMMEDIATE), is attached to the routing right away, so
  messages queue before the peer is there (libzmq's "attach on connect").
- A bind() makes a session per accepted connection; its pipe is made when the handshake
  succeeds, and it lives as long as that connection.
- Each successful handshake calls ``engine_ready``: the pipe learns the peer's properties, is
  attached if it is not yet, and after a reconnect the routing hears of the hiccup.
- Each engine's end calls ``engine_ended``: the engine's end of the pipe stops taking input,
  and the pipe is detached unless the session keeps it for the next connection.
- What libzmq's session says to either side about a connection does not depend on the wire,
  so it is here: HELLO_MSG goes to each new peer first, ROUTER_NOTIFY's empty messages and
  DISCONNECT_MSG / HICCUP_MSG come to the socket from the pipe of the peer concerned.

Engines, listeners and connectors talk to pipes only through a session.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional

from ..constants import SocketType
from ..pipe import Pipe

if TYPE_CHECKING:
    from ..core import SocketCore

__all__ = ["Session", "hello_message", "disconnect_message"]

T = SocketType
#: libzmq's ``can_send_hello_msg``, ``can_recv_disconnect_msg``, ``can_recv_hiccup_msg``: the
#: types that act on HELLO_MSG, DISCONNECT_MSG, HICCUP_MSG (any type may set them)
SENDS_HELLO = frozenset({T.DEALER, T.ROUTER, T.CLIENT, T.SERVER, T.PEER})
GETS_DISCONNECT_MSG = frozenset({T.ROUTER, T.SERVER, T.PEER})
GETS_HICCUP_MSG = frozenset({T.DEALER, T.CLIENT, T.PEER})


def hello_message(socket: "SocketCore") -> Optional[list[bytes]]:
    """HELLO_MSG, if ``socket`` sends one to each new peer."""
    hello = socket.options.hello_msg
    return [hello] if hello and socket.type in SENDS_HELLO else None


def disconnect_message(socket: "SocketCore") -> Optional[list[bytes]]:
    """DISCONNECT_MSG, if ``socket`` hears it when a peer that connected to it goes."""
    message = socket.options.disconnect_msg
    return [message] if message and socket.type in GETS_DISCONNECT_MSG else None


#: ROUTER_NOTIFY's bits (libzmq's ZMQ_NOTIFY_CONNECT, ZMQ_NOTIFY_DISCONNECT)
NOTIFY_CONNECT, NOTIFY_DISCONNECT = 1, 2


class Session:
    __slots__ = ("socket", "endpoint", "connecting", "pipe", "engine_end", "attached",
                 "_connected_before", "attach_early")

    def __init__(self, socket: "SocketCore", endpoint: str, *, connecting: bool) -> None:
        self.socket = socket
        self.endpoint = endpoint
        self.connecting = connecting
        #: the socket's end of the pipe (made now on the connect side, at the handshake else)
        self.pipe: Optional[Pipe] = None
        #: the engine's end of the pipe
        self.engine_end: Optional[Pipe] = None
        #: the routing has the pipe (a refused peer, PAIR's second say, stays unattached)
        self.attached = False
        #: a handshake succeeded before: the next one is a reconnect
        self._connected_before = False
        options = socket.options
        #: attach the pipe now (queue before connected) unless ROUTER or IMMEDIATE
        self.attach_early = (connecting and socket.routing.attach_on_connect
                             and not options.immediate)
        if connecting:
            self._make_pipe()
            if options.connect_routing_id:
                assert self.pipe is not None
                self.pipe.routing_id = options.connect_routing_id
                options.connect_routing_id = b""  # it names only the next connection
            if self.attach_early:
                self._attach()

    def _make_pipe(self) -> None:
        self.pipe, self.engine_end = self.socket.lifecycle.new_pipe()
        self.pipe.endpoint = self.endpoint

    def _attach(self) -> None:
        assert self.pipe is not None
        self.attached = self.socket.lifecycle.attach(self.pipe)

    # --- what engines call ------------------------------------------------------------------

    def engine_ready(self, properties: dict[str, Any]) -> Pipe:
        """A handshake succeeded with a peer that has ``properties`` (its metadata plus
        Peer-Address and User-Id): set the pipe up for it; return the engine's end."""
        if self.pipe is None or self.engine_end is None:
            self._make_pipe()
        pipe, engine_end = self.pipe, self.engine_end
        assert pipe is not None and engine_end is not None
        pipe.properties = properties
        if not pipe.routing_id:
            pipe.routing_id = bytes(properties.get("Identity", b""))
        engine_end.outbound.reopen_writing()  # after a reconnect: this peer sends again
        if self._connected_before:
            self.socket.routing.hiccup(pipe)
        self._connected_before = True
        if not self.attached:
            # a refused peer (PAIR's second, ROUTER's duplicate identity) stays connected but
            # unheard, as with libzmq, whose tests show it is not adopted later either
            self._attach()
        hello = hello_message(self.socket)
        if hello is not None:  # the first message this peer gets, on each connection
            pipe.outbound.rewrite(lambda queued: [hello] + queued)
        if self.attached and self.socket.options.router_notify & NOTIFY_CONNECT:
            engine_end.outbound.force_put([b""])  # the ROUTER reads [peer's id, b""]
        return engine_end

    def engine_ended(self, handshake_done: bool) -> None:
        """The connection is over. The socket may still read what arrived, then no more; the
        pipe stays for the next connection only where it was attached before connecting."""
        if handshake_done and self.engine_end is not None:
            if self.attached and not self.socket.closed:
                self._tell_socket_of_the_end()
            self.engine_end.close_writing()
            self.engine_end.detach_notifiers()
        if self.pipe is not None and self.attached and not self._keeps_pipe():
            self._detach()

    def _tell_socket_of_the_end(self) -> None:
        """ROUTER_NOTIFY's empty message, then DISCONNECT_MSG (a peer that had connected to
        us) or HICCUP_MSG (a peer we had connected to), as libzmq's engine and session."""
        assert self.engine_end is not None
        options, kind, to_socket = self.socket.options, self.socket.type, self.engine_end.outbound
        if options.router_notify & NOTIFY_DISCONNECT:
            to_socket.force_put([b""])
        if self.connecting:
            if options.hiccup_msg and kind in GETS_HICCUP_MSG:
                to_socket.force_put([options.hiccup_msg])
        else:
            goodbye = disconnect_message(self.socket)
            if goodbye is not None:
                to_socket.force_put(goodbye)

    def _keeps_pipe(self) -> bool:
        return self.attach_early and not self.socket.closed

    def _detach(self) -> None:
        assert self.pipe is not None
        self.socket.lifecycle.detach(self.pipe)
        self.attached = False

    # --- what the socket's endpoint handles call ----------------------------------------------

    def has_pending(self) -> bool:
        """Messages wait to be sent to this peer."""
        return self.pipe is not None and bool(len(self.pipe.outbound))

    def close_writing(self) -> None:
        """The socket is closing: what is queued still goes out, nothing more comes."""
        if self.pipe is not None:
            self.pipe.close_writing()

    def drop(self) -> None:
        """disconnect()/unbind(): forget the pipe and what it holds."""
        pipe = self.pipe
        if pipe is None:
            return
        pipe.close_reading()
        pipe.outbound.clear()
        if self.attached:
            self._detach()
