"""PUB, XPUB, SUB, XSUB (RFC 29), with libzmq's subscription rules.

- Filtering happens at the publisher for tcp/ipc/inproc alike (prefix match on the first frame
  only), and SUB filters again locally, so a peer that sends everything is still correct.
- Subscriptions travel on pipes as ``SubscriptionCommand`` (what our SUB/XSUB generate) or as
  ``\\x01topic`` / ``\\x00topic`` messages (what an XSUB application or a ZMTP 3.0 peer sends);
  XPUB accepts both and always shows its application the ``\\x01``/``\\x00`` form.
- The subscriber counts: subscribing twice needs two cancels, and CANCEL goes out only when the
  count reaches zero. The publisher keeps a set of pipes per topic.
- XPUB/PUB read their subscribers' pipes lazily, before each send/recv/poll, as libzmq does when
  it processes pending commands: only pipes that have something (the fair queue's active ones,
  activated by their pipes), so a publish does not look at every subscriber. Subscriptions from
  the network count against RCVHWM, as in libzmq: a subscriber flooding an idle publisher is
  held back by TCP, not by our memory.
- XPUB's options are libzmq's (xpub.cpp): XPUB_VERBOSE reports every subscription,
  XPUB_VERBOSER every unsubscription too; XPUB_MANUAL reports every (un)subscription and
  applies none: the application's ``subscribe``/``unsubscribe`` on the XPUB apply to the peer
  whose (un)subscription it read last (XPUB_MANUAL_LAST_VALUE: and the next send goes to that
  peer only); XPUB_WELCOME_MSG goes to each new subscriber; ONLY_FIRST_SUBSCRIBE reads the
  frames of a multipart message as (un)subscriptions only after a first one.
"""

from __future__ import annotations

from collections import deque
from typing import Any, Optional

from ..constants import EINVAL, SocketOption
from ..error import Again, ZMQError
from ..pipe import Pipe, SubscriptionCommand
from .base import Routing
from .primitives import Distributor, FairQueue, Subscriptions

__all__ = ["Pub", "XPub", "Sub", "XSub"]


def parse_subscription(item: Any) -> Optional[tuple[bool, bytes]]:
    """(subscribe?, topic) if ``item`` is a subscription in either form, else None."""
    if type(item) is SubscriptionCommand:
        return item.subscribe, item.topic
    first = item[0]
    if first and first[0] <= 1:
        return first[0] == 1, bytes(first[1:])
    return None


class XPub(Routing):
    socket_type = "XPUB"
    #: XPUB hands subscriptions and other upstream messages to its application; PUB drops them
    delivers_upstream = True
    accepts_subscriptions = True
    fans_out = True

    def __init__(self, options: Any) -> None:
        super().__init__(options)
        self._dist = Distributor()
        self._upstream = FairQueue()
        self._subscriptions: Subscriptions[Pipe] = Subscriptions()
        #: what recv hands out, each with the pipe a (un)subscription came from (XPUB_MANUAL)
        self._for_application: deque[tuple[list[bytes], Optional[Pipe]]] = deque()
        #: XPUB_MANUAL: what each peer asked for (the application decides what it gets), and
        #: the pipe of the last (un)subscription received, which ``subscribe`` applies to
        self._requested: Subscriptions[Pipe] = Subscriptions()
        self._last_pipe: Optional[Pipe] = None
        # a subscriber pipe that receives something is activated in the fair queue: the next
        # send, recv or poll reads it (and only it)
        self.read_activated = self._upstream.activated

    def attach(self, pipe: Pipe) -> bool:
        self._dist.attach(pipe)
        self._upstream.attach(pipe)
        welcome = self.options.xpub_welcome_msg
        if welcome:
            pipe.force_send([welcome])
        return True

    def detach(self, pipe: Pipe) -> None:
        self._dist.detach(pipe)
        self._upstream.detach(pipe)
        if self._last_pipe is pipe:
            self._last_pipe = None
        # libzmq tells the application of the topics nobody wants any more; with XPUB_VERBOSER
        # of every topic the peer had; with XPUB_MANUAL of every topic the peer had asked for
        requested = self._requested.topics(pipe)
        if self.options.xpub_manual or requested:
            lost = requested
            for topic in requested:
                self._requested.remove(pipe, topic)
            self._subscriptions.remove_pipe(pipe)
        elif self.options.xpub_verboser:
            lost = self._subscriptions.topics(pipe)
            self._subscriptions.remove_pipe(pipe)
        else:
            lost = self._subscriptions.remove_pipe(pipe)
        if self.delivers_upstream:
            self._for_application.extend(([b"\x00" + topic], None) for topic in lost)

    def _read_upstream(self) -> None:
        upstream = self._upstream
        if not upstream.active:
            return  # no subscriber pipe has anything
        while upstream.readable:
            item = upstream.recv()
            pipe: Pipe = upstream.last_pipe  # type: ignore[assignment]  # set by recv()
            if type(item) is SubscriptionCommand:
                self._subscription(pipe, item.subscribe, item.topic, [])
            elif len(item) == 1:
                subscription = parse_subscription(item)
                if subscription is not None:
                    self._subscription(pipe, *subscription, [])
                elif self.delivers_upstream:
                    self._for_application.append((item, None))
            else:
                self._multipart(pipe, item)

    def _multipart(self, pipe: Pipe, item: list[bytes]) -> None:
        """As libzmq 4.3.5 reads a multipart message frame by frame: each frame that looks
        like an (un)subscription is one (with ONLY_FIRST_SUBSCRIBE: only if the first frame
        is one), the others are data; a reported subscription ends the data before it in one
        message, as libzmq pushes it without the MORE flag. (Data left at the end with no
        report after it is a message of its own; libzmq would glue it to the next one.)"""
        frames: list[bytes] = []
        parse = not self.options.only_first_subscribe or parse_subscription(item) is not None
        for frame in item:
            if parse and frame and frame[0] <= 1:
                self._subscription(pipe, frame[0] == 1, bytes(frame[1:]), frames)
                frames = []
            else:
                frames.append(frame)
        if frames and self.delivers_upstream:
            self._for_application.append((frames, None))

    def _subscription(self, pipe: Pipe, subscribe: bool, topic: bytes,
                      before: list[bytes]) -> None:
        """Apply one (un)subscription (XPUB_MANUAL: only note it) and report it, after the
        data frames ``before`` it, if the options say so."""
        options = self.options
        if options.xpub_manual:  # the application decides (``subscribe`` after its recv)
            if subscribe:
                self._requested.add(pipe, topic)
            else:
                self._requested.remove(pipe, topic)
            report = True
        elif subscribe:
            report = self._subscriptions.add(pipe, topic) or options.xpub_verbose
        else:
            report = self._subscriptions.remove(pipe, topic) or options.xpub_verboser
        if not self.delivers_upstream:
            return
        if report:
            before = before + [(b"\x01" if subscribe else b"\x00") + topic]
        if before:
            self._for_application.append((before, pipe if report else None))

    # --- XPUB_MANUAL: the application subscribes the peer it last heard from ------------------

    def subscribe(self, topic: bytes) -> None:
        if not self.options.xpub_manual:
            raise ZMQError(EINVAL)  # libzmq: SUBSCRIBE is an XPUB option only in manual mode
        if self._last_pipe is not None:
            self._subscriptions.add(self._last_pipe, topic)

    def unsubscribe(self, topic: bytes) -> None:
        if not self.options.xpub_manual:
            raise ZMQError(EINVAL)
        if self._last_pipe is not None:
            self._subscriptions.remove(self._last_pipe, topic)

    def send_nowait(self, msg: list[bytes]) -> None:
        if self._upstream.active:
            self._read_upstream()
        options = self.options
        targets = self._subscriptions.match(msg[0])
        if self._last_pipe is not None and options.xpub_manual_last_value \
                and options.xpub_manual:
            # XPUB_MANUAL_LAST_VALUE: the first send after a subscription was read goes to
            # that subscriber only (its "last value")
            targets = targets & {self._last_pipe}  # (match's set is read-only)
            self._last_pipe = None
        if options.invert_matching:
            targets = set(self._dist.pipes) - targets
        if options.xpub_nodrop and not Distributor.all_writable(targets):
            raise Again()
        self.send_to(targets, msg)  # a pipe at its mark misses this one

    def recv_nowait(self) -> list[bytes]:
        self._read_upstream()
        try:
            msg, pipe = self._for_application.popleft()
        except IndexError:
            raise Again() from None
        if self.options.xpub_manual:
            self._last_pipe = pipe if pipe is not None and not pipe.detached else None
        return msg

    @property
    def readable(self) -> bool:
        self._read_upstream()
        return bool(self._for_application)

    @property
    def writable(self) -> bool:
        return True  # libzmq's dist has_out: always, even with NODROP (send tells EAGAIN)

    @property
    def subscription_count(self) -> int:
        return len(self._subscriptions)

    def subscribe_all(self, pipe: Pipe) -> None:
        """``pipe``'s peers never send subscriptions (pgm/epgm: they filter on their side, as
        libzmq's pgm sessions do): deliver it every message."""
        self._subscriptions.add(pipe, b"")


class Pub(XPub):
    socket_type = "PUB"
    delivers_upstream = False
    can_recv = False

    def recv_nowait(self) -> list[bytes]:
        return Routing.recv_nowait(self)  # ENOTSUP

    @property
    def readable(self) -> bool:
        self._read_upstream()
        return False


class XSub(Routing):
    """Fair-queued receive with no local filter; sends go to every publisher."""

    socket_type = "XSUB"
    #: libzmq's XSUB constructor (SUB's too): pending subscriptions are not flushed at close
    option_defaults = {SocketOption.LINGER: 0}

    def __init__(self, options: Any) -> None:
        super().__init__(options)
        self._fq = FairQueue()
        self.read_activated = self._fq.activated
        self._all: dict[Pipe, None] = {}  # every publisher, in attach order
        self._topics: dict[bytes, int] = {}  # topic -> how many times subscribed

    def attach(self, pipe: Pipe) -> bool:
        self._fq.attach(pipe)
        self._all[pipe] = None
        for topic in self._topics:
            pipe.force_send(SubscriptionCommand(True, topic))
        return True

    def detach(self, pipe: Pipe) -> None:
        self._fq.detach(pipe)
        self._all.pop(pipe, None)

    def hiccup(self, pipe: Pipe) -> None:
        """Reconnected: replace any queued subscription commands by the full current set."""
        topics = list(self._topics)
        pipe.outbound.rewrite(lambda queued: [SubscriptionCommand(True, topic) for topic in topics]
                              + [item for item in queued if type(item) is not SubscriptionCommand])

    # --- subscription bookkeeping shared with SUB -----------------------------------------

    def _count_subscribe(self, topic: bytes) -> None:
        self._topics[topic] = self._topics.get(topic, 0) + 1

    def _count_cancel(self, topic: bytes) -> bool:
        """True when this cancel removed the last subscription to ``topic``."""
        count = self._topics.get(topic)
        if count is None:
            return False
        if count > 1:
            self._topics[topic] = count - 1
            return False
        del self._topics[topic]
        return True

    def _send_to_all(self, item: Any) -> None:
        for pipe in self._all:
            pipe.force_send(item)

    # --- Routing ----------------------------------------------------------------------------

    def send_nowait(self, msg: list[bytes]) -> None:
        subscription = parse_subscription(msg) if len(msg) == 1 else None
        if subscription is not None:
            subscribe, topic = subscription
            if subscribe:
                self._count_subscribe(topic)
            elif not self._count_cancel(topic):
                return
            self._send_to_all(msg)  # as data, exactly as the application wrote it
            return
        self.send_to(self._all, msg)

    def recv_nowait(self) -> list[bytes]:
        msg: list[bytes] = self._fq.recv()
        self.last_pipe = self._fq.last_pipe
        return msg

    @property
    def readable(self) -> bool:
        return self._fq.readable

    @property
    def writable(self) -> bool:
        return True

    @property
    def subscription_count(self) -> int:
        return len(self._topics)


class Sub(XSub):
    """XSUB plus the ``subscribe``/``unsubscribe`` options and a local prefix filter."""

    socket_type = "SUB"
    can_send = False

    def __init__(self, options: Any) -> None:
        super().__init__(options)
        self._ready: Optional[list[bytes]] = None  # one matching message read ahead by `readable`

    def subscribe(self, topic: bytes) -> None:
        self._count_subscribe(topic)
        self._send_to_all(SubscriptionCommand(True, topic))

    def unsubscribe(self, topic: bytes) -> None:
        if self._count_cancel(topic):
            self._send_to_all(SubscriptionCommand(False, topic))

    def _wanted(self, first_frame: bytes) -> bool:
        topics = self._topics
        matched = b"" in topics or any(first_frame.startswith(t) for t in topics)
        return matched != bool(self.options.invert_matching)

    def send_nowait(self, msg: list[bytes]) -> None:
        Routing.send_nowait(self, msg)  # ENOTSUP

    def recv_nowait(self) -> list[bytes]:
        ready = self._ready
        if ready is not None:
            self._ready = None
            return ready
        while True:
            msg: list[bytes] = self._fq.recv()
            self.last_pipe = self._fq.last_pipe
            if self._wanted(msg[0]):
                return msg

    @property
    def readable(self) -> bool:
        if self._ready is None:
            try:
                self._ready = self.recv_nowait()
            except Again:
                return False
        return True

    @property
    def writable(self) -> bool:
        return False
