"""proxy(), proxy_steerable() and device(): cooperative, one shuttle greenlet per direction.

pyzmq's proxy is a blocking C loop, which is why zmq.green's freezes the hub. Here each
direction is a greenlet doing ``recv_multipart`` → (capture) → ``send_multipart``; gzmq sockets
may be used by several greenlets at once, so the two shuttles share the sockets safely. Like
libzmq, proxy() only returns by raising: ContextTerminated when the context ends (or
TERMINATE on the steerable control socket, which returns normally).
"""

from __future__ import annotations

from typing import Any, Optional

import gevent
from gevent.event import Event

from .constants import EINVAL
from .error import ZMQError

__all__ = ["proxy", "proxy_steerable", "device"]


def _shuttle(source: Any, destination: Any, capture: Optional[Any], running: Event) -> None:
    while True:
        msg = source.recv_multipart()
        running.wait()  # paused by a steerable proxy
        if capture is not None:
            capture.send_multipart(msg)
        destination.send_multipart(msg)


def proxy_steerable(frontend: Any, backend: Any, capture: Optional[Any] = None,
                    control: Optional[Any] = None) -> None:
    """Shuttle messages both ways until the context ends or the control socket says TERMINATE."""
    running = Event()
    running.set()
    shuttles = [gevent.spawn(_shuttle, frontend, backend, capture, running)]
    if backend is not frontend:
        shuttles.append(gevent.spawn(_shuttle, backend, frontend, capture, running))
    try:
        if control is not None:
            _obey(control, running, shuttles)
            return
        finished = gevent.wait(shuttles, count=1)
        for shuttle in finished:
            shuttle.get()  # re-raise what ended it (ContextTerminated, ENOTSOCK, ...)
    finally:
        gevent.killall(shuttles, block=False)


def _obey(control: Any, running: Event, shuttles: list[gevent.Greenlet]) -> None:
    while True:
        waiter = gevent.spawn(control.recv)
        finished = gevent.wait(shuttles + [waiter], count=1)
        if waiter not in finished:
            waiter.kill()
            for shuttle in finished:
                shuttle.get()
            continue
        command = waiter.get()
        if command == b"PAUSE":
            running.clear()
        elif command == b"RESUME":
            running.set()
        elif command == b"TERMINATE":
            return
        elif command == b"STATISTICS":
            control.send_multipart([(0).to_bytes(8, "little")] * 8)


def proxy(frontend: Any, backend: Any, capture: Optional[Any] = None) -> None:
    """Forward messages between ``frontend`` and ``backend`` (and copy them to ``capture``)."""
    proxy_steerable(frontend, backend, capture)


def device(device_type: int, frontend: Any, backend: Any) -> None:
    """Deprecated libzmq device API: the type is ignored, as in libzmq 3+."""
    if device_type not in (1, 2, 3):
        raise ZMQError(EINVAL)
    proxy(frontend, backend)
