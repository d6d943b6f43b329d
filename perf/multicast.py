"""Multicast throughput: epgm at RATE 100 Mbit/s with 1 KiB messages, gzmq and libzmq on
either side, each run in a fresh network namespace (root; Debian's python3-zmq as libzmq).

    sudo .venv/bin/python perf/multicast.py [--count 20000] [--rounds 3] [--loss 0.05]

For each pair (publisher -> subscriber) it reports the subscriber's rate (messages from the
first to the last, all of them in order), and the ratio of each pair to libzmq -> libzmq in
the same round (rounds alternate the pairs, so a busy moment hits them alike). With ``--loss``
it also runs the loss-recovery cases (gzmq drops that share of original data, on send or on
receive) and reports NAKs, repairs and the time to deliver everything.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RUNNER = os.path.join(ROOT, "tests", "multicast", "netns_run.py")
ORACLE = "/usr/bin/python3"
ENDPOINT = "epgm://127.0.0.1;239.192.9.9:5599"
OPTIONS = {"RATE": 100000, "RECOVERY_IVL": 10000}


def side(lib: str, role: str, count: int, **extra: object) -> list[object]:
    cfg = {"lib": lib, "role": role, "endpoint": ENDPOINT, "count": count, "sizes": [1024],
           # RCVHWM 0 for libzmq's SUB: its pgm_receiver aborts when resuming into a full pipe
           "options": dict(OPTIONS, **({"SNDHWM": 0} if role == "pub" else
                                       {"RCVHWM": 0} if lib == "zmq" else {})),
           "linger": 60, "deadline": 60}
    cfg.update(extra)
    return [sys.executable if lib == "gzmq" else ORACLE, cfg]


def run(pub: list[object], sub: list[object]) -> dict[str, object]:
    plan = {"pub": pub, "subs": [sub], "pythonpath": ROOT}
    result = subprocess.run(["unshare", "--net", sys.executable, RUNNER, json.dumps(plan)],
                            capture_output=True, text=True, timeout=180)
    lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
    if not lines:
        raise SystemExit(result.stdout + result.stderr)
    outcome: dict[str, object] = json.loads(lines[-1])
    return outcome


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--loss", type=float, default=0.0)
    args = parser.parse_args()
    pairs = [("zmq", "zmq"), ("gzmq", "zmq"), ("zmq", "gzmq"), ("gzmq", "gzmq")]
    rates: dict[tuple[str, str], list[float]] = {pair: [] for pair in pairs}
    ratios: dict[tuple[str, str], list[float]] = {pair: [] for pair in pairs}
    for _round in range(args.rounds):
        this_round = {}
        for pub_lib, sub_lib in pairs:
            outcome = run(side(pub_lib, "pub", args.count), side(sub_lib, "sub", args.count))
            sub = outcome["subs"][0]  # type: ignore[index]
            ok = sub["received"] == args.count and sub["in_order"] and sub["intact"]
            rate = args.count / sub["seconds"] if ok and sub["seconds"] else 0.0
            this_round[(pub_lib, sub_lib)] = rate
            rates[(pub_lib, sub_lib)].append(rate)
        for pair in pairs:
            base = this_round[("zmq", "zmq")]
            ratios[pair].append(this_round[pair] / base if base else 0.0)
    print(f"epgm, RATE 100 Mbit/s, 1 KiB messages, {args.count} per run, {args.rounds} rounds")
    print("| publisher -> subscriber | msg/s (median [min-max]) | MB/s | vs libzmq -> libzmq |")
    print("|---|---|---|---|")
    for pair in pairs:
        r, q = rates[pair], ratios[pair]
        med = statistics.median(r)
        print(f"| {pair[0]} -> {pair[1]} | {med:,.0f} [{min(r):,.0f}-{max(r):,.0f}] | "
              f"{med * 1024 / 1e6:.1f} | {statistics.median(q):.2f} [{min(q):.2f}-{max(q):.2f}] |")
    if args.loss:
        for direction, pub, sub in (
                ("gzmq -> libzmq, gzmq drops on send",
                 side("gzmq", "pub", args.count, loss=args.loss), side("zmq", "sub", args.count)),
                ("libzmq -> gzmq, gzmq drops on receive",
                 side("zmq", "pub", args.count), side("gzmq", "sub", args.count, loss=args.loss))):
            outcome = run(pub, sub)
            print(f"loss {args.loss:.0%} {direction}: pub {json.dumps(outcome['pub'])} "
                  f"sub {json.dumps(outcome['subs'][0])}")  # type: ignore[index]


if __name__ == "__main__":
    main()
