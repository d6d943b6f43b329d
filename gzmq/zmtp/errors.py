"""Errors raised by the sans-IO ZMTP layer.

Two kinds of failure, kept apart on purpose (the h11 split):

* :class:`ProtocolError` -- *the peer* broke ZMTP (bad greeting, mechanism
  mismatch, malformed or unexpected command, incompatible socket type, frame
  over ``max_message_size`` ...).  It carries ``code``, the
  ``ZMQ_PROTOCOL_ERROR_*`` number that libzmq would report in a
  ``ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL`` monitor event.  The connection that
  raised it is dead (state ``CLOSED``); the engine turns the error into a
  monitor event plus a disconnect and never shows it to the user.
* :class:`LocalProtocolError` -- *our side* misused the API (sending before
  the handshake finished, feeding a closed connection, calling ``initiate()``
  twice).  It is always a bug in the caller, never something a peer can cause.

Neither derives from the other, so ``except ProtocolError`` in the engine can
never swallow one of our own bugs.  Both derive from :class:`ZMTPError`.

Invariant: any exception out of :mod:`gzmq.zmtp` other than these two is a bug
in this package.
"""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from .events import Received

__all__ = ["ProtocolErrorCode", "ZMTPError", "ProtocolError", "LocalProtocolError"]


class ProtocolErrorCode(enum.IntEnum):
    """``ZMQ_PROTOCOL_ERROR_*`` values from ``zmq.h`` (extras.md §1.1).

    The ZAP codes are listed here too so that the ZAP client (added with
    PLAIN/CURVE) reports through the same type.
    """

    ZMTP_UNSPECIFIED = 0x10000000
    ZMTP_UNEXPECTED_COMMAND = 0x10000001
    ZMTP_INVALID_SEQUENCE = 0x10000002
    ZMTP_KEY_EXCHANGE = 0x10000003
    ZMTP_MALFORMED_COMMAND_UNSPECIFIED = 0x10000011
    ZMTP_MALFORMED_COMMAND_MESSAGE = 0x10000012
    ZMTP_MALFORMED_COMMAND_HELLO = 0x10000013
    ZMTP_MALFORMED_COMMAND_INITIATE = 0x10000014
    ZMTP_MALFORMED_COMMAND_ERROR = 0x10000015
    ZMTP_MALFORMED_COMMAND_READY = 0x10000016
    ZMTP_MALFORMED_COMMAND_WELCOME = 0x10000017
    ZMTP_INVALID_METADATA = 0x10000018
    ZMTP_CRYPTOGRAPHIC = 0x11000001
    ZMTP_MECHANISM_MISMATCH = 0x11000002
    ZAP_UNSPECIFIED = 0x20000000
    ZAP_MALFORMED_REPLY = 0x20000001
    ZAP_BAD_REQUEST_ID = 0x20000002
    ZAP_BAD_VERSION = 0x20000003
    ZAP_INVALID_STATUS_CODE = 0x20000004
    ZAP_INVALID_METADATA = 0x20000005
    WS_UNSPECIFIED = 0x30000000


class ZMTPError(Exception):
    """Base class of every error this package raises on purpose."""


class ProtocolError(ZMTPError):
    """The peer violated ZMTP; the connection is closed.

    ``code`` is a :class:`ProtocolErrorCode` (an ``int``), suitable as the
    value of a ``HANDSHAKE_FAILED_PROTOCOL`` monitor event.
    """

    def __init__(
        self, message: str, code: int = ProtocolErrorCode.ZMTP_UNSPECIFIED
    ) -> None:
        super().__init__(message)
        self.code: int = code
        #: Events parsed from the same ``receive_data()`` call *before* the
        #: violation (e.g. whole messages ahead of a bad frame).  libzmq
        #: delivers those, so the engine may too before it disconnects.
        self.events: list[Received] = []

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.args[0]!r}, code={self.code:#x})"


class LocalProtocolError(ZMTPError):
    """Our side called the API in a state where that is not allowed."""
