"""``zmq.sugar.frame``: pyzmq's module of ``Frame`` (gzmq's is ``gzmq.frame``)."""

from __future__ import annotations

from ..frame import Frame, Message

__all__ = ["Frame", "Message"]
