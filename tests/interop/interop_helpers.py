"""Helpers for the libzmq interop suite (importable from the test modules).

GZMQ_INTEROP_IMPL selects the module under test: ``gzmq`` (default) or ``green``
(``zmq.green``, to validate the tests themselves).  zmq.green ignores RCVTIMEO, so every
wait here is bounded by gevent.Timeout.
"""
import importlib.util
import json
import os
import sys

import gevent
import gevent.subprocess
import pytest

IMPL = os.environ.get("GZMQ_INTEROP_IMPL", "gzmq")
if IMPL == "green":
    import zmq.green as zmq_impl
elif IMPL == "gzmq":
    import gzmq as zmq_impl
else:
    raise RuntimeError("GZMQ_INTEROP_IMPL must be 'gzmq' or 'green', not %r" % IMPL)

HERE = os.path.dirname(os.path.abspath(__file__))
PEER_PY = os.path.join(HERE, "peer.py")
_spec = importlib.util.spec_from_file_location("gzmq_interop_peer", PEER_PY)
peerlib = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(peerlib)

TEST_TIMEOUT = 20.0   # s, gevent.Timeout around every test call
READY_TIMEOUT = 10.0  # s, peer start-up
LINE_TIMEOUT = 10.0   # s, default bound on reading one line from a peer


class InteropTimeout(AssertionError):
    pass


def green_only_skip(reason):
    """Skip marker that applies only when validating against zmq.green."""
    return pytest.mark.skipif(IMPL == "green", reason="zmq.green limitation: " + reason)


# -- encoding helpers shared with peer.py --------------------------------------------------

enc = peerlib.enc
make_frame = peerlib.make_frame
gen_msgs = peerlib.gen_msgs
stream_digest = peerlib.stream_digest


def hexmsg(msg):
    """A message (list of bytes) as peer.py frame specs."""
    return [bytes(f).hex() for f in msg]


def encmsg(msg):
    """A message as peer.py prints it."""
    return [enc(f) for f in msg]


# -- the peer process -----------------------------------------------------------------------

class Peer:
    """One peer.py process.  Reads its stdout cooperatively (gevent.subprocess)."""

    def __init__(self, scenario, workdir):
        self.scenario = scenario
        self._errpath = os.path.join(workdir, "peer-%d.stderr" % id(self))
        self._err = open(self._errpath, "wb")
        self.proc = gevent.subprocess.Popen(
            [sys.executable, PEER_PY, json.dumps(scenario)],
            stdin=gevent.subprocess.PIPE, stdout=gevent.subprocess.PIPE, stderr=self._err)
        self.endpoint = None

    def __repr__(self):
        return "<Peer %s %s %s>" % (self.scenario["type"], "bind" if self.scenario.get("bind") else "connect",
                                   self.endpoint or self.scenario.get("endpoint"))

    def stderr(self):
        self._err.flush()
        with open(self._errpath, "rb") as f:
            return f.read().decode(errors="replace")

    def _readline(self, timeout):
        with gevent.Timeout(timeout, False):
            line = self.proc.stdout.readline()
            if not line:
                raise AssertionError("%r exited (rc=%r) without output; stderr:\n%s"
                                     % (self, self.proc.wait(timeout=2), self.stderr()))
            return line.decode().rstrip("\n")
        raise InteropTimeout("%r: no output within %ss; stderr:\n%s" % (self, timeout, self.stderr()))

    def wait_ready(self, timeout=READY_TIMEOUT):
        line = self._readline(timeout)
        assert line.startswith("READY "), "%r: expected READY, got %r; stderr:\n%s" % (self, line, self.stderr())
        self.endpoint = line.split(" ", 1)[1]
        return self.endpoint

    def line(self, timeout=LINE_TIMEOUT):
        """The next JSON line printed by the peer; fails on an error report."""
        obj = json.loads(self._readline(timeout))
        assert "error" not in obj, "%r reported %r; stderr:\n%s" % (self, obj, self.stderr())
        return obj

    def lines(self, n, timeout=LINE_TIMEOUT):
        """The next n JSON lines, all within `timeout` seconds."""
        with gevent.Timeout(timeout, InteropTimeout("%r: fewer than %d lines within %ss" % (self, n, timeout))):
            return [self.line(timeout) for _ in range(n)]

    def recv_msgs(self, n, timeout=LINE_TIMEOUT):
        """The next n messages reported by a recv/echo/req op (as encoded frame lists)."""
        return [obj["recv"] for obj in self.lines(n, timeout)]

    def close_stdin(self):
        if self.proc.stdin and not self.proc.stdin.closed:
            try:
                self.proc.stdin.close()
            except OSError:
                pass

    def result(self, timeout=LINE_TIMEOUT):
        """Close stdin (ends echo/pub/wait ops), read the remaining lines, check clean exit."""
        self.close_stdin()
        rest = []
        with gevent.Timeout(timeout, InteropTimeout("%r did not exit within %ss" % (self, timeout))):
            data = self.proc.stdout.read()
            rc = self.proc.wait()
        for line in data.decode().splitlines():
            rest.append(json.loads(line))
        assert rc == 0 and rest and rest[-1] == {"done": True}, \
            "%r: rc=%r, output %r; stderr:\n%s" % (self, rc, rest, self.stderr())
        return rest[:-1]

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
        try:
            self.proc.wait(timeout=5)
        except gevent.subprocess.TimeoutExpired:
            pass
        for f in (self.proc.stdin, self.proc.stdout):
            try:
                if f is not None:
                    f.close()
            except OSError:
                pass
        self._err.close()


def recv_msg(sock, peer_type=None, timeout=LINE_TIMEOUT):
    """recv_multipart on a gz socket, bounded; checks the Socket-Type property if given."""
    with gevent.Timeout(timeout, InteropTimeout("gz %s recv timed out" % sock)):
        frames = sock.recv_multipart(copy=False)
    if peer_type is not None:
        assert frames[-1].get("Socket-Type") == peer_type
    return [f.bytes for f in frames]


def publisher(sock, msgs, interval=0.005):
    """Start a greenlet that publishes `msgs` round-robin on a gz socket until killed."""
    def run():
        n = 0
        while True:
            sock.send_multipart(msgs[n % len(msgs)])
            n += 1
            gevent.sleep(interval)
    return gevent.spawn(run)
