#!/usr/bin/env python3
"""fanout: one PUB, many SUBs over tcp; the publisher is the implementation under test.

    python perf/fanout.py                                  # gzmq vs pyzmq, 100 SUBs, 5 rounds
    python perf/fanout.py --impls gzmq,pyzmq,green --subs 100 --rounds 3 --duration 2 --json
    python perf/fanout.py --sub-impl pyzmq                 # libzmq SUBs instead of raw ones

Each run starts two fresh processes: the publisher (``--impl``: gzmq, pyzmq or zmq.green, one
PUB bound on 127.0.0.1, SNDHWM ``--sndhwm``) and the subscribers. By default the subscribers
are ``--subs`` raw ZMTP connections in one plain-Python process (perf/zmtp_raw.py: greeting,
NULL READY as SUB, a subscription to everything) that only ``recv_into`` a buffer and count
complete 64 B message frames with ``bytes.count`` -- no Python work per message, so that
side is the same load for every publisher and is not the bottleneck. ``--sub-impl
pyzmq|gzmq|green|same`` uses real SUB sockets of that implementation instead (``same``: the
publisher's), all in one process behind a poller.

Slow joiners are not measured: the publisher sends 1-byte probes until every subscriber has
seen one (the subscribers' process says so on its stdout, the driver tells the publisher on
its stdin: a side channel outside the sockets under test). Then the publisher sends 64 B
messages for ``--duration`` seconds (the gevent ones yield to the hub once per ~100 kB batch,
as remote_thr does), then repeats an empty end-of-test message until the subscribers are done.

Reported per run: published msg/s (the publisher's ``send`` rate), delivered msg/s summed over
the subscribers (all messages received / first to last message), delivered per subscriber,
the drop share (1 - delivered / (published x subscribers): PUB drops at SNDHWM by design),
and the publisher's RSS growth while sending (its peak, VmHWM reset at the start, minus its
RSS at the start): bounded by SNDHWM, whatever the duration. Ratios (gzmq / other, same
round) are on the delivered rate. Every process has a watchdog; the driver kills what is left.
"""

from __future__ import annotations

import argparse
import json
import os
import select
import selectors
import socket
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import impl as perf_impl  # noqa: E402
import zmtp_raw  # noqa: E402

IMPLS = ('gzmq', 'pyzmq', 'green')
SIZE = 64
PAYLOAD = b'x' * SIZE
FRAME = zmtp_raw.frame(PAYLOAD)  # what the raw subscribers count
END = b'\x00\x00'  # the empty end-of-test message; no other frame of the stream holds it
PROBE = b'P'
COUNT = 10 ** 9  # the publisher is bounded by --duration


def _stdin_line(im, timeout: float) -> str:
    """A line from the driver, or '' after ``timeout`` (gevent: without blocking the hub)."""
    if im.gevent is not None:
        import gevent.select
        sel = gevent.select.select
    else:
        sel = select.select
    r, _, _ = sel([sys.stdin], [], [], timeout)
    return sys.stdin.readline().strip() if r else ''


# ------------------------------------------------------------------------- publisher --

def publisher(args) -> dict:
    import remote_thr
    im = perf_impl.Impl(args.impl)
    ctx = im.zmq.Context()
    pub = ctx.socket(im.zmq.PUB)
    pub.sndhwm = args.sndhwm
    pub.bind('tcp://127.0.0.1:*')
    ep = pub.last_endpoint
    print(json.dumps({'ready': ep.decode() if isinstance(ep, bytes) else ep}), flush=True)
    while _stdin_line(im, 0.01) != 'go':
        pub.send(PROBE)  # until every subscriber has seen one
    rss_start = zmtp_raw.rss_bytes()
    exact_peak = zmtp_raw.reset_peak_rss()
    yield_ = None
    if im.gevent is not None:
        sleep = im.gevent.sleep
        yield_ = lambda: sleep(0)
    r = remote_thr.send_stream(pub, SIZE, COUNT, args.duration, yield_)
    while _stdin_line(im, 0.01) != 'stop':
        pub.send(b'')  # end of test, again: it may have been dropped at the HWM
    peak = zmtp_raw.peak_rss_bytes() if exact_peak else zmtp_raw.rss_bytes()
    pub.close(linger=0)
    ctx.term()
    r.update(version=im.version, sndhwm=args.sndhwm, rss_start_mib=round(rss_start / 2**20, 2),
             rss_growth_mib=round(max(0, peak - rss_start) / 2**20, 2),
             rss_peak_exact=exact_peak)
    return r


# ---------------------------------------------------------------------- subscribers --

class _RawSub:
    __slots__ = ('sock', 'carry', 'msgs', 'first', 'last', 'probed', 'ended')

    def __init__(self, sock) -> None:
        self.sock, self.carry = sock, b''
        self.msgs, self.first, self.last = 0, 0.0, 0.0
        self.probed = self.ended = False


def raw_subscribers(endpoint: str, count: int, limit: float, stalled: int = 0) -> dict:
    """``count`` raw SUB connections; returns the per-subscriber counts and times. The first
    ``stalled`` of them stop reading at the go: slow consumers the publisher must drop for."""
    host, _, port = endpoint[len('tcp://'):].rpartition(':')
    subs = []
    for i in range(count):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        # the stalled: a small kernel buffer, so the publisher's queue is what fills
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096 if i < stalled else 1 << 20)
        sock.connect((host, int(port)))
        zmtp_raw.handshake(sock, 'SUB')
        sock.sendall(zmtp_raw.SUBSCRIBE_ALL)
        sock.setblocking(False)
        subs.append(_RawSub(sock))
    selector = selectors.DefaultSelector()
    for sub in subs:
        selector.register(sub.sock, selectors.EVENT_READ, sub)
    buf = bytearray(1 << 18)
    cpu = _Cpu()
    keep = len(FRAME) - 1  # a frame cut by a read is counted with the next one
    deadline = time.monotonic() + limit
    waiting, ended, said_ready = count, 0, False
    last_data = time.monotonic()
    while ended < count - (stalled if said_ready else 0):
        now = time.monotonic()
        if now > deadline or (said_ready and now - last_data > 3.0):
            break  # bounded: report what arrived
        for key, _ in selector.select(0.5):
            sub = key.data
            try:
                n = sub.sock.recv_into(buf)
            except BlockingIOError:
                continue
            if not n:
                selector.unregister(sub.sock)
                ended += not sub.ended
                sub.ended = True
                continue
            now = time.perf_counter()
            chunk = sub.carry + buf[:n]
            if not sub.probed:
                sub.probed = True
                waiting -= 1
            got = chunk.count(FRAME)
            if got:
                if not sub.msgs:
                    sub.first = now
                sub.msgs += got
                sub.last = now
            if END in chunk and not sub.ended:
                sub.ended = True
                ended += 1
                selector.unregister(sub.sock)
            sub.carry = bytes(chunk[-keep:])
            last_data = time.monotonic()
        if not said_ready and not waiting:
            said_ready = True
            for sub in subs[:stalled]:  # they read no more: their buffers fill up
                selector.unregister(sub.sock)
            print('ready', flush=True)  # the driver may start the publisher now
            cpu.start()
    r = _sub_result([(s.msgs, s.first, s.last) for s in subs[stalled:]], ended,
                    'raw ZMTP sockets', cpu)
    r['stalled'] = stalled
    return r


def zmq_subscribers(impl: str, endpoint: str, count: int, limit: float) -> dict:
    """``count`` real SUB sockets of ``impl`` in this process, behind one poller."""
    im = perf_impl.Impl(impl)
    zmq = im.zmq
    ctx = zmq.Context()
    socks = []
    for _ in range(count):
        s = ctx.socket(zmq.SUB)
        s.rcvhwm = 1000
        s.setsockopt(zmq.SUBSCRIBE, b'')
        s.connect(endpoint)
        socks.append(s)
    cpu = _Cpu()
    state = {s: [0, 0.0, 0.0, False] for s in socks}  # msgs, first, last, ended
    poller = zmq.Poller()
    for s in socks:
        poller.register(s, zmq.POLLIN)
    waiting, ended, said_ready = set(socks), 0, False
    deadline = time.monotonic() + limit
    last_data = time.monotonic()
    while ended < count:
        now = time.monotonic()
        if now > deadline or (said_ready and now - last_data > 3.0):
            break
        for s, _ in poller.poll(500):
            st = state[s]
            while True:
                try:
                    m = s.recv(zmq.NOBLOCK)
                except zmq.Again:
                    break
                if len(m) == SIZE:
                    t = time.perf_counter()
                    if not st[0]:
                        st[1] = t
                    st[0] += 1
                    st[2] = t
                elif not m and said_ready and not st[3]:
                    st[3] = True
                    ended += 1
                    poller.unregister(s)
                    break
            waiting.discard(s)
            last_data = time.monotonic()
        if not said_ready and not waiting:
            said_ready = True
            print('ready', flush=True)
            cpu.start()
    for s in socks:
        s.close(linger=0)
    ctx.term()
    return _sub_result([tuple(state[s][:3]) for s in socks], ended, im.version + ' SUBs', cpu)


class _Cpu:
    """This process's CPU use from start() on: how busy the subscribers' side was."""

    def __init__(self) -> None:
        self.t0, self.cpu0 = time.perf_counter(), time.process_time()

    def start(self) -> None:
        self.__init__()  # type: ignore[misc]

    def busy_pct(self) -> float:
        wall = time.perf_counter() - self.t0
        return round(100.0 * (time.process_time() - self.cpu0) / wall, 1) if wall else 0.0


def _sub_result(rows: list, ended: int, version: str, cpu: _Cpu) -> dict:
    got = [r for r in rows if r[0]]
    total = sum(r[0] for r in rows)
    span = (max(r[2] for r in got) - min(r[1] for r in got)) if got else 0.0
    per_sub = [r[0] / (r[2] - r[1]) for r in got if r[2] > r[1]]
    return {'subscribers': len(rows), 'ended': ended, 'delivered': total,
            'delivered_per_sub_min': min(r[0] for r in rows) if rows else 0,
            'delivered_per_sub_max': max(r[0] for r in rows) if rows else 0,
            'delivered_msgs_per_s': total / span if span > 0 else 0.0,
            'per_sub_msgs_per_s': statistics.median(per_sub) if per_sub else 0.0,
            'sub_version': version, 'sub_cpu_pct': cpu.busy_pct()}


# --------------------------------------------------------------------------- driver --

def run_one(impl: str, subs: int = 100, duration: float = 1.5, sub_impl: str = 'raw',
            sndhwm: int = 1000, stalled: int = 0) -> dict:
    """One measurement in two fresh processes; returns the merged record (or 'error').
    ``stalled``: that many of the (raw) subscribers stop reading at the start; the rates
    and drops are those of the others, the publisher's RSS shows what the stalled cost it."""
    limit = duration * 4 + subs * 0.05 + 30
    py, me = sys.executable, os.path.abspath(__file__)
    common = dict(stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                  text=True)
    rec = {'case': 'fanout', 'transport': 'tcp', 'size': SIZE, 'impl': impl, 'subs': subs,
           'sub_impl': sub_impl}
    if stalled:
        rec['case'] = 'fanout-stalled'
        if sub_impl != 'raw':
            return dict(rec, error='--stalled needs the raw subscribers')
    with perf_impl.Measurement(rec) as procs:
        pub = subprocess.Popen([py, me, '--publisher', '--impl', impl, '--duration',
                                str(duration), '--sndhwm', str(sndhwm), '--max-duration',
                                str(limit)], **common)
        procs.append(pub)
        ep = perf_impl.json_line(pub, 30, 'publisher start')['ready']
        sub = subprocess.Popen([py, me, '--subscribers', ep, '--subs', str(subs),
                                '--sub-impl', impl if sub_impl == 'same' else sub_impl,
                                '--stalled', str(stalled), '--max-duration', str(limit)],
                               **common)
        procs.append(sub)
        if perf_impl.readline(sub, 30 + subs * 0.05) != 'ready':
            raise RuntimeError('subscribers not ready: %s' % perf_impl.stderr_tail(sub))
        pub.stdin.write('go\n')
        pub.stdin.flush()
        rec.update(perf_impl.json_line(sub, limit, 'subscribers'))
        pub.stdin.write('stop\n')
        pub.stdin.flush()
        rec.update(perf_impl.json_line(pub, 30, 'publisher'))
        rec['msgs_per_s'] = rec['delivered_msgs_per_s']  # the compared number
        sent = rec['sent'] * (subs - stalled)
        rec['drop_pct'] = round(100.0 * max(0, sent - rec['delivered']) / max(1, sent), 2)
    return rec


def describe(r: dict) -> str:
    if 'error' in r:
        return 'ERROR ' + r['error']
    return ('published %.0f msg/s, delivered %.0f msg/s (%.0f per SUB), drop %.1f%%, '
            'publisher RSS +%.1f MiB, subscribers\' CPU %.0f%%' % (
                r['send_msgs_per_s'], r['delivered_msgs_per_s'], r['per_sub_msgs_per_s'],
                r['drop_pct'], r['rss_growth_mib'], r.get('sub_cpu_pct', 0)))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
                                 epilog=__doc__.split('\n\n', 1)[1],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--impls', default='gzmq,pyzmq', help='publishers to compare')
    ap.add_argument('--subs', type=int, default=100, help='subscribers (default 100)')
    ap.add_argument('--sub-impl', default='raw', choices=('raw', 'same') + IMPLS)
    ap.add_argument('--sndhwm', type=int, default=1000)
    ap.add_argument('--stalled', type=int, default=0,
                    help='raw subscribers that stop reading at the start (slow consumers: the '
                         'publisher must drop for them and stay within its SNDHWM)')
    ap.add_argument('--rounds', type=int, default=5)
    ap.add_argument('--duration', type=float, default=1.5, help='seconds of publishing')
    ap.add_argument('--json', action='store_true', help='one JSON line per run')
    # the two child roles
    ap.add_argument('--publisher', action='store_true', help=argparse.SUPPRESS)
    ap.add_argument('--subscribers', metavar='ENDPOINT', help=argparse.SUPPRESS)
    ap.add_argument('--impl', default='gzmq', help=argparse.SUPPRESS)
    ap.add_argument('--max-duration', type=float, default=120.0, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.publisher or args.subscribers:
        perf_impl.watchdog(args.max_duration, 'fanout')
        if args.publisher:
            r = publisher(args)
        elif args.sub_impl == 'raw':
            r = raw_subscribers(args.subscribers, args.subs, args.max_duration - 5,
                                args.stalled)
        else:
            r = zmq_subscribers(args.sub_impl, args.subscribers, args.subs,
                                args.max_duration - 5)
        print(json.dumps(r, sort_keys=True), flush=True)
        return 0
    impls = [i for i in args.impls.split(',') if i]
    runs = []
    for rnd in range(1, args.rounds + 1):
        for impl in impls:
            r = run_one(impl, args.subs, args.duration, args.sub_impl, args.sndhwm,
                        args.stalled)
            r['round'] = rnd
            runs.append(r)
            if args.json:
                print(json.dumps(r, sort_keys=True), flush=True)
            print('round %d %-6s %s' % (rnd, impl, describe(r)), file=sys.stderr, flush=True)
    if not args.json:
        for impl in impls:
            ok = [r for r in runs if r['impl'] == impl and 'error' not in r]
            if ok:
                med = {k: statistics.median(r[k] for r in ok) for k in (
                    'send_msgs_per_s', 'delivered_msgs_per_s', 'per_sub_msgs_per_s',
                    'drop_pct', 'rss_growth_mib', 'sub_cpu_pct')}
                print('%-6s median of %d: %s' % (impl, len(ok), describe(med)))
        if 'gzmq' in impls:
            for base in impls:
                xs = [g['msgs_per_s'] / b['msgs_per_s'] for g in runs for b in runs
                      if g['impl'] == 'gzmq' and b['impl'] == base != 'gzmq'
                      and g['round'] == b['round'] and 'error' not in g and 'error' not in b
                      and b['msgs_per_s']]
                if xs:
                    print('gzmq/%s delivered: median %.2f [%.2f-%.2f]' % (
                        base, statistics.median(xs), min(xs), max(xs)))
    return 0


if __name__ == '__main__':
    sys.exit(main())
