"""The read side of a connection, driven from the hub instead of from a greenlet.

After the handshake, reading needs no greenlet of its own: a libev io watcher calls
``_on_readable`` in the hub when the stream has data. The callback does one non-blocking
``recv_into`` into a reused buffer, parses it with the sans-IO ``Connection``, and appends
whole messages to the socket's inbound pipe. Each message therefore costs no greenlet switch
on the way in, only the wake-up of the user's greenlet. Fairness comes for free: one read per
readiness, then the hub serves everyone else.

Backpressure still needs to block. A read is parsed into no more messages than the inbound pipe
has room for below RCVHWM (``receive_data(data, max_messages=room)``); the rest of the read stays
in the Connection as raw bytes (``held_input``: 2 bytes an empty message, not a ~120-byte
object). Then the callback stops the watcher and the engine's greenlet takes over: as room
appears it parses the held bytes (``next_events(room)``) and delivers them, and only then
restarts the watcher. Meanwhile the kernel buffer fills and TCP pushes back on the sender, as
before. (Messages that still found the pipe full, the *backlog*, are delivered the same way.)
Subscriptions count against RCVHWM too (in libzmq they are messages in the pipe); a publisher
drains them on its next send or poll.

Whatever ends the connection (EOF, an error, a protocol violation, our own close) is stored
and the engine's greenlet is woken, which raises it there. Nothing raised in the hub escapes
into the hub.

An idle connection needs no greenlet at all: a bind-side engine lets its greenlet end once
``serve(until_idle=True)`` finds nothing to do, and sets ``revives_engine``: the reader then
calls ``engine.revive()`` whenever it needs a greenlet again (backpressure, or the end of the
connection), which starts one that calls ``serve`` again. A greenlet parked in a wait costs ~8 KiB of RSS
(its saved C stack and its frame stack's page), more than everything else a connection holds.
"""

from __future__ import annotations

from time import monotonic
from typing import Any, Optional

from gevent import get_hub
from gevent.monkey import get_original

from .. import zmtp
from ..pipe import GroupCommand, MessageQueue, Signal, SubscriptionCommand
from ..security import log as security_log
from .handshake import PeerClosed

__all__ = ["ConnectionReader", "READ_BUFFER_SIZE", "read_buffer"]

#: bytes read per recv_into; large enough that a burst of small messages is one syscall
READ_BUFFER_SIZE = 256 * 1024
#: the types of a batch that holds messages only (each a bare list of parts)
_ONLY_MESSAGES = {list}

# Reads happen in hub callbacks that use the buffer and are done with it before returning,
# so one buffer per hub (per OS thread) serves every connection: 10,000 idle connections
# do not each hold 256 KiB.
_per_thread = get_original("threading", "local")()


def read_buffer() -> tuple[bytearray, memoryview]:
    """This thread's read buffer (and a view of it), shared by every connection's reads in
    hub callbacks: the ZMTP receiver's and the raw (STREAM) engine's."""
    shared = getattr(_per_thread, "buffer", None)
    if shared is None:
        buffer = bytearray(READ_BUFFER_SIZE)
        shared = _per_thread.buffer = (buffer, memoryview(buffer))
    return shared


class ConnectionReader:
    def __init__(self, engine: Any, queue: MessageQueue) -> None:
        self.engine = engine
        self.conn = engine.conn
        #: where messages go: the socket's inbound queue (the engine end's outbound)
        self.queue = queue
        #: the writer-side notifier the engine attaches to ``queue``: the socket made room
        self.room = Signal()
        #: how many more messages the socket's pipe takes now; -1: no bound
        self._room_left = queue.room
        self._wire_check = engine.socket.routing.wire_check
        # only publishers take SUBSCRIBE/CANCEL; from anyone else they are dropped, so a
        # hostile peer cannot slip a non-message into a PULL's or ROUTER's queue
        self._takes_subscriptions = type(engine.socket.routing).accepts_subscriptions
        # JOIN/LEAVE likewise: only a RADIO takes them (libzmq's radio session)
        self._takes_groups = type(engine.socket.routing).accepts_groups
        raw = getattr(engine.stream, "_sock", engine.stream)
        self._recv_into = raw.recv_into
        #: this thread's shared read buffer (the hub's callbacks read here, in this thread)
        self._shared_buffer = read_buffer()
        #: the engine's greenlet waits here (made when one first waits)
        self._wake: Optional[Signal] = None
        #: the engine lets its greenlet end while the connection is idle: call its
        #: ``revive()`` when a greenlet must run ``serve``; else one always waits on ``_wake``
        #: (a flag, not a callback: a bound method per connection costs 64 bytes)
        self.revives_engine = False
        self._failure: Optional[BaseException] = None
        #: items the hub callback could not deliver at RCVHWM; the greenlet delivers them
        self._backlog: Optional[list[Any]] = None
        #: a bad message met after the backlog: raised once the backlog is delivered
        self._backlog_error: Optional[BaseException] = None
        self._watcher: Any = None
        #: bytes read since the handshake (one add per read; ``Socket.stats()``)
        self.bytes_in = 0

    # --- the engine's greenlet ----------------------------------------------------------------

    def run(self, first_events: list[Any]) -> None:
        """Deliver ``first_events`` (they came with the handshake), then read from the hub
        until the connection ends; raise what ended it."""
        self.start(first_events)
        self.serve()

    def start(self, first_events: list[Any]) -> None:
        """Deliver ``first_events`` (waiting for room at RCVHWM), then start reading from the
        hub."""
        self.deliver(first_events, block=True)
        if self._failure is not None:  # closed while delivering: the fd may be gone already
            raise self._failure
        # gevent's socket has a read watcher of its own, idle once the handshake is over (no
        # greenlet reads the stream after it): use it rather than a second one per connection
        # (120 bytes). It is stopped before the stream closes (``fail``), as any watcher must be.
        watcher = getattr(self.engine.stream, "_read_event", None)
        self._watcher = watcher if watcher is not None else get_hub().loop.io(self.engine.fd, 1)
        if not self.conn.held_input:
            self._watcher.start(self._on_readable)

    def serve(self, until_idle: bool = False) -> bool:
        """The greenlet's share of the reading: deliver what the hub callback could not, as
        room appears, until the connection ends (raise what ended it), or with ``until_idle``
        until nothing is left for a greenlet to do (return True: the hub reads on alone)."""
        while True:
            if self._failure is not None:
                raise self._failure
            if self._backlog:
                backlog, self._backlog = self._backlog, None
                self._put(backlog, block=True)
                error, self._backlog_error = self._backlog_error, None
                if error is not None:
                    raise error
                if self._failure is None and not self.conn.held_input:
                    self._watcher.start(self._on_readable)
                continue
            if self.conn.held_input:  # bytes read but not parsed: parse them as room appears
                self._parse_held()
                if self._failure is None and not self.conn.held_input:
                    self._watcher.start(self._on_readable)
                continue
            if until_idle:
                return True
            if self._wake is None:
                self._wake = Signal()
            self._wake.wait()

    def _need_greenlet(self) -> None:
        if self._wake is not None:
            self._wake.notify()
        if self.revives_engine:
            self.engine.revive()

    def fail(self, error: BaseException) -> None:
        """End the connection with ``error`` (raised in the engine's greenlet)."""
        if self._failure is None:
            self._failure = error
        self.stop()
        self._need_greenlet()
        self.room.notify()  # it may be waiting for room at RCVHWM instead

    def stop(self) -> None:
        """Stop watching the fd; must happen before the stream is closed."""
        if self._watcher is not None:
            self._watcher.stop()

    def close(self) -> None:
        if self._watcher is not None:
            self._watcher.stop()
            self._watcher.close()
            self._watcher = None
        if self._failure is not None:
            # raised in serve(), it holds that frame, which holds this reader: drop the
            # traceback, or every ended connection waits for the cyclic GC to be freed
            self._failure.__traceback__ = None

    # --- delivery (hub or greenlet) -------------------------------------------------------------

    def deliver(self, events: list[Any], block: bool) -> list[Any]:
        """Put the messages (and, for publishers, subscriptions) among ``events`` into the
        socket's pipe, in order. At RCVHWM, wait if ``block``, else return the items not
        delivered yet. A message the socket type refuses (``wire_check``) raises
        ``ProtocolError`` once everything before it is delivered."""
        error: Optional[BaseException] = None
        wire_check = self._wire_check
        if {*map(type, events)} == _ONLY_MESSAGES and (
                wire_check is None or all(map(wire_check, events))):
            # the common batch: messages only (bare part lists, see Engine._make_connection),
            # checked and queued without a Python-level step per message
            items: list[Any] = events
        else:
            items = []
            error = self._sort(events, items)
        leftover = items  # (empty, or what the pipe had no room for yet)
        if items:
            done = self.queue.put_batch(items)
            leftover = self._put_rest(items, done, block) if done < len(items) else []
        if error is not None:
            if not leftover:
                raise error
            self._backlog_error = error  # raised after the backlog, in the engine's greenlet
        out = self.conn.data_to_send()
        if out:
            self.engine.send_control(out)
        return leftover

    def _sort(self, events: list[Any], items: list[Any]) -> Optional[BaseException]:
        """Put into ``items`` what of ``events`` goes to the socket's pipe, in order; act on
        the rest. Returns the error of a message the socket type refuses (those after it are
        left out), else None."""
        wire_check = self._wire_check
        for event in events:
            kind = type(event)
            if kind is list:  # a message (bare parts)
                if wire_check is not None and not wire_check(event):
                    return zmtp.ProtocolError("message shape not allowed for this socket type")
                items.append(event)
            elif kind is zmtp.Subscribe or kind is zmtp.Cancel:
                # subscriptions obey RCVHWM like messages (as in libzmq, where they are
                # messages in the pipe): a subscriber flooding an idle publisher is held back
                # by TCP instead of growing our memory. Only publishers take them: from anyone
                # else they are dropped.
                if self._takes_subscriptions:
                    items.append(SubscriptionCommand(kind is zmtp.Subscribe, event.topic))
            elif kind is zmtp.Join or kind is zmtp.Leave:
                if self._takes_groups:
                    if len(event.group) <= zmtp.GROUP_MAX_LENGTH:
                        items.append(GroupCommand(kind is zmtp.Join, event.group))
                    else:  # libzmq would abort on it; we drop it and go on
                        security_log.warning("dropped a %s of a %d-byte group from %s",
                                             kind.__name__.upper(), len(event.group),
                                             self.engine.endpoint)
            elif kind is zmtp.Ping and event.ttl_ms:
                self.engine.peer_ttl(event.ttl_ms / 1000.0)
        return None

    def _put(self, items: list[Any], block: bool) -> list[Any]:
        """Queue ``items`` (the socket is woken once per batch, not per message); at RCVHWM
        wait for room if ``block``, else return what is left."""
        return self._put_rest(items, self.queue.put_batch(items), block)

    def _put_rest(self, items: list[Any], done: int, block: bool) -> list[Any]:
        """``items[done:]`` found the pipe at RCVHWM: wait for room and put them if
        ``block``, else return them."""
        queue = self.queue
        while done < len(items):
            if not block:
                return items[done:]
            if self._failure is not None:
                raise self._failure
            self.room.wait()
            done = queue.put_batch(items, done)
        return []

    def _parse_held(self) -> None:
        """Parse the input held at RCVHWM into what the pipe has room for (at least one
        message, waiting for room to deliver it)."""
        try:
            events = self.conn.next_events(self._room_left() or 1)
        except zmtp.ProtocolError as error:
            self.deliver(getattr(error, "events", None) or [], block=False)  # before the fault
            raise
        self.deliver(events, block=True)

    # --- the hub callback --------------------------------------------------------------------

    def _on_readable(self) -> None:
        # one function, not a guard around a reader: this runs once per read, i.e. once per
        # message at low rates (a round trip's every hop)
        try:
            conn = self.conn
            direct = conn.receive_buffer()  # the rest of a large body: receive it in place
            buffer, view = self._shared_buffer
            try:
                count = self._recv_into(buffer if direct is None else direct)
            except (BlockingIOError, InterruptedError):
                return
            if not count:
                raise PeerClosed()
            self.bytes_in += count
            self.engine.last_received = monotonic()
            try:
                if direct is not None:
                    events = conn.received_into(count)
                else:  # no more messages than the pipe has room for: the rest stays raw bytes
                    events = conn.receive_data(view[:count], self._room_left())
            except zmtp.ProtocolError as error:
                self.deliver(getattr(error, "events", None) or [], block=False)  # first
                raise
            leftover = self.deliver(events, block=False)
            if leftover or conn.held_input:
                self._watcher.stop()
                self._backlog = leftover
                self._need_greenlet()
        except BaseException as error:  # noqa: B902 - nothing may escape into the hub
            self.fail(error)
