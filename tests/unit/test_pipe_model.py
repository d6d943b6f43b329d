"""MessageQueue against a plain model of its contract (hypothesis state machines).

The model (``ModelQueue``) is the contract written the slow, obvious way: a list, the mark,
conflate and the two closed flags, and the edges at which each side must be notified. The real
queue has a fast path (``try_put`` appends after one comparison and leaves the mark, conflate
and a closed reader to ``_put_slow``) and a bulk path (``put_batch``, the engine's delivery);
both must behave exactly like the model on every sequence of operations: same contents, same
answers, same ``readable``/``writable``, and each side notified exactly at the model's edges.
A second machine runs the same puts on two queues, one item at a time on one and in batches on
the other, and compares them throughout.
"""

from __future__ import annotations

from typing import Any

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from gzmq.pipe import MessageQueue, Pipe, SubscriptionCommand


class Counter:
    def __init__(self) -> None:
        self.count = 0

    def notify(self) -> None:
        self.count += 1


def attach_counters(queue: MessageQueue) -> tuple[Counter, Counter]:
    """Notifiers on both sides of ``queue``, attached the way pipe owners do it: the end that
    writes into it and the end that reads from it."""
    writer_end = Pipe(inbound=MessageQueue(0), outbound=queue)
    reader_end = Pipe(inbound=queue, outbound=MessageQueue(0))
    on_readable, on_writable = Counter(), Counter()
    reader_end.attach_notifiers(on_readable=on_readable, on_writable=Counter())
    writer_end.attach_notifiers(on_readable=Counter(), on_writable=on_writable)
    return on_readable, on_writable


class ModelQueue:
    """The contract, spelled out; ``readable_edges`` / ``writable_edges`` count notifications."""

    def __init__(self, hwm: int) -> None:
        self.items: list[Any] = []
        self.hwm = hwm
        self.conflate = False
        self.write_closed = False
        self.read_closed = False
        self.readable_edges = 0
        self.writable_edges = 0

    @property
    def writable(self) -> bool:
        if self.read_closed:
            return False
        return self.conflate or not self.hwm or len(self.items) < self.hwm

    def room(self) -> int:
        if self.read_closed or self.conflate or not self.hwm:
            return -1
        return max(0, self.hwm - len(self.items))

    def _became_readable(self, was_empty: bool) -> None:
        if was_empty and self.items:
            self.readable_edges += 1

    def try_put(self, item: Any) -> bool:
        if self.read_closed:
            return False
        was_empty = not self.items
        if self.conflate and type(item) is not SubscriptionCommand:
            self.items.clear()
        elif self.hwm and len(self.items) >= self.hwm:
            return False
        self.items.append(item)
        self._became_readable(was_empty)
        return True

    def put_batch(self, batch: list[Any]) -> int:
        if self.read_closed:
            return len(batch)
        was_empty = not self.items
        done = 0
        for item in batch:
            if self.conflate and type(item) is not SubscriptionCommand:
                self.items.clear()
            elif self.hwm and len(self.items) >= self.hwm:
                break
            self.items.append(item)
            done += 1
        self._became_readable(was_empty)  # once per batch
        return done

    def force_put(self, item: Any) -> None:
        if not self.read_closed:
            was_empty = not self.items
            self.items.append(item)
            self._became_readable(was_empty)

    def take(self) -> Any:
        if not self.items:
            return None
        item = self.items.pop(0)
        if self.hwm and len(self.items) == self.resume_level():
            self.writable_edges += 1  # a writer stopped at the mark goes on from here
        return item

    def resume_level(self) -> int:
        # libzmq (pipe.cpp, compute_lwm): a writer hears of the reads every LWM messages
        lwm = (self.hwm + 1) // 2 if self.hwm <= 2048 else self.hwm - 1024
        return self.hwm - lwm

    def take_batch(self, limit: int) -> list[Any]:
        batch = self.items[:limit]
        del self.items[:limit]
        if batch:
            self.writable_edges += 1  # every batch: room, and progress
        return batch

    def clear(self) -> int:
        count = len(self.items)
        self.items.clear()
        if count:
            self.writable_edges += 1
        return count

    def close_writing(self) -> None:
        if not self.write_closed:
            self.write_closed = True
            self.readable_edges += 1

    def close_reading(self) -> None:
        self.read_closed = True
        self.items.clear()
        self.writable_edges += 1

    def set_hwm(self, hwm: int) -> None:
        # a writer stopped at the old mark may wait above the resume level, which moved
        self.hwm = hwm
        if self.writable:
            self.writable_edges += 1

    def set_conflate(self, conflate: bool) -> None:
        self.conflate = conflate
        if self.writable:
            self.writable_edges += 1


messages = st.builds(lambda n: [b"m%d" % n], st.integers(0, 10**6))
subscriptions = st.builds(SubscriptionCommand, st.booleans(), st.binary(max_size=3))
items = st.one_of(messages, messages, messages, subscriptions)
hwms = st.integers(0, 5)


class QueueAgainstModel(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.queue = MessageQueue(3)
        self.model = ModelQueue(3)
        self.on_readable, self.on_writable = attach_counters(self.queue)

    @rule(item=items)
    def try_put(self, item: Any) -> None:
        assert self.queue.try_put(item) == self.model.try_put(item)

    @rule(batch=st.lists(items, max_size=8), start=st.integers(0, 3))
    def put_batch(self, batch: list[Any], start: int) -> None:
        start = min(start, len(batch))
        got = self.queue.put_batch(batch, start)
        assert got - start == self.model.put_batch(batch[start:])

    @rule(item=items)
    def force_put(self, item: Any) -> None:
        self.queue.force_put(item)
        self.model.force_put(item)

    @rule()
    def take(self) -> None:
        assert self.queue.take() is self.model.take()

    @rule(limit=st.integers(1, 6))
    def take_batch(self, limit: int) -> None:
        assert self.queue.take_batch(limit) == self.model.take_batch(limit)

    @rule()
    def clear(self) -> None:
        assert self.queue.clear() == self.model.clear()

    @rule()
    def close_writing(self) -> None:
        self.queue.close_writing()
        self.model.close_writing()

    @rule()
    def reopen_writing(self) -> None:
        self.queue.reopen_writing()
        self.model.write_closed = False

    @rule()
    def close_reading(self) -> None:
        self.queue.close_reading()
        self.model.close_reading()

    @rule(hwm=hwms)
    def set_hwm(self, hwm: int) -> None:
        self.queue.hwm = hwm
        self.model.set_hwm(hwm)

    @rule(conflate=st.booleans())
    def set_conflate(self, conflate: bool) -> None:
        self.queue.conflate = conflate
        self.model.set_conflate(conflate)

    @invariant()
    def same_state(self) -> None:
        queue, model = self.queue, self.model
        assert len(queue) == len(model.items)
        assert queue.readable == bool(model.items)
        assert queue.writable == model.writable
        assert queue.room() == model.room()
        assert (queue.write_closed, queue.read_closed) == (model.write_closed, model.read_closed)
        assert self.on_readable.count == model.readable_edges
        assert self.on_writable.count == model.writable_edges


class OneByOneAgainstBatches(RuleBasedStateMachine):
    """The engine's bulk delivery (put_batch) against try_put per item, on equal queues."""

    def __init__(self) -> None:
        super().__init__()
        self.single = MessageQueue(4)
        self.batched = MessageQueue(4)
        self.single_notes = attach_counters(self.single)
        self.batched_notes = attach_counters(self.batched)

    @rule(batch=st.lists(items, min_size=1, max_size=10))
    def deliver(self, batch: list[Any]) -> None:
        done = 0
        for item in batch:
            if not self.single.try_put(item):
                break
            done += 1
        if self.single.read_closed:
            done = len(batch)  # nobody reads: the bulk path discards all of it
        assert self.batched.put_batch(batch) == done

    @rule(limit=st.integers(1, 5))
    def take(self, limit: int) -> None:
        for _ in range(limit):
            assert self.single.take() == self.batched.take()

    @rule(hwm=hwms, conflate=st.booleans())
    def reconfigure(self, hwm: int, conflate: bool) -> None:
        for queue in (self.single, self.batched):
            queue.hwm = hwm
            queue.conflate = conflate

    @rule()
    def close_reading(self) -> None:
        self.single.close_reading()
        self.batched.close_reading()

    @invariant()
    def equal(self) -> None:
        assert self.single.take_batch(0) == self.batched.take_batch(0) == []
        assert len(self.single) == len(self.batched)
        assert self.single.writable == self.batched.writable
        assert [n.count for n in self.single_notes] == [n.count for n in self.batched_notes]


TestQueueAgainstModel = QueueAgainstModel.TestCase
TestQueueAgainstModel.settings = settings(max_examples=300, stateful_step_count=40,
                                          deadline=None)
TestOneByOneAgainstBatches = OneByOneAgainstBatches.TestCase
TestOneByOneAgainstBatches.settings = settings(max_examples=200, stateful_step_count=30,
                                               deadline=None)
