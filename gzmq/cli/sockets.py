"""``python -m gzmq pub|sub|push|pull|req|rep``: move lines between stdin/stdout and sockets.

A line read from stdin is one message (``--separator SEP`` splits it into frames); a message
received is printed on one line, frames joined by ``--separator`` (default: a tab). Text is
UTF-8; bytes that are not are printed with backslash escapes.

Each socket binds (``--bind``) and/or connects (``--connect``), both repeatable; binding to
``tcp://host:*`` picks a free port. Every endpoint bound is reported on stderr as
``gzmq <command>: bound <endpoint>`` as soon as it is, so scripts can find the port.

Security (set before binding or connecting):
- CURVE client: ``--curve-server-key`` (the server's public key) and this end's key pair,
  from ``--curve-public-key``/``--curve-secret-key`` or a secret certificate
  ``--curve-cert FILE`` (a fresh pair is made if none is given);
- CURVE server: this end's key pair without ``--curve-server-key`` (or ``--curve-server``);
  ``--curve-clients DIR`` then admits only the public keys of the certificates in DIR;
- PLAIN client: ``--plain-username`` and ``--plain-password``; PLAIN server: ``--plain-server``
  (with a username and password, only those are admitted).

Stdin is read in a helper thread, so the hub (and every connection) keeps running while a
command waits for input.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any, Callable, Optional

from . import EXIT_ERROR, EXIT_OK, EXIT_TIMEOUT

#: socket type per command (pub becomes an XPUB with --wait-subscribers)
COMMANDS = {
    "pub": ("PUB", "publish each stdin line"),
    "sub": ("SUB", "print what a publisher sends (--subscribe to filter)"),
    "push": ("PUSH", "push each stdin line to the pullers"),
    "pull": ("PULL", "print what pushers send"),
    "req": ("REQ", "send each stdin line as a request and print the reply"),
    "rep": ("REP", "print each request; reply with the next stdin line (or echo it)"),
}


class _Timeout(Exception):
    pass


def add_common_arguments(parser: argparse.ArgumentParser, endpoints: bool = True) -> None:
    if endpoints:
        _add_endpoint_arguments(parser)
    _add_security_arguments(parser)
    other = parser.add_argument_group("messages and limits")
    other.add_argument("--count", "-n", type=int, default=None, metavar="N",
                       help="stop after N messages (default: until stdin ends / forever)")
    other.add_argument("--timeout", "-t", type=float, default=None, metavar="SECONDS",
                       help="give up (exit 3) after SECONDS without progress")
    if not endpoints:
        return
    other.add_argument("--separator", default=None, metavar="SEP",
                       help="frames separator: splits input lines into frames; joins "
                            "received frames (default: tab, and no splitting)")
    other.add_argument("--linger", type=int, default=None, metavar="MS",
                       help="LINGER for queued messages at exit (default: gzmq's: deliver "
                            "them, giving up on unreachable or stalled peers)")
    other.add_argument("--identity", metavar="ID", help="ROUTING_ID of the socket")


def _add_endpoint_arguments(parser: argparse.ArgumentParser) -> None:
    where = parser.add_argument_group("endpoints (at least one)")
    where.add_argument("--bind", "-b", action="append", default=[], metavar="ENDPOINT",
                       help="bind to ENDPOINT (repeatable); tcp://host:* picks a port")
    where.add_argument("--connect", "-c", action="append", default=[], metavar="ENDPOINT",
                       help="connect to ENDPOINT (repeatable)")


def _add_security_arguments(parser: argparse.ArgumentParser) -> None:
    curve = parser.add_argument_group(
        "CURVE security", "Z85 keys may begin with '-': give them as --curve-...-key=KEY")
    curve.add_argument("--curve-server-key", metavar="Z85",
                       help="the server's public key: makes this a CURVE client")
    curve.add_argument("--curve-public-key", metavar="Z85", help="this end's public key")
    curve.add_argument("--curve-secret-key", metavar="Z85", help="this end's secret key")
    curve.add_argument("--curve-cert", metavar="FILE",
                       help="this end's key pair from a secret certificate (NAME.key_secret)")
    curve.add_argument("--curve-server", action="store_true",
                       help="be a CURVE server (implied by a key pair without a server key)")
    curve.add_argument("--curve-clients", metavar="DIR",
                       help="server: admit only the public keys of the *.key certificates "
                            "in DIR")
    plain = parser.add_argument_group("PLAIN security")
    plain.add_argument("--plain-username", metavar="NAME")
    plain.add_argument("--plain-password", metavar="PASSWORD")
    plain.add_argument("--plain-server", action="store_true",
                       help="be a PLAIN server (with a username/password: require them)")


def add_parsers(commands: Any) -> None:
    for name, (socket_type, summary) in COMMANDS.items():
        parser = commands.add_parser(
            name, help=summary,
            description=f"A {socket_type} socket: {summary}. " + _DESCRIPTION)
        add_common_arguments(parser)
        if name == "sub":
            parser.add_argument("--subscribe", "-s", action="append", default=None,
                                metavar="TOPIC",
                                help="subscribe to TOPIC (repeatable; default: everything)")
        if name == "pub":
            parser.add_argument("--wait-subscribers", type=int, default=0, metavar="N",
                                help="wait until N subscriptions have arrived before "
                                     "sending (uses an XPUB socket)")
            parser.add_argument("--delay", type=float, default=0.0, metavar="SECONDS",
                                help="wait this long before the first message")
        if name == "rep":
            parser.add_argument("--echo", action="store_true",
                                help="reply with the request itself, ignoring stdin")
        parser.set_defaults(handler=run, command_name=name)


_DESCRIPTION = ("Lines from stdin are messages; received messages are printed one per line. "
                "Exit status: 0 done, 1 error, 2 usage, 3 timed out.")


# --- setting up ------------------------------------------------------------------------------

def _key(value: str, what: str) -> bytes:
    key = value.encode("ascii")
    if len(key) != 40:
        raise ValueError(f"{what} must be 40 Z85 characters, got {len(key)}")
    return key


def configure_security(ctx: Any, sock: Any, args: argparse.Namespace) -> Optional[Any]:
    """Set the CURVE/PLAIN options; return an Authenticator if one had to be started."""
    import gzmq
    public = secret = None
    if args.curve_cert:
        from ..auth.certs import load_certificate
        public, secret = load_certificate(args.curve_cert)
        if secret is None:
            raise ValueError(f"{args.curve_cert} has no secret key (use NAME.key_secret)")
    if args.curve_public_key:
        public = _key(args.curve_public_key, "--curve-public-key")
    if args.curve_secret_key:
        secret = _key(args.curve_secret_key, "--curve-secret-key")
        if public is None:
            public = gzmq.curve_public(secret)
    if public is not None and secret is None:
        raise ValueError("a CURVE public key needs its secret key")
    authenticator = None
    if args.curve_server_key:
        if args.curve_server:
            raise ValueError("--curve-server and --curve-server-key contradict each other")
        if public is None:
            public, secret = gzmq.curve_keypair()
        sock.curve_secretkey = secret
        sock.curve_publickey = public
        sock.curve_serverkey = _key(args.curve_server_key, "--curve-server-key")
    elif public is not None or args.curve_server:
        if public is None:
            raise ValueError("a CURVE server needs its key pair (--curve-secret-key or "
                             "--curve-cert)")
        sock.curve_secretkey = secret
        sock.curve_publickey = public
        sock.curve_server = True
        if args.curve_clients:
            from ..auth import Authenticator
            authenticator = Authenticator(ctx)
            authenticator.start()
            authenticator.configure_curve(domain="*", location=args.curve_clients)
    elif args.curve_clients:
        raise ValueError("--curve-clients is for a CURVE server")
    if args.plain_server:
        sock.plain_server = True
        if args.plain_username is not None:
            from ..auth import Authenticator
            authenticator = authenticator or Authenticator(ctx)
            authenticator.start()
            authenticator.configure_plain(
                domain="*", passwords={args.plain_username: args.plain_password or ""})
    elif args.plain_username is not None or args.plain_password is not None:
        sock.plain_username = (args.plain_username or "").encode("utf-8")
        sock.plain_password = (args.plain_password or "").encode("utf-8")
    return authenticator


def open_socket(ctx: Any, socket_type: int, args: argparse.Namespace,
                report: Callable[[str], None]) -> tuple[Any, Optional[Any]]:
    sock = ctx.socket(socket_type)
    if args.identity:
        sock.routing_id = args.identity.encode("utf-8")
    if args.linger is not None:
        sock.linger = args.linger
    if args.timeout is not None:
        sock.sndtimeo = int(args.timeout * 1000)
    authenticator = configure_security(ctx, sock, args)
    for endpoint in args.bind:
        sock.bind(endpoint)
        last = sock.last_endpoint
        report(f"bound {last.decode() if isinstance(last, bytes) else last}")
    for endpoint in args.connect:
        sock.connect(endpoint)
    return sock, authenticator


# --- stdin, stdout ---------------------------------------------------------------------------

class Lines:
    """stdin, line by line, read in the hub's thread pool (never blocking the hub)."""

    def __init__(self, stream: Any = None) -> None:
        self.stream = stream if stream is not None else sys.stdin.buffer
        self.ended = False

    def next(self) -> Optional[bytes]:
        if self.ended:
            return None
        import gevent
        line = gevent.get_hub().threadpool.apply(self.stream.readline)
        if not line:
            self.ended = True
            return None
        return line.rstrip(b"\r\n") if line.endswith(b"\n") else line


def to_frames(line: bytes, separator: Optional[str]) -> list[bytes]:
    if separator is None:
        return [line]
    return line.split(separator.encode("utf-8"))


def show(frames: list[bytes], separator: Optional[str]) -> None:
    text = (separator if separator is not None else "\t").join(
        frame.decode("utf-8", "backslashreplace") for frame in frames)
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def _recv(sock: Any, timeout: Optional[float]) -> list[bytes]:
    if timeout is not None and not sock.poll(timeout * 1000):
        raise _Timeout()
    return sock.recv_multipart()


# --- the commands ----------------------------------------------------------------------------

def run(args: argparse.Namespace) -> int:
    import gzmq
    name = args.command_name
    if not args.bind and not args.connect:
        print(f"python -m gzmq {name}: give at least one --bind or --connect endpoint",
              file=sys.stderr)
        return 2
    if args.count is not None and args.count < 0:
        print(f"python -m gzmq {name}: --count must be >= 0", file=sys.stderr)
        return 2

    def report(message: str) -> None:
        print(f"gzmq {name}: {message}", file=sys.stderr, flush=True)

    socket_type = getattr(gzmq, COMMANDS[name][0])
    if name == "pub" and args.wait_subscribers:
        socket_type = gzmq.XPUB
    ctx = gzmq.Context()
    authenticator = None
    try:
        sock, authenticator = open_socket(ctx, socket_type, args, report)
        if name == "sub":
            for topic in args.subscribe if args.subscribe is not None else [""]:
                sock.subscribe(topic.encode("utf-8"))
        return _COMMAND_BODIES[name](sock, args, report)
    except _Timeout:
        report(f"timed out after {args.timeout} s")
        return EXIT_TIMEOUT
    except gzmq.Again:
        report(f"timed out after {args.timeout} s (the peer took nothing)")
        return EXIT_TIMEOUT
    except (gzmq.ZMQError, ValueError, OSError) as e:
        report(f"error: {e}")
        return EXIT_ERROR
    finally:
        if authenticator is not None:
            authenticator.stop()
        # sockets are left to gzmq's exit delivery: queued messages still go out, LINGER
        # and unreachable or stalled peers bounding how long that takes


def _send_lines(sock: Any, args: argparse.Namespace, report: Callable[[str], None]) -> int:
    lines, sent = Lines(), 0
    while args.count is None or sent < args.count:
        line = lines.next()
        if line is None:
            break
        sock.send_multipart(to_frames(line, args.separator))
        sent += 1
    return EXIT_OK


def _pub(sock: Any, args: argparse.Namespace, report: Callable[[str], None]) -> int:
    if args.wait_subscribers:
        seen: set[bytes] = set()
        while len(seen) < args.wait_subscribers:
            event = _recv(sock, args.timeout)[0]
            if event[:1] == b"\x01":
                seen.add(event)  # one line per distinct subscription
        report(f"{len(seen)} subscription(s) arrived")
    if args.delay:
        import gevent
        gevent.sleep(args.delay)
    return _send_lines(sock, args, report)


def _receive(sock: Any, args: argparse.Namespace, report: Callable[[str], None]) -> int:
    received = 0
    while args.count is None or received < args.count:
        show(_recv(sock, args.timeout), args.separator)
        received += 1
    return EXIT_OK


def _req(sock: Any, args: argparse.Namespace, report: Callable[[str], None]) -> int:
    lines, done = Lines(), 0
    while args.count is None or done < args.count:
        line = lines.next()
        if line is None:
            break
        sock.send_multipart(to_frames(line, args.separator))
        show(_recv(sock, args.timeout), args.separator)
        done += 1
    return EXIT_OK


def _rep(sock: Any, args: argparse.Namespace, report: Callable[[str], None]) -> int:
    lines, done = Lines(), 0
    while args.count is None or done < args.count:
        request = _recv(sock, args.timeout)
        show(request, args.separator)
        answer = None if args.echo else lines.next()
        sock.send_multipart(request if answer is None else to_frames(answer, args.separator))
        done += 1
    return EXIT_OK


_COMMAND_BODIES = {"pub": _pub, "push": _send_lines, "sub": _receive, "pull": _receive,
                   "req": _req, "rep": _rep}
