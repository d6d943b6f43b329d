"""The write side of a connection: batching, and writing without a greenlet switch when it can.

Messages reach the wire two ways, in one order:

1. **From the hub, before it polls.** A message put into the empty outbound pipe calls
   ``notify()`` (the writer is that pipe's reader-side notifier: it hears when the pipe becomes
   readable, not of every put), which adds the writer to its hub's ``PollFlusher``: once per
   turn of the hub's loop, just before it polls for I/O, that flushes every writer added. So
   everything sent meanwhile goes out as one batch, even from a greenlet that yields between
   sends (``sleep(0)`` runs the hub's callbacks, not its poll; the socket's own yields poll
   every few hundred messages). It encodes the batch and tries one *non-blocking* ``send``
   (batches with a large body are left to the writer greenlet instead, which writes that body
   without joining it). In a request/reply exchange this saves waking the writer greenlet on
   every hop, and a sender that never blocks still has its burst written with one syscall.
2. **From a writer greenlet, spawned only when needed.** Whatever the hub could not write at
   once (a full kernel buffer, or a large message, which goes out without the extra copy)
   becomes the *backlog*. A writer greenlet is started to write the backlog with blocking
   ``sendall`` calls; it then drains the pipe itself and exits once the pipe is empty. While it
   runs, the hub callback only wakes it, so bytes never overtake each other. CURVE nonces stay
   in order because encoding and queuing never yield in between. An idle connection thus has
   no writer greenlet at all (10,000 idle peers cost 10,000 fewer greenlets).

Either way the pipe is drained until empty, or another flush is scheduled: the next put into
an empty pipe is an edge the writer hears of, so no message waits unnoticed.

When the socket has closed the pipe and everything is written, ``on_finished(True)`` is
called; a failed write calls ``on_finished(False)``. Either way the engine ends the connection.

Protocol bytes (PONG, PING) go through ``send_control`` and are written before the next batch.
"""

from __future__ import annotations

import logging
from operator import is_
from typing import Any, Callable, Optional

import gevent
from gevent import get_hub

from ..pipe import GroupCommand, MessageQueue, SubscriptionCommand

__all__ = ["ConnectionWriter", "FanOutWriter"]

#: most messages encoded into one write
BATCH_MESSAGES = 512
#: the same when a mechanism encrypts (CURVE): boxing costs ~2 us a KiB, so 512 messages would
#: keep the first byte back ~1 ms, while the peer empties a unix socket's ~200 KiB in less and
#: then waits (64: ipc CURVE 1 KiB from ~250k to ~320k msg/s against perf/ceiling.py --curve)
ENCRYPTED_BATCH_MESSAGES = 64
#: most PING/PONG writes kept waiting at once; more are dropped
MAX_CONTROL = 16
#: chunks at least this big are written on their own instead of being joined (no 2nd copy)
LARGE_CHUNK = 64 * 1024
#: the most chunks one sendmsg gathers (the kernel's IOV_MAX is 1024); more go to the greenlet
MAX_GATHER = 1024

log = logging.getLogger("gzmq.engine")


class ConnectionWriter:
    #: most messages per batch (an encrypting connection's own value is set on it)
    batch_messages = BATCH_MESSAGES

    def __init__(self, stream: Any, conn: Any, queue: MessageQueue,
                 on_finished: Callable[[bool], None],
                 spawn: Callable[[Callable[[], None]], gevent.Greenlet]) -> None:
        self.stream = stream
        self.conn = conn
        if conn.mechanism.encrypts:
            self.batch_messages = ENCRYPTED_BATCH_MESSAGES
        #: what the socket sends this peer (the engine end's inbound queue)
        self.queue = queue
        #: PING/PONG bytes to write first (a list from the first one: most connections of a
        #: socket with many peers never have any, and an empty list costs 56 bytes)
        self.control: Optional[list[bytes]] = None
        #: the last batch taken was a full one: more may wait in the pipe
        self._more = False
        #: chunks the writer greenlet owes the stream first (None: none)
        self.backlog: Optional[list[Any]] = None
        self._on_finished = on_finished
        self._finished = False
        self._flush_scheduled = False
        self._flusher = poll_flusher()
        raw = getattr(stream, "_sock", None)  # gevent's socket wraps a non-blocking one
        self._raw_send = raw.send if raw is not None else None
        self.greenlet: Optional[gevent.Greenlet] = None
        self._spawn = spawn  # the socket's lifecycle group spawns every greenlet it owns
        #: bytes written (one add per write; ``Socket.stats()``)
        self.bytes_out = 0

    def _start_greenlet(self) -> None:
        """Hand the writing over to a greenlet (it may block). A running one needs no wake-up:
        it looks at the backlog and the pipe again after every write."""
        if self.greenlet is None or self.greenlet.dead:
            self.greenlet = self._spawn(self._run)

    def _finish(self, graceful: bool) -> None:
        if not self._finished:
            self._finished = True
            self._on_finished(graceful)

    def stop(self) -> None:
        """The connection is over: stop writing."""
        self._finished = True
        if self.greenlet is not None and not self.greenlet.dead:
            self.greenlet.kill(block=False)

    # --- the pipe's reader-side notifier ---------------------------------------------------

    def notify(self) -> None:
        """The pipe became readable (or closed): flush it from the hub before it next polls."""
        if not self._flush_scheduled:
            self._flush_scheduled = True
            self._flusher.add(self)

    def wait(self, timeout: Any = None) -> bool:  # Signal's other half; nobody waits on us
        raise RuntimeError("ConnectionWriter is not waitable")

    def send_control(self, data: bytes) -> None:
        """Queue PING/PONG bytes. A peer that floods PINGs without reading our PONGs gets no
        more than MAX_CONTROL pending: liveness needs one, not thousands (libzmq keeps one)."""
        control = self.control
        if control is None:
            self.control = [data]
        elif len(control) < MAX_CONTROL:
            control.append(data)
        self.notify()

    # --- encoding ---------------------------------------------------------------------------

    def _take_batch(self) -> list[Any]:
        """Encode queued protocol bytes and up to batch_messages messages into wire chunks."""
        chunks: list[Any] = []
        control = self.control
        if control:
            chunks.extend(control)
            control.clear()
        batch_messages = self.batch_messages
        taken = self.queue.take_batch(batch_messages)  # tells the socket's senders of room
        self._more = len(taken) == batch_messages
        if not taken:
            return chunks
        self._encode(taken, chunks)
        return chunks

    def _encode(self, taken: list[Any], chunks: list[Any]) -> None:
        """Append the wire chunks of ``taken``, messages and commands, in order."""
        if _COMMAND_ITEMS.isdisjoint(map(type, taken)):  # messages only (checked in C)
            self.conn.encode_messages(taken, chunks)
        else:
            self._encode_mixed(taken, chunks)

    def _encode_mixed(self, taken: list[Any], chunks: list[Any]) -> None:
        """Encode messages and (un)subscription or group commands, in order."""
        conn = self.conn
        batch: list[Any] = []
        for item in taken:
            if type(item) in _COMMAND_ITEMS:
                if batch:
                    conn.encode_messages(batch, chunks)
                    batch = []
                if type(item) is SubscriptionCommand:
                    chunks.append(conn.subscribe(item.topic) if item.subscribe
                                  else conn.cancel(item.topic))
                elif item.group is not None:  # a DISH's JOIN/LEAVE (checked at join())
                    chunks.append(conn.join(item.group) if item.join else conn.leave(item.group))
            else:
                batch.append(item)
        if batch:
            conn.encode_messages(batch, chunks)

    # --- path 1: the hub callback -----------------------------------------------------------

    def _flush_from_hub(self) -> None:
        self._flush_scheduled = False
        if self._finished:
            return
        try:  # (one function, not two: this runs once per batch, i.e. per message at low rates)
            greenlet = self.greenlet
            if (greenlet is not None and not greenlet.dead) or self.backlog \
                    or self._raw_send is None:
                self._start_greenlet()
                return
            chunks = self._take_batch()
            if not chunks:
                if self.queue.write_closed:
                    self._finish(True)  # closed and everything written
                return
            if max(map(len, chunks)) >= LARGE_CHUNK:
                # a large body: gathered by the kernel as it is (joining would copy it)
                self._send_gathered(chunks)
                return
            data = chunks[0] if len(chunks) == 1 else b"".join(chunks)
            try:
                sent = self._raw_send(data)
            except BlockingIOError:
                sent = 0
            except OSError:
                sent = 0  # the writer's sendall meets the same error and ends the connection
            self.bytes_out += sent
            if sent < len(data):
                self.backlog = [memoryview(data)[sent:]]
                self._start_greenlet()
            elif self._more or self.control:  # (nothing was queued meanwhile: no yield since)
                self.notify()  # more than one batch was queued
            elif self.queue.write_closed:
                self._finish(True)
        except Exception:  # never let a bug escape into the hub
            log.exception("gzmq: flushing a connection from the hub failed")
            self._finish(False)

    def _send_gathered(self, chunks: list[Any]) -> None:
        """Large bodies, from the hub: one non-blocking ``sendmsg`` of the headers and bodies
        as they are (scatter/gather: no join, and no header written on its own); what the
        kernel does not take goes to the writer greenlet."""
        sent = 0
        # (the raw socket's own sendmsg, found when needed: no attribute per connection)
        sendmsg = getattr(getattr(self._raw_send, "__self__", None), "sendmsg", None)
        if sendmsg is not None and len(chunks) <= MAX_GATHER:
            try:
                sent = sendmsg(chunks)
            except (BlockingIOError, InterruptedError):
                sent = 0
            except OSError:
                sent = 0  # the writer's sendall meets the same error and ends the connection
            self.bytes_out += sent
        rest = chunks
        if sent:
            index = 0
            while index < len(chunks) and sent >= len(chunks[index]):
                sent -= len(chunks[index])
                index += 1
            rest = chunks[index:]
            if rest and sent:
                rest[0] = memoryview(rest[0])[sent:]
        if rest:
            self.backlog = rest
            self._start_greenlet()
        elif self._more or self.control:
            self.notify()
        elif self.queue.write_closed:
            self._finish(True)

    # --- path 2: the writer greenlet --------------------------------------------------------

    def _run(self) -> None:
        """Write the backlog, then drain the pipe; exit when there is nothing left."""
        queue = self.queue
        while not self._finished:
            if self.backlog:
                chunks, self.backlog = self.backlog, None
            elif queue.readable or self.control:
                chunks = self._take_batch()
            elif queue.write_closed:
                self._finish(True)  # socket closed and everything queued was written
                return
            else:
                return  # idle: the hub callback writes again from here on
            try:
                self._write(chunks)
            except OSError:
                self._finish(False)  # the peer is gone
                return

    def _write(self, chunks: list[Any]) -> None:
        sendall = self.stream.sendall
        if len(chunks) == 1:
            sendall(chunks[0])
            self.bytes_out += len(chunks[0])
            return
        small: list[Any] = []
        for chunk in chunks:
            if len(chunk) >= LARGE_CHUNK:
                if small:
                    self._send_joined(small)
                    small = []
                sendall(chunk)
                self.bytes_out += len(chunk)
            else:
                small.append(chunk)
        if small:
            self._send_joined(small)

    def _send_joined(self, chunks: list[Any]) -> None:
        data = b"".join(chunks)
        self.stream.sendall(data)
        self.bytes_out += len(data)


class PollFlusher:
    """The writers of one hub that have something to write, flushed together once per turn of
    the hub's loop, just before it polls: everything the hub's greenlets sent in that turn goes
    out as one batch per connection (a publisher's 100 subscribers: 100 sends per turn, not per
    ``sleep(0)``), as libzmq's I/O thread batches what its application queued meanwhile.

    It is a libev prepare watcher of the lowest priority, so that it runs after gevent's own
    prepare watcher has run the hub's callbacks (the greenlets that were sending). It is always
    started: one started while the prepare watchers are being run would miss this turn's and
    let the loop block with a batch unwritten. A flush may schedule callbacks (a sender waiting
    for room, a greenlet to spawn); libev's gevent runs callbacks only in its own prepare
    watcher, which has run already, so a zero timer then keeps the poll from blocking."""

    __slots__ = ("_pending", "_watcher", "_loop", "_kick")

    def __init__(self, loop: Any) -> None:
        self._pending: list[ConnectionWriter] = []
        self._loop = loop
        self._kick = loop.timer(0.0, ref=False)
        self._watcher = loop.prepare(ref=False, priority=getattr(loop, "MINPRI", -2))
        self._watcher.start(self._flush)
        # made with the hub's first writer, maybe while the prepare watchers run (from a
        # greenlet that gevent's callbacks woke): this turn's poll must not block before the
        # new watcher has had its first turn
        self._kick.start(_nothing)

    def add(self, writer: ConnectionWriter) -> None:
        self._pending.append(writer)

    def _flush(self) -> None:
        pending = self._pending
        if not pending:
            return
        while pending:  # a writer with more than a batch queued adds itself again
            self._pending = []
            done = 0
            try:
                for writer in pending:
                    writer._flush_from_hub()  # (catches every Exception itself)
                    done += 1
            except BaseException:
                # a KeyboardInterrupt or a signal handler's SystemExit landing in the hub: the
                # writers not flushed yet stay pending (they would never be added again)
                self._pending[:0] = pending[done + 1:]
                self._kick.start(_nothing)
                raise
            pending = self._pending
        if getattr(self._loop, "_callbacks", True):
            self._kick.start(_nothing)


def _nothing() -> None:
    pass


def poll_flusher() -> PollFlusher:
    """This hub's flusher (made with its first writer)."""
    hub = get_hub()
    flusher = getattr(hub, "gzmq_flusher", None)
    if flusher is None:
        flusher = hub.gzmq_flusher = PollFlusher(hub.loop)
    return flusher


class FanOutWriter(ConnectionWriter):
    """The writer of a PUB's (XPUB's, RADIO's) connection without CURVE: it shares the wire
    bytes of a batch with the socket's other connections.

    A publisher puts the same message objects into every subscriber's pipe, and the writers
    flush from the same ``PollFlusher`` run, so in the steady state they take identical
    batches. The first to take one encodes and joins it; the others find it is the same
    objects in the same order (identity, compared in C) and send the same bytes: the encoding
    work per message is done once instead of once per subscriber. Anything else -- a
    subscriber that missed a message at its high-water mark, other topics, commands, large
    bodies, CURVE -- is encoded per connection, as ``ConnectionWriter`` does."""

    def _take_batch(self) -> list[Any]:
        global _last_shared
        control = self.control
        if control:
            return super()._take_batch()
        taken = self.queue.take_batch(BATCH_MESSAGES)  # tells the socket's senders of room
        self._more = len(taken) == BATCH_MESSAGES
        if not taken:
            return []
        last = _last_shared  # (read once: a (batch, bytes) pair, replaced whole)
        if last is not None and len(last[0]) == len(taken) and all(map(is_, last[0], taken)):
            return [last[1]]
        chunks: list[Any] = []
        if {*map(type, taken)} != _PLAIN_MESSAGES:  # commands, or zero-copy tracked messages
            # (a shared batch is kept until the next: it would hold their trackers back)
            self._encode(taken, chunks)
            return chunks
        self.conn.encode_messages(taken, chunks)
        if max(map(len, chunks)) >= LARGE_CHUNK:
            return chunks  # (a large body is written as it is, never joined)
        wire = b"".join(chunks)
        _last_shared = (taken, wire)
        return [wire]


#: the last batch a FanOutWriter encoded, and its bytes
_last_shared: Optional[tuple[list[Any], bytes]] = None


#: pipe items that become ZMTP commands, not messages
_COMMAND_ITEMS = frozenset({SubscriptionCommand, GroupCommand})
_PLAIN_MESSAGES = {list}
