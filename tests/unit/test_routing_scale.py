"""A message costs the same with 10 peers or 10,000: counted, not timed.

The load balancer and the fair queue look only at pipes that are ready (see
``routing/primitives.py``). Timing that on a shared machine would flake, so these tests count
how many times the routing looks at a pipe's queue per message (each ``try_put``,
``writable``, ``take``, ``readable`` or ``clear`` call), with one busy peer among 10,000 idle
ones. Scanning every peer (what gzmq did before) costs about 10,000 looks per message.
``perf/many_peers.py`` measures the time itself.

The bound is amortised: a pipe is looked at once more when it stops being ready (it leaves the
active region), which its becoming ready paid for. So each test first lets every idle pipe be
found not ready once (that warm-up itself costs O(peers), also checked), then counts the steady
state.
"""

from __future__ import annotations

from typing import Any, Callable

import pytest

from gzmq.constants import SocketType
from gzmq.error import Again
from gzmq.options import Options
from gzmq.pipe import MessageQueue, Pipe, Signal, SubscriptionCommand, pipe_pair
from gzmq.routing import ROUTING
from gzmq.routing.base import attach_pipe

PEERS = 10_000
MESSAGES = 200
#: looks per message allowed (amortised): a constant, whatever the number of peers
BOUND = 4


class Looks:
    """Counts calls of MessageQueue's inspecting methods while enabled."""

    NAMES = ("try_put", "take", "clear")
    PROPERTIES = ("writable", "readable")

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.count = 0
        self.enabled = False
        for name in self.NAMES:
            monkeypatch.setattr(MessageQueue, name, self._wrap(getattr(MessageQueue, name)))
        for name in self.PROPERTIES:
            getter = getattr(MessageQueue, name).fget
            monkeypatch.setattr(MessageQueue, name, property(self._wrap(getter)))

    def _wrap(self, method: Callable[..., Any]) -> Callable[..., Any]:
        def counted(*args: Any, **kwargs: Any) -> Any:
            if self.enabled:
                self.count += 1
            return method(*args, **kwargs)
        return counted

    def per_message(self, operation: Callable[[], None], messages: int = MESSAGES) -> float:
        self.count = 0
        self.enabled = True
        try:
            for _ in range(messages):
                operation()
        finally:
            self.enabled = False
        return self.count / messages


def warm_up(looks: "Looks", operation: Callable[[], None]) -> None:
    """Run ``operation`` (which must find every idle pipe not ready) and check that it cost
    O(peers), not more."""
    looks.count = 0
    looks.enabled = True
    try:
        operation()
    finally:
        looks.enabled = False
    assert looks.count <= 3 * PEERS + 10


def make(socket_type: SocketType, peers: int, hwm: int = 1) -> tuple[Any, list[Pipe]]:
    """A routing with ``peers`` pipes wired as the socket's lifecycle wires them; returns the
    routing and the peers' ends."""
    routing = ROUTING[socket_type](Options(socket_type))
    recv_signal, send_signal = Signal(), Signal()
    far_ends = []
    for _ in range(peers):
        mine, far = pipe_pair(hwm, hwm)
        assert attach_pipe(routing, mine, recv_signal, send_signal)
        far_ends.append(far)
    return routing, far_ends


@pytest.fixture
def looks(monkeypatch: pytest.MonkeyPatch) -> Looks:
    return Looks(monkeypatch)


@pytest.mark.parametrize("socket_type", [SocketType.PUSH, SocketType.DEALER])
def test_load_balancer_send_with_one_pipe_of_many_having_room(looks: Looks,
                                                               socket_type: SocketType) -> None:
    routing, far_ends = make(socket_type, PEERS)
    for _ in range(PEERS):  # every pipe full (HWM 1)
        routing.send_nowait([b"fill"])
    with pytest.raises(Again):
        warm_up(looks, lambda: routing.send_nowait([b"no room"]))
    busy = far_ends[PEERS // 2]

    def one() -> None:
        busy.recv_nowait()  # the busy peer reads: its pipe alone has room
        routing.send_nowait([b"x"])

    assert looks.per_message(one) <= BOUND
    assert len(busy.inbound) == 1


@pytest.mark.parametrize("socket_type", [SocketType.PULL, SocketType.DEALER,
                                         SocketType.ROUTER, SocketType.XSUB, SocketType.REP])
def test_fair_queue_recv_with_one_pipe_of_many_talking(looks: Looks,
                                                        socket_type: SocketType) -> None:
    routing, far_ends = make(socket_type, PEERS, hwm=0)
    busy = far_ends[PEERS // 3]
    request = [b"", b"x"]
    for far in far_ends:  # everybody said something once; all of it is read
        far.send_nowait(request)
    for _ in range(PEERS):
        routing.recv_nowait()
        if socket_type == SocketType.REP:
            routing.send_nowait([b"reply"])
    with pytest.raises(Again):
        warm_up(looks, routing.recv_nowait)  # every pipe is found empty, once

    def one() -> None:
        busy.send_nowait(request)
        routing.recv_nowait()
        if socket_type == SocketType.REP:
            routing.send_nowait([b"reply"])

    assert looks.per_message(one) <= BOUND


def test_req_round_trip_with_many_idle_peers(looks: Looks) -> None:
    routing, far_ends = make(SocketType.REQ, PEERS, hwm=1)
    busy = far_ends[PEERS // 2]
    for far in far_ends:
        far.peer.outbound.force_put([b"stuck"])  # a peer that never reads: its pipe is full
    with pytest.raises(Again):
        warm_up(looks, lambda: routing.send_nowait([b"q"]))
    busy.recv_nowait()  # the busy peer reads: its pipe alone has room from now on

    def one() -> None:
        routing.send_nowait([b"q"])  # drops stale replies: looks only at pipes holding any
        assert busy.recv_nowait() == [b"", b"q"]
        busy.send_nowait([b"", b"a"])
        assert routing.recv_nowait() == [b"a"]

    assert looks.per_message(one) <= 2 * BOUND


def test_xpub_send_with_many_silent_subscribers(looks: Looks) -> None:
    routing, far_ends = make(SocketType.XPUB, PEERS, hwm=0)
    for far in far_ends:
        far.force_send(SubscriptionCommand(True, b"t"))
    warm_up(looks, lambda: routing.recv_nowait() == [b"\x01t"])  # read once: all empty again
    far_ends[7].force_send(SubscriptionCommand(True, b"news"))

    def one() -> None:
        routing.send_nowait([b"news!"])  # one subscriber of "news": one put
        far_ends[7].recv_nowait()

    assert looks.per_message(one) <= BOUND
