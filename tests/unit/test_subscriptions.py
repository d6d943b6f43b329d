"""The publisher's subscription table against a brute-force model (hypothesis), and its cost
whatever a subscriber sends (the hostile-peer review: topics of every length made each
publish slice and hash every prefix length)."""

from __future__ import annotations

import time

from hypothesis import given, settings
from hypothesis import strategies as st

from gzmq.routing.subscriptions import TRIE_AT_LENGTHS, Subscriptions

TOPICS = st.binary(max_size=6).map(lambda b: bytes(x % 3 for x in b))  # few bytes: many overlaps
PIPES = st.sampled_from(["p1", "p2", "p3"])
OPS = st.lists(st.tuples(st.sampled_from(["add", "remove", "drop"]), PIPES, TOPICS),
               max_size=80)


@settings(max_examples=400, deadline=None, derandomize=True, database=None)
@given(OPS, st.lists(st.binary(max_size=8).map(lambda b: bytes(x % 3 for x in b)), max_size=8),
       st.booleans())
def test_matches_a_brute_force_model(ops: list, messages: list, many_lengths: bool) -> None:
    subs: Subscriptions[str] = Subscriptions()
    model: dict[str, set[bytes]] = {}
    if many_lengths:  # force the trie from the start
        for length in range(TRIE_AT_LENGTHS):
            subs.add("long", b"\x07" * (length + 10))
            model.setdefault("long", set()).add(b"\x07" * (length + 10))
    for op, pipe, topic in ops:
        others = {t for p, ts in model.items() if p != pipe for t in ts}
        if op == "add":
            fresh = topic not in others and topic not in model.get(pipe, set())
            assert subs.add(pipe, topic) is fresh
            model.setdefault(pipe, set()).add(topic)
        elif op == "remove":
            had = topic in model.get(pipe, set())
            assert subs.remove(pipe, topic) is (had and topic not in others)
            model.get(pipe, set()).discard(topic)
        else:
            orphaned = set(subs.remove_pipe(pipe))
            assert orphaned == model.pop(pipe, set()) - others
        for message in messages + [topic, topic + b"\x01", b""]:
            expected = {p for p, ts in model.items() if any(message.startswith(t) for t in ts)}
            assert subs.match(message) == expected
    assert len(subs) == len({t for ts in model.values() for t in ts})


def test_topics_of_every_length_do_not_slow_each_publish() -> None:
    """2,000 topics of lengths 1..2000 that never match: a 4 KiB publish stays cheap (it took
    about 1 ms with one slice per distinct length)."""
    subs: Subscriptions[str] = Subscriptions()
    for length in range(1, 2001):
        subs.add("attacker", b"\xff" * length)
    subs.add("honest", b"weather")
    message = b"weather." + b"x" * 4096
    started = time.perf_counter()
    for _ in range(1000):
        assert subs.match(message) == {"honest"}
    per_publish = (time.perf_counter() - started) / 1000
    assert per_publish < 50e-6, f"{per_publish * 1e6:.0f} µs per publish"


def test_dropping_a_subscriber_costs_its_own_topics() -> None:
    subs: Subscriptions[str] = Subscriptions()
    for index in range(100_000):
        subs.add("big", b"t%d" % index)
    subs.add("small", b"x")
    started = time.perf_counter()
    for _ in range(100):
        subs.remove_pipe("small")
        subs.add("small", b"x")
    assert (time.perf_counter() - started) / 100 < 1e-3
    assert subs.remove_pipe("small") == [b"x"]
