"""``python -m gzmq``: ZeroMQ from the shell, on gzmq.

Sub-commands (``python -m gzmq <command> --help`` for each):

  keygen               a CURVE key pair (as ``python -m gzmq.curve_keygen``), or certificate
                       files for gzmq.auth / pyzmq's zmq.auth with ``--cert-dir``
  pub, push, req       send the lines read from stdin (req prints each reply)
  sub, pull            print the messages that arrive, one per line
  rep                  print each request and answer it with the next stdin line (echo it
                       once stdin is exhausted, or always with ``--echo``)
  monitor ENDPOINT     connect a probe socket to ENDPOINT and print its monitor events live
  bench                throughput and latency (the perf/ tools when present, else built in)
  run PROGRAM          run a pyzmq / zmq.green program on gzmq (``python -m gzmq.run``)

Exit status: 0 done (count reached, stdin ended, or interrupted by ``--count``-less EOF),
1 a ZeroMQ or I/O error, 2 bad usage, 3 ``--timeout`` expired before the work was done,
130 interrupted (Ctrl-C).
"""

from __future__ import annotations

import argparse
import sys
from typing import Optional, Sequence

__all__ = ["main", "build_parser", "EXIT_OK", "EXIT_ERROR", "EXIT_USAGE", "EXIT_TIMEOUT",
           "EXIT_INTERRUPTED"]

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_TIMEOUT = 3
EXIT_INTERRUPTED = 130


def build_parser() -> argparse.ArgumentParser:
    from . import bench, keygen, monitor, sockets
    parser = argparse.ArgumentParser(
        prog="python -m gzmq",
        description="ZeroMQ from the command line, on gzmq (pure Python, gevent).",
        epilog="Exit status: 0 done, 1 ZeroMQ/I-O error, 2 usage, 3 timed out, "
               "130 interrupted.")
    from .. import __gzmq_version__
    parser.add_argument("--version", action="version", version=f"gzmq {__gzmq_version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True
    keygen.add_parser(commands)
    sockets.add_parsers(commands)
    monitor.add_parser(commands)
    bench.add_parser(commands)
    run = commands.add_parser(
        "run", help="run a pyzmq / zmq.green program on gzmq (python -m gzmq.run)",
        description="Same as python -m gzmq.run: " + "see python -m gzmq.run --help.",
        add_help=False)
    run.add_argument("arguments", nargs=argparse.REMAINDER)
    run.set_defaults(handler=_run_program)
    return parser


def _run_program(args: argparse.Namespace) -> int:
    from ..run import main as run_main
    return run_main(args.arguments or ["--help"])


def main(argv: Optional[Sequence[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["run"]:  # everything after "run" belongs to the program
        from ..run import main as run_main
        return run_main(argv[1:])
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
