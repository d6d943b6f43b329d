"""``python -m gzmq monitor ENDPOINT``: print a probe socket's monitor events as they happen.

A socket of ``--type`` (default DEALER, which handshakes with ROUTER, DEALER, REP and REQ
peers) connects to ENDPOINT (or binds it, with ``--bind``), with the same security options
as the socket commands, and every monitor event is printed on one line::

    0.003 CONNECT_DELAYED value=115 endpoint=tcp://127.0.0.1:5555
    0.004 CONNECTED value=7 endpoint=tcp://127.0.0.1:5555
    0.006 HANDSHAKE_SUCCEEDED value=0 endpoint=tcp://127.0.0.1:5555

(seconds since the start, event name, value, endpoint). It runs until ``--count`` events
have been printed, ``--timeout`` seconds pass without one (exit 3), or Ctrl-C.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

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
    from .sockets import _recv, _Timeout, configure_security

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
        printed = 0
        while args.count is None or printed < args.count:
            frames = _recv(events, args.timeout)
            event = recv_monitor_message_from(frames)
            name = getattr(event["event"], "name", None) or str(event["event"])
            endpoint = event["endpoint"].decode("utf-8", "backslashreplace")
            print(f"{time.monotonic() - start:.3f} {name} value={event['value']} "
                  f"endpoint={endpoint}", flush=True)
            printed += 1
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


def recv_monitor_message_from(frames: list[bytes]) -> dict[str, Any]:
    from ..utils.monitor import parse_monitor_message
    return parse_monitor_message(frames)
