"""One side of a multicast test, run inside a network namespace the test created.

``python mcast_peer.py '<json>'`` with the interpreter of the side it plays: the venv's python
with ``"lib": "gzmq"``, Debian's /usr/bin/python3 (libzmq with OpenPGM) with ``"lib": "zmq"``.

    {"lib": "gzmq" | "zmq", "role": "pub" | "sub", "endpoint": "epgm://...",
     "count": 10000,            # messages to publish / to expect
     "sizes": [0, 10, ...],     # body sizes, used round-robin (message i: [b"%08d" % i, body])
     "options": {"RATE": 100000, ...},
     "loss": 0.05,              # gzmq only: drop this share of ODATA ("out" pub, "in" sub)
     "stop_at": n,              # sub: stop after message number n
     "socket": "XPUB",          # instead of PUB / SUB
     "deadline": 30}            # s: the sub gives up after this long

The sub prints ``READY`` on stderr once connected, then one JSON line on stdout: messages
received, the first number, whether they came in order without a gap, whether every body was
intact, and the time from first to last message. The pub prints ``{"sent": n, "seconds": t}``
once its stdin closes (the subscribers are done) or after ``linger`` seconds, serving NAKs
meanwhile.
"""
import json
import os
import sys
import time

cfg = json.loads(sys.argv[1])
if cfg["lib"] == "gzmq":
    import gzmq as zmq
    from gevent import sleep
else:
    import zmq
    from time import sleep


def body(i, sizes):
    size = sizes[i % len(sizes)]
    return (b"%08d" % i * (size // 8 + 1))[:size]


ctx = zmq.Context()
kind = cfg.get("socket", "PUB" if cfg["role"] == "pub" else "SUB")
sock = ctx.socket(getattr(zmq, kind))
for name, value in cfg.get("options", {}).items():
    sock.setsockopt(getattr(zmq, name), value)
if cfg.get("loss"):
    import random
    from gzmq.transports import pgm as pgm_transport
    rng = random.Random(cfg.get("seed", 1))
    direction = "out" if cfg["role"] == "pub" else "in"
    dropped = [0]

    def hook(where, datagram):
        if where == direction and rng.random() < cfg["loss"]:
            dropped[0] += 1
            return True
        return False
    pgm_transport.loss_hook = hook
def sessions():
    """gzmq's pgm sessions of this socket, for their counters."""
    from gzmq.transports import pgm
    return pgm.sessions(sock)


sizes = cfg.get("sizes", [100])
count = cfg["count"]
if cfg["role"] == "sub":
    if kind == "SUB":
        sock.setsockopt(zmq.SUBSCRIBE, b"")
    sock.setsockopt(zmq.RCVTIMEO, 500)
    sock.connect(cfg["endpoint"])
    if kind == "XSUB":
        sock.send(b"\x01")  # subscribe to everything (PGM carries it nowhere: filters locally)
    print("READY", file=sys.stderr, flush=True)
    if cfg.get("junk"):  # hostile traffic to the group: random bytes, bad PGM, wrong checksums
        import random
        import socket as stdsocket
        group, port = cfg["endpoint"].rsplit(";", 1)[1].rsplit(":", 1)
        junk = stdsocket.socket(stdsocket.AF_INET, stdsocket.SOCK_DGRAM)
        junk.setsockopt(stdsocket.IPPROTO_IP, stdsocket.IP_MULTICAST_IF,
                        stdsocket.inet_aton("127.0.0.1"))
        rng = random.Random(5)
        for n in range(cfg["junk"]):
            size = rng.choice([0, 1, 15, 16, 24, 36, 100, 1500])
            data = bytearray(rng.getrandbits(8) for _ in range(size))
            if size >= 24 and n % 2:
                data[2:4] = int(port).to_bytes(2, "big")  # our port, so it is parsed further
                data[4] = rng.choice([0, 4, 5, 10])
            junk.sendto(bytes(data), (group, int(port)))
        junk.close()
    got = 0
    first = last = None
    in_order = intact = True
    t_first = t_last = None
    deadline = time.monotonic() + cfg.get("deadline", 30)
    while got < count and time.monotonic() < deadline:
        try:
            msg = sock.recv_multipart()
        except zmq.Again:
            continue
        now = time.monotonic()
        number = int(msg[0])
        if first is None:
            first, t_first = number, now
        elif number != last + 1:
            in_order = False
        if msg[1] != body(number, sizes):
            intact = False
        last, t_last = number, now
        got += 1
        if number == cfg.get("stop_at"):
            break
    result = {"received": got, "first": first, "last": last, "in_order": in_order,
              "intact": intact, "seconds": (t_last - t_first) if got else None}
    if cfg["lib"] == "gzmq":
        for session in sessions():
            receiver = session.receiver
            result.update(naks=receiver.naks_sent, repaired=receiver.repaired,
                          lost=receiver.lost_packets, bad=receiver.bad_packets)
    if cfg.get("loss"):
        result["dropped"] = dropped[0]
    print(json.dumps(result), flush=True)
else:
    sock.connect(cfg["endpoint"])
    sleep(cfg.get("settle", 0.5))
    start = cfg.get("start", 0)
    t0 = time.monotonic()
    for i in range(start, start + count):
        sock.send_multipart([b"%08d" % i, body(i, sizes)])
        if cfg.get("pace") and i % cfg["pace"] == 0:
            sleep(0.001)
    sent_at = time.monotonic() - t0
    result = {"sent": count, "seconds": sent_at}
    # serve NAKs before going away: until the test says the subscribers are done (it closes
    # our stdin), at most "linger" seconds
    if cfg["lib"] == "gzmq":
        from gevent.select import select
    else:
        from select import select
    deadline = time.monotonic() + cfg.get("linger", 2.0)
    while time.monotonic() < deadline:
        if select([sys.stdin], [], [], max(0.0, deadline - time.monotonic()))[0]:
            if not os.read(sys.stdin.fileno(), 4096):
                break
    if cfg["lib"] == "gzmq":
        for session in sessions():
            sender = session.sender
            result.update(odata=sender.odata_sent, rdata=sender.rdata_sent,
                          naks=sender.naks_received, tsdu=sender.tsdu)
            if session.sock is not None:
                import socket as stdsocket
                ip = stdsocket.IPPROTO_IP
                result.update(ttl=session.sock.getsockopt(ip, stdsocket.IP_MULTICAST_TTL),
                              loop=session.sock.getsockopt(ip, stdsocket.IP_MULTICAST_LOOP))
    if cfg.get("loss"):
        result["dropped"] = dropped[0]
    print(json.dumps(result), flush=True)
sock.close(0)
ctx.term()
