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
     has been parsed.  The Connection checks Socket-Type *before* sending the
     replies of that step, so an incompatible peer gets nothing more.
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
   ``encode_frame``/``decode_frame`` (CURVE MESSAGE boxes).  If it is false
   the Connection never calls them and uses its own copy-free fast path.

Rule: a mechanism reports peer misbehaviour by raising ``ProtocolError`` with
the libzmq code; ``ERROR`` without ``peer_error`` is only for our own ZAP
refusal.
"""

from __future__ import annotations

import abc
import enum
from collections.abc import Mapping
from typing import ClassVar

from .codec import decode_metadata, encode_frame, parse_error_reason
from .errors import LocalProtocolError, ProtocolError, ProtocolErrorCode
from .events import AuthRequest

__all__ = ["MechanismStatus", "Mechanism", "NullMechanism"]


class MechanismStatus(enum.Enum):
    HANDSHAKING = "HANDSHAKING"
    READY = "READY"
    ERROR = "ERROR"


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
        #: Reason of a received ERROR command (status is then ERROR).
        self.peer_error: bytes | None = None
        #: ZAP User-Id of the peer, once authenticated (empty without ZAP).
        self.user_id: bytes = b""

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
        return None

    def auth_reply(
        self, status_code: bytes, user_id: bytes, metadata: Mapping[str, bytes]
    ) -> list[bytes]:
        """Resume the handshake with a ZAP verdict; return bodies to send."""
        raise LocalProtocolError(f"{self.name!r} mechanism has no ZAP request pending")

    def encode_frame(self, body: bytes, flags: int) -> bytes:
        """Wire bytes for one logical frame (MORE/COMMAND in ZMTP bits)."""
        return encode_frame(body, flags)

    def decode_frame(self, flags: int, body: bytes) -> tuple[int, bytes]:
        """Logical ``(flags, body)`` of one received frame.

        Raises ProtocolError: a frame that cannot be authenticated/decoded.
        """
        return flags, body


def _unexpected(body: bytes) -> ProtocolError:
    return ProtocolError(
        f"unexpected handshake command {bytes(body[:16])!r}",
        ProtocolErrorCode.ZMTP_UNEXPECTED_COMMAND,
    )


class NullMechanism(Mechanism):
    """ZMTP NULL (RFC 37, libzmq ``null_mechanism_t``), without ZAP.

    Both sides send READY immediately after the greeting; the handshake is
    done when ours is sent and the peer's has arrived.  Any second command,
    or anything but READY/ERROR, is UNEXPECTED_COMMAND.  A libzmq NULL server
    with ``ZMQ_ZAP_DOMAIN`` may send ERROR instead of READY.
    """

    name = b"NULL"

    def start(self, metadata: bytes) -> list[bytes]:
        return [b"\x05READY" + metadata]

    def receive_command(self, body: bytes) -> list[bytes]:
        if self.status is not MechanismStatus.HANDSHAKING:
            raise _unexpected(body)
        # libzmq matches the 6-byte prefix, i.e. name-len + name.
        prefix = body[:6]
        if prefix == b"\x05READY":
            self.peer_properties = decode_metadata(body[6:])
            self.status = MechanismStatus.READY
        elif prefix == b"\x05ERROR":
            self.peer_error = bytes(parse_error_reason(body[6:]))
            self.status = MechanismStatus.ERROR
        else:
            raise _unexpected(body)
        return []
