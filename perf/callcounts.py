#!/usr/bin/env python3
"""callcounts: Python calls and syscalls per message on gzmq's hot paths; deterministic, so two
checkouts compare exactly even on a noisy machine (wall-clock tools cannot).

    python perf/callcounts.py                          # this checkout
    python perf/callcounts.py --compare DIR_A DIR_B    # two checkouts side by side

Each case of ``hotpath.py`` (both ends in one process, in batches) runs once under cProfile,
which counts every Python-level call (function, method, builtin); and once under
``strace -f -c``, which counts the syscalls of the whole process. Both are divided by the
messages moved (a REQ/REP round trip counts as one message). The warm-up run is excluded:
counting starts after the connection is up. Use this to see *what* a change costs per message,
and ``hotpath.py`` / ``compare.py`` to see what that is worth in time.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import re
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from hotpath import CASES, prepare  # noqa: E402

MESSAGES = 4000


def child(tree: str, case: str, mode: str) -> dict[str, float]:
    """Run ``case`` once in this process with ``tree``'s gzmq; count what ``mode`` asks."""
    sys.path.insert(0, tree)
    messages = MESSAGES // 4 if "REQ/REP" in case else MESSAGES
    ctx, sender, receiver, run = prepare(case, messages, batch=100)
    run()  # warm up: connections, buffers, code paths
    result: dict[str, float] = {}
    if mode == "calls":
        profile = cProfile.Profile()
        profile.enable()
        run()
        profile.disable()
        result["calls"] = pstats.Stats(profile).total_calls / messages  # type: ignore[attr-defined]
    else:
        sys.stdout.write("MARK-START\n")
        sys.stdout.flush()  # strace sees the marks as write() calls: counting is between them
        run()
        sys.stdout.write("MARK-END\n")
        sys.stdout.flush()
        result["messages"] = messages
    sender.close()
    receiver.close()
    ctx.term()
    return result


def syscalls(tree: str, case: str) -> float:
    """Syscalls per message between the two marks, by running the child under strace."""
    strace = shutil.which("strace")
    if strace is None:
        return float("nan")
    with tempfile.TemporaryDirectory() as tmp:
        log = os.path.join(tmp, "trace")
        out = subprocess.run(
            [strace, "-f", "-o", log, sys.executable, os.path.abspath(__file__), "--child",
             "--tree", tree, "--case", case, "--mode", "syscalls"],
            capture_output=True, text=True, check=True, cwd="/")
        messages = json.loads(out.stdout.strip().splitlines()[-1])["messages"]
        counting, count = False, 0
        with open(log) as trace:
            for line in trace:
                if "MARK-START" in line:
                    counting = True
                    continue
                if "MARK-END" in line:
                    break
                if counting and re.match(r"^\d+\s+\w+\(", line):
                    count += 1
        return count / messages


def measure(tree: str, case: str) -> tuple[float, float]:
    out = subprocess.run(
        [sys.executable, os.path.abspath(__file__), "--child", "--tree", tree, "--case", case,
         "--mode", "calls"], capture_output=True, text=True, check=True, cwd="/")
    calls = json.loads(out.stdout.strip().splitlines()[-1])["calls"]
    return calls, syscalls(tree, case)


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--compare", nargs=2, metavar=("DIR_A", "DIR_B"))
    parser.add_argument("--cases", default=",".join(CASES))
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--tree", default=os.path.dirname(HERE), help=argparse.SUPPRESS)
    parser.add_argument("--case", help=argparse.SUPPRESS)
    parser.add_argument("--mode", default="calls", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.tree, args.case, args.mode)))
        return 0
    trees = [os.path.abspath(t) for t in (args.compare or [args.tree])]
    for index, tree in enumerate(trees):
        print(f"{'AB'[index]} = {tree}" if args.compare else f"tree = {tree}")
    header = f"{'case':22}" + "".join(f"  {'AB'[i] if args.compare else ''}calls/msg  "
                                        f"{'AB'[i] if args.compare else ''}syscalls/msg"
                                        for i in range(len(trees)))
    print(header)
    for case in args.cases.split(","):
        row = f"{case:22}"
        for tree in trees:
            calls, sys_per_msg = measure(tree, case)
            row += f"  {calls:10.1f}  {sys_per_msg:12.2f}"
        print(row, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
