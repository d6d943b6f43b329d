"""Raw ZMTP 3.1 over plain sockets, for the perf tools' load generators and ceiling.

Not a ZeroMQ implementation: just enough of the wire (NULL greeting, READY, short and long
frames) for a process of plain (or gevent) sockets to be a peer of gzmq or libzmq, so the
peer side of a benchmark is the same fixed load whichever implementation is measured.
Every function takes a socket with the blocking ``socket`` API (a gevent socket works too).
Used by ceiling.py, fanout.py, router_peers.py and many_peers.py.
"""

from __future__ import annotations

import os
import resource
import struct

#: the greeting of a NULL, not-as-server peer (ZMTP 3.1), as libzmq sends it
GREETING = b"\xff" + b"\x00" * 7 + b"\x01\x7f\x03\x01NULL" + b"\x00" * 16 + b"\x00" * 32
GREETING_SIZE = 64
MORE, LONG, COMMAND = 0x01, 0x02, 0x04
DELIMITER = b"\x01\x00"  # an empty frame with MORE: the REQ/REP envelope's delimiter
SUBSCRIBE_ALL = b"\x00\x01\x01"  # a SUB's subscription to everything, in message form (3.0)


def frame(body: bytes, more: bool = False) -> bytes:
    """One encoded message frame (header + body)."""
    n = len(body)
    if n < 256:
        return bytes((MORE if more else 0, n)) + body
    return bytes(((MORE if more else 0) | LONG,)) + n.to_bytes(8, "big") + body


def header(size: int) -> bytes:
    """The header of a last (no MORE) frame of ``size`` bytes."""
    return bytes((0, size)) if size < 256 else b"\x02" + size.to_bytes(8, "big")


def ready_command(socket_type: str) -> bytes:
    body = b"\x05READY" + b"\x0bSocket-Type" + struct.pack(">I", len(socket_type)) + \
        socket_type.encode()
    return bytes((COMMAND, len(body))) + body


def hello(socket_type: str) -> bytes:
    """Greeting and READY in one write (a NULL peer need not wait for the other's greeting)."""
    return GREETING + ready_command(socket_type)


def read_exact(sock, n: int) -> bytes:
    out = bytearray()
    while len(out) < n:
        data = sock.recv(n - len(out))
        if not data:
            raise EOFError("peer closed during the handshake")
        out += data
    return bytes(out)


def read_frame(sock) -> tuple[int, bytes]:
    """One frame, read byte-exactly (for the handshake: nothing after it is consumed)."""
    flags, size = read_exact(sock, 2)
    if flags & LONG:
        size = int.from_bytes(bytes((size,)) + read_exact(sock, 7), "big")
    return flags, read_exact(sock, size)


def handshake(sock, socket_type: str) -> str:
    """Send our greeting and READY, read the peer's; return the peer's socket type."""
    sock.sendall(hello(socket_type))
    greeting = read_exact(sock, GREETING_SIZE)
    if greeting[0] != 0xFF or greeting[9] != 0x7F or greeting[10] != 3:
        raise ValueError("not a ZMTP 3 greeting: %r" % greeting[:12])
    if greeting[12:16] != b"NULL":
        raise ValueError("the peer wants mechanism %r" % greeting[12:32].rstrip(b"\0"))
    flags, body = read_frame(sock)
    if not flags & COMMAND or not body.startswith(b"\x05READY"):
        raise ValueError("expected READY, got %r" % body[:20])
    return ready_properties(body).get("Socket-Type", b"").decode()


def ready_properties(body: bytes) -> dict[str, bytes]:
    props, i = {}, 6
    while i < len(body):
        n = body[i]
        name = body[i + 1:i + 1 + n].decode()
        i += 1 + n
        (vlen,) = struct.unpack(">I", body[i:i + 4])
        props[name] = body[i + 4:i + 4 + vlen]
        i += 4 + vlen
    return props


def read_subscription(sock) -> bytes:
    """A PUB's side: the first subscription of its SUB peer (message or command form)."""
    while True:
        flags, body = read_frame(sock)
        if flags & COMMAND and body.startswith(b"\x09SUBSCRIBE"):
            return body[10:]
        if not flags & COMMAND and body[:1] == b"\x01":
            return body[1:]


def raise_fd_limit() -> int:
    """Raise RLIMIT_NOFILE to its hard limit; returns the new soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY:
        hard = 1 << 20
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def reset_peak_rss() -> bool:
    """Reset the kernel's peak-RSS mark (VmHWM) of this process; False where unsupported."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def peak_rss_bytes() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return rss_bytes()
