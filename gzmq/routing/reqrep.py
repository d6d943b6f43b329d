"""REQ, REP, DEALER, ROUTER (RFC 28), with libzmq's envelopes and state machines.

- REQ prepends an empty delimiter (after a 4-byte request id with REQ_CORRELATE), load-balances
  the request, and accepts a reply only from the pipe the request went to; anything else is
  discarded. Strict send/recv alternation raises EFSM unless REQ_RELAXED.
- REP saves everything up to and including the first empty frame as the reply envelope; a
  request without a delimiter is dropped whole. recv-while-replying and send-before-recv: EFSM.
- ROUTER prefixes each received message with its pipe's routing id (the peer's Identity, else
  ``\\x00`` + a 4-byte big-endian counter from a random start) and routes sends by that frame.
  Unroutable messages vanish, or raise EHOSTUNREACH with ROUTER_MANDATORY (EAGAIN when full).
"""

from __future__ import annotations

import random
import struct
import sys
from typing import Any, Optional

from ..constants import EFSM, EHOSTUNREACH
from ..error import Again, ZMQError
from ..pipe import Pipe
from .base import Routing
from .primitives import FairQueue, LoadBalancer

__all__ = ["Req", "Rep", "Dealer", "Router"]


class Dealer(Routing):
    """Load-balanced sends, fair-queued receives, no envelope."""

    socket_type = "DEALER"

    def __init__(self, options: Any) -> None:
        super().__init__(options)
        self._lb = LoadBalancer()
        self._fq = FairQueue()

    def attach(self, pipe: Pipe) -> bool:
        self._lb.attach(pipe)
        self._fq.attach(pipe)
        if self.options.probe_router:
            pipe.force_send([b""])
        return True

    def detach(self, pipe: Pipe) -> None:
        self._lb.detach(pipe)
        self._fq.detach(pipe)

    def send_nowait(self, msg: list[bytes]) -> None:
        self._lb.send(msg)

    def recv_nowait(self) -> list[bytes]:
        msg = self._fq.recv()
        self.last_pipe = self._fq.last_pipe
        return msg

    @property
    def readable(self) -> bool:
        return self._fq.readable

    @property
    def writable(self) -> bool:
        return self._lb.writable


def _discard_inbound(pipe: Pipe) -> None:
    """Drop what ``pipe`` holds for us; its writer may have been waiting for room."""
    if pipe.inbound.items:
        pipe.inbound.items.clear()
        pipe.inbound.writer.notify()


def _is_reply_shaped(msg: list[bytes]) -> bool:
    """libzmq's req_session_t: [4-byte id,] empty delimiter, then at least one body frame."""
    if len(msg) >= 2 and msg[0] == b"":
        return True
    return len(msg) >= 3 and len(msg[0]) == 4 and msg[1] == b""


class Req(Dealer):
    socket_type = "REQ"
    wire_check = staticmethod(_is_reply_shaped)

    def __init__(self, options: Any) -> None:
        super().__init__(options)
        self._awaiting_reply = False
        self._reply_pipe: Optional[Pipe] = None
        # libzmq copies the id in host byte order (verified on the wire)
        self._request_id = random.getrandbits(32)
        self._id_format = "<I" if sys.byteorder == "little" else ">I"

    def send_nowait(self, msg: list[bytes]) -> None:
        if self._awaiting_reply and not self.options.req_relaxed:
            raise ZMQError(EFSM)
        envelope = [b""]
        if self.options.req_correlate:
            self._request_id = (self._request_id + 1) & 0xFFFFFFFF
            envelope = [struct.pack(self._id_format, self._request_id), b""]
        # a new request makes any late reply to an older one meaningless
        for pipe in self._fq.pipes:
            _discard_inbound(pipe)
        self._reply_pipe = self._lb.send(envelope + msg)
        self._awaiting_reply = True

    def _take_reply(self) -> list[bytes]:
        """The next well-formed reply from the request's pipe; malformed ones are dropped."""
        pipe = self._reply_pipe
        if pipe is None:
            raise Again()
        for other in self._fq.pipes:
            if other is not pipe and other.inbound.items:
                _discard_inbound(other)  # replies from peers we did not ask
        while True:
            msg = pipe.recv_nowait()
            if self.options.req_correlate:
                if len(msg) >= 2 and msg[0] == struct.pack(self._id_format, self._request_id) \
                        and msg[1] == b"":
                    return msg[2:]
            elif len(msg) >= 1 and msg[0] == b"":
                return msg[1:]

    def recv_nowait(self) -> list[bytes]:
        if not self._awaiting_reply:
            raise ZMQError(EFSM)
        reply = self._take_reply()
        self.last_pipe = self._reply_pipe
        self._awaiting_reply = False
        self._reply_pipe = None
        return reply if reply else [b""]

    def detach(self, pipe: Pipe) -> None:
        super().detach(pipe)
        if pipe is self._reply_pipe and self.options.req_relaxed:
            self._reply_pipe = None

    @property
    def readable(self) -> bool:
        pipe = self._reply_pipe
        return self._awaiting_reply and pipe is not None and pipe.readable

    @property
    def writable(self) -> bool:
        if self._awaiting_reply and not self.options.req_relaxed:
            return False
        return self._lb.writable


class Rep(Routing):
    socket_type = "REP"

    def __init__(self, options: Any) -> None:
        super().__init__(options)
        self._fq = FairQueue()
        self._replying_to: Optional[Pipe] = None
        self._envelope: list[bytes] = []
        self._sending_reply = False

    def attach(self, pipe: Pipe) -> bool:
        self._fq.attach(pipe)
        return True

    def detach(self, pipe: Pipe) -> None:
        self._fq.detach(pipe)

    def recv_nowait(self) -> list[bytes]:
        if self._sending_reply:
            raise ZMQError(EFSM)
        while True:
            msg = self._fq.recv()
            pipe = self._fq.last_pipe
            for index, frame in enumerate(msg):
                if not frame:
                    break
            else:
                continue  # no delimiter: not a request, drop it whole
            self._envelope = msg[: index + 1]
            self._replying_to = self.last_pipe = pipe
            self._sending_reply = True
            body = msg[index + 1:]
            return body if body else [b""]

    def send_nowait(self, msg: list[bytes]) -> None:
        if not self._sending_reply:
            raise ZMQError(EFSM)
        pipe = self._replying_to
        if pipe is not None and not pipe.detached and pipe.writable:
            pipe.send_nowait(self._envelope + msg)
        # else: the requester is gone or not reading; libzmq drops the reply
        self._sending_reply = False
        self._replying_to = None
        self._envelope = []

    @property
    def readable(self) -> bool:
        return not self._sending_reply and self._fq.readable

    @property
    def writable(self) -> bool:
        return self._sending_reply


class Router(Routing):
    socket_type = "ROUTER"
    attach_on_connect = False

    def __init__(self, options: Any) -> None:
        super().__init__(options)
        self._fq = FairQueue()
        self._by_id: dict[bytes, Pipe] = {}
        self._next_generated_id = random.getrandbits(32)

    def _generate_id(self) -> bytes:
        self._next_generated_id = (self._next_generated_id + 1) & 0xFFFFFFFF
        return b"\x00" + struct.pack(">I", self._next_generated_id)

    def attach(self, pipe: Pipe) -> bool:
        routing_id = pipe.routing_id
        if not routing_id:
            routing_id = pipe.routing_id = self._generate_id()
        holder = self._by_id.get(routing_id)
        if holder is not None and holder is not pipe and not holder.detached:
            if not self.options.router_handover:
                return False  # libzmq ignores the newcomer
            self.detach(holder)
        self._by_id[routing_id] = pipe
        pipe.detached = False
        self._fq.attach(pipe)
        if self.options.probe_router:
            pipe.force_send([b""])
        return True

    def detach(self, pipe: Pipe) -> None:
        if self._by_id.get(pipe.routing_id) is pipe:
            del self._by_id[pipe.routing_id]
        self._fq.detach(pipe)

    def send_nowait(self, msg: list[bytes]) -> None:
        pipe = self._by_id.get(msg[0])
        if pipe is None:
            if self.options.router_mandatory:
                raise ZMQError(EHOSTUNREACH)
            return
        if len(msg) == 1:
            return  # a routing id and no body: nothing to send
        if not pipe.writable:
            if self.options.router_mandatory:
                raise Again()
            return
        pipe.send_nowait(msg[1:])

    def recv_nowait(self) -> list[bytes]:
        msg = self._fq.recv()
        pipe = self._fq.last_pipe
        self.last_pipe = pipe
        return [pipe.routing_id] + msg

    @property
    def readable(self) -> bool:
        return self._fq.readable

    @property
    def writable(self) -> bool:
        if self.options.router_mandatory:
            return any(pipe.writable for pipe in self._by_id.values())
        return True
