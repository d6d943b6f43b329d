"""Socket monitor events: libzmq's v1 wire format, and the monitor a socket publishes them on.

This module owns the monitor message format; ``gzmq.utils.monitor`` (pyzmq's
``recv_monitor_message``) parses with ``unpack_event`` from here. A message has two frames
(spec/extras.md §1.2):

    frame 1  6 bytes   event id as uint16, then the value as uint32, native byte order, packed
    frame 2  n bytes   the endpoint, no NUL (empty for MONITOR_STOPPED)

pyzmq reads the value as a *signed* int32 (``struct.unpack("=hi")``), so ``unpack_event`` does
too: -1 stays -1 through a round trip.

``socket.monitor("inproc://name", events)`` binds a PAIR at that address; every event the
socket emits is sent there without blocking: if nobody reads, events are dropped at HWM.
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING, Any, Optional, Sequence, Union

from .constants import EPROTONOSUPPORT, NOBLOCK, PAIR, Event
from .error import ZMQError

if TYPE_CHECKING:
    from .core import SocketCore

__all__ = ["start_monitor", "stop_monitor", "emit", "get_monitor_socket", "pack_event",
           "unpack_event"]

#: frame 1: uint16 event id + uint32 value, native byte order, no padding (libzmq v1)
_HEADER = struct.Struct("=HI")


def pack_event(event: int, value: int, endpoint: Union[str, bytes]) -> list[bytes]:
    """The two frames of one monitor message. ``value`` is taken modulo 2**32, so a negative
    errno-style value and an unsigned 32-bit one both fit, as libzmq's uint32_t does."""
    if isinstance(endpoint, str):
        endpoint = endpoint.encode()
    return [_HEADER.pack(event, value & 0xFFFFFFFF), endpoint]


def unpack_event(msg: Sequence[bytes]) -> tuple[Union[Event, int], int, bytes]:
    """``(event, value, endpoint)`` from the frames of one monitor message.

    ``event`` is an ``Event`` member where there is one (else the id, signed 16-bit as pyzmq
    reads it); ``value`` is signed 32-bit, as pyzmq reads it. ``ValueError`` for anything
    that is not two frames with a 6-byte first one.
    """
    if len(msg) != 2 or len(msg[0]) != _HEADER.size:
        raise ValueError(f"Invalid event message format: {msg!r}")
    event_id, value = _HEADER.unpack(msg[0])
    try:
        event: Union[Event, int] = Event(event_id)
    except ValueError:
        event = event_id - 0x10000 if event_id >= 0x8000 else event_id
    if value >= 2**31:
        value -= 2**32
    return event, value, msg[1]


def start_monitor(core: "SocketCore", addr: Optional[Union[str, bytes]], events: int) -> None:
    if core.monitor is not None:
        stop_monitor(core)
    if addr is None:
        return
    if isinstance(addr, bytes):
        addr = addr.decode()
    if not addr.startswith("inproc://"):
        raise ZMQError(EPROTONOSUPPORT)
    monitor = core.context.socket(PAIR)
    monitor.linger = 0
    try:
        monitor.bind(addr)
    except ZMQError:
        monitor.close()
        raise
    core.monitor = monitor
    core.monitor_events = events or 0xFFFF


def stop_monitor(core: "SocketCore") -> None:
    monitor = core.monitor
    if monitor is None:
        return
    if core.monitor_events & Event.MONITOR_STOPPED:
        try:
            monitor.send_multipart(pack_event(Event.MONITOR_STOPPED, 0, b""), NOBLOCK)
        except ZMQError:
            pass
    core.monitor = None
    monitor.close()


def emit(core: "SocketCore", event: Event, value: int, endpoint: str) -> None:
    """Send ``event`` to the socket's monitor if it has one that wants it; never raises
    ZMQError (a monitor nobody reads, or one closed under us, must not hold the socket up)."""
    monitor = core.monitor
    if monitor is None or monitor.closed or not core.monitor_events & event:
        return
    try:
        monitor.send_multipart(pack_event(event, value, endpoint), NOBLOCK)
    except ZMQError:
        pass


def get_monitor_socket(socket: Any, events: Optional[int] = None,
                       addr: Optional[str] = None) -> Any:
    """pyzmq's helper: start monitoring and return a connected PAIR to read events from."""
    cached = getattr(socket, "_monitor_reader", None)
    if cached is not None and not cached.closed and socket._core.monitor is not None:
        return cached
    if addr is None:
        addr = f"inproc://monitor.s-{id(socket)}"
    socket.monitor(addr, events if events is not None else 0xFFFF)
    reader = socket.context.socket(PAIR)
    reader.connect(addr)
    socket._monitor_reader = reader
    return reader
