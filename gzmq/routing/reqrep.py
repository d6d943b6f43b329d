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
        self.read_activated = self._fq.activated
        self.write_activated = self._lb.activated

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
        msg: list[bytes] = self._fq.recv()
        self.last_pipe = self._fq.last_pipe
        return msg

    @property
    def readable(self) -> bool:
        return self._fq.readable

    @property
    def writable(self) -> bool:
        return self._lb.writable


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
        # REQ reads only the pipe its request went to and drops what the others send, so it
        # needs no fair queue: the pipes that received something since the last look (their
        # read activations) are the only ones that can hold stale replies
        self._holding: dict[Pipe, None] = {}
        self.read_activated = self._holding.setdefault
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
        holding = self._holding
        if holding:
            for pipe in holding:
                pipe.inbound.clear()
            holding.clear()
        self._reply_pipe = self._lb.send(envelope + msg)
        self._awaiting_reply = True

    def _drop_stale(self, keep: Optional[Pipe] = None) -> None:
        """Discard what every pipe but ``keep`` received (nobody asked them)."""
        holding = self._holding
        for pipe in list(holding):
            if pipe is not keep:
                pipe.inbound.clear()
                del holding[pipe]

    def _take_reply(self) -> list[bytes]:
        """The next well-formed reply from the request's pipe; malformed ones are dropped."""
        pipe = self._reply_pipe
        if pipe is None:
            raise Again()
        holding = self._holding
        if len(holding) > 1 or (holding and pipe not in holding):
            self._drop_stale(keep=pipe)  # replies from peers we did not ask
        take = pipe.inbound.take
        msg: Optional[list[bytes]]
        while True:
            msg = take()
            if msg is None:
                raise Again()
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
        signal = self.send_signal
        if signal is not None and signal.watched:
            signal.notify()  # writable again
        return reply if reply else [b""]

    def attach(self, pipe: Pipe) -> bool:
        self._lb.attach(pipe)
        if pipe.inbound.readable:
            self._holding[pipe] = None
        if self.options.probe_router:
            pipe.force_send([b""])
        return True

    def detach(self, pipe: Pipe) -> None:
        self._lb.detach(pipe)
        self._holding.pop(pipe, None)
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
        self.read_activated = self._fq.activated
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
            signal = self.send_signal
            if signal is not None and signal.watched:
                signal.notify()  # writable now: a reply is owed
            body = msg[index + 1:]
            return body if body else [b""]

    def send_nowait(self, msg: list[bytes]) -> None:
        if not self._sending_reply:
            raise ZMQError(EFSM)
        pipe = self._replying_to
        if pipe is None or pipe.detached:
            self.count_drop("peer-gone")
        elif not pipe.outbound.try_put(self._envelope + msg):
            self.count_refused(pipe)
        # refused (or no pipe): the requester is gone or not reading; libzmq drops the reply
        self._sending_reply = False
        self._replying_to = None
        self._envelope = []
        signal = self.recv_signal
        if signal is not None and signal.watched and self._fq.readable:
            signal.notify()  # a request that waited for this reply is readable now

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
        self.read_activated = self._fq.activated
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

    def raw_connections(self) -> bool:
        return bool(self.options.router_raw)  # ROUTER_RAW: STREAM's connections (deprecated)

    def close_peer(self, pipe: Pipe) -> None:
        """Raw connections: the application ends this peer (an empty data frame). What was
        queued for it is still written; nothing more is read from it, nor announced."""
        pipe.close_reading()
        pipe.close_writing()
        self.detach(pipe)

    def send_nowait(self, msg: list[bytes]) -> None:
        pipe = self._by_id.get(msg[0])
        if pipe is None:
            if self.options.router_mandatory:
                raise ZMQError(EHOSTUNREACH)
            self.count_drop("unroutable")
            return
        if len(msg) == 1:
            return  # a routing id and no body: nothing to send
        if not msg[1] and len(msg) == 2 and self.options.router_raw:
            self.close_peer(pipe)
            return
        if not pipe.outbound.try_put(msg[1:]):
            if self.options.router_mandatory:
                raise Again()
            self.count_refused(pipe)  # full (without MANDATORY the message is dropped)

    def recv_nowait(self) -> list[bytes]:
        msg: list[bytes] = self._fq.recv()
        pipe: Pipe = self._fq.last_pipe  # type: ignore[assignment]  # set by recv()
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
