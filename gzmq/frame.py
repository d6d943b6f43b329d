"""``Frame`` (alias ``Message``) and ``MessageTracker``, as pyzmq offers them.

Copying and zero-copy frames (pyzmq's rule): ``Frame(data)`` copies ``data`` when it is smaller
than ``copy_threshold`` (default ``zmq.COPY_THRESHOLD``, 64 KiB) or when ``copy=True``;
otherwise the frame *shares* ``data``'s memory (``frame.buffer`` is a view of it, no copy made).
A zero-copy frame is registered in ``zmq.utils.garbage.gc.refs`` for as long as gzmq uses the
memory: while the frame, a ``copy.copy`` of it, or a message sent from it still exists, exactly
as pyzmq registers the buffers libzmq holds. ``frame.bytes`` is a copy made on first access and
the same object afterwards; ``frame.buffer`` a memoryview (the same one while you hold it).

The buffer protocol: on Python 3.12+ ``memoryview(frame)`` works (``__buffer__``); earlier
Pythons cannot give a pure-Python class the buffer protocol, so there use ``frame.buffer`` (a
memoryview) or ``bytes(frame)``. Views are read-only when the data is (received frames are
``bytes``); pyzmq's are always writable.

Frames compare and hash by identity, as pyzmq's do (``frame == b"x"`` is False: compare
``frame.bytes``).

``MessageTracker`` (pyzmq: "is 0MQ done with the message(s)?"). A send with ``copy=False,
track=True`` of at least ``copy_threshold`` bytes, or of a Frame made with ``copy=False,
track=True``, returns a tracker that is *not* done while gzmq still holds the message. gzmq
knows that moment without any hook in the I/O code: a tracked message travels in the pipes as
a list that holds the frame's buffer owner (``_TrackedMessage``), and it is done when that
owner is released, i.e. when nothing holds the message any more:

- tcp/ipc: when the connection's writer has taken the message from the pipe and encoded it
  for the wire; from the hub that is the same callback that hands the bytes to the kernel
  (when the kernel pushes back, the encoded bytes wait in the writer's backlog);
- inproc: when the peer socket has taken it (``recv``);
- or when it is dropped (HWM on PUB, LINGER expired, peer gone), as libzmq releases it too;
- for a tracked Frame, also not before the Frame itself (and its copies) are gone, as pyzmq.

Routings that rebuild a message's envelope (REQ adds a delimiter, REP the saved envelope,
ROUTER strips the routing id) hand the pipe a new list, so for those socket types the
tracker is done when the message has been queued. Whatever the socket type, gzmq never keeps
a reference to a *mutable* user buffer after ``send()`` returns (it sends an immutable copy,
or the ``bytes`` object itself), so modifying your buffer is always safe; the tracker tells
when the message has left gzmq's queues.
"""

from __future__ import annotations

import sys
import threading
import time
import weakref
from typing import Any, Iterable, Mapping, Optional

from .constants import EINVAL, MessageOption
from .error import NotDone, ZMQError

__all__ = ["Frame", "Message", "MessageTracker"]

#: pyzmq's zmq.COPY_THRESHOLD: smaller frames are copied even when copy=False
COPY_THRESHOLD = 65536


def _copy_threshold() -> int:
    """``zmq.COPY_THRESHOLD`` as it is now (pyzmq reads it at each use, so it can be set)."""
    return getattr(sys.modules.get("gzmq"), "COPY_THRESHOLD", COPY_THRESHOLD)


class _DoneEvent:
    """A one-shot event that can be set from any thread (the I/O thread of a threaded
    Context releases messages) and waited on cooperatively: a waiting greenlet blocks only
    itself, never its hub (a real ``threading.Event.wait`` would stop the very hub that
    must write the message)."""

    __slots__ = ("_flag", "_waiters", "_lock")

    def __init__(self) -> None:
        self._flag = False
        self._waiters: list[tuple[int, Any, Any]] = []
        self._lock = threading.Lock() if _real_lock is None else _real_lock()

    def is_set(self) -> bool:
        return self._flag

    isSet = is_set

    def set(self) -> None:
        with self._lock:
            self._flag = True
            waiters, self._waiters = self._waiters, []
        me = threading.get_ident()
        for ident, loop, event in waiters:
            if ident == me:
                event.set()
            else:
                loop.run_callback_threadsafe(event.set)

    def wait(self, timeout: Optional[float] = None) -> bool:
        if self._flag:
            return True
        from gevent import get_hub
        from gevent.event import Event

        event = Event()
        with self._lock:
            if self._flag:
                return True
            self._waiters.append((threading.get_ident(), get_hub().loop, event))
        event.wait(timeout)
        return self._flag


try:  # the real lock even under monkey-patching: held for a few instructions, never blocked on
    from gevent.monkey import get_original as _get_original
    _real_lock: Any = _get_original("threading", "Lock")
except Exception:  # pragma: no cover - gevent is a dependency
    _real_lock = None


class MessageTracker:
    """Whether gzmq is done with one or more messages (see the module docstring).

    ``MessageTracker(*towatch)``: events (anything with ``is_set()``/``wait()``), other
    trackers, or tracked Frames (``ValueError`` for an untracked one)."""

    def __init__(self, *towatch: Any) -> None:
        self.events: set[Any] = set()
        self.peers: set[MessageTracker] = set()
        for obj in towatch:
            if isinstance(obj, MessageTracker):
                self.peers.add(obj)
            elif isinstance(obj, Frame):
                if not obj.tracker:
                    raise ValueError("Not a tracked message")
                self.peers.add(obj.tracker)
            elif hasattr(obj, "is_set") and hasattr(obj, "wait"):
                self.events.add(obj)
            else:
                raise TypeError(f"Require Events or Message Frames, not {type(obj)}")

    @property
    def done(self) -> bool:
        """Is gzmq completely done with the message(s) being tracked?"""
        return all(event.is_set() for event in self.events) and \
            all(peer.done for peer in self.peers)

    def wait(self, timeout: float = -1) -> None:
        """Wait until done, at most ``timeout`` seconds (negative: no limit); ``NotDone``
        if the time runs out first. Only the calling greenlet waits."""
        deadline = None if timeout is False or timeout is None or timeout < 0 \
            else time.monotonic() + timeout
        for event in self.events:
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            event.wait(remaining)
            if not event.is_set():
                raise NotDone()
        for peer in self.peers:
            remaining = -1 if deadline is None else max(0.0, deadline - time.monotonic())
            peer.wait(remaining)


_FINISHED_TRACKER = MessageTracker()


_Bytes = bytes  # (inside Frame, ``bytes`` is the property)


class _Owner:
    """The memory of a zero-copy frame, shared by the frame, its copies and every message
    sent from it (pyzmq: the zmq_msg_t's reference count). Its release is pyzmq's zmq_free_fn:
    the buffer leaves ``zmq.utils.garbage.gc.refs`` and the tracker, if any, is done."""

    __slots__ = ("key",)

    def __init__(self, key: int) -> None:
        self.key = key

    def __del__(self) -> None:
        try:
            _gc().release(self.key)
        except Exception:  # noqa: BLE001 - interpreter shutdown
            pass


def _gc() -> Any:
    from .utils.garbage import gc
    return gc


class _TrackedMessage(list):  # type: ignore[type-arg]
    """A message (list of frames) that keeps its zero-copy frames' owners alive while it is
    queued; a plain list everywhere else (slicing it gives plain lists)."""

    __slots__ = ("owners",)

    def __init__(self, frames: Iterable[bytes] = (), owners: Optional[list[_Owner]] = None):
        super().__init__(frames)
        self.owners: list[_Owner] = owners if owners is not None else []


class Frame:
    """One message part, with the ZMTP properties of the peer it came from.

    ``Frame(data=None, track=False, copy=None, copy_threshold=None)``: see the module
    docstring for copying, zero-copy and tracking."""

    __slots__ = ("_bytes", "_view", "_buffer_ref", "_owner", "more", "tracker",
                 "tracker_event", "_properties", "_routing_id", "_group", "__weakref__")

    def __init__(self, data: Any = None, track: bool = False, copy: Optional[bool] = None,
                 copy_threshold: Optional[int] = None, **kwargs: Any) -> None:
        self.more = False
        self._properties: Mapping[str, bytes] = {}
        #: draft addresses: SERVER/PEER routing id (0: none), RADIO/DISH group (None: none)
        self._routing_id = 0
        self._group: Optional[bytes] = None
        self._buffer_ref: Any = None
        self._owner: Optional[_Owner] = None
        self._view: Optional[memoryview] = None
        self.tracker_event: Optional[_DoneEvent] = None
        self.tracker: Optional[MessageTracker] = _FINISHED_TRACKER if track else None
        if isinstance(data, str):
            raise TypeError("Str objects not allowed. Only: bytes, buffer interfaces.")
        if data is None:
            self._bytes: Optional[bytes] = b""
            return
        if isinstance(data, Frame):
            data = data.buffer
        view = _flat_view(data)
        if copy is None:
            threshold = _copy_threshold() if copy_threshold is None else copy_threshold
            copy = bool(threshold) and view.nbytes < threshold
        if copy:
            self._bytes = bytes(view)  # a real copy (bytes(view) never returns data itself)
            return
        # zero-copy: share data's memory; it stays in gc.refs while anything uses it
        self._bytes = None
        self._view = view
        if track:
            self.tracker_event = _DoneEvent()
            self.tracker = MessageTracker(self.tracker_event)
        self._owner = _Owner(_gc().store(data, self.tracker_event))

    @property
    def bytes(self) -> bytes:
        """The content as ``bytes``: a copy made on first access, the same object after."""
        data = self._bytes
        if data is None:
            data = self._bytes = bytes(self._view)  # type: ignore[arg-type]
        return data

    @property
    def buffer(self) -> memoryview:
        """A memoryview of the content (no copy); the same object while you keep it."""
        ref = self._buffer_ref
        view = ref() if ref is not None else None
        if view is None:
            view = memoryview(self._contents())
            self._buffer_ref = weakref.ref(view)
        return view

    def _payload(self) -> "_Bytes":
        """What goes into a pipe: immutable bytes, never a view of a mutable buffer."""
        data = self._bytes
        if data is not None:
            return data
        view = self._view
        source = view.obj  # type: ignore[union-attr]
        if type(source) is bytes and len(source) == view.nbytes:  # type: ignore[union-attr]
            return source  # the user's own bytes object: immutable, no copy needed
        return self.bytes

    def __len__(self) -> int:
        data = self._bytes
        return len(data) if data is not None else self._view.nbytes  # type: ignore[union-attr]

    def __bytes__(self) -> "_Bytes":
        return self.bytes

    def __buffer__(self, flags: int) -> memoryview:  # Python 3.12+: memoryview(frame)
        return memoryview(self._contents())

    def _contents(self) -> "memoryview | _Bytes":
        """The shared view (zero-copy) or the bytes (copied or received)."""
        view = self._view
        if view is not None:
            return view
        return self._bytes  # type: ignore[return-value]

    def __release_buffer__(self, view: memoryview) -> None:
        view.release()

    def __copy__(self) -> "Frame":
        """A new Frame sharing this one's content and tracker (pyzmq's fast_copy)."""
        clone = Frame.__new__(type(self))
        clone.more = self.more
        clone._properties = self._properties
        clone._routing_id = self._routing_id
        clone._group = self._group
        clone._buffer_ref = None
        clone._bytes = self._bytes
        # a view of its own (like pyzmq's zmq_msg_copy: one more reference to the data)
        clone._view = None if self._view is None else _share(self._view)
        clone._owner = self._owner
        clone.tracker = self.tracker
        clone.tracker_event = self.tracker_event
        return clone

    fast_copy = __copy__

    @property
    def routing_id(self) -> int:
        """The SERVER/PEER routing id: who sent a received frame, whom to send this one to
        (pyzmq's draft API; ZMQError EINVAL when there is none, as pyzmq)."""
        return self.get("routing_id")  # type: ignore[no-any-return]

    @routing_id.setter
    def routing_id(self, routing_id: int) -> None:
        self.set("routing_id", routing_id)

    @property
    def group(self) -> str:
        """The RADIO/DISH group, as str ('' when there is none, as libzmq's zmq_msg_group)."""
        return self.get("group")  # type: ignore[no-any-return]

    @group.setter
    def group(self, group: "str | bytes") -> None:
        self.set("group", group)

    def get(self, option: Any) -> Any:
        """``MORE`` as an int, a message property (``'Socket-Type'``, ``'Peer-Address'``…),
        or the draft ``'routing_id'`` / ``'group'``."""
        if option == "routing_id":
            if not self._routing_id:
                raise ZMQError(EINVAL)
            return self._routing_id
        if option == "group":
            return (self._group or b"").decode("utf-8")
        if isinstance(option, str):
            value = self._properties.get(option)
            if value is None and option == "Identity":
                value = self._properties.get("Routing-Id")
            if value is None:
                raise ZMQError(EINVAL)
            return value.decode("utf-8", "replace")
        if option == MessageOption.MORE:
            return int(self.more)
        if option == MessageOption.SHARED:
            return 0
        raise ZMQError(EINVAL)

    __getitem__ = get

    def set(self, option: Any, value: Any) -> None:
        """Only the draft ``'routing_id'`` (a uint32 but 0) and ``'group'`` (str or bytes, at
        most 255 bytes) can be set; anything else is EINVAL, as libzmq's zmq_msg_set."""
        if option == "routing_id":
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError(f"routing_id must be an int, not {type(value).__name__}")
            if not 0 < value <= 0xFFFFFFFF:
                raise ZMQError(EINVAL)
            self._routing_id = value
        elif option == "group":
            group = value.encode("utf-8") if isinstance(value, str) else bytes(value)
            if len(group) > 255:  # ZMQ_GROUP_MAX_LENGTH
                raise ZMQError(EINVAL)
            self._group = group
        else:
            raise ZMQError(EINVAL)

    def __repr__(self) -> str:
        nbytes = len(self)
        suffix = ""
        if nbytes > 16:
            shown = bytes(self.buffer[:12])
            for unit, scale, floor in (("GB", 1e9, 1e9), ("MB", 1e6, 2**20), ("kB", 1e3, 1e3),
                                       ("B", 1, 0)):
                if nbytes >= floor:
                    suffix = f"...{nbytes // scale:.0f}{unit}"
                    break
        else:
            shown = self.bytes
        module = type(self).__module__
        if module == __name__:
            module = "zmq"
        return f"<{module}.{type(self).__name__}({shown!r}{suffix})>"


def _flat_view(data: Any) -> memoryview:
    """A 1-d unsigned-byte view of ``data`` (TypeError if it is no buffer, BufferError if it
    is not contiguous, as pyzmq)."""
    view = memoryview(data)
    if view.ndim == 1 and view.format == "B":
        if not view.c_contiguous:
            raise BufferError("memoryview: underlying buffer is not contiguous")
        return view
    if not view.c_contiguous:
        if not view.contiguous:
            raise BufferError("memoryview: underlying buffer is not contiguous")
        return memoryview(view.tobytes(order="A"))  # Fortran order: a copy, in C order
    return view.cast("B")


def _share(view: memoryview) -> memoryview:
    """Another view of what ``view`` shows, holding its own reference to the data (as a
    zmq_msg_copy holds one more reference in pyzmq) when ``view`` covers all of it."""
    source = view.obj
    try:
        whole = memoryview(source).nbytes == view.nbytes
    except TypeError:
        whole = False
    return _flat_view(source) if whole else memoryview(view)


def _received(data: bytes, more: bool, properties: Mapping[str, bytes]) -> Frame:
    """A Frame for received bytes (``recv(copy=False)``), without __init__'s checks."""
    frame = Frame.__new__(Frame)
    frame._bytes = data
    frame._view = None
    frame._buffer_ref = None
    frame._owner = None
    frame.more = more
    frame.tracker = None
    frame.tracker_event = None
    frame._properties = properties
    frame._routing_id = 0
    frame._group = None
    return frame


Message = Frame
