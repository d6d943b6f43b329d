"""Engine: one live tcp/ipc connection between a byte stream and a pipe.

The engine is the only code that holds both a stream and a ``zmtp.Connection``. It never knows
socket types, nor pipes beyond the engine's end its ``Session`` gives it. Its greenlet runs the
handshake (``handshake.py``: greeting, mechanism, ZAP), then hands the two directions to helpers
that work mostly from the hub:

- ``ConnectionReader`` (``receiver.py``): an io watcher parses incoming bytes in the hub and
  appends whole messages to the socket's pipe; the engine's greenlet only waits, for the end of
  the connection or for room when the pipe is at RCVHWM (backpressure reaches the sender).
- ``ConnectionWriter`` (``writer.py``): batches are flushed from a hub callback with one
  non-blocking send; a writer greenlet finishes whatever the kernel would not take at once.

Anything that ends the connection ends the engine. Protocol errors stay here: they become a
monitor event and a disconnect, and a connecting socket does not reconnect after one (libzmq).
"""

from __future__ import annotations

import errno
from time import monotonic
from typing import TYPE_CHECKING, Any, Optional

import gevent
from gevent import socket as gsocket

from .. import zmtp
from ..constants import SOCKET_TYPE_NAMES, Event
from ..security import log as security_log
from ..security import make_mechanism, mechanism_name
from .base import EngineBase, address_property
from .handshake import AuthFailure, HandshakeTimeout, PeerClosed, run_handshake
from .heartbeat import Heartbeat
from .receiver import ConnectionReader
from .session import Session
from .writer import ConnectionWriter, FanOutWriter

if TYPE_CHECKING:
    from ..core import SocketCore

__all__ = ["Engine", "ConnectionOutcome"]


_DISCONNECT_ERRORS = (OSError, EOFError)
#: what a revived greenlet returns when the connection is idle again
_IDLE = "idle"


class ConnectionOutcome:
    """How an engine ended; the connector decides about reconnecting from it."""

    DISCONNECTED = "disconnected"  # peer closed, network error: reconnect
    PROTOCOL_ERROR = "protocol-error"  # malformed, incompatible, refused: do not reconnect
    CLOSED = "closed"  # our socket is closing
    FINISHED = "finished"  # the application closed this peer (raw connections): do not redial


class Engine(EngineBase):
    __slots__ = ("_reader", "_writer", "last_received", "_heartbeat", "conn", "_serving",
                 "_ended", "killed")

    def __init__(self, socket: "SocketCore", stream: gsocket.socket, peer_address: str,
                 session: Session) -> None:
        super().__init__(socket, stream, peer_address, session)
        self._reader: Optional[ConnectionReader] = None
        self._writer: Optional[ConnectionWriter] = None
        #: when the reader last got bytes (heartbeat liveness)
        self.last_received = 0.0
        self._heartbeat: Optional[Heartbeat] = None
        self.conn: Any = None  # the zmtp.Connection, made when the engine starts
        #: a greenlet runs (or is about to run) the engine's part: the handshake, or waiting
        self._serving = False
        #: ``_finish`` ran
        self._ended = False
        #: the socket's group killed it (LINGER 0 or run out): its connector must not redial
        self.killed = False

    def _send_last_words(self) -> None:
        """Best effort: what the protocol still wants out (our greeting, on a mismatch)."""
        if self.conn is None or self.handshake_done:
            return
        try:
            out = self.conn.data_to_send()
            if out:
                with gevent.Timeout(0.1, False):
                    self.stream.sendall(out)
        except OSError:
            pass

    def _make_connection(self) -> zmtp.Connection:
        options = self.socket.options
        return zmtp.Connection(
            SOCKET_TYPE_NAMES[int(self.socket.type)],
            make_mechanism(self.socket),
            identity=options.routing_id,
            max_message_size=options.maxmsgsize,
            bare_messages=True,  # the receiver's deliver() takes the parts lists as they are
        )

    # ----------------------------------------------------------------------------------------
    # the engine's greenlet: handshake, then waiting for the end

    def run(self) -> str:
        """Drive the connection until it ends; return a ``ConnectionOutcome``."""
        outcome = self._run(detach=False)
        assert outcome is not None
        return outcome

    def run_detached(self) -> Optional[str]:
        """Run the handshake in this greenlet and return once the connection is idle (None;
        ``detached`` is then True) or over (its ``ConnectionOutcome``). Detached, the
        connection goes on from the hub, a greenlet is started again only when one is needed
        (backpressure, the end, the socket closing), and ``listener.engine_ended(engine,
        outcome)`` tells of the end. What a Listener and a Connector run: an idle connection
        then costs no greenlet."""
        return self._run(detach=True)

    def _run(self, detach: bool) -> Optional[str]:
        socket = self.socket
        socket.lifecycle.peers.add(self)
        if socket.closed:
            # the socket closed while this connection was being made (a dial in progress):
            # the close's shutdown of its peers missed this one. Linger as they do, or the
            # engine would detach once idle and the close's wait for the socket's greenlets
            # end with the last of what it queued still unwritten
            self.shutdown()
        self._serving = True
        try:
            self.conn = self._make_connection()
        except ValueError as error:  # unusable security options, e.g. CURVE without keys
            security_log.error("cannot start a %s handshake on %s: %s",
                               mechanism_name(socket.options), self.endpoint, error)
            socket.emit(Event.HANDSHAKE_FAILED_NO_DETAIL, errno.EINVAL, self.endpoint)
            return self._finish(ConnectionOutcome.PROTOCOL_ERROR)
        return self._guarded(detach, first=True)

    def _serve(self, detach: bool, first: bool) -> bool:
        """The greenlet's part of the connection; True when it may end with the connection
        idle (``detach``, and not closing), else it returns (or raises) at the end."""
        if first:
            events = run_handshake(self)
            self._on_ready(events[0]).start(events[1:])
        reader = self._reader
        assert reader is not None
        if not reader.serve(until_idle=detach and not self._closing):
            return False
        # idle: the hub reads on; nothing runs between serve's last look and this return
        self._serving = False
        self.detached = True
        reader.revives_engine = True
        return True

    def revive(self) -> None:
        """The reader needs a greenlet (backpressure, or the end), or the socket is closing
        (the group waits for the engine through LINGER, and kills it after)."""
        if self._serving or self._ended:
            return  # the running greenlet looks at the reader again before it ends
        self._serving = True
        greenlet = self.socket.lifecycle.spawn(self._serve_again)
        greenlet.link(self._revived_ended)

    def _serve_again(self) -> str:
        return self._guarded(detach=True) or _IDLE

    def _revived_ended(self, greenlet: gevent.Greenlet) -> None:
        # killed before it ran (the socket closed with LINGER 0, or LINGER ran out): it never
        # raised GreenletExit, so end the connection here, as a killed engine does
        if greenlet.value is not _IDLE and not self._ended:
            self._closing = self.killed = True
            self._finish(ConnectionOutcome.CLOSED)

    def _guarded(self, detach: bool, first: bool = False) -> Optional[str]:
        """``_serve``, with every way the connection can end turned into its outcome (None:
        the connection is idle and goes on without this greenlet)."""
        socket = self.socket
        try:
            if self._serve(detach, first):
                return None
        except zmtp.ProtocolError as error:
            security_log.warning("%s with %s (%s) failed: %s",
                                 "connection" if self.handshake_done else "handshake",
                                 self.peer_address or self.endpoint,
                                 self.conn.mechanism.name.decode(), error)
            # libzmq reports it even after the handshake (a bad CURVE MESSAGE, say)
            socket.emit(Event.HANDSHAKE_FAILED_PROTOCOL, error.code, self.endpoint)
            self._send_last_words()
            return self._finish(ConnectionOutcome.PROTOCOL_ERROR)
        except AuthFailure as failure:
            if failure.no_detail_errno:
                socket.emit(Event.HANDSHAKE_FAILED_NO_DETAIL, failure.no_detail_errno,
                                          self.endpoint)
            elif failure.protocol_code:
                socket.emit(Event.HANDSHAKE_FAILED_PROTOCOL, failure.protocol_code,
                                          self.endpoint)
            elif failure.status is not None and not self.auth_refused:
                socket.emit(Event.HANDSHAKE_FAILED_AUTH, failure.status, self.endpoint)
            # every refusal is final, "300 try later" included: libzmq 4.3.5's client does not
            # redial after any ERROR, so a refusing server is not hammered with reconnects
            return self._finish(ConnectionOutcome.PROTOCOL_ERROR)
        except gevent.GreenletExit:
            # killed (LINGER ran out, or the socket closed with linger 0): end here and let the
            # kill reach the connector too, which must not redial
            self._closing = self.killed = True
            self._finish(ConnectionOutcome.CLOSED)
            raise
        except HandshakeTimeout:
            if not self.auth_refused:
                # libzmq reports EAGAIN here (the errno of the moment its timer fires)
                socket.emit(Event.HANDSHAKE_FAILED_NO_DETAIL, errno.EAGAIN,
                                          self.endpoint)
            return self._finish(ConnectionOutcome.DISCONNECTED)
        except _DISCONNECT_ERRORS as error:
            if not self.handshake_done and not self._closing:
                code = getattr(error, "errno", None) or errno.ECONNRESET
                socket.emit(Event.HANDSHAKE_FAILED_NO_DETAIL, code, self.endpoint)
            return self._finish(ConnectionOutcome.CLOSED if self._closing
                                else ConnectionOutcome.DISCONNECTED)
        except Exception:  # noqa: BLE001 - a bug (ours or a library's) met on peer input
            # Whatever a peer sends is that connection's problem only: log the bug loudly,
            # with its traceback, and end this connection as if it had broken the protocol.
            # The socket and its other peers go on (issue 7: a peer never poisons a socket).
            security_log.exception("internal error on the connection with %s (%s); "
                                   "closing it, please report this",
                                   self.peer_address or self.endpoint,
                                   self.conn.mechanism.name.decode() if self.conn else "?")
            if not self.handshake_done:
                socket.emit(Event.HANDSHAKE_FAILED_NO_DETAIL, errno.EPROTO,
                                          self.endpoint)
            return self._finish(ConnectionOutcome.PROTOCOL_ERROR)
        return self._finish(ConnectionOutcome.CLOSED if self._closing
                            else ConnectionOutcome.DISCONNECTED)

    def _on_ready(self, ready: zmtp.HandshakeComplete) -> ConnectionReader:
        """The handshake succeeded: the session sets the pipe up for this peer; a fresh
        reader and writer take over its engine end. Return the reader to run."""
        self.handshake_done = True
        done, self.on_handshake_done = self.on_handshake_done, None  # (frees what it holds)
        if done is not None:
            done()
        properties = ready.properties  # (the Connection's own: not copied, see its doc)
        properties["Peer-Address"] = address_property(self.peer_address)
        if ready.user_id:
            properties["User-Id"] = ready.user_id
        engine_end = self.session.engine_ready(properties)
        socket = self.socket
        socket.emit(Event.HANDSHAKE_SUCCEEDED, 0, self.endpoint)
        self.last_received = monotonic()
        shares = type(socket.routing).fans_out and not self.conn.mechanism.encrypts
        self._writer = (FanOutWriter if shares else ConnectionWriter)(
            self.stream, self.conn, engine_end.inbound, self._writer_finished,
            socket.lifecycle.spawn)
        reader = self._reader = ConnectionReader(self, engine_end.outbound)
        # the engine end's notifiers: the writer hears of messages to write, the reader of room
        # at RCVHWM (a reconnect replaces the previous engine's)
        engine_end.attach_notifiers(on_readable=self._writer, on_writable=reader.room)
        if len(engine_end.inbound) or engine_end.inbound.write_closed:
            self._writer.notify()  # queued before (or between) connections, or closing
        if socket.options.heartbeat_ivl > 0:
            self._ensure_heartbeat()
        return reader

    def _ensure_heartbeat(self) -> Heartbeat:
        if self._heartbeat is None:
            self._heartbeat = Heartbeat(self)
        return self._heartbeat

    def peer_ttl(self, ttl: float) -> None:
        """The peer's PING asked us to drop it after ``ttl`` seconds of silence."""
        self._ensure_heartbeat().peer_ttl(ttl)

    def send_control(self, data: bytes) -> None:
        """Queue protocol bytes (PING/PONG) for the writer, ahead of the next batch."""
        if self._writer is not None:
            self._writer.send_control(data)

    def _writer_finished(self, graceful: bool) -> None:
        # Either the socket closed and the queue drained (graceful), or a write failed.
        # Both end the connection: closing the stream wakes the engine's greenlet.
        if graceful:
            self._closing = True
        self._close_stream()

    # ----------------------------------------------------------------------------------------
    # ending

    def shutdown(self) -> None:
        """The socket is closing: finish writing what is queued, then disconnect."""
        self._closing = True
        session = self.session
        if not self.handshake_done and not session.has_pending():
            self._close_stream()  # nothing queued for this peer
            return
        # what is queued goes out first; a handshake in progress finishes, then the writer
        # drains the pipe and closes (LINGER bounds it all)
        session.close_writing()
        if self.detached:
            self.revive()  # a greenlet in the socket's group waits for the end again

    def abandon(self) -> None:
        """In a forked child: let go of the parent's connection without touching it.

        Nothing is read, written or reported: the watchers stop and the child's copy of the
        fd is closed (the parent's copy keeps the connection open, so the peer sees nothing).
        """
        self._closing = True
        for helper in (self._writer, self._heartbeat):
            if helper is not None:
                helper.stop()
        self._close_stream()

    def _close_stream(self) -> None:
        reader = self._reader
        if reader is not None:
            reader.fail(PeerClosed())  # stop watching the fd before it is closed; wake run()
        try:
            self.stream.close()
        except OSError:
            pass

    def traffic(self) -> tuple[int, int]:
        """Bytes read and written since the handshake (``Socket.stats()``)."""
        reader, writer = self._reader, self._writer
        return (reader.bytes_in if reader is not None else 0,
                writer.bytes_out if writer is not None else 0)

    def _finish(self, outcome: str) -> str:
        self._ended = True
        socket = self.socket
        socket.lifecycle.peers.discard(self)
        bytes_in, bytes_out = self.traffic()  # the socket keeps the totals of ended engines
        socket.bytes_in += bytes_in
        socket.bytes_out += bytes_out
        if outcome != ConnectionOutcome.CLOSED:
            # libzmq reports every engine error, handshake failures included, but not the
            # connections its own socket closes
            socket.emit(Event.DISCONNECTED, self.fd, self.endpoint)
        if self._heartbeat is not None:
            self._heartbeat.stop()
        if self._writer is not None:
            self._writer.stop()
        self._close_stream()
        if self._reader is not None:
            self._reader.close()
        self.session.engine_ended(self.handshake_done)
        if self.listener is not None:
            self.listener.engine_ended(self, outcome)
        return outcome
