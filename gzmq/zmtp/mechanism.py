"""Security mechanisms: the handshake between greeting and traffic.

A :class:`Mechanism` is a sans-IO state machine driven by the Connection.
It deals in *command bodies* (``name-len name data``), never in frames or
bytes on the wire: the Connection adds frame headers, so a mechanism cannot
get framing wrong.

Protocol between Connection and Mechanism
-----------------------------------------

1. When the peer's full greeting has been checked, the Connection calls
   ``start(metadata)`` and sends the returned bodies.  *metadata* is our
   encoded property block (Socket-Type, Identity, X-...) -- building it is the
   Connection's job; the mechanism decides which command carries it (NULL:
   READY; PLAIN/CURVE client: INITIATE; PLAIN/CURVE server: READY).
2. Each handshake command from the peer goes to ``receive_command(body)``,
   which returns bodies to send (possibly none) or raises ``ProtocolError``.
3. After each step the Connection looks at:

   * ``peer_properties`` -- set (not ``None``) as soon as the peer's metadata
     has been parsed, with ``peer_socket_types`` (every Socket-Type value, for a
     peer that repeats it).  The Connection checks Socket-Type *before* sending
     the replies of that step, so an incompatible peer gets nothing more.
   * ``take_auth_request()`` -- a pending ZAP request, if any.  The Connection
     emits it as an ``AuthRequest`` event; the engine later calls
     ``Connection.auth_reply()``, which lands in ``auth_reply()`` here.  This
     is how the asynchronous ZAP step fits a synchronous state machine.
   * ``status`` -- ``READY``: handshake done (all our commands have been
     returned and the peer's final command received); ``ERROR`` with
     ``peer_error`` set: the peer sent ERROR (emitted as ``PeerError``);
     ``ERROR`` without ``peer_error``: *we* refused the peer in
     ``auth_reply()`` (ZAP 300/400/500) -- the Connection closes but keeps
     the returned ERROR command (if any) for ``data_to_send()``.

4. After the handshake, if ``encrypts`` is true, every frame goes through
   ``encode_frame``/``decode_frame`` (CURVE MESSAGE boxes), or their batch forms
   ``encode_messages``/``frame_decoder``.  If it is false
   the Connection never calls them and uses its own copy-free fast path.

Rule: a mechanism reports peer misbehaviour by raising ``ProtocolError`` with
the libzmq code; ``ERROR`` without ``peer_error`` is only for our own ZAP
refusal.

ZAP verdicts (``auth_reply``), the same for every mechanism (libzmq
``zap_client_common_handshake_t``): ``200`` resumes the handshake and sets
``user_id`` and ``zap_properties``; ``300`` fails without sending anything
(the peer just sees the connection drop, and may reconnect); ``400``/``500``
send ``ERROR`` with the code as reason, then fail.  Any other status code is
a ``ProtocolError`` (ZAP_INVALID_STATUS_CODE).  *Whether* to ask ZAP at all is
the engine's decision, passed to the mechanism's constructor (``zap=``).
"""

from __future__ import annotations

import abc
import enum
from collections.abc import Callable, Iterable, Mapping, Sequence
from types import MappingProxyType
from typing import ClassVar

from .codec import FLAG_MORE, decode_metadata, encode_frame, error_body, parse_error_reason
from .errors import LocalProtocolError, ProtocolError, ProtocolErrorCode
from .events import AuthRequest

__all__ = ["MechanismStatus", "Mechanism", "NullMechanism", "ZAP_STATUS_CODES"]

#: The status codes libzmq accepts in a ZAP reply (security.md §5.3).
ZAP_STATUS_CODES = (b"200", b"300", b"400", b"500")
#: no ZAP metadata (shared: an empty dict per connection costs 64 bytes)
_NO_PROPERTIES: Mapping[str, bytes] = MappingProxyType({})


class MechanismStatus(enum.Enum):
    HANDSHAKING = "HANDSHAKING"
    READY = "READY"
    ERROR = "ERROR"


class HandshakeState(enum.Enum):
    """Where a PLAIN or CURVE handshake stands: both are the same four-command dance
    (client HELLO, server WELCOME, client INITIATE, server READY), with ZAP on the server
    between the client's credentials and its answer to them."""

    WAIT_HELLO = 1
    WAIT_WELCOME = 2
    WAIT_INITIATE = 3
    WAIT_ZAP = 4
    WAIT_READY = 5
    DONE = 6


class Mechanism(abc.ABC):
    """Interface of NULL, PLAIN and CURVE (see the module docstring)."""

    #: Name announced in the greeting, 1..20 ASCII bytes, unpadded.
    name: ClassVar[bytes]
    #: True if frames must pass through encode_frame/decode_frame once READY.
    encrypts: ClassVar[bool] = False

    def __init__(self) -> None:
        #: Greeting as-server byte.  libzmq always sends 0 and ignores it;
        #: a PLAIN/CURVE server may set 1 (RFC-correct, harmless).
        self.as_server: bool = False
        self.status: MechanismStatus = MechanismStatus.HANDSHAKING
        #: The peer's metadata once parsed, names as received.
        self.peer_properties: dict[str, bytes] | None = None
        #: Every Socket-Type value in the peer's metadata, in order (a name may repeat;
        #: ``peer_properties`` keeps the first value, and the Connection checks them all,
        #: then empties this: a handshake-only list an idle connection need not keep).
        self.peer_socket_types: Sequence[bytes] = ()
        #: Reason of a received ERROR command (status is then ERROR).
        self.peer_error: bytes | None = None
        #: ZAP User-Id of the peer, once authenticated (empty without ZAP).
        self.user_id: bytes = b""
        #: ZAP reply metadata (200 only).  libzmq turns them into message
        #: properties; the Connection merges them into HandshakeComplete.
        self.zap_properties: Mapping[str, bytes] = _NO_PROPERTIES
        #: Our encoded property block, kept by ``start()`` for the command
        #: that carries it later (READY after ZAP, INITIATE, the server's READY).
        self._metadata = b""
        self._auth_request: AuthRequest | None = None
        self._zap_pending = False

    def _parse_peer_metadata(self, data: bytes) -> None:
        """``peer_properties`` and ``peer_socket_types`` from the peer's metadata block.

        Raises ProtocolError (INVALID_METADATA): malformed metadata.
        """
        socket_types: list[bytes] = []
        self.peer_properties = decode_metadata(data, socket_types)
        self.peer_socket_types = socket_types

    @abc.abstractmethod
    def start(self, metadata: bytes) -> list[bytes]:
        """Command bodies to send right after the greeting."""

    @abc.abstractmethod
    def receive_command(self, body: bytes) -> list[bytes]:
        """Process one handshake command; return command bodies to send.

        Raises ProtocolError: unexpected or malformed command.
        """

    def take_auth_request(self) -> AuthRequest | None:
        """Return (once) a ZAP request the mechanism is waiting on."""
        request, self._auth_request = self._auth_request, None
        return request

    def _request_auth(self, mechanism: bytes, credentials: list[bytes]) -> None:
        # Subclasses call this where libzmq calls send_zap_request().
        self._auth_request = AuthRequest(mechanism, credentials)
        self._zap_pending = True

    def auth_reply(
        self, status_code: bytes, user_id: bytes, metadata: Mapping[str, bytes]
    ) -> list[bytes]:
        """Resume the handshake with a ZAP verdict; return bodies to send.

        The verdict is handled here, the same for every mechanism (see the
        module docstring): on 200 ``_zap_accepted()`` says what follows;
        otherwise the handshake fails with ``[]`` (300) or ``[ERROR]``
        (400/500) to send.

        Raises LocalProtocolError: no ZAP request pending.
        Raises ProtocolError: a status code libzmq does not accept.
        """
        if not self._zap_pending:
            raise LocalProtocolError(f"{self.name!r} mechanism has no ZAP request pending")
        self._zap_pending = False
        self._auth_request = None
        status_code = bytes(status_code)
        if status_code not in ZAP_STATUS_CODES:
            raise ProtocolError(
                f"invalid ZAP status code {status_code[:16]!r}",
                ProtocolErrorCode.ZAP_INVALID_STATUS_CODE,
            )
        if status_code == b"200":
            self.user_id = bytes(user_id)
            self.zap_properties = dict(metadata)
            return self._zap_accepted()
        # status ERROR ends the handshake: the Connection closes and feeds us
        # nothing more.
        self.status = MechanismStatus.ERROR
        # 300 is a temporary failure: libzmq sends nothing, so the peer
        # reconnects; 400/500 are final and say so with ERROR.
        return [] if status_code == b"300" else [self._error_body(status_code)]

    def _zap_accepted(self) -> list[bytes]:
        """Continue the handshake after ZAP 200: the bodies held back for it.

        Only a mechanism that calls ``_request_auth`` gets here.
        """
        raise NotImplementedError(f"{type(self).__name__} asked ZAP but cannot resume")

    def _error_body(self, reason: bytes) -> bytes:
        """Our ERROR command; PLAIN overrides it for the libzmq quirk."""
        return error_body(reason)

    def encode_frame(self, body: bytes, flags: int) -> bytes:
        """Wire bytes for one logical frame (MORE/COMMAND in ZMTP bits)."""
        return encode_frame(body, flags)

    def decode_frame(self, flags: int, body: bytes) -> tuple[int, bytes]:
        """Logical ``(flags, body)`` of one received frame.

        Raises ProtocolError: a frame that cannot be authenticated/decoded.
        """
        return flags, body

    def encode_messages(self, messages: Iterable[Sequence[bytes]], out: list[bytes]) -> None:
        """Append the wire bytes of whole messages to *out*, in as many chunks as the
        mechanism likes (one ``encode_frame`` each here; CURVE boxes a batch at once).

        Raises LocalProtocolError: a message with no parts.
        """
        encode = self.encode_frame
        for parts in messages:
            last = len(parts) - 1
            if last < 0:
                raise LocalProtocolError("a message needs at least one part")
            for index, part in enumerate(parts):
                out.append(encode(bytes(part), FLAG_MORE if index < last else 0))

    def frame_decoder(self, data: bytes) -> Callable[[int, int, int], tuple[int, bytes]]:
        """``decode(flags, start, end)``: ``decode_frame`` of the frame of *data* whose body
        is ``data[start:end]`` (the receive loop of one read; CURVE opens it by offset)."""
        decode = self.decode_frame
        return lambda flags, start, end: decode(flags, data[start:end])


def _unexpected(body: bytes) -> ProtocolError:
    return ProtocolError(
        f"unexpected handshake command {bytes(body[:16])!r}",
        ProtocolErrorCode.ZMTP_UNEXPECTED_COMMAND,
    )


class NullMechanism(Mechanism):
    """ZMTP NULL (RFC 37, libzmq ``null_mechanism_t``), optionally with ZAP.

    Without ZAP both sides send READY immediately after the greeting; the
    handshake is done when ours is sent and the peer's has arrived.  Any
    second command, or anything but READY/ERROR, is UNEXPECTED_COMMAND.  A
    libzmq NULL server with ``ZMQ_ZAP_DOMAIN`` may send ERROR instead of READY.

    With ``zap=True`` (the engine's choice: ``ZMQ_ZAP_DOMAIN`` set and a
    handler bound) the ZAP request (mechanism ``NULL``, no credentials) is
    raised right after the greeting -- where libzmq's
    ``next_handshake_command`` sends it -- and our READY is held back until
    ``auth_reply`` says 200.  The peer's READY may arrive before or after the
    verdict; the handshake ends when both are in.
    """

    name = b"NULL"

    def __init__(self, zap: bool = False) -> None:
        super().__init__()
        self.zap = zap
        self._peer_ready = False
        self._ready_sent = False

    def start(self, metadata: bytes) -> list[bytes]:
        if self.zap:
            self._metadata = metadata
            self._request_auth(b"NULL", [])
            return []
        self._ready_sent = True
        return [b"\x05READY" + metadata]

    def receive_command(self, body: bytes) -> list[bytes]:
        if self.status is not MechanismStatus.HANDSHAKING or self._peer_ready:
            raise _unexpected(body)
        # libzmq matches the 6-byte prefix, i.e. name-len + name.
        prefix = body[:6]
        if prefix == b"\x05READY":
            self._parse_peer_metadata(body[6:])
            self._peer_ready = True
            if self._ready_sent:
                self.status = MechanismStatus.READY
        elif prefix == b"\x05ERROR":
            self.peer_error = bytes(parse_error_reason(body[6:]))
            self.status = MechanismStatus.ERROR
        else:
            raise _unexpected(body)
        return []

    def _zap_accepted(self) -> list[bytes]:
        self._ready_sent = True
        if self._peer_ready:
            self.status = MechanismStatus.READY
        return [b"\x05READY" + self._metadata]
