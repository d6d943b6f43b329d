"""Socket monitor events in libzmq's v1 wire format.

``socket.monitor("inproc://name", events)`` binds a PAIR at that address; every event the
socket emits is a two-frame message: 6 bytes (uint16 event id, int32 value, native byte order)
then the endpoint string. Sending never blocks: if nobody reads, events are dropped at HWM.
"""

from __future__ import annotations

import struct
from typing import Any, Optional, Union

from .constants import EPROTONOSUPPORT, NOBLOCK, PAIR, Event
from .error import Again, ZMQError

__all__ = ["start_monitor", "stop_monitor", "emit", "get_monitor_socket"]


def _pack(event: int, value: int) -> bytes:
    if value >= 2**31:
        value -= 2**32
    return struct.pack("=Hi", event, value)


def start_monitor(socket: Any, addr: Optional[Union[str, bytes]], events: int) -> None:
    if socket._monitor is not None:
        stop_monitor(socket)
    if addr is None:
        return
    if isinstance(addr, bytes):
        addr = addr.decode()
    if not addr.startswith("inproc://"):
        raise ZMQError(EPROTONOSUPPORT)
    monitor = socket.context.socket(PAIR)
    monitor.linger = 0
    try:
        monitor.bind(addr)
    except ZMQError:
        monitor.close()
        raise
    socket._monitor = monitor
    socket._monitor_events = events or 0xFFFF


def stop_monitor(socket: Any) -> None:
    monitor = socket._monitor
    if monitor is None:
        return
    if socket._monitor_events & Event.MONITOR_STOPPED:
        try:
            monitor.send_multipart([_pack(Event.MONITOR_STOPPED, 0), b""], NOBLOCK)
        except (Again, ZMQError):
            pass
    socket._monitor = None
    monitor.close()


def emit(socket: Any, event_name: str, value: int, endpoint: str) -> None:
    monitor = socket._monitor
    event = Event[event_name]
    if monitor is None or monitor.closed or not socket._monitor_events & event:
        return
    try:
        monitor.send_multipart([_pack(event, value), endpoint.encode()], NOBLOCK)
    except Again:
        pass  # a monitor nobody reads must not hold the socket up


def get_monitor_socket(socket: Any, events: Optional[int] = None,
                       addr: Optional[str] = None) -> Any:
    """pyzmq's helper: start monitoring and return a connected PAIR to read events from."""
    cached = getattr(socket, "_monitor_reader", None)
    if cached is not None and not cached.closed and socket._monitor is not None:
        return cached
    if addr is None:
        addr = f"inproc://monitor.s-{id(socket)}"
    socket.monitor(addr, events if events is not None else 0xFFFF)
    reader = socket.context.socket(PAIR)
    reader.connect(addr)
    socket._monitor_reader = reader
    return reader
