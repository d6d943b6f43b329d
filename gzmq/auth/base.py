"""ZAP (RFC 27) authentication served by greenlets: ``Authenticator``.

``start()`` binds a ROUTER at ``inproc://zeromq.zap.01`` in the authenticator's context (where
every gzmq server socket of that context sends its ZAP requests) and spawns a greenlet that
receives requests. Each request is judged in a greenlet of its own, so a slow credentials
callback delays only its own handshake, and the reply goes back through the ROUTER with the
requester's envelope. Nothing here blocks the hub.

The policy is pyzmq's ``zmq.auth.Authenticator``: an optional address allow *or* deny list,
NULL allowed unless the address is refused, PLAIN checked against a ``{user: password}`` map per
domain, CURVE against the public keys of a certificate directory, any key
(``CURVE_ALLOW_ANY``) or a credentials provider's ``callback(domain, key)``. An empty domain
means ``'*'``. The status codes, status texts and user ids of the replies are pyzmq's.

Logging (``gzmq.auth`` unless ``log`` is given): every decision is logged, allowed ones at
DEBUG, denials at WARNING, each with domain, peer address and mechanism. Passwords and secret
keys are never logged (a CURVE client's public key is).
"""

from __future__ import annotations

import hmac
import logging
import os
from typing import Any, Optional, Union

import gevent
import gevent.event
from gevent.pool import Group

from ..constants import ROUTER
from ..error import ContextTerminated, ZMQError
from .certs import _z85, load_certificates

__all__ = ["Authenticator", "CURVE_ALLOW_ANY"]

#: ``configure_curve(location=CURVE_ALLOW_ANY)`` accepts every client key
CURVE_ALLOW_ANY = "*"
#: the ZAP protocol version, first frame of requests and replies
VERSION = b"1.0"
#: where libzmq (and gzmq) servers send their ZAP requests
ZAP_ENDPOINT = "inproc://zeromq.zap.01"


class Authenticator:
    """A ZAP handler for the sockets of ``context`` (default ``Context.instance()``).

    Until a policy is configured, NULL connections are allowed and PLAIN and CURVE ones denied.
    ``allow()`` and ``deny()`` filter by peer address before any mechanism check.
    """

    def __init__(self, context: Any = None, encoding: str = "utf-8", log: Any = None) -> None:
        if context is None:
            from ..context import Context
            context = Context.instance()
        self.context = context
        self.encoding = encoding
        self.log = log or logging.getLogger("gzmq.auth")
        self.allow_any = False
        #: ``{domain: provider}``; ``provider.callback(domain, z85_key) -> bool``
        self.credentials_providers: dict[str, Any] = {}
        #: ``{domain: {username: password}}``, kept by reference (edits apply at once)
        self.passwords: dict[str, dict[str, str]] = {}
        #: ``{domain: {z85_public_key: True}}``
        self.certs: dict[str, dict[bytes, Any]] = {}
        self._allowed: set[str] = set()
        self._denied: set[str] = set()
        self.zap_socket: Any = None
        self._server: Optional[gevent.Greenlet] = None
        self._handlers = Group()

    # -----------------------------------------------------------------------------------------
    # life cycle

    def start(self) -> None:
        """Bind the ZAP ROUTER and start serving requests (a no-op if already running)."""
        if self.is_alive():
            return
        sock = self.context.socket(ROUTER)
        sock.linger = 1
        try:
            sock.bind(ZAP_ENDPOINT)
        except BaseException:
            sock.close(linger=0)
            raise
        self.zap_socket = sock
        self._handlers = Group()
        self._server = gevent.spawn(self._serve, sock)
        self.log.debug("Starting ZAP handler on %s", ZAP_ENDPOINT)

    def stop(self) -> None:
        """Stop serving: kill pending request greenlets, close the socket, end the server."""
        current = gevent.getcurrent()
        pending = [g for g in self._handlers if g is not current]
        if pending:
            gevent.killall(pending, block=True)
        sock, self.zap_socket = self.zap_socket, None
        if sock is not None:
            sock.close()
        server, self._server = self._server, None
        if server is not None and server is not current:
            server.kill(block=True)
        self.log.debug("Stopped ZAP handler")

    def is_alive(self) -> bool:
        """Whether the server greenlet is running (pyzmq's ``ThreadAuthenticator.is_alive``)."""
        return self._server is not None and not self._server.dead

    def _serve(self, sock: Any) -> None:
        while True:
            try:
                msg = sock.recv_multipart()
            except ContextTerminated:
                sock.close(linger=0)  # let term() finish even though nobody called stop()
                return
            except ZMQError:
                return  # closed by stop()
            except Exception:
                self.log.exception("ZAP handler: receive failed, stopping")
                return
            try:
                delimiter = msg.index(b"")
            except ValueError:
                self.log.error("Invalid ZAP message without envelope delimiter (%d frames), "
                               "dropped", len(msg))
                continue
            self._handlers.spawn(self._handle, msg[delimiter + 1:], msg[:delimiter + 1])

    def _handle(self, body: list[bytes], envelope: list[bytes]) -> None:
        try:
            self.handle_zap_message(body, envelope)
        except Exception:
            # handle_zap_message already answers 500 to its own failures; this is a last net
            self.log.exception("ZAP handler: unexpected failure")

    # -----------------------------------------------------------------------------------------
    # configuration

    def allow(self, *addresses: str) -> None:
        """Accept connections only from these addresses (exclusive with ``deny``).

        NULL clients from them are accepted; PLAIN and CURVE clients still authenticate.
        """
        if self._denied:
            raise ValueError("Only use allow or deny, not both")
        self.log.debug("Allowing %s", ",".join(addresses))
        self._allowed.update(addresses)

    def deny(self, *addresses: str) -> None:
        """Refuse connections from these addresses (exclusive with ``allow``)."""
        if self._allowed:
            raise ValueError("Only use a allow or deny, not both")
        self.log.debug("Denying %s", ",".join(addresses))
        self._denied.update(addresses)

    def configure_plain(self, domain: str = "*",
                        passwords: Optional[dict[str, str]] = None) -> None:
        """PLAIN for ``domain`` (``'*'`` serves requests with an empty domain) with a
        ``{username: password}`` map; an empty or None map leaves the domain unchanged."""
        if passwords:
            self.passwords[domain] = passwords
        self.log.debug("Configure plain: %s", domain)

    def configure_curve(self, domain: str = "*",
                        location: Union[str, "os.PathLike[str]"] = ".") -> None:
        """CURVE for ``domain``: accept the public keys of the ``*.key`` certificates in the
        directory ``location`` (re-read on every call), or any key if it is
        ``CURVE_ALLOW_ANY``. A directory that cannot be read is logged, not raised."""
        self.log.debug("Configure curve: %s[%s]", domain, location)
        if location == CURVE_ALLOW_ANY:
            self.allow_any = True
            return
        self.allow_any = False
        try:
            self.certs[domain] = load_certificates(location)
        except Exception as e:
            self.log.error("Failed to load CURVE certs from %s: %s", location, e)

    def configure_curve_callback(self, domain: str = "*",
                                 credentials_provider: Any = None) -> None:
        """CURVE for ``domain`` decided by ``credentials_provider.callback(domain, key)``,
        ``key`` being the client's public key as Z85 bytes; a true result allows."""
        self.allow_any = False
        if credentials_provider is None:
            self.log.error("None credentials_provider provided for domain:%s", domain)
            return
        self.credentials_providers[domain] = credentials_provider

    def configure_gssapi(self, domain: str = "*", location: Optional[str] = None) -> None:
        """Accepted for pyzmq compatibility; gzmq has no GSSAPI, so GSSAPI requests are denied."""
        self.log.debug("Configure gssapi: %s (GSSAPI is not supported, requests are denied)",
                       domain)

    def curve_user_id(self, client_public_key: bytes) -> str:
        """The User-Id of an accepted CURVE client: its public key in Z85 (override to map)."""
        encoded = _z85().encode(client_public_key)
        return encoded.decode("ascii") if isinstance(encoded, bytes) else str(encoded)

    # -----------------------------------------------------------------------------------------
    # requests

    def handle_zap_message(self, msg: list[bytes],
                           envelope: Optional[list[bytes]] = None) -> None:
        """Judge one ZAP request and send the reply on ``zap_socket``.

        ``msg`` is the request as a REP socket sees it (``[b"1.0", request_id, domain, address,
        identity, mechanism, *credentials]``) or as the ROUTER ``zap_socket`` receives it (with
        the routing envelope first); ``envelope`` may also be given separately. Unlike pyzmq's,
        this is a plain method: it may block only the calling greenlet (a slow callback).
        """
        msg = list(msg)
        if envelope is None:
            envelope = []
            if msg and msg[0] != VERSION and b"" in msg:
                cut = msg.index(b"") + 1
                envelope, msg = msg[:cut], msg[cut:]
        reply = self._judge(msg)
        if reply is not None:
            self._send_reply(list(envelope), reply)

    def _judge(self, msg: list[bytes]) -> Optional[list[bytes]]:
        """The 6 reply frames for ``msg`` (None: too malformed to answer)."""
        if len(msg) < 6:
            if len(msg) < 2:
                self.log.error("Invalid ZAP message, not enough frames (%d): "
                               "not enough information to reply", len(msg))
                return None
            self.log.error("Invalid ZAP message, not enough frames (%d)", len(msg))
            return self._reply(msg[1], b"400", b"Not enough frames")
        version, request_id, raw_domain, raw_address, identity, mechanism = msg[:6]
        credentials = msg[6:]
        domain = raw_domain.decode(self.encoding, "replace")
        address = raw_address.decode(self.encoding, "replace")
        mech = mechanism.decode("ascii", "replace")
        if version != VERSION:
            self.log.error("Invalid ZAP version %r (address=%s mechanism=%s)", version[:16],
                           address, mech)
            return self._reply(request_id, b"400", b"Invalid version")
        self.log.debug("ZAP request: request_id=%r domain=%r address=%s identity=%r "
                       "mechanism=%s", request_id, domain, address, identity, mech)
        try:
            allowed, reason, user_id = self._decide(domain, address, mechanism, credentials)
        except Exception:
            self.log.exception("ZAP %s request from %s (domain %r) failed", mech, address,
                               domain)
            allowed, reason, user_id = False, None, ""
        if reason is None:  # an internal error, not a verdict
            self.log.warning("DENIED (internal error) domain=%r address=%s mechanism=%s",
                             domain, address, mech)
            return self._reply(request_id, b"500", b"Internal error")
        if allowed:
            self.log.debug("ALLOWED domain=%r address=%s mechanism=%s user_id=%r",
                           domain, address, mech, user_id)
            return self._reply(request_id, b"200", b"OK", user_id)
        self.log.warning("DENIED (%s) domain=%r address=%s mechanism=%s",
                         reason.decode("ascii", "replace"), domain, address, mech)
        return self._reply(request_id, b"400", reason)

    def _decide(self, domain: str, address: str, mechanism: bytes,
                credentials: list[bytes]) -> tuple[bool, Optional[bytes], str]:
        """``(allowed, status_text, user_id)``; a None status text means an internal error.

        The address lists come first (as pyzmq): an allow-listed or not-denied address passes
        NULL, while PLAIN and CURVE clients must still authenticate.
        """
        if self._allowed and address not in self._allowed:
            return False, b"Address not allowed", ""
        if self._denied and address in self._denied:
            return False, b"Address denied", ""
        if mechanism == b"NULL":
            return True, b"OK", "anonymous"
        if mechanism == b"PLAIN":
            if len(credentials) != 2:
                return False, b"Invalid credentials", ""
            username = credentials[0].decode(self.encoding, "replace")
            ok, reason = self._authenticate_plain(domain, username, credentials[1])
            return ok, reason, username
        if mechanism == b"CURVE":
            if len(credentials) != 1 or len(credentials[0]) != 32:
                return False, b"Invalid credentials", ""
            key = credentials[0]
            ok, reason = self._authenticate_curve(domain, key)
            return ok, reason, self.curve_user_id(key) if ok else ""
        if mechanism == b"GSSAPI":
            return False, b"GSSAPI not supported", ""
        # pyzmq would let an allow-listed address through with any mechanism name; we don't
        return False, b"Unsupported mechanism", ""

    def _authenticate_plain(self, domain: str, username: str,
                            password: bytes) -> tuple[bool, bytes]:
        if not self.passwords:
            return False, b"No passwords defined"
        users = self.passwords.get(domain or "*")
        if users is None:
            return False, b"Invalid domain"
        if username not in users:
            return False, b"Invalid username"
        expected = users[username]
        if not isinstance(expected, bytes):
            expected = str(expected).encode(self.encoding)
        if not hmac.compare_digest(expected, password):
            return False, b"Invalid password"
        return True, b"OK"

    def _authenticate_curve(self, domain: str, client_key: bytes) -> tuple[bool, Optional[bytes]]:
        if self.allow_any:
            return True, b"OK"
        z85_key = _z85().encode(client_key)
        if isinstance(z85_key, str):
            z85_key = z85_key.encode("ascii")
        domain = domain or "*"
        if self.credentials_providers:
            provider = self.credentials_providers.get(domain)
            if provider is None:
                return False, b"Unknown domain"
            try:
                verdict = _resolve(provider.callback(domain, z85_key))
            except Exception:
                self.log.exception("CURVE credentials callback failed (domain %r)", domain)
                return False, None
            return (True, b"OK") if verdict else (False, b"Unknown key")
        keys = self.certs.get(domain)
        if keys is None:
            return False, b"Unknown domain"
        return (True, b"OK") if keys.get(z85_key) else (False, b"Unknown key")

    def _reply(self, request_id: bytes, status_code: bytes, status_text: bytes,
               user_id: Union[str, bytes] = "") -> list[bytes]:
        if status_code != b"200":
            user_id = b""
        if isinstance(user_id, str):
            user_id = user_id.encode(self.encoding, "replace")
        return [VERSION, request_id, status_code, status_text, user_id, b""]

    def _send_reply(self, envelope: list[bytes], reply: list[bytes]) -> None:
        sock = self.zap_socket
        self.log.debug("ZAP reply code=%s text=%s", reply[2].decode("ascii", "replace"),
                       reply[3].decode("ascii", "replace"))
        if sock is None or sock.closed:
            self.log.error("ZAP reply dropped: the authenticator is not running")
            return
        try:
            sock.send_multipart(envelope + reply)
        except ZMQError as e:
            self.log.error("ZAP reply could not be sent: %s", e)


def _resolve(result: Any) -> Any:
    """A callback's verdict: plain values as is; gevent waitables (Greenlet, AsyncResult) are
    waited for; an awaitable is driven to completion if it never suspends (there is no asyncio
    loop to suspend to)."""
    if isinstance(result, (gevent.Greenlet, gevent.event.AsyncResult)):
        return result.get()
    await_ = getattr(result, "__await__", None)
    if await_ is None:
        return result
    iterator = await_()
    try:
        iterator.send(None)
    except StopIteration as done:
        return done.value
    # it suspended on an event-loop future: nothing here can resume it
    getattr(iterator, "close", lambda: None)()
    raise TypeError("an awaitable credentials callback needs an asyncio event loop")
