"""Pipes and signals, without sockets or networks."""

from collections import deque
from typing import Any

import gevent
import pytest

from gzmq.error import Again
from gzmq.pipe import (
    MessageQueue, Signal, SubscriptionCommand, pipe_pair, put_each, resume_level,
)


def test_items_cross_over_in_order():
    a, b = pipe_pair(10, 10)
    a.send_nowait([b"1"])
    a.send_nowait([b"2", b"x"])
    assert b.recv_nowait() == [b"1"]
    assert b.recv_nowait() == [b"2", b"x"]
    with pytest.raises(Again):
        b.recv_nowait()


def test_high_water_mark_counts_messages_per_direction():
    a, b = pipe_pair(2, 5)
    a.send_nowait([b"1"])
    a.send_nowait([b"2"])
    assert not a.writable
    with pytest.raises(Again):
        a.send_nowait([b"3"])
    assert b.writable  # the other direction has its own mark
    b.recv_nowait()
    assert a.writable


def test_zero_hwm_is_unbounded():
    a, b = pipe_pair(0, 0)
    for i in range(5000):
        a.send_nowait([b"%d" % i])
    assert len(b.inbound) == 5000


def test_force_send_ignores_hwm_but_not_a_closed_reader():
    a, b = pipe_pair(1, 1)
    a.send_nowait([b"1"])
    a.force_send(SubscriptionCommand(True, b"t"))
    assert len(b.inbound) == 2
    b.close_reading()
    a.force_send([b"late"])
    assert not b.inbound.readable


def test_notifiers_fire_on_put_and_get():
    a, b = pipe_pair(1, 1)
    readable, room = Signal(), Signal()
    seen = []
    readable.add_watcher(lambda: seen.append("readable"))
    room.add_watcher(lambda: seen.append("room"))
    b.attach_notifiers(on_readable=readable, on_writable=Signal())
    a.attach_notifiers(on_readable=Signal(), on_writable=room)
    a.send_nowait([b"x"])
    b.recv_nowait()
    assert seen == ["readable", "room"]


def test_close_writing_lets_the_reader_drain_first():
    a, b = pipe_pair(10, 10)
    a.send_nowait([b"last"])
    a.close_writing()
    assert not b.peer_gone
    assert b.recv_nowait() == [b"last"]
    assert b.peer_gone


def test_signal_wakes_every_waiter_once():
    signal = Signal()
    woken = []

    def waiter(n):
        assert signal.wait(5)
        woken.append(n)

    greenlets = [gevent.spawn(waiter, n) for n in range(50)]
    gevent.sleep(0)
    signal.notify()
    signal.notify()  # a second notify before they run must not be lost or double-count
    gevent.joinall(greenlets, timeout=5, raise_error=True)
    assert sorted(woken) == list(range(50))


def test_signal_wait_times_out():
    assert Signal().wait(0.01) is False


def test_statistics():
    a, b = pipe_pair(3, 4)
    a.send_nowait([b"x"])
    assert a.statistics() == {"outbound_queued": 1, "inbound_queued": 0, "sndhwm": 3,
                              "rcvhwm": 4}


def test_pipe_activation_wakes_exactly_as_signal_notify_does() -> None:
    """PipeActivation inlines Signal.notify (it runs at every edge of every pipe): after either,
    the waiter has woken and ``watched`` says nobody listens any more, or a watcher still
    does (REQ/REP skip their own notifies on ``watched``, so a stale True costs every reply a
    fair-queue scan and a stale False would lose a wake-up)."""
    from gzmq.pipe import PipeActivation

    def woken_by(notify_of):  # (signal -> its notify) -> (waiter woken, watched after)
        signal = Signal()
        waiter = gevent.spawn(signal.wait, 2)
        gevent.sleep(0)
        assert signal.watched
        notify_of(signal)()
        return waiter.get(timeout=2), signal.watched

    socket_end, _ = pipe_pair(0, 0)
    assert woken_by(lambda s: s.notify) == (True, False)
    assert woken_by(lambda s: PipeActivation(None, socket_end, s).notify) == (True, False)
    seen: list[int] = []
    for notifier in (lambda s: s.notify, lambda s: PipeActivation(None, socket_end, s).notify):
        signal = Signal()
        signal.add_watcher(lambda: seen.append(1))
        notifier(signal)()
        assert signal.watched  # the watcher still listens
    assert seen == [1, 1]


@pytest.mark.parametrize("first_put", ["try_put", "put_batch", "force_put", "rewrite"])
def test_a_queue_makes_its_deque_at_the_first_put_and_behaves_the_same(first_put) -> None:
    """An idle connection's queues hold nothing: they allocate no deque (760 bytes each)
    until something is put, whichever way it comes first."""
    queue = MessageQueue(2)
    readable = Signal()
    queue._on_readable = readable
    woken = []
    readable.add_watcher(lambda: woken.append(True))
    assert type(queue._items) is not deque
    assert (len(queue), queue.readable, queue.writable, queue.room()) == (0, False, True, 2)
    assert queue.take() is None and queue.take_batch(5) == [] and queue.clear() == 0
    if first_put == "try_put":
        assert queue.try_put([b"1"]) and queue.try_put([b"2"]) and not queue.try_put([b"3"])
    elif first_put == "put_batch":
        assert queue.put_batch([[b"1"], [b"2"], [b"3"]]) == 2
    elif first_put == "force_put":
        queue.force_put([b"1"])
        assert queue.try_put([b"2"]) and not queue.try_put([b"3"])
    else:
        queue.rewrite(lambda queued: queued + [[b"1"], [b"2"]])
        assert not queue.try_put([b"3"])
    assert woken == [True]  # one edge: empty to readable
    assert (len(queue), queue.room()) == (2, 0)
    assert queue.take_batch(5) == [[b"1"], [b"2"]]


def test_a_fresh_queue_closed_for_reading_or_conflated_behaves_the_same() -> None:
    closed = MessageQueue(2)
    closed.close_reading()
    assert not closed.try_put([b"x"]) and closed.put_batch([[b"x"]]) == 1 and not len(closed)
    conflated = MessageQueue(2)
    conflated.conflate = True
    assert conflated.room() == -1
    assert conflated.try_put([b"1"]) and conflated.try_put([b"2"])
    assert conflated.take_batch(5) == [[b"2"]]
    raised = MessageQueue(1)
    raised.hwm = 3
    assert raised.room() == 3 and raised.put_batch([[b"1"], [b"2"], [b"3"], [b"4"]]) == 3


def test_put_each_is_try_put_on_each_pipe_and_returns_the_refusals() -> None:
    # the fan-out put (try_put's fast path inlined): the same queues, notifications and
    # refusals as a try_put per pipe, with a never-used queue, one at its mark, a CONFLATE
    # one and one whose reader closed
    def setup() -> tuple[list[Any], list[Any], list[int]]:
        ends, fars, wakes = [], [], []
        for hwm, conflate, closed in ((0, False, False), (2, False, False), (1, True, False),
                                      (3, False, True), (5, False, False)):
            mine, far = pipe_pair(hwm, hwm)
            counter = [0]
            wakes.append(counter)
            far.attach_notifiers(_Counting(counter), Signal())
            mine.outbound.conflate = conflate
            if closed:
                far.inbound.close_reading()
            ends.append(mine)
            fars.append(far)
        return ends, fars, [0]

    fanned, fanned_far, _ = setup()
    one_by_one, one_by_one_far, _ = setup()
    for n in range(4):
        msg = [b"m%d" % n]
        refused = put_each(fanned, msg)
        expected = [pipe for pipe in one_by_one if not pipe.outbound.try_put(msg)]
        assert [fanned.index(p) for p in refused] == [one_by_one.index(p) for p in expected]
    for a, b in zip(fanned_far, one_by_one_far):
        assert list(a.inbound._items) == list(b.inbound._items)
        assert a.inbound._on_readable.counter == b.inbound._on_readable.counter


class _Counting:
    def __init__(self, counter: list[int]) -> None:
        self.counter = counter

    def notify(self) -> None:
        self.counter[0] += 1


@pytest.mark.parametrize("hwm, level", [(1, 0), (2, 1), (3, 1), (1000, 500), (2048, 1024),
                                        (2049, 1024), (100_000, 1024)])
def test_resume_level_is_libzmqs_low_water_mark_seen_from_the_writer(hwm: int, level: int) -> None:
    # libzmq's pipe.cpp compute_lwm: LWM = (hwm + 1) / 2, or hwm - 1024 above 2 * 1024; the
    # reader tells the writer every LWM reads, so a full queue's writer goes on at hwm - LWM
    assert resume_level(hwm) == level


def test_a_writer_at_the_mark_is_woken_once_at_the_resume_level_not_per_take() -> None:
    a, b = pipe_pair(10, 10)
    wakes = []

    class Count:
        def notify(self) -> None:
            wakes.append(len(b.inbound))

    a.attach_notifiers(on_readable=Signal(), on_writable=Count())
    for i in range(10):
        a.send_nowait([b"%d" % i])
    assert not a.outbound.writable
    for _ in range(10):
        b.recv_nowait()
    assert wakes == [resume_level(10)] == [5]  # one wake-up, with half the queue taken
