#!/usr/bin/env python3
"""local_thr: the receiving end of the throughput test, like libzmq's perf/local_thr.

    python perf/local_thr.py <bind-endpoint> <message-size> <message-count> [--impl gzmq]
    python perf/remote_thr.py <connect-endpoint> <message-size> <message-count> [--impl gzmq]

Binds a PULL socket (``--pattern pubsub``: a SUB socket, subscribed to everything), receives
``message-count`` messages (or until the sender's empty end-of-test message) and prints the
mean throughput in msg/s and Mb/s (megabits, as libzmq does). The clock starts at the first
message, so start-up and connection set-up are not measured; the rate is the messages after
the first divided by the time from the first to the last.

With an ``inproc://`` endpoint both ends run in this process (pyzmq: the sender in a second
thread, like libzmq's inproc_thr; gzmq and zmq.green: in a second greenlet) and the sender's
numbers are printed too.
"""

from __future__ import annotations

import json
import sys
from time import perf_counter

import impl as perf_impl
import remote_thr


def recv_stream(sock, size: int, count: int, skip: bytes | None = None) -> dict:
    recv = sock.recv
    m = recv()
    if skip is not None:
        while m == skip:
            m = recv()
    if not m:
        raise RuntimeError('the sender ended the test before its first message')
    if len(m) != size:
        raise RuntimeError('message of %d bytes, expected %d' % (len(m), size))
    t0 = perf_counter()  # like local_thr: the clock starts at the first message
    n = 1
    while n < count:
        if not recv():
            break  # end of test
        n += 1
    dt = perf_counter() - t0
    rate = (n - 1) / dt if n > 1 and dt > 0 else 0.0
    return {'msgs': n, 'seconds': round(dt, 6), 'msgs_per_s': rate,
            'mb_per_s': rate * size / 1e6, 'mbit_per_s': rate * size * 8 / 1e6}


def main(argv=None) -> int:
    ap = perf_impl.parser('local_thr: receive messages from remote_thr and print the throughput '
                          '(PULL, or SUB with --pattern pubsub)')
    remote_thr.add_args(ap)
    ap.add_argument('--sync', metavar='ENDPOINT',
                    help='pubsub only: REQ/REP sync endpoint (default: derived from endpoint)')
    args = ap.parse_args(argv)
    perf_impl.check_args(ap, args)
    perf_impl.watchdog(args.max_duration, 'local_thr')
    im = perf_impl.Impl(args.impl)
    inproc = perf_impl.transport(args.endpoint) == 'inproc'
    ctx = im.zmq.Context()
    size, count = args.message_size, args.count

    if args.pattern == 'pushpull':
        sock = im.socket(ctx, 'PULL', args.curve, server=True)
        sock.bind(args.endpoint)
        rep = None
        perf_impl.ready(args, sock)
    else:
        sock = im.socket(ctx, 'SUB', args.curve, server=True)
        sock.setsockopt(im.zmq.SUBSCRIBE, b'')
        sock.bind(args.endpoint)
        rep = ctx.socket(im.zmq.REP)
        rep.bind(args.sync or remote_thr.sync_endpoint(args.endpoint))
        perf_impl.ready(args, sock, rep)

    def receive() -> dict:
        if rep is None:
            return recv_stream(sock, size, count)
        sock.recv()  # a probe: our subscription has reached the publisher
        rep.recv()
        rep.send(b'go')
        r = recv_stream(sock, size, count, skip=remote_thr.PROBE)
        rep.recv()  # "done?": tell the publisher what we got
        rep.send(json.dumps({'msgs': r['msgs']}).encode())
        return r

    try:
        if inproc:
            ep = sock.last_endpoint
            ep = ep.decode() if isinstance(ep, bytes) else ep
            sync_ep = rep.last_endpoint if rep is not None else None
            sync_ep = sync_ep.decode() if isinstance(sync_ep, bytes) else sync_ep
            r, sent = im.run_pair(receive, lambda: remote_thr.sender(im, ctx, args, ep, sync_ep))
            r.update(sent)
        else:
            r = receive()
    except RuntimeError as e:
        perf_impl.fail(args, 'local_thr', str(e))
    sock.close()
    if rep is not None:
        rep.close()
    ctx.term()

    r.update(tool='local_thr', impl=args.impl, version=im.version, pattern=args.pattern,
             transport=perf_impl.transport(args.endpoint), size=size, curve=args.curve)
    lines = ['implementation: %s' % im.version,
             'message size: %d [B]' % size,
             'message count: %d' % r['msgs'],
             'mean throughput: %d [msg/s]' % r['msgs_per_s'],
             'mean throughput: %.3f [Mb/s]' % r['mbit_per_s']]
    if inproc:
        lines += remote_thr.sender_lines(args, r)
    perf_impl.emit(args, r, lines)
    return 0


if __name__ == '__main__':
    sys.exit(main())
