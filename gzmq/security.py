"""Security policy around the sans-IO mechanisms: which mechanism a socket uses, and ZAP.

- ``make_mechanism(socket)`` reads the socket's options the way libzmq does (the last of the
  PLAIN/CURVE options set decides the mechanism and role) and decides whether the server side
  asks ZAP (RFC 27): PLAIN always; CURVE when a handler is bound at ``inproc://zeromq.zap.01``;
  NULL when ZAP_DOMAIN is set and a handler is bound. A PLAIN server without a handler refuses
  everyone, as libzmq does.
- ``ZapClient``: one per Context. Engines call ``request()``; the client sends the request on
  a DEALER connected to the handler, with a unique request id, and one reader greenlet routes
  each reply back to the waiting engine. Many handshakes can wait on ZAP at once, and the
  handler may answer them in any order.
- Security events go to the ``gzmq.security`` logger: handshake failures and ZAP refusals,
  with the peer address and mechanism, never a key or password.
"""

from __future__ import annotations

import itertools
import logging
from typing import Any, Optional

from gevent.event import AsyncResult

from . import zmtp
from .constants import DEALER
from .error import ContextTerminated, ZMQError
from .options import CURVE, NULL, PLAIN

__all__ = ["make_mechanism", "ZapClient", "ZapReply", "ZAP_ENDPOINT", "log"]

ZAP_ENDPOINT = "inproc://zeromq.zap.01"
log = logging.getLogger("gzmq.security")

MECHANISM_NAMES = {NULL: b"NULL", PLAIN: b"PLAIN", CURVE: b"CURVE"}


def zap_handler_bound(context: Any) -> bool:
    handler = context._inproc.bound_socket(ZAP_ENDPOINT[len("inproc://"):])
    return handler is not None and not handler.closed


def mechanism_name(options: Any) -> str:
    return MECHANISM_NAMES.get(options.mechanism, b"?").decode()


def make_mechanism(socket: Any) -> zmtp.Mechanism:
    options = socket.options
    has_handler = zap_handler_bound(socket.context)
    if options.mechanism == PLAIN:
        if options.as_server:
            return zmtp.PlainServer(zap=True)
        return zmtp.PlainClient(options.plain_username, options.plain_password)
    if options.mechanism == CURVE:
        if options.as_server:
            # libzmq's server needs only its secret key; the public one never goes on the wire
            public = options.curve_publickey
            if not public and len(options.curve_secretkey) == 32:
                public = zmtp.z85.decode(zmtp.z85.curve_public(zmtp.z85.encode(
                    options.curve_secretkey)))
            # ZAP_ENFORCE_DOMAIN (libzmq's curve_server): by default ZAP is asked whenever a
            # handler is there; enforced, only with a ZAP domain, and then a missing handler
            # fails the handshake (EFAULT, in handshake.py) instead of letting the peer in
            ask = bool(options.zap_domain) if options.zap_enforce_domain else has_handler
            return zmtp.CurveServer(public, options.curve_secretkey, zap=ask)
        return zmtp.CurveClient(options.curve_publickey, options.curve_secretkey,
                                options.curve_serverkey)
    if options.zap_domain and (has_handler or options.zap_enforce_domain):
        # NULL asks only with a domain; without a handler it lets the peer in, unless
        # ZAP_ENFORCE_DOMAIN says a missing handler fails the handshake (libzmq's null_mechanism)
        return zmtp.NullMechanism(zap=True)
    return zmtp.NullMechanism()


class ZapReply:
    """A validated ZAP reply; ``error_code`` is a PROTOCOL_ERROR_ZAP_* value when malformed."""

    __slots__ = ("status_code", "status_text", "user_id", "metadata", "error_code")

    def __init__(self, status_code: bytes, status_text: bytes = b"", user_id: bytes = b"",
                 metadata: Optional[dict[str, bytes]] = None, error_code: int = 0) -> None:
        self.status_code = status_code
        self.status_text = status_text
        self.user_id = user_id
        self.metadata = metadata or {}
        self.error_code = error_code


def parse_zap_reply(frames: list[bytes]) -> ZapReply:
    """Check a reply as libzmq's zap_client does (frames after the envelope delimiter)."""
    codes = zmtp.ProtocolErrorCode
    if len(frames) != 6:
        return ZapReply(b"500", error_code=codes.ZAP_MALFORMED_REPLY)
    version, _, status, text, user_id, metadata = frames
    if version != b"1.0":
        return ZapReply(b"500", error_code=codes.ZAP_BAD_VERSION)
    if status not in (b"200", b"300", b"400", b"500"):
        return ZapReply(b"500", error_code=codes.ZAP_INVALID_STATUS_CODE)
    try:
        properties = zmtp.codec.decode_metadata(metadata) if metadata else {}
    except zmtp.ProtocolError:
        return ZapReply(b"500", error_code=codes.ZAP_INVALID_METADATA)
    return ZapReply(status, text, user_id, properties)


class ZapClient:
    """Sends ZAP requests for every engine of one Context and matches the replies."""

    def __init__(self, context: Any) -> None:
        self.context = context
        self._socket: Any = None
        self._pending: dict[bytes, AsyncResult] = {}
        self._ids = itertools.count(1)
        self._reader: Any = None
        self._handler: Any = None  # the handler socket our DEALER is connected to

    @classmethod
    def of(cls, context: Any) -> "ZapClient":
        """The context's client, created on first use."""
        if context._zap_client is None:
            context._zap_client = cls(context)
        return context._zap_client  # type: ignore[no-any-return]

    def _ensure_socket(self) -> Any:
        # A handler that was stopped and started again is a new socket: an inproc link to the
        # old one is dead, so connect afresh whenever the bound handler changed.
        handler = self.context._inproc.bound_socket(ZAP_ENDPOINT[len("inproc://"):])
        if self._socket is not None and not self._socket.closed and handler is not self._handler:
            self._socket.close(linger=0)
        if self._socket is None or self._socket.closed:
            import gevent
            self._socket = self.context._internal_socket(DEALER)  # takes no MAX_SOCKETS slot
            self._socket.linger = 0
            self._socket.connect(ZAP_ENDPOINT)
            self._handler = handler
            self._pending = {}  # requests in flight on the old socket fail with it
            self._reader = gevent.spawn(self._read_replies, self._socket, self._pending)
        return self._socket

    def request(self, domain: bytes, address: bytes, identity: bytes, mechanism: bytes,
                credentials: list[bytes]) -> ZapReply:
        """Ask the handler; blocks this greenlet (the engine's) until it answers."""
        socket = self._ensure_socket()
        pending = self._pending
        request_id = str(next(self._ids)).encode()
        result: AsyncResult = AsyncResult()
        pending[request_id] = result
        try:
            socket.send_multipart([b"", b"1.0", request_id, domain, address, identity,
                                   mechanism] + list(credentials))
            return result.get()  # type: ignore[no-any-return]
        finally:
            pending.pop(request_id, None)

    def _read_replies(self, socket: Any, pending: dict[bytes, AsyncResult]) -> None:
        try:
            while True:
                frames = socket.recv_multipart()
                if len(frames) < 3 or frames[0] != b"":
                    continue  # cannot be routed to any request
                waiter = pending.get(frames[2])
                if waiter is None:
                    log.warning("ZAP reply with unknown request id %r dropped", frames[2][:16])
                    continue
                waiter.set(parse_zap_reply(frames[1:]))
        except (ContextTerminated, ZMQError):
            pass
        finally:
            for waiter in pending.values():
                if not waiter.ready():
                    waiter.set(ZapReply(b"500",
                                        error_code=zmtp.ProtocolErrorCode.ZAP_UNSPECIFIED))
            if not socket.closed:
                socket.close(linger=0)
