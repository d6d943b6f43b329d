"""The pyzmq-compatible ``Socket``: frames at the edge, whole messages inside.

Theory of operation:
- ``send(..., SNDMORE)`` collects frames per *greenlet* until the last one, so a multipart
  message from one greenlet can never be interleaved with another greenlet's; the completed
  ``list[bytes]`` is handed to the socket type's ``Routing`` in one piece. ``recv`` likewise
  takes a whole message and hands its frames out one by one to the greenlet that asked.
  A message in progress belongs to its greenlet only while that greenlet lives: once it has
  ended, the next greenlet to send (or receive) continues the message, as libzmq's rule that
  the message in progress belongs to the socket would have it (``_partial_of``).
- ``_wait`` is the only blocking loop: try the non-blocking operation; on ``Again`` (and no
  DONTWAIT) wait on the socket's signal, bounded by SNDTIMEO/RCVTIMEO, and retry. Every pipe
  notifies the socket's signals, so a blocked greenlet cannot miss its wake-up, and closing the
  socket or terminating the context wakes every waiter with ENOTSOCK / ETERM.
- A send that never blocks still yields to the hub every ``YIELD_EVERY`` messages: without an
  I/O thread, connection writers only run when the user's greenlet lets them (pyzmq #622).
  A blocking recv that always finds a message does the same, so that other greenlets (a
  monkey-patched program's "threads") are never starved.
"""

from __future__ import annotations

import codecs
import itertools
import json
import pickle
import random
import weakref
from time import monotonic
from warnings import warn as _warn
from typing import TYPE_CHECKING, Any, Callable, Literal, Optional, Sequence, Union, overload

import gevent
from greenlet import getcurrent

from . import constants as _constants
from .constants import (
    DONTWAIT, EADDRINUSE, EFAULT, EINVAL, ENOTSOCK, ENOTSUP, POLLIN, POLLOUT, SNDMORE, Event,
    SocketOption, SocketType, _OptType,
)
from .error import Again, ContextTerminated, ZMQBindError, ZMQError
from .frame import (
    Frame, MessageTracker, _FINISHED_TRACKER, _copy_threshold, _received, _TrackedMessage,
)
from .core import SocketCore
from .options import Options
from .pipe import Pipe, Signal, pipe_pair
from .poll import Poller
from .routing import ROUTING
from .routing.base import Addressed
from .stats import SocketStats, count_of, socket_stats
from .zmtp.radio import GROUP_MAX_LENGTH
from . import lifecycle, transports

__all__ = ["Socket"]

#: a sender that never blocks yields to the hub after this many messages, so connection
#: writers and other greenlets run (libzmq has an I/O thread for that; we have the hub)
YIELD_EVERY = 128


def _yield_to_hub() -> None:
    """Let other greenlets run; every ``POLL_EVERY``-th time, let the hub go once round its
    loop, I/O included.

    ``gevent.sleep(0)`` only queues a callback, and the hub runs callbacks back to back for up
    to gevent's switch interval (5 ms) before it polls for I/O: a greenlet that sends in a
    tight loop would leave every socket unread for that long (a subscriber in the same
    process got 4% of a burst while it was sent, tests/test_greenlets.py). A timer that is
    already due fires only after the next poll, so every ready socket is served first; it
    costs a few microseconds more than a callback, hence one in ``POLL_EVERY``."""
    if next(_yields) % POLL_EVERY:
        gevent.sleep(0)
    else:
        gevent.sleep(_ONE_LOOP)


#: see _yield_to_hub: I/O is polled at least every POLL_EVERY * YIELD_EVERY messages
POLL_EVERY = 4
_yields = itertools.count(1)
#: any positive delay: the timer is due at the hub's next iteration
_ONE_LOOP = 1e-9

#: plain attributes of every socket (pyzmq's, and gzmq's own ``max_pending_handshakes``);
#: any other public name must be an option (``s.linger = 0``) or AttributeError, as pyzmq
_OWN_ATTRIBUTES = frozenset({"context", "copy_threshold", "max_pending_handshakes"})

#: underlying -> the socket it names, for ``Socket.shadow(address)``
_BY_ADDRESS: "weakref.WeakValueDictionary[int, Socket]" = weakref.WeakValueDictionary()
#: a shadow -> (the socket whose state it shares, what it was made from): keeps the first
#: alive while the shadow lives, as pyzmq's ``_shadow_obj`` does
_SHADOWS: "weakref.WeakKeyDictionary[Socket, tuple[Socket, Any]]" = weakref.WeakKeyDictionary()

# Plain ints for the per-message flag tests: ``0 & IntFlag`` dispatches to the enum's
# reflected operator in Python code, which cost more than the rest of send() in profiles.
_DONTWAIT = int(DONTWAIT)
_SNDMORE = int(SNDMORE)


class Socket:
    """A ZeroMQ socket. Safe to use from any number of greenlets at once."""

    #: what ``poll()`` uses (pyzmq's hook: a subclass may poll with its own Poller class)
    _poller_class: type[Poller] = Poller

    def __init__(self, context: Any = None, socket_type: int = -1, *, shadow: Any = 0,
                 copy_threshold: Optional[int] = None, **kwargs: Any) -> None:
        if isinstance(context, Socket):  # pyzmq: ``Socket(other)`` shadows ``other``
            context, shadow = None, context
        if shadow:
            self._share_state_of(shadow)
            return
        if context is None:
            from .context import Context
            context = Context.instance()
        try:
            self._type = SocketType(socket_type)
            routing_class = ROUTING[socket_type]
        except (ValueError, KeyError):
            raise ZMQError(EINVAL) from None
        object.__setattr__(self, "context", context)
        #: send(copy=False) copies frames smaller than this (pyzmq's zero-copy threshold)
        object.__setattr__(self, "copy_threshold",
                           _copy_threshold() if copy_threshold is None else copy_threshold)
        #: what the background works with; it never holds this facade (see gzmq.core)
        core = self._core = SocketCore(context, self._type, routing_class)
        self._options = core.options
        self._routing = core.routing
        self._recv_signal = core.recv_signal
        self._send_signal = core.send_signal
        self._send_count = itertools.count(1)  # (not an attribute write per send)
        self._recv_count = itertools.count(1)
        self._partial_out: dict[Any, list[bytes]] = {}
        self._partial_in: dict[Any, list[bytes]] = {}
        self._endpoints = core.endpoints
        self._lifecycle = core.lifecycle
        self._last_endpoint = b""
        self._fd: Any = None
        context._sockets.add(self)  # also for Socket(ctx, type) built directly, as pyzmq allows
        self._address = id(self)
        _BY_ADDRESS[self._address] = self

    # ----------------------------------------------------------------------------------------
    # shadows (pyzmq: ``Socket.shadow(address)``, ``Socket(other)``, ``copy.copy(socket)``)

    @classmethod
    def shadow(cls, address: Any) -> "Socket":
        """Another Socket object on the same underlying socket: ``address`` is a Socket or the
        ``underlying`` of one (pyzmq: the address of a libzmq socket).

        gzmq has no C sockets, so a shadow shares the other object's state itself (its
        ``__dict__``): options, queues, endpoints, ``closed``. Closing either closes the
        socket, as closing a shadow closes the libzmq socket in pyzmq. An address that names
        no live gzmq socket raises ZMQError(EFAULT)."""
        return cls(shadow=address)

    def _share_state_of(self, target: Any) -> None:
        if isinstance(target, Socket):
            source = target
        else:
            address = getattr(target, "underlying", target)
            if not isinstance(address, int):
                raise TypeError(f"expected a Socket or an int address, got {target!r}")
            found = _BY_ADDRESS.get(address)
            if found is None:
                raise ZMQError(EFAULT)
            source = found
        self.__dict__ = source.__dict__
        if type(self) is Socket and type(source).__module__ == "gzmq.threaded":
            self.__class__ = type(source)  # its calls must go to the I/O thread, as source's
        _SHADOWS[self] = (source, target)

    @property
    def _shadow(self) -> bool:
        """True for a shadow (made by ``shadow``, ``Socket(other)`` or ``copy.copy``)."""
        return self in _SHADOWS

    @property
    def _shadow_obj(self) -> Any:
        """What this shadow was made from (a Socket or an address), else None."""
        entry = _SHADOWS.get(self)
        return None if entry is None else entry[1]

    @property
    def underlying(self) -> int:
        """The address that ``Socket.shadow`` takes (the same for a socket and its shadows)."""
        return self._address

    def __copy__(self) -> "Socket":
        """Copying a socket makes a shadow of it, as pyzmq."""
        return type(self).shadow(self)

    def __deepcopy__(self, memo: Any = None) -> "Socket":
        return type(self).shadow(self)

    # ----------------------------------------------------------------------------------------
    # attribute-style options (pyzmq: ``s.linger = 0``, ``s.rcvhwm``)

    if TYPE_CHECKING:
        # for type checkers only: the options are attributes (``_OptionAttribute``, one per
        # name, added to the class at import); at run time a __getattr__ would slow every
        # attribute load of a socket
        def __getattr__(self, name: str) -> Any: ...

    def __setattr__(self, name: str, value: Any) -> None:
        """pyzmq's rules: an attribute the object or its class has is set as usual;
        ``subscribe``/``unsubscribe`` (any case) set those options, str allowed; any other
        name is a zmq constant, set as an option (``s.linger = 0``), or AttributeError.
        gzmq also lets private names (``_x``) through, for subclasses and gzmq itself."""
        # (never ``self.__dict__`` here: reading it makes CPython give the object a real dict,
        # and every attribute load on the send/recv path slower)
        if name.startswith("_") or name in _OWN_ATTRIBUTES:
            object.__setattr__(self, name, value)
            return
        lowered = name.lower()
        if lowered in ("subscribe", "unsubscribe"):  # pyzmq: ``s.subscribe = 'topic'`` sets it
            self.set(SocketOption[lowered.upper()],
                     value.encode("utf-8") if isinstance(value, str) else value)
            return
        if _class_defines(type(self), name) or _has_attribute(self, name):
            object.__setattr__(self, name, value)
            return
        upper = name.upper()
        option = getattr(_constants, upper, None)
        if not isinstance(option, int):
            raise AttributeError(f"{type(self).__name__} has no such option: {upper}")
        self.set(option, value)

    def __dir__(self) -> list[str]:
        """Attributes plus every option name, upper case, as pyzmq (``'IDENTITY' in dir(s)``)."""
        return sorted(set(super().__dir__()) | set(SocketOption.__members__))

    # ----------------------------------------------------------------------------------------
    # properties and options

    @property
    def max_pending_handshakes(self) -> Any:
        """gzmq only: how many accepted connections may be in their handshake at once (0 or
        None: no bound); see ``gzmq.transports.stream.HandshakeGate``."""
        return self._core.max_pending_handshakes

    @max_pending_handshakes.setter
    def max_pending_handshakes(self, value: Any) -> None:
        self._core.max_pending_handshakes = value

    @property
    def closed(self) -> bool:
        return self._core.closed

    @property
    def type(self) -> SocketType:
        return self._type

    socket_type = type

    def _check_open(self) -> None:
        if self._core.closed:
            raise ZMQError(ENOTSOCK)

    def set(self, option: int, optval: Any) -> None:
        """Set an option (``setsockopt``), checked in pyzmq's order: ENOTSOCK if closed;
        TypeError for a str value, then for a value of the wrong kind (bytes options take
        ``bytes``; an unknown option number is taken as an int option, so ``set(9999,
        b"5")`` is TypeError and ``set(9999, 5)`` EINVAL); then EINVAL if not valid here."""
        self._check_open()
        if isinstance(optval, str):
            raise TypeError("unicode not allowed, use setsockopt_string")
        try:
            option = _as_option(option)
        except ZMQError:
            if not isinstance(optval, int):
                raise TypeError(f"expected int, got: {optval!r}") from None
            raise
        if option._opt_type is _OptType.bytes:
            if not isinstance(optval, bytes):
                raise TypeError(f"expected bytes, got: {optval!r}")
        elif not isinstance(optval, int):
            raise TypeError(f"expected int, got: {optval!r}")
        if option in (SocketOption.SUBSCRIBE, SocketOption.UNSUBSCRIBE):
            routing: Any = self._routing  # SUB and XSUB have subscribe/unsubscribe
            if not hasattr(routing, "subscribe"):
                raise ZMQError(EINVAL)
            topic = bytes(memoryview(optval))
            if option == SocketOption.SUBSCRIBE:
                routing.subscribe(topic)
            else:
                routing.unsubscribe(topic)
            return
        self._options.set(option, optval)

    setsockopt = set

    def get(self, option: int) -> Any:
        """Read an option (``getsockopt``); EINVAL for write-only or unknown ones."""
        option = _as_option(option)
        if self._core.closed:
            raise ZMQError(ENOTSOCK)
        if option == SocketOption.EVENTS:
            return self._events()
        if option == SocketOption.RCVMORE:
            return int(bool(self._partial_of(self._partial_in)))
        if option == SocketOption.TYPE:
            return int(self._type)
        if option == SocketOption.LAST_ENDPOINT:
            return self._last_endpoint
        if option == SocketOption.FD:
            return self.fileno()
        if option == SocketOption.TOPICS_COUNT:
            if not hasattr(self._routing, "subscription_count"):
                raise ZMQError(EINVAL)
            return self._routing.subscription_count
        return self._options.get(option)

    getsockopt = get

    def set_string(self, option: int, optval: str, encoding: str = "utf-8") -> None:
        if not isinstance(optval, str):
            raise TypeError(f"strings only, not {type(optval)}")
        self.set(option, optval.encode(encoding))

    setsockopt_string = setsockopt_unicode = set_unicode = set_string

    def get_string(self, option: int, encoding: str = "utf-8") -> str:
        option = _as_option(option)
        if option._opt_type is not _OptType.bytes:
            raise TypeError(f"option {option} will not return a string to be decoded")
        return self.get(option).decode(encoding)

    getsockopt_string = getsockopt_unicode = get_unicode = get_string

    @property
    def hwm(self) -> int:
        return self.get(SocketOption.SNDHWM)

    @hwm.setter
    def hwm(self, value: int) -> None:
        self.set(SocketOption.SNDHWM, value)
        self.set(SocketOption.RCVHWM, value)

    def get_hwm(self) -> int:
        return self.hwm

    def set_hwm(self, value: int) -> None:
        self.hwm = value

    def subscribe(self, topic: Union[str, bytes]) -> None:
        if isinstance(topic, str):
            topic = topic.encode("utf-8")
        self.set(SocketOption.SUBSCRIBE, topic)

    def join(self, group: Union[str, bytes]) -> None:
        """DISH: receive the messages of ``group`` (ENOTSUP on other types; EINVAL if already
        joined or longer than 255 bytes), as pyzmq's draft ``join``."""
        self._check_open()
        self._routing.join(_checked_group(group))

    def leave(self, group: Union[str, bytes]) -> None:
        """DISH: stop receiving ``group`` (EINVAL if it was not joined)."""
        self._check_open()
        self._routing.leave(_checked_group(group))

    def connect_peer(self, addr: Union[str, bytes]) -> int:
        """PEER: connect to ``addr`` and return the routing id that names that peer
        (libzmq's draft ``zmq_connect_peer``). ENOTSUP on other types; EFAULT with IMMEDIATE,
        as libzmq (the pipe would not exist yet, so there would be no id to return)."""
        self._check_open()
        if self._type != SocketType.PEER:
            raise ZMQError(ENOTSUP)
        if self._options.immediate:
            raise ZMQError(EFAULT)
        self.connect(addr)
        return int(self._routing.last_attached_id)

    def unsubscribe(self, topic: Union[str, bytes]) -> None:
        if isinstance(topic, str):
            topic = topic.encode("utf-8")
        self.set(SocketOption.UNSUBSCRIBE, topic)

    def _events(self) -> int:
        if self._fd is not None:
            self._fd.drain()
        events = 0
        if self._routing.readable or self._partial_of(self._partial_in):
            events |= POLLIN
        if self._routing.writable:
            events |= POLLOUT
        return events

    def fileno(self) -> int:
        """An fd that becomes readable when the socket's state may have changed (ZMQ_FD)."""
        self._check_open()
        if self._fd is None:
            from .poll import EdgeFD
            self._fd = EdgeFD(self._recv_signal, self._send_signal)
        return self._fd.fileno()

    # ----------------------------------------------------------------------------------------
    # endpoints

    def bind(self, addr: Union[str, bytes], *,
             mode: transports.GzmqExtensionFileMode = None) -> "_EndpointContext":
        """Bind to ``addr``; returns a context manager that unbinds on exit.

        ``mode`` is a gzmq extension (pyzmq's ``bind`` has no such argument): for an
        ``ipc://`` path or ``ipc://*``, the file mode of the socket file, e.g. ``0o600`` for
        owner-only access. The file never exists at its path with any other mode, not even
        briefly, and the process umask is left alone. ``None`` (the default) leaves the mode
        to the umask, as libzmq does. ``mode`` with any other endpoint (tcp, inproc, abstract
        ``ipc://@name``) raises ZMQError(EINVAL); a mode that is not an int in 0..0o777
        raises TypeError / ValueError.
        """
        self._check_open()
        addr = _as_address(addr)
        try:
            resolved = transports.bind(self._core, addr, mode)
        except ZMQError as e:
            self._emit(Event.BIND_FAILED, e.errno, addr)
            raise _with_address(e, addr) from None
        self._last_endpoint = resolved.encode()
        return _EndpointContext(self, resolved, self.unbind, "bind")

    def connect(self, addr: Union[str, bytes]) -> "_EndpointContext":
        """Connect to ``addr`` (asynchronous: messages queue until the peer is up)."""
        self._check_open()
        addr = _as_address(addr)
        try:
            resolved = transports.connect(self._core, addr)
        except ZMQError as e:
            raise _with_address(e, addr) from None
        self._last_endpoint = resolved.encode()
        return _EndpointContext(self, addr, self.disconnect, "connect")

    def unbind(self, addr: Union[str, bytes]) -> None:
        self._check_open()
        addr = _as_address(addr)
        try:
            self._endpoints.remove_bound(addr)
        except ZMQError as e:
            raise _with_address(e, addr) from None

    def disconnect(self, addr: Union[str, bytes]) -> None:
        self._check_open()
        addr = _as_address(addr)
        try:
            self._endpoints.remove_connected(addr)
        except ZMQError as e:
            raise _with_address(e, addr) from None

    def bind_to_random_port(self, addr: str, min_port: int = 49152, max_port: int = 65536,
                            max_tries: int = 100) -> int:
        """Bind ``addr`` (no port) to a random port in [min_port, max_port); return the port."""
        if min_port == 49152 and max_port == 65536:
            self.bind(f"{addr}:*")
            return int(self._last_endpoint.decode().rsplit(":", 1)[-1])
        for _ in range(max_tries):
            port = random.randrange(min_port, max_port)
            try:
                self.bind(f"{addr}:{port}")
            except ZMQError as e:
                if e.errno in (EADDRINUSE, 13):  # in use, or EACCES on privileged ports
                    continue
                raise
            return port
        raise ZMQBindError("Could not bind socket to random port.")

    # ----------------------------------------------------------------------------------------
    # sending

    # pyzmq's stubs type send/recv by ``copy``: these overloads say the same (typing only)
    @overload
    def send(self, data: Frame, flags: int = 0, copy: bool = True, track: bool = False,
             routing_id: Any = None, group: Any = None) -> Optional[MessageTracker]: ...
    @overload
    def send(self, data: Any, flags: int = 0, copy: Literal[True] = True, track: bool = False,
             routing_id: Any = None, group: Any = None) -> None: ...
    @overload
    def send(self, data: Any, flags: int = 0, *, copy: Literal[False], track: bool = False,
             routing_id: Any = None, group: Any = None) -> MessageTracker: ...
    @overload
    def send(self, data: Any, flags: int, copy: Literal[False], track: bool = False,
             routing_id: Any = None, group: Any = None) -> MessageTracker: ...
    @overload
    def send(self, data: Any, flags: int = 0, copy: bool = True, track: bool = False,
             routing_id: Any = None, group: Any = None) -> Optional[MessageTracker]: ...

    def send(self, data: Any, flags: int = 0, copy: bool = True, track: bool = False,
             routing_id: Any = None, group: Any = None) -> Optional[MessageTracker]:
        """Send one frame; with SNDMORE it waits for the rest of the message.

        Returns what pyzmq's does: None for a copying send; for ``copy=False`` a
        MessageTracker (``zmq._FINISHED_TRACKER`` below ``copy_threshold`` bytes, where the
        frame is copied anyway); for a Frame, ``frame.tracker``. See ``gzmq.frame``."""
        if self._core.closed:
            raise ZMQError(ENOTSOCK)
        if routing_id is not None or group is not None:
            return self._send_addressed(data, flags, copy, track, routing_id, group)
        if type(data) is bytes and copy:
            frame = data
        elif copy and not isinstance(data, Frame):
            frame = _frame_bytes(data)
        else:
            return self._send_frame(data, flags, track)
        if flags & _SNDMORE:
            if not type(self._routing).can_send:
                raise ZMQError(ENOTSUP)  # at the first frame, as libzmq
            if type(self._routing).single_part:
                raise ZMQError(EINVAL)  # CLIENT, SERVER, RADIO...: one frame per message
            partial = self._partial_of(self._partial_out)
            if partial is None:
                self._partial_out[getcurrent()] = [frame]
            else:
                partial.append(frame)
            return None
        parts = self._partial_of(self._partial_out, pop=True) if self._partial_out else None
        if parts is None:
            parts = [frame]
        else:
            parts.append(frame)
        # the common case inlined: queue without blocking (see _send_message for the rest)
        try:
            self._routing.send_nowait(parts)
        except Again:
            if flags & _DONTWAIT:
                raise
            self._send_blocking(parts)
        if not next(self._send_count) % YIELD_EVERY:
            _yield_to_hub()
        return None

    def _prepare(self, data: Any, copy: bool, track: bool) -> tuple[bytes, Any, Any]:
        """A frame to send: (its bytes, the zero-copy owner it keeps alive or None, what
        pyzmq's send of it returns)."""
        if isinstance(data, Frame):
            if track and not data.tracker:
                raise ValueError("Not a tracked message")
            return data._payload(), data._owner, data.tracker
        if copy:
            return _frame_bytes(data), None, None
        if isinstance(data, str):
            raise TypeError("unicode not allowed, use send_string")
        view = memoryview(data)
        if self.copy_threshold and view.nbytes < self.copy_threshold:
            return bytes(view) if type(data) is not bytes else data, None, _FINISHED_TRACKER
        frame = Frame(data, track=track, copy=False)
        return frame._payload(), frame._owner, frame.tracker

    def _send_frame(self, data: Any, flags: int, track: bool) -> Optional[MessageTracker]:
        """send() of a Frame or with copy=False: a zero-copy frame's owner rides along with
        its message, so that its tracker is done only once the message has left."""
        if type(data) is Frame and (data._routing_id or data._group is not None):
            return self._send_addressed(data, flags, False, track, None, None)
        payload, owner, result = self._prepare(data, False, track)
        if owner is None:
            self.send(payload, flags)
            return result  # type: ignore[no-any-return]
        if flags & _SNDMORE:
            self.send(payload, flags)
            current = getcurrent()  # send() filed the message in progress under this greenlet
            parts = self._partial_out[current]
            if type(parts) is not _TrackedMessage:
                parts = self._partial_out[current] = _TrackedMessage(parts)
            parts.owners.append(owner)
            return result  # type: ignore[no-any-return]
        pending = self._partial_of(self._partial_out, pop=True) if self._partial_out else None
        self._send_message(_tracked(pending, [payload], [owner]), flags)
        return result  # type: ignore[no-any-return]

    def _send_addressed(self, data: Any, flags: int, copy: bool, track: bool,
                        routing_id: Any, group: Any) -> Optional[MessageTracker]:
        """send() of a frame with a draft address: ``routing_id`` (SERVER, PEER) or ``group``
        (RADIO), from the keywords or from the Frame (pyzmq sets them on a Frame too). Types
        that have no use for an address ignore it, as libzmq's do."""
        if isinstance(data, Frame):
            if routing_id is None and data._routing_id:
                routing_id = data._routing_id
            if group is None:
                group = data._group
        if routing_id is not None:
            routing_id = _checked_routing_id(routing_id)
        if group is not None:
            group = _checked_group(group)
        if flags & _SNDMORE:  # EINVAL for the single-part types; an address means nothing else
            self.send(data, flags, copy, track)
            return None
        payload, owner, result = self._prepare(data, copy, track)
        pending = self._partial_of(self._partial_out, pop=True) if self._partial_out else None
        msg = _tracked(pending, [payload], [owner] if owner is not None else [])
        if type(msg) is _TrackedMessage and not msg.owners:
            msg = list(msg)
        send = self._routing.send_addressed_nowait
        try:
            send(msg, routing_id, group)
        except Again:
            if flags & _DONTWAIT:
                raise
            self._wait(lambda: send(msg, routing_id, group), self._send_signal,
                       self._options.sndtimeo)
        next(self._send_count)  # (counted for stats())
        return result  # type: ignore[no-any-return]

    def send_multipart(self, msg_parts: Sequence[Any], flags: int = 0, copy: bool = True,
                       track: bool = False, **kwargs: Any) -> Optional[MessageTracker]:
        """Send a whole message atomically (never interleaved with another greenlet's).
        Returns what ``send`` of the last part would (pyzmq's rule)."""
        frames = []
        owners: Optional[list[Any]] = None
        result: Any = None
        for index, part in enumerate(msg_parts):
            if type(part) is bytes and copy:
                frames.append(part)
                result = None
                continue
            try:
                payload, owner, result = self._prepare(part, copy, track)
            except TypeError:
                raise TypeError(f"Frame {index} ({part!r:.32}) does not support the buffer "
                                "interface.") from None
            frames.append(payload)
            if owner is not None:
                owners = [owner] if owners is None else owners + [owner]
        if not frames:
            raise ValueError("send_multipart requires at least one frame")
        if len(frames) > 1 and type(self._routing).single_part:
            raise ZMQError(EINVAL)  # CLIENT, SERVER, RADIO...: one frame per message
        if flags & _SNDMORE:
            for frame in frames:
                self.send(frame, _SNDMORE)
            if owners is not None:
                parts = self._partial_out[getcurrent()]
                self._partial_out[getcurrent()] = _tracked(parts, (), owners)
            return result  # type: ignore[no-any-return]
        if self._core.closed:
            raise ZMQError(ENOTSOCK)
        pending = self._partial_of(self._partial_out, pop=True) if self._partial_out else None
        if owners is not None or type(pending) is _TrackedMessage:
            self._send_message(_tracked(pending, frames, owners or []), flags)
        else:
            self._send_message(pending + frames if pending else frames, flags)
        return result  # type: ignore[no-any-return]

    def _send_message(self, msg: list[bytes], flags: int) -> None:
        try:
            self._routing.send_nowait(msg)
        except Again:
            if flags & _DONTWAIT:
                raise
            self._send_blocking(msg)
        if not next(self._send_count) % YIELD_EVERY:
            _yield_to_hub()

    def _send_blocking(self, msg: list[bytes]) -> None:
        send_nowait = self._routing.send_nowait
        self._wait(lambda: send_nowait(msg), self._send_signal, self._options.sndtimeo)

    # ----------------------------------------------------------------------------------------
    # receiving

    @overload
    def recv(self, flags: int = 0, copy: Literal[True] = True, track: bool = False) -> bytes: ...
    @overload
    def recv(self, flags: int = 0, *, copy: Literal[False], track: bool = False) -> Frame: ...
    @overload
    def recv(self, flags: int, copy: Literal[False], track: bool = False) -> Frame: ...
    @overload
    def recv(self, flags: int = 0, copy: bool = True,
             track: bool = False) -> Union[bytes, Frame]: ...

    def recv(self, flags: int = 0, copy: bool = True, track: bool = False) -> Any:
        """Receive one frame (bytes, or a ``Frame`` with copy=False)."""
        if self._partial_in:
            rest = self._partial_of(self._partial_in)
            if rest:
                return self._next_part(rest, copy)
        if self._core.closed:
            raise ZMQError(ENOTSOCK)
        try:
            msg = self._routing.recv_nowait()
        except Again:
            if flags & _DONTWAIT:
                raise
            msg = self._wait(self._routing.recv_nowait, self._recv_signal,
                             self._options.rcvtimeo)
            next(self._recv_count)  # (counted for stats(); the wait yielded already)
        else:
            if not next(self._recv_count) % YIELD_EVERY and not flags & _DONTWAIT:
                _yield_to_hub()  # a blocking recv that never waits still lets others run
        if len(msg) > 1:
            self._partial_in[getcurrent()] = msg[1:]
        return msg[0] if copy else self._frame(msg[0], len(msg) > 1, msg)

    def _next_part(self, rest: list[bytes], copy: bool) -> Any:
        """The next frame of a message this greenlet has started to receive."""
        data = rest.pop(0)
        more = bool(rest)
        if not more:
            del self._partial_in[getcurrent()]
        return data if copy else self._frame(data, more)

    @staticmethod
    def _partial_of(partials: dict[Any, list[bytes]], pop: bool = False) -> Optional[list[bytes]]:
        """The current greenlet's message in progress (to send, or the rest of one received).

        A greenlet that has none continues the message of a greenlet that ended without
        finishing it: the sequential case (a new greenlet per request sending the next frame)
        forms one message, as in libzmq, and no frames stay behind with a dead greenlet. Live
        greenlets keep their own, so concurrent ones never interleave frames.
        """
        current = getcurrent()
        parts = partials.pop(current, None) if pop else partials.get(current)
        if parts is None and partials:
            orphan = next((owner for owner in partials if owner.dead), None)
            if orphan is not None:
                parts = partials.pop(orphan)
                if not pop:
                    partials[current] = parts
        return parts

    @overload
    def recv_multipart(self, flags: int = 0, copy: Literal[True] = True,
                       track: bool = False) -> list[bytes]: ...
    @overload
    def recv_multipart(self, flags: int = 0, *, copy: Literal[False],
                       track: bool = False) -> list[Frame]: ...
    @overload
    def recv_multipart(self, flags: int, copy: Literal[False],
                       track: bool = False) -> list[Frame]: ...
    @overload
    def recv_multipart(self, flags: int = 0, copy: bool = True,
                       track: bool = False) -> Union[list[bytes], list[Frame]]: ...

    def recv_multipart(self, flags: int = 0, copy: bool = True, track: bool = False) -> list[Any]:
        """Receive every (remaining) frame of one message."""
        if self._core.closed:
            raise ZMQError(ENOTSOCK)
        rest = self._partial_of(self._partial_in, pop=True) if self._partial_in else None
        msg = rest if rest else self._recv_message(flags)
        if copy:
            return msg if type(msg) is list else list(msg)  # _TrackedMessage (inproc): release it
        last = len(msg) - 1
        return [self._frame(part, index < last, msg) for index, part in enumerate(msg)]

    def _recv_message(self, flags: int) -> list[bytes]:
        recv_nowait = self._routing.recv_nowait
        try:
            msg = recv_nowait()
        except Again:
            if flags & _DONTWAIT:
                raise
            msg = self._wait(recv_nowait, self._recv_signal, self._options.rcvtimeo)
            next(self._recv_count)  # (counted for stats(); the wait yielded already)
            return msg
        if not next(self._recv_count) % YIELD_EVERY and not flags & _DONTWAIT:
            _yield_to_hub()  # a blocking recv that never waits still lets others run
        return msg

    def _frame(self, data: bytes, more: bool, msg: Any = None) -> Frame:
        pipe = self._routing.last_pipe
        frame = _received(data, more, pipe.properties if pipe is not None else {})
        if type(msg) is Addressed:  # SERVER/PEER: who sent it; DISH: its group
            frame._routing_id = msg.routing_id or 0
            frame._group = msg.group
        return frame

    def recv_into(self, buffer: Any, /, *, nbytes: int = 0, flags: int = 0) -> int:
        """Receive the next frame into ``buffer`` (writable, contiguous), at most ``nbytes``
        (0: the buffer's size) of it; returns the frame's full size (larger: truncated).

        The arguments are checked before anything is received, as pyzmq: ValueError for a
        negative or too large ``nbytes``, TypeError if ``buffer`` has no buffer interface,
        BufferError if it is read-only or not contiguous."""
        self._check_open()
        if nbytes < 0:
            raise ValueError(f"nbytes={nbytes!r} must be non-negative")
        view = memoryview(buffer)
        if view.readonly:
            raise BufferError("memoryview: underlying buffer is not writable")
        if not view.c_contiguous:
            raise BufferError("memoryview: underlying buffer is not C-contiguous")
        if view.ndim != 1 or view.format != "B":
            view = view.cast("B")
        size = view.nbytes
        if nbytes == 0:
            nbytes = size
        elif nbytes > size:
            raise ValueError(f"nbytes={nbytes!r} too big for memoryview of {size}B")
        data = self.recv(flags)
        count = min(nbytes, len(data))
        view[:count] = memoryview(data)[:count]
        return len(data)

    # ----------------------------------------------------------------------------------------
    # the one blocking loop

    def _wait(self, operation: Callable[[], Any], signal: Signal, timeout_ms: int) -> Any:
        if timeout_ms == 0:
            raise Again()
        deadline = None if timeout_ms < 0 else monotonic() + timeout_ms / 1000.0
        while True:
            core = self._core
            if core.background_error is not None:
                error, core.background_error = core.background_error, None
                raise RuntimeError("gzmq: a background greenlet of this socket failed; "
                                   "please report this") from error
            if self._core.closed:
                raise ZMQError(ENOTSOCK)
            if self.context._terminated:
                raise ContextTerminated()
            if deadline is None:
                signal.wait()
            else:
                remaining = deadline - monotonic()
                if remaining <= 0 or not signal.wait(remaining):
                    # one last try: the wake-up and the deadline may have coincided
                    if self._core.closed or self.context._terminated:
                        continue
                    return operation()
            if self._core.closed or self.context._terminated:
                continue
            try:
                return operation()
            except Again:
                continue

    def _wake_all(self) -> None:
        """Wake every greenlet waiting on this socket (and pollers watching it)."""
        self._recv_signal.notify()
        self._send_signal.notify()

    # ----------------------------------------------------------------------------------------
    # strings, json, pickles, serializers

    def send_string(self, u: str, flags: int = 0, copy: bool = True, encoding: str = "utf-8",
                    **kwargs: Any) -> Optional[MessageTracker]:
        if not isinstance(u, str):
            raise TypeError("str objects only")
        return self.send(u.encode(encoding), flags=flags, copy=copy, **kwargs)

    send_unicode = send_string

    def recv_string(self, flags: int = 0, encoding: str = "utf-8") -> str:
        return codecs.decode(self.recv(flags=flags), encoding)

    recv_unicode = recv_string

    def send_json(self, obj: Any, flags: int = 0, **kwargs: Any) -> Optional[MessageTracker]:
        send_kwargs = {k: kwargs.pop(k) for k in ("routing_id", "group") if k in kwargs}
        msg = json.dumps(obj, **kwargs).encode("utf8")
        return self.send(msg, flags=flags, **send_kwargs)

    def recv_json(self, flags: int = 0, **kwargs: Any) -> Any:
        return json.loads(self.recv(flags), **kwargs)

    def send_pyobj(self, obj: Any, flags: int = 0, protocol: int = pickle.DEFAULT_PROTOCOL,
                   **kwargs: Any) -> Optional[MessageTracker]:
        return self.send(pickle.dumps(obj, protocol), flags=flags, **kwargs)

    def recv_pyobj(self, flags: int = 0) -> Any:
        return pickle.loads(self.recv(flags))

    def send_serialized(self, msg: Any, serialize: Callable[[Any], list], flags: int = 0,
                        copy: bool = True, **kwargs: Any) -> Optional[MessageTracker]:
        return self.send_multipart(serialize(msg), flags=flags, copy=copy, **kwargs)

    def recv_serialized(self, deserialize: Callable[[list], Any], flags: int = 0,
                        copy: bool = True) -> Any:
        return deserialize(self.recv_multipart(flags, copy=copy))

    # ----------------------------------------------------------------------------------------
    # polling and monitoring

    def poll(self, timeout: Optional[int] = None, flags: int = POLLIN) -> int:
        """Wait up to ``timeout`` ms for ``flags``; return the events that are ready."""
        if self._core.closed:
            raise ZMQError(ENOTSUP)
        poller = self._poller_class()
        poller.register(self, flags)
        ready: dict[Any, int] = dict(poller.poll(timeout))
        return ready.get(self, 0)

    def monitor(self, addr: Optional[Union[str, bytes]], events: int = 0xFFFF) -> None:
        """Publish this socket's events on a PAIR socket bound at ``inproc://`` ``addr``."""
        from .monitor import start_monitor
        self._check_open()
        start_monitor(self._core, addr, events)

    def get_monitor_socket(self, events: Optional[int] = None, addr: Optional[str] = None) -> Any:
        from .monitor import get_monitor_socket
        return get_monitor_socket(self, events, addr)

    def disable_monitor(self) -> None:
        self.monitor(None, 0)

    def _emit(self, event: Event, value: int, endpoint: str) -> None:
        """Report ``event`` to this socket's monitor (``SocketCore.emit``)."""
        self._core.emit(event, value, endpoint)

    def stats(self) -> SocketStats:
        """gzmq only: this socket's statistics, cheap enough to be always on (a
        ``gzmq.stats.SocketStats``, whose docstring says what each key means): peers connected
        and handshakes in progress, succeeded and failed, messages and bytes in and out,
        messages dropped by reason, and each peer's queues. Works on a closed socket too."""
        return socket_stats(self._core, count_of(self._send_count), count_of(self._recv_count))

    # ----------------------------------------------------------------------------------------
    # closing

    def close(self, linger: Optional[int] = None) -> None:
        """Close now; queued messages keep going for LINGER ms in the background."""
        if self._core.closed:
            return
        self._core.close(linger)
        if self._fd is not None:
            self._fd.close()
        self.context._socket_closed(self)

    def __del__(self) -> None:
        """A socket the application dropped without close() is closed when collected, as
        pyzmq's is (with a ResourceWarning): its LINGER still applies, and ``term()`` does not
        wait for it forever. Nothing in the background holds this facade (see gzmq.core)."""
        core = self.__dict__.get("_core")
        if core is None or core.closed or self._shadow:
            return
        if _warn is not None:  # None during interpreter teardown
            _warn(f"Unclosed socket {self}", ResourceWarning, stacklevel=2, source=self)
        try:
            self.close()
        except Exception:  # noqa: BLE001 - a finalizer must not raise (e.g. the I/O thread is gone)
            pass

    def __enter__(self) -> "Socket":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    _repr_cls = "zmq.Socket"

    def __repr__(self) -> str:
        """``<zmq.Socket(zmq.PUSH) at 0x...>``; a subclass shows its own name, as pyzmq."""
        closed = " closed" if self._core.closed else ""
        return f"<{_repr_cls(type(self))}(zmq.{self._type.name}) at {hex(id(self))}{closed}>"


class _EndpointContext:
    """What bind()/connect() return: usable as ``with s.bind(url):`` to unbind on exit."""

    def __init__(self, socket: Socket, addr: str, undo: Callable[[str], None],
                 kind: str) -> None:
        self.socket = socket
        self.addr = addr
        self._undo = undo
        self.kind = kind  #: "bind" or "connect" (pyzmq's ``_SocketContext.kind``)

    def __enter__(self) -> Socket:
        return self.socket

    def __exit__(self, *exc: Any) -> None:
        if not self.socket.closed:
            self._undo(self.addr)

    def __repr__(self) -> str:
        return f"<SocketContext({self.kind}={self.addr!r})>"


def _repr_cls(cls: type) -> str:
    """pyzmq's repr name: a class's own ``_repr_cls``, else its module and name; gzmq's
    internal subclasses (ThreadedSocket, ThreadedContext) show as their public base."""
    for klass in cls.__mro__:
        if "_repr_cls" in klass.__dict__:
            return klass.__dict__["_repr_cls"]  # type: ignore[no-any-return]
        if not klass.__module__.startswith("gzmq"):
            return f"{klass.__module__}.{klass.__name__}"
    return cls.__name__


class _OptionAttribute:
    """A socket option as an attribute, as pyzmq has them (``s.sndhwm``, ``s.SNDHWM``): one
    of these per option name, lower and upper case, on the class.

    Not a ``__getattr__``: CPython 3.11 specializes no attribute load at all on instances of
    a class that has one, and the send/recv path reads a few ``self._x`` per message; the
    ``__getattr__`` cost 13% of tcp PUSH/PULL 64 B and 26% of inproc (perf/hotpath.py). Only
    mixed-case names (``s.SndHwm``), which pyzmq also reads, are then no attributes; setting
    them still works (``Socket.__setattr__``)."""

    __slots__ = ("name", "option")

    def __init__(self, name: str, option: SocketOption) -> None:
        self.name = name
        self.option = option

    def __get__(self, sock: Any, owner: Any = None) -> Any:
        if sock is None:
            return self
        try:
            return sock.get(self.option)
        except ZMQError as e:
            if e.errno in (EINVAL, 14):  # write-only or not for this type (EFAULT): pyzmq
                raise AttributeError(f"{self.name} is write-only ({e})") from None
            raise

    def __set__(self, sock: Any, value: Any) -> None:
        sock.set(self.option, value)


def _add_option_attributes(cls: type) -> None:
    for name, option in SocketOption.__members__.items():
        for attribute in (name, name.lower()):
            if not _class_defines(cls, attribute):  # a property of the class wins (``type``...)
                setattr(cls, attribute, _OptionAttribute(attribute, option))


def _class_defines(cls: type, name: str) -> bool:
    """Whether ``name`` is a class attribute (or annotated) anywhere in ``cls``'s MRO."""
    return any(name in klass.__dict__ or name in klass.__dict__.get("__annotations__", {})
               for klass in cls.__mro__)


def _has_attribute(obj: object, name: str) -> bool:
    """Whether ``obj`` has ``name`` of its own (without materialising its ``__dict__``)."""
    try:
        object.__getattribute__(obj, name)
    except AttributeError:
        return False
    return True


def _tracked(pending: Optional[list[bytes]], frames: Sequence[bytes],
             owners: list[Any]) -> "_TrackedMessage":
    """``pending + frames`` as one message that keeps ``owners`` (and pending's) alive."""
    message = _TrackedMessage(pending or ())
    message.extend(frames)
    if type(pending) is _TrackedMessage:
        message.owners.extend(pending.owners)
    message.owners.extend(owners)
    return message


def _as_option(option: int) -> SocketOption:
    if not isinstance(option, int):
        raise TypeError(f"an integer is required, not {type(option).__name__}")
    try:
        return SocketOption(option)
    except ValueError:
        raise ZMQError(EINVAL) from None


def _as_address(addr: Union[str, bytes]) -> str:
    if isinstance(addr, bytes):
        return addr.decode("utf-8")
    if not isinstance(addr, str):
        raise TypeError(f"expected str, got: {addr!r}")
    return addr


def _with_address(error: ZMQError, addr: str) -> ZMQError:
    error.strerror = f"{error.strerror} (addr={addr!r})"
    return error


def _frame_bytes(data: Any) -> bytes:
    if type(data) is bytes:
        return data
    if isinstance(data, Frame):
        return data.bytes
    if isinstance(data, str):
        raise TypeError("unicode not allowed, use send_string")
    try:
        return bytes(memoryview(data))
    except TypeError:
        raise TypeError(f"expected bytes or a buffer, got: {data!r:.50}") from None


def _checked_routing_id(routing_id: Any) -> int:
    """A SERVER/PEER routing id: a uint32 other than 0 (libzmq's zmq_msg_set_routing_id)."""
    if isinstance(routing_id, bool) or not isinstance(routing_id, int):
        raise TypeError(f"routing_id must be an int, not {type(routing_id).__name__}")
    if not 0 < routing_id <= 0xFFFFFFFF:
        raise ZMQError(EINVAL)
    return routing_id


def _checked_group(group: Any) -> bytes:
    """A RADIO/DISH group as bytes (str is UTF-8, as pyzmq), EINVAL beyond 255 bytes."""
    if isinstance(group, str):
        group = group.encode("utf-8")
    group = bytes(group)
    if len(group) > GROUP_MAX_LENGTH:
        raise ZMQError(EINVAL)
    return group


_add_option_attributes(Socket)
