#!/usr/bin/env python3
"""remote_thr: the sending end of the throughput test, like libzmq's perf/remote_thr.

    python perf/remote_thr.py <connect-endpoint> <message-size> <message-count> [--impl gzmq]

Connects a PUSH socket (``--pattern pubsub``: a PUB socket) and sends ``message-count``
messages of ``message-size`` bytes as fast as it can, with the default (copying) ``send``.
Run ``local_thr.py`` on the same endpoint: it binds, receives and prints the throughput.

pubsub: SUB binds and PUB connects. Before timing, the two ends meet on a REQ/REP "sync"
endpoint (default: tcp port + 1, ``<path>.sync`` for ipc, ``<name>-sync`` for inproc): the PUB
sends one-byte probes until the SUB has received one, so no message is lost to the slow-joiner
window. PUB drops messages when the subscriber falls behind (that is PUB/SUB); the SUB reports
what it received, and the PUB prints how many of its messages got through.
"""

from __future__ import annotations

import json
import sys
from time import perf_counter

import impl as perf_impl

PROBE = b'\x00'  # pubsub warm-up probe; payload messages are b'x' * size, end of test is b''


def sync_endpoint(endpoint: str) -> str:
    """Default REQ/REP sync endpoint beside a pubsub data endpoint."""
    proto, addr = endpoint.split('://', 1)
    if proto == 'tcp':
        host, _, port = addr.rpartition(':')
        return 'tcp://%s:%s' % (host, port if port == '*' else int(port) + 1)
    if proto == 'ipc':
        return endpoint + '.sync'
    return endpoint + '-sync'


def send_stream(sock, size: int, count: int, duration: float | None, yield_=None) -> dict:
    """Send ``count`` messages (or until ``duration`` s have passed, then end of test).

    ``yield_``: called once per batch of ~100 kB (gevent impls: ``gevent.sleep(0)``, so a
    subscriber or the hub's I/O in the same process gets to run, as it would beside any
    cooperative producer)."""
    msg = b'x' * size
    send = sock.send
    t0 = perf_counter()
    if duration is None and yield_ is None:
        for _ in range(count):
            send(msg)
        n = count
    else:
        deadline = t0 + duration if duration is not None else float('inf')
        step = max(1, min(100, 100000 // size))  # look at the clock every ~100 kB
        n = 0
        while n < count:
            k = min(step, count - n)
            for _ in range(k):
                send(msg)
            n += k
            if yield_ is not None:
                yield_()
            if perf_counter() >= deadline:
                break
    dt = perf_counter() - t0
    if n < count:
        send(b'')  # end of test: the receiver would otherwise wait for the rest
    return {'sent': n, 'send_seconds': round(dt, 6), 'send_msgs_per_s': n / dt if dt else 0.0}


def sender(im: perf_impl.Impl, ctx, args, endpoint: str, sync_ep: str | None) -> dict:
    """Connect and send; returns the sender's numbers."""
    yield_ = None
    if im.gevent is not None and not args.no_yield:
        sleep = im.gevent.sleep
        yield_ = lambda: sleep(0)
    if args.pattern == 'pushpull':
        s = im.socket(ctx, 'PUSH', args.curve, server=False)
        s.connect(endpoint)
        r = send_stream(s, args.message_size, args.count, args.duration, yield_)
        s.close()  # default linger: the rest of the queue is still delivered
        return r
    pub = im.socket(ctx, 'PUB', args.curve, server=False)
    pub.connect(endpoint)
    req = ctx.socket(im.zmq.REQ)
    req.connect(sync_ep)
    req.send(b'ready?')
    while True:  # probe until the SUB has seen one: the subscription has reached us
        pub.send(PROBE)
        if req.poll(10):
            req.recv()
            break
    r = send_stream(pub, args.message_size, args.count, args.duration, yield_)
    req.send(b'done?')
    while True:  # the end-of-test message may be dropped at the HWM: repeat it
        pub.send(b'')
        if req.poll(10):
            got = json.loads(req.recv())
            break
    r['received'] = got['msgs']
    r['drop_pct'] = round(100.0 * max(0, r['sent'] - got['msgs']) / max(1, r['sent']), 2)
    req.close(linger=0)
    pub.close(linger=0)  # the SUB has told us it is done
    return r


def sender_lines(args, r: dict) -> list:
    lines = ['messages sent: %d in %.3f [s]' % (r['sent'], r['send_seconds']),
             'send rate: %d [msg/s]' % r['send_msgs_per_s']]
    if 'drop_pct' in r:
        lines.append('received by the subscriber: %d (%.2f%% dropped)' % (
            r['received'], r['drop_pct']))
    return lines


def add_args(ap) -> None:
    ap.add_argument('--pattern', choices=('pushpull', 'pubsub'), default='pushpull')
    ap.add_argument('--no-yield', action='store_true',
                    help='gzmq/green sender: never yield to the hub explicitly (default: '
                         'gevent.sleep(0) once per ~100 kB batch)')


def main(argv=None) -> int:
    ap = perf_impl.parser('remote_thr: send messages to local_thr (PUSH, or PUB with '
                          '--pattern pubsub)')
    add_args(ap)
    ap.add_argument('--sync', metavar='ENDPOINT',
                    help='pubsub only: REQ/REP sync endpoint (default: derived from endpoint)')
    args = ap.parse_args(argv)
    perf_impl.check_args(ap, args)
    if perf_impl.transport(args.endpoint) == 'inproc':
        ap.error('inproc needs both ends in one process: run local_thr.py with the inproc '
                 'endpoint, it starts the sender itself')
    perf_impl.watchdog(args.max_duration, 'remote_thr')
    im = perf_impl.Impl(args.impl)
    ctx = im.zmq.Context()
    sync_ep = (args.sync or sync_endpoint(args.endpoint)) if args.pattern == 'pubsub' else None
    r = sender(im, ctx, args, args.endpoint, sync_ep)
    ctx.term()
    r.update(tool='remote_thr', impl=args.impl, version=im.version, pattern=args.pattern,
             transport=perf_impl.transport(args.endpoint), size=args.message_size,
             curve=args.curve)
    perf_impl.emit(args, r, ['implementation: %s' % im.version,
                             'message size: %d [B]' % args.message_size] + sender_lines(args, r))
    return 0


if __name__ == '__main__':
    sys.exit(main())
