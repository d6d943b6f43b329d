"""``zmq.sugar.socket``: pyzmq's module of ``Socket`` (gzmq's is ``gzmq.socket``)."""

from __future__ import annotations

from ..socket import Socket
from ..socket import _EndpointContext as _SocketContext  # noqa: F401  (pyzmq's name)

SyncSocket = Socket

__all__ = ["Socket", "SyncSocket"]
