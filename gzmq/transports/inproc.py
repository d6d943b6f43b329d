"""inproc:// — two sockets of one Context joined by a pipe; no engine, no codec, no copies.

- bind and connect work in either order: connecting to a name nobody has bound yet creates the
  pipe at once (messages queue) and the binder adopts it when it binds.
- Each direction's high-water mark is the sender's SNDHWM plus the receiver's RCVHWM (libzmq;
  0 on either side means unbounded).
- Routing ids and Socket-Type are exchanged the way a ZMTP handshake would, so a ROUTER sees
  an inproc peer's ROUTING_ID and ``Frame.get('Socket-Type')`` works.
- Closing one side stops its writing; the other side still reads what was already queued.
- The names of one Context are an ``InprocRegistry``, which the context holds
  (``context._inproc``) and only this module changes; others may ask who is bound at a name
  (``bound_socket``: the ZAP client does).
"""

from __future__ import annotations

from typing import Any, Optional

from ..constants import EADDRINUSE, SOCKET_TYPE_NAMES
from ..engine.session import disconnect_message, hello_message
from ..error import ZMQError
from ..pipe import pipe_pair

__all__ = ["bind", "connect", "InprocLink", "InprocRegistry"]


class InprocRegistry:
    """The inproc names of one Context: the socket bound at each, and the connects made to a
    name before anyone bound it (their links wait here for the binder to adopt them)."""

    __slots__ = ("_bound", "_pending")

    def __init__(self) -> None:
        self._bound: dict[str, Any] = {}
        self._pending: dict[str, list[InprocLink]] = {}

    def bound_socket(self, name: str) -> Optional[Any]:
        """The socket bound at ``name`` (possibly closed already), or None."""
        return self._bound.get(name)

    def bind(self, name: str, socket: Any) -> list[InprocLink]:
        """Register ``socket`` at ``name`` (EADDRINUSE if taken); return the links that
        were waiting for it."""
        if name in self._bound:
            raise ZMQError(EADDRINUSE)
        self._bound[name] = socket
        return self._pending.pop(name, [])

    def unbind(self, name: str, socket: Any) -> None:
        """Forget ``name``, if ``socket`` is still the one bound there."""
        if self._bound.get(name) is socket:
            del self._bound[name]

    def wait_for_bind(self, name: str, link: InprocLink) -> None:
        self._pending.setdefault(name, []).append(link)

    def forget_pending(self, name: str, link: InprocLink) -> None:
        """``link`` will not be joined after all (its connecter closed or disconnected)."""
        pending = self._pending.get(name)
        if pending and link in pending:
            pending.remove(link)


def _sum_hwm(sndhwm: int, rcvhwm: int) -> int:
    return 0 if not sndhwm or not rcvhwm else sndhwm + rcvhwm


class InprocLink:
    """One connect() to an inproc name: a pipe between the connecter and (later) the binder."""

    def __init__(self, connecter: Any, name: str) -> None:
        self.connecter = connecter
        self.binder: Any = None
        self.name = name
        options = connecter.options
        self.connect_end, self.bind_end = pipe_pair(options.sndhwm, options.rcvhwm)
        self.connect_end.endpoint = self.bind_end.endpoint = f"inproc://{name}"
        # CONFLATE of either socket applies to what it receives and sends (libzmq's dbuffer)
        self.connect_end.outbound.conflate = self.connect_end.inbound.conflate = \
            bool(options.conflate)
        self.bind_end.routing_id = options.routing_id
        self.bind_end.properties = {"Socket-Type": _type_name(connecter)}
        if options.connect_routing_id:
            self.connect_end.routing_id = options.connect_routing_id
            options.connect_routing_id = b""
        self._connect_attached = False
        self._left: set[int] = set()  # ids of the sockets that have stopped using the link
        if connecter.routing.attach_on_connect and not options.immediate:
            self._connect_attached = connecter.lifecycle.attach(self.connect_end)
        connecter.lifecycle.peers.add(self)

    def join(self, binder: Any) -> None:
        """The name is bound (now or earlier): finish wiring both ends."""
        self.binder = binder
        c_opts, b_opts = self.connecter.options, binder.options
        self.connect_end.outbound.hwm = _sum_hwm(c_opts.sndhwm, b_opts.rcvhwm)
        self.bind_end.outbound.hwm = _sum_hwm(b_opts.sndhwm, c_opts.rcvhwm)
        if b_opts.conflate:
            self.bind_end.outbound.conflate = self.bind_end.inbound.conflate = True
        if not self.connect_end.routing_id:
            self.connect_end.routing_id = b_opts.routing_id
        self.connect_end.properties = {"Socket-Type": _type_name(binder)}
        for sender, end in ((self.connecter, self.connect_end), (binder, self.bind_end)):
            hello = hello_message(sender)
            if hello is not None:  # before whatever the connecter queued already
                end.outbound.rewrite(lambda queued, first=hello: [first] + queued)
        binder.lifecycle.peers.add(self)
        binder.lifecycle.attach(self.bind_end)
        if not self._connect_attached:
            self._connect_attached = self.connecter.lifecycle.attach(self.connect_end)
        self.connecter.wake_all()  # the mark just grew: a sender blocked at it may go on

    def _leave(self, socket: Any) -> None:
        """``socket`` stops using the link: it writes no more and its peer drains then forgets."""
        if id(socket) in self._left:
            return
        self._left.add(id(socket))
        mine, theirs, peer = (
            (self.connect_end, self.bind_end, self.binder) if socket is self.connecter
            else (self.bind_end, self.connect_end, self.connecter))
        goodbye = disconnect_message(peer) if peer is self.binder and peer is not None else None
        if goodbye is not None and not peer.closed:
            mine.outbound.force_put(goodbye)  # the binder hears it from this pipe
        mine.close_writing()
        mine.close_reading()
        socket.lifecycle.peers.discard(self)
        socket.lifecycle.detach(mine)
        if peer is not None and not peer.closed:
            peer.lifecycle.peers.discard(self)
            peer.lifecycle.detach(theirs)

    def shutdown(self) -> None:
        """A socket at one end is closing (the lifecycle calls this for both ends)."""
        if self.binder is None:
            self._forget_pending()  # a later bind() must not adopt a dead connection
        for socket in (self.connecter, self.binder):
            if socket is not None and socket.closed:
                self._leave(socket)

    def close(self) -> None:
        """disconnect() on the connecting socket."""
        self._forget_pending()
        self._leave(self.connecter)

    def _forget_pending(self) -> None:
        self.connecter.context._inproc.forget_pending(self.name, self)


def _type_name(socket: Any) -> bytes:
    return SOCKET_TYPE_NAMES[int(socket.type)].encode()


class _InprocBinding:
    """The handle a bind() registers: unbind forgets the name; live links stay."""

    def __init__(self, socket: Any, name: str) -> None:
        self.socket = socket
        self.name = name

    def close(self) -> None:
        self.socket.context._inproc.unbind(self.name, self.socket)

    shutdown = close


def bind(socket: Any, name: str) -> str:
    registry: InprocRegistry = socket.context._inproc
    waiting = registry.bind(name, socket)
    endpoint = f"inproc://{name}"
    socket.endpoints.add_bound([endpoint], _InprocBinding(socket, name))
    for link in waiting:
        link.join(socket)
    return endpoint


def connect(socket: Any, name: str) -> str:
    registry: InprocRegistry = socket.context._inproc
    link = InprocLink(socket, name)
    endpoint = f"inproc://{name}"
    socket.endpoints.add_connected(endpoint, link)
    binder = registry.bound_socket(name)
    if binder is not None and not binder.closed:
        link.join(binder)
    else:
        registry.wait_for_bind(name, link)
    return endpoint
