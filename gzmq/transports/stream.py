"""Listener (one bind) and Connector (one connect) for the byte-stream transports, tcp and ipc.

- ``Listener``: an accept loop greenlet; each accepted stream gets an Engine in its own
  greenlet, which ends after the handshake while the connection is idle. Transient accept errors (EMFILE...) back off from 10 ms to 1 s, as gevent's
  BaseServer does, instead of spinning. A connection flood is bounded (``HandshakeGate``): a
  socket keeps at most ``max_pending_handshakes`` accepted connections in their handshake
  (HANDSHAKE_IVL bounds how long each stays there); beyond that, each new connection closes
  a pending one (the oldest; of its own source first if that source holds half the bound),
  with a reset and no further byte, and it is counted. The loop yields to the hub every
  ``ACCEPT_BATCH`` connections, so a flood cannot starve the connections already served.
- ``Connector``: libzmq's "session" for a connect(). It creates the pipe at once, so messages
  sent before the peer exists are queued up to SNDHWM, and keeps it across reconnects. It dials,
  runs an Engine until the connection ends, then waits RECONNECT_IVL (plus jitter, or doubling
  up to RECONNECT_IVL_MAX) and dials again. While a ZMTP connection is idle neither side runs
  a greenlet for it: the engine's ends after the handshake (``Engine.run_detached``) and its
  ``engine_ended`` starts the connector's again. After a protocol error it stops for good (libzmq
  does not reconnect to a peer that spoke nonsense or refused us), and so it does after a
  refused tcp dial or a failed handshake where RECONNECT_STOP says so.
"""

from __future__ import annotations

import errno
import ipaddress
import random
import socket as stdsocket
import struct
import weakref
from collections import OrderedDict
from typing import Any, Callable, Optional

import gevent
from gevent import socket as gsocket

from ..constants import Event
from ..engine import ConnectionOutcome, Engine, RawEngine, Session
from ..security import log as security_log
from .base import StreamTransport, apply_buffer_sizes

__all__ = ["Listener", "Connector", "apply_buffer_sizes", "HandshakeGate", "handshake_gate",
           "MAX_PENDING_HANDSHAKES"]

#: Default bound on a socket's accepted connections that are still in their handshake; a
#: socket's own is its ``max_pending_handshakes`` attribute (0 or None: no bound). Each one
#: costs an fd and roughly 10-20 KiB (an engine, its greenlet, a ZMTP parser), so 1024 is
#: about 16 MiB. A legitimate burst (every client of a restarted server reconnecting at once)
#: needs few slots at a time, as a NULL or PLAIN handshake takes one round trip; a client
#: whose handshake was evicted dials again after RECONNECT_IVL, as libzmq's do.
MAX_PENDING_HANDSHAKES = 1024
#: while a socket evicts pending handshakes, one summary line per this many seconds
REFUSALS_LOG_INTERVAL = 10.0
#: the accept loop yields to the hub after this many connections in a row
ACCEPT_BATCH = 64
#: or after this many that evicted a pending handshake (each one also starts an engine and
#: ends another, ~100 us): the hub turns more often under a flood, so established peers and
#: newcomers' handshakes keep moving while it lasts
EVICT_BATCH = 16

_RESET_ON_CLOSE = struct.pack("ii", 1, 0)  # SO_LINGER on, 0 s: close() sends RST
#: RECONNECT_STOP's bits (libzmq's draft ZMQ_RECONNECT_STOP_*; gzmq.options refuses the third,
#: AFTER_DISCONNECT, which it does not implement)
RECONNECT_STOP_CONN_REFUSED, RECONNECT_STOP_HANDSHAKE_FAILED = 1, 2


class _Slot:
    """One accepted connection in its handshake: where it came from, and how to drop it."""

    __slots__ = ("source", "endpoint", "evict")

    def __init__(self, source: str, endpoint: str) -> None:
        self.source = source
        self.endpoint = endpoint
        #: closes the connection at once, with a reset (set by the Listener once it has made
        #: the engine)
        self.evict: Callable[[], None] = _nothing


def _nothing() -> None:
    pass


def source_key(peer_address: str) -> str:
    """Whose share a connection counts against: its IPv4 address, its IPv6 /64 (one host
    usually holds a whole /64), or for ipc the peer's user (``localhost:uid:gid``, any pid)."""
    if peer_address.startswith("localhost:"):
        return peer_address.rpartition(":")[0]
    if ":" not in peer_address:
        return peer_address
    if peer_address.startswith("::ffff:") and "." in peer_address:
        return peer_address[7:]  # IPv4-mapped: the IPv4 address
    try:
        return ipaddress.IPv6Address(peer_address.partition("%")[0]).exploded[:19]
    except ValueError:
        return peer_address


class HandshakeGate:
    """One per socket, shared by all its listeners: the accepted connections still in their
    handshake (``pending`` of them), oldest first, and how many of them were closed to make
    room for newer ones (``evicted``, since the socket was made).

    When the bound is reached, a new connection is admitted and a pending one is closed at
    once, with a reset and no further byte: the oldest of the new connection's own source if
    that source already holds its share (half the bound), else the oldest of a source that
    holds more than its share, else the oldest of all. So a flood from one address only ever
    displaces its own connections, and a flood from many gives every newcomer (bound / the
    flood's connection rate) seconds for its handshake, where closing newcomers at accept
    shut them out until a slot freed, up to HANDSHAKE_IVL.

    Logging on ``gzmq.security`` is per episode, never per connection: one warning when the
    bound is first hit, then every ``REFUSALS_LOG_INTERVAL`` s a summary with the count while
    handshakes are still being evicted, and a last line once a whole interval passed without
    any (the next eviction then starts a new episode with a new warning).
    """

    def __init__(self, socket: Any) -> None:
        self._socket = weakref.ref(socket)
        self.evicted = 0
        self._slots: "OrderedDict[_Slot, None]" = OrderedDict()  # oldest first
        self._by_source: "dict[str, OrderedDict[_Slot, None]]" = {}
        self._hog: Optional[str] = None  # the last source seen holding more than its share
        self._episode_evicted = 0  # in the current episode (since its first warning)
        self._interval_evicted = 0  # since the last summary line
        self._endpoints: set[str] = set()
        self._timer: Any = None  # the summary timer, during an episode

    @property
    def pending(self) -> int:
        """Accepted connections still in their handshake."""
        return len(self._slots)

    @property
    def refused(self) -> int:
        """The former name of ``evicted`` (new connections used to be closed at accept)."""
        return self.evicted

    @property
    def limit(self) -> int:
        """The socket's bound now (0: none)."""
        socket = self._socket()
        value = getattr(socket, "max_pending_handshakes", MAX_PENDING_HANDSHAKES)
        if value is None:
            return 0
        if isinstance(value, bool) or not isinstance(value, int):
            return MAX_PENDING_HANDSHAKES  # not a count: ignore it rather than break accept()
        return max(value, 0)

    def holding(self, source: str) -> int:
        """How many pending handshakes come from ``source`` (a ``source_key``)."""
        return len(self._by_source.get(source, ()))

    def admit(self, source: str, endpoint: str) -> tuple[_Slot, Callable[[], None]]:
        """Take a slot for a new connection from ``source`` (a ``source_key``), evicting a
        pending one first if the bound is reached; return the slot and the function that
        gives it back (call it any number of times)."""
        limit = self.limit
        victims = []
        while limit and len(self._slots) >= limit:
            victim = self._victim(source, limit)
            self._remove(victim)
            victims.append(victim)
        slot = _Slot(source, endpoint)
        self._slots[slot] = None
        own = self._by_source.get(source)
        if own is None:
            own = self._by_source[source] = OrderedDict()
        own[slot] = None
        if limit and len(own) > max(limit // 2, 1):
            self._hog = source
        for victim in victims:
            self._evict(victim)

        def release() -> None:
            self._remove(slot)
            # its eviction closure holds the engine, which holds this function: no reference
            # cycle once the slot is given back (the cyclic GC would free it, in one pause for
            # a whole flood's connections)
            slot.evict = _nothing
        return slot, release

    def _victim(self, source: str, limit: int) -> _Slot:
        share = max(limit // 2, 1)
        own = self._by_source.get(source)
        if own and len(own) >= share:
            return next(iter(own))  # the newcomer's source is at its share: its own oldest
        hog = self._hog
        if hog is not None:
            theirs = self._by_source.get(hog)
            if theirs and len(theirs) > share:
                return next(iter(theirs))
            self._hog = None
        return next(iter(self._slots))

    def _remove(self, slot: _Slot) -> None:
        if slot not in self._slots:
            return  # given back already
        del self._slots[slot]
        own = self._by_source[slot.source]
        del own[slot]
        if not own:
            del self._by_source[slot.source]

    def _evict(self, slot: _Slot) -> None:
        """Close a pending handshake (given back already) at once; count and log it."""
        evict, slot.evict = slot.evict, _nothing
        evict()
        self.evicted += 1
        self._episode_evicted += 1
        self._interval_evicted += 1
        self._endpoints.add(slot.endpoint)
        if self._timer is not None:
            return
        self._interval_evicted = 0
        security_log.warning(
            "%d connections to %s are in their handshake, the bound (max_pending_handshakes): "
            "each new connection now closes the oldest pending one (of its own source once "
            "that holds half the bound)%s (summary every %g s)",
            len(self._slots), slot.endpoint, self._busiest(), REFUSALS_LOG_INTERVAL)
        self._timer = gevent.get_hub().loop.timer(REFUSALS_LOG_INTERVAL, REFUSALS_LOG_INTERVAL,
                                                  ref=False)
        self._timer.start(self._summarize)

    def _busiest(self) -> str:
        hog = self._hog
        held = self.holding(hog) if hog is not None else 0
        return f"; {held} are from {hog}" if held else ""

    def socket_closed(self) -> None:
        """The socket stopped listening for good: end an episode now, with its last line."""
        if self._timer is not None:
            self._summarize()

    def _summarize(self) -> None:
        """Every REFUSALS_LOG_INTERVAL s of an episode (a timer callback, in the hub)."""
        endpoints = ", ".join(sorted(self._endpoints))
        socket = self._socket()
        if socket is None or socket.closed:
            security_log.warning(
                "%s: socket closed; %d pending handshakes were evicted in its last flood "
                "(%d since it was made)", endpoints, self._episode_evicted, self.evicted)
        elif self._interval_evicted:
            security_log.warning(
                "%d pending handshakes on %s evicted in the last %g s (%d in this flood, "
                "%d since the socket was made); %d handshakes in progress%s",
                self._interval_evicted, endpoints, REFUSALS_LOG_INTERVAL, self._episode_evicted,
                self.evicted, len(self._slots), self._busiest())
            self._interval_evicted = 0
            return
        else:
            security_log.warning(
                "%s: no pending handshake evicted for %g s; %d were in the flood before "
                "(%d since the socket was made)", endpoints, REFUSALS_LOG_INTERVAL,
                self._episode_evicted, self.evicted)
        self._end_episode()

    def _end_episode(self) -> None:
        if self._timer is not None:
            self._timer.stop()
            self._timer.close()
            self._timer = None
        self._episode_evicted = self._interval_evicted = 0
        self._endpoints.clear()


_GATES: "weakref.WeakKeyDictionary[Any, HandshakeGate]" = weakref.WeakKeyDictionary()


def handshake_gate(socket: Any) -> HandshakeGate:
    """The socket's ``HandshakeGate`` (its pending and evicted counts); ``socket`` is the
    socket or its core (one gate for both)."""
    socket = getattr(socket, "_core", socket)
    gate = _GATES.get(socket)
    if gate is None:
        gate = _GATES[socket] = HandshakeGate(socket)
    return gate


def engine_class(socket: Any) -> Any:
    """The engine for ``socket``'s connections: ZMTP's, or none for a raw socket (STREAM)."""
    return RawEngine if socket.routing.raw_connections() else Engine


class Listener:
    """One bind() of a stream transport: the accept loop, and an Engine per connection."""

    min_delay = 0.01  #: first back-off after a failed accept()
    max_delay = 1.0  #: longest back-off after failed accept()s

    def __init__(self, socket: Any, listening: gsocket.socket, endpoint: str,
                 transport: StreamTransport[Any], cleanup: Callable[[], None]) -> None:
        self.socket = socket
        self.listening = listening
        self.endpoint = endpoint
        self._peer_address = transport.peer_address
        self._configure = transport.configure_stream
        self._cleanup = cleanup
        self._engines: set[Engine] = set()
        self._greenlet: Optional[gevent.Greenlet] = None
        self._gate = handshake_gate(socket)

    def start(self) -> None:
        self._greenlet = self.socket.lifecycle.spawn(self._accept_loop)

    def _accept_loop(self) -> None:
        delay = self.min_delay
        gate = self._gate
        in_a_row = 0  # connections since the last yield; one that evicted counts for 4
        while True:
            try:
                stream, _ = self.listening.accept()
            except OSError as error:
                if self.listening.fileno() < 0:
                    return  # closed under us: unbind or socket close
                self.socket.emit(Event.ACCEPT_FAILED, error.errno or 0, self.endpoint)
                gevent.sleep(delay)
                delay = min(delay * 2, self.max_delay)
                continue
            delay = self.min_delay
            evicted = gate.evicted
            self._serve(stream)
            in_a_row += 1 if gate.evicted == evicted else ACCEPT_BATCH // EVICT_BATCH
            if in_a_row >= ACCEPT_BATCH:  # accept() does not yield while the backlog is full
                in_a_row = 0
                gevent.sleep(0)

    def _serve(self, stream: gsocket.socket) -> None:
        try:
            self._configure(stream, self.socket.options)
            peer_address = self._peer_address(stream)
        except OSError:  # the peer hung up already: nothing to serve
            stream.close()
            return
        slot, release = self._gate.admit(source_key(peer_address), self.endpoint)
        self.socket.emit(Event.ACCEPTED, stream.fileno(), self.endpoint)
        session = Session(self.socket, self.endpoint, connecting=False)
        engine = engine_class(self.socket)(self.socket, stream, peer_address, session)
        engine.on_handshake_done = release
        engine.listener = self
        self._engines.add(engine)
        # the greenlet ends after the handshake if the connection is idle then (a ZMTP engine
        # goes on from the hub); engine_ended tells of the connection's end
        greenlet = self.socket.lifecycle.spawn(engine.run_detached)
        greenlet.link(lambda _, engine=engine: self._greenlet_ended(engine, release))
        slot.evict = lambda: self._evict(engine, greenlet)

    def _greenlet_ended(self, engine: Any, release: Callable[[], None]) -> None:
        # The handshake is over, however it ended (failure, timeout, hang-up, the socket
        # closing), if it had not succeeded before.
        release()
        if not engine.detached:
            self.engine_ended(engine)  # (the engine may have told us already)

    def engine_ended(self, engine: Any, outcome: str = "") -> None:
        """The connection of ``engine`` has ended."""
        self._engines.discard(engine)
        try:
            engine.stream.close()  # an engine killed before it ran never closed its stream
        except OSError:
            pass

    def _evict(self, engine: Engine, greenlet: gevent.Greenlet) -> None:
        """The gate needs this pending handshake's slot for a newer connection: close it at
        once, sending nothing more (a reset, so that the flood leaves no TIME_WAIT here), and
        end its engine. The monitor sees ACCEPT_FAILED (EAGAIN), as when connections were
        closed at accept, then DISCONNECTED for the connection it saw ACCEPTED."""
        try:
            engine.stream.setsockopt(stdsocket.SOL_SOCKET, stdsocket.SO_LINGER, _RESET_ON_CLOSE)
        except OSError:
            pass
        engine.close()  # frees the fd now; the engine ends without reporting anything
        greenlet.kill(block=False)  # even if it waits on something else (a ZAP reply)
        self.socket.emit(Event.ACCEPT_FAILED, errno.EAGAIN, self.endpoint)
        self.socket.emit(Event.DISCONNECTED, engine.fd, self.endpoint)

    def _stop_listening(self) -> None:
        if self._greenlet is not None:
            self._greenlet.kill(block=False)
        try:
            fd = self.listening.fileno()
            self.listening.close()
        except OSError:
            fd = -1
        self._cleanup()
        self.socket.emit(Event.CLOSED, fd, self.endpoint)
        if self.socket.closed:
            self._gate.socket_closed()

    def shutdown(self) -> None:
        """Socket closing: take no new peers; accepted connections linger on their own."""
        self._stop_listening()

    def abandon(self) -> None:
        """In a forked child: close the child's copy of the listening socket and of each
        accepted connection; no unlink, no event, nothing sent (the parent still serves)."""
        try:
            self.listening.close()
        except OSError:
            pass
        for engine in list(self._engines):
            engine.abandon()

    def close(self) -> None:
        """unbind(): stop listening and drop the connections accepted here."""
        self._stop_listening()
        for engine in list(self._engines):
            engine.close()


class Connector:
    def __init__(self, socket: Any, endpoint: str, dial: Callable[[], gsocket.socket],
                 peer_address: Callable[[Any], str]) -> None:
        self.socket = socket
        self.endpoint = endpoint
        self._dial = dial
        self._peer_address = peer_address
        self.session = Session(socket, endpoint, connecting=True)
        self._engine: Optional[Engine] = None
        self._greenlet: Optional[gevent.Greenlet] = None
        self._stopping = False
        #: no connection now, only a RECONNECT_IVL wait for the next dial
        self.waiting_to_redial = False

    def start(self) -> None:
        self.socket.emit(Event.CONNECT_DELAYED, 115, self.endpoint)  # EINPROGRESS
        self._greenlet = self.socket.lifecycle.spawn(self._run, 0)

    def _run(self, attempt: int) -> None:
        """Dial (again after RECONNECT_IVL) until connected, then run the connection's
        handshake. The greenlet ends there while the connection is idle (a ZMTP engine goes on
        from the hub; ``engine_ended`` starts the next one), else when the connection ends
        and this loop decides about redialling."""
        socket = self.socket
        options = socket.options
        while True:
            if self._stopping and not self.session.has_pending():
                return
            try:
                stream = self._dial()
            except OSError as error:
                stream = None
                if (error.errno == errno.ECONNREFUSED and self.endpoint.startswith("tcp://")
                        and options.reconnect_stop & RECONNECT_STOP_CONN_REFUSED):
                    return  # libzmq's tcp_connecter gives up (its ipc_connecter does not)
            if stream is not None:
                attempt = 0
                socket.emit(Event.CONNECTED, stream.fileno(), self.endpoint)
                engine = self._engine = engine_class(socket)(
                    socket, stream, self._peer_address(stream), self.session)
                engine.listener = self
                outcome = engine.run_detached()
                if outcome is None:  # the connection is idle and goes on without a greenlet
                    self._greenlet = None
                    return
                if not self._redials_after(engine, outcome):
                    return
            if not self._wait_to_redial(attempt):
                return
            attempt += 1

    def engine_ended(self, engine: Any, outcome: str) -> None:
        """A connection that went on without the connector's greenlet has ended (in the hub
        or another greenlet): a new greenlet decides about redialling, unless the socket's
        group killed the engine (as the kill would have ended the connector's greenlet)."""
        if not engine.detached or engine is not self._engine:
            return  # (the connector's greenlet saw the end itself)
        if engine.killed:
            self._engine = None
        else:
            self._greenlet = self.socket.lifecycle.spawn(self._resume, engine, outcome)

    def _resume(self, engine: Any, outcome: str) -> None:
        if self._redials_after(engine, outcome) and self._wait_to_redial(0):
            self._run(1)

    def _redials_after(self, engine: Any, outcome: str) -> bool:
        """A connection has ended with ``outcome``: dial again?"""
        self._engine = None
        if outcome in (ConnectionOutcome.PROTOCOL_ERROR, ConnectionOutcome.FINISHED):
            return False
        if not engine.handshake_done \
                and self.socket.options.reconnect_stop & RECONNECT_STOP_HANDSHAKE_FAILED:
            return False  # a peer that is not ZMTP, or never answers: libzmq stops too
        return not (self._stopping and not self.session.has_pending())

    def _wait_to_redial(self, attempt: int) -> bool:
        """RECONNECT_IVL (or its back-off for ``attempt``); False: do not redial."""
        socket = self.socket
        options = socket.options
        if options.reconnect_ivl < 0:
            return False
        delay = self._next_delay(attempt, options)
        socket.emit(Event.CONNECT_RETRIED, int(delay * 1000), self.endpoint)
        self.waiting_to_redial = True
        try:
            gevent.sleep(delay)
        finally:
            self.waiting_to_redial = False
        return True

    @staticmethod
    def _next_delay(attempt: int, options: Any) -> float:
        ivl = options.reconnect_ivl
        if options.reconnect_ivl_max > ivl:
            return min(ivl * (2 ** min(attempt, 30)), options.reconnect_ivl_max) / 1000.0
        return (ivl + random.randint(0, ivl)) / 1000.0

    def shutdown(self) -> None:
        """Socket closing: deliver what is queued (LINGER bounds it), then stop."""
        self._stopping = True
        self.session.close_writing()
        if self._engine is not None:
            self._engine.shutdown()
        elif not self.session.has_pending() and self._greenlet is not None:
            self._greenlet.kill(block=False)

    def abandon(self) -> None:
        """In a forked child: never dial again, and let go of the parent's connection."""
        self._stopping = True
        if self._engine is not None:
            self._engine.abandon()

    def close(self) -> None:
        """disconnect(): stop now and forget the pipe and what it holds."""
        self._stopping = True
        if self._greenlet is not None:
            self._greenlet.kill(block=False)
        if self._engine is not None:
            self._engine.close()
        self.session.drop()
