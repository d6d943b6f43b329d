#!/usr/bin/env python3
"""local_lat: the echo end of the latency test, like libzmq's perf/local_lat.

    python perf/local_lat.py <bind-endpoint> <message-size> <roundtrip-count> [--impl gzmq]

Binds a REP socket and echoes ``roundtrip-count`` messages (or until the requester's empty
end-of-test message), then exits; ``remote_lat`` prints the numbers. With an ``inproc://``
endpoint the requester runs in this process too (pyzmq: a second thread; gzmq and zmq.green:
a second greenlet) and this tool prints the latency itself.
"""

from __future__ import annotations

import sys

import impl as perf_impl
import remote_lat


def echo(sock, size: int, count: int) -> dict:
    recv, send = sock.recv, sock.send
    n = 0
    while n < count:
        m = recv()
        send(m)
        if not m:
            break  # end of test
        if len(m) != size:
            raise RuntimeError('message of %d bytes, expected %d' % (len(m), size))
        n += 1
    return {'echoed': n}


def main(argv=None) -> int:
    ap = perf_impl.parser('local_lat: echo REQ/REP round trips for remote_lat',
                          count_name='roundtrip-count')
    remote_lat.add_args(ap)
    args = ap.parse_args(argv)
    perf_impl.check_args(ap, args)
    perf_impl.watchdog(args.max_duration, 'local_lat')
    im = perf_impl.Impl(args.impl)
    inproc = perf_impl.transport(args.endpoint) == 'inproc'
    ctx = im.zmq.Context()
    sock = im.socket(ctx, 'REP', args.curve, server=True)
    sock.bind(args.endpoint)
    perf_impl.ready(args, sock)
    try:
        if inproc:
            r, timed = im.run_pair(
                lambda: echo(sock, args.message_size, args.count),
                lambda: remote_lat.requester(im, ctx, args, args.endpoint))
            r.update(timed)
        else:
            r = echo(sock, args.message_size, args.count)
    except RuntimeError as e:
        perf_impl.fail(args, 'local_lat', str(e))
    sock.close()
    ctx.term()
    r.update(tool='local_lat', impl=args.impl, version=im.version, pattern='reqrep',
             transport=perf_impl.transport(args.endpoint), size=args.message_size,
             curve=args.curve)
    if inproc:
        out = remote_lat.lines(im, args, r)
    else:
        out = ['implementation: %s' % im.version,
               'message size: %d [B]' % args.message_size,
               'roundtrips echoed: %d' % r['echoed']]
    perf_impl.emit(args, r, out)
    return 0


if __name__ == '__main__':
    sys.exit(main())
