"""An I/O thread per Context, for programs that do not cooperate with a gevent hub.

libzmq does a socket's I/O in background threads owned by the Context, so a plain program can
send and then ``time.sleep()``, or block in ``recv()`` in one thread while another thread
sends. gzmq's sockets live in a gevent hub, which runs only while its thread is inside a
blocking gevent call. A *threaded* Context therefore runs its own hub in an OS thread of its
own, and every call on its sockets, from any thread, is carried out in that hub:

- the calling thread queues the call (a deque, atomic under the GIL), wakes the hub with a
  gevent ``async`` watcher (the one thread-safe way into a hub), and waits on a real lock;
- in the I/O thread, each call runs in a greenlet of its own, so a blocking ``recv()`` waits
  there as it would in cooperative code (RCVTIMEO, ETERM and close() from another thread
  included), while the hub keeps accepting, reading and writing for every socket;
- its result or exception is handed back and the caller's lock released.

A call made from inside the I/O thread (a socket method called by gzmq itself) runs at once.
Cooperative code never meets any of this: it uses the plain Context and Socket, whose speed is
unchanged. Which Context a program gets is decided by ``io_mode`` (see ``resolve_io_mode``).
"""

from __future__ import annotations

import os
import sys
import weakref
from collections import deque
from typing import Any, Callable, Iterable, Optional

import gevent
from gevent.event import Event
from gevent.monkey import get_original, is_module_patched

__all__ = ["IOThread", "resolve_io_mode", "IO_MODES", "all_io_threads", "foreign_io_thread"]

_Thread = get_original("threading", "Thread")
_Lock = get_original("threading", "Lock")
_get_ident = get_original("threading", "get_ident")

#: "hub": sockets live in the caller's gevent hub (cooperative code, the default for gzmq);
#: "thread": sockets live in an I/O thread of the Context (plain and threaded programs)
IO_MODES = ("hub", "thread")

_io_threads: "weakref.WeakSet[IOThread]" = weakref.WeakSet()


def all_io_threads() -> list["IOThread"]:
    return [io for io in list(_io_threads) if io.alive]


def foreign_io_thread(objects: Iterable[Any]) -> Optional["IOThread"]:
    """The I/O thread owning the first gzmq socket among ``objects`` (sockets or fds), if it
    is not the calling thread: a Poller, select() or proxy over threaded sockets runs there."""
    for obj in objects:
        context = getattr(obj, "context", None)
        if context is not None:
            io: Optional[IOThread] = getattr(context, "_io", None)
            return io if io is not None and not io.in_thread() else None
    return None


def resolve_io_mode(requested: Optional[str]) -> str:
    """The I/O mode of a new Context.

    1. ``Context(io_mode=...)`` if given;
    2. else the ``GZMQ_IO_MODE`` environment variable;
    3. else "thread" when the program imports gzmq under pyzmq's name (``python -m gzmq.run``
       or ``gzmq.monkey.patch_zmq()``), has not imported ``zmq.green`` and gevent has not
       monkey-patched ``threading``: such a program was written for libzmq's background I/O.
       Everything else is "hub": code that imports gzmq (or ``zmq.green``) itself, or runs
       monkey-patched, cooperates with gevent.
    """
    mode = requested if requested is not None else os.environ.get("GZMQ_IO_MODE") or None
    if mode is None:
        monkey = sys.modules.get("gzmq.monkey")
        aliased = bool(monkey is not None and monkey.is_zmq_patched())
        cooperative = is_module_patched("threading") or "gzmq.green" in sys.modules
        mode = "thread" if aliased and not cooperative else "hub"
    if mode not in IO_MODES:
        raise ValueError(f"io_mode must be one of {IO_MODES}, not {mode!r}")
    return mode


class _Call:
    """One call carried into the I/O thread, and its outcome carried back."""

    __slots__ = ("function", "args", "kwargs", "result", "error", "_done")

    def __init__(self, function: Callable[..., Any], args: tuple[Any, ...],
                 kwargs: dict[str, Any]) -> None:
        self.function = function
        self.args = args
        self.kwargs = kwargs
        self.result: Any = None
        self.error: Optional[BaseException] = None
        self._done = _Lock()
        self._done.acquire()

    def run(self) -> None:
        try:
            self.result = self.function(*self.args, **self.kwargs)
        except BaseException as error:  # noqa: B902 - handed to the caller, who re-raises it
            self.error = error
        finally:
            self._done.release()

    def outcome(self) -> Any:
        self._done.acquire()
        if self.error is not None:
            error, self.error = self.error, None
            raise error
        return self.result


class IOThread:
    """An OS thread running the gevent hub that owns a threaded Context's sockets."""

    def __init__(self, name: str = "gzmq-io") -> None:
        self._calls: deque[_Call] = deque()
        self._pid = os.getpid()
        self._started = _Lock()
        self._started.acquire()
        self._wake: Any = None
        self._stop: Optional[Event] = None
        self.hub: Any = None
        self.ident: Optional[int] = None
        # a daemon, as libzmq's I/O threads do not keep a process alive; exit_delivery flushes
        # what is queued before the interpreter lets it go
        self._thread = _Thread(target=self._run, name=name, daemon=True)
        self._thread.start()
        self._started.acquire()
        _io_threads.add(self)

    @property
    def alive(self) -> bool:
        return self._pid == os.getpid() and self._thread.is_alive()

    def in_thread(self) -> bool:
        return _get_ident() == self.ident

    def _run(self) -> None:
        self.ident = _get_ident()
        self.hub = gevent.get_hub()
        self._stop = Event()
        self._wake = self.hub.loop.async_()
        self._wake.start(self._take_calls)
        self._started.release()
        try:
            self._stop.wait()
        finally:
            self._wake.stop()
            self._wake.close()
            self._take_calls()  # nobody is left waiting forever
            self.hub.destroy(destroy_loop=True)

    def _take_calls(self) -> None:
        calls = self._calls
        while calls:
            gevent.spawn(calls.popleft().run)

    def call(self, function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run ``function(*args, **kwargs)`` in the I/O thread; return or raise its outcome."""
        if self.in_thread():
            return function(*args, **kwargs)
        if not self.alive:
            from .constants import ENOTSOCK
            from .error import ZMQError
            raise ZMQError(ENOTSOCK)  # a forked child's copy, or after stop()
        call = _Call(function, args, kwargs)
        self._calls.append(call)
        self._wake.send()
        return call.outcome()

    def stop(self) -> None:
        """End the thread (after the Context terminated); its hub is destroyed."""
        if self.alive and not self.in_thread():
            stop = self._stop
            assert stop is not None
            self.call(stop.set)
            self._thread.join(timeout=5)
