"""Events returned by :meth:`gzmq.zmtp.Connection.receive_data`.

Each event is a small plain class with ``__slots__``.  They are not frozen
dataclasses because :class:`Message` is built once per received message on
the hottest path of the library, and a trivial ``__init__`` is several times
cheaper than a frozen dataclass's ``object.__setattr__`` dance.  Treat all
events as read-only anyway.

Invariants:

* ``Message.parts`` holds immutable ``bytes`` only -- never views into a
  buffer the Connection will reuse -- and always at least one part.
* ``HandshakeComplete`` is emitted exactly once per connection, before any
  ``Message``/``Subscribe``/``Cancel``/``Ping``/``Pong`` of that connection.
* ``Subscribe``/``Cancel`` come only from ZMTP 3.1 *commands*.  A message frame
  ``b"\\x01topic"`` is an ordinary :class:`Message`: whether it means
  "subscribe" depends on the socket type, which only the socket layer knows.
* ``PeerError`` is the last event of a connection; it is emitted, not raised.
"""

from __future__ import annotations

from typing import Any, Union

__all__ = [
    "Event",
    "HandshakeComplete",
    "Message",
    "Subscribe",
    "Cancel",
    "Ping",
    "Pong",
    "PeerError",
    "AuthRequest",
    "Received",
]


class Event:
    """Base class: equality and ``repr`` from ``__slots__`` (used by tests)."""

    __slots__ = ()

    def _fields(self) -> tuple[str, ...]:
        names: tuple[str, ...] = self.__slots__
        return names

    def __eq__(self, other: object) -> bool:
        # Defining __eq__ also makes events unhashable (they hold lists).
        if type(other) is not type(self):
            return NotImplemented
        return all(getattr(self, n) == getattr(other, n) for n in self._fields())

    def __repr__(self) -> str:
        fields = ", ".join(f"{n}={getattr(self, n)!r}" for n in self._fields())
        return f"{type(self).__name__}({fields})"


class HandshakeComplete(Event):
    """The security handshake finished; messages may flow both ways now.

    ``properties`` are the peer's metadata -- from its READY (NULL, and the
    PLAIN/CURVE client side) or INITIATE (PLAIN/CURVE server side) -- names
    exactly as received (libzmq treats names case-sensitively), merged with
    the ZAP reply's metadata (ZAP wins a name clash, as in libzmq).
    ``user_id`` is the ZAP ``User-Id`` (empty without ZAP); it is not put
    into ``properties`` -- the engine exposes it as the ``User-Id`` property.
    Without ZAP metadata ``properties`` is the Connection's ``peer_properties``
    itself, not a copy: the engine adds Peer-Address and User-Id to it, so that
    an idle connection keeps one dict of properties, not three.
    """

    __slots__ = ("properties", "user_id")

    def __init__(self, properties: dict[str, bytes], user_id: bytes = b"") -> None:
        self.properties = properties
        self.user_id = user_id


class Message(Event):
    """One whole multipart message from the peer."""

    __slots__ = ("parts",)

    def __init__(self, parts: list[bytes]) -> None:
        self.parts = parts


class Subscribe(Event):
    """A ZMTP 3.1 ``SUBSCRIBE`` command (topic may be empty)."""

    __slots__ = ("topic",)

    def __init__(self, topic: bytes) -> None:
        self.topic = topic


class Cancel(Event):
    """A ZMTP 3.1 ``CANCEL`` command."""

    __slots__ = ("topic",)

    def __init__(self, topic: bytes) -> None:
        self.topic = topic


class Join(Event):
    """A ``JOIN`` command (DISH -> RADIO): the peer wants messages of ``group``.

    The group is the rest of the command body, as the peer sent it: bounding it
    (libzmq: at most 255 bytes) is the receiver's business, as is ignoring it on
    any socket but a RADIO.
    """

    __slots__ = ("group",)

    def __init__(self, group: bytes) -> None:
        self.group = group


class Leave(Event):
    """A ``LEAVE`` command (DISH -> RADIO): the peer no longer wants ``group``."""

    __slots__ = ("group",)

    def __init__(self, group: bytes) -> None:
        self.group = group


class Ping(Event):
    """The peer sent ``PING``; the ``PONG`` reply is already queued.

    ``ttl_ms`` is the peer's TTL converted from deciseconds (0 = none): if
    nothing at all arrives from the peer within it, the engine should drop the
    connection.  ``context`` is the full received context (the PONG echoes at
    most its first 16 bytes, like libzmq).
    """

    __slots__ = ("ttl_ms", "context")

    def __init__(self, ttl_ms: int, context: bytes) -> None:
        self.ttl_ms = ttl_ms
        self.context = context


class Pong(Event):
    """The peer answered one of our PINGs (only proof of liveness)."""

    __slots__ = ("context",)

    def __init__(self, context: bytes) -> None:
        self.context = context


class PeerError(Event):
    """The peer sent ``ERROR`` during the handshake; the connection is closed.

    ``reason`` is the raw reason text (libzmq sends the ZAP status code,
    ``b"400"``, ``b"500"`` ...).  Per RFC 37 and libzmq this is fatal: do not
    reconnect with the same credentials.
    """

    __slots__ = ("reason",)

    def __init__(self, reason: bytes) -> None:
        self.reason = reason


class AuthRequest(Event):
    """A mechanism asks the engine for a ZAP decision (RFC 27).

    Produced by PLAIN/CURVE servers and NULL with ``zap=True``.  The
    engine forwards it to the ZAP handler, adding what only it knows (domain,
    peer address, our routing id), then calls ``Connection.auth_reply()``.
    ``credentials`` are the mechanism-specific ZAP frames (PLAIN: username,
    password; CURVE: the client's 32-byte public key; NULL: none).
    """

    __slots__ = ("mechanism", "credentials")

    def __init__(self, mechanism: bytes, credentials: list[bytes]) -> None:
        self.mechanism = mechanism
        self.credentials = credentials


#: What the parser appends as it goes: an event, or a whole message as its bare list of parts.
#: A :class:`~gzmq.zmtp.Connection` made with ``bare_messages=True`` returns messages that way
#: (the engine's hot path: no object per message); otherwise each becomes a :class:`Message`.
Received = Union[Event, list[bytes]]
