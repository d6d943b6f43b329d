"""``monitored_queue``: the queue device that predates ``zmq_proxy``, with tagged monitoring.

Like ``proxy(in, out, mon)``, except that each copy on the monitor socket starts with a frame
saying which side the message came from (``in_prefix`` or ``out_prefix``), and that both sides
may be ROUTER sockets: then the first two frames (the sender's routing id, then the
addressee's) are swapped, so the message is routed to the addressee and the reply can find
its way back. The monitor copy carries the frames in the order they were forwarded.

It runs as one greenlet per direction and returns only by raising (ContextTerminated when the
context ends, ENOTSOCK when a socket is closed under it), as the libzmq device does.
"""

from __future__ import annotations

from typing import Any, Optional

import gevent

from ..constants import PUB, PUSH, ROUTER
from ..error import ZMQError

__all__ = ["monitored_queue"]

#: sockets that never receive: no shuttle starts from them
_SEND_ONLY = frozenset({int(PUB), int(PUSH)})


def _relay(source: Any, destination: Any, monitor: Any, prefix: bytes,
           swap_ids: bool) -> Optional[ZMQError]:
    """Forward ``source`` → ``destination`` (and a tagged copy to ``monitor``) until an error
    ends it; that error is returned, so the hub does not report an expected end as a crash."""
    try:
        while True:
            msg = source.recv_multipart()
            if swap_ids and len(msg) >= 2:
                msg[0], msg[1] = msg[1], msg[0]
            destination.send_multipart(msg)
            monitor.send_multipart([prefix] + msg)
    except ZMQError as ended:
        return ended


def monitored_queue(in_socket: Any, out_socket: Any, mon_socket: Any,
                    in_prefix: bytes = b"in", out_prefix: bytes = b"out") -> None:
    """Queue messages between ``in_socket`` and ``out_socket``, copying each to
    ``mon_socket`` after a ``in_prefix``/``out_prefix`` frame. Never returns normally."""
    for name, prefix in (("in_prefix", in_prefix), ("out_prefix", out_prefix)):
        if isinstance(prefix, str):
            raise TypeError(f"{name} must be bytes, not str")
    in_prefix, out_prefix = bytes(memoryview(in_prefix)), bytes(memoryview(out_prefix))
    swap_ids = in_socket.type == ROUTER and out_socket.type == ROUTER
    relays = []
    if int(in_socket.type) not in _SEND_ONLY:
        relays.append(gevent.spawn(_relay, in_socket, out_socket, mon_socket, in_prefix,
                                   swap_ids))
    if out_socket is not in_socket and int(out_socket.type) not in _SEND_ONLY:
        relays.append(gevent.spawn(_relay, out_socket, in_socket, mon_socket, out_prefix,
                                   swap_ids))
    try:
        if not relays:  # nothing can ever arrive: wait for the context to end, as libzmq
            from ..poll import Poller
            poller = Poller()
            poller.register(in_socket)
            while True:
                poller.poll()
        finished = gevent.wait(relays, count=1)
        for relay in finished:
            ended = relay.get()
            if ended is not None:
                raise ended
    finally:
        gevent.killall(relays, block=False)
