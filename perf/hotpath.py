#!/usr/bin/env python3
"""hotpath: the per-message cost of gzmq's hot paths, in one process, precise enough to compare
two checkouts (``compare.py`` measures against libzmq across processes, which is noisier).

    python perf/hotpath.py                              # this checkout
    python perf/hotpath.py --compare DIR_A DIR_B        # two checkouts, alternating A B A B

Each case runs both ends in one process and one gevent hub, in batches (send ``--batch``
messages, then receive them), so what is measured is gzmq's own work per message: the socket
facade, routing, pipes and, for tcp, the engine's reader and writer and the ZMTP codec, plus
the syscalls. The best of ``--repeat`` runs is kept (the least disturbed by other processes).
With ``--compare`` every case runs in a fresh process per checkout, alternating, ``--rounds``
times; the table gives B's cost over A's (median and range of the per-round ratios, < 1 means B
is faster).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from typing import Any, Callable

HERE = os.path.dirname(os.path.abspath(__file__))

CASES = ("inproc PUSH/PULL", "inproc DEALER/ROUTER", "inproc REQ/REP", "tcp PUSH/PULL",
         "tcp DEALER/ROUTER", "tcp PUB/SUB", "tcp REQ/REP", "tcp CURVE")


def prepare(case: str, messages: int, batch: int) -> tuple[Any, Any, Any, Callable[[], None]]:
    """Connect ``case``'s two sockets (gzmq first on sys.path); return (context, sender,
    receiver, run), where ``run()`` moves ``messages`` messages (round trips for REQ/REP)."""
    import gevent

    import gzmq as zmq

    ctx = zmq.Context()
    transport, pattern = case.split(" ")
    endpoint = "inproc://hotpath" if transport == "inproc" else "tcp://127.0.0.1:*"
    kinds = {"PUSH/PULL": (zmq.PULL, zmq.PUSH), "DEALER/ROUTER": (zmq.ROUTER, zmq.DEALER),
             "REQ/REP": (zmq.REP, zmq.REQ), "PUB/SUB": (zmq.SUB, zmq.PUB),
             "CURVE": (zmq.PULL, zmq.PUSH)}[pattern]
    receiver, sender = ctx.socket(kinds[0]), ctx.socket(kinds[1])
    for sock in (receiver, sender):
        sock.sndhwm = sock.rcvhwm = 0
        sock.linger = 0
    if pattern == "CURVE":  # PUSH/PULL, the receiver the CURVE server, 1 KiB (as peerbench)
        server_public, server_secret = zmq.curve_keypair()
        receiver.curve_server = True
        receiver.curve_secretkey = server_secret
        sender.curve_serverkey = server_public
        sender.curve_publickey, sender.curve_secretkey = zmq.curve_keypair()
        assert receiver.mechanism == sender.mechanism == zmq.CURVE
    if pattern == "PUB/SUB":  # the publisher binds; the subscriber connects
        sender.bind(endpoint)
        receiver.subscribe(b"")
        receiver.connect(sender.last_endpoint)
    else:
        receiver.bind(endpoint)
        sender.connect(receiver.last_endpoint)
    payload = b"m" * (1024 if pattern == "CURVE" else 64)
    if pattern == "PUB/SUB":  # the slow joiner: wait until the subscription has arrived
        while True:
            sender.send(payload)
            if receiver.poll(50):
                while receiver.poll(0):
                    receiver.recv()
                break
    else:
        gevent.sleep(0.05)

    def run() -> None:
        if pattern == "REQ/REP":
            for _ in range(messages):
                sender.send(payload)
                receiver.recv()
                receiver.send(payload)
                sender.recv()
            return
        recv = receiver.recv_multipart if pattern == "DEALER/ROUTER" else receiver.recv
        for _ in range(messages // batch):
            for _ in range(batch):
                sender.send(payload)
            for _ in range(batch):
                recv()

    return ctx, sender, receiver, run


def run_case(case: str, messages: int, batch: int, repeat: int) -> float:
    """Seconds per message (best run) of ``case`` with the gzmq first on sys.path."""
    ctx, sender, receiver, run = prepare(case, messages, batch)

    def one_run() -> float:
        started = time.perf_counter()
        run()
        return (time.perf_counter() - started) / messages

    one_run()  # warm up
    best = min(one_run() for _ in range(repeat))
    sender.close()
    receiver.close()
    ctx.term()
    return best


def child_main(args: argparse.Namespace) -> int:
    sys.path.insert(0, args.tree)
    import gzmq
    assert os.path.dirname(os.path.dirname(os.path.abspath(gzmq.__file__))) == \
        os.path.abspath(args.tree), gzmq.__file__
    messages = args.messages // 4 if "REQ/REP" in args.case else args.messages
    print(json.dumps(run_case(args.case, messages, args.batch, args.repeat)))
    return 0


def measure(tree: str, case: str, args: argparse.Namespace) -> float:
    out = subprocess.run(
        [sys.executable, os.path.abspath(__file__), "--child", "--tree", tree, "--case", case,
         "--messages", str(args.messages), "--batch", str(args.batch),
         "--repeat", str(args.repeat)],
        capture_output=True, text=True, check=True, cwd="/")
    return float(out.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--compare", nargs=2, metavar=("DIR_A", "DIR_B"))
    parser.add_argument("--cases", default=",".join(CASES))
    parser.add_argument("--messages", type=int, default=20000, help="messages per run")
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=5, help="runs per process (best kept)")
    parser.add_argument("--rounds", type=int, default=5, help="--compare: processes per side")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--tree", default=os.path.dirname(HERE), help=argparse.SUPPRESS)
    parser.add_argument("--case", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child_main(args)
    cases = args.cases.split(",")
    if not args.compare:
        for case in cases:
            print(f"{case:22} {measure(args.tree, case, args) * 1e6:7.2f} µs/msg", flush=True)
        return 0
    tree_a, tree_b = args.compare
    print(f"A = {tree_a}\nB = {tree_b}\n")
    print(f"{'case':22} {'A µs/msg':>9} {'B µs/msg':>9}  {'B/A median [min-max]':>24}")
    for case in cases:
        a_runs, b_runs = [], []
        for _ in range(args.rounds):
            a_runs.append(measure(tree_a, case, args))
            b_runs.append(measure(tree_b, case, args))
        ratios = [b / a for a, b in zip(a_runs, b_runs)]
        print(f"{case:22} {min(a_runs) * 1e6:9.2f} {min(b_runs) * 1e6:9.2f}  "
              f"{statistics.median(ratios):8.3f} [{min(ratios):.3f}-{max(ratios):.3f}]",
              flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
