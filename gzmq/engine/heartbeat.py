"""ZMTP heartbeats for one connection, as libzmq's zmtp_engine does them.

- With HEARTBEAT_IVL > 0 we send a PING (carrying HEARTBEAT_TTL) every IVL, whatever the
  traffic; if nothing at all arrives within HEARTBEAT_TIMEOUT (default: IVL) of a PING, the
  connection is dropped.
- A PING from the peer with a TTL arms a timer: if nothing arrives within the TTL, drop.

Any received byte counts as liveness. One greenlet, started only when needed, through the
socket's lifecycle group like every greenlet working for a socket.
"""

from __future__ import annotations

from time import monotonic
from typing import TYPE_CHECKING, Optional

import gevent

from ..pipe import Signal

if TYPE_CHECKING:
    from .engine import Engine

__all__ = ["Heartbeat"]


class Heartbeat:
    def __init__(self, engine: "Engine") -> None:
        self.engine = engine
        options = engine.socket.options
        self.interval = options.heartbeat_ivl / 1000.0
        timeout = options.heartbeat_timeout if options.heartbeat_timeout >= 0 \
            else options.heartbeat_ivl
        self.timeout = timeout / 1000.0
        self.ttl_ms = options.heartbeat_ttl
        self._ping_sent_at: Optional[float] = None
        self._ttl_armed_at: Optional[float] = None
        self._ttl = 0.0
        self._next_ping = monotonic() + self.interval if self.interval > 0 else None
        self._rearm = Signal()  # wakes the greenlet to recompute its deadlines
        self._spawn = engine.socket.lifecycle.spawn
        self._greenlet: gevent.Greenlet = self._spawn(self._run)

    def peer_ttl(self, ttl: float) -> None:
        """The peer's PING asked to be dropped after ``ttl`` seconds of silence."""
        if self._ttl_armed_at is None:
            self._ttl_armed_at = monotonic()
            self._ttl = ttl
            if self._greenlet.dead:
                self._greenlet = self._spawn(self._run)
            else:
                self._rearm.notify()

    def stop(self) -> None:
        self._greenlet.kill(block=False)

    def _deadlines(self) -> list[float]:
        deadlines = []
        if self._next_ping is not None:
            deadlines.append(self._next_ping)
        if self._ping_sent_at is not None:
            deadlines.append(self._ping_sent_at + self.timeout)
        if self._ttl_armed_at is not None:
            deadlines.append(self._ttl_armed_at + self._ttl)
        return deadlines

    def _run(self) -> None:
        engine = self.engine
        while True:
            deadlines = self._deadlines()
            if not deadlines:
                return
            if self._rearm.wait(max(0.0, min(deadlines) - monotonic())):
                continue
            now = monotonic()
            heard = engine.last_received
            if self._ping_sent_at is not None and heard >= self._ping_sent_at:
                self._ping_sent_at = None
            if self._ttl_armed_at is not None and heard > self._ttl_armed_at:
                self._ttl_armed_at = None
            expired_ping = self._ping_sent_at is not None and \
                now >= self._ping_sent_at + self.timeout
            expired_ttl = self._ttl_armed_at is not None and now >= self._ttl_armed_at + self._ttl
            if expired_ping or expired_ttl:
                engine.close_silent_peer()
                return
            if self._next_ping is not None and now >= self._next_ping:
                engine.send_control(engine.conn.ping(self.ttl_ms))
                if self._ping_sent_at is None:
                    self._ping_sent_at = now
                self._next_ping = now + self.interval
