"""How much memory does an idle connection cost a gzmq ROUTER?

    python perf/idle_connections.py [--connections 10000] [--impl gzmq|pyzmq] [--json]

A gzmq ROUTER (``--impl pyzmq``: a libzmq one, for comparison) binds on 127.0.0.1; a separate
process opens N plain TCP connections, each of which sends a ZMTP 3.1 greeting and a NULL READY
for a DEALER, reads the server's, and then stays idle.
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
sys.path.insert(0, HERE)

import zmtp_raw  # noqa: E402
from zmtp_raw import rss_bytes  # noqa: E402



def run_clients(port: int, count: int, hold_seconds: float) -> None:
    """The client process: open ``count`` connections, handshake, stay idle, then exit.
    Each connection reads the server's greeting and READY before the next one opens: a
    burst of connects would overflow the listen backlog (100 by default) and wait for SYN
    retransmits, seconds each."""
    zmtp_raw.raise_fd_limit()
    peers = []
    for _ in range(count):
        peer = socket.create_connection(("127.0.0.1", port))
        zmtp_raw.handshake(peer, "DEALER")
        peers.append(peer)
    print("connected", flush=True)
    time.sleep(hold_seconds)
    for peer in peers:
        peer.close()


def start_router(impl: str = "gzmq") -> tuple:
    """(context, ROUTER of ``impl`` bound on 127.0.0.1, its HANDSHAKE_SUCCEEDED monitor,
    its port)"""
    if impl == "pyzmq":
        import zmq
    else:
        import gzmq as zmq
    zmtp_raw.raise_fd_limit()
    ctx = zmq.Context()
    router = ctx.socket(zmq.ROUTER)
    router.router_mandatory = 1
    monitor = router.get_monitor_socket(zmq.EVENT_HANDSHAKE_SUCCEEDED)
    router.bind("tcp://127.0.0.1:*")
    port = int(router.last_endpoint.rsplit(b":", 1)[1])
    router.poll(100)  # settle (gzmq: lets the hub start the listener)
    return ctx, router, monitor, port


def start_clients(port: int, count: int, hold_seconds: float):
    """The client process (its stdout, "connected" once all are, is not read)."""
    return subprocess.Popen([sys.executable, os.path.abspath(__file__), "--client", str(port),
                             str(count), str(hold_seconds)], stdout=subprocess.DEVNULL)


def run_server(count: int, limit: float, impl: str = "gzmq") -> dict:
    """Accept ``count`` idle peers on a ROUTER of ``impl`` (gzmq, or pyzmq for libzmq's
    number on the same machine); returns the RSS growth per connection."""
    if impl == "pyzmq":
        import zmq
        from zmq.utils.monitor import recv_monitor_message
        version = "pyzmq %s (libzmq %s)" % (zmq.pyzmq_version(), zmq.zmq_version())
    else:
        import gevent

        import gzmq
        from gzmq.utils.monitor import recv_monitor_message
        version = "gzmq %s gevent %s" % (getattr(gzmq, "__version__", "?"), gevent.__version__)

    ctx, router, monitor, port = start_router(impl)
    before = rss_bytes()
    client = start_clients(port, count, limit)
    started = time.monotonic()
    deadline = started + limit
    ready = 0
    while ready < count:  # poll, not a blocking recv: bounded for both implementations
        left = deadline - time.monotonic()
        if left <= 0 or not monitor.poll(int(left * 1000) + 1):
            break
        recv_monitor_message(monitor)
        ready += 1
    elapsed = time.monotonic() - started
    after = rss_bytes()
    # the ROUTER still routes: the generated ids are not known, so probe with MANDATORY
    alive = ready == count and router.poll(0) == 0
    client.kill()
    client.wait()
    monitor.close()
    router.close(linger=0)
    ctx.term()
    return {"impl": impl, "version": version, "connections": count, "handshaken": ready,
            "seconds": round(elapsed, 2),
            "rss_before_mib": round(before / 2**20, 1), "rss_after_mib": round(after / 2**20, 1),
            "bytes_per_connection": (after - before) // max(ready, 1), "ok": alive}


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--client":
        run_clients(int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--connections", type=int, default=10000)
    parser.add_argument("--limit", type=float, default=120.0, help="seconds to wait at most")
    parser.add_argument("--impl", default="gzmq", choices=("gzmq", "pyzmq"),
                        help="the ROUTER's implementation (default gzmq)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = run_server(args.connections, args.limit, args.impl)
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
