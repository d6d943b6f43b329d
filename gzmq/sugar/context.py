"""``zmq.sugar.context``: pyzmq's module of ``Context`` (gzmq's is ``gzmq.context``)."""

from __future__ import annotations

from ..context import Context

SyncContext = Context

__all__ = ["Context", "SyncContext"]
