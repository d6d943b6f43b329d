"""``zmq.utils.garbage``: the buffers gzmq is still using for zero-copy frames.

pyzmq keeps, in ``gc.refs``, every Python object whose memory libzmq holds for a zero-copy
send, and a thread that drops the entry (and sets the tracker's event) when libzmq's free
callback fires. gzmq has no C buffers and no such thread: a zero-copy ``Frame`` registers its
data here, and the entry is released the moment the frame's memory owner is freed (the frame,
its copies and every message sent from it are gone; see ``gzmq.frame``). So ``gc.refs`` means
what it means in pyzmq, and code (or tests) that waits for it to empty works unchanged.
"""

from __future__ import annotations

import itertools
import os
from typing import Any, NamedTuple, Optional

__all__ = ["GarbageCollector", "gc", "gcref"]


class gcref(NamedTuple):
    obj: object
    event: Optional[Any]  #: set when the buffer is released (a tracked frame's event)


class GarbageCollector:
    """pyzmq's GarbageCollector, without a thread: ``store`` and ``release`` are direct."""

    def __init__(self, context: Any = None) -> None:
        self.refs: dict[int, gcref] = {}
        self.pid: Optional[int] = os.getpid()
        self._context = context
        self._keys = itertools.count(1)

    def store(self, obj: object, event: Optional[Any] = None) -> int:
        """Register ``obj`` as in use; returns the key ``release`` takes."""
        key = next(self._keys)
        self.refs[key] = gcref(obj, event)
        return key

    def release(self, key: int) -> None:
        """``obj`` is no longer used: forget it and set its event."""
        entry = self.refs.pop(key, None)
        if entry is not None and entry.event is not None:
            entry.event.set()

    # pyzmq's thread management, for code that calls it: there is no thread to manage
    def is_alive(self) -> bool:
        return True

    def start(self) -> None:
        self.pid = os.getpid()

    def stop(self) -> None:
        pass

    @property
    def context(self) -> Any:
        return self._context

    @context.setter
    def context(self, ctx: Any) -> None:
        self._context = ctx


#: the process-wide collector (pyzmq: ``from zmq.utils.garbage import gc``)
gc = GarbageCollector()
