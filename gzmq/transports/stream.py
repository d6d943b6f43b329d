"""Listener (one bind) and Connector (one connect) for the byte-stream transports, tcp and ipc.

- ``Listener``: an accept loop greenlet; each accepted stream gets an Engine in its own
  greenlet. Transient accept errors (EMFILE...) back off from 10 ms to 1 s, as gevent's
  BaseServer does, instead of spinning.
- ``Connector``: libzmq's "session" for a connect(). It creates the pipe at once, so messages
  sent before the peer exists are queued up to SNDHWM, and keeps it across reconnects. It dials,
  runs an Engine until the connection ends, then waits RECONNECT_IVL (plus jitter, or doubling
  up to RECONNECT_IVL_MAX) and dials again. After a protocol error it stops for good (libzmq
  does not reconnect to a peer that spoke nonsense or refused us).
"""

from __future__ import annotations

import random
from typing import Any, Callable, Optional

import gevent
from gevent import socket as gsocket

from ..engine import ConnectionOutcome, Engine

__all__ = ["Listener", "Connector", "apply_buffer_sizes"]


def apply_buffer_sizes(stream: gsocket.socket, options: Any) -> None:
    """SNDBUF/RCVBUF, when set (>= 0), become the kernel's SO_SNDBUF/SO_RCVBUF (libzmq)."""
    import socket as stdsocket
    if options.sndbuf >= 0:
        stream.setsockopt(stdsocket.SOL_SOCKET, stdsocket.SO_SNDBUF, options.sndbuf)
    if options.rcvbuf >= 0:
        stream.setsockopt(stdsocket.SOL_SOCKET, stdsocket.SO_RCVBUF, options.rcvbuf)


class Listener:
    min_delay = 0.01  #: first back-off after a failed accept()
    max_delay = 1.0  #: longest back-off after failed accept()s

    def __init__(self, socket: Any, listening: gsocket.socket, endpoint: str,
                 peer_address: Callable[[Any], str], cleanup: Callable[[], None]) -> None:
        self.socket = socket
        self.listening = listening
        self.endpoint = endpoint
        self._peer_address = peer_address
        self._cleanup = cleanup
        self._engines: set[Engine] = set()
        self._greenlet: Optional[gevent.Greenlet] = None
        self._configure = self._find_configure()

    def _find_configure(self) -> Callable[[Any, Any], None]:
        from . import ipc, tcp
        return tcp.configure_stream if self.endpoint.startswith("tcp://") else ipc.configure_stream

    def start(self) -> None:
        self._greenlet = self.socket._lifecycle.spawn(self._accept_loop)

    def _accept_loop(self) -> None:
        delay = self.min_delay
        while True:
            try:
                stream, _ = self.listening.accept()
            except OSError as error:
                if self.listening.fileno() < 0:
                    return  # closed under us: unbind or socket close
                self.socket._emit_event_safely("ACCEPT_FAILED", error.errno or 0, self.endpoint)
                gevent.sleep(delay)
                delay = min(delay * 2, self.max_delay)
                continue
            delay = self.min_delay
            try:
                self._configure(stream, self.socket._options)
                peer_address = self._peer_address(stream)
            except OSError:  # the peer hung up already: nothing to serve
                stream.close()
                continue
            self.socket._emit_event_safely("ACCEPTED", stream.fileno(), self.endpoint)
            engine = Engine(self.socket, stream, self.endpoint, peer_address)
            self._engines.add(engine)
            greenlet = self.socket._lifecycle.spawn(engine.run)
            greenlet.link(lambda _, engine=engine: self._engines.discard(engine))

    def _stop_listening(self) -> None:
        if self._greenlet is not None:
            self._greenlet.kill(block=False)
        try:
            fd = self.listening.fileno()
            self.listening.close()
        except OSError:
            fd = -1
        self._cleanup()
        self.socket._emit_event_safely("CLOSED", fd, self.endpoint)

    def shutdown(self) -> None:
        """Socket closing: take no new peers; accepted connections linger on their own."""
        self._stop_listening()

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
        options = socket._options
        #: attach the pipe now (queue before connected) unless ROUTER or IMMEDIATE
        self.attach_early = socket._routing.attach_on_connect and not options.immediate
        self.pipe, self._engine_pipe = socket._lifecycle.new_pipe()
        self.pipe.endpoint = endpoint
        if options.connect_routing_id:
            self.pipe.routing_id = options.connect_routing_id
            options.connect_routing_id = b""  # it names only the next connection
        self._attached = socket._lifecycle.attach(self.pipe) if self.attach_early else False
        self._engine: Optional[Engine] = None
        self._greenlet: Optional[gevent.Greenlet] = None
        self._stopping = False
        #: no connection now, only a RECONNECT_IVL wait for the next dial
        self.waiting_to_redial = False

    def start(self) -> None:
        self._greenlet = self.socket._lifecycle.spawn(self._run)

    def _has_pending(self) -> bool:
        return bool(self.pipe.outbound.items)

    def _run(self) -> None:
        socket = self.socket
        options = socket._options
        attempt = 0
        connected_before = False
        socket._emit_event_safely("CONNECT_DELAYED", 115, self.endpoint)  # EINPROGRESS
        while True:
            if self._stopping and not self._has_pending():
                return
            try:
                stream = self._dial()
            except OSError:
                stream = None
            if stream is not None:
                attempt = 0
                socket._emit_event_safely("CONNECTED", stream.fileno(), self.endpoint)
                engine = self._engine = Engine(
                    socket, stream, self.endpoint, self._peer_address(stream),
                    pipe=self.pipe, engine_pipe=self._engine_pipe,
                    attached=self._attached, reconnected=connected_before, connector=self)
                outcome = engine.run()
                connected_before = connected_before or engine.handshake_done
                self._attached = engine._attached
                self._engine = None
                if outcome == ConnectionOutcome.PROTOCOL_ERROR:
                    return
                if self._stopping and not self._has_pending():
                    return
            if options.reconnect_ivl < 0:
                return
            delay = self._next_delay(attempt, options)
            attempt += 1
            socket._emit_event_safely("CONNECT_RETRIED", int(delay * 1000), self.endpoint)
            self.waiting_to_redial = True
            try:
                gevent.sleep(delay)
            finally:
                self.waiting_to_redial = False

    @staticmethod
    def _next_delay(attempt: int, options: Any) -> float:
        ivl = options.reconnect_ivl
        if options.reconnect_ivl_max > ivl:
            return min(ivl * (2 ** min(attempt, 30)), options.reconnect_ivl_max) / 1000.0
        return (ivl + random.randint(0, ivl)) / 1000.0

    def shutdown(self) -> None:
        """Socket closing: deliver what is queued (LINGER bounds it), then stop."""
        self._stopping = True
        self.pipe.close_writing()
        if self._engine is not None:
            self._engine.shutdown()
        elif not self._has_pending() and self._greenlet is not None:
            self._greenlet.kill(block=False)

    def close(self) -> None:
        """disconnect(): stop now and forget the pipe and what it holds."""
        self._stopping = True
        if self._greenlet is not None:
            self._greenlet.kill(block=False)
        if self._engine is not None:
            self._engine.close()
        self.pipe.close_reading()
        self.pipe.outbound.items.clear()
        if self._attached:
            self.socket._lifecycle.detach(self.pipe)
            self._attached = False
