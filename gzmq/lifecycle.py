"""Who owns what inside a socket, and how it all ends.

One owner per object, nothing outlives its owner:
- A socket owns its endpoints (``EndpointTable``): one handle per bind or connect, each with
  ``close()`` (unbind/disconnect: stop now, drop what is queued) and ``shutdown()`` (the socket
  is closing: stop taking new peers, deliver what is queued).
- A socket owns every greenlet working for it (``SocketLifecycle.group``): accept loops,
  connectors and engines. Closing the socket shuts every handle down, then lets the group run
  for LINGER ms (forever with -1, not at all with 0) and kills what is left. The context waits
  for that in ``term()``.
- A greenlet that dies of an unexpected exception is recorded on the socket and re-raised from
  the next blocking call, rather than merely printed by the hub.
"""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING, Any, Callable, Iterator, Optional, Protocol

import gevent
from gevent.pool import Group

from errno import ENOENT
from .error import ZMQError
from .pipe import Pipe, pipe_pair
from .routing.base import attach_pipe

if TYPE_CHECKING:
    from .core import SocketCore

__all__ = ["EndpointHandle", "EndpointTable", "SocketLifecycle", "all_lifecycles"]

#: every socket's lifecycle in this process (for exit_delivery: what is queued at exit)
_ALL: "weakref.WeakSet[SocketLifecycle]" = weakref.WeakSet()


def all_lifecycles() -> Iterator["SocketLifecycle"]:
    return iter(list(_ALL))


class EndpointHandle(Protocol):
    def close(self) -> None: ...
    def shutdown(self) -> None: ...


class EndpointTable:
    """Endpoint strings → handles, for unbind()/disconnect() and for closing."""

    def __init__(self) -> None:
        self._bound: dict[str, EndpointHandle] = {}
        self._connected: dict[str, list[EndpointHandle]] = {}

    def add_bound(self, names: list[str], handle: EndpointHandle) -> None:
        for name in names:
            self._bound[name] = handle

    def add_connected(self, name: str, handle: EndpointHandle) -> None:
        self._connected.setdefault(name, []).append(handle)

    def remove_bound(self, name: str) -> None:
        handle = self._bound.get(name)
        if handle is None:
            raise ZMQError(ENOENT)
        for alias in [n for n, h in self._bound.items() if h is handle]:
            del self._bound[alias]
        handle.close()

    def remove_connected(self, name: str) -> None:
        handles = self._connected.pop(name, None)
        if not handles:
            raise ZMQError(ENOENT)
        for handle in handles:
            handle.close()

    def handles(self) -> list[EndpointHandle]:
        unique: dict[int, EndpointHandle] = {id(h): h for h in self._bound.values()}
        for handles in self._connected.values():
            unique.update((id(h), h) for h in handles)
        return list(unique.values())


class SocketLifecycle:
    def __init__(self, core: "SocketCore") -> None:
        #: the socket's core (never its facade: a dropped socket must be collectable)
        self.core = core
        self.group = Group()
        #: bind-side engines and inproc links that hold pipes, for shutting down on close
        self.peers: set[Any] = set()
        #: the pipes the routing holds (the socket's ends), in attach order: ``Socket.stats()``
        #: reports each one's queues
        self.pipes: dict[Pipe, None] = {}
        #: the hub that runs this socket's greenlets (the thread it was made in)
        self.hub = gevent.get_hub()
        #: the greenlet that lets the group finish for LINGER ms after close()
        self.reaper: Optional[gevent.Greenlet] = None
        _ALL.add(self)

    def spawn(self, function: Callable[..., Any], *args: Any) -> gevent.Greenlet:
        greenlet = self.group.spawn(function, *args)
        greenlet.link_exception(self._background_failed)
        return greenlet

    def _background_failed(self, greenlet: gevent.Greenlet) -> None:
        """An accept loop, connector or engine died of an unexpected error (a bug): keep it
        for the socket's next blocking call, which re-raises it, rather than only letting the
        hub print it."""
        core = self.core
        if core.background_error is None:
            core.background_error = greenlet.exception
        core.wake_all()

    def new_pipe(self) -> tuple[Pipe, Pipe]:
        """A pipe for a tcp/ipc peer: (the socket's end, the engine's end). The socket's end
        gets its notifiers when it is attached; nothing can reach the socket before that."""
        options = self.core.options
        socket_end, engine_end = pipe_pair(options.sndhwm, options.rcvhwm)
        socket_end.inbound.conflate = socket_end.outbound.conflate = bool(options.conflate)
        return socket_end, engine_end

    def attach(self, pipe: Pipe) -> bool:
        """Give ``pipe`` (the socket's end) to the routing (``attach_pipe``): its queues tell
        the routing which pipe became readable or writable, then wake the socket's waiters."""
        core = self.core
        accepted = attach_pipe(core.routing, pipe, core.recv_signal, core.send_signal)
        if accepted:
            self.pipes[pipe] = None
        core.wake_all()
        return accepted

    def detach(self, pipe: Pipe) -> None:
        self.pipes.pop(pipe, None)
        self.core.routing.detach(pipe)
        self.core.wake_all()

    def close(self, linger: int) -> None:
        for handle in self.core.endpoints.handles():
            handle.shutdown()
        for peer in list(self.peers):
            peer.shutdown()
        if linger == 0 or not self.group:
            self.group.kill(block=False)
            return
        reaper = self.reaper = gevent.spawn(self._reap, None if linger < 0 else linger / 1000.0)
        lingering = self.core.context._lingering
        lingering[reaper] = self
        reaper.link(lambda done: lingering.pop(done, None))

    @property
    def lingering(self) -> bool:
        """Closed, with greenlets still delivering what was queued."""
        return self.reaper is not None and not self.reaper.dead

    def abandon_unreachable_peers(self) -> None:
        """Stop waiting for peers that are not there: connects waiting to redial are dropped
        with what they hold (at exit, nobody will wait RECONNECT_IVL for them)."""
        for handle in self.core.endpoints.handles():
            if getattr(handle, "waiting_to_redial", False):
                handle.close()

    def bound_linger(self, linger: int) -> None:
        """Context.destroy(linger): drop what is still lingering after ``linger`` ms at most."""
        if linger == 0:
            self.kill()
        elif linger > 0:
            gevent.spawn_later(linger / 1000.0, self.kill)

    def kill(self) -> None:
        """Drop everything still lingering, now."""
        self.group.kill(block=False)

    def abandon_after_fork(self) -> None:
        """In a forked child: this socket is the parent's. Make it inert at once (libzmq's
        I/O threads do not survive a fork): its connections and listeners let go of their
        fds without a byte or an event, and calls on it raise ENOTSOCK. Its greenlets are
        killed when this hub next runs; those of another thread's hub never run again."""
        self.core.closed = True
        for handle in self.core.endpoints.handles():
            abandon = getattr(handle, "abandon", None)
            if abandon is not None:
                abandon()
        for peer in list(self.peers):
            abandon = getattr(peer, "abandon", None)
            if abandon is not None:
                abandon()
        if self.hub is gevent.get_hub():
            self.group.kill(block=False)

    def _reap(self, timeout: Optional[float]) -> None:
        self.group.join(timeout=timeout)
        self.group.kill(block=True, timeout=1)
