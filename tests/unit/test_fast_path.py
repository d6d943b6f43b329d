"""The one inlined fast path: ``FairQueue.recv`` with a single active pipe.

It copies ``MessageQueue.take`` into the fair queue (the only code outside ``pipe.py`` that
touches a queue's items), because every receive of every socket goes through it. A hypothesis
state machine drives two identical set-ups through the same operations, receiving with
``recv`` (fast path whenever one pipe is active) on one and with ``_recv_turns`` (the general
round-robin, built on ``take``) on the other, and requires the same results throughout: the
same items from the same pipes, the same ``Again``, the same notifications to the peers (room
at the high-water mark), the same active regions; with HWM, CONFLATE, detached pipes (drained,
then forgotten) and closed readers in the mix.
"""

from __future__ import annotations

from typing import Any, Callable

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from gzmq.error import Again
from gzmq.pipe import Pipe, PipeActivation, Signal, pipe_pair
from gzmq.routing.primitives import FairQueue


class Room:
    """The peer's writer-side notifier: counts "room appeared" notifications."""

    def __init__(self) -> None:
        self.count = 0

    def notify(self) -> None:
        self.count += 1


class Side:
    """A fair queue and its pipes, wired as a socket wires them (activations included)."""

    def __init__(self, take: Callable[[FairQueue], Any]) -> None:
        self.fq = FairQueue()
        self.take = take
        self.mine: list[Pipe] = []
        self.far: list[Pipe] = []
        self.rooms: list[Room] = []

    def attach(self, hwm: int, conflate: bool) -> None:
        mine, far = pipe_pair(hwm, hwm)
        mine.inbound.conflate = conflate
        mine.attach_notifiers(PipeActivation(self.fq.activated, mine, Signal()), Signal())
        room = Room()
        far.attach_notifiers(Signal(), room)
        self.fq.attach(mine)
        self.mine.append(mine)
        self.far.append(far)
        self.rooms.append(room)

    def recv(self) -> tuple[Any, int]:
        try:
            item = self.take(self.fq)
        except Again:
            return None, -1
        return item, self.mine.index(self.fq.last_pipe)  # type: ignore[arg-type]

    def state(self) -> tuple[Any, ...]:
        fq = self.fq
        return (fq.active, fq.current, [self.mine.index(p) for p in fq.pipes],
                [len(p.inbound) for p in self.mine], [r.count for r in self.rooms],
                [p.detached for p in self.mine])


class FastAgainstGeneral(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.fast = Side(FairQueue.recv)
        self.general = Side(FairQueue._recv_turns)
        self.sides = (self.fast, self.general)
        self.counter = 0

    @precondition(lambda self: len(self.fast.mine) < 4)
    @rule(hwm=st.sampled_from([0, 1, 2, 3]), conflate=st.booleans())
    def attach(self, hwm: int, conflate: bool) -> None:
        for side in self.sides:
            side.attach(hwm, conflate)

    @precondition(lambda self: self.fast.mine)
    @rule(index=st.integers(0, 3), count=st.integers(1, 4))
    def peer_sends(self, index: int, count: int) -> None:
        index %= len(self.fast.mine)
        for _ in range(count):
            self.counter += 1
            results = []
            for side in self.sides:
                try:
                    side.far[index].send_nowait([b"%d" % self.counter])
                    results.append(True)
                except Again:
                    results.append(False)
            assert results[0] == results[1]

    @rule()
    def recv(self) -> None:
        assert self.fast.recv() == self.general.recv()

    @precondition(lambda self: self.fast.mine)
    @rule(index=st.integers(0, 3))
    def detach(self, index: int) -> None:
        index %= len(self.fast.mine)
        for side in self.sides:
            side.far[index].close_writing()
            side.fq.detach(side.mine[index])

    @precondition(lambda self: self.fast.mine)
    @rule(index=st.integers(0, 3))
    def close_reading(self, index: int) -> None:
        index %= len(self.fast.mine)
        for side in self.sides:
            side.mine[index].close_reading()

    @precondition(lambda self: self.fast.mine)
    @rule(index=st.integers(0, 3))
    def reattach(self, index: int) -> None:
        index %= len(self.fast.mine)
        for side in self.sides:
            side.mine[index].detached = False  # as ROUTER does on a reconnect
            side.fq.attach(side.mine[index])

    @invariant()
    def same_state(self) -> None:
        assert self.fast.state() == self.general.state()
        assert self.fast.fq.readable == self.general.fq.readable


TestFastAgainstGeneral = FastAgainstGeneral.TestCase
TestFastAgainstGeneral.settings = settings(max_examples=400, stateful_step_count=50,
                                           deadline=None)
