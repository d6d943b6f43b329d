#!/usr/bin/env python3
"""Cost of a message between two OS threads over inproc: gzmq's threaded Context vs pyzmq.

    python perf/cross_thread.py [--count 20000] [--rounds 3]

One thread sends COUNT 64-byte messages on a PUSH, another receives them on a PULL, both on one
Context (gzmq in io_mode "thread": every call goes through the Context's I/O thread). Prints
microseconds per message (send to receive, pipelined) and per round trip (REQ/REP), as medians
over alternating rounds (A B A B ...), since the machine is shared and noisy.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys

CHILD = r"""
import sys, threading, time
impl, count = sys.argv[1], int(sys.argv[2])
if impl == "pyzmq":
    import zmq
    ctx = zmq.Context()
else:
    import gzmq as zmq
    ctx = zmq.Context(io_mode="thread")
pull = ctx.socket(zmq.PULL); pull.bind("inproc://thr")
push = ctx.socket(zmq.PUSH); push.connect("inproc://thr")
def receive():
    for _ in range(count):
        pull.recv()
started = time.perf_counter()
t = threading.Thread(target=receive); t.start()
msg = b"x" * 64
for _ in range(count):
    push.send(msg)
t.join()
thr = (time.perf_counter() - started) / count * 1e6
rep = ctx.socket(zmq.REP); rep.bind("inproc://lat")
req = ctx.socket(zmq.REQ); req.connect("inproc://lat")
trips = max(count // 10, 100)
def serve():
    for _ in range(trips):
        rep.send(rep.recv())
t = threading.Thread(target=serve); t.start()
started = time.perf_counter()
for _ in range(trips):
    req.send(msg); req.recv()
lat = (time.perf_counter() - started) / trips * 1e6
t.join()
for s in (pull, push, rep, req):
    s.close(linger=0)
ctx.term()
print(f"{thr:.2f} {lat:.2f}")
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    results: dict[str, list[tuple[float, float]]] = {"gzmq": [], "pyzmq": []}
    for _ in range(args.rounds):
        for impl in results:
            out = subprocess.run([sys.executable, "-c", CHILD, impl, str(args.count)],
                                 capture_output=True, text=True, timeout=300, check=True)
            thr, lat = map(float, out.stdout.split())
            results[impl].append((thr, lat))
    print("| across threads, inproc, 64 B | gzmq (io_mode thread) | pyzmq | ratio |")
    print("|---|---|---|---|")
    for index, name in enumerate(("µs per message, PUSH→PULL", "µs per round trip, REQ/REP")):
        g = statistics.median(r[index] for r in results["gzmq"])
        p = statistics.median(r[index] for r in results["pyzmq"])
        print(f"| {name} | {g:.1f} | {p:.1f} | {g / p:.1f}× |")


if __name__ == "__main__":
    main()
