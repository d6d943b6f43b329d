#!/usr/bin/env python3
"""many_peers: does the cost of a message grow with the number of idle peers?

    python perf/many_peers.py                         # N = 10, 100, 1000, 10000; inproc and tcp
    python perf/many_peers.py --peers 10,1000 --transports inproc --json

A ROUTER with N DEALER peers and a PUSH with N PULL peers, each measured two ways:

- **one busy**: one peer talks, the N-1 others are idle. ROUTER: one DEALER sends, the
  ROUTER receives (its fair queue must find the one pipe with data among N). PUSH: every PULL
  but one is full (at its high-water mark), the one left reads; the PUSH's load balancer must
  find the one pipe with room among N.
- **round-robin**: all N peers take part. ROUTER: every DEALER sends k messages, the ROUTER
  receives all N*k. PUSH: it sends N*k messages, spread over all N PULLs.

Printed: microseconds per message (the best of --repeat runs), both ends included (sender and
receiver run in this process). Flat rows mean a message costs the same whatever the number of
idle peers; a row growing with N means something scans every peer per message.

inproc: N real gzmq sockets in this process. tcp: the busy peer is a real gzmq socket here;
the other N-1 are raw TCP sockets in a child process that do the ZMTP NULL handshake and then
stay silent (or, for round-robin, write pre-encoded frames / read and count what they get),
so 10,000 peers fit in the fd limit (RLIMIT_NOFILE is raised to its hard limit; tcp sizes
that do not fit are skipped with a note).

The repository this file sits in is put first on sys.path, so a copy of ``perf/`` in another
checkout measures that checkout (that is how before/after tables are made).
"""

from __future__ import annotations

import argparse
import json
import os
import selectors
import socket
import struct
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, HERE)

import zmtp_raw  # noqa: E402

SIZE = 64
#: PUSH over tcp: SO_SNDBUF of the pusher and SO_RCVBUF of its busy peer (fixed, so that the
#: kernel buffers of the idle peers fill after a few hundred messages each)
#: tcp round-robin: messages per peer per run, the same for every N (one write carries a
#: peer's share, so a varying share would measure syscall batching instead of routing)
TCP_ROUND_ROBIN = 20
SNDBUF = int(os.environ.get("MANY_PEERS_SNDBUF", "16384"))
FRAME = zmtp_raw.frame(b"m" * SIZE)  # one short ZMTP message frame


# ------------------------------------------------------------------------ the child process --

def child(port: int, count: int, socket_type: str, rcvbuf: int) -> None:
    """Open ``count`` raw ZMTP connections; obey commands on stdin (send K / count / quit)."""
    hello = zmtp_raw.hello(socket_type)
    peers = []
    for _ in range(count):
        peer = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            peer.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        peer.connect(("127.0.0.1", port))
        peer.sendall(hello)
        peers.append(peer)
    print("ready", flush=True)
    frames = 0
    parsers = {peer.fileno(): _FrameCounter() for peer in peers}
    selector = None
    for line in sys.stdin:
        command = line.split()
        if not command:
            continue
        if command[0] == "send":
            data = FRAME * int(command[1])
            for peer in peers:
                peer.sendall(data)
            print("sent", flush=True)
        elif command[0] == "count":  # read all that has arrived, report the total so far
            if selector is None:
                selector = selectors.DefaultSelector()
                for peer in peers:
                    peer.setblocking(False)
                    selector.register(peer, selectors.EVENT_READ)
            while True:
                ready = selector.select(timeout=0)
                if not ready:
                    break
                for key, _ in ready:
                    try:
                        data = key.fileobj.recv(1 << 20)  # type: ignore[union-attr]
                    except BlockingIOError:
                        continue
                    frames += parsers[key.fd].feed(data)
            print(frames, flush=True)
        elif command[0] == "quit":
            break
    for peer in peers:
        peer.close()


class _FrameCounter:
    """Counts ZMTP message frames in a byte stream that starts with a greeting."""

    def __init__(self) -> None:
        self.buffer = b""
        self.greeted = False

    def feed(self, data: bytes) -> int:
        buffer = self.buffer + data
        count = 0
        position = 0
        if not self.greeted:
            if len(buffer) < 64:
                self.buffer = buffer
                return 0
            position = 64
            self.greeted = True
        while True:
            if len(buffer) - position < 2:
                break
            flags = buffer[position]
            if flags & 0x02:
                if len(buffer) - position < 9:
                    break
                size = struct.unpack(">Q", buffer[position + 1:position + 9])[0]
                header = 9
            else:
                size = buffer[position + 1]
                header = 2
            if len(buffer) - position < header + size:
                break
            if not flags & 0x04:
                count += 1
            position += header + size
        self.buffer = buffer[position:]
        return count


class Child:
    def __init__(self, port: int, count: int, socket_type: str, rcvbuf: int = 0) -> None:
        from gevent import subprocess as gsubprocess  # its pipes do not block the hub
        self.process = gsubprocess.Popen(
            [sys.executable, os.path.abspath(__file__), "--child", str(port), str(count),
             socket_type, str(rcvbuf)],
            stdin=gsubprocess.PIPE, stdout=gsubprocess.PIPE, text=True)

    def command(self, line: str) -> str:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()
        return self.process.stdout.readline().strip()

    def wait_ready(self) -> None:
        assert self.process.stdout is not None
        line = self.process.stdout.readline().strip()
        if line != "ready":
            raise RuntimeError(f"child failed: {line!r}")

    def close(self) -> None:
        try:
            self.command("quit")
        except (BrokenPipeError, OSError):
            pass
        self.process.wait(10)


# ----------------------------------------------------------------------------- measuring --

def _best(runs: list[float]) -> float:
    return min(runs)


def timed_batches(send, recv, messages: int, batch: int, repeat: int) -> list[float]:
    """Seconds per message of ``repeat`` runs of: ``batch`` sends, then ``batch`` receives."""
    runs = []
    for _ in range(repeat):
        started = time.perf_counter()
        for _ in range(messages // batch):
            for _ in range(batch):
                send()
            for _ in range(batch):
                recv()
        runs.append((time.perf_counter() - started) / (messages // batch * batch))
    return runs


class Handshakes:
    """Counts a socket's successful handshakes as they happen (a greenlet reads its monitor
    all along: monitor events that nobody reads are dropped at the monitor's HWM)."""

    def __init__(self, zmq, gevent, socket) -> None:
        from gzmq.utils.monitor import recv_monitor_message
        self.count = 0
        self.monitor = socket.get_monitor_socket(zmq.EVENT_HANDSHAKE_SUCCEEDED)
        self.gevent = gevent

        def read() -> None:
            while True:
                if recv_monitor_message(self.monitor)["event"] == \
                        zmq.EVENT_HANDSHAKE_SUCCEEDED:
                    self.count += 1
        self.greenlet = gevent.spawn(read)

    def wait(self, count: int, limit: float = 600.0) -> None:
        deadline = time.monotonic() + limit
        while self.count < count:
            if time.monotonic() > deadline:
                raise RuntimeError(f"only {self.count} of {count} handshakes in {limit} s")
            self.gevent.sleep(0.05)

    def close(self) -> None:
        self.greenlet.kill()
        self.monitor.close()


def router_inproc(zmq, gevent, ctx, n: int, messages: int, repeat: int) -> dict[str, float]:
    router = ctx.socket(zmq.ROUTER)
    router.rcvhwm = 0
    router.bind("inproc://many-router")
    dealers = []
    for _ in range(n):
        dealer = ctx.socket(zmq.DEALER)
        dealer.connect("inproc://many-router")
        dealers.append(dealer)
    payload = b"m" * SIZE
    busy = dealers[n // 2]
    one = timed_batches(lambda: busy.send(payload), router.recv_multipart, messages, 50,
                        repeat)
    k = max(1, messages // n)
    rr = []
    for _ in range(repeat):
        started = time.perf_counter()
        for dealer in dealers:
            for _ in range(k):
                dealer.send(payload)
        for _ in range(n * k):
            router.recv_multipart()
        rr.append((time.perf_counter() - started) / (n * k))
    for dealer in dealers:
        dealer.close(linger=0)
    router.close(linger=0)
    return {"one busy": _best(one), "round-robin": _best(rr)}


def push_inproc(zmq, gevent, ctx, n: int, messages: int, repeat: int) -> dict[str, float]:
    push = ctx.socket(zmq.PUSH)
    push.sndhwm = 1
    push.bind("inproc://many-push")
    pulls = []
    for _ in range(n):
        pull = ctx.socket(zmq.PULL)
        pull.rcvhwm = 1
        pull.connect("inproc://many-push")
        pulls.append(pull)
    payload = b"m" * SIZE
    busy = pulls[n // 2]
    while True:  # fill every pipe to its mark (inproc: sndhwm + rcvhwm = 2)
        try:
            push.send(payload, zmq.DONTWAIT)
        except zmq.Again:
            break
    one = []
    for _ in range(repeat):
        started = time.perf_counter()
        for _ in range(messages):
            busy.recv()
            push.send(payload, zmq.DONTWAIT)  # only the busy pipe has room
        one.append((time.perf_counter() - started) / messages)
    for pull in pulls:  # empty every pipe
        while True:
            try:
                pull.recv(zmq.DONTWAIT)
            except zmq.Again:
                break
    rr = []
    for _ in range(repeat):
        started = time.perf_counter()
        for _ in range(n):  # one message per peer, then each takes its own
            push.send(payload, zmq.DONTWAIT)
        for pull in pulls:
            pull.recv(zmq.DONTWAIT)
        rr.append((time.perf_counter() - started) / n)
    for pull in pulls:
        pull.close(linger=0)
    push.close(linger=0)
    return {"one busy": _best(one), "round-robin": _best(rr)}


def router_tcp(zmq, gevent, ctx, n: int, messages: int, repeat: int) -> dict[str, float]:
    router = ctx.socket(zmq.ROUTER)
    router.rcvhwm = 0
    router.max_pending_handshakes = None
    handshakes = Handshakes(zmq, gevent, router)
    router.bind("tcp://127.0.0.1:*")
    port = int(router.last_endpoint.rsplit(b":", 1)[1])
    child = Child(port, n - 1, "DEALER")
    child.wait_ready()
    busy = ctx.socket(zmq.DEALER)
    busy.connect(f"tcp://127.0.0.1:{port}")
    handshakes.wait(n)
    payload = b"m" * SIZE
    one = timed_batches(lambda: busy.send(payload), router.recv_multipart, messages, 50,
                        repeat)
    k = TCP_ROUND_ROBIN
    rr = []
    for _ in range(repeat):
        started = time.perf_counter()
        assert child.command(f"send {k}") == "sent"
        for _ in range(k):
            busy.send(payload)
        for _ in range(n * k):
            router.recv_multipart()
        rr.append((time.perf_counter() - started) / (n * k))
    busy.close(linger=0)
    child.close()
    handshakes.close()
    router.close(linger=0)
    return {"one busy": _best(one), "round-robin": _best(rr)}


def push_tcp(zmq, gevent, ctx, n: int, messages: int, repeat: int) -> dict[str, float]:
    push = ctx.socket(zmq.PUSH)
    push.sndhwm = 8
    push.sndbuf = SNDBUF  # fixed: autotuning would let idle peers absorb megabytes first
    push.max_pending_handshakes = None
    handshakes = Handshakes(zmq, gevent, push)
    push.bind("tcp://127.0.0.1:*")
    port = int(push.last_endpoint.rsplit(b":", 1)[1])
    child = Child(port, n - 1, "PULL", rcvbuf=2048)
    child.wait_ready()
    busy = ctx.socket(zmq.PULL)
    busy.rcvhwm = 8
    busy.rcvbuf = SNDBUF
    busy.connect(f"tcp://127.0.0.1:{port}")
    handshakes.wait(n)
    payload = b"m" * SIZE
    idle_rounds = 0
    while idle_rounds < 3:  # fill every pipe and every kernel buffer
        sent = 0
        while True:
            try:
                push.send(payload, zmq.DONTWAIT)
                sent += 1
            except zmq.Again:
                break
        gevent.sleep(0.001 if sent else 0.02)  # the writers move what they can to the kernel
        idle_rounds = idle_rounds + 1 if not sent else 0

    busy.rcvtimeo = 300  # the busy peer reads what the fill left it, then it alone has room
    try:
        while True:
            busy.recv()
    except zmq.Again:
        pass
    busy.rcvtimeo = -1
    # batches of 8, its SNDHWM: a batch fits in its pipe, then the peer reads it
    one = timed_batches(lambda: push.send(payload), busy.recv, messages, 8, repeat)
    # round-robin: the child starts reading everything, the busy peer too
    received = [0]

    def read_all() -> None:
        while True:
            busy.recv()
            received[0] += 1

    reader = gevent.spawn(read_all)
    total = -1
    while True:  # empty the pipes and kernel buffers filled above
        got = int(child.command("count")) + received[0]
        if got == total:
            break
        total = got
        gevent.sleep(0.2)
    k = TCP_ROUND_ROBIN
    rr = []
    for _ in range(repeat):
        before = int(child.command("count")) + received[0]
        started = time.perf_counter()
        for _ in range(n * k):
            push.send(payload)
        while int(child.command("count")) + received[0] - before < n * k:
            gevent.sleep(0.001)
        rr.append((time.perf_counter() - started) / (n * k))
    reader.kill()
    busy.close(linger=0)
    child.close()
    handshakes.close()
    push.close(linger=0)
    return {"one busy": _best(one), "round-robin": _best(rr)}


SCENARIOS = {
    ("ROUTER", "inproc"): router_inproc,
    ("PUSH", "inproc"): push_inproc,
    ("ROUTER", "tcp"): router_tcp,
    ("PUSH", "tcp"): push_tcp,
}
LABELS = {
    ("ROUTER", "one busy"): "ROUTER recv, 1 DEALER of N talks",
    ("ROUTER", "round-robin"): "ROUTER recv, all N DEALERs talk",
    ("PUSH", "one busy"): "PUSH send, 1 PULL of N has room",
    ("PUSH", "round-robin"): "PUSH send, round-robin over N",
}


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], int(sys.argv[5]))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--peers", default="10,100,1000,10000", help="values of N")
    parser.add_argument("--transports", default="inproc,tcp")
    parser.add_argument("--sockets", default="ROUTER,PUSH")
    parser.add_argument("--messages", type=int, default=2000, help="messages per run")
    parser.add_argument("--repeat", type=int, default=3, help="runs per cell (best is kept)")
    parser.add_argument("--json", action="store_true", help="one JSON line per cell")
    args = parser.parse_args()
    sys.path.insert(0, REPO)
    import gevent

    import gzmq as zmq

    fd_limit = zmtp_raw.raise_fd_limit()
    sizes = [int(n) for n in args.peers.split(",")]
    transports = args.transports.split(",")
    kinds = args.sockets.split(",")
    results: dict[tuple[str, str, str], dict[int, float]] = {}
    notes = []
    for transport in transports:
        for kind in kinds:
            for n in sizes:
                if transport == "tcp" and n + 64 > fd_limit:
                    notes.append(f"tcp N={n} skipped: RLIMIT_NOFILE is {fd_limit}")
                    continue
                ctx = zmq.Context()
                ctx.set(zmq.MAX_SOCKETS, 2 * n + 64)
                started = time.monotonic()
                cell = SCENARIOS[(kind, transport)](zmq, gevent, ctx, n, args.messages,
                                                    args.repeat)
                ctx.term()
                for how, seconds in cell.items():
                    results.setdefault((kind, how, transport), {})[n] = seconds
                    if args.json:
                        print(json.dumps({"socket": kind, "case": how, "transport": transport,
                                          "peers": n, "us_per_msg": round(seconds * 1e6, 3)}),
                              flush=True)
                print(f"  [{kind} {transport} N={n}: {time.monotonic() - started:.1f} s]",
                      file=sys.stderr, flush=True)
    if not args.json:
        header = f"{'case':34} {'transport':9} " + " ".join(f"{'N=' + str(n):>9}" for n in sizes)
        print(header)
        print("-" * len(header))
        for (kind, how, transport), row in results.items():
            cells = " ".join(f"{row[n] * 1e6:7.2f}µs" if n in row else f"{'-':>9}"
                             for n in sizes)
            print(f"{LABELS[(kind, how)]:34} {transport:9} {cells}")
        for note in notes:
            print(note)
    return 0


if __name__ == "__main__":
    sys.exit(main())
