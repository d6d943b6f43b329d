"""ZMTP heartbeats for one connection, as libzmq's zmtp_engine does them.

- With HEARTBEAT_IVL > 0 we send a PING (carrying HEARTBEAT_TTL) every IVL, whatever the
  traffic; if nothing at all arrives within HEARTBEAT_TIMEOUT (default: IVL) of a PING, the
  connection is dropped.
- A PING from the peer with a TTL arms a timer: if nothing arrives within the TTL, drop.

Any received byte counts as liveness. No greenlet: one libev timer, set for the nearest
deadline, whose callback (in the hub) checks them all and sets the next; a greenlet parked per
connection would cost ~8 KiB of RSS (10,000 peers with heartbeats: 80 MB). Nothing it does
blocks: a PING is queued for the writer, a silent peer's stream is closed.
"""

from __future__ import annotations

import logging
from time import monotonic
from typing import TYPE_CHECKING, Any, Optional

from gevent import get_hub

if TYPE_CHECKING:
    from .engine import Engine

__all__ = ["Heartbeat"]

log = logging.getLogger("gzmq.engine")


class Heartbeat:
    __slots__ = ("engine", "interval", "timeout", "ttl_ms", "_ping_sent_at", "_ttl_armed_at",
                 "_ttl", "_next_ping", "_timer", "_stopped")

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
        self._timer: Any = None
        self._stopped = False
        self._schedule()

    def peer_ttl(self, ttl: float) -> None:
        """The peer's PING asked to be dropped after ``ttl`` seconds of silence."""
        if self._ttl_armed_at is None:
            self._ttl_armed_at = monotonic()
            self._ttl = ttl
            self._schedule()

    def stop(self) -> None:
        self._stopped = True
        self._cancel()

    def _cancel(self) -> None:
        timer, self._timer = self._timer, None
        if timer is not None:
            timer.stop()
            timer.close()

    def _deadlines(self) -> list[float]:
        deadlines = []
        if self._next_ping is not None:
            deadlines.append(self._next_ping)
        if self._ping_sent_at is not None:
            deadlines.append(self._ping_sent_at + self.timeout)
        if self._ttl_armed_at is not None:
            deadlines.append(self._ttl_armed_at + self._ttl)
        return deadlines

    def _schedule(self) -> None:
        """Set the timer for the nearest deadline (none: no timer)."""
        self._cancel()
        deadlines = self._deadlines()
        if self._stopped or not deadlines:
            return
        self._timer = get_hub().loop.timer(max(0.0, min(deadlines) - monotonic()))
        self._timer.start(self._on_timer)

    def _on_timer(self) -> None:
        try:
            if self._check():
                self._schedule()
        except Exception:  # never let a bug escape into the hub
            log.exception("gzmq: a heartbeat check failed; the connection goes on without")
            self.stop()

    def _check(self) -> bool:
        """In the hub, at (or, the loop's clock being cached, just before) the nearest
        deadline: drop a silent peer, or send the PING that is due. True: schedule again."""
        if self._stopped:
            return False
        engine = self.engine
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
            self._cancel()
            engine.close_silent_peer()
            return False
        if self._next_ping is not None and now >= self._next_ping:
            engine.send_control(engine.conn.ping(self.ttl_ms))
            if self._ping_sent_at is None:
                self._ping_sent_at = now
            self._next_ping = now + self.interval
        return True
