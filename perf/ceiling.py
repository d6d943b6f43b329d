#!/usr/bin/env python3
"""ceiling: what a pure-Python gevent program does over the same wire, with no ZeroMQ.

    python perf/ceiling.py local_thr tcp://127.0.0.1:5555 64 1000000 &
    python perf/ceiling.py remote_thr tcp://127.0.0.1:5555 64 1000000
    python perf/ceiling.py local_lat ipc:///tmp/lat.ipc 64 10000 &
    python perf/ceiling.py remote_lat ipc:///tmp/lat.ipc 64 10000
    python perf/ceiling.py local_thr tcp://127.0.0.1:5557 64 1000000 --pattern pubsub &
    python perf/ceiling.py remote_thr tcp://127.0.0.1:5557 64 1000000 --pattern pubsub

The first argument is the role; the rest is the command line of the tool of that name
(local_thr.py, remote_thr.py, local_lat.py, remote_lat.py), so compare.py runs it as one more
implementation ("raw") of the same tests, and the same JSON comes out.

What it does is the minimum any ZeroMQ data path in Python must do, and nothing else:

- gevent sockets (tcp with TCP_NODELAY, or unix sockets for ipc), one connection;
- a real ZMTP 3.1 greeting and NULL handshake with the socket types of the test (PUSH/PULL,
  PUB/SUB, REQ/REP), so the bytes on the wire are a ZeroMQ peer's (it talks to libzmq too);
- sending: each message is framed (2- or 9-byte header) into one buffer, written with one
  ``sendall`` per ~64 KiB batch; a body of 64 KiB or more is written as it is, after its
  header (no copy into the batch);
- receiving: ``recv_into`` a reused 256 KiB buffer, frames parsed in place, one ``bytes``
  per message (what ``recv()`` must return); a body larger than the buffer is read into a
  reused scratch buffer and copied once;
- no queues, no high-water marks, no routing, no greenlet but the main one; PUB checks each
  message against the subscription (a prefix test), REQ/REP carry the empty delimiter frame.

- ``--curve`` (thr only): the CURVE handshake is gzmq's sans-IO one (not timed); then each
  message is boxed in place into the batch buffer and opened from the receive buffer into a
  reused one, straight through PyNaCl's cffi binding of libsodium (no other work per message).

That is the "measured ceiling" of issue 12: a target gzmq misses can be shown out of reach
in pure Python when gzmq is within 10% of this program in the same run.
"""

from __future__ import annotations

import os
import socket as stdsocket
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import impl as perf_impl  # noqa: E402
import local_lat  # noqa: E402
import local_thr  # noqa: E402
import remote_lat  # noqa: E402
import remote_thr  # noqa: E402
import zmtp_raw  # noqa: E402

ROLES = ('local_thr', 'remote_thr', 'local_lat', 'remote_lat')
BUFFER = 256 * 1024
COALESCE = 64 * 1024
BIG = 64 * 1024  # bodies of this size or more are written on their own


class Wire:
    """One raw ZMTP connection with the ``send``/``recv`` of a socket: what the shared
    loops of local_thr, remote_thr, local_lat and remote_lat call."""

    def __init__(self, sock, prefix: bytes = b'', flush_each: bool = False,
                 topic: bytes | None = None) -> None:
        self.sock = sock
        self.prefix = prefix  # frames sent before each message (REQ/REP: the delimiter)
        self.flush_each = flush_each
        self.topic = topic  # PUB: the subscriber's subscription
        self.out: list[bytes] = []
        self.pending = 0
        self.buf = bytearray(BUFFER)
        self.view = memoryview(self.buf)
        self.start = self.end = 0
        self.scratch = bytearray()

    # -- sending --
    def send(self, msg: bytes) -> None:
        topic = self.topic
        if topic is not None and not msg.startswith(topic):
            return  # PUB: not subscribed
        n = len(msg)
        if n >= BIG:
            self.flush()
            self.sock.sendall(self.prefix + zmtp_raw.header(n))
            self.sock.sendall(msg)
            return
        out = self.out
        if self.prefix:
            out.append(self.prefix)
        out.append(bytes((0, n)) if n < 256 else b'\x02' + n.to_bytes(8, 'big'))
        out.append(msg)
        self.pending += n
        if self.flush_each or self.pending >= COALESCE:
            self.flush()

    def flush(self) -> None:
        if self.out:
            self.sock.sendall(b''.join(self.out))
            self.out.clear()
            self.pending = 0

    # -- receiving --
    #: CURVE: opens the body at (view, start, size) into the part; None: the body is the part
    open_body = None

    def recv(self) -> bytes:
        """The last frame of the next message (REQ/REP: after the delimiter)."""
        buf, start, end, open_body = self.buf, self.start, self.end, self.open_body
        while True:
            avail = end - start
            if avail >= 2:
                flags = buf[start]
                if flags & 0x02:
                    if avail >= 9:
                        size = int.from_bytes(buf[start + 1:start + 9], 'big')
                        body = start + 9
                    else:
                        size, body = -1, 0
                else:
                    size, body = buf[start + 1], start + 2
                if size >= 0 and body + size <= end:
                    self.start = start = body + size
                    if flags & 0x05:  # MORE (the delimiter) or a command: not a message
                        continue
                    if open_body is not None:
                        return open_body(self.view, body, size)
                    return bytes(self.view[body:body + size])
                if size >= 0 and size + 9 > BUFFER:
                    self.start, self.end = start, end
                    return self._recv_big(body, size)
            if start == end:
                start = end = 0
            elif BUFFER - end < BIG:  # little room left: move the partial frame to the front
                tail = bytes(self.view[start:end])
                buf[:len(tail)] = tail
                start, end = 0, len(tail)
            n = self.sock.recv_into(self.view[end:])
            if not n:
                raise EOFError('the peer closed the connection')
            end += n
            self.start, self.end = start, end

    def _recv_big(self, body: int, size: int) -> bytes:
        if len(self.scratch) < size:
            self.scratch = bytearray(size)
        have = self.end - body
        mv = memoryview(self.scratch)
        mv[:have] = self.view[body:self.end]
        self.start = self.end = 0
        while have < size:
            n = self.sock.recv_into(mv[have:size])
            if not n:
                raise EOFError('the peer closed the connection')
            have += n
        return bytes(mv[:size])


class CurveWire(Wire):
    """A Wire whose messages are CurveZMQ MESSAGE boxes, made and opened with libsodium
    through PyNaCl's cffi binding and nothing else: the least a pure-Python CURVE data path
    does per message (thr only: single-frame messages, no commands)."""

    def __init__(self, sock, mechanism) -> None:
        super().__init__(sock)
        from nacl._sodium import ffi, lib
        self.ffi, self.seal, self.unseal = ffi, lib.crypto_box_easy_afternm, \
            lib.crypto_box_open_easy_afternm
        self.key = mechanism._precom  # the session key the handshake agreed
        self.nonce = mechanism._send_nonce  # the counters go on from the handshake's
        self.peer_nonce = mechanism._peer_nonce
        self.send_nonce_buf = bytearray(mechanism._send_prefix + bytes(8))
        self.send_nonce_ptr = ffi.from_buffer(self.send_nonce_buf)
        self.recv_nonce_buf = bytearray(mechanism._recv_prefix + bytes(8))
        self.recv_nonce_ptr = ffi.from_buffer(self.recv_nonce_buf)
        self.batch = bytearray(COALESCE + BIG)
        self.batch_ptr = ffi.from_buffer(self.batch)
        self.used = 0
        self.opened = ffi.new('unsigned char[]', BIG)
        self.plain = ffi.buffer(self.opened)
        self.src = ffi.from_buffer(self.buf)

    def send(self, msg: bytes) -> None:
        n = len(msg)
        size = n + 33  # 07 MESSAGE, nonce, MAC, flags
        if n >= BIG - 64:
            raise ValueError('the CURVE ceiling boxes messages under 64 KiB')
        pos = self.used
        if size < 256:
            _SHORT_HEAD.pack_into(self.batch, pos, 0, size, b'\x07MESSAGE', self.nonce)
            mac = pos + 18
        else:
            _LONG_HEAD.pack_into(self.batch, pos, 2, size, b'\x07MESSAGE', self.nonce)
            mac = pos + 25
        _U64.pack_into(self.send_nonce_buf, 16, self.nonce)
        self.nonce += 1
        text = mac + 16
        self.batch[text] = 0
        self.batch[text + 1:text + 1 + n] = msg
        ptr = self.batch_ptr
        if self.seal(ptr + mac, ptr + text, n + 1, self.send_nonce_ptr, self.key) != 0:
            raise ValueError('libsodium could not box')
        self.used = text + 1 + n
        if self.used >= COALESCE:
            self.flush()

    def flush(self) -> None:
        if self.used:
            self.sock.sendall(memoryview(self.batch)[:self.used])
            self.used = 0

    def open_body(self, view, start: int, size: int) -> bytes:
        if not 33 <= size <= BIG or view[start:start + 8] != b'\x07MESSAGE':
            raise ValueError('not a CURVE MESSAGE (of under 64 KiB)')
        nonce = _U64.unpack_from(view, start + 8)[0]
        if nonce <= self.peer_nonce:
            raise ValueError('MESSAGE nonce out of sequence')
        self.peer_nonce = nonce
        _U64.pack_into(self.recv_nonce_buf, 16, nonce)
        if self.unseal(self.opened, self.src + start + 16, size - 16, self.recv_nonce_ptr,
                       self.key) != 0:
            raise ValueError('MESSAGE box does not open')
        return self.plain[1:size - 32]


_U64 = struct.Struct('>Q')
_SHORT_HEAD = struct.Struct('>BB8sQ')
_LONG_HEAD = struct.Struct('>BQ8sQ')


def curve_handshake(sock, socket_type: str, server: bool):
    """Greeting and CURVE handshake with perf/impl.py's test keys, by gzmq's sans-IO
    Connection (not timed: throughput counts from the first message). Returns the mechanism,
    whose session key and nonce counters the CurveWire takes over."""
    if os.path.dirname(HERE) not in sys.path:
        sys.path.insert(0, os.path.dirname(HERE))  # this checkout's gzmq
    from gzmq.zmtp import Connection, ConnectionState, CurveClient, CurveServer, z85
    keys = {name: z85.decode(getattr(perf_impl, 'CURVE_' + name))
            for name in ('SERVER_PUBLIC', 'SERVER_SECRET', 'CLIENT_PUBLIC', 'CLIENT_SECRET')}
    if server:
        mechanism = CurveServer(keys['SERVER_PUBLIC'], keys['SERVER_SECRET'], zap=False)
    else:
        mechanism = CurveClient(keys['CLIENT_PUBLIC'], keys['CLIENT_SECRET'],
                                keys['SERVER_PUBLIC'])
    conn = Connection(socket_type, mechanism)
    sock.sendall(conn.initiate())
    while conn.state is not ConnectionState.READY:
        out = conn.data_to_send()
        if out:
            sock.sendall(out)
        data = sock.recv(65536)
        if not data:
            raise EOFError('the peer closed the connection during the handshake')
        if any(isinstance(event, list) for event in conn.receive_data(data)):
            raise ValueError('a message came with the handshake')
    out = conn.data_to_send()  # the server's READY
    if out:
        sock.sendall(out)
    return mechanism


def _address(endpoint: str):
    proto, addr = endpoint.split('://', 1)
    if proto == 'tcp':
        host, _, port = addr.rpartition(':')
        return stdsocket.AF_INET, (host, 0 if port == '*' else int(port))
    if proto == 'ipc':
        return stdsocket.AF_UNIX, addr
    raise SystemExit('ceiling: tcp:// or ipc:// only, not %r' % endpoint)


def _tune(sock, family) -> None:
    if family == stdsocket.AF_INET:
        sock.setsockopt(stdsocket.IPPROTO_TCP, stdsocket.TCP_NODELAY, 1)


def bind(args):
    """Listen, announce the endpoint (the {"ready": ...} line), accept one peer."""
    from gevent import socket
    family, addr = _address(args.endpoint)
    listener = socket.socket(family, socket.SOCK_STREAM)
    if family == socket.AF_INET:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(addr)
    listener.listen(1)
    endpoint = args.endpoint
    if family == socket.AF_INET:
        endpoint = 'tcp://%s:%d' % listener.getsockname()[:2]
    perf_impl.ready(args, _Named(endpoint))
    conn, _ = listener.accept()
    listener.close()
    _tune(conn, family)
    return conn


def connect(args):
    """Connect, retrying while nobody listens yet (as a ZeroMQ socket reconnects)."""
    import gevent
    from gevent import socket
    family, addr = _address(args.endpoint)
    while True:
        conn = socket.socket(family, socket.SOCK_STREAM)
        try:
            conn.connect(addr)
            break
        except (ConnectionRefusedError, FileNotFoundError):
            conn.close()
            gevent.sleep(0.02)  # the watchdog bounds the wait
    _tune(conn, family)
    return conn


class _Named:
    def __init__(self, endpoint: str) -> None:
        self.last_endpoint = endpoint


def run(role: str, args) -> dict:
    pubsub = getattr(args, 'pattern', 'pushpull') == 'pubsub'
    if role == 'local_thr' and args.curve:
        conn = bind(args)
        r = local_thr.recv_stream(CurveWire(conn, curve_handshake(conn, 'PULL', server=True)),
                                  args.message_size, args.count)
    elif role == 'local_thr':
        conn = bind(args)
        zmtp_raw.handshake(conn, 'SUB' if pubsub else 'PULL')
        if pubsub:
            conn.sendall(zmtp_raw.SUBSCRIBE_ALL)
        r = local_thr.recv_stream(Wire(conn), args.message_size, args.count)
    elif role == 'remote_thr':
        conn = connect(args)
        if args.curve:
            wire = CurveWire(conn, curve_handshake(conn, 'PUSH', server=False))
        else:
            zmtp_raw.handshake(conn, 'PUB' if pubsub else 'PUSH')
            wire = Wire(conn, topic=zmtp_raw.read_subscription(conn) if pubsub else None)
        r = remote_thr.send_stream(wire, args.message_size, args.count, args.duration)
        wire.flush()
    elif role == 'local_lat':
        conn = bind(args)
        zmtp_raw.handshake(conn, 'REP')
        r = local_lat.echo(Wire(conn, zmtp_raw.DELIMITER, flush_each=True),
                           args.message_size, args.count)
    else:
        conn = connect(args)
        zmtp_raw.handshake(conn, 'REQ')
        warmup = args.warmup if args.warmup is not None else min(20, args.count // 10)
        r = remote_lat.pingpong(Wire(conn, zmtp_raw.DELIMITER, flush_each=True),
                                args.message_size, args.count, args.duration, warmup)
    if role == 'remote_thr':  # wait for the receiver to close: everything was delivered
        conn.shutdown(stdsocket.SHUT_WR)
        try:
            while conn.recv(4096):
                pass
        except OSError:
            pass
    conn.close()
    return r


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in ROLES:
        print('usage: ceiling.py {%s} <endpoint> <message-size> <count> [options of that tool]'
              % ','.join(ROLES), file=sys.stderr)
        return 2
    role = argv.pop(0)
    lat = role.endswith('_lat')
    ap = perf_impl.parser('ceiling %s: raw gevent sockets speaking ZMTP' % role,
                          count_name='roundtrip-count' if lat else 'message-count',
                          impls=('raw',))
    if lat:
        remote_lat.add_args(ap)
    else:
        remote_thr.add_args(ap)
        ap.add_argument('--sync', help='ignored (the raw PUB waits for the subscription)')
    args = ap.parse_args(argv)
    perf_impl.check_args(ap, args)
    if args.curve and (lat or args.pattern != 'pushpull'):
        ap.error('the ceiling has CURVE for PUSH/PULL throughput only')
    perf_impl.watchdog(args.max_duration, 'ceiling')
    import gevent
    try:
        r = run(role, args)
    except (RuntimeError, EOFError, ValueError, OSError) as e:
        perf_impl.fail(args, 'ceiling', '%s: %s' % (type(e).__name__, e))
    finally:
        if args.endpoint.startswith('ipc://') and role.startswith('local'):
            try:
                os.unlink(args.endpoint[len('ipc://'):])
            except OSError:
                pass
    r.update(tool='ceiling ' + role, impl='raw', transport=perf_impl.transport(args.endpoint),
             size=args.message_size, pattern='reqrep' if lat else args.pattern,
             version='raw gevent %s sockets, ZMTP framing%s' % (
                 gevent.__version__, ', CURVE boxes by PyNaCl' if args.curve else ''))
    lines = ['implementation: %s' % r['version'], 'message size: %d [B]' % args.message_size]
    if role == 'local_thr':
        lines += ['message count: %d' % r['msgs'],
                  'mean throughput: %d [msg/s]' % r['msgs_per_s'],
                  'mean throughput: %.3f [Mb/s]' % r['mbit_per_s']]
    elif role == 'remote_thr':
        lines += remote_thr.sender_lines(args, r)
    elif role == 'local_lat':
        lines += ['roundtrips echoed: %d' % r['echoed']]
    else:
        lines = remote_lat.lines(_Version(r['version']), args, r)
    perf_impl.emit(args, r, lines)
    return 0


class _Version:
    def __init__(self, version: str) -> None:
        self.version = version


if __name__ == '__main__':
    sys.exit(main())
