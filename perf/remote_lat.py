#!/usr/bin/env python3
"""remote_lat: the timing end of the latency test, like libzmq's perf/remote_lat.

    python perf/local_lat.py <bind-endpoint> <message-size> <roundtrip-count> [--impl gzmq]
    python perf/remote_lat.py <connect-endpoint> <message-size> <roundtrip-count> [--impl gzmq]

Connects a REQ socket to ``local_lat``'s REP echo and does ``roundtrip-count`` round trips
of ``message-size`` bytes. The first ``--warmup`` round trips (default: min(20, count/10))
are not timed; every other one is timed on its own. Prints the average latency the way
libzmq does (half the mean round trip, i.e. one way) and the round-trip p50 / p99 in µs.
"""

from __future__ import annotations

import sys
from time import perf_counter_ns

import impl as perf_impl


def pingpong(sock, size: int, count: int, duration: float | None, warmup: int) -> dict:
    msg = b'x' * size
    send, recv = sock.send, sock.recv
    warmup = min(warmup, count - 1)
    for _ in range(warmup):
        send(msg)
        recv()
    now = perf_counter_ns
    samples = []
    add = samples.append
    done = warmup
    deadline = now() + int(duration * 1e9) if duration is not None else None
    while done < count:
        t0 = now()
        send(msg)
        recv()
        t1 = now()
        add(t1 - t0)
        done += 1
        if deadline is not None and t1 >= deadline:
            break
    if done < count:  # stopped by --duration: end of test
        send(b'')
        recv()
    return lat_result(samples)


def lat_result(ns: list) -> dict:
    s = sorted(ns)
    n = len(s)
    us = lambda v: round(v / 1e3, 3)
    mean = sum(s) / n
    return {'roundtrips': n, 'seconds': round(sum(s) / 1e9, 6),
            'latency_us': us(mean / 2),  # libzmq's "average latency": one way
            'rtt_mean_us': us(mean), 'rtt_p50_us': us(s[n // 2]),
            'rtt_p99_us': us(s[min(n - 1, int(n * 0.99))]),
            'rtt_min_us': us(s[0]), 'rtt_max_us': us(s[-1]),
            'roundtrips_per_s': n / (sum(s) / 1e9)}


def requester(im, ctx, args, endpoint: str) -> dict:
    s = im.socket(ctx, 'REQ', args.curve, server=False)
    s.connect(endpoint)
    warmup = args.warmup if args.warmup is not None else min(20, args.count // 10)
    r = pingpong(s, args.message_size, args.count, args.duration, warmup)
    s.close()
    return r


def lines(im, args, r: dict) -> list:
    return ['implementation: %s' % im.version,
            'message size: %d [B]' % args.message_size,
            'roundtrip count: %d (timed)' % r['roundtrips'],
            'average latency: %.3f [us]' % r['latency_us'],
            'round trip p50: %.3f [us]' % r['rtt_p50_us'],
            'round trip p99: %.3f [us]' % r['rtt_p99_us']]


def add_args(ap) -> None:
    ap.add_argument('--warmup', type=int, default=None, metavar='N',
                    help='untimed round trips first, part of the count (default min(20, count/10))')


def main(argv=None) -> int:
    ap = perf_impl.parser('remote_lat: time REQ/REP round trips against local_lat',
                          count_name='roundtrip-count')
    add_args(ap)
    args = ap.parse_args(argv)
    perf_impl.check_args(ap, args)
    if perf_impl.transport(args.endpoint) == 'inproc':
        ap.error('inproc needs both ends in one process: run local_lat.py with the inproc '
                 'endpoint, it starts the requester itself')
    perf_impl.watchdog(args.max_duration, 'remote_lat')
    im = perf_impl.Impl(args.impl)
    ctx = im.zmq.Context()
    r = requester(im, ctx, args, args.endpoint)
    ctx.term()
    r.update(tool='remote_lat', impl=args.impl, version=im.version, pattern='reqrep',
             transport=perf_impl.transport(args.endpoint), size=args.message_size,
             curve=args.curve)
    perf_impl.emit(args, r, lines(im, args, r))
    return 0


if __name__ == '__main__':
    sys.exit(main())
