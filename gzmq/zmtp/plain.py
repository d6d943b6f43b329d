"""ZMTP PLAIN (RFC 24) with libzmq 4.3.5's behaviour (security.md §3).

Flow::

    C: HELLO(username, password)        sent right after the greeting
    S: [ZAP request PLAIN, username, password]   (zap=True)
       200 -> WELCOME | 300 -> nothing | 400/500 -> ERROR(code)
    C: INITIATE(metadata)
    S: READY(metadata)                  server done once READY is returned
    C: on READY                         client done

Command bodies::

    HELLO     05 HELLO ulen(1) username plen(1) password   (no trailing bytes)
    WELCOME   07 WELCOME                                    (exactly 8 bytes)
    INITIATE  08 INITIATE metadata
    READY     05 READY metadata
    ERROR     05 ERROR rlen(1) reason    or libzmq's 5E RROR rlen(1) reason

The libzmq ERROR quirk (security.md §3.3): libzmq writes the PLAIN ERROR
prefix as the C literal ``"\\x05ERROR"``, whose hex escape swallows the ``E``,
so its bytes are ``5E 'RROR'`` and a libzmq PLAIN client only recognises that
form.  Our client accepts both; our server sends the libzmq form by default
(``libzmq_error_quirk=True``) so that a libzmq client reports
HANDSHAKE_FAILED_AUTH with the status code instead of a protocol error.

ZAP: ``PlainServer(zap=True)`` raises ``AuthRequest(b"PLAIN", [username,
password])`` after a valid HELLO and waits for ``auth_reply``.  libzmq
*requires* a ZAP handler for a PLAIN server (no handler -> the connection is
closed without ERROR); that policy is the engine's: with no handler it should
close the connection (or call ``auth_reply(b"300")``, which fails the
handshake without sending anything).  ``zap=False`` accepts every HELLO --
only for an engine that has already decided to.

Error codes are libzmq's: a wrong command name is UNEXPECTED_COMMAND, a bad
HELLO/WELCOME/ERROR body is MALFORMED_COMMAND_HELLO/WELCOME/ERROR, bad
metadata INVALID_METADATA, a command while the server waits for ZAP
ZMTP_UNSPECIFIED (libzmq's default case).
"""

from __future__ import annotations

from .codec import parse_error_reason
from .errors import ProtocolError, ProtocolErrorCode
from .mechanism import HandshakeState as _State  # one set of states for PLAIN and CURVE
from .mechanism import Mechanism, MechanismStatus

__all__ = ["PlainClient", "PlainServer"]

_HELLO = b"\x05HELLO"
_WELCOME = b"\x07WELCOME"
_INITIATE = b"\x08INITIATE"
_READY = b"\x05READY"
_ERROR = b"\x05ERROR"
#: libzmq's PLAIN ERROR prefix: "\x05E" parsed by C as the single byte 0x5E.
_ERROR_QUIRK = b"\x5eRROR"


def _error(message: str, code: ProtocolErrorCode) -> ProtocolError:
    return ProtocolError(f"PLAIN: {message}", code)


def _check_credential(value: bytes, what: str) -> bytes:
    raw = bytes(value)
    if len(raw) > 255:
        raise ValueError(f"PLAIN {what} is limited to 255 bytes")
    return raw


class PlainClient(Mechanism):
    """PLAIN client side (``ZMQ_PLAIN_USERNAME`` / ``ZMQ_PLAIN_PASSWORD``).

    :param username: 0..255 bytes.
    :param password: 0..255 bytes.
    :raises ValueError: a credential longer than 255 bytes.
    """

    name = b"PLAIN"

    def __init__(self, username: bytes, password: bytes) -> None:
        super().__init__()
        self.username = _check_credential(username, "username")
        self.password = _check_credential(password, "password")
        self._state = _State.WAIT_WELCOME

    def start(self, metadata: bytes) -> list[bytes]:
        self._metadata = metadata
        u, p = self.username, self.password
        return [_HELLO + bytes((len(u),)) + u + bytes((len(p),)) + p]

    def receive_command(self, body: bytes) -> list[bytes]:
        # Dispatch by prefix in libzmq's order (WELCOME, READY, ERROR).
        state = self._state
        if body[:8] == _WELCOME:
            if state is not _State.WAIT_WELCOME:
                raise _error("unexpected WELCOME", ProtocolErrorCode.ZMTP_UNEXPECTED_COMMAND)
            if len(body) != 8:
                raise _error(
                    f"WELCOME of {len(body)} bytes",
                    ProtocolErrorCode.ZMTP_MALFORMED_COMMAND_WELCOME,
                )
            self._state = _State.WAIT_READY
            return [_INITIATE + self._metadata]
        if body[:6] == _READY:
            if state is not _State.WAIT_READY:
                raise _error("unexpected READY", ProtocolErrorCode.ZMTP_UNEXPECTED_COMMAND)
            self._parse_peer_metadata(body[6:])
            self._state = _State.DONE
            self.status = MechanismStatus.READY
            return []
        if body[:6] == _ERROR or body[:5] == _ERROR_QUIRK:
            if state is not _State.WAIT_WELCOME and state is not _State.WAIT_READY:
                raise _error("unexpected ERROR", ProtocolErrorCode.ZMTP_UNEXPECTED_COMMAND)
            start = 6 if body[:6] == _ERROR else 5
            self.peer_error = bytes(parse_error_reason(body[start:]))
            self._state = _State.DONE
            self.status = MechanismStatus.ERROR
            return []
        raise _error(
            f"unexpected command {bytes(body[:16])!r}", ProtocolErrorCode.ZMTP_UNEXPECTED_COMMAND
        )


class PlainServer(Mechanism):
    """PLAIN server side (``ZMQ_PLAIN_SERVER``).

    :param zap: raise a ZAP request for each HELLO (libzmq always does);
        ``False`` accepts any username/password without asking.
    :param libzmq_error_quirk: send ERROR as libzmq does (``5E 'RROR'``) so
        libzmq clients report HANDSHAKE_FAILED_AUTH; ``False`` sends the RFC
        form ``05 'ERROR'``.
    """

    name = b"PLAIN"

    def __init__(self, zap: bool = True, libzmq_error_quirk: bool = True) -> None:
        super().__init__()
        self.zap = zap
        self.libzmq_error_quirk = libzmq_error_quirk
        self._state = _State.WAIT_HELLO
        #: Credentials from the client's HELLO (for logging; the ZAP request
        #: carries them too).
        self.username = b""
        self.password = b""

    def start(self, metadata: bytes) -> list[bytes]:
        self._metadata = metadata
        return []  # the client speaks first

    def receive_command(self, body: bytes) -> list[bytes]:
        state = self._state
        if state is _State.WAIT_HELLO:
            return self._hello(body)
        if state is _State.WAIT_INITIATE:
            if body[:9] != _INITIATE:
                raise _error(
                    f"expected INITIATE, got {bytes(body[:16])!r}",
                    ProtocolErrorCode.ZMTP_UNEXPECTED_COMMAND,
                )
            self._parse_peer_metadata(body[9:])
            self._state = _State.DONE
            self.status = MechanismStatus.READY
            return [_READY + self._metadata]
        # Waiting for ZAP (the client must wait for WELCOME): libzmq's
        # "invalid state" branch.
        raise _error("command while waiting for ZAP", ProtocolErrorCode.ZMTP_UNSPECIFIED)

    def _hello(self, body: bytes) -> list[bytes]:
        n = len(body)
        # libzmq check_basic_command_structure: name-len must fit.
        if n <= 1 or n <= body[0]:
            raise _error("malformed command", ProtocolErrorCode.ZMTP_MALFORMED_COMMAND_UNSPECIFIED)
        if body[:6] != _HELLO:
            raise _error(
                f"expected HELLO, got {bytes(body[:16])!r}",
                ProtocolErrorCode.ZMTP_UNEXPECTED_COMMAND,
            )
        # Exact parse: ulen username plen password and nothing after.
        malformed = ProtocolErrorCode.ZMTP_MALFORMED_COMMAND_HELLO
        pos = 6
        if pos >= n:
            raise _error("HELLO without username", malformed)
        ulen = body[pos]
        pos += 1
        if n - pos < ulen:
            raise _error("HELLO username truncated", malformed)
        username = bytes(body[pos : pos + ulen])
        pos += ulen
        if pos >= n:
            raise _error("HELLO without password", malformed)
        plen = body[pos]
        pos += 1
        if n - pos != plen:
            raise _error("HELLO password truncated or trailing bytes", malformed)
        self.username, self.password = username, bytes(body[pos:])
        if self.zap:
            self._state = _State.WAIT_ZAP
            self._request_auth(b"PLAIN", [self.username, self.password])
            return []
        self._state = _State.WAIT_INITIATE
        return [_WELCOME]

    def _zap_accepted(self) -> list[bytes]:
        self._state = _State.WAIT_INITIATE
        return [_WELCOME]

    def _error_body(self, reason: bytes) -> bytes:
        prefix = _ERROR_QUIRK if self.libzmq_error_quirk else _ERROR
        return prefix + bytes((len(reason),)) + reason
