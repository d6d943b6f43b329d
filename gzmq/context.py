"""``Context``: the socket factory, the holder of the inproc names, and term()/destroy().

A context owns no I/O. ``term()`` does what libzmq's does, cooperatively: every greenlet blocked
in a socket operation wakes with ``ContextTerminated``; then it waits for every socket to be
closed and for their lingering messages to be sent (or their LINGER to expire). It never blocks
the hub, so the greenlets it is waiting for can actually run (zmq.green deadlocks here).

MAX_SOCKETS is enforced as libzmq does: a socket beyond it is EMFILE; the limit is fixed when
the first socket is made (setting it later changes what ``get`` says, not the limit); a closed
socket frees its slot at once (libzmq: once its LINGER is over). Monitor sockets count, as in
libzmq; the ZAP client's socket (``_internal_socket``), which libzmq does not have, does not.

Shadows (pyzmq: ``Context.shadow(address)``, ``Context(other)``, ``copy.copy(ctx)``): gzmq has
no C context to point at, so a shadow is another Context object sharing the first one's state
(its ``__dict__``): sockets, options, inproc names, terminated or not. ``underlying`` is the
address ``shadow`` takes; it names the context as long as one of its objects is alive.
"""

from __future__ import annotations

import os
import warnings
import weakref
from errno import EFAULT, EMFILE
from typing import Any, Optional, TypeVar

import gevent
from gevent.event import Event
from gevent.lock import BoundedSemaphore

from .constants import EINVAL, ENOTSUP, ContextOption, SocketOption
from .error import ZMQError
from .io_thread import resolve_io_mode
from .lifecycle import SocketLifecycle
from .socket import Socket, _repr_cls
from .transports import inproc, stream

__all__ = ["Context"]

T = TypeVar("T", bound="Context")

_CONTEXT_DEFAULTS: dict[int, int] = {
    ContextOption.IO_THREADS: 1, ContextOption.MAX_SOCKETS: 1023,
    ContextOption.SOCKET_LIMIT: 65535, ContextOption.MAX_MSGSZ: 2**31 - 1,
    ContextOption.MSG_T_SIZE: 64,
}


#: underlying -> a live Context object of that context (for ``Context.shadow(address)``)
_BY_ADDRESS: "weakref.WeakValueDictionary[int, Context]" = weakref.WeakValueDictionary()
#: a shadow -> (the Context whose state it shares, what it was made from)
_SHADOWS: "weakref.WeakKeyDictionary[Context, tuple[Context, Any]]" = weakref.WeakKeyDictionary()


def _shadow_source(target: Any) -> "Context":
    """The Context object ``target`` (a Context, or the ``underlying`` of one) names."""
    if isinstance(target, Context):
        return target
    address = getattr(target, "underlying", target)
    if not isinstance(address, int):
        raise TypeError(f"expected a Context or an int address, got {target!r}")
    found = _BY_ADDRESS.get(address)
    if found is None:
        raise ZMQError(EFAULT)
    return found


class _SocketTable(weakref.WeakSet[Socket]):
    """The open sockets of a context. Adding one takes a MAX_SOCKETS slot (EMFILE if none is
    left); ``Socket.__init__`` adds itself, so ``Socket(ctx, type)`` is counted too."""

    def __init__(self, context: "Context") -> None:
        super().__init__()
        self._context = weakref.ref(context)

    def add(self, item: Socket) -> None:
        context = self._context()
        if context is not None and item not in self:
            context._take_slot()
        super().add(item)


class Context:
    """Create sockets with ``ctx.socket(zmq.PUB)``; end with ``term()`` or ``destroy()``."""

    #: ``instance()``'s context. As in pyzmq it is inherited: a subclass shares its base's
    #: instance unless it declares ``_instance = None`` itself (or calls instance() first)
    _instance: Optional["Context"] = None
    _instance_pid: Optional[int] = None
    #: guards instance(). gevent's semaphore, because it works in both worlds: under
    #: monkey-patching a greenlet that finds it taken yields to the hub (a real
    #: threading.Lock made at import, before patch_all, would block the hub and with it the
    #: greenlet holding the lock), and between real threads it blocks the thread (gevent
    #: >= 20.12 supports semaphores shared by threads).
    _instance_lock = BoundedSemaphore(1)
    _socket_class = Socket
    _repr_cls = "zmq.Context"

    def __new__(cls, *args: Any, io_mode: Optional[str] = None, **kwargs: Any) -> "Context":
        """``io_mode`` "thread" gives a Context with an I/O thread (``gzmq.threaded``), for
        programs that do not run a gevent hub; "hub" (the default for code that imports gzmq
        itself) keeps every socket in the caller's hub. ``io_thread.resolve_io_mode`` has the
        rule when it is not given. ``Context.shadow(other)`` is of ``other``'s kind."""
        if cls is Context:
            target: Any
            if args and isinstance(args[0], Context):
                target = args[0]
            else:
                target = kwargs.get("shadow") or (args[1] if len(args) > 1 else 0)
            from .threaded import ThreadedContext  # lazy: it subclasses this class
            if target:
                if isinstance(_shadow_source(target), ThreadedContext):
                    cls = ThreadedContext  # its sockets must live in the same I/O thread
            elif resolve_io_mode(io_mode) == "thread":
                cls = ThreadedContext
        return object.__new__(cls)

    def __init__(self, io_threads: int = 1, shadow: Any = 0, **kwargs: Any) -> None:
        kwargs.pop("io_mode", None)  # taken by __new__
        if isinstance(io_threads, Context):  # pyzmq: ``Context(other)`` shadows ``other``
            io_threads, shadow = 1, io_threads
        if shadow:
            source = _shadow_source(shadow)
            self.__dict__ = source.__dict__
            _SHADOWS[self] = (source, shadow)
            return
        if not isinstance(io_threads, int):
            raise TypeError(f"expected int, got: {io_threads!r}")
        if io_threads < 0:
            raise ZMQError(EINVAL)  # libzmq's zmq_ctx_set(IO_THREADS, -1)
        self._address = id(self)
        _BY_ADDRESS[self._address] = self
        self._sockets: "weakref.WeakSet[Socket]" = _SocketTable(self)
        #: gzmq's own sockets, which take no MAX_SOCKETS slot (see ``_internal_socket``)
        self._internal: "weakref.WeakSet[Socket]" = weakref.WeakSet()
        self._making_internal = False
        #: MAX_SOCKETS as it was when the first socket was made (libzmq sizes its slots then)
        self._socket_limit: Optional[int] = None
        self._socket_closed_event = Event()
        self._terminated = False
        self._closed = False
        self._options: dict[int, int] = dict(_CONTEXT_DEFAULTS)
        self._options[ContextOption.IO_THREADS] = io_threads
        #: default options applied to every new socket (pyzmq's ctx.setsockopt / ctx.linger = 0)
        self.sockopts: dict[int, Any] = {}
        #: the inproc:// names; only gzmq.transports.inproc changes them
        self._inproc = inproc.InprocRegistry()
        #: closed sockets still delivering for LINGER ms: their reaper -> their lifecycle
        self._lingering: "dict[gevent.Greenlet, SocketLifecycle]" = {}
        self._zap_client: Any = None  # gzmq.security.ZapClient, made when a handshake needs ZAP

    @classmethod
    def instance(cls: type[T], io_threads: int = 1) -> T:
        """The process-wide context (recreated after fork or term). ``cls._instance`` is
        inherited as in pyzmq: a subclass gets its base's instance if there is one."""
        instance = cls._instance
        if instance is None or instance.closed or cls._instance_pid != os.getpid():
            with cls._instance_lock:
                instance = cls._instance
                if instance is None or instance.closed or cls._instance_pid != os.getpid():
                    instance = cls(io_threads=io_threads)
                    cls._instance = instance
                    cls._instance_pid = os.getpid()
        return instance  # type: ignore[return-value]

    @classmethod
    def shadow(cls: type[T], address: Any) -> T:
        """Another Context object on the same context: ``address`` is a Context or its
        ``underlying`` (pyzmq: a libzmq context's address). See the module docstring."""
        return cls(shadow=address)

    @property
    def _shadow(self) -> bool:
        """True for a shadow (made by ``shadow``, ``Context(other)`` or ``copy.copy``)."""
        return self in _SHADOWS

    @property
    def _shadow_obj(self) -> Any:
        entry = _SHADOWS.get(self)
        return None if entry is None else entry[1]

    def __copy__(self: T, memo: Any = None) -> T:
        """Copying a Context makes a shadow of it, as pyzmq."""
        return type(self).shadow(self)

    __deepcopy__ = __copy__

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def underlying(self) -> int:
        """The address ``Context.shadow`` takes (the same for a context and its shadows)."""
        address: int = self._address
        return address

    def socket(self, socket_type: int, socket_class: Any = None, **kwargs: Any) -> Socket:
        """A new socket of ``socket_type``, with this context's default options applied."""
        if self._closed or self._terminated:
            # a shadow of a terminated context: libzmq's zmq_socket() on a freed context
            raise ZMQError(EFAULT if self._shadow else ENOTSUP)
        socket_class = socket_class or self._socket_class
        sock: Socket = socket_class(self, socket_type, **kwargs)
        # gzmq only: the bound on accepted connections still in their handshake (0: none)
        sock.max_pending_handshakes = stream.MAX_PENDING_HANDSHAKES
        for option, value in self.sockopts.items():
            try:
                sock.setsockopt(option, value)
            except ZMQError:
                pass  # not every default applies to every type (pyzmq ignores these too)
        return sock

    def _internal_socket(self, socket_type: int) -> Socket:
        """A socket gzmq makes for itself (the ZAP client's DEALER), where libzmq has no
        socket: it does not count against MAX_SOCKETS."""
        self._making_internal = True
        try:
            sock = self.socket(socket_type)
        finally:
            self._making_internal = False
        self._internal.add(sock)
        return sock

    def _take_slot(self) -> None:
        """A socket is being made: EMFILE beyond MAX_SOCKETS, as libzmq's zmq_socket()."""
        if self._making_internal:
            return
        if self._socket_limit is None:
            self._socket_limit = self._options[ContextOption.MAX_SOCKETS]
        if len(self._sockets) - len(self._internal) >= self._socket_limit:
            raise ZMQError(EMFILE)

    def _socket_closed(self, sock: Socket) -> None:
        self._sockets.discard(sock)
        self._internal.discard(sock)
        self._socket_closed_event.set()

    def term(self) -> None:
        """Wake blocked calls with ContextTerminated, wait for every socket to close and linger."""
        if self._closed:
            return
        self._terminated = True
        for sock in list(self._sockets):
            sock._wake_all()
        while any(not s.closed for s in self._sockets):
            self._socket_closed_event.clear()
            self._socket_closed_event.wait()
        for reaper in list(self._lingering):
            reaper.join()
        self._closed = True

    def destroy(self, linger: Optional[int] = None) -> None:
        """Close every socket (with ``linger`` if given), then term()."""
        if self._closed:
            return
        for sock in list(self._sockets):
            if not sock.closed:
                sock.close(linger=linger)
        if linger is not None:
            # Sockets closed before (or collected unclosed) may still be lingering with their
            # own LINGER, -1 by default: destroy's linger bounds them too, or a socket dropped
            # with messages for an unreachable peer would hold term() forever
            for lifecycle in list(self._lingering.values()):
                lifecycle.bound_linger(linger)
        self.term()

    def stats(self) -> dict[str, Any]:
        """gzmq only: ``Socket.stats()`` summed over this context's open sockets (``events``
        and ``dropped`` per key), plus ``sockets``, how many there are; no ``peers``."""
        from .stats import sum_stats
        return sum_stats(sock.stats() for sock in list(self._sockets)
                         if not sock.closed and sock not in self._internal)

    def __enter__(self: T) -> T:
        return self

    def __exit__(self, *exc: Any) -> None:
        for sock in list(self._sockets):
            if not sock.closed:
                warnings.warn(f"Destroying context with unclosed socket {sock!r}",
                              ResourceWarning, stacklevel=2)
        self.destroy()

    # --- options ------------------------------------------------------------------------------

    def set(self, option: int, optval: int) -> None:
        """Set a context option. MAX_SOCKETS (>= 1) may be set at any time, but as in libzmq
        only its value when the first socket is made limits the sockets."""
        try:
            option = ContextOption(option)
        except ValueError:
            raise ZMQError(EINVAL) from None
        if not isinstance(optval, int):
            raise TypeError(f"expected int, got: {optval!r}")
        if not -(2**31) <= optval < 2**31:
            raise OverflowError(f"value {optval} does not fit a C int")  # pyzmq's check
        if option is ContextOption.MAX_SOCKETS and optval < 1 or \
                option is ContextOption.IO_THREADS and optval < 0:
            raise ZMQError(EINVAL)
        self._options[option] = int(optval)

    def get(self, option: int) -> int:
        try:
            return self._options[ContextOption(option)]
        except (ValueError, KeyError):
            raise ZMQError(EINVAL) from None

    def setsockopt(self, opt: int, value: Any) -> None:
        """Default ``opt`` for sockets created from now on."""
        self.sockopts[opt] = value

    def getsockopt(self, opt: int) -> Any:
        return self.sockopts[opt]

    def __setattr__(self, name: str, value: Any) -> None:
        if name.startswith("_") or name == "sockopts" or name in type(self).__dict__:
            object.__setattr__(self, name, value)
            return
        upper = name.upper()
        if upper in ContextOption.__members__:
            self.set(ContextOption[upper], value)
        elif upper in SocketOption.__members__:
            self.sockopts[SocketOption[upper]] = value
        else:
            object.__setattr__(self, name, value)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        upper = name.upper()
        if upper in ContextOption.__members__:
            try:
                return self.get(ContextOption[upper])
            except ZMQError as e:  # write-only (THREAD_AFFINITY_CPU_ADD...): pyzmq says
                raise AttributeError(f"{name} attribute is write-only") from e  # (mock needs it)
        if upper in SocketOption.__members__:
            option = SocketOption[upper]
            if option in self.sockopts:
                return self.sockopts[option]
        raise AttributeError(f"{type(self).__name__} has no attribute {name!r}")

    def __dir__(self) -> list[str]:
        """Attributes plus the context option names, upper case, as pyzmq."""
        return sorted(set(super().__dir__()) | set(ContextOption.__members__))

    def __delattr__(self, name: str) -> None:
        upper = name.upper()
        if upper in SocketOption.__members__ and SocketOption[upper] in self.sockopts:
            del self.sockopts[SocketOption[upper]]
        else:
            object.__delattr__(self, name)

    def __repr__(self) -> str:
        count = len(self._sockets)
        closed = " closed" if self._closed else ""
        sockets = "" if not count else f"{count} socket" if count == 1 else f"{count} sockets"
        return f"<{_repr_cls(type(self))}({sockets}) at {hex(id(self))}{closed}>"
