"""``python -m gzmq bench``: a quick throughput (PUSH/PULL) and latency (REQ/REP) run.

From a checkout, where the perf/ tools sit beside the gzmq package, it runs them (the same
tools ``perf/compare.py`` uses; with ``--transport tcp`` the two ends are two processes).
Otherwise, or with ``--builtin``, it runs a small built-in version in this process: both ends
are greenlets, over inproc or tcp://127.0.0.1.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from typing import Any, Optional

from . import EXIT_ERROR, EXIT_OK


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "bench", help="throughput and latency, with the perf/ tools or built in",
        description=(__doc__ or "").split("\n\n", 1)[1])
    parser.add_argument("--transport", choices=("inproc", "tcp"), default="inproc")
    parser.add_argument("--size", type=int, default=64, metavar="BYTES",
                        help="message size (default: 64)")
    parser.add_argument("--count", type=int, default=20000, metavar="N",
                        help="messages for throughput, a tenth as many round trips for "
                             "latency (default: 20000)")
    parser.add_argument("--which", choices=("thr", "lat", "all"), default="all",
                        help="throughput, latency or both (default)")
    parser.add_argument("--builtin", action="store_true",
                        help="use the built-in benchmark even if perf/ is there")
    parser.add_argument("--max-duration", type=float, default=60.0, metavar="SECONDS",
                        help="stop a run that takes longer than this (default: 60)")
    parser.set_defaults(handler=run)


def perf_directory() -> Optional[str]:
    """perf/ beside the gzmq package (a checkout), if its tools are there."""
    import gzmq
    candidate = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(gzmq.__file__))),
                             "perf")
    tools = ("impl.py", "local_thr.py", "remote_thr.py", "local_lat.py", "remote_lat.py")
    if all(os.path.isfile(os.path.join(candidate, tool)) for tool in tools):
        return candidate
    return None


def run(args: argparse.Namespace) -> int:
    if args.size < 1 or args.count < 1:
        print("python -m gzmq bench: --size and --count must be >= 1", file=sys.stderr)
        return 2
    perf = None if args.builtin else perf_directory()
    kinds = ("thr", "lat") if args.which == "all" else (args.which,)
    status = EXIT_OK
    for kind in kinds:
        count = args.count if kind == "thr" else max(1, args.count // 10)
        if perf is not None:
            print(f"== {kind} (perf/local_{kind}.py, {args.transport}) ==", flush=True)
            ok = _run_perf_tool(perf, kind, args.transport, args.size, count,
                                args.max_duration)
        else:
            print(f"== {kind} (built in, {args.transport}) ==", flush=True)
            ok = _run_builtin(kind, args.transport, args.size, count, args.max_duration)
        status = status if ok else EXIT_ERROR
    return status


def _run_perf_tool(perf: str, kind: str, transport: str, size: int, count: int,
                   max_duration: float) -> bool:
    env = dict(os.environ)
    package_parent = os.path.dirname(perf)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_parent, env.get("PYTHONPATH"))
                                        if p)
    common = [str(size), str(count), "--impl", "gzmq", "--max-duration", str(max_duration)]
    if transport == "inproc":
        cmds = [[sys.executable, os.path.join(perf, f"local_{kind}.py"),
                 f"inproc://gzmq-bench-{kind}", *common]]
    else:
        from ..ssh.tunnel import select_random_ports
        endpoint = f"tcp://127.0.0.1:{select_random_ports(1)[0]}"
        cmds = [[sys.executable, os.path.join(perf, f"{side}_{kind}.py"), endpoint, *common]
                for side in ("local", "remote")]
    procs = []
    for cmd in cmds:
        procs.append(subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE,
                                      stderr=subprocess.STDOUT, text=True))
        if len(cmds) > 1 and len(procs) == 1:
            time.sleep(0.3)  # let the binding end start listening
    ok = True
    for proc in procs:
        try:
            out, _ = proc.communicate(timeout=max_duration + 10)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate()
            ok = False
        sys.stdout.write(out)
        ok = ok and proc.returncode == 0
    sys.stdout.flush()
    return ok


def _run_builtin(kind: str, transport: str, size: int, count: int,
                 max_duration: float) -> bool:
    import gevent
    import gzmq
    ctx = gzmq.Context()
    try:
        with gevent.Timeout(max_duration, False):
            if kind == "thr":
                _throughput(ctx, transport, size, count)
            else:
                _latency(ctx, transport, size, count)
            return True
        print(f"stopped after {max_duration} s", flush=True)
        return False
    finally:
        ctx.destroy(linger=0)


def _pair(ctx: Any, transport: str, bind_type: int, connect_type: int) -> tuple[Any, Any]:
    bound, connected = ctx.socket(bind_type), ctx.socket(connect_type)
    if transport == "inproc":
        bound.bind(f"inproc://gzmq-bench-{id(bound)}")
    else:
        bound.bind("tcp://127.0.0.1:*")
    connected.connect(bound.last_endpoint.decode())
    return bound, connected


def _throughput(ctx: Any, transport: str, size: int, count: int) -> None:
    import gevent
    import gzmq
    pull, push = _pair(ctx, transport, gzmq.PULL, gzmq.PUSH)
    payload = b"x" * size

    def send() -> None:
        for _ in range(count):
            push.send(payload)

    sender = gevent.spawn(send)
    pull.recv()
    start = time.perf_counter()
    for _ in range(count - 1):
        pull.recv()
    elapsed = max(time.perf_counter() - start, 1e-9)
    sender.join()
    rate = (count - 1) / elapsed if count > 1 else 0.0
    print(f"message size: {size} [B]\nmessage count: {count}\n"
          f"mean throughput: {rate:.0f} [msg/s]\n"
          f"mean throughput: {rate * size * 8 / 1e6:.3f} [Mb/s]", flush=True)


def _latency(ctx: Any, transport: str, size: int, count: int) -> None:
    import gevent
    import gzmq
    rep, req = _pair(ctx, transport, gzmq.REP, gzmq.REQ)
    payload = b"x" * size

    def echo() -> None:
        for _ in range(count):
            rep.send(rep.recv())

    echoer = gevent.spawn(echo)
    samples = []
    for _ in range(count):
        start = time.perf_counter()
        req.send(payload)
        req.recv()
        samples.append(time.perf_counter() - start)
    echoer.join()
    samples.sort()
    mean = sum(samples) / len(samples)
    p50 = samples[len(samples) // 2]
    p99 = samples[min(len(samples) - 1, int(len(samples) * 0.99))]
    print(f"message size: {size} [B]\nroundtrip count: {count}\n"
          f"average latency: {mean / 2 * 1e6:.3f} [us] (half a round trip)\n"
          f"round trip p50: {p50 * 1e6:.1f} [us], p99: {p99 * 1e6:.1f} [us]", flush=True)
