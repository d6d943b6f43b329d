"""proxy(), proxy_steerable() and device(): cooperative, one shuttle greenlet per direction.

pyzmq's proxy is a blocking C loop, which is why zmq.green's freezes the hub. Here each
direction is a greenlet doing ``recv_multipart`` → (capture) → ``send_multipart``; gzmq sockets
may be used by several greenlets at once, so the two shuttles share the sockets safely. Like
libzmq, proxy() only returns by raising: ContextTerminated when the context ends (or
TERMINATE on the steerable control socket, which returns normally).
"""

from __future__ import annotations

import sys
from typing import Any, Optional

import gevent
from gevent.event import Event

from .constants import EINVAL
from .error import ZMQError
from .io_thread import foreign_io_thread

__all__ = ["proxy", "proxy_steerable", "device"]


class _Counters:
    """What STATISTICS reports for one direction: messages and bytes in, then out."""

    def __init__(self) -> None:
        self.messages_in = self.bytes_in = self.messages_out = self.bytes_out = 0


def _shuttle(source: Any, destination: Any, capture: Optional[Any], running: Event,
             counters: _Counters) -> Optional[BaseException]:
    """Move messages until something ends it; return (not raise) what ended it, so the hub
    does not report an expected ContextTerminated as a crashed greenlet."""
    try:
        _shuttle_forever(source, destination, capture, running, counters)
    except ZMQError as ended:
        return ended
    return None


def _shuttle_forever(source: Any, destination: Any, capture: Optional[Any], running: Event,
                     counters: _Counters) -> None:
    while True:
        msg = source.recv_multipart()
        size = sum(len(part) for part in msg)
        counters.messages_in += 1
        counters.bytes_in += size
        running.wait()  # paused by a steerable proxy
        if capture is not None:
            capture.send_multipart(msg)
        destination.send_multipart(msg)
        counters.messages_out += 1
        counters.bytes_out += size


def proxy_steerable(frontend: Any, backend: Any, capture: Optional[Any] = None,
                    control: Optional[Any] = None) -> None:
    """Shuttle messages both ways until the context ends or the control socket says TERMINATE."""
    io = foreign_io_thread((frontend, backend))
    if io is not None:  # threaded sockets: shuttle in their I/O thread
        return io.call(proxy_steerable, frontend, backend, capture, control)  # type: ignore[no-any-return]
    running = Event()
    running.set()
    forward, backward = _Counters(), _Counters()
    shuttles = []
    # a direction whose source cannot receive (PUSH, PUB behind a streamer/forwarder) simply
    # never carries anything, as in libzmq, where such a socket is never readable
    if _can_receive(frontend):
        shuttles.append(gevent.spawn(_shuttle, frontend, backend, capture, running, forward))
    if backend is not frontend and _can_receive(backend):
        shuttles.append(gevent.spawn(_shuttle, backend, frontend, capture, running, backward))
    try:
        if control is not None:
            _obey(control, running, shuttles, forward, backward)
            return
        finished = gevent.wait(shuttles, count=1) if shuttles else []
        _raise_ending(finished)
    finally:
        gevent.killall(shuttles, block=False)


def _obey(control: Any, running: Event, shuttles: list[gevent.Greenlet], forward: _Counters,
          backward: _Counters) -> None:
    while True:
        waiter = gevent.spawn(control.recv)
        finished = gevent.wait(shuttles + [waiter], count=1)
        if waiter not in finished:
            waiter.kill()
            _raise_ending(finished)
            continue
        command = waiter.get()
        if command == b"PAUSE":
            running.clear()
        elif command == b"RESUME":
            running.set()
        elif command == b"TERMINATE":
            return
        elif command == b"STATISTICS":
            # libzmq's order: frontend in (msgs, bytes), frontend out, backend in, backend out
            values = [forward.messages_in, forward.bytes_in, backward.messages_out,
                      backward.bytes_out, backward.messages_in, backward.bytes_in,
                      forward.messages_out, forward.bytes_out]
            control.send_multipart([v.to_bytes(8, sys.byteorder) for v in values])


def _can_receive(socket: Any) -> bool:
    routing = getattr(socket, "_routing", None)
    return routing is None or type(routing).can_recv


def _raise_ending(finished: Any) -> None:
    """Re-raise what ended a shuttle (ContextTerminated, ENOTSOCK...)."""
    for shuttle in finished:
        ended = shuttle.get()
        if ended is not None:
            raise ended


def proxy(frontend: Any, backend: Any, capture: Optional[Any] = None) -> None:
    """Forward messages between ``frontend`` and ``backend`` (and copy them to ``capture``)."""
    proxy_steerable(frontend, backend, capture)


def device(device_type: int, frontend: Any, backend: Any) -> None:
    """Deprecated libzmq device API: the type is ignored, as in libzmq 3+."""
    if device_type not in (1, 2, 3):
        raise ZMQError(EINVAL)
    proxy(frontend, backend)
