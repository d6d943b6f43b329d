"""The contract between the socket facade and a socket type's policy.

A ``Routing`` decides which pipe an outgoing message goes to and which pipe the next incoming
message comes from. It never blocks and never does I/O: ``send_nowait``/``recv_nowait`` raise
``Again`` when they cannot proceed and the facade's single blocking loop waits and retries.

libzmq's eight ``x*`` hooks become eight here too: ``attach``, ``detach``, ``hiccup``,
``send_nowait``, ``recv_nowait``, ``readable``/``writable``, and the two activations,
``read_activated(pipe)`` / ``write_activated(pipe)``: a pipe of this socket became readable /
writable (told by its queues through ``pipe.PipeActivation``, the socket side's notifier), so that
the load balancer and the fair queue look only at pipes that are ready, not at every peer.
"""

from __future__ import annotations

from typing import Any, Callable, ClassVar, Iterable, Mapping, Optional, Union

from ..constants import ENOTSUP, SocketOption
from ..error import ZMQError
from ..pipe import Pipe, PipeActivation, Signal, put_each

__all__ = ["Routing", "attach_pipe", "Addressed"]


class Addressed(list):  # type: ignore[type-arg]
    """A received message with the draft address libzmq puts on it: SERVER/PEER the sender's
    ``routing_id``, DISH the ``group``. The socket hands them out on ``Frame.routing_id`` /
    ``Frame.group``; carrying them on the message (not on the routing) keeps them right when
    several greenlets receive at once."""

    __slots__ = ("routing_id", "group")

    def __init__(self, frames: list[bytes], routing_id: Optional[int] = None,
                 group: Optional[bytes] = None) -> None:
        super().__init__(frames)
        self.routing_id = routing_id
        self.group = group


class Routing:
    #: the ZMTP Socket-Type name, e.g. "DEALER"
    socket_type = ""
    #: option defaults this type's libzmq constructor changes (gzmq.options has the rest)
    option_defaults: ClassVar[Mapping[SocketOption, Union[int, bytes]]] = {}
    #: ROUTER only learns whom a connect-side pipe leads to after the handshake, so it attaches
    #: such pipes late; every other type attaches at connect() so messages queue up early.
    attach_on_connect = True
    #: False where libzmq answers ENOTSUP (PULL/SUB cannot send, PUSH/PUB cannot receive)
    can_send = True
    can_recv = True
    #: the draft thread-safe types (CLIENT, SERVER, RADIO, SCATTER...) take one frame per
    #: message: a send with SNDMORE is EINVAL, and multipart messages received are dropped
    single_part = False
    #: whether SUBSCRIBE/CANCEL from a peer mean anything (PUB/XPUB only)
    accepts_subscriptions = False
    #: whether JOIN/LEAVE from a peer mean anything (RADIO only)
    accepts_groups = False
    #: the same message goes to many peers (PUB, XPUB, RADIO): their writers may share the
    #: encoding of a batch (``engine.writer.FanOutWriter``)
    fans_out = False
    #: a check of each message arriving over tcp/ipc, for the types whose libzmq *session*
    #: validates the wire format (REQ); a message failing it is a protocol error that closes
    #: the connection for good. None for every other type (no per-message cost).
    wire_check: Optional[Callable[[list[bytes]], bool]] = None
    #: the socket's receive and send signals (set by the socket), for the types whose own
    #: sends and receives change their readiness (REQ, REP): a greenlet polling for that
    #: readiness is woken by another greenlet's send or receive, not only by traffic
    recv_signal: Optional[Signal] = None
    send_signal: Optional[Signal] = None

    #: the pipe the last received message came from (for Frame.get() properties)
    last_pipe: Optional[Pipe] = None

    #: ``read_activated(pipe)``: ``pipe`` may have something to read now (it was empty);
    #: ``write_activated(pipe)``: ``pipe`` may have room again (it was full). Set (in
    #: ``__init__``) by the types that keep track of ready pipes, usually to a fair queue's or
    #: a load balancer's ``activated``; None where nothing needs telling (no call is made).
    read_activated: Optional[Callable[[Pipe], Any]] = None
    write_activated: Optional[Callable[[Pipe], Any]] = None

    def __init__(self, options: Any) -> None:
        self.options = options
        #: messages that libzmq's rules dropped, by reason (``Socket.stats()``): "hwm" (a
        #: PUB/XPUB/RADIO subscriber's or a ROUTER peer's pipe was full), "unroutable" (ROUTER
        #: without MANDATORY: no such peer), "peer-gone" (the peer left or stopped reading),
        #: "malformed" (DISH: not [group, body]). Counted on those slow paths only.
        self.drops: dict[str, int] = {}

    def count_drop(self, reason: str, count: int = 1) -> None:
        drops = self.drops
        drops[reason] = drops.get(reason, 0) + count

    def count_refused(self, pipe: Pipe) -> None:
        """``pipe`` refused a message (``try_put`` was False): a drop at its mark, or because
        its peer stopped reading."""
        self.count_drop("peer-gone" if pipe.outbound.read_closed else "hwm")

    def send_to(self, pipes: Iterable[Pipe], msg: Any) -> None:
        """Fan-out (PUB, XPUB, RADIO, XSUB upstream): a pipe that refuses ``msg`` misses it,
        counted as a drop."""
        for pipe in put_each(pipes, msg):
            self.count_refused(pipe)

    def raw_connections(self) -> bool:
        """Whether this socket's tcp/ipc connections speak no ZMTP (libzmq's ``raw_socket``:
        STREAM, and ROUTER with ROUTER_RAW): the transports then give each a ``RawEngine``."""
        return False

    def attach(self, pipe: Pipe) -> bool:
        """A peer is ready. Return False to refuse it (PAIR's second peer)."""
        raise NotImplementedError

    def detach(self, pipe: Pipe) -> None:
        """The peer went away (or the socket is closing)."""
        raise NotImplementedError

    def hiccup(self, pipe: Pipe) -> None:
        """``pipe`` was reconnected to a fresh peer: resend any state it must know."""


    def send_nowait(self, msg: list[bytes]) -> None:
        raise ZMQError(ENOTSUP)

    def recv_nowait(self) -> list[bytes]:
        raise ZMQError(ENOTSUP)

    def send_addressed_nowait(self, msg: list[bytes], routing_id: Optional[int],
                              group: Optional[bytes]) -> None:
        """``send_nowait`` of a message that carries a draft address (``send(routing_id=)``,
        ``send(group=)``, or a Frame with one). Types that have no use for it ignore it, as
        libzmq's do."""
        self.send_nowait(msg)

    def join(self, group: bytes) -> None:
        """DISH only (``socket.join``); ENOTSUP elsewhere, as libzmq."""
        raise ZMQError(ENOTSUP)

    def leave(self, group: bytes) -> None:
        raise ZMQError(ENOTSUP)

    @property
    def readable(self) -> bool:
        return False

    @property
    def writable(self) -> bool:
        return False


def attach_pipe(routing: Routing, pipe: Pipe, recv_wake: Optional[Signal] = None,
                send_wake: Optional[Signal] = None) -> bool:
    """Make ``pipe`` (the socket's end) one of ``routing``'s: its queues get the socket side's
    notifiers (``PipeActivation`` with the socket's recv and send signals), then the routing
    attaches it. Return False if the routing refused it; a refused pipe's news wakes the
    waiters only (the routing ignores activations of pipes it does not hold)."""
    recv_wake = Signal() if recv_wake is None else recv_wake
    send_wake = Signal() if send_wake is None else send_wake
    pipe.attach_notifiers(
        on_readable=PipeActivation(routing.read_activated, pipe, recv_wake),
        on_writable=PipeActivation(routing.write_activated, pipe, send_wake))
    return routing.attach(pipe)
