"""A stock ticker over reliable multicast (epgm: PGM in UDP), inside its own network namespace.

One PUB publishes "SYMBOL price" ticks to the multicast group 239.192.7.7 port 5577 through the
loopback interface; two SUBs join the group, one for every symbol and one for "ACME" only
(PGM carries every message to every subscriber; a SUB filters locally). Any number of
processes on the network could subscribe the same way, each with one socket, and PGM repairs
lost packets by NAK.

Multicast leaves the machine on a real network, so this demo makes a private one first: run
as root, it re-runs itself under ``unshare --net`` (a new network namespace with only a
loopback interface, which it brings up with multicast and a route for 224.0.0.0/4). Run as
anyone else, it says what it needs and exits.

Run:  sudo python examples/multicast_ticker.py
"""

import os
import shutil
import socket
import subprocess
import sys

ENDPOINT = "epgm://127.0.0.1;239.192.7.7:5577"
SYMBOLS = ["ACME", "GLOBEX", "INITECH"]
TICKS = 30


def in_private_namespace():
    return sorted(name for _index, name in socket.if_nameindex()) == ["lo"]


def ticker():
    import gevent

    import gzmq as zmq

    for command in (["ip", "link", "set", "lo", "up"], ["ip", "link", "set", "lo", "multicast", "on"],
                    ["ip", "route", "add", "224.0.0.0/4", "dev", "lo"]):
        subprocess.run(command, check=True)
    ctx = zmq.Context()
    everything = ctx.socket(zmq.SUB)
    everything.setsockopt(zmq.SUBSCRIBE, b"")
    acme = ctx.socket(zmq.SUB)
    acme.setsockopt(zmq.SUBSCRIBE, b"ACME ")
    for sub in (everything, acme):
        sub.setsockopt(zmq.RCVTIMEO, 5000)
        sub.connect(ENDPOINT)
    pub = ctx.socket(zmq.PUB)
    pub.setsockopt(zmq.RATE, 10000)  # kbit/s: PGM sends at this rate (libzmq's default is 100)
    pub.connect(ENDPOINT)  # for pgm, bind and connect are the same
    print(f"publisher: {ENDPOINT} (multicast hops {pub.getsockopt(zmq.MULTICAST_HOPS)})")

    def collect(sub, name, wanted, out):
        while len(out) < wanted:
            out.append(sub.recv_string())
        print(f"{name}: {len(out)} ticks, last: {out[-1]}")

    all_ticks, acme_ticks = [], []
    readers = [gevent.spawn(collect, everything, "all symbols", TICKS, all_ticks),
               gevent.spawn(collect, acme, "ACME only", TICKS // len(SYMBOLS), acme_ticks)]
    gevent.sleep(0.3)  # the subscribers' group joins settle
    for i in range(TICKS):
        symbol = SYMBOLS[i % len(SYMBOLS)]
        pub.send_string(f"{symbol} {100 + i * 0.25:.2f}")
    gevent.joinall(readers, raise_error=True)
    assert all(tick.startswith("ACME ") for tick in acme_ticks)
    for sock in (pub, everything, acme):
        sock.close(linger=0)
    ctx.term()
    print("multicast_ticker: done")


def main():
    if os.environ.get("GZMQ_TICKER_NETNS") == "1":
        if not in_private_namespace():
            sys.exit("multicast_ticker: refusing to send multicast outside a private namespace")
        ticker()
        return
    if os.geteuid() != 0 or not shutil.which("unshare") or not shutil.which("ip"):
        print("multicast_ticker: skipped: this demo needs root (to make a private network "
              "namespace with `unshare --net`) and the unshare and ip commands; "
              "run: sudo python examples/multicast_ticker.py")
        return
    env = dict(os.environ, GZMQ_TICKER_NETNS="1")
    result = subprocess.run(["unshare", "--net", sys.executable, os.path.abspath(__file__)],
                            env=env)
    sys.exit(result.returncode)


if __name__ == "__main__":
    main()
