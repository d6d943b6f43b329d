"""``Connection``: one ZMTP 3.x conversation as a sans-IO state machine.

Bytes go in through :meth:`Connection.receive_data` and come back as events;
bytes to write come out of :meth:`~Connection.data_to_send`,
:meth:`~Connection.send_message` and friends.  No I/O, no clock, no threads:
the engine owns the socket and the timers.

Phases (``conn.state``)::

    GREETING --peer's 64 bytes OK--> HANDSHAKE --mechanism READY--> READY
        |                               |                             |
        +--------- ProtocolError / PeerError / (nothing else) -------> CLOSED

* GREETING.  ``initiate()`` gives our first 11 bytes (signature + major).
  The other 53 are queued once the peer's first 11 bytes look like ZMTP 3,
  exactly like libzmq's staged greeting (zmtp.md §2.2): waiting for all 64
  before answering would deadlock against libzmq.  Each byte is checked as
  soon as it arrives.
* HANDSHAKE.  Only command frames, all handed to the mechanism.  A message
  frame here is UNEXPECTED_COMMAND.  Socket-Type is checked as soon as the
  mechanism has parsed the peer's metadata.
* READY.  Messages and commands.  PING is answered (PONG queued), SUBSCRIBE
  and CANCEL become events, every other command -- late READY/ERROR, JOIN,
  unknown names -- is ignored, as libzmq does.  Commands may sit between two
  frames of a multipart message without disturbing it.
* CLOSED.  Terminal.  Feeding or sending raises ``LocalProtocolError``.
  After a ProtocolError or PeerError ``data_to_send()`` returns ``b""`` (a
  dead connection writes nothing); after we refused the peer through
  ``auth_reply()`` it still holds our ERROR command, to be flushed.

Receive buffering lives in :class:`~gzmq.zmtp.reader.FrameReader` (O(n) for
large frames, one copy per body; memory grows with the bytes received, never
with a size a header declares).  Input that is not ``bytes`` (a reused
``bytearray``/``memoryview``) is copied on entry, so parts handed out are
always fresh, immutable ``bytes``.

Bounded parsing: ``receive_data(data, max_messages=n)`` returns at most *n*
messages (and subscriptions); the input it did not parse stays in the
Connection as raw bytes (``held_input``), and ``next_events(n)`` goes on with
it without new data.  An engine passes the room left in its receive queue, so
a burst of tiny messages costs 2 bytes each on the wire, not a Message object
each beyond RCVHWM.  The bound counts every frame parsed after the handshake
(each frame of a multipart message, and each command): it costs no comparison
per frame, and a call may return fewer than *n* messages with input still held.

Bare messages: a Connection made with ``bare_messages=True`` returns each message as its
list of parts instead of a :class:`Message` event (the parser builds the list anyway; the
engine's receive path then allocates nothing more per message). Other events are unchanged.

Hostile input: for any bytes, ``receive_data``/``received_into``/``auth_reply``
raise nothing but ``ProtocolError`` (``LocalProtocolError`` only for misuse by
the caller); tests/zmtp/test_fuzz.py checks this with generated input.

Output ordering: ``data_to_send()`` holds protocol output in the order it was
produced.  Messages are encoded by the caller (``send_message`` /
``encode_messages``) and written by the engine; they are only allowed in
READY, i.e. after the peer's READY arrived (libzmq drops a peer that sends
data earlier, zmtp.md §11).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence

from .codec import (
    FLAG_COMMAND, GREETING_SIZE, MAX_HANDSHAKE_FRAME, SNIFF_SIZE,
    check_greeting_prefix, decode_greeting, encode_command, encode_frame, encode_greeting,
    encode_message, encode_messages_into, encode_metadata, parse_ping, ping_body, pong_body,
    split_command,
)
from .errors import LocalProtocolError, ProtocolError, ProtocolErrorCode
from .events import (
    Cancel,
    Event,
    HandshakeComplete,
    Join,
    Leave,
    Message,
    PeerError,
    Ping,
    Pong,
    Received,
    Subscribe,
)
from .mechanism import Mechanism, MechanismStatus, NullMechanism
from .radio import JOIN_PREFIX, LEAVE_PREFIX, check_group
from .reader import FrameReader
from .sockettypes import COMPATIBLE, SOCKET_TYPE_NUMBERS, announced_properties

__all__ = ["ConnectionState", "Connection"]


class ConnectionState(enum.Enum):
    GREETING = "GREETING"
    HANDSHAKE = "HANDSHAKE"
    READY = "READY"
    CLOSED = "CLOSED"


#: what the largest command carrying our metadata adds to it (CURVE INITIATE: 257 bytes)
_LARGEST_COMMAND_OVERHEAD = 257
#: a peer's Socket-Type value -> (that value, its name), one object each for every peer
_KNOWN_TYPES: dict[bytes, tuple[bytes, str]] = {
    name.encode(): (name.encode(), name) for name in SOCKET_TYPE_NUMBERS
}

GREETING = ConnectionState.GREETING
HANDSHAKE = ConnectionState.HANDSHAKE
READY = ConnectionState.READY
CLOSED = ConnectionState.CLOSED


class Connection:
    """The ZMTP state machine for one peer.

    :param socket_type: our Socket-Type (``"DEALER"`` ...); sent in metadata
        and used to judge the peer's.
    :param mechanism: a fresh :class:`Mechanism` (default NULL).
    :param identity: our ``ZMQ_ROUTING_ID`` (0..255 bytes).  Sent as the
        ``Identity`` property iff we are REQ, DEALER or ROUTER, even empty.
    :param metadata: application properties, names starting with ``X-``;
        sent sorted by name after Socket-Type/Identity (libzmq order).
    :param max_message_size: ``ZMQ_MAXMSGSIZE``, -1 = none: the limit on each frame,
        *and* on the sum of the frames of a multipart message.  libzmq checks each
        frame only (an endless run of small MORE frames then grows without bound):
        bounding the whole message is a deliberate difference.  Frames larger than
        ``codec.MAX_HANDSHAKE_FRAME`` are refused until the handshake is complete.
    :param bare_messages: return each message as its ``list[bytes]`` of parts rather than
        a :class:`Message` (see "Bare messages" in the module docstring).
    :raises ValueError: a socket type without ZMTP, or bad identity/metadata
        (including metadata too large for a handshake command).
    """

    def __init__(
        self,
        socket_type: str,
        mechanism: Mechanism | None = None,
        identity: bytes = b"",
        metadata: Mapping[str, bytes] | None = None,
        max_message_size: int = -1,
        bare_messages: bool = False,
    ) -> None:
        if not COMPATIBLE.get(socket_type):
            raise ValueError(f"socket type {socket_type!r} does not speak ZMTP")
        if len(identity) > 255:
            raise ValueError("routing id is limited to 255 bytes")
        self.socket_type = socket_type
        self.mechanism: Mechanism = mechanism if mechanism is not None else NullMechanism()
        self.identity = bytes(identity)
        self.max_message_size = max_message_size
        self.state = GREETING
        #: Peer greeting version; ``None`` until its greeting has arrived.
        #: ``peer_minor`` is the raw byte (0 = ZMTP 3.0).
        self.peer_major: int | None = None
        self.peer_minor: int | None = None
        #: Peer metadata (names as received) once the handshake parsed it; the
        #: dict HandshakeComplete hands on when there is no ZAP metadata.
        self.peer_properties: dict[str, bytes] = {}
        self.peer_socket_type: str | None = None

        self._greeting = encode_greeting(
            self.mechanism.name, self.mechanism.as_server, len(self.identity)
        )
        self._metadata = encode_metadata(
            announced_properties(socket_type, self.identity, metadata or {})
        )
        if len(self._metadata) + _LARGEST_COMMAND_OVERHEAD > MAX_HANDSHAKE_FRAME:
            # we would send a command that we (and every gzmq peer) refuse
            raise ValueError(
                f"metadata of {len(self._metadata)} bytes does not fit a handshake command"
                f" ({MAX_HANDSHAKE_FRAME} bytes at most)"
            )
        self._encrypts = self.mechanism.encrypts
        self._reader = FrameReader(max_message_size)
        self._initiated = False
        self._rest_queued = False  # greeting bytes 11..63 queued
        self._sub_commands = False  # peer takes SUBSCRIBE/CANCEL commands (3.1)
        self._props_checked = False
        #: protocol output not yet taken by data_to_send (None: nothing, which is what an
        #: idle connection holds, rather than an empty list's 56 bytes)
        self._out: list[bytes] | None = None
        self._bare = bare_messages

    def __repr__(self) -> str:
        return (
            f"<Connection {self.socket_type} {self.mechanism.name.decode()} "
            f"{self.state.name} peer={self.peer_socket_type}>"
        )

    # ------------------------------------------------------------ sending

    def initiate(self) -> bytes:
        """Our first 11 greeting bytes; write them as soon as connected.

        :raises LocalProtocolError: called twice.
        """
        if self._initiated:
            raise LocalProtocolError("initiate() was already called")
        self._initiated = True
        return self._greeting[:SNIFF_SIZE]

    def data_to_send(self) -> bytes:
        """Drain protocol output (greeting rest, handshake, PONGs); may be b""."""
        out = self._out
        if not out:
            return b""
        self._out = None
        return out[0] if len(out) == 1 else b"".join(out)

    def send_message(self, parts: Sequence[bytes]) -> bytes:
        """Wire bytes of one whole message.

        :raises LocalProtocolError: not READY, or no parts.
        """
        self._require_ready()
        if not self._encrypts:
            return encode_message(parts)
        chunks: list[bytes] = []
        self.mechanism.encode_messages((parts,), chunks)
        return b"".join(chunks)

    def encode_messages(self, messages: Iterable[Sequence[bytes]], out: list[bytes]) -> None:
        """Append wire chunks for many messages to *out* (writer fast path).

        Without encryption the part objects themselves are appended after
        their headers: bodies are not copied.

        :raises LocalProtocolError: not READY, or a message with no parts.
        """
        if self.state is not READY:  # (_require_ready, inlined: once per batch written)
            self._require_ready()
        if self._encrypts:
            self.mechanism.encode_messages(messages, out)
        else:
            encode_messages_into(messages, out)

    def subscribe(self, topic: bytes) -> bytes:
        """SUBSCRIBE command to a 3.1 peer, else the 3.0 message ``01 topic``."""
        self._require_ready()
        if self._sub_commands:
            return self._command_frame(b"\x09SUBSCRIBE" + topic)
        return self._data_frame(b"\x01" + topic)

    def cancel(self, topic: bytes) -> bytes:
        """CANCEL command to a 3.1 peer, else the 3.0 message ``00 topic``."""
        self._require_ready()
        if self._sub_commands:
            return self._command_frame(b"\x06CANCEL" + topic)
        return self._data_frame(b"\x00" + topic)

    def join(self, group: bytes) -> bytes:
        """JOIN command (DISH -> RADIO).  A command frame for ZMTP 3.0 peers
        too: libzmq's dish session builds it whatever the peer's minor version
        (there is no message form, unlike SUBSCRIBE).

        :raises LocalProtocolError: not READY, or a group over 255 bytes.
        """
        self._require_ready()
        return self._command_frame(JOIN_PREFIX + check_group(group))

    def leave(self, group: bytes) -> bytes:
        """LEAVE command (DISH -> RADIO), a command frame for 3.0 and 3.1."""
        self._require_ready()
        return self._command_frame(LEAVE_PREFIX + check_group(group))

    def ping(self, ttl_ms: int = 0, context: bytes = b"") -> bytes:
        """PING carrying our TTL in deciseconds (``ttl_ms // 100``, libzmq).

        :raises LocalProtocolError: not READY, TTL > 6553.5 s, context > 16 bytes.
        """
        self._require_ready()
        return self._command_frame(ping_body(ttl_ms // 100, context))

    def auth_reply(
        self,
        status_code: bytes,
        user_id: bytes = b"",
        metadata: Mapping[str, bytes] | None = None,
    ) -> list[Received]:
        """Hand a ZAP verdict to the mechanism; return the resulting events.

        :raises LocalProtocolError: not in HANDSHAKE, or nothing pending.
        :raises ProtocolError: the mechanism refuses the reply.
        """
        if self.state is not HANDSHAKE:
            raise LocalProtocolError(f"auth_reply() in state {self.state.name}")
        events: list[Received] = []
        try:
            self._queue_commands(self.mechanism.auth_reply(status_code, user_id, metadata or {}))
            self._check_mechanism(events)
        except ProtocolError as err:
            self._fail(err, events)
            raise
        return events

    def _require_ready(self) -> None:
        if self.state is not READY:
            raise LocalProtocolError(f"cannot send in state {self.state.name}")

    def _queue_commands(self, bodies: list[bytes]) -> None:
        # Handshake commands are never encrypted by the framing layer (CURVE
        # boxes their contents itself).
        for body in bodies:
            self._output(encode_command(body))

    def _output(self, data: bytes) -> None:
        out = self._out
        if out is None:
            self._out = [data]
        else:
            out.append(data)

    def _command_frame(self, body: bytes) -> bytes:
        if self._encrypts:
            return self.mechanism.encode_frame(body, FLAG_COMMAND)
        return encode_command(body)

    def _data_frame(self, body: bytes) -> bytes:
        if self._encrypts:
            return self.mechanism.encode_frame(body, 0)
        return encode_frame(body)

    # ---------------------------------------------------------- receiving

    def receive_data(
        self, data: bytes | bytearray | memoryview, max_messages: int = -1
    ) -> list[Received]:
        """Feed bytes read from the peer; return the events they complete.

        :param max_messages: parse at most this many frames after the handshake (so at
            most this many Message, Subscribe and Cancel events); -1 for no bound.  What
            is left is kept unparsed (``held_input``) until :meth:`next_events`; held
            input comes before *data* if there is any.
        :raises ProtocolError: the peer broke ZMTP; the connection is now
            CLOSED.  ``err.events`` holds events completed before the fault.
        :raises LocalProtocolError: CLOSED, or ``initiate()`` not called yet.
        """
        if self.state is CLOSED:
            raise LocalProtocolError("connection is closed")
        if not self._initiated:
            raise LocalProtocolError("call initiate() before receive_data()")
        if type(data) is not bytes:
            data = bytes(data)  # never keep a view of the caller's buffer
        events: list[Received] = []
        if not data:
            return events
        reader = self._reader
        try:
            if self.state is READY and not self._encrypts and reader.pending is None \
                    and not reader.tail:
                # the steady state, _feed and _parse inlined: one call per read into the loop
                reader.read_plain(data, 0, events, self._ready_command, max_messages)
            else:
                if reader.tail:
                    tail, pos = reader.take_tail()
                    data = tail + data if not pos else b"".join((memoryview(tail)[pos:], data))
                self._feed(data, 0, events, max_messages)
        except ProtocolError as err:
            self._fail(err, events)
            raise
        return events if self._bare else self._wrapped(events)

    def next_events(self, max_messages: int = -1) -> list[Received]:
        """Go on parsing the input that ``max_messages`` held back: the events it
        completes, at most *max_messages* messages again (-1: no bound); ``[]`` when
        nothing is held (see :attr:`held_input`).

        :raises ProtocolError: as :meth:`receive_data`.
        """
        reader = self._reader
        events: list[Received] = []
        if not reader.held or self.state is CLOSED:
            return events
        data, pos = reader.take_tail()
        try:
            self._feed(data, pos, events, max_messages)
        except ProtocolError as err:
            self._fail(err, events)
            raise
        return events if self._bare else self._wrapped(events)

    @property
    def held_input(self) -> int:
        """Bytes received but not parsed yet because ``max_messages`` was reached; 0
        when there is nothing :meth:`next_events` could parse without new data."""
        reader = self._reader
        return len(reader.tail) - reader.tail_pos if reader.held else 0

    def _feed(self, data: bytes, pos: int, events: list[Received], budget: int) -> None:
        reader = self._reader
        if reader.pending is not None:
            if budget == 0 and self.state is READY:
                reader.hold(data, pos)
                return
            if pos:
                data, pos = data[pos:], 0
            done = reader.finish_pending(data)
            if done is None:
                return
            flags, body, pos = done
            self._handle_frame(flags, body, events)
            if budget > 0:
                budget -= 1
        self._parse(data, pos, events, budget)

    def _fail(self, err: ProtocolError, events: list[Received]) -> None:
        """Close on ``err``, which carries the events completed before the fault."""
        err.events = events if self._bare else self._wrapped(events)
        # A mechanism mismatch still lets our whole greeting out (libzmq writes it before
        # it reads the peer's), so the peer learns which mechanism we wanted.
        mismatch = err.code == ProtocolErrorCode.ZMTP_MECHANISM_MISMATCH
        self._close(keep_output=mismatch)

    def receive_buffer(self) -> memoryview | None:
        """Where the next incoming bytes may be written directly, or None.

        While the body of a large frame is arriving, an engine can ``recv_into`` this
        buffer and then call :meth:`received_into` instead of :meth:`receive_data`: the
        body then crosses memory once. Otherwise use :meth:`receive_data`.

        The buffer grows with the data, never with the size the header declared: it
        is at most ``max(64 KiB, 3 * bytes of the body received so far)`` long (and
        never past the body's end), so ask again after each :meth:`received_into`.
        """
        reader = self._reader
        if reader._segments is None or self.state is CLOSED or reader.held:
            return None  # (the first test is direct_buffer's own: no call on every read)
        return reader.direct_buffer()

    def received_into(self, count: int) -> list[Received]:
        """``count`` bytes were written into :meth:`receive_buffer`; return the events
        they complete (as :meth:`receive_data` would).

        :raises ProtocolError: as :meth:`receive_data`.
        :raises LocalProtocolError: CLOSED, no receive buffer pending, or *count* not
            within the last :meth:`receive_buffer`.
        """
        if self.state is CLOSED:
            raise LocalProtocolError("connection is closed")
        events: list[Received] = []
        try:
            done = self._reader.direct_filled(count)
            if done is not None:
                self._handle_frame(done[0], done[1], events)
        except ProtocolError as err:
            err.events = events if self._bare else self._wrapped(events)
            self._close()
            raise
        return events if self._bare else self._wrapped(events)

    @staticmethod
    def _wrapped(events: list[Received]) -> list[Received]:
        """``events`` with each bare message (a list of parts) made a :class:`Message`."""
        return [Message(event) if type(event) is list else event for event in events]

    def _close(self, keep_output: bool = False) -> None:
        self.state = CLOSED
        if not keep_output:
            self._out = None
        self._reader.reset()

    def _parse(self, data: bytes, pos: int, events: list[Received], budget: int) -> None:
        # Phase dispatch.  Each step consumes what it can and returns the new
        # offset, or -1 once the reader has stored the remainder.  *budget*: the frames
        # that may still be parsed in READY (negative: no bound).
        n = len(data)
        while pos < n:
            state = self.state
            if state is READY:
                if not self._encrypts:
                    self._reader.read_plain(data, pos, events, self._ready_command, budget)
                else:
                    self._reader.read_decoded(data, pos, events, self._ready_command,
                                              self.mechanism.frame_decoder(data), budget)
                return
            if state is GREETING:
                pos = self._parse_greeting(data, events)
            elif state is CLOSED:
                return  # after PeerError the rest is meaningless
            else:
                frame = self._reader.next_frame(data, pos)
                if frame is None:
                    return
                flags, body, pos = frame
                self._handle_frame(flags, body, events)
            if pos < 0:
                return

    def _parse_greeting(self, data: bytes, events: list[Received]) -> int:
        # Invariant: the greeting starts at offset 0 (a partial greeting is
        # kept whole in the reader's tail and re-joined).
        check_greeting_prefix(data[:SNIFF_SIZE])
        if len(data) >= SNIFF_SIZE and not self._rest_queued:
            self._rest_queued = True
            self._output(self._greeting[SNIFF_SIZE:])
        if len(data) < GREETING_SIZE:
            self._reader.tail = data
            return -1
        greeting = decode_greeting(data)
        if greeting.mechanism != self._greeting[12:32]:
            # libzmq closes without sending anything more (no ERROR).
            peer = greeting.mechanism.rstrip(b"\0")
            raise ProtocolError(
                f"mechanism mismatch: peer {peer!r}, ours {self.mechanism.name!r}",
                ProtocolErrorCode.ZMTP_MECHANISM_MISMATCH,
            )
        self.peer_major, self.peer_minor = greeting.major, greeting.minor
        # Major 2 and >= 4 are treated as 3.1 (libzmq select_handshake_fun).
        self._sub_commands = greeting.major != 3 or greeting.minor >= 1
        self.state = HANDSHAKE
        self._queue_commands(self.mechanism.start(self._metadata))
        self._check_mechanism(events)
        return GREETING_SIZE

    def _handle_frame(self, flags: int, body: bytes, events: list[Received]) -> None:
        # General path for one frame (handshake, encrypted traffic, and the
        # body that completed a pending frame).
        state = self.state
        if state is READY:
            if self._encrypts:
                flags, body = self.mechanism.decode_frame(flags, body)
            if flags & FLAG_COMMAND:
                self._ready_command(body, events)
            else:
                self._reader.add_part(flags, body, events)
        elif state is HANDSHAKE:
            if not flags & FLAG_COMMAND:
                raise ProtocolError(
                    "message frame during the handshake",
                    ProtocolErrorCode.ZMTP_UNEXPECTED_COMMAND,
                )
            replies = self.mechanism.receive_command(body)
            self._check_peer_properties()  # before any reply goes out
            self._queue_commands(replies)
            self._check_mechanism(events)
        # CLOSED (PeerError just emitted): drop.

    def _ready_command(self, body: bytes, events: list[Received]) -> None:
        name, data = split_command(body)
        if name == b"PING":
            ttl, context = parse_ping(data)
            # Reply at once, like libzmq; the engine only has to flush.
            self._output(self._command_frame(pong_body(context)))
            events.append(Ping(ttl * 100, context))
        elif name == b"PONG":
            events.append(Pong(data))
        elif name == b"SUBSCRIBE":
            events.append(Subscribe(data))
        elif name == b"CANCEL":
            events.append(Cancel(data))
        elif name == b"JOIN":
            events.append(Join(data))
        elif name == b"LEAVE":
            events.append(Leave(data))
        # Anything else (READY, ERROR, unknown) is ignored, as libzmq's
        # zmtp_engine does after the handshake [verified].

    def _check_peer_properties(self) -> None:
        if self._props_checked:
            return
        props = self.mechanism.peer_properties
        if props is None:
            return
        self._props_checked = True
        self.peer_properties = props
        socket_types = self.mechanism.peer_socket_types
        self.mechanism.peer_socket_types = ()  # checked here, once: not kept
        peer_type = props.get("Socket-Type")
        if peer_type is None:
            return  # libzmq accepts a peer that does not say [verified]
        known = _KNOWN_TYPES.get(peer_type)
        if known is not None:  # one value and one name shared by every peer of a type
            props["Socket-Type"], self.peer_socket_type = known
        else:
            self.peer_socket_type = peer_type.decode("latin-1")
        # Every occurrence is checked, as libzmq's parse_metadata does: a valid Socket-Type
        # followed by a bogus one fails.  The first is the one kept.
        compatible = COMPATIBLE[self.socket_type]
        for value in socket_types or (peer_type,):
            name = value.decode("latin-1")
            if name not in compatible:
                # libzmq: parse_metadata fails; PLAIN/CURVE report INVALID_METADATA,
                # NULL reports no code at all.  We use INVALID_METADATA throughout.
                raise ProtocolError(
                    f"{self.socket_type} cannot talk to {name!r}",
                    ProtocolErrorCode.ZMTP_INVALID_METADATA,
                )

    def _check_mechanism(self, events: list[Received]) -> None:
        mechanism = self.mechanism
        request = mechanism.take_auth_request()
        if request is not None:
            events.append(request)
        self._check_peer_properties()
        status = mechanism.status
        if status is MechanismStatus.READY:
            self.state = READY
            self._reader.handshake_done()
            properties = self.peer_properties
            if mechanism.zap_properties:
                # ZAP metadata become properties too; on a name clash the ZAP
                # value wins (libzmq inserts ZAP's into its std::map first).
                properties = dict(properties)
                properties.update(mechanism.zap_properties)
            events.append(HandshakeComplete(properties, mechanism.user_id))
            # what only the handshake needed goes (an idle connection keeps the rest)
            self._greeting = self._metadata = b""
        elif status is MechanismStatus.ERROR:
            if mechanism.peer_error is not None:
                events.append(PeerError(mechanism.peer_error))
                self._close()
            else:
                # We refused the peer (a ZAP denial given to auth_reply()):
                # keep our ERROR command, if any, for data_to_send().  The
                # engine made that decision and reports it itself.
                self._close(keep_output=True)
