"""The liveness half of the pipe contract, now that a writer stopped at the mark is woken only
at the resume level (libzmq's low-water mark). A writer whose put was refused at the mark waits for its
writable notifier; whatever the reader does afterwards, once the queue has drained the
writer must have been told (else a send blocked at SNDHWM, a deactivated LB pipe or an
engine waiting for RCVHWM room sleeps forever beside an empty queue)."""
from __future__ import annotations

from typing import Any

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from gzmq.pipe import MessageQueue, Pipe, resume_level


class Writer:
    """The writer side: stopped after a refused put, until notified."""

    def __init__(self) -> None:
        self.stopped = False

    def notify(self) -> None:
        self.stopped = False


class _Nobody:
    def notify(self) -> None:
        pass


def wire(queue: MessageQueue) -> Writer:
    writer = Writer()
    writer_end = Pipe(inbound=MessageQueue(0), outbound=queue)
    reader_end = Pipe(inbound=queue, outbound=MessageQueue(0))
    reader_end.attach_notifiers(on_readable=_Nobody(), on_writable=_Nobody())
    writer_end.attach_notifiers(on_readable=_Nobody(), on_writable=writer)
    return writer


def test_a_mark_raised_after_a_partial_drain_still_wakes_the_writer() -> None:
    """hwm 10: the writer stops at 10; the reader takes 4 (6 left: above the resume level 5,
    nobody told, as intended); the mark is raised to 12 (inproc's summed HWMs): the queue was
    writable already (6 < 10) so the setter tells nobody, and the resume level moved to 6,
    which the queue is already below. The reader then empties the queue. When the setter told
    the writer only if the queue had not been writable before, the writer was never told."""
    queue = MessageQueue(10)
    writer = wire(queue)
    for i in range(10):
        assert queue.try_put([b"%d" % i])
    assert not queue.try_put([b"x"])
    writer.stopped = True
    for _ in range(4):
        queue.take()
    assert writer.stopped and len(queue) == 6  # (by design: 6 > resume level 5)
    queue.hwm = 12
    while queue.take() is not None:
        pass
    assert len(queue) == 0
    assert not writer.stopped, "writer stopped at the mark never woken although the queue drained"


def test_a_mark_removed_after_a_partial_drain_still_wakes_the_writer() -> None:
    """Same, with the mark lifted (hwm 0, e.g. _sum_hwm with a 0 side): unbounded, and the
    writer that stopped at the old mark must be told."""
    queue = MessageQueue(10)
    writer = wire(queue)
    for i in range(10):
        queue.try_put([b"%d" % i])
    assert not queue.try_put([b"x"])
    writer.stopped = True
    for _ in range(4):
        queue.take()
    queue.hwm = 0
    while queue.take() is not None:
        pass
    assert not writer.stopped


items = st.builds(lambda n: [b"m%d" % n], st.integers(0, 1000))


class Liveness(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.queue = MessageQueue(4)
        self.writer = wire(self.queue)

    @rule(item=items)
    def put(self, item: Any) -> None:
        # a writer that could put is not stopped; one refused at the mark is
        self.writer.stopped = not self.queue.try_put(item) and not self.queue.read_closed

    @rule(batch=st.lists(items, min_size=1, max_size=8))
    def put_batch(self, batch: list[Any]) -> None:
        self.writer.stopped = self.queue.put_batch(batch) < len(batch)

    @rule(item=items)
    def force_put(self, item: Any) -> None:
        self.queue.force_put(item)

    @rule()
    def take(self) -> None:
        self.queue.take()

    @rule(limit=st.integers(1, 6))
    def take_batch(self, limit: int) -> None:
        self.queue.take_batch(limit)

    @rule(hwm=st.integers(0, 8))
    def set_hwm(self, hwm: int) -> None:
        self.queue.hwm = hwm

    @rule(conflate=st.booleans())
    def set_conflate(self, conflate: bool) -> None:
        self.queue.conflate = conflate

    @invariant()
    def a_stopped_writer_is_woken_by_the_resume_level(self) -> None:
        queue = self.queue
        if self.writer.stopped and queue.hwm:
            assert len(queue) > resume_level(queue.hwm), (
                f"writer stopped, queue at {len(queue)}/{queue.hwm}: no take will wake it")
        if self.writer.stopped:
            assert len(queue) > 0, "writer stopped beside an empty queue"


TestLiveness = Liveness.TestCase
TestLiveness.settings = settings(max_examples=3000, stateful_step_count=30, deadline=None)
