#!/usr/bin/env python3
"""router_peers: a ROUTER echoing 64 B requests to N DEALER peers, of which a few talk.

    python perf/router_peers.py                               # N = 10,100,1000,10000; 3 rounds
    python perf/router_peers.py --peers 10,1000 --impls gzmq,pyzmq --rounds 5 --json

Each run starts two fresh processes. The ROUTER process is the implementation under test
(``--impls``: gzmq, pyzmq, green): it binds on 127.0.0.1 and echoes every request to its
sender (``recv_multipart`` / ``send_multipart``, default options). The peers' process is the
same load generator for every implementation: N plain TCP sockets that speak ZMTP as DEALERs
(perf/zmtp_raw.py: greeting, NULL READY). All N connect and complete their handshake, and each
sends one request and reads its echo (so the ROUTER routes to every one of them); then a fixed
active set of ``--active`` peers (spread evenly over the N) drives the load: each writes
``--window`` pre-encoded requests in one ``sendall`` and reads back exactly that many echoes,
repeated until ``--messages`` round trips are done. The other N - active peers stay connected
and idle. RLIMIT_NOFILE is raised to its hard limit in both processes.

Reported per run: µs per message (wall time of the active phase / round trips, the median of
``--repeat`` timings) and msg/s. The summary gives, per N, the median over rounds of each
implementation, the ratio gzmq/other of the same round (>1: gzmq faster), and flatness: cost
at the largest N / cost at the smallest (1.0 = flat).

``--count``: deterministic counts instead of a timing to trust. The ROUTER process runs the
active phase under cProfile and reports, per message, its Python calls (``calls_per_msg``),
the cyclic GC's collections during the phase per generation (``gc_collections``), the objects
the GC tracks after it (``gc_tracked``: they grow with N) and what one full collection of them
then takes (``full_gc_ms``). A cost that grows with N shows as calls per message that grow;
full collections come only after net allocations, so with none in the phase the N-sized walk
is never paid per message. The timings of a --count run include cProfile's overhead.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import json
import os
import pstats
import socket
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import impl as perf_impl  # noqa: E402
import zmtp_raw  # noqa: E402

SIZE = 64
FRAME = zmtp_raw.frame(b'r' * SIZE)  # a DEALER's request; its echo comes back the same


# ---------------------------------------------------------------------------- router --

def router(args) -> None:
    zmtp_raw.raise_fd_limit()
    im = perf_impl.Impl(args.impl)
    ctx = im.zmq.Context()
    if hasattr(im.zmq, 'MAX_SOCKETS') and args.impl != 'pyzmq':
        ctx.set(im.zmq.MAX_SOCKETS, max(1024, args.n + 64))
    sock = ctx.socket(im.zmq.ROUTER)
    sock.bind('tcp://127.0.0.1:*')
    ep = sock.last_endpoint
    print(json.dumps({'ready': ep.decode() if isinstance(ep, bytes) else ep,
                      'version': im.version}), flush=True)
    recv, send = sock.recv_multipart, sock.send_multipart
    if args.count_messages:
        for _ in range(args.n):  # the setup phase: one round trip per peer
            send(recv())
        print(json.dumps(count(recv, send, args.count_messages)), flush=True)
    while True:  # the driver kills this process when the peers are done
        send(recv())


def count(recv, send, messages: int) -> dict:
    """Echo ``messages`` round trips under cProfile; what they cost, counted (see --count)."""
    collections = [0, 0, 0]

    def on_gc(phase: str, info: dict) -> None:
        if phase == 'start':
            collections[info['generation']] += 1

    gc.callbacks.append(on_gc)
    profile = cProfile.Profile()
    profile.enable()
    try:
        for _ in range(messages):
            send(recv())
    finally:
        profile.disable()
        gc.callbacks.remove(on_gc)
    tracked = len(gc.get_objects())
    started = time.perf_counter()
    gc.collect()
    return {'calls_per_msg': round(pstats.Stats(profile).total_calls / messages, 3),
            'gc_collections': collections, 'gc_tracked': tracked,
            'full_gc_ms': round((time.perf_counter() - started) * 1e3, 2)}


# ------------------------------------------------------------------------------ peers --

def peers(endpoint: str, n: int, active: int, window: int, messages: int,
          repeat: int) -> dict:
    zmtp_raw.raise_fd_limit()
    host, _, port = endpoint[len('tcp://'):].rpartition(':')
    t0 = time.monotonic()
    conns = []
    for _ in range(n):
        s = socket.create_connection((host, int(port)))
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        zmtp_raw.handshake(s, 'DEALER')
        conns.append(s)
    for i in range(0, n, 1000):  # one round trip each: the ROUTER routes to every peer
        part = conns[i:i + 1000]
        for s in part:
            s.sendall(FRAME)
        for s in part:
            if zmtp_raw.read_exact(s, len(FRAME)) != FRAME:
                raise RuntimeError('a peer got a wrong echo')
    setup = time.monotonic() - t0
    print('ready', flush=True)
    step = max(1, n // active)
    talkers = conns[::step][:active]
    batch = FRAME * window
    buf = bytearray(len(batch))
    view = memoryview(buf)
    rounds = active_rounds(len(talkers), window, messages)
    timings = []
    for _ in range(repeat):
        started = time.perf_counter()
        for _ in range(rounds):
            for s in talkers:
                s.sendall(batch)
            for s in talkers:
                have = 0
                while have < len(buf):
                    got = s.recv_into(view[have:])
                    if not got:
                        raise RuntimeError('the ROUTER closed a connection')
                    have += got
                if buf != batch:
                    raise RuntimeError('a peer got wrong echoes')
        timings.append((time.perf_counter() - started) / (rounds * window * len(talkers)))
    for s in conns:
        s.close()
    us = statistics.median(timings) * 1e6
    return {'peers': n, 'active': len(talkers), 'window': window,
            'roundtrips': rounds * window * len(talkers), 'repeat': repeat,
            'us_per_msg': round(us, 3), 'msgs_per_s': 1e6 / us, 'setup_s': round(setup, 2)}


def active_rounds(talkers: int, window: int, messages: int) -> int:
    """How many windows each active peer sends per timing."""
    return max(1, messages // (window * talkers))


# ---------------------------------------------------------------------------- driver --

def run_one(impl: str, n: int, active: int = 10, window: int = 50, messages: int = 20000,
            repeat: int = 3, counts: bool = False) -> dict:
    """One measurement in two fresh processes; returns a record (with 'error' on failure).
    ``counts``: the ROUTER's counts of the active phase too (see --count)."""
    limit = 60 + n * 0.01 + messages * repeat / (200 if counts else 2000)
    py, me = sys.executable, os.path.abspath(__file__)
    pipes = dict(stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    rec = {'case': 'router', 'transport': 'tcp', 'size': SIZE, 'impl': impl, 'peers': n}
    talkers = min(active, n)
    phase = active_rounds(talkers, window, messages) * window * talkers * repeat
    with perf_impl.Measurement(rec) as procs:
        rt = subprocess.Popen([py, me, '--router', '--impl', impl, '--n', str(n),
                               '--count-messages', str(phase if counts else 0),
                               '--max-duration', str(limit)], **pipes)
        procs.append(rt)
        ready = perf_impl.json_line(rt, 30, 'router start')
        rec['version'] = ready['version']
        pe = subprocess.Popen([py, me, '--load', ready['ready'], '--n', str(n), '--active',
                               str(active), '--window', str(window), '--messages',
                               str(messages), '--repeat', str(repeat), '--max-duration',
                               str(limit)], **pipes)
        procs.append(pe)
        if perf_impl.readline(pe, limit) != 'ready':
            raise RuntimeError('peers not ready: %s' % perf_impl.stderr_tail(pe))
        rec.update(perf_impl.json_line(pe, limit, 'peers'))
        if counts:
            rec.update(perf_impl.json_line(rt, 30, 'router counts'))
        if rt.poll() is not None:
            raise RuntimeError('the router exited: %s' % perf_impl.stderr_tail(rt))
    return rec


def summary(runs: list) -> list:
    """Text lines: per N the medians, gzmq/other ratios, and each impl's flatness."""
    impls = sorted({r['impl'] for r in runs}, key=lambda i: ('gzmq', 'pyzmq', 'green',
                                                             i).index(i))
    sizes = sorted({r['peers'] for r in runs})
    med = {}
    for r in runs:
        if 'error' not in r:
            med.setdefault((r['impl'], r['peers']), []).append(r['us_per_msg'])
    med = {k: statistics.median(v) for k, v in med.items()}
    out = ['%-8s' % 'N' + ''.join('%16s' % ('%s µs/msg' % i) for i in impls) +
           ''.join('%18s' % ('gzmq/%s' % i) for i in impls if i != 'gzmq')]
    for n in sizes:
        row = '%-8d' % n + ''.join('%16s' % ('%.2f' % med[(i, n)] if (i, n) in med else '-')
                                   for i in impls)
        for base in impls:
            if base == 'gzmq':
                continue
            xs = ratios(runs, base, n)
            row += '%18s' % ('%.2f [%.2f-%.2f]' % (statistics.median(xs), min(xs), max(xs))
                             if xs else '-')
        out.append(row)
    for i in impls:
        if (i, sizes[0]) in med and (i, sizes[-1]) in med and len(sizes) > 1:
            out.append('flatness %s: cost at N=%d / N=%d = %.2f' % (
                i, sizes[-1], sizes[0], med[(i, sizes[-1])] / med[(i, sizes[0])]))
    for r in runs:  # --count
        if 'calls_per_msg' in r:
            out.append('counts %-6s N=%-6d round %d: %.2f calls/msg, GC collections %s in '
                       'the phase, %d objects tracked, a full collection %.1f ms' % (
                           r['impl'], r['peers'], r['round'], r['calls_per_msg'],
                           '/'.join(map(str, r['gc_collections'])), r['gc_tracked'],
                           r['full_gc_ms']))
    return out


def ratios(runs: list, base: str, n: int) -> list:
    """gzmq / base speed ratios of the same round (base µs / gzmq µs)."""
    mine = {r['round']: r for r in runs if r['impl'] == 'gzmq' and r['peers'] == n
            and 'error' not in r}
    return [r['us_per_msg'] / mine[r['round']]['us_per_msg'] for r in runs
            if r['impl'] == base and r['peers'] == n and 'error' not in r
            and r['round'] in mine]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
                                 epilog=__doc__.split('\n\n', 1)[1],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--impls', default='gzmq,pyzmq')
    ap.add_argument('--peers', default='10,100,1000,10000', help='values of N')
    ap.add_argument('--active', type=int, default=10, help='peers that talk (default 10)')
    ap.add_argument('--window', type=int, default=50,
                    help='requests each active peer has in flight (default 50)')
    ap.add_argument('--messages', type=int, default=20000, help='round trips per timing')
    ap.add_argument('--repeat', type=int, default=3, help='timings per run (median kept)')
    ap.add_argument('--rounds', type=int, default=3)
    ap.add_argument('--json', action='store_true', help='one JSON line per run')
    ap.add_argument('--count', action='store_true',
                    help="the ROUTER's calls and GC counts too (see below)")
    # the two child roles
    ap.add_argument('--router', action='store_true', help=argparse.SUPPRESS)
    ap.add_argument('--load', metavar='ENDPOINT', help=argparse.SUPPRESS)
    ap.add_argument('--impl', default='gzmq', help=argparse.SUPPRESS)
    ap.add_argument('--n', type=int, default=10, help=argparse.SUPPRESS)
    ap.add_argument('--count-messages', type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument('--max-duration', type=float, default=300.0, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.router or args.load:
        perf_impl.watchdog(args.max_duration, 'router_peers')
        if args.router:
            router(args)
            return 0
        print(json.dumps(peers(args.load, args.n, min(args.active, args.n), args.window,
                               args.messages, args.repeat), sort_keys=True), flush=True)
        return 0
    runs = []
    for n in [int(x) for x in args.peers.split(',') if x]:
        for rnd in range(1, args.rounds + 1):
            for impl in [i for i in args.impls.split(',') if i]:
                r = run_one(impl, n, args.active, args.window, args.messages, args.repeat,
                            counts=args.count)
                r['round'] = rnd
                runs.append(r)
                if args.json:
                    print(json.dumps(r, sort_keys=True), flush=True)
                print('N=%-6d round %d %-6s %s' % (n, rnd, impl, 'ERROR ' + r['error']
                                                   if 'error' in r else
                                                   '%.2f µs/msg (setup %.1f s)' % (
                                                       r['us_per_msg'], r['setup_s'])),
                      file=sys.stderr, flush=True)
    if not args.json:
        print('\n'.join(summary(runs)))
    return 0


if __name__ == '__main__':
    sys.exit(main())
