"""``python -m gzmq monitor ENDPOINT``: print a probe socket's monitor events as they happen.

A socket of ``--type`` (default DEALER, which handshakes with ROUTER, DEALER, REP and REQ
peers) connects to ENDPOINT (or binds it, with ``--bind``), with the same security options
as the socket commands, and every monitor event is printed on one line::

    0.003 CONNECT_DELAYED value=115 endpoint=tcp://127.0.0.1:5555
    0.004 CONNECTED value=7 endpoint=tcp://127.0.0.1:5555
    0.006 HANDSHAKE_SUCCEEDED value=0 endpoint=tcp://127.0.0.1:5555

(seconds since the start, event name, value, endpoint). It runs until ``--count`` events
have been printed, ``--timeout`` seconds pass without one (exit 3), or Ctrl-C.

Every ``--stats-interval`` seconds (default 1; ``--no-stats`` for none) the probe's
statistics (``Socket.stats()``) go to stderr, and once more at the end::

    1.004 STATS peers=1 handshaking=0 failed=0 msgs in=0 out=0 bytes in=0 out=0 queued in=0 out=0 dropped=0

On a terminal that line is redrawn in place; otherwise it is one line per interval. stdout
keeps the events only, so it can be piped or saved as it is.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any, Optional

from . import EXIT_ERROR, EXIT_OK, EXIT_TIMEOUT


def add_parser(commands: Any) -> None:
    from .sockets import add_common_arguments
    parser = commands.add_parser(
        "monitor", help="connect a probe socket to ENDPOINT and print its monitor events",
        description=(__doc__ or "").split("\n\n", 1)[1])
    parser.add_argument("endpoint", help="where to connect the probe (or bind, with --bind)")
    parser.add_argument("--type", default="DEALER", type=str.upper,
                        help="the probe's socket type (default: DEALER)")
    parser.add_argument("--bind", dest="bind_probe", action="store_true",
                        help="bind ENDPOINT instead of connecting to it")
    parser.add_argument("--events", default="ALL",
                        help="which events: ALL, or names joined by commas "
                             "(e.g. CONNECTED,DISCONNECTED,HANDSHAKE_SUCCEEDED)")
    parser.add_argument("--stats-interval", type=float, default=1.0, metavar="SECONDS",
                        help="print the probe's statistics on stderr this often (default 1)")
    parser.add_argument("--no-stats", dest="stats", action="store_false",
                        help="print no statistics")
    add_common_arguments(parser, endpoints=False)
    parser.set_defaults(handler=run, command_name="monitor")


def _event_mask(spec: str) -> int:
    import gzmq
    if spec.upper() == "ALL":
        return int(gzmq.Event.ALL)
    mask = 0
    for name in spec.split(","):
        mask |= int(gzmq.Event[name.strip().upper().removeprefix("EVENT_")])
    return mask


def run(args: argparse.Namespace) -> int:
    import gzmq
    from .sockets import _Timeout, configure_security

    def report(message: str) -> None:
        print(f"gzmq monitor: {message}", file=sys.stderr, flush=True)

    try:
        socket_type = getattr(gzmq.SocketType, args.type)
        mask = _event_mask(args.events)
    except (AttributeError, KeyError) as e:
        print(f"python -m gzmq monitor: unknown socket type or event: {e}", file=sys.stderr)
        return 2
    ctx = gzmq.Context()
    authenticator = None
    try:
        probe = ctx.socket(socket_type)
        probe.linger = 0
        authenticator = configure_security(ctx, probe, args)
        events = probe.get_monitor_socket(mask)
        start = time.monotonic()
        (probe.bind if args.bind_probe else probe.connect)(args.endpoint)
        line = StatsLine(probe, start, args.stats_interval if args.stats else None)
        printed = 0
        try:
            while args.count is None or printed < args.count:
                frames = _recv_showing_stats(events, args.timeout, line)
                event = recv_monitor_message_from(frames)
                name = getattr(event["event"], "name", None) or str(event["event"])
                endpoint = event["endpoint"].decode("utf-8", "backslashreplace")
                line.clear()
                print(f"{time.monotonic() - start:.3f} {name} value={event['value']} "
                      f"endpoint={endpoint}", flush=True)
                line.redraw()
                printed += 1
        finally:
            line.finish()
        return EXIT_OK
    except _Timeout:
        report(f"no event for {args.timeout} s")
        return EXIT_TIMEOUT
    except (gzmq.ZMQError, ValueError, OSError) as e:
        report(f"error: {e}")
        return EXIT_ERROR
    finally:
        if authenticator is not None:
            authenticator.stop()
        ctx.destroy(linger=0)


class StatsLine:
    """The probe's statistics on stderr every ``interval`` seconds (None: never): redrawn in
    place on a terminal, one line each time otherwise, and a last one at the end."""

    def __init__(self, probe: Any, start: float, interval: Optional[float]) -> None:
        self.probe = probe
        self.start = start
        self.interval = interval if interval is None or interval > 0 else None
        self.due = time.monotonic() + (self.interval or 0)
        self.tty = sys.stderr.isatty()
        self.shown = ""  # what a terminal shows now (to clear before an event)

    def seconds_left(self) -> Optional[float]:
        return None if self.interval is None else max(0.0, self.due - time.monotonic())

    def show(self) -> None:
        """Print the line now and schedule the next one."""
        if self.interval is None:
            return
        from ..stats import format_stats
        text = f"{time.monotonic() - self.start:.3f} STATS {format_stats(self.probe.stats())}"
        if self.tty:
            sys.stderr.write("\r\x1b[K" + text)
            self.shown = text
        else:
            sys.stderr.write(text + "\n")
        sys.stderr.flush()
        self.due = time.monotonic() + self.interval

    def clear(self) -> None:
        """Make way for an event line on the same terminal."""
        if self.shown:
            sys.stderr.write("\r\x1b[K")
            sys.stderr.flush()

    def redraw(self) -> None:
        if self.shown:
            sys.stderr.write(self.shown)
            sys.stderr.flush()

    def finish(self) -> None:
        """The last line, kept on a terminal too."""
        if self.interval is None or self.probe.closed:
            return
        self.show()
        if self.tty:
            sys.stderr.write("\n")
            sys.stderr.flush()
            self.shown = ""


def _recv_showing_stats(events: Any, timeout: Optional[float], line: StatsLine) -> list[bytes]:
    """The next event's frames; the stats line is shown whenever it is due meanwhile. Raise
    ``_Timeout`` after ``timeout`` seconds without an event."""
    from .sockets import _Timeout
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        waits = [w for w in (line.seconds_left(),
                             None if deadline is None else deadline - time.monotonic())
                 if w is not None]
        wait = min(waits) if waits else None
        if events.poll(None if wait is None else max(0, int(wait * 1000))):
            frames: list[bytes] = events.recv_multipart()
            return frames
        if deadline is not None and time.monotonic() >= deadline:
            raise _Timeout()
        if line.seconds_left() == 0:
            line.show()


def recv_monitor_message_from(frames: list[bytes]) -> dict[str, Any]:
    from ..utils.monitor import parse_monitor_message
    return parse_monitor_message(frames)
