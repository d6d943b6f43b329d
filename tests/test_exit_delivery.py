"""A script that sends and exits delivers, as with libzmq (issue 7, item 5).

Each case runs a small sender script in a subprocess against a gzmq PULL in this process.
Everything queued is delivered; where libzmq (pyzmq, the oracle) exits promptly because nobody
is listening, so must gzmq; and a peer that stopped reading cannot hold the exit forever.
"""

from __future__ import annotations

import os
import sys
import textwrap
import time
from typing import Any

import gevent
import gevent.subprocess
import pytest
from gevent import socket as gsocket

import gzmq
from gzmq import zmtp
from gzmq.exit_delivery import STALL_SECONDS

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COUNT = 1000

SENDER = textwrap.dedent("""
    import sys, time
    impl, endpoint, ending, size = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    count = int(sys.argv[5])
    if impl == "pyzmq":
        import zmq
    else:
        sys.path.insert(0, {root!r})
        import gzmq as zmq
    ctx = zmq.Context()
    push = ctx.socket(zmq.PUSH)
    if len(sys.argv) > 6:  # CURVE, with this server key: the handshake takes a while
        push.curve_serverkey = sys.argv[6].encode()
        push.curve_publickey, push.curve_secretkey = zmq.curve_keypair()
    push.connect(endpoint)
    for i in range(count):
        push.send(b"%d:" % i + b"x" * size)
    if ending == "sleep":
        time.sleep(0.3)  # the real time.sleep: it blocks gzmq's hub
    if ending != "no-close":
        push.close()
    if ending == "term":
        ctx.term()  # waits for LINGER itself, before the exit's own delivery
""").format(root=ROOT)


def run_sender(impl: str, endpoint: str, ending: str = "close", size: int = 0,
               server_key: bytes = b"", count: int = COUNT) -> float:
    """Run the sender to its end; return how long it took."""
    if impl == "pyzmq":
        pytest.importorskip("zmq")
    started = time.monotonic()
    process = gevent.subprocess.Popen([sys.executable, "-c", SENDER, impl, endpoint, ending,
                                       str(size), str(count)]
                                      + ([server_key.decode()] if server_key else []))
    assert process.wait(timeout=20) == 0
    return time.monotonic() - started


def drain(pull: Any) -> list[bytes]:
    pull.rcvtimeo = 500
    received = []
    try:
        while True:
            received.append(pull.recv())
    except gzmq.Again:
        return received


@pytest.fixture(params=["tcp", "ipc"])
def pull(ctx: Any, request: Any, tmp_path: Any) -> Any:
    socket = ctx.socket(gzmq.PULL)
    socket.bind("tcp://127.0.0.1:*" if request.param == "tcp" else f"ipc://{tmp_path}/pull")
    return socket


@pytest.mark.parametrize("ending", ["close", "sleep", "no-close"])
def test_a_script_that_sends_and_exits_delivers(pull: Any, ending: str) -> None:
    # pyzmq usually delivers all of them too, but only because its I/O thread wins the race
    # with the process's exit (it does not term() at exit); it lost some in about one run in
    # twenty here, so it is no oracle for "all". gzmq delivers them every time.
    run_sender("gzmq", pull.last_endpoint.decode(), ending)
    received = drain(pull)
    assert [m.split(b":")[0] for m in received] == [b"%d" % i for i in range(COUNT)]


CURVE_RECEIVER = textwrap.dedent("""
    import sys, zmq
    public, secret = zmq.curve_keypair()
    ctx = zmq.Context()
    pull = ctx.socket(zmq.PULL)
    pull.curve_server = True
    pull.curve_secretkey = secret
    pull.bind("tcp://127.0.0.1:*")
    print(pull.last_endpoint.decode(), public.decode(), flush=True)
    got = 0
    while pull.poll(2000):
        pull.recv()
        got += 1
    print(got, flush=True)
""")


def test_a_curve_script_that_closes_during_its_handshake_delivers() -> None:
    # 200 messages: the sender closes (and terms) before its hub has polled once, i.e. while
    # its connection is still being made. The close's shutdown of its peers misses that engine; it
    # must still linger like them (it once let its greenlet end once idle, and the script
    # exited with its last CURVE batch unwritten: 192 of 200 arrived). The receiver is libzmq,
    # in its own process, as in perf/local_thr.py --curve where this was found.
    pytest.importorskip("zmq")
    receiver = gevent.subprocess.Popen([sys.executable, "-c", CURVE_RECEIVER],
                                       stdout=gevent.subprocess.PIPE, text=True)
    try:
        endpoint, server_key = receiver.stdout.readline().split()
        run_sender("gzmq", endpoint, "term", 1024, server_key=server_key.encode(), count=200)
        assert receiver.stdout.readline().strip() == "200"
    finally:
        receiver.kill()
        receiver.wait()
        receiver.stdout.close()


@pytest.mark.parametrize("impl", ["gzmq", "pyzmq"])
def test_with_nobody_listening_the_script_exits_promptly(ctx: Any, impl: str) -> None:
    port_holder = ctx.socket(gzmq.PULL)  # find a free port, then free it: nobody listens there
    port_holder.bind("tcp://127.0.0.1:*")
    endpoint = port_holder.last_endpoint.decode()
    port_holder.close(linger=0)
    assert run_sender(impl, endpoint) < 1.5


def test_a_peer_that_stopped_reading_cannot_hold_the_exit(ctx: Any) -> None:
    """LINGER -1, and the peer never reads: gzmq gives up after STALL_SECONDS of no progress."""
    stalled: list[Any] = []
    # a raw listener that completes the ZMTP handshake and then never reads
    listening = gsocket.socket()
    listening.bind(("127.0.0.1", 0))
    listening.listen(4)

    def serve() -> None:
        stream, _ = listening.accept()
        stalled.append(stream)
        conn = zmtp.Connection("PULL")
        stream.sendall(conn.initiate())
        while conn.state is not zmtp.ConnectionState.READY:
            conn.receive_data(stream.recv(4096))
            stream.sendall(conn.data_to_send())
        gevent.sleep(60)  # read nothing more

    server = gevent.spawn(serve)
    try:
        took = run_sender("gzmq", f"tcp://127.0.0.1:{listening.getsockname()[1]}", "close",
                          size=100_000)
        assert STALL_SECONDS <= took < STALL_SECONDS + 3
    finally:
        server.kill()
        for stream in stalled:
            stream.close()
        listening.close()
