"""A ROUTER's round trip costs the same with 10 tcp peers or 300: counted end to end, not timed.

Issue 12's target is a per-message cost that stays flat from 10 to 10,000 peers
(perf/router_peers.py times it). tests/unit/test_routing_scale.py counts what the routing
strategies look at; this counts everything a request/reply costs on its way through the
engines, the hub callbacks and the sockets, over tcp: the Python calls (cProfile) and lines
(sys.settrace) of a round trip, one DEALER talking among N idle ones. The round trips are in
lockstep (one request in flight), so each takes the same path whatever the timing. A loop over
the peers anywhere, per message or per hub iteration, would add about N lines per round trip
(a loop that calls nothing adds no calls, but it adds lines); in December 2026 both counts are
the same at 10 and 300 peers to the second decimal (153.0 calls, 559.1 lines).

It also counts the GC-tracked objects a round trip leaves alive. The cyclic GC's full
collections walk every live container (about 27 per tcp connection: 70-100 ms at 10,000
peers), and they come after enough net allocations; traffic that leaves nothing behind never
triggers one, so no O(peers) pause is paid per message.
"""

from __future__ import annotations

import cProfile
import gc
import pstats
import sys
from types import FrameType
from typing import Any, Callable

import gzmq as zmq

ROUND_TRIPS = 300
REQUEST = b"r" * 64


def count_lines(run: Callable[[], None]) -> int:
    """The Python lines ``run`` executes (in every greenlet it switches to): a loop that calls
    nothing adds no calls, but it adds lines."""
    count = 0

    def local(frame: FrameType, event: str, arg: Any) -> Any:
        nonlocal count
        if event == "line":
            count += 1
        return local

    def enter(frame: FrameType, event: str, arg: Any) -> Any:
        return local

    previous = sys.gettrace()  # a coverage tool's, say: put back afterwards
    sys.settrace(enter)
    try:
        run()
    finally:
        sys.settrace(previous)
    return count


def round_trip_costs(ctx: zmq.Context, peers: int) -> tuple[float, float, float]:
    """(Python calls, Python lines, GC-tracked objects left alive) per round trip, with
    ``peers`` DEALERs."""
    router = ctx.socket(zmq.ROUTER)
    router.bind("tcp://127.0.0.1:*")
    dealers = [ctx.socket(zmq.DEALER) for _ in range(peers)]
    try:
        for dealer in dealers:
            dealer.connect(router.last_endpoint)
        for dealer in dealers:  # each says hello: the ROUTER routes to every one of them
            dealer.send(b"hello")
        for _ in range(peers):
            router.send_multipart([router.recv_multipart()[0], b"hi"])
        assert all(dealer.recv() == b"hi" for dealer in dealers)
        talker = dealers[peers // 2]

        def trips(count: int) -> None:
            for _ in range(count):
                talker.send(REQUEST)
                router.send_multipart(router.recv_multipart())
                assert talker.recv() == REQUEST

        trips(50)  # warm up: buffers, code paths, the talker's place in the fair queue
        profile = cProfile.Profile()
        profile.enable()
        trips(ROUND_TRIPS)
        profile.disable()
        calls = pstats.Stats(profile).total_calls / ROUND_TRIPS  # type: ignore[attr-defined]
        lines = count_lines(lambda: trips(ROUND_TRIPS)) / ROUND_TRIPS

        gc.collect()
        gc.disable()  # so the count below is not reset by a collection
        try:
            before = len(gc.get_objects())
            trips(ROUND_TRIPS)
            left = (len(gc.get_objects()) - before) / ROUND_TRIPS
        finally:
            gc.enable()
        return calls, lines, left
    finally:
        for sock in dealers + [router]:
            sock.close(linger=0)


def test_a_round_trip_costs_the_same_with_10_or_300_peers(ctx: zmq.Context) -> None:
    few_calls, few_lines, few_left = round_trip_costs(ctx, 10)
    many_calls, many_lines, many_left = round_trip_costs(ctx, 300)
    # it counted something: send, flush, read and recv on both ends
    assert few_calls > 20 and few_lines > few_calls
    # the same path (some slack for where a hub iteration splits the work); one pass over the
    # peers would add about 300 lines
    assert many_calls <= few_calls + 5, (few_calls, many_calls)
    assert many_lines <= few_lines + 20, (few_lines, many_lines)
    # steady traffic leaves no containers alive (a fraction for a list or dict that grew)
    assert few_left < 0.1 and many_left < 0.1, (few_left, many_left)
