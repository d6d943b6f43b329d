"""A libzmq peer for the interop tests: plain (blocking) pyzmq in its own process.

Usage: ``python peer.py '<json scenario>'``.  The scenario is::

    {"type": "PULL",                  # socket type name
     "bind": true,                    # bind (else connect) to "endpoint"
     "endpoint": "tcp://127.0.0.1:*",
     "options": {"routing_id": "<hex>", "subscribe": ["<hex>", ...],
                 "linger": 2000, "rcvhwm": 1000, "router_mandatory": 1},
                                      # any zmq option name; str values are hex bytes
     "zap": {"curve": "<dir>" | "*", "plain": {"user": "password"},
             "allow": ["127.0.0.1"], "deny": [...], "domain": "*"},
                                      # optional: a zmq.auth ThreadAuthenticator in the
                                      # peer's context, started before the socket exists
     "monitor": true,                 # optional: record the socket's monitor events and
                                      # print {"events": [[event, value], ...]} at the end
     "props": ["User-Id", ...],       # optional: message properties to report with "recv"
     "timeout": 10000,                # ms, bound on every single wait (recv/send)
     "deadline": 30,                  # s, bound on the whole run
     "steps": [{"op": ...}, ...]}

Bytes travel as hex strings.  A *frame spec* is a hex string or
``{"size": n, "pattern": "<hex>"}`` (the pattern repeated, cut to n bytes).  A message is
a list of frame specs.  Ops:

- ``recv``: receive ``count`` messages; print ``{"recv": [enc(frame)...], "st": Socket-Type}``
  per message (plus ``"props": {name: value or null}`` if the scenario lists props), or with ``"summary": true`` one ``{"count": n, "digest": ..., "first": ...,
  "last": ...}`` line at the end.
- ``send``: send ``msgs`` (list of messages) and/or ``gen`` = ``{"count": n, "prefix": hex}``
  (single frames ``prefix + b"%d" % i``); ``"retry": true`` retries a send that fails with
  EHOSTUNREACH (ROUTER_MANDATORY before the handshake is done).  Prints ``{"sent": n}``.
- ``echo``: receive and send back each message (ROUTER: with its routing id), ``count``
  times, or until stdin closes if no count; prints each received message like ``recv``.
- ``req``: for each of ``msgs``: send it, receive one reply, print it like ``recv``.
- ``pub``: send ``msgs`` round-robin every ``interval`` ms until stdin closes; prints
  ``{"published": n}``.
- ``idle``: for ``ms`` milliseconds receive (and report like ``recv``) whatever arrives, then
  print ``{"idle": n}`` (n = messages received; 0 shows nothing was delivered).
- ``wait``: do nothing (but process socket commands) until stdin closes.

It prints ``READY <endpoint>`` (the resolved ``last_endpoint`` when binding) once bound or
connected, and ``{"done": true}`` before a clean exit.  Any timeout prints
``{"error": ...}`` and exits with status 3; the overall deadline is enforced by a watchdog.
"""
import hashlib
import json
import os
import sys
import threading
import time

BIG = 256  # frames longer than this are printed as "#len:sha256"


def enc(frame):
    frame = bytes(frame)
    if len(frame) > BIG:
        return "#%d:%s" % (len(frame), hashlib.sha256(frame).hexdigest())
    return frame.hex()


def make_frame(spec):
    if isinstance(spec, str):
        return bytes.fromhex(spec)
    pattern = bytes.fromhex(spec.get("pattern", "00010203"))
    size = spec["size"]
    return (pattern * (size // len(pattern) + 1))[:size]


def gen_msgs(gen):
    prefix = bytes.fromhex(gen.get("prefix", ""))
    return [[prefix + b"%d" % i] for i in range(gen["count"])]


def stream_digest(msgs):
    """sha256 over a sequence of multipart messages (order- and boundary-sensitive)."""
    h = hashlib.sha256()
    for msg in msgs:
        h.update(b"%d:" % len(msg))
        for frame in msg:
            frame = bytes(frame)
            h.update(b"%d:" % len(frame))
            h.update(frame)
    return h.hexdigest()


class Timeout(Exception):
    pass


def out(obj):
    sys.stdout.write((obj if isinstance(obj, str) else json.dumps(obj)) + "\n")
    sys.stdout.flush()


def prop(frame, name):
    import zmq
    try:
        return frame.get(name)
    except zmq.ZMQError:
        return None


def start_authenticator(ctx, zap):
    """A pyzmq ThreadAuthenticator serving inproc://zeromq.zap.01 in `ctx`."""
    from zmq.auth.thread import ThreadAuthenticator
    auth = ThreadAuthenticator(ctx)
    auth.start()
    if zap.get("allow"):
        auth.allow(*zap["allow"])
    if zap.get("deny"):
        auth.deny(*zap["deny"])
    domain = zap.get("domain", "*")
    if "curve" in zap:
        auth.configure_curve(domain=domain, location=zap["curve"])
    if "plain" in zap:
        auth.configure_plain(domain=domain, passwords=zap["plain"])
    return auth


class Monitor:
    """Records a socket's monitor events ([event, value]) from a thread of its own."""

    def __init__(self, sock):
        self.events = []
        self._sock = sock.get_monitor_socket()  # before bind/connect: nothing is missed
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        from zmq.utils.monitor import recv_monitor_message
        # after stop(): drain what is already queued, then close
        while self._sock.poll(50) or not self._stop.is_set():
            if self._sock.poll(0):
                ev = recv_monitor_message(self._sock)
                self.events.append([int(ev["event"]), ev["value"]])
        self._sock.close(linger=0)

    def stop(self):
        self._stop.set()
        self._thread.join()
        return self.events


def main(scenario):
    import zmq

    stdin_closed = threading.Event()

    def watch_stdin():
        try:
            while os.read(0, 65536):  # unbuffered: no stdin lock held at exit
                pass
        finally:
            stdin_closed.set()

    threading.Thread(target=watch_stdin, daemon=True).start()
    deadline = time.monotonic() + scenario.get("deadline", 30)

    def watchdog():
        while time.monotonic() < deadline:
            time.sleep(0.1)
        out({"error": "overall deadline exceeded"})
        os._exit(4)

    threading.Thread(target=watchdog, daemon=True).start()

    timeout = scenario.get("timeout", 10000)
    ctx = zmq.Context()
    auth = start_authenticator(ctx, scenario["zap"]) if "zap" in scenario else None
    sock = ctx.socket(getattr(zmq, scenario["type"]))
    sock.linger = 2000
    for name, value in scenario.get("options", {}).items():
        if name == "subscribe":
            for topic in value:
                sock.setsockopt(zmq.SUBSCRIBE, bytes.fromhex(topic))
        else:
            sock.setsockopt(getattr(zmq, name.upper()), bytes.fromhex(value) if isinstance(value, str) else value)
    monitor = Monitor(sock) if scenario.get("monitor") else None
    if scenario.get("bind", False):
        sock.bind(scenario["endpoint"])
        out("READY " + sock.last_endpoint.decode())
    else:
        sock.connect(scenario["endpoint"])
        out("READY " + scenario["endpoint"])

    def wait_for(event, until_eof=False):
        """Poll until the socket has `event`; False if stdin closed (and until_eof)."""
        limit = time.monotonic() + timeout / 1000.0
        while True:
            if until_eof and stdin_closed.is_set():
                return False
            if sock.poll(50, event):
                return True
            if not until_eof and time.monotonic() > limit:
                raise Timeout("timed out waiting for %s" % ("POLLIN" if event == zmq.POLLIN else "POLLOUT"))

    def recv(until_eof=False):
        if not wait_for(zmq.POLLIN, until_eof):
            return None
        return sock.recv_multipart(copy=False)

    def send(msg, retry=False):
        limit = time.monotonic() + timeout / 1000.0
        while True:
            wait_for(zmq.POLLOUT)
            try:
                sock.send_multipart(msg)
                return
            except zmq.ZMQError as e:
                if not (retry and e.errno == zmq.EHOSTUNREACH) or time.monotonic() > limit:
                    raise
                time.sleep(0.02)

    def report(frames):
        try:
            st = frames[-1].get("Socket-Type")
        except zmq.ZMQError:
            st = None
        line = {"recv": [enc(f.buffer) for f in frames], "st": st}
        if "props" in scenario:
            line["props"] = {name: prop(frames[-1], name) for name in scenario["props"]}
        out(line)

    for step in scenario.get("steps", []):
        op = step["op"]
        if op == "recv":
            got = []
            for _ in range(step["count"]):
                frames = recv()
                if step.get("summary"):
                    got.append([f.bytes for f in frames])
                else:
                    report(frames)
            if step.get("summary"):
                out({"count": len(got), "digest": stream_digest(got),
                     "first": [enc(f) for f in got[0]] if got else None,
                     "last": [enc(f) for f in got[-1]] if got else None})
        elif op == "send":
            msgs = [[make_frame(f) for f in m] for m in step.get("msgs", [])]
            if "gen" in step:
                msgs += gen_msgs(step["gen"])
            for msg in msgs:
                send(msg, step.get("retry", False))
            out({"sent": len(msgs)})
        elif op == "echo":
            count = step.get("count")
            n = 0
            while count is None or n < count:
                frames = recv(until_eof=count is None)
                if frames is None:
                    break
                report(frames)
                send(frames)
                n += 1
        elif op == "req":
            for m in step["msgs"]:
                send([make_frame(f) for f in m])
                report(recv())
        elif op == "pub":
            msgs = [[make_frame(f) for f in m] for m in step["msgs"]]
            n = 0
            while not stdin_closed.is_set():
                sock.send_multipart(msgs[n % len(msgs)])
                n += 1
                time.sleep(step.get("interval", 5) / 1000.0)
            out({"published": n})
        elif op == "idle":
            n = 0
            limit = time.monotonic() + step["ms"] / 1000.0
            while True:
                left = limit - time.monotonic()
                if left <= 0:
                    break
                if sock.poll(max(1, int(left * 1000)), zmq.POLLIN):
                    report(sock.recv_multipart(copy=False))
                    n += 1
            out({"idle": n})
        elif op == "wait":
            # keep touching the socket: libzmq attaches new pipes (and e.g. sends a bound
            # SUB's subscriptions) only while the application thread calls into it
            while not stdin_closed.wait(0.02):
                sock.getsockopt(zmq.EVENTS)
        else:
            raise ValueError("unknown op %r" % op)

    if monitor is not None:
        out({"events": monitor.stop()})
    sock.close()
    if auth is not None:
        auth.stop()
    ctx.term()
    out({"done": True})


if __name__ == "__main__":
    try:
        main(json.loads(sys.argv[1]))
    except Timeout as e:
        out({"error": str(e)})
        os._exit(3)
    os._exit(0)  # daemon threads (stdin watcher, watchdog) must not delay or disturb exit
