"""Shared plumbing of the perf tools: pick the ZeroMQ implementation, parse the
common command line, bound the run, print results.

Implementations (``--impl``):

- ``gzmq``  -- ``import gzmq as zmq`` inside gevent (this repository's checkout is put first on
  ``sys.path``, so the tools always measure the code they ship with);
- ``pyzmq`` -- plain blocking pyzmq (libzmq);
- ``green`` -- pyzmq's ``zmq.green`` inside gevent.

All three are driven through the same pyzmq API, so every tool has one code path.

Protocol shared by all tools (local = binds, remote = connects):

- payload messages are ``message-size`` bytes (size >= 1);
- a sender that stops before ``message-count`` (because of ``--duration``) sends one empty
  message, "end of test"; receivers stop at ``message-count`` messages or at that empty message;
- ``--max-duration`` is a hard bound: a watchdog thread ends the process (exit 3) when it
  expires, whatever the implementation is doing;
- ``--curve``: fixed CURVE test keys on both ends, the binding (receiving) end is the server.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time

IMPLS = ('gzmq', 'pyzmq', 'green')

_REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Published test keys (Z85), for benchmarks only: never use them for anything else.
CURVE_SERVER_PUBLIC = b'-DpeEuCHq6+[KeXDdF7wGpbEPbx?yX{^WxLGV$uh'
CURVE_SERVER_SECRET = b'5EeHnc2dWtuM04<%bw91B8D1:rmqnC?*+p=(yb$]'
CURVE_CLIENT_PUBLIC = b'nT.(}kogqO/$f/sMsIe^OCEKffIEE)>>*?Yyj%?N'
CURVE_CLIENT_SECRET = b'BhR6Pwev.q@eI-LL}MCkUXNY%g#<cST#Sgd*GWP@'


class Impl:
    """The chosen implementation: ``zmq`` module, ``gevent`` (or None), helpers."""

    def __init__(self, name: str) -> None:
        if name not in IMPLS:
            raise SystemExit('unknown --impl %r (choose from %s)' % (name, ', '.join(IMPLS)))
        self.name = name
        self.gevent = None
        if name == 'pyzmq':
            import zmq
            self.version = 'pyzmq %s (libzmq %s)' % (zmq.pyzmq_version(), zmq.zmq_version())
        else:
            import gevent
            self.gevent = gevent
            if name == 'green':
                import zmq.green as zmq
                self.version = 'zmq.green %s (libzmq %s) gevent %s' % (
                    zmq.pyzmq_version(), zmq.zmq_version(), gevent.__version__)
            else:
                if os.path.isfile(os.path.join(_REPO, 'gzmq', '__init__.py')) \
                        and _REPO not in sys.path:
                    sys.path.insert(0, _REPO)
                import gzmq as zmq
                self.version = 'gzmq %s gevent %s' % (
                    getattr(zmq, '__version__', '?'), gevent.__version__)
        self.zmq = zmq

    def sleep(self, seconds: float) -> None:
        (self.gevent.sleep if self.gevent else time.sleep)(seconds)

    def socket(self, ctx, kind: str, curve: bool = False, server: bool = False):
        s = ctx.socket(getattr(self.zmq, kind))
        if curve:
            if server:
                s.curve_secretkey = CURVE_SERVER_SECRET
                s.curve_publickey = CURVE_SERVER_PUBLIC
                s.curve_server = True
            else:
                s.curve_serverkey = CURVE_SERVER_PUBLIC
                s.curve_secretkey = CURVE_CLIENT_SECRET
                s.curve_publickey = CURVE_CLIENT_PUBLIC
        return s

    def run_pair(self, main, other):
        """inproc: run ``other()`` beside ``main()`` in this process (pyzmq: a second thread;
        gzmq / green: a second greenlet). Returns ``(main(), other())``."""
        if self.gevent:
            g = self.gevent.spawn(other)
            try:
                mine = main()
            except BaseException:
                g.kill()
                raise
            g.join()
            if not g.successful():
                raise g.exception
            return mine, g.value
        box = {}

        def run():
            try:
                box['value'] = other()
            except BaseException as e:  # re-raised in the caller
                box['error'] = e
        t = threading.Thread(target=run, name='perf-peer', daemon=True)
        t.start()
        mine = main()
        t.join()
        if 'error' in box:
            raise box['error']
        return mine, box['value']


def parser(description: str, count_name: str = 'message-count',
           impls: tuple = IMPLS) -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument('endpoint')
    ap.add_argument('message_size', metavar='message-size', type=int)
    ap.add_argument('count', metavar=count_name, type=int)
    ap.add_argument('--impl', default=impls[0], choices=impls,
                    help='ZeroMQ implementation (default: %s)' % impls[0])
    ap.add_argument('--curve', action='store_true',
                    help='CURVE on both ends (fixed test keys); the binding end is the server')
    ap.add_argument('--duration', type=float, default=None, metavar='S',
                    help='sending side: stop after S seconds even if the count is not reached '
                         '(then an empty end-of-test message tells the peer)')
    ap.add_argument('--max-duration', type=float, default=60.0, metavar='S',
                    help='hard bound: exit with status 3 after S seconds (default 60)')
    ap.add_argument('--json', action='store_true',
                    help='print one JSON result line instead of text (local tools first print '
                         'a {"ready": ...} line once bound)')
    return ap


def check_args(ap: argparse.ArgumentParser, args) -> None:
    if args.message_size < 1:
        ap.error('message-size must be >= 1 (the empty message means end of test)')
    if args.count < 1:
        ap.error('the count must be >= 1')


def transport(endpoint: str) -> str:
    return endpoint.split('://', 1)[0]


def watchdog(seconds: float, tool: str) -> threading.Timer:
    """End the process after ``seconds`` whatever the event loop or libzmq is doing."""
    def expire():
        sys.stderr.write('%s: gave up after --max-duration %.0f s\n' % (tool, seconds))
        sys.stderr.flush()
        os._exit(3)
    t = threading.Timer(seconds, expire)
    t.daemon = True
    t.start()
    return t


def ready(args, sock, sync=None) -> None:
    """Local tools: announce the bound endpoint(s) (needed when binding to a wildcard port)."""
    ep = sock.last_endpoint
    ep = ep.decode() if isinstance(ep, bytes) else ep
    s = sync.last_endpoint if sync is not None else None
    s = s.decode() if isinstance(s, bytes) else s
    if args.json:
        print(json.dumps({'ready': ep, 'sync': s}), flush=True)
    elif ep != args.endpoint:
        print('bound to %s%s' % (ep, ' (sync %s)' % s if s else ''), file=sys.stderr, flush=True)


def emit(args, result: dict, lines) -> None:
    if args.json:
        print(json.dumps(result, sort_keys=True), flush=True)
    else:
        print('\n'.join(lines), flush=True)


def fail(args, tool: str, message: str, code: int = 2):
    if args.json:
        print(json.dumps({'tool': tool, 'error': message}), flush=True)
    sys.stderr.write('%s: %s\n' % (tool, message))
    sys.exit(code)


# -- for the drivers that run a benchmark's processes (fanout.py, router_peers.py) --

def readline(proc, timeout: float) -> str:
    """A line of ``proc``'s stdout, stripped, or '' if none came within ``timeout`` s."""
    import select
    r, _, _ = select.select([proc.stdout], [], [], timeout)
    return proc.stdout.readline().strip() if r else ''


def stderr_tail(proc) -> str:
    """The last line ``proc`` wrote on stderr (it is killed first if still running)."""
    import subprocess
    if proc.poll() is None:
        proc.kill()
    try:
        err = proc.communicate(timeout=5)[1]
    except (subprocess.TimeoutExpired, ValueError):
        err = ''
    return (err.strip().splitlines() or ['no output'])[-1][:300]


def json_line(proc, timeout: float, what: str) -> dict:
    """The next stdout line of ``proc`` as JSON; RuntimeError (with its stderr) otherwise."""
    line = readline(proc, timeout)
    if not line.startswith('{'):
        raise RuntimeError('%s failed: %s' % (what, line or stderr_tail(proc)))
    return json.loads(line)


class Measurement:
    """``with Measurement(rec) as procs:`` -- the processes of one run: any that is left is
    killed at the end, and a failure becomes ``rec['error']`` instead of an exception."""

    def __init__(self, rec: dict) -> None:
        self.rec, self.procs = rec, []

    def __enter__(self) -> list:
        return self.procs

    def __exit__(self, kind, error, tb) -> bool:
        for p in self.procs:
            if p.poll() is None:
                p.kill()
            p.wait()
        if error is not None and isinstance(error, (RuntimeError, OSError, ValueError)):
            self.rec['error'] = str(error)[:300]
            return True
        return False
