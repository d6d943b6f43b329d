"""``zmq.sugar.tracker``: pyzmq's module of ``MessageTracker`` (gzmq's is ``gzmq.frame``)."""

from __future__ import annotations

from ..frame import _FINISHED_TRACKER, MessageTracker

__all__ = ["MessageTracker", "_FINISHED_TRACKER"]
