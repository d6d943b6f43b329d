"""Where does an idle connection's memory go? A per-connection breakdown for a gzmq ROUTER.

    python perf/idle_memory.py [--connections 1000] [--top 25]

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
import linecache
import os
import subprocess
import sys
import tracemalloc
from collections import Counter

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from idle_connections import rss_bytes, start_clients, start_router  # noqa: E402


def _by_type() -> "Counter[str]":
    sizes: "Counter[str]" = Counter()
    for obj in gc.get_objects():
        kind = type(obj)
        sizes[f"{kind.__module__}.{kind.__qualname__}"] += sys.getsizeof(obj)
    return sizes


def _by_type_count() -> "Counter[str]":
    return Counter(f"{type(o).__module__}.{type(o).__qualname__}" for o in gc.get_objects())


def measure(count: int, top: int) -> None:
    import gevent

    from gzmq.utils.monitor import recv_monitor_message

    ctx, router, monitor, port = start_router()
    tracemalloc.start(1)
    gc.collect()
    types_before, counts_before = _by_type(), _by_type_count()
    before, rss_before = tracemalloc.take_snapshot(), rss_bytes()
    client = start_clients(port, count, 120)
    with gevent.Timeout(120):
        for _ in range(count):
            recv_monitor_message(monitor)
    gevent.sleep(0.5)
    gc.collect()
    after, rss_after = tracemalloc.take_snapshot(), rss_bytes()
    types_after, counts_after = _by_type(), _by_type_count()
    traced = sum(stat.size_diff for stat in after.compare_to(before, "filename"))
    print(f"{count} idle connections: traced {traced / count:.0f} B, RSS "
          f"{(rss_after - rss_before) / count:.0f} B per connection (RSS under tracemalloc)")
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
    client.kill()
    client.wait()
    monitor.close()
    router.close(linger=0)
    ctx.term()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--connections", type=int, default=1000)
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    measure(args.connections, args.top)
    return 0


if __name__ == "__main__":
    sys.exit(main())
