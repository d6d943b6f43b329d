"""Parse monitor messages, as pyzmq's ``zmq.utils.monitor`` does (the format: gzmq.monitor)."""

from __future__ import annotations

from typing import Any

from ..monitor import unpack_event

__all__ = ["parse_monitor_message", "recv_monitor_message"]


def parse_monitor_message(msg: list[bytes]) -> dict[str, Any]:
    """``{'event': Event, 'value': int, 'endpoint': bytes}`` from a two-frame event."""
    try:
        event, value, endpoint = unpack_event(msg)
    except ValueError:
        raise RuntimeError(f"Invalid event message format: {msg}") from None
    return {"event": event, "value": value, "endpoint": endpoint}


def recv_monitor_message(socket: Any, flags: int = 0) -> dict[str, Any]:
    return parse_monitor_message(socket.recv_multipart(flags))
