"""Where does an idle connection's memory go? A per-connection breakdown for a gzmq ROUTER.

    python perf/idle_memory.py [--connections 1000] [--top 25] [--json] [--heartbeat-ivl MS]

The same set-up as ``idle_connections.py`` (a ROUTER on 127.0.0.1, a separate process opening
N plain TCP connections that each send a DEALER's greeting and READY, then stay idle), measured
from inside: with ``tracemalloc`` on, it diffs a snapshot taken before the peers connect with
one taken once every handshake has completed, and reports bytes per connection

- by allocating line (``--top`` lines),
- by type of the objects that are new (``sys.getsizeof``, shallow: a dict counts once, under
  ``dict``, not under the object that owns it),

and the RSS growth per connection, whose difference from the traced total is memory Python's
allocators do not see (libev, and the allocator's own slack). tracemalloc itself costs time
and memory: take the RSS figure from ``idle_connections.py``.
"""

from __future__ import annotations

import argparse
import gc
import json
import linecache
import os
import subprocess
import sys
import tracemalloc
from collections import Counter
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from idle_connections import rss_bytes, start_clients, start_router  # noqa: E402


def _by_type(*snapshots: Any) -> "tuple[Counter[str], Counter[str]]":
    """(bytes, count) of the objects the garbage collector tracks, by type, but for the
    lists of traces of tracemalloc's ``snapshots``."""
    sizes: "Counter[str]" = Counter()
    counts: "Counter[str]" = Counter()
    skip = {id(sizes), id(counts)} | {id(snapshot.traces._traces) for snapshot in snapshots}
    objects = gc.get_objects()
    for obj in objects:
        if id(obj) in skip:
            continue
        kind = type(obj)
        name = f"{kind.__module__}.{kind.__qualname__}"
        sizes[name] += sys.getsizeof(obj)
        counts[name] += 1
    del objects
    return sizes, counts


def _handshakes(monitor: Any, count: int, limit: float) -> None:
    import gevent

    from gzmq.utils.monitor import recv_monitor_message

    with gevent.Timeout(limit):
        for _ in range(count):
            recv_monitor_message(monitor)


def measure(count: int, top: int = 0, warmup: int = 20, limit: float = 120,
            heartbeat_ivl: int = 0) -> dict:
    """Accept ``warmup`` peers (imports and first-use caches are not per connection), then
    measure ``count`` more; print the breakdown if ``top``. Return the totals per connection
    and how many greenlets the idle connections hold. ``heartbeat_ivl`` (ms): the ROUTER's
    HEARTBEAT_IVL (the peers do not answer PINGs: keep it longer than the run)."""
    import gevent

    ctx, router, monitor, port = start_router()
    router.heartbeat_ivl = heartbeat_ivl
    clients = [start_clients(port, warmup, limit)]
    _handshakes(monitor, warmup, limit)
    group = router._core.lifecycle.group
    tracemalloc.start(1)
    gc.collect()
    if top:
        types_before, counts_before = _by_type()
    before, rss_before = tracemalloc.take_snapshot(), rss_bytes()
    clients.append(start_clients(port, count, limit))
    _handshakes(monitor, count, limit)
    with gevent.Timeout(limit, False):  # a handshake's greenlet ends just after its event
        held = -1
        while len(group) > 1 and len(group) != held:  # (1: the accept loop's)
            held = len(group)  # (or as many as stay: a greenlet per connection, say)
            gevent.sleep(0.2)
    gc.collect()
    after, rss_after = tracemalloc.take_snapshot(), rss_bytes()
    tracemalloc.stop()
    traced = sum(stat.size_diff for stat in after.compare_to(before, "filename"))
    result = {"connections": count, "traced_bytes_per_connection": traced // count,
              "rss_bytes_per_connection_traced": (rss_after - rss_before) // count,
              "greenlets": len(group) - 1}
    if top:
        _print_breakdown(count, top, before, after, types_before, counts_before, result)
    for client in clients:
        client.kill()
        client.wait()
    monitor.close()
    router.close(linger=0)
    ctx.term()
    return result


def _print_breakdown(count: int, top: int, before: Any, after: Any, types_before: Counter,
                     counts_before: Counter, result: dict) -> None:
    types_after, counts_after = _by_type(before, after)
    print(f"{count} idle connections: traced {result['traced_bytes_per_connection']} B, RSS "
          f"{result['rss_bytes_per_connection_traced']} B per connection (RSS under "
          f"tracemalloc); {result['greenlets']} greenlets")
    print(f"\n-- by line (bytes per connection, top {top}) --")
    for stat in after.compare_to(before, "lineno")[:top]:
        frame = stat.traceback[0]
        name = os.path.relpath(frame.filename, os.path.dirname(HERE)) \
            if "gzmq" in frame.filename else frame.filename.rsplit("/", 2)[-2:]
        source = linecache.getline(frame.filename, frame.lineno).strip()[:60]
        print(f"{stat.size_diff / count:8.0f}  {stat.count_diff / count:6.2f} blocks  "
              f"{name}:{frame.lineno}  {source}")
    print(f"\n-- by type (shallow sys.getsizeof, bytes per connection, top {top}) --")
    diff = Counter({k: types_after[k] - types_before.get(k, 0) for k in types_after})
    for kind, size in diff.most_common(top):
        objects = counts_after[kind] - counts_before.get(kind, 0)
        print(f"{size / count:8.0f}  {objects / count:6.2f} objects  {kind}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--connections", type=int, default=1000)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--json", action="store_true", help="only the totals, as JSON")
    parser.add_argument("--heartbeat-ivl", type=int, default=0, metavar="MS",
                        help="the ROUTER's HEARTBEAT_IVL (default 0: none; try 60000)")
    args = parser.parse_args()
    result = measure(args.connections, 0 if args.json else args.top,
                     heartbeat_ivl=args.heartbeat_ivl)
    if args.json:
        print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
