"""CLIENT, SERVER (RFC 47) and PEER (RFC 51): single-part messages, the server side addressed
by a uint32 routing id (libzmq ``client.cpp``, ``server.cpp``, ``peer.cpp``).

- CLIENT is DEALER without multipart: load-balanced sends, fair-queued receives; a multipart
  message from the wire is dropped whole.
- SERVER numbers each peer when it attaches: a uint32 counter from a random start, never 0.
  A received message carries its sender's id (``Frame.routing_id``); a send needs one:
  EHOSTUNREACH if it names no peer (or none is given), EAGAIN if that peer's pipe is full.
  The id lives on the pipe (``pipe.routing_id``, 4 bytes big-endian), so messages that a
  departed peer left queued still say who sent them.
- PEER is SERVER that can also connect, and learns the id of the peer it connected to
  (``Socket.connect_peer``).
"""

from __future__ import annotations

import random
from typing import Any, Callable, Optional

from ..constants import EHOSTUNREACH
from ..error import Again, ZMQError
from ..pipe import Pipe
from .base import Addressed, Routing
from .primitives import FairQueue
from .reqrep import Dealer

__all__ = ["Client", "Server", "Peer", "SinglePartInbox", "SinglePartReceiving"]


class SinglePartInbox:
    """Receives one-frame messages only: multipart ones are dropped whole (libzmq's
    thread-safe types skip every frame of them). ``readable`` finds the next one-frame
    message and holds it for ``recv``, so a poll never promises a message that is then
    dropped. ``take`` is the source (a fair queue's or a pipe's receive, ``Again`` when
    empty); ``last_pipe`` says where the message ``recv`` returned came from."""

    __slots__ = ("_take", "_source_pipe", "_held", "last_pipe")

    def __init__(self, take: Callable[[], Any], source_pipe: Callable[[], Optional[Pipe]]):
        self._take = take
        self._source_pipe = source_pipe
        self._held: Optional[tuple[list[bytes], Optional[Pipe]]] = None
        self.last_pipe: Optional[Pipe] = None

    def _next(self) -> tuple[list[bytes], Optional[Pipe]]:
        while True:
            msg: list[bytes] = self._take()
            if len(msg) == 1:
                return msg, self._source_pipe()

    def recv(self) -> list[bytes]:
        held = self._held
        if held is None:
            held = self._next()
        else:
            self._held = None
        msg, self.last_pipe = held
        return msg

    @property
    def readable(self) -> bool:
        if self._held is None:
            try:
                self._held = self._next()
            except Again:
                return False
        return True

    @classmethod
    def over(cls, fq: FairQueue) -> "SinglePartInbox":
        return cls(fq.recv, lambda: fq.last_pipe)


class SinglePartReceiving:
    """``recv_nowait`` / ``readable`` over ``self._inbox`` (a ``SinglePartInbox``), noting
    where each message came from in ``last_pipe``; for the types built on a fair queue or a
    pair that keep the rest of their parent's behaviour."""

    _inbox: SinglePartInbox
    last_pipe: Optional[Pipe]

    def recv_nowait(self) -> list[bytes]:
        msg = self._inbox.recv()
        self.last_pipe = self._inbox.last_pipe
        return msg

    @property
    def readable(self) -> bool:
        return self._inbox.readable


class Client(SinglePartReceiving, Dealer):
    """DEALER for single-part messages."""

    socket_type = "CLIENT"
    single_part = True

    def __init__(self, options: Any) -> None:
        super().__init__(options)
        self._inbox = SinglePartInbox.over(self._fq)


class Server(SinglePartReceiving, Routing):
    socket_type = "SERVER"
    single_part = True

    def __init__(self, options: Any) -> None:
        super().__init__(options)
        self._fq = FairQueue()
        self._inbox = SinglePartInbox.over(self._fq)
        self.read_activated = self._fq.activated
        self._by_id: dict[int, Pipe] = {}
        self._next_id = random.getrandbits(32)
        #: the id given to the pipe attached last (PEER's connect_peer returns it)
        self.last_attached_id = 0

    def _new_id(self) -> int:
        while True:  # never 0 (it means "no routing id"), never one still in use
            routing_id = self._next_id
            self._next_id = (routing_id + 1) & 0xFFFFFFFF
            if routing_id and routing_id not in self._by_id:
                return routing_id

    def attach(self, pipe: Pipe) -> bool:
        routing_id = self._new_id()
        pipe.routing_id = routing_id.to_bytes(4, "big")
        self._by_id[routing_id] = pipe
        pipe.detached = False
        self._fq.attach(pipe)
        self.last_attached_id = routing_id
        return True

    def detach(self, pipe: Pipe) -> None:
        routing_id = int.from_bytes(pipe.routing_id, "big")
        if self._by_id.get(routing_id) is pipe:
            del self._by_id[routing_id]
        self._fq.detach(pipe)

    def send_nowait(self, msg: list[bytes]) -> None:
        raise ZMQError(EHOSTUNREACH)  # no routing id: libzmq's id 0 names nobody

    def send_addressed_nowait(self, msg: list[bytes], routing_id: Optional[int],
                              group: Optional[bytes]) -> None:
        pipe = self._by_id.get(routing_id) if routing_id is not None else None
        if pipe is None:
            raise ZMQError(EHOSTUNREACH)
        if not pipe.outbound.try_put(msg):
            if pipe.outbound.read_closed:
                self.count_drop("peer-gone")
                return  # the peer is going: libzmq's write fails and the message is dropped
            raise Again()

    def recv_nowait(self) -> list[bytes]:
        msg = super().recv_nowait()
        pipe: Pipe = self.last_pipe  # type: ignore[assignment]  # set by recv_nowait()
        return Addressed(msg, routing_id=int.from_bytes(pipe.routing_id, "big"))

    @property
    def writable(self) -> bool:
        return True  # libzmq: whether a send can go depends on its routing id


class Peer(Server):
    socket_type = "PEER"
