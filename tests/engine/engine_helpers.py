"""Fakes for testing the engine's parts without a socket, an Engine or a network.

- ``ready_pair``: two ``zmtp.Connection`` objects that did their NULL (or CURVE) handshake in
  memory.
- ``FakeStream``: the writer's stream. Its non-blocking ``send`` takes at most ``accept``
  bytes (None: everything, 0: EAGAIN) and its ``sendall`` records the objects it was given, so
  a test sees partial sends, which greenlet wrote what, and whether a large body was joined.
- ``CappedStream``: the receiver's stream over a real socket, reading at most ``cap`` bytes
  per ``recv_into`` (byte-by-byte input with ``cap=1``).
- ``FakeEngine``: what ``ConnectionReader`` and ``run_handshake`` need from an Engine.
- ``messages_in``: the messages a byte string carries, decoded by a fresh peer Connection.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, Optional

import gevent
import gevent.event
import greenlet
from nacl.bindings import crypto_box_keypair

from gzmq import zmtp
from gzmq.routing.base import Routing


def ready_pair(ours: str = "DEALER", theirs: str = "ROUTER", bare_theirs: bool = False,
               curve: bool = False) -> tuple[zmtp.Connection, zmtp.Connection]:
    """(our Connection, the peer's), both READY after a NULL handshake done in memory (with
    ``curve``: CURVE, ours the client). ``bare_theirs``: the peer's returns messages as bare
    part lists, as an Engine's does."""
    mechanisms: tuple[Any, Any] = (None, None)
    if curve:
        server, client = crypto_box_keypair(), crypto_box_keypair()
        mechanisms = (zmtp.CurveClient(*client, server[0]),
                      zmtp.CurveServer(*server, zap=False))
    a = zmtp.Connection(ours, mechanisms[0])
    b = zmtp.Connection(theirs, mechanisms[1], bare_messages=bare_theirs)
    to_b, to_a = a.initiate(), b.initiate()
    for _ in range(10):
        if to_b:
            b.receive_data(to_b)
        if to_a:
            a.receive_data(to_a)
        to_b, to_a = a.data_to_send(), b.data_to_send()
        if (a.state is zmtp.ConnectionState.READY and b.state is zmtp.ConnectionState.READY
                and not to_a and not to_b):
            return a, b
    raise AssertionError(f"no handshake: {a!r} {b!r}")


def messages_in(data: bytes, ours: str = "DEALER", theirs: str = "ROUTER") -> list[Any]:
    """What a peer makes of ``data`` (bytes one side of ``ready_pair`` wrote after its
    handshake): messages as lists of bytes, other events as they are."""
    _, peer = ready_pair(ours, theirs)
    return [event.parts if isinstance(event, zmtp.Message) else event
            for event in peer.receive_data(data)]


class FakeStream:
    """A writer's stream that takes ``accept`` bytes per non-blocking send."""

    def __init__(self, accept: Optional[int] = None) -> None:
        #: bytes the next non-blocking send takes at most (None: all, 0: EAGAIN)
        self.accept = accept
        #: raised by every send and sendall when set (a peer that is gone)
        self.error: Optional[OSError] = None
        #: when set, sendall waits for it first (a kernel buffer that stays full)
        self.unblock: Optional[gevent.event.Event] = None
        self.raw_sends: list[bytes] = []  # what each non-blocking send took
        self.sendall_chunks: list[Any] = []  # the objects sendall was given, as given
        self.sendall_greenlets: list[Any] = []  # who called sendall
        self.wire = bytearray()  # every byte taken, in order
        self._sock = self  # the writer's raw non-blocking send is ``self.send``

    def send(self, data: Any) -> int:
        if self.error is not None:
            raise self.error
        if self.accept == 0:
            raise BlockingIOError()
        taken = bytes(data if self.accept is None else data[:self.accept])
        self.raw_sends.append(taken)
        self.wire += taken
        return len(taken)

    def sendall(self, data: Any) -> None:
        self.sendall_chunks.append(data)
        self.sendall_greenlets.append(greenlet.getcurrent())
        if self.unblock is not None:
            self.unblock.wait()
        gevent.sleep(0)  # a blocking write yields while the kernel drains
        if self.error is not None:
            raise self.error
        self.wire += bytes(data)


class CappedStream:
    """A receiver's stream: a real non-blocking socket read ``cap`` bytes at a time."""

    def __init__(self, sock: Any, cap: Optional[int] = None) -> None:
        self.sock = sock
        self.cap = cap

    def recv_into(self, buffer: Any) -> int:
        size = len(buffer) if self.cap is None else min(self.cap, len(buffer))
        return int(self.sock.recv_into(buffer, size))


class FakeRouting(Routing):
    """A socket type with the base class's defaults: it checks no message on the wire and
    takes no subscriptions (as PULL)."""

    def __init__(self) -> None:
        super().__init__(options=None)


class PublisherRouting(FakeRouting):
    accepts_subscriptions = True


class FakeEngine:
    """What the receiver and the handshake use of an Engine, recorded."""

    def __init__(self, stream: Any, conn: zmtp.Connection, *, fd: int = -1,
                 routing: Any = None, handshake_ivl: int = 0) -> None:
        self.stream = stream
        self.conn = conn
        self.fd = fd
        self.peer_address = "127.0.0.1:1"
        self.endpoint = "tcp://test"
        self.auth_refused = False
        self.last_received = 0.0
        self.emitted: list[tuple[Any, ...]] = []
        self.socket = SimpleNamespace(  # what of a SocketCore the receiver and handshake use
            routing=routing if routing is not None else FakeRouting(),
            options=SimpleNamespace(handshake_ivl=handshake_ivl),
            emit=lambda *event: self.emitted.append(event),
            context=None)
        self.control: list[bytes] = []  # what send_control got (PONGs)
        self.ttls: list[float] = []  # what peer_ttl got

    def send_control(self, data: bytes) -> None:
        self.control.append(data)

    def peer_ttl(self, ttl: float) -> None:
        self.ttls.append(ttl)
