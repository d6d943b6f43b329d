"""STREAM: raw tcp/ipc peers addressed by routing id (libzmq's ``stream.cpp``).

A STREAM socket's connections speak no ZMTP (``engine/raw.py``); what each peer sends arrives
as ``[routing id, bytes]``, one message per read, and ``[routing id, bytes]`` writes the bytes
to that peer as they are. Like ROUTER, whose routing it reuses:

- Each peer gets a 5-byte routing id (``\\x00`` + a counter), or CONNECT_ROUTING_ID for the
  next connect(); a peer that connects or goes is announced as ``[routing id, b""]``
  (STREAM_NOTIFY, on by default).
- Sending ``[routing id, b""]`` closes that peer once what was queued for it is written; no
  notification follows, and a connect()ed peer is not redialled.
- An unknown routing id is EHOSTUNREACH, a peer at SNDHWM is EAGAIN (libzmq's STREAM has no
  ROUTER_MANDATORY: it always behaves as if it were set). A message carries pairs: libzmq
  reads ``[id, data, id, data...]`` frame by frame as id, data, id...; a lone id frame is
  ignored here (libzmq would take the next message's first frame as its data).
"""

from __future__ import annotations

from ..constants import EHOSTUNREACH
from ..error import Again, ZMQError
from .reqrep import Router

__all__ = ["Stream"]


class Stream(Router):
    socket_type = "STREAM"

    def raw_connections(self) -> bool:
        return True

    def send_nowait(self, msg: list[bytes]) -> None:
        by_id = self._by_id
        for index in range(0, len(msg) - 1, 2):
            pipe = by_id.get(msg[index])
            if pipe is None:
                if index == 0:
                    raise ZMQError(EHOSTUNREACH)
                continue  # (libzmq would have raised on this frame, after sending the others)
            data = msg[index + 1]
            if not data:
                self.close_peer(pipe)
            elif not pipe.outbound.try_put([data]) and index == 0:
                raise Again()

    @property
    def writable(self) -> bool:
        return True  # libzmq: whether a send succeeds depends on the peer it names
