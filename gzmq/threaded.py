"""The Context and Socket of io_mode "thread": every call is carried out in the I/O thread.

``ThreadedContext`` owns an ``IOThread`` (``io_thread.py``); its sockets are
``ThreadedSocket``s, created in that thread's hub. Each public operation of a socket is
forwarded there (and runs directly when gzmq itself calls it from inside the hub), so any
number of application threads can use the Context's sockets, one socket per thread as in
ZeroMQ's threading model, while the hub does their I/O whatever those threads are doing.
Methods built on these (``send_string``, ``recv_json``, option attributes, ...) need no
forwarding of their own.
"""

from __future__ import annotations

import functools
from typing import Any, Callable, Optional

from .context import Context
from .io_thread import IOThread
from .socket import Socket

__all__ = ["ThreadedContext", "ThreadedSocket"]

#: the Socket methods that touch socket state; everything else is built on them
_FORWARDED = (
    "bind", "connect", "unbind", "disconnect", "close", "set", "get", "setsockopt",
    "getsockopt", "send", "send_multipart", "recv", "recv_multipart", "poll", "monitor",
    "get_monitor_socket", "fileno", "join", "leave", "connect_peer", "stats",
)


def _in_io_thread(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def forwarded(self: "ThreadedSocket", *args: Any, **kwargs: Any) -> Any:
        return self.context._io.call(method, self, *args, **kwargs)
    return forwarded


class ThreadedSocket(Socket):
    """A Socket whose state lives in its Context's I/O thread (see module docstring)."""

    def __init__(self, context: Any = None, socket_type: int = -1, **kwargs: Any) -> None:
        if isinstance(context, Socket) or kwargs.get("shadow"):
            Socket.__init__(self, context, socket_type, **kwargs)  # a shadow: nothing to make
            return
        if context is None:
            context = ThreadedContext.instance()
        io: IOThread = context._io
        io.call(Socket.__init__, self, context, socket_type, **kwargs)


for _name in _FORWARDED:
    setattr(ThreadedSocket, _name, _in_io_thread(getattr(Socket, _name)))
del _name


class ThreadedContext(Context):
    """A Context with an I/O thread: for programs that do not run a gevent hub themselves."""

    _socket_class = ThreadedSocket
    #: its own instance(): Context.instance() may be a hub-mode Context, which has no I/O
    #: thread for ThreadedSocket(None, ...) to use
    _instance = None

    def __init__(self, io_threads: int = 1, shadow: Any = 0, **kwargs: Any) -> None:
        super().__init__(io_threads, shadow, **kwargs)
        if not self._shadow:  # a shadow shares the I/O thread of the context it shadows
            self._io = IOThread()

    def socket(self, socket_type: int, socket_class: Any = None, **kwargs: Any) -> Socket:
        return self._io.call(super().socket, socket_type, socket_class, **kwargs)  # type: ignore[no-any-return]

    def stats(self) -> dict[str, Any]:
        return self._io.call(super().stats)  # type: ignore[no-any-return]

    def term(self) -> None:
        if self._closed:
            return
        self._io.call(super().term)
        self._io.stop()

    def destroy(self, linger: Optional[int] = None) -> None:
        if self._closed:
            return
        self._io.call(super().destroy, linger)
        self._io.stop()
