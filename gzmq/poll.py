"""Poller, select() and zmq_poll(), cooperative, over gzmq sockets and plain file descriptors.

Readiness of a gzmq socket is a Python fact (``routing.readable`` / ``writable``) and every
change to it notifies the socket's signals, so a poll registers a watcher on those signals and
libev io watchers for raw fds, then sleeps on one Event. There is no edge-triggered fd to lose
and no "safety" polling interval (zmq.green needs 1.33 s and 11.6 s ones).

``EdgeFD`` emulates libzmq's ZMQ_FD for code that integrates a socket into another loop: an
fd that becomes readable whenever the socket's state may have changed; reading EVENTS resets it.

This module does not import ``gzmq.socket``: the socket imports it (``Socket.poll`` makes a
``Poller``, ``ZMQ_FD`` is an ``EdgeFD``). A gzmq socket is recognised by what the poller uses
of it, its readiness signals (``PollableSocket``); anything else is an fd or has ``fileno()``.
"""

from __future__ import annotations

import itertools
import os
import select as _select_module
from time import monotonic
from typing import Any, Callable, Optional, Protocol

import gevent
from gevent import get_hub
from gevent.event import Event
from gevent.monkey import get_original

from .constants import ENOTSOCK, POLLERR, POLLIN, POLLOUT
from .error import ContextTerminated, ZMQError
from .io_thread import foreign_io_thread

__all__ = ["Poller", "select", "zmq_poll", "EdgeFD", "PollableSocket"]


class Notifier(Protocol):
    """A socket's readiness signal (``gzmq.pipe.Signal``): calls its watchers on any change."""

    def add_watcher(self, callback: Callable[[], None]) -> None: ...

    def remove_watcher(self, callback: Callable[[], None]) -> None: ...


class PollableSocket(Protocol):
    """What ``Poller`` needs of a gzmq socket."""

    _recv_signal: Notifier  #: notified whenever POLLIN may have changed
    _send_signal: Notifier  #: notified whenever POLLOUT may have changed

    @property
    def closed(self) -> bool: ...

    @property
    def context(self) -> Any: ...  # its ``_terminated`` flag ends a poll with ETERM

    def _events(self) -> int: ...  # POLLIN | POLLOUT as they are now


def _is_socket(obj: Any) -> bool:
    """A gzmq socket, as opposed to an fd or an object with ``fileno()`` (which a gzmq socket
    also has: ZMQ_FD). The attribute is gzmq's own, so a pyzmq socket is an fd here, as
    before; no isinstance(), so that this module need not import ``gzmq.socket``."""
    return hasattr(obj, "_recv_signal")

_real_poll = get_original("select", "poll")

#: a poll that finds something ready at once yields to the hub once in this many calls
READY_POLLS_PER_YIELD = 64
_ready_polls = itertools.count(1)


def _fd_of(obj: Any) -> int:
    if isinstance(obj, int):
        return obj
    if hasattr(obj, "fileno"):
        return int(obj.fileno())
    raise TypeError(f"Socket or fd or object with fileno() required, got {obj!r}")


class Poller:
    """pyzmq's Poller: ``register(sock_or_fd, flags)``, ``poll(timeout_ms)``."""

    def __init__(self) -> None:
        self.sockets: list[tuple[Any, int]] = []
        self._map: dict[Any, int] = {}

    def __contains__(self, socket: Any) -> bool:
        return socket in self._map

    def register(self, socket: Any, flags: int = POLLIN | POLLOUT) -> None:
        if not flags:  # pyzmq: flags 0 unregisters, and is a no-op for an unknown socket
            if socket in self._map:
                self.unregister(socket)
            return
        if socket in self._map:
            self.sockets[self._map[socket]] = (socket, flags)
            return
        if not _is_socket(socket):
            _fd_of(socket)  # TypeError early, as pyzmq
        self._map[socket] = len(self.sockets)
        self.sockets.append((socket, flags))

    modify = register

    def unregister(self, socket: Any) -> None:
        index = self._map.pop(socket)
        self.sockets.pop(index)
        for other, position in self._map.items():
            if position > index:
                self._map[other] = position - 1

    def _ready_now(self) -> list[tuple[Any, int]]:
        ready = []
        fds: dict[int, tuple[Any, int]] = {}
        for socket, flags in self.sockets:
            if _is_socket(socket):
                if socket.context._terminated:
                    raise ContextTerminated()
                if socket.closed:
                    raise ZMQError(ENOTSOCK)
                events = socket._events() & flags
                if events:
                    ready.append((socket, events))
            else:
                fds[_fd_of(socket)] = (socket, flags)
        if fds:
            poller = _real_poll()
            for fd, (_, flags) in fds.items():
                mask = (_select_module.POLLIN if flags & POLLIN else 0) | \
                       (_select_module.POLLOUT if flags & POLLOUT else 0)
                poller.register(fd, mask | _select_module.POLLERR)
            for fd, revents in poller.poll(0):
                _, flags = fds[fd]
                events = 0
                if revents & (_select_module.POLLIN | _select_module.POLLHUP):
                    events |= POLLIN
                if revents & _select_module.POLLOUT:
                    events |= POLLOUT
                if revents & _select_module.POLLERR:
                    events |= POLLERR
                events &= flags | POLLERR
                if events:
                    ready.append((fd, events))  # pyzmq reports native fds as int fds
        return ready

    def poll(self, timeout: Optional[float] = None) -> list[tuple[Any, int]]:
        """Wait up to ``timeout`` ms (None or negative: forever) for any registered event."""
        io = foreign_io_thread(socket for socket, _ in self.sockets)
        if io is not None:  # threaded sockets: their state lives in their I/O thread
            return io.call(self.poll, timeout)  # type: ignore[no-any-return]
        if timeout is None or timeout < 0:
            deadline = None
        else:
            deadline = monotonic() + timeout / 1000.0
        ready = self._ready_now()
        if ready or (deadline is not None and timeout == 0):
            if ready and timeout != 0 and not next(_ready_polls) % READY_POLLS_PER_YIELD:
                # a loop that always finds something ready must still let the other
                # greenlets run now and then, as threads would be scheduled (pyzmq)
                gevent.sleep(0)
            return ready
        changed = Event()
        watchers = self._watch(changed.set)
        try:
            while True:
                remaining = None if deadline is None else deadline - monotonic()
                if remaining is not None and remaining <= 0:
                    return self._ready_now()
                changed.wait(remaining)
                changed.clear()
                ready = self._ready_now()
                if ready:
                    return ready
        finally:
            self._unwatch(watchers)

    def _watch(self, callback: Any) -> list[Any]:
        watchers: list[Any] = []
        loop = get_hub().loop
        for socket, flags in self.sockets:
            if _is_socket(socket):
                for flag, signal in ((POLLIN, socket._recv_signal), (POLLOUT, socket._send_signal)):
                    if flags & flag:
                        signal.add_watcher(callback)
                        watchers.append((signal, callback))
            else:
                mask = (1 if flags & POLLIN else 0) | (2 if flags & POLLOUT else 0)
                io = loop.io(_fd_of(socket), mask or 1)
                io.start(callback)
                watchers.append(io)
        return watchers

    @staticmethod
    def _unwatch(watchers: list[Any]) -> None:
        for watcher in watchers:
            if isinstance(watcher, tuple):
                watcher[0].remove_watcher(watcher[1])
            else:
                watcher.stop()
                watcher.close()


def zmq_poll(sockets: list[tuple[Any, int]], timeout: Optional[float] = None) -> list[tuple[Any, int]]:
    """pyzmq's zmq_poll: ``[(socket_or_fd, flags)]``, timeout in ms."""
    poller = Poller()
    for socket, flags in sockets:
        poller.register(socket, flags)
    return poller.poll(timeout)


def select(rlist: list[Any], wlist: list[Any], xlist: list[Any],
           timeout: Optional[float] = None) -> tuple[list[Any], list[Any], list[Any]]:
    """Like ``select.select`` (timeout in *seconds*), for gzmq sockets and fds alike."""
    poller = Poller()
    for socket in rlist:
        poller.register(socket, POLLIN)
    for socket in wlist:
        flags = POLLOUT | (POLLIN if socket in poller else 0)
        poller.register(socket, flags)
    for socket in xlist:
        flags = POLLERR | (dict(poller.sockets).get(socket, 0))
        poller.register(socket, flags)
    ready = dict(poller.poll(None if timeout is None else timeout * 1000))
    return ([s for s in rlist if ready.get(s, 0) & POLLIN],
            [s for s in wlist if ready.get(s, 0) & POLLOUT],
            [s for s in xlist if ready.get(s, 0) & POLLERR])


class EdgeFD:
    """A pipe fd signalled when the socket's state may have changed (libzmq's ZMQ_FD)."""

    def __init__(self, *signals: Any) -> None:
        self._read_fd, self._write_fd = os.pipe()
        os.set_blocking(self._read_fd, False)
        os.set_blocking(self._write_fd, False)
        self._signalled = False
        self._signals = signals
        for signal in signals:
            signal.add_watcher(self._signal)
        self._signal()  # like libzmq: readable at first, so the user checks EVENTS once

    def fileno(self) -> int:
        return self._read_fd

    def _signal(self) -> None:
        if not self._signalled:
            self._signalled = True
            try:
                os.write(self._write_fd, b"\x01")
            except OSError:
                pass

    def drain(self) -> None:
        if self._signalled:
            self._signalled = False
            try:
                os.read(self._read_fd, 4096)
            except OSError:
                pass

    def close(self) -> None:
        for signal in self._signals:
            signal.remove_watcher(self._signal)
        for fd in (self._read_fd, self._write_fd):
            try:
                os.close(fd)
            except OSError:
                pass
