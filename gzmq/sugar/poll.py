"""``zmq.sugar.poll``: pyzmq's module of ``Poller`` and ``select`` (gzmq's is ``gzmq.poll``)."""

from __future__ import annotations

from ..poll import Poller, select

__all__ = ["Poller", "select"]
