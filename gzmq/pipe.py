"""Pipes: the only objects shared between user greenlets and connection greenlets.

A pipe joins a socket to one peer. It is two bounded FIFO queues of whole messages (one per
direction) seen from two ends: ``pipe_pair()`` returns ``(a, b)`` where ``a.outbound is
b.inbound`` and ``a.inbound is b.outbound``. For tcp/ipc one end belongs to the socket and the
other to the connection's Engine; for inproc each end belongs to a socket and no engine exists.

Rules:
- An item is a message (``list[bytes]``) or a ``SubscriptionCommand``. Messages are whole:
  multipart atomicity is decided before a message enters a pipe, never inside one.
- The high-water mark counts messages per direction (0 = unbounded). ``send_nowait`` raises
  ``Again`` at the mark; nothing here ever blocks. Blocking lives in the socket facade (one
  loop, ``Socket._wait``) and in the engine, which are the two kinds of owner.
- Every put notifies the queue's ``reader`` signal; a get notifies its ``writer`` signal when
  the queue was full (only then can a writer be waiting for room). Owners
  assign those signals: a socket gives all its pipes its own two signals (so one wait covers
  every peer); an engine gives its own. Reassigning them is how a reconnecting engine takes
  over a pipe that outlived the previous connection.
- ``close_writing()`` marks "no more items will come"; the reader drains what is left first.
"""

from __future__ import annotations

from collections import deque
from typing import Any, Callable, Optional

from gevent.event import Event

from .error import Again

__all__ = ["Signal", "MessageQueue", "Pipe", "pipe_pair", "SubscriptionCommand"]


class Signal:
    """Wakes every greenlet waiting for "something changed"; waiters re-check their condition.

    Lost wake-ups cannot happen: all greenlets run on one hub, so between a waiter's failed
    check and its ``wait()`` no other greenlet runs. Each notify sets (and forgets) the current
    Event, so every greenlet that was waiting wakes even if another notify follows at once —
    the trap gevent's ``event.py`` warns about when an Event is set and cleared. No Event is
    allocated while nobody waits, which keeps ``notify()`` on the message path nearly free.
    """

    __slots__ = ("_event", "_watchers")

    def __init__(self) -> None:
        self._event: Optional[Event] = None
        #: callbacks run on every notify (pollers, the emulated ZMQ_FD)
        self._watchers: Optional[list[Callable[[], None]]] = None

    def wait(self, timeout: Optional[float] = None) -> bool:
        """Block the current greenlet until the next notify; False if ``timeout`` expired."""
        event = self._event
        if event is None:
            event = self._event = Event()
        return event.wait(timeout)

    def notify(self) -> None:
        event = self._event
        if event is not None:
            self._event = None
            event.set()
        if self._watchers:
            for watcher in tuple(self._watchers):
                watcher()

    def add_watcher(self, callback: Callable[[], None]) -> None:
        if self._watchers is None:
            self._watchers = []
        self._watchers.append(callback)

    def remove_watcher(self, callback: Callable[[], None]) -> None:
        if self._watchers and callback in self._watchers:
            self._watchers.remove(callback)


class SubscriptionCommand:
    """A (un)subscription travelling on a pipe, distinct from user data.

    The engine turns it into a SUBSCRIBE/CANCEL command for ZMTP 3.1 peers (or a ``\\x01``/
    ``\\x00`` message for 3.0 peers); XPUB presents it to its application as ``\\x01topic``.
    A user's own ``b"\\x01topic"`` sent on an XSUB stays a plain message, as in libzmq.
    """

    __slots__ = ("subscribe", "topic")

    def __init__(self, subscribe: bool, topic: bytes) -> None:
        self.subscribe = subscribe
        self.topic = topic

    def as_message(self) -> list[bytes]:
        return [(b"\x01" if self.subscribe else b"\x00") + self.topic]

    def __repr__(self) -> str:
        return f"SubscriptionCommand({self.subscribe}, {self.topic!r})"


class MessageQueue:
    """One direction of a pipe: a deque bounded by ``hwm`` messages, with two signals."""

    __slots__ = ("items", "hwm", "reader", "writer", "write_closed", "read_closed", "conflate")

    def __init__(self, hwm: int) -> None:
        self.items: deque[Any] = deque()
        self.hwm = hwm
        #: CONFLATE: a new message replaces whatever is still queued (latest value only)
        self.conflate = False
        self.reader = Signal()  # notified when an item arrives or writing ends
        self.writer = Signal()  # notified when room appears or reading ends
        self.write_closed = False  # the writer will put nothing more
        self.read_closed = False  # nobody will read: puts are discarded

    @property
    def full(self) -> bool:
        return bool(self.hwm) and len(self.items) >= self.hwm


class Pipe:
    """One end of a pipe pair: what its owner sends goes out, what the peer sent comes in.

    Peer details (routing id, ZMTP properties, endpoint) are filled in by whoever creates the
    pipe; routing strategies read them (ROUTER needs ``routing_id``, SUB filtering needs
    nothing, ``Frame.get()`` needs ``properties``).
    """

    __slots__ = (
        "inbound", "outbound", "peer", "routing_id", "properties", "endpoint",
        "detached", "owner", "__weakref__",
    )

    def __init__(self, inbound: MessageQueue, outbound: MessageQueue) -> None:
        self.inbound = inbound
        self.outbound = outbound
        self.peer: Optional[Pipe] = None
        self.routing_id: bytes = b""
        #: ZMTP metadata of the peer plus Peer-Address (for Frame.get)
        self.properties: dict[str, bytes] = {}
        self.endpoint: str = ""
        #: set by routing when the pipe has left its socket; FQ drains then forgets it
        self.detached = False
        #: an opaque back-reference for the owner (the Engine or Connector that feeds it)
        self.owner: Any = None

    # --- non-blocking operations, used by routing strategies ------------------------------

    @property
    def writable(self) -> bool:
        out = self.outbound
        return not out.read_closed and not (out.hwm and len(out.items) >= out.hwm)

    @property
    def readable(self) -> bool:
        return bool(self.inbound.items)

    def send_nowait(self, item: Any) -> None:
        """Queue one message for the peer; ``Again`` at the high-water mark."""
        out = self.outbound
        if out.conflate:
            out.items.clear()
        elif out.hwm and len(out.items) >= out.hwm:
            raise Again()
        if out.read_closed:
            return  # the peer is gone for good: libzmq drops too
        out.items.append(item)
        out.reader.notify()

    def force_send(self, item: Any) -> None:
        """Queue ignoring the mark; used for subscriptions, which libzmq never drops."""
        out = self.outbound
        if not out.read_closed:
            out.items.append(item)
            out.reader.notify()

    def recv_nowait(self) -> Any:
        """Take the oldest incoming item; ``Again`` if there is none."""
        inbound = self.inbound
        try:
            item = inbound.items.popleft()
        except IndexError:
            raise Again() from None
        if inbound.hwm and len(inbound.items) + 1 >= inbound.hwm:
            inbound.writer.notify()  # it was full: a blocked writer may go on
        return item

    def peek(self) -> Any:
        return self.inbound.items[0]

    @property
    def peer_gone(self) -> bool:
        """The peer will send nothing more and everything it sent has been read."""
        return self.inbound.write_closed and not self.inbound.items

    # --- ending ---------------------------------------------------------------------------

    def close_writing(self) -> None:
        """Tell the peer end that nothing more will be sent (it drains what is queued)."""
        out = self.outbound
        if not out.write_closed:
            out.write_closed = True
            out.reader.notify()

    def close_reading(self, discard: bool = True) -> None:
        """Stop reading: drop what is queued and make the peer's future sends no-ops."""
        inbound = self.inbound
        inbound.read_closed = True
        if discard:
            inbound.items.clear()
        inbound.writer.notify()

    def statistics(self) -> dict[str, int]:
        return {
            "outbound_queued": len(self.outbound.items),
            "inbound_queued": len(self.inbound.items),
            "sndhwm": self.outbound.hwm,
            "rcvhwm": self.inbound.hwm,
        }

    def __repr__(self) -> str:
        return f"<Pipe {self.endpoint or 'inproc'} rid={self.routing_id!r}>"


def pipe_pair(hwm_a_to_b: int, hwm_b_to_a: int) -> tuple[Pipe, Pipe]:
    """Make two cross-wired pipe ends; ``a.send_nowait(x)`` is read by ``b.recv_nowait()``."""
    a_to_b = MessageQueue(hwm_a_to_b)
    b_to_a = MessageQueue(hwm_b_to_a)
    a = Pipe(inbound=b_to_a, outbound=a_to_b)
    b = Pipe(inbound=a_to_b, outbound=b_to_a)
    a.peer, b.peer = b, a
    return a, b
