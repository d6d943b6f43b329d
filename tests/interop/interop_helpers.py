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

    def assert_received(self, msgs, socket_type):
        """The next lines report exactly ``msgs``, in order, each sent by a ``socket_type``."""
        got = self.lines(len(msgs))
        assert [g["recv"] for g in got] == [encmsg(m) for m in msgs]
        assert {g["st"] for g in got} == {socket_type}

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


# -- security: keys, monitors, authenticators ---------------------------------------------

import importlib  # noqa: E402
import time  # noqa: E402

_ROOT = zmq_impl.__name__.split(".")[0]  # "gzmq", or "zmq" for zmq.green
z85 = importlib.import_module(_ROOT + ".utils.z85")
auth_lib = importlib.import_module(_ROOT + ".auth")  # certificate files, CURVE_ALLOW_ANY
_monitor_lib = importlib.import_module(_ROOT + ".utils.monitor")

# libzmq monitor event numbers and values
EV_CONNECTED, EV_CONNECT_DELAYED, EV_CONNECT_RETRIED = 0x1, 0x2, 0x4
EV_ACCEPTED, EV_DISCONNECTED = 0x20, 0x200
EV_HANDSHAKE_FAILED_NO_DETAIL, EV_HANDSHAKE_SUCCEEDED = 0x800, 0x1000
EV_HANDSHAKE_FAILED_PROTOCOL, EV_HANDSHAKE_FAILED_AUTH = 0x2000, 0x4000
PROTOCOL_ERROR_ZMTP_CRYPTOGRAPHIC = 0x11000001
SILENCE = 0.4  # s: how long "nothing is delivered / no reconnect" is watched


def peer_address(transport, peer):
    """The Peer-Address (= ZAP address) libzmq gives a connection from `peer`."""
    if transport == "tcp":
        return "127.0.0.1"
    return "localhost:%d:%d:%d" % (os.getuid(), os.getgid(), peer.proc.pid)  # SO_PEERCRED


def curve_keys():
    """A fresh CURVE key pair, (public, secret) as Z85 bytes."""
    return zmq_impl.curve_keypair()


def key_as(key, form):
    """A Z85 key in `form`: ``"z85"`` (40 characters) or ``"raw"`` (32 bytes)."""
    return key if form == "z85" else z85.decode(key)


def gz_socket(ctx, type_name, opts=None):
    """A gz socket (linger 0) with options set before bind/connect."""
    sock = ctx.socket(getattr(zmq_impl, type_name))
    sock.linger = 0
    for name, value in (opts or {}).items():
        sock.setsockopt(getattr(zmq_impl, name.upper()), value)
    return sock


def peer_options(opts):
    """Socket options for a peer scenario (bytes as hex; lists are hex subscriptions)."""
    return {k: (v.hex() if isinstance(v, bytes) else
                [t.hex() for t in v] if isinstance(v, list) else v)
            for k, v in (opts or {}).items()}


def peer_scenario(type_name, steps, opts, endpoint, bind=False, **extra):
    """A peer.py scenario; `extra` adds top-level keys (zap, monitor, props...)."""
    sc = {"type": type_name, "steps": steps, "bind": bind, "endpoint": endpoint,
          "options": peer_options(opts)}
    sc.update(extra)
    return sc


def _event(mon):
    ev = _monitor_lib.recv_monitor_message(mon)
    return int(ev["event"]), int(ev["value"])


def events_until(mon, *wanted, timeout=5.0):
    """Monitor events up to and including the first one in `wanted` (an error if none comes)."""
    got = []
    timer = gevent.Timeout.start_new(timeout)
    try:
        while not got or got[-1][0] not in wanted:
            got.append(_event(mon))
    except gevent.Timeout as t:
        if t is not timer:
            raise
        raise InteropTimeout("no monitor event in %s within %ss; got %s" % (
            ["0x%x" % w for w in wanted], timeout, ["(0x%x, %d)" % e for e in got])) from None
    finally:
        timer.close()
    return got


def events_for(mon, seconds):
    """The monitor events arriving within `seconds`."""
    got = []
    end = time.monotonic() + seconds
    while True:
        left = end - time.monotonic()
        if left <= 0 or not mon.poll(max(1, int(left * 1000))):
            return got
        got.append(_event(mon))


def assert_silent(sock, seconds):
    """Nothing arrives on a gz socket within `seconds`."""
    assert not sock.poll(int(seconds * 1000)), "unexpected message %r" % (sock.recv_multipart(),)


#: how long the interop tests' gzmq Authenticator waits before it sends a refusal
REFUSAL_DELAY = 0.3


def make_authenticator(ctx):
    """A started ZAP authenticator for `ctx`: gzmq.auth.Authenticator, or for zmq.green pyzmq's
    Authenticator served by a greenlet."""
    if IMPL == "gzmq":
        auth = auth_lib.Authenticator(ctx)
        send_reply = auth._send_reply

        def refuse_after_a_moment(envelope, reply):
            # A refused libzmq client loses its pipe with the connection (a protocol error
            # ends its session), and the tests want to see that client's message go nowhere:
            # the refusal must come after the client has queued it, which a local ZAP reply
            # could beat when the machine is loaded.
            if reply[2] != b"200":
                gevent.sleep(REFUSAL_DELAY)
            send_reply(envelope, reply)

        auth._send_reply = refuse_after_a_moment
        auth.start()
        return auth
    import zmq.auth

    class GreenAuthenticator(zmq.auth.Authenticator):
        def start(self):
            self.zap_socket = self.context.socket(zmq_impl.REP)
            self.zap_socket.linger = 1
            self.zap_socket.bind("inproc://zeromq.zap.01")
            self._server = gevent.spawn(self._serve)

        def _serve(self):
            while True:
                pending = self.handle_zap_message(self.zap_socket.recv_multipart())
                if pending is not None:  # pyzmq >= 26: a coroutine that never suspends here
                    try:
                        pending.send(None)
                    except StopIteration:
                        pass

        def stop(self):
            self._server.kill()
            super().stop()

    auth = GreenAuthenticator(ctx)
    auth.start()
    return auth
