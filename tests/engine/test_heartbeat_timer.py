"""Heartbeat on a fake engine: PINGs every HEARTBEAT_IVL carrying HEARTBEAT_TTL, a silent peer
dropped after HEARTBEAT_TIMEOUT, a peer's TTL honoured, any received byte counting as life.
(tests/test_heartbeat.py covers the same over real connections.)"""

from __future__ import annotations

from time import monotonic
from types import SimpleNamespace
from typing import Any

import gevent
import pytest

from engine_helpers import ready_pair
from gzmq.engine.heartbeat import Heartbeat
from helpers import wait_until

#: literal ZMTP: a PING with a TTL of 10 deciseconds (HEARTBEAT_TTL 1000 ms), no context
PING_TTL_1S = b"\x04\x07\x04PING\x00\x0a"


class FakeEngine:
    def __init__(self, ivl: int = 0, timeout: int = -1, ttl: int = 0) -> None:
        self.conn, _ = ready_pair()
        self.greenlets: list[gevent.Greenlet] = []
        self.socket = SimpleNamespace(  # what of a SocketCore the heartbeat uses
            options=SimpleNamespace(heartbeat_ivl=ivl, heartbeat_timeout=timeout,
                                    heartbeat_ttl=ttl),
            lifecycle=SimpleNamespace(spawn=self._spawn))
        self.last_received = monotonic()
        self.control: list[tuple[float, bytes]] = []
        self.closed_at: float = 0.0

    def _spawn(self, function: Any) -> gevent.Greenlet:
        self.greenlets.append(gevent.spawn(function))
        return self.greenlets[-1]

    def send_control(self, data: bytes) -> None:
        self.control.append((monotonic(), data))

    def close_silent_peer(self) -> None:
        self.closed_at = monotonic()


@pytest.fixture
def heartbeats():
    made: list[Heartbeat] = []

    def make(engine: FakeEngine) -> Heartbeat:
        made.append(Heartbeat(engine))
        return made[-1]

    yield make
    for heartbeat in made:
        heartbeat.stop()
    gevent.sleep(0)


def test_pings_carry_the_ttl_and_a_live_peer_is_kept(heartbeats) -> None:
    engine = FakeEngine(ivl=20, timeout=60, ttl=1000)
    heartbeats(engine)
    until = monotonic() + 0.2
    while monotonic() < until:  # the peer keeps talking
        engine.last_received = monotonic()
        gevent.sleep(0.005)
    assert engine.closed_at == 0.0
    pings = [data for _, data in engine.control]
    assert 3 <= len(pings) <= 12 and set(pings) == {PING_TTL_1S}  # ~10, one per IVL


def test_a_silent_peer_is_dropped_after_the_timeout(heartbeats) -> None:
    engine = FakeEngine(ivl=20, timeout=60)
    started = monotonic()
    heartbeats(engine)
    assert wait_until(lambda: engine.closed_at, 1)
    first_ping = engine.control[0][0]
    assert 0.015 <= first_ping - started < 0.5
    assert 0.05 <= engine.closed_at - first_ping < 0.5  # HEARTBEAT_TIMEOUT after the PING
    assert all(g.dead for g in engine.greenlets)


def test_the_timeout_defaults_to_the_interval(heartbeats) -> None:
    engine = FakeEngine(ivl=30)
    heartbeats(engine)
    assert wait_until(lambda: engine.closed_at, 1)
    assert 0.025 <= engine.closed_at - engine.control[0][0] < 0.2


def test_a_peers_ttl_drops_it_when_it_goes_quiet(heartbeats) -> None:
    engine = FakeEngine()  # we send no PINGs ourselves
    heartbeat = heartbeats(engine)
    gevent.sleep(0.01)
    armed = monotonic()
    heartbeat.peer_ttl(0.05)
    assert wait_until(lambda: engine.closed_at, 1)
    assert 0.045 <= engine.closed_at - armed < 0.3
    assert engine.control == []


def test_hearing_from_the_peer_disarms_its_ttl(heartbeats) -> None:
    engine = FakeEngine()
    heartbeat = heartbeats(engine)
    heartbeat.peer_ttl(0.05)
    gevent.sleep(0.02)
    engine.last_received = monotonic()  # it spoke in time
    gevent.sleep(0.1)
    assert engine.closed_at == 0.0
    heartbeat.peer_ttl(0.05)  # its next PING arms the timer again
    assert wait_until(lambda: engine.closed_at, 1)


def test_without_interval_or_ttl_nothing_is_scheduled(heartbeats) -> None:
    engine = FakeEngine()
    heartbeat = heartbeats(engine)
    assert heartbeat._timer is None
    gevent.sleep(0.05)
    assert engine.control == [] and engine.closed_at == 0.0


def test_a_heartbeat_runs_on_one_timer_and_no_greenlet(heartbeats) -> None:
    """10,000 idle peers with heartbeats: a greenlet each would cost ~8 KiB of RSS."""
    engine = FakeEngine(ivl=20, timeout=1000)
    heartbeat = heartbeats(engine)
    assert wait_until(lambda: len(engine.control) >= 2, 1)
    assert engine.greenlets == [] and heartbeat._timer is not None
    heartbeat.stop()
    assert heartbeat._timer is None
    sent = len(engine.control)
    gevent.sleep(0.06)
    assert len(engine.control) == sent  # stopped: no more PINGs
