"""Parse monitor messages, as pyzmq's ``zmq.utils.monitor`` does."""

from __future__ import annotations

import struct
from typing import Any

from ..constants import Event

__all__ = ["parse_monitor_message", "recv_monitor_message"]


def parse_monitor_message(msg: list[bytes]) -> dict[str, Any]:
    """``{'event': Event, 'value': int, 'endpoint': bytes}`` from a two-frame event."""
    if len(msg) != 2 or len(msg[0]) != 6:
        raise RuntimeError(f"Invalid event message format: {msg}")
    event_id, value = struct.unpack("=hi", msg[0])
    try:
        event: Any = Event(event_id & 0xFFFF)
    except ValueError:
        event = event_id
    return {"event": event, "value": int(value), "endpoint": msg[1]}


def recv_monitor_message(socket: Any, flags: int = 0) -> dict[str, Any]:
    return parse_monitor_message(socket.recv_multipart(flags))
