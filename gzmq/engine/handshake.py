"""The handshake phase of an Engine: greeting, security mechanism and ZAP, under HANDSHAKE_IVL.

This is the I/O half of what ``zmtp.Connection`` decides: it feeds bytes in, writes what the
protocol answers, and when the mechanism asks ZAP (``AuthRequest``) it asks the context's
``ZapClient`` and hands the verdict back. How a refusal ends, as libzmq does it:

- server, ZAP 400/500: ERROR is sent; we then wait (briefly) for the client to hang up.
- server, ZAP 300: nothing is sent; the connection is dropped when the handshake timer fires.
- server, malformed ZAP reply, or PLAIN without any handler: closed without ERROR.
- client, ERROR received: HANDSHAKE_FAILED_AUTH with the 3-digit status (none for another
  reason); no reconnect, whatever the status (libzmq 4.3.5).
"""

from __future__ import annotations

import errno
from typing import Any, Optional

import gevent

from .. import zmtp
from ..constants import Event
from ..security import ZapClient, ZapReply, log, zap_handler_bound

__all__ = ["run_handshake", "AuthFailure", "HandshakeTimeout", "PeerClosed"]

READ_SIZE = 64 * 1024
#: how long a refusing server waits for the client to hang up after sending ERROR
HANG_UP_GRACE = 1.0


class PeerClosed(EOFError):
    """The peer closed the stream."""


class HandshakeTimeout(Exception):
    """HANDSHAKE_IVL expired before the handshake (ZAP included) completed."""


class AuthFailure(Exception):
    """Authentication refused the connection, on our side or the peer's.

    ``status`` is the ZAP status (300/400/500) or None; ``protocol_code`` is set when a ZAP
    reply was malformed (a PROTOCOL_ERROR_ZAP_* value) instead of a refusal.
    """

    def __init__(self, status: Optional[int], protocol_code: int = 0,
                 no_detail_errno: int = 0) -> None:
        super().__init__(status)
        self.status = status
        self.protocol_code = protocol_code
        #: set when libzmq reports HANDSHAKE_FAILED_NO_DETAIL with this errno instead
        self.no_detail_errno = no_detail_errno


def run_handshake(engine: Any) -> list[Any]:
    """Complete the handshake; return ``[HandshakeComplete, events after it...]``."""
    ivl = engine.socket.options.handshake_ivl
    timer = gevent.Timeout(ivl / 1000.0) if ivl > 0 else None
    if timer is not None:
        timer.start()
    try:
        stream, conn = engine.stream, engine.conn
        stream.sendall(conn.initiate())
        while True:
            data = stream.recv(READ_SIZE)
            if not data:
                raise PeerClosed()
            # what follows the handshake in this read stays raw bytes in the Connection:
            # the ConnectionReader parses it into no more than RCVHWM lets in
            events = conn.receive_data(data, 0)
            _flush(engine)
            done = _process(engine, events)
            if done is not None:
                return done
    except gevent.Timeout as expired:
        if expired is not timer:
            raise
        raise HandshakeTimeout() from None
    finally:
        if timer is not None:
            timer.close()


def _flush(engine: Any) -> None:
    out = engine.conn.data_to_send()
    if out:
        engine.stream.sendall(out)


def _process(engine: Any, events: list[Any]) -> Optional[list[Any]]:
    queue = list(events)
    index = 0
    while index < len(queue):
        event = queue[index]
        kind = type(event)
        if kind is zmtp.HandshakeComplete:
            return queue[index:]
        if kind is zmtp.AuthRequest:
            # The same bytes may have brought the peer's ERROR after its credentials: the
            # connection is closed then, and the PeerError below ends the handshake instead
            if engine.conn.state is not zmtp.ConnectionState.CLOSED:
                queue[index + 1:index + 1] = _authenticate(engine, event)
        elif kind is zmtp.PeerError:
            _peer_refused(engine, event.reason)
        index += 1
    return None


def _mechanism_name(engine: Any) -> str:
    return str(engine.conn.mechanism.name.decode())


def _peer_refused(engine: Any, reason: bytes) -> None:
    status = int(reason) if reason in (b"300", b"400", b"500") else None
    log.warning("handshake refused by %s (%s): ERROR %r", engine.peer_address or engine.endpoint,
                _mechanism_name(engine), reason[:32])
    raise AuthFailure(status)


def _authenticate(engine: Any, request: zmtp.AuthRequest) -> list[Any]:
    """Ask ZAP about ``request``; return the Connection's events after the verdict."""
    socket = engine.socket
    options = socket.options
    peer = engine.peer_address or engine.endpoint
    mechanism = request.mechanism.decode()
    if not zap_handler_bound(socket.context):
        # only PLAIN asks without a handler (CURVE/NULL were built not to ask): libzmq refuses
        log.warning("handshake from %s (%s) refused: no ZAP handler at inproc://zeromq.zap.01",
                    peer, mechanism)
        raise AuthFailure(None, no_detail_errno=errno.EFAULT)  # libzmq's zap_connect fails so
    reply: ZapReply = ZapClient.of(socket.context).request(
        options.zap_domain, engine.peer_address.encode(), options.routing_id,
        request.mechanism, list(request.credentials))
    if reply.error_code:
        log.error("malformed ZAP reply for %s (%s): protocol error 0x%x", peer, mechanism,
                  reply.error_code)
        raise AuthFailure(None, reply.error_code)
    events: list[Any] = engine.conn.auth_reply(reply.status_code, reply.user_id, reply.metadata)
    _flush(engine)
    if reply.status_code == b"200":
        log.debug("ZAP allowed %s (%s) as %r", peer, mechanism, reply.user_id)
        return events
    status = int(reply.status_code)
    log.warning("ZAP denied %s (%s): %s %s", peer, mechanism, status,
                reply.status_text.decode("utf-8", "replace")[:100])
    socket.emit(Event.HANDSHAKE_FAILED_AUTH, status, engine.endpoint)
    engine.auth_refused = True
    if status == 300:
        _wait_for_hang_up(engine, None)  # until the handshake timer fires
    else:
        _wait_for_hang_up(engine, HANG_UP_GRACE)
    raise AuthFailure(status)


def _wait_for_hang_up(engine: Any, grace: Optional[float]) -> None:
    """After refusing, read and discard until the peer closes (or ``grace`` runs out)."""
    try:
        with gevent.Timeout(grace, False):
            while engine.stream.recv(READ_SIZE):
                pass
    except OSError as error:
        if error.errno not in (errno.ECONNRESET, errno.EBADF, errno.EPIPE, None):
            raise
