"""Pipes: the only objects shared between a socket and whatever feeds it (an engine, or the
other socket of an inproc connection).

A pipe joins a socket to one peer. It is two bounded FIFO queues of whole messages
(``MessageQueue``, one per direction) seen from two ends: ``pipe_pair()`` returns ``(a, b)``
where ``a.outbound is b.inbound`` and ``a.inbound is b.outbound``. For tcp/ipc one end belongs
to the socket and the other to the connection's Engine; for inproc each end belongs to a socket.

Rules:

- An item is a message (``list[bytes]``), a ``SubscriptionCommand`` or a ``GroupCommand``
  (RADIO/DISH). Messages are whole:
  multipart atomicity is decided before a message enters a pipe, never inside one.
- The high-water mark counts items per direction (0 = unbounded). ``try_put`` refuses at the
  mark; nothing here ever blocks. Blocking lives in the socket facade (``Socket._wait``) and in
  the engine, the two kinds of owner. CONFLATE: a new message replaces whatever is queued
  (subscription commands are never conflated).
- A queue's state is changed only through its methods; nobody outside this module touches the
  items. ``writable`` is True exactly when ``try_put`` would succeed, ``readable`` exactly when
  ``take`` would return an item.
- ``close_writing()`` means "no more items will come": the reader drains what is left first.
  ``close_reading()`` means "nobody will read": what is queued is dropped, puts are refused.

Notifiers (the one way a pipe tells anybody anything):

- Each queue has a *writer side* and a *reader side*, and each side gives it one ``Notifier``
  (any object with ``notify()``). The owner of a pipe end attaches its two notifiers at once
  with ``Pipe.attach_notifiers(on_readable, on_writable)``: ``on_readable`` for its inbound
  queue, ``on_writable`` for its outbound queue. The socket side attaches per-pipe notifiers
  that tell its routing *which* pipe changed (libzmq's read_activated / write_activated); an
  engine attaches its writer and its reader's room signal. A reconnecting engine takes over the
  engine end through the same method, which replaces the previous engine's notifiers.
- The reader side is notified when its queue *becomes readable*: a put into an empty queue,
  or writing closes. The writer side is notified when its queue has room again: a take that
  leaves it at its *resume level* (``resume_level(hwm)``, libzmq's low-water mark: half the
  mark, or 1024 items for a mark above 2048), ``clear()``, a changed mark or CONFLATE that
  leaves the queue writable, or reading closes; and after every ``take_batch`` (a batch taken
  is progress, which exit delivery watches). A writer stopped at the mark therefore resumes
  once the reader has taken half the queue, not after every message (lock-step: one wake-up
  of the writer per message), as in libzmq, where a blocked sender also waits for the
  reader's low-water notification. These are edges: a put into a non-empty queue notifies
  nobody. A notifier may be called more often than that (receivers always re-check), never
  less.
- A pipe calls ``notify()`` and nothing else: it never touches a gevent Event, a hub or a
  greenlet. ``Signal`` below is the default notifier: it wakes greenlets of the same hub.

Threads. A notifier runs in the thread of whoever changed the queue, which is the *other*
side: the reader side's ``on_readable`` runs in the writer's thread, the writer side's
``on_writable`` in the reader's thread. Today every side of every pipe runs on the socket's hub
(one OS thread), so a notifier may act at once. When engines move to I/O threads (libzmq-style),
the socket side's notifiers will be called from the I/O thread and must then hand the pipe over
to the socket's thread (a thread-safe mailbox plus a ``loop.async_()`` wake-up, as libzmq's
activate_read command), and the engine's notifiers will be called from the application thread.
The pipe itself needs no change for that, except one: the edge tests (length before a put,
after a take) must then be made atomic with the put or take (libzmq's ypipe does it with a
compare-and-swap); they live only in ``MessageQueue``.
"""

from __future__ import annotations

import sys
from collections import deque
from types import MappingProxyType
from typing import Any, Callable, Iterable, Mapping, Optional, Protocol

from gevent.hub import Waiter

from .error import Again

__all__ = ["Notifier", "NOBODY", "Signal", "PipeActivation", "MessageQueue", "Pipe",
           "pipe_pair", "put_each", "resume_level", "SubscriptionCommand", "GroupCommand"]

_UNBOUNDED = sys.maxsize
#: the items of a queue nothing was ever put into. A deque costs 760 bytes from birth (its
#: first block), and an idle connection's queues may never hold anything (10,000 idle peers:
#: 15 MB): the first put makes it (``_put_below`` is 0 until then, so ``try_put`` goes to
#: ``_put_slow``). Readers need no check: they test ``if items`` first.
_NO_ITEMS: Any = ()
#: a pipe's properties until it is given some
_NO_PROPERTIES: Mapping[str, bytes] = MappingProxyType({})


def resume_level(hwm: int) -> int:
    """How many items a queue at its mark ``hwm`` holds when its writer is woken to go on:
    libzmq's low-water mark seen from the other side (pipe.cpp's compute_lwm: the writer hears
    of the reads every LWM messages, LWM = (hwm + 1) // 2, or hwm - 1024 above 2048)."""
    if hwm > 2048:
        return 1024
    return hwm - (hwm + 1) // 2


class Notifier(Protocol):
    """Told that a queue became readable (reader side) or writable (writer side)."""

    def notify(self) -> None: ...


class _Nobody:
    """The notifier of a side nobody owns yet (or any more)."""

    __slots__ = ()

    def notify(self) -> None:
        pass

    def __repr__(self) -> str:
        return "NOBODY"


NOBODY: Notifier = _Nobody()


class Signal:
    """Wakes every greenlet waiting for "something changed"; waiters re-check their condition.

    Lost wake-ups cannot happen: all greenlets run on one hub, so between a waiter's failed
    check and its ``wait()`` no other greenlet runs. Each waiting greenlet parks on its own
    gevent ``Waiter``; a notify takes (and forgets) the current list of them and schedules each
    one's wake-up, so every greenlet that was waiting wakes even if another notify follows at
    once. A Waiter switched from a hub callback costs about half a gevent ``Event`` (whose
    ``set`` goes through one more callback and its link bookkeeping): this is the wake-up of
    every blocking recv and send. Nothing is allocated while nobody waits, which keeps
    ``notify()`` on the message path nearly free.
    Same-hub only: waking a greenlet of another thread's hub needs an async watcher instead.
    """

    __slots__ = ("_waiters", "_watchers", "watched")

    def __init__(self) -> None:
        self._waiters: Optional[list[Waiter]] = None
        #: callbacks run on every notify (pollers, the emulated ZMQ_FD)
        self._watchers: Optional[list[Callable[[], None]]] = None
        #: someone would hear a notify now (a waiting greenlet or a watcher): a caller on a
        #: hot path may test this plain attribute and skip the call when nobody listens
        self.watched = False

    def wait(self, timeout: Optional[float] = None) -> bool:
        """Block the current greenlet until the next notify; False if ``timeout`` expired."""
        waiter = Waiter()
        waiters = self._waiters
        if waiters is None:
            waiters = self._waiters = []
            self.watched = True
        waiters.append(waiter)
        timer = None
        if timeout is not None:
            timer = waiter.hub.loop.timer(max(timeout, 0.0))
            timer.start(waiter.switch, _TIMED_OUT)
        try:
            return waiter.get() is not _TIMED_OUT
        finally:
            if timer is not None:
                timer.close()
            if self._waiters is waiters:  # not woken by a notify (which takes the list)
                self._forget(waiters, waiter)

    def _forget(self, waiters: list[Waiter], waiter: Waiter) -> None:
        # a timeout, or an exception thrown into the waiting greenlet: take its waiter out,
        # so that waits that end without a notify do not pile up
        waiters.remove(waiter)
        if not waiters:
            self._waiters = None
            self.watched = bool(self._watchers)

    def notify(self) -> None:
        waiters = self._waiters
        if waiters is not None:
            self._waiters = None
            self.watched = bool(self._watchers)
            wake_all(waiters)
        if self._watchers:
            for watcher in tuple(self._watchers):
                watcher()

    def add_watcher(self, callback: Callable[[], None]) -> None:
        if self._watchers is None:
            self._watchers = []
        self._watchers.append(callback)
        self.watched = True

    def remove_watcher(self, callback: Callable[[], None]) -> None:
        if self._watchers and callback in self._watchers:
            self._watchers.remove(callback)
            self.watched = bool(self._watchers) or self._waiters is not None


#: what a waiter's timer switches in: ``Signal.wait`` timed out
_TIMED_OUT = object()


def wake_all(waiters: list[Waiter]) -> None:
    """Schedule the wake-up of each of ``waiters`` (from the hub: a Waiter is switched only
    there, and never from inside the caller, which may be in the middle of its own work)."""
    for waiter in waiters:
        waiter.hub.loop.run_callback(waiter.switch, None)


class PipeActivation:
    """The socket side's notifier for one queue of one pipe.

    ``notify()`` first tells the socket's routing *which* pipe became ready (``activate`` is
    the routing's ``read_activated`` or ``write_activated``, libzmq's names), then wakes the
    socket's waiters (``wake``: its recv or send ``Signal``, which pollers and the emulated
    ZMQ_FD watch too). Both run in the thread that changed the queue; today that is always the
    socket's own hub. An I/O thread would use one that posts the pipe to the socket's thread.
    """

    __slots__ = ("_activate", "_pipe", "_wake")

    def __init__(self, activate: Optional[Callable[[Any], Any]], pipe: "Pipe",
                 wake: Signal) -> None:
        self._activate = activate  # None: the routing keeps no track of ready pipes
        self._pipe = pipe
        self._wake = wake

    def notify(self) -> None:
        if self._activate is not None:
            self._activate(self._pipe)
        wake = self._wake  # Signal.notify, inlined: this runs at every edge of every pipe
        waiters = wake._waiters
        if waiters is not None:
            wake._waiters = None
            wake.watched = bool(wake._watchers)
            for waiter in waiters:  # (wake_all, inlined)
                waiter.hub.loop.run_callback(waiter.switch, None)
        if wake._watchers:
            for watcher in tuple(wake._watchers):
                watcher()

    def __repr__(self) -> str:
        return f"<PipeActivation {self._activate!r} {self._pipe!r}>"


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

    def __repr__(self) -> str:
        return f"SubscriptionCommand({self.subscribe}, {self.topic!r})"


class GroupCommand:
    """A DISH's JOIN or LEAVE of ``group`` travelling to its RADIO, distinct from user data.

    The engine turns it into a JOIN/LEAVE command (and a received command back into one);
    over inproc the RADIO reads it as is. ``group`` None with ``join`` True means "every
    group" (a udp pipe: libzmq's RADIO sends everything there, the DISH filters).
    """

    __slots__ = ("join", "group")

    def __init__(self, join: bool, group: Optional[bytes]) -> None:
        self.join = join
        self.group = group

    def __repr__(self) -> str:
        return f"GroupCommand({self.join}, {self.group!r})"


class MessageQueue:
    """One direction of a pipe: a FIFO bounded by ``hwm`` items, with two notified sides.

    Writer side: ``try_put``, ``put_batch``, ``force_put``, ``writable``, ``close_writing``,
    ``rewrite``. Reader side: ``take``, ``take_batch``, ``clear``, ``readable``, ``len()``,
    ``close_reading``. The notifiers are attached through ``Pipe.attach_notifiers``.
    """

    __slots__ = ("_items", "_hwm", "_conflate", "write_closed", "read_closed",
                 "_put_below", "_wake_writer_at", "_on_readable", "_on_writable")

    def __init__(self, hwm: int) -> None:
        self._items: deque[Any] = _NO_ITEMS  # a deque from the first put on
        self._hwm = hwm
        self._conflate = False
        #: the writer will put nothing more (read it; ``close_writing`` sets it)
        self.write_closed = False
        #: nobody will read: puts are refused (read it; ``close_reading`` sets it)
        self.read_closed = False
        #: told when the queue becomes readable (set by the reader side's owner)
        self._on_readable: Notifier = NOBODY
        #: told when the queue becomes writable (set by the writer side's owner)
        self._on_writable: Notifier = NOBODY
        self._put_below = self._wake_writer_at = 0
        self._update_bounds()

    def _update_bounds(self) -> None:
        # try_put appends at once while len < _put_below; anything else (the mark, conflate,
        # a closed reader) goes through _put_slow, so the common put costs one comparison
        if self.read_closed or self._conflate:
            self._put_below = -1
        elif self._items is _NO_ITEMS:
            self._put_below = 0  # the first put makes the deque
        else:
            self._put_below = self._hwm or _UNBOUNDED
        # a take that leaves exactly this many items wakes the writer side (never: -1)
        self._wake_writer_at = resume_level(self._hwm) if self._hwm else -1

    # --- configuration ----------------------------------------------------------------------

    @property
    def hwm(self) -> int:
        return self._hwm

    @hwm.setter
    def hwm(self, hwm: int) -> None:
        self._hwm = hwm
        self._update_bounds()
        if self.writable:
            # a raised mark made room (inproc: summed HWMs). A writer stopped at the old mark
            # may wait even if the queue was writable already (between the mark and the
            # resume level), and the resume level has moved: tell it now
            self._on_writable.notify()

    @property
    def conflate(self) -> bool:
        """CONFLATE: each new message replaces what is queued (latest value only)."""
        return self._conflate

    @conflate.setter
    def conflate(self, conflate: bool) -> None:
        self._conflate = bool(conflate)
        self._update_bounds()
        if self.writable:
            self._on_writable.notify()  # (as a changed mark: a stopped writer may go on)

    # --- the writer side --------------------------------------------------------------------

    @property
    def writable(self) -> bool:
        """``try_put`` of a message would succeed."""
        if self.read_closed:
            return False
        return self._conflate or not self._hwm or len(self._items) < self._hwm

    def room(self) -> int:
        """How many more messages ``try_put`` takes now; -1 if there is no bound (no mark,
        CONFLATE, or a closed reader, where everything is taken or discarded)."""
        if self._put_below < 0 or not self._hwm:
            return -1
        room = self._hwm - len(self._items)
        return room if room > 0 else 0

    def try_put(self, item: Any) -> bool:
        """Queue ``item``; False (and nothing queued) at the mark or if the reader closed."""
        items = self._items
        count = len(items)
        if count < self._put_below:
            items.append(item)
            if not count:  # it was empty: the reader side may be asleep
                self._on_readable.notify()
            return True
        return self._put_slow(item)

    def _allocate(self) -> deque[Any]:
        items = self._items = deque()
        self._update_bounds()
        return items

    def _put_slow(self, item: Any) -> bool:
        if self.read_closed:
            return False
        items = self._items
        if items is _NO_ITEMS:
            items = self._allocate()
        was_empty = not items
        if self._conflate and type(item) is not SubscriptionCommand:
            items.clear()
        elif self._hwm and len(items) >= self._hwm:
            return False
        items.append(item)
        if was_empty:
            self._on_readable.notify()
        return True

    def put_batch(self, batch: list[Any], start: int = 0) -> int:
        """``try_put`` each of ``batch[start:]`` in order until one is refused; return the
        index of the first item not queued (``len(batch)`` when all were). If the reader has
        closed, every item is discarded and ``len(batch)`` returned: nobody will read them.
        The reader side is notified once, not per item (the engine's bulk delivery)."""
        end = len(batch)
        if self.read_closed:
            return end
        items = self._items
        if items is _NO_ITEMS:
            items = self._allocate()
        was_empty = not items
        if self._conflate:
            index = start
            while index < end:
                item = batch[index]
                if type(item) is not SubscriptionCommand:
                    items.clear()
                elif self._hwm and len(items) >= self._hwm:
                    break
                items.append(item)
                index += 1
        else:
            index = end
            if self._hwm:
                room = self._hwm - len(items)
                if room < end - start:
                    index = start + room if room > 0 else start
            if index > start:
                items.extend(batch[start:index] if start or index < end else batch)
        if was_empty and items:
            self._on_readable.notify()
        return index

    def force_put(self, item: Any) -> None:
        """Queue ignoring the mark (subscriptions, which libzmq never drops); discarded if
        the reader has closed."""
        if self.read_closed:
            return
        items = self._items
        if items is _NO_ITEMS:
            items = self._allocate()
        items.append(item)
        if len(items) == 1:
            self._on_readable.notify()

    def rewrite(self, transform: Callable[[list[Any]], Iterable[Any]]) -> None:
        """Replace what is queued by ``transform(queued)``, ignoring the mark (the writer side
        after a reconnect: XSUB puts its subscriptions in front of what waits)."""
        if self.read_closed:
            return
        items = self._items
        if items is _NO_ITEMS:
            items = self._allocate()
        was_empty = not items
        queued = list(items)
        items.clear()
        items.extend(transform(queued))
        if was_empty and items:
            self._on_readable.notify()

    def close_writing(self) -> None:
        """Nothing more will be put; the reader drains what is queued first."""
        if not self.write_closed:
            self.write_closed = True
            self._on_readable.notify()

    def reopen_writing(self) -> None:
        """A new writer took over (an engine reconnected): items may come again."""
        self.write_closed = False

    # --- the reader side --------------------------------------------------------------------

    @property
    def readable(self) -> bool:
        """``take`` would return an item."""
        return bool(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def take(self) -> Any:
        """The oldest item, or None if the queue is empty."""
        items = self._items
        if not items:
            return None
        item = items.popleft()
        if len(items) == self._wake_writer_at:  # a writer stopped at the mark may resume
            self._on_writable.notify()
        return item

    def take_batch(self, limit: int) -> list[Any]:
        """Up to ``limit`` of the oldest items (the engine's writer). Notifies the writer side
        whenever something was taken: room, and progress."""
        items = self._items
        count = len(items)
        if not count or limit <= 0:
            return []
        if count <= limit:
            batch = list(items)  # all of it (the common case): one C call
            items.clear()
        else:
            popleft = items.popleft
            batch = [popleft() for _ in range(limit)]
        self._on_writable.notify()
        return batch

    def clear(self) -> int:
        """Drop everything queued; return how many items that was."""
        items = self._items
        count = len(items)
        if count:
            items.clear()
            self._on_writable.notify()
        return count

    def close_reading(self) -> None:
        """Nobody will read: drop what is queued, refuse what comes, wake a waiting writer."""
        self.read_closed = True
        if self._items:
            self._items.clear()
        self._update_bounds()
        self._on_writable.notify()

    def __repr__(self) -> str:
        flags = "".join(flag for flag, on in (("W", self.write_closed), ("R", self.read_closed),
                                             ("C", self._conflate)) if on)
        return f"<MessageQueue {len(self._items)}/{self._hwm or 'inf'} {flags}>"


class Pipe:
    """One end of a pipe pair: what its owner sends goes out, what the peer sent comes in.

    Peer details (routing id, ZMTP properties, endpoint) are filled in by whoever creates the
    pipe; routing strategies read them (ROUTER needs ``routing_id``, ``Frame.get()`` needs
    ``properties``).
    """

    __slots__ = (
        "inbound", "outbound", "peer", "routing_id", "properties", "endpoint", "detached",
        "__weakref__",
    )

    def __init__(self, inbound: MessageQueue, outbound: MessageQueue) -> None:
        self.inbound = inbound
        self.outbound = outbound
        self.peer: Optional[Pipe] = None
        self.routing_id: bytes = b""
        #: ZMTP metadata of the peer plus Peer-Address (for Frame.get); replaced, never
        #: changed in place (the default is shared: an engine's end of a pipe never has any)
        self.properties: Mapping[str, bytes] = _NO_PROPERTIES
        self.endpoint: str = ""
        #: set by routing when the pipe has left its socket; FQ drains then forgets it
        self.detached = False

    def attach_notifiers(self, on_readable: Notifier, on_writable: Notifier) -> None:
        """Become this end's owner: ``on_readable`` is told when what comes in becomes
        readable, ``on_writable`` when what goes out has room again. Replaces the previous
        owner's notifiers (a reconnecting engine takes the engine end over this way)."""
        self.inbound._on_readable = on_readable
        self.outbound._on_writable = on_writable

    def detach_notifiers(self) -> None:
        """The owner is gone (an engine ended): nobody is told anything until the next one."""
        self.attach_notifiers(NOBODY, NOBODY)

    # --- conveniences over the two queues ---------------------------------------------------

    @property
    def writable(self) -> bool:
        return self.outbound.writable

    @property
    def readable(self) -> bool:
        return self.inbound.readable

    def send_nowait(self, item: Any) -> None:
        """Queue one message for the peer; ``Again`` at the high-water mark. Dropped if the
        peer has stopped reading for good (libzmq drops too)."""
        outbound = self.outbound
        if not outbound.try_put(item) and not outbound.read_closed:
            raise Again()

    def force_send(self, item: Any) -> None:
        """Queue ignoring the mark; used for subscriptions, which libzmq never drops."""
        self.outbound.force_put(item)

    def recv_nowait(self) -> Any:
        """Take the oldest incoming item; ``Again`` if there is none."""
        item = self.inbound.take()
        if item is None:
            raise Again()
        return item

    @property
    def peer_gone(self) -> bool:
        """The peer will send nothing more and everything it sent has been read."""
        return self.inbound.write_closed and not self.inbound.readable

    def close_writing(self) -> None:
        """Tell the peer end that nothing more will be sent (it drains what is queued)."""
        self.outbound.close_writing()

    def close_reading(self) -> None:
        """Stop reading: drop what is queued and make the peer's future sends no-ops."""
        self.inbound.close_reading()

    def statistics(self) -> dict[str, int]:
        return {
            "outbound_queued": len(self.outbound),
            "inbound_queued": len(self.inbound),
            "sndhwm": self.outbound.hwm,
            "rcvhwm": self.inbound.hwm,
        }

    def __repr__(self) -> str:
        return f"<Pipe {self.endpoint or 'inproc'} rid={self.routing_id!r}>"


def put_each(pipes: Iterable[Pipe], msg: Any) -> list[Pipe]:
    """``try_put`` of ``msg`` into the outbound queue of each of ``pipes`` (fan-out: PUB,
    XPUB, RADIO...); return the pipes that refused it. ``try_put``'s fast path is inlined:
    this runs once per message per subscriber, and a call each cost a publisher to 100
    subscribers a few microseconds per message."""
    refused: list[Pipe] = []
    for pipe in pipes:
        queue = pipe.outbound
        items = queue._items
        count = len(items)
        if count < queue._put_below:
            items.append(msg)
            if not count:  # it was empty: the reader side may be asleep
                queue._on_readable.notify()
        elif not queue.try_put(msg):  # at its mark, or nobody reads it
            refused.append(pipe)
    return refused


def pipe_pair(hwm_a_to_b: int, hwm_b_to_a: int) -> tuple[Pipe, Pipe]:
    """Make two cross-wired pipe ends; ``a.send_nowait(x)`` is read by ``b.recv_nowait()``."""
    a_to_b = MessageQueue(hwm_a_to_b)
    b_to_a = MessageQueue(hwm_b_to_a)
    a = Pipe(inbound=b_to_a, outbound=a_to_b)
    b = Pipe(inbound=a_to_b, outbound=b_to_a)
    a.peer, b.peer = b, a
    return a, b
