"""``python -m gzmq.log URL``: print what a PUBHandler publishes, one record per line.

It subscribes to ``--topic`` (default '': everything) at the PUB socket's URL and prints
``<topic><separator><message>`` for each record, until interrupted (Ctrl-C exits 0), or until
``--count`` records have been printed (a gzmq addition, handy in scripts). The options are
pyzmq's log watcher's (``python -m zmq.log``). A handler with a ``root_topic`` publishes every
topic under it, so subscribe to that root (or a prefix of it) with ``--topic``.
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from typing import Optional, Sequence

_COLOR_NAMES = {"DEBUG": "LIGHTCYAN_EX", "INFO": "LIGHTWHITE_EX", "WARNING": "YELLOW",
                "ERROR": "LIGHTRED_EX", "CRITICAL": "LIGHTRED_EX"}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m gzmq.log",
        description="Print the log records a gzmq (or pyzmq) PUBHandler publishes.")
    parser.add_argument("zmq_pub_url", help="URL of the PUBHandler's socket, e.g. "
                        "tcp://127.0.0.1:5555")
    parser.add_argument("-t", "--topic", default="",
                        help="only records whose topic starts with this (default: all)")
    parser.add_argument("--timestamp", action="store_true",
                        help="start each line with the local time")
    parser.add_argument("--separator", default=" | ",
                        help="printed between topic and message (default: ' | ')")
    parser.add_argument("--dateformat", default="%Y-%d-%m %H:%M",
                        help="strftime format for --timestamp (pyzmq's default)")
    parser.add_argument("--align", action="store_true",
                        help="pad each part of the topic to the widest seen so far")
    parser.add_argument("--color", action="store_true",
                        help="color lines by level (needs the colorama package)")
    parser.add_argument("--count", type=int, default=None, metavar="N",
                        help="exit after N records (default: run until interrupted)")
    return parser


def _colors(enabled: bool) -> dict[str, str]:
    if not enabled:
        return {}
    try:
        import colorama
    except ImportError:
        raise SystemExit("--color needs the colorama package (pip install colorama)") from None
    colorama.init()
    colors = {level: getattr(colorama.Fore, name) for level, name in _COLOR_NAMES.items()}
    colors["__RESET__"] = colorama.Fore.RESET
    return colors


class _Aligner:
    """Pads topic parts to the widest part seen at each position."""

    def __init__(self) -> None:
        self.widths: list[int] = []

    def __call__(self, parts: list[str]) -> str:
        parts = parts + [" "] * (len(self.widths) - len(parts))
        for index, part in enumerate(parts):
            if index == len(self.widths):
                self.widths.append(0)
            self.widths[index] = max(self.widths[index], len(part))
        return ".".join(part.ljust(self.widths[i]) for i, part in enumerate(parts))


def format_record(topic: bytes, message: bytes, opts: argparse.Namespace,
                  colors: dict[str, str], align: Optional[_Aligner] = None) -> str:
    text_topic = topic.decode("utf8", "replace").strip()
    parts = text_topic.split(".")
    # the level is the first part without a root topic, the second with one
    level = parts[0] if len(parts) == 1 else parts[1]
    shown = align(parts) if align is not None else text_topic
    stamp = datetime.now().strftime(opts.dateformat) + " " if opts.timestamp else ""
    body = message.decode("utf8", "replace").strip()
    return (f"{stamp}{colors.get(level, '')}{shown}{opts.separator}{body}"
            f"{colors.get('__RESET__', '')}")


def main(argv: Optional[Sequence[str]] = None) -> int:
    opts = build_parser().parse_args(argv)
    colors = _colors(opts.color)
    import gzmq
    context = gzmq.Context()
    sub = context.socket(gzmq.SUB)
    sub.linger = 0
    sub.subscribe(opts.topic.encode("utf8"))
    try:
        sub.connect(opts.zmq_pub_url)
    except gzmq.ZMQError as e:
        print(f"python -m gzmq.log: cannot connect to {opts.zmq_pub_url}: {e}", file=sys.stderr)
        return 2
    align = _Aligner() if opts.align else None
    printed = 0
    try:
        while opts.count is None or printed < opts.count:
            frames = sub.recv_multipart()
            if len(frames) != 2:
                continue  # not a PUBHandler record
            print(format_record(frames[0], frames[1], opts, colors, align), flush=True)
            printed += 1
    except KeyboardInterrupt:
        pass
    finally:
        if colors:
            print(colors["__RESET__"], end="")
        context.destroy(linger=0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
