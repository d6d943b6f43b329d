"""Sans-IO ZMTP 3.x: bytes in, events out; messages in, bytes out.

Speaks the wire protocol exactly like libzmq 4.3.5 (see shared/spec/zmtp.md).

Rule: this package imports nothing outside the standard library, PyNaCl
(``nacl``: pure computation, for CURVE and key helpers) and ``gzmq.zmtp``
itself -- no gevent, greenlet, socket, select, time, and nothing else from
``gzmq``.  A test imports it with those modules poisoned.

Typical use by an engine::

    conn = Connection("DEALER", NullMechanism())
    stream.sendall(conn.initiate())
    while True:
        events = conn.receive_data(stream.recv(65536))   # may raise ProtocolError
        stream.sendall(conn.data_to_send())
        for event in events: ...
"""

from __future__ import annotations

from . import z85
from .codec import encode_message
from .connection import Connection, ConnectionState
from .errors import LocalProtocolError, ProtocolError, ProtocolErrorCode, ZMTPError
from .events import (
    AuthRequest,
    Cancel,
    Event,
    HandshakeComplete,
    Join,
    Leave,
    Message,
    PeerError,
    Ping,
    Pong,
    Subscribe,
)
from .mechanism import ZAP_STATUS_CODES, Mechanism, MechanismStatus, NullMechanism
from .plain import PlainClient, PlainServer
from .radio import GROUP_MAX_LENGTH, MAX_DATAGRAM, decode_datagram, encode_datagram
from .sockettypes import COMPATIBLE, SOCKET_TYPE_NUMBERS, is_compatible

__all__ = [
    "Connection",
    "ConnectionState",
    "Mechanism",
    "MechanismStatus",
    "NullMechanism",
    "PlainClient",
    "PlainServer",
    "CurveClient",
    "CurveServer",
    "ZAP_STATUS_CODES",
    "z85",
    "Event",
    "HandshakeComplete",
    "Message",
    "Subscribe",
    "Cancel",
    "Join",
    "Leave",
    "Ping",
    "Pong",
    "PeerError",
    "AuthRequest",
    "ZMTPError",
    "ProtocolError",
    "LocalProtocolError",
    "ProtocolErrorCode",
    "COMPATIBLE",
    "SOCKET_TYPE_NUMBERS",
    "is_compatible",
    "encode_message",
    "GROUP_MAX_LENGTH",
    "MAX_DATAGRAM",
    "encode_datagram",
    "decode_datagram",
]


def __getattr__(name: str) -> object:
    # CURVE needs libsodium (PyNaCl); load it on first use so that NULL and PLAIN (and
    # importing the protocol at all) do not.
    if name in ("CurveClient", "CurveServer"):
        from . import curve

        return getattr(curve, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
