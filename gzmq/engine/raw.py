"""RawEngine: a connection that speaks no ZMTP (STREAM sockets, and ROUTER with ROUTER_RAW).

libzmq's ``raw_engine_t``: no greeting, no handshake, no framing. Its session is the same
``Session`` a ZMTP engine has (it owns the pipe), so this is "a session over a different kind
of connection":

- Each read (at most IN_BATCH_SIZE bytes, 8192 by default, as libzmq's raw decoder; 256 KiB
  at most) becomes one single-frame message; the routing puts the peer's routing id in front. A read is made
  only while the pipe has room (RCVHWM): a peer that floods is held back by TCP, and a read
  never allocates more than the kernel hands over (``recv(n)`` returns what arrived).
- Each message from the socket is written as its frames' bytes, nothing around them.
- The connection's start and end reach the application as an empty message (STREAM_NOTIFY,
  on by default; always with ROUTER_RAW), except an end the application asked for: the routing
  closes the pipe's sending side (an empty data frame), what was queued is written, then the
  connection is closed and nothing more is read from it; a connecting socket does not redial
  then (libzmq's session ends with its pipe).

It offers the Listener, the Connector and the socket's lifecycle what an ``Engine`` does
(``run``, ``shutdown``, ``close``, ``abandon``, ``traffic``, ``handshake_done``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional

import gevent
from gevent import socket as gsocket

from ..constants import Event
from ..pipe import MessageQueue, Signal
from .base import EngineBase, address_property
from .engine import ConnectionOutcome
from .receiver import read_buffer
from .session import Session

if TYPE_CHECKING:
    from ..core import SocketCore

__all__ = ["RawEngine"]

_DISCONNECT_ERRORS = (OSError, EOFError)


class RawEngine(EngineBase):
    __slots__ = ("_finished_by_socket", "_room", "_to_write", "_writer", "bytes_in", "bytes_out")

    def __init__(self, socket: "SocketCore", stream: gsocket.socket, peer_address: str,
                 session: Session) -> None:
        # there is no handshake: handshake_done turns True as soon as ``run`` starts
        super().__init__(socket, stream, peer_address, session)
        #: the application closed this peer (an empty data frame): no notification, no redial
        self._finished_by_socket = False
        self._room = Signal()  # the socket's inbound queue has room again (or closed)
        self._to_write = Signal()  # the socket queued something to write (or closed)
        self._writer: Optional[gevent.Greenlet] = None
        self.bytes_in = self.bytes_out = 0

    def traffic(self) -> tuple[int, int]:
        """Bytes read and written (``Socket.stats()``)."""
        return self.bytes_in, self.bytes_out

    # ----------------------------------------------------------------------------------------

    def run(self) -> str:
        socket = self.socket
        socket.lifecycle.peers.add(self)
        self.handshake_done = True
        if self.on_handshake_done is not None:
            self.on_handshake_done()
        engine_end = self.session.engine_ready(
            {"Peer-Address": address_property(self.peer_address)})
        engine_end.attach_notifiers(on_readable=self._to_write, on_writable=self._room)
        notify = bool(socket.options.stream_notify)  # only STREAM can turn it off
        if notify:
            engine_end.outbound.force_put([b""])  # connected
        self._writer = socket.lifecycle.spawn(self._write, engine_end.inbound)
        outcome = ConnectionOutcome.DISCONNECTED
        try:
            self._read(engine_end.outbound)
        except gevent.GreenletExit:
            self._closing = True
            self._finish(ConnectionOutcome.CLOSED, notify=False)
            raise
        except _DISCONNECT_ERRORS:
            pass
        if engine_end.outbound.read_closed and self._writer is not None:
            self._writer.join()  # the application closed this peer: what it queued goes first
        if self._finished_by_socket:
            outcome = ConnectionOutcome.FINISHED
        elif self._closing:
            outcome = ConnectionOutcome.CLOSED
        return self._finish(outcome, notify=notify and outcome == ConnectionOutcome.DISCONNECTED)

    def _read(self, to_socket: MessageQueue) -> None:
        stream, room = self.stream, self._room
        _, shared = read_buffer()  # this thread's, as the ZMTP reader's
        view = shared[:max(1, min(self.socket.options.in_batch_size, len(shared)))]
        while not self._closing:
            if to_socket.read_closed:
                return  # the application closed this peer: read nothing more
            if not to_socket.writable:
                room.wait()  # RCVHWM: read no more until the socket takes some
                continue
            count = stream.recv_into(view)
            if not count:
                return  # the peer closed
            # copied before anything else runs: the buffer is shared by every connection of
            # this thread, and each message costs what arrived, whatever IN_BATCH_SIZE says
            data = bytes(view[:count])
            self.bytes_in += count
            to_socket.try_put([data])

    def _write(self, from_socket: MessageQueue) -> None:
        stream, wake = self.stream, self._to_write
        try:
            while True:
                item = from_socket.take()
                if item is None:
                    if from_socket.write_closed:
                        break  # the socket closes this peer, or itself: all written
                    wake.wait()
                    continue
                data = b"".join(item)
                if data:
                    stream.sendall(data)
                    self.bytes_out += len(data)
        except _DISCONNECT_ERRORS:
            pass  # the reader sees the end too
        else:
            self._closing = True
            if not self.socket.closed:
                self._finished_by_socket = True
        self._close_stream()

    # ----------------------------------------------------------------------------------------
    # ending (what a Listener, a Connector and the lifecycle call)

    def shutdown(self) -> None:
        """The socket is closing: write what is queued, then disconnect (LINGER bounds it)."""
        self._closing = True
        self.session.close_writing()
        self._to_write.notify()

    def abandon(self) -> None:
        """In a forked child: let go of the parent's connection without touching it."""
        self._closing = True
        if self._writer is not None:
            self._writer.kill(block=False)
        self._close_stream()

    def _close_stream(self) -> None:
        try:
            self.stream.close()  # wakes a greenlet blocked in recv/send on it
        except OSError:
            pass
        self._room.notify()
        self._to_write.notify()

    def _finish(self, outcome: str, notify: bool) -> str:
        socket = self.socket
        socket.lifecycle.peers.discard(self)
        socket.bytes_in += self.bytes_in
        socket.bytes_out += self.bytes_out
        self.bytes_in = self.bytes_out = 0
        engine_end = self.session.engine_end
        if notify and engine_end is not None:
            engine_end.outbound.force_put([b""])  # disconnected
        if outcome == ConnectionOutcome.DISCONNECTED:
            socket.emit(Event.DISCONNECTED, self.fd, self.endpoint)
        if self._writer is not None and gevent.getcurrent() is not self._writer:
            self._writer.kill(block=False)
        self._close_stream()
        self.session.engine_ended(True)
        return outcome

