"""PollFlusher: the writers of a hub are flushed by a lowest-priority libev prepare watcher
once per turn of its loop; nothing may leave a batch waiting while the loop blocks in its poll
(found by a review that attacked the change)."""
from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from typing import Any

import gevent
import pytest

from engine_helpers import FakeStream, ready_pair

import gzmq
from gzmq.engine.writer import ConnectionWriter
from gzmq.pipe import Signal, pipe_pair

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

HELLO = b"\x00\x05hello"


class TimedStream(FakeStream):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.sent_at: list[float] = []

    def send(self, data: Any) -> int:
        self.sent_at.append(time.monotonic())
        return super().send(data)


def make_writer(stream: FakeStream) -> tuple[Any, ConnectionWriter]:
    conn, _peer = ready_pair("DEALER", "ROUTER")
    socket_end, engine_end = pipe_pair(1000, 1000)
    writer = ConnectionWriter(stream, conn, engine_end.inbound, lambda graceful: None,
                              gevent.spawn)
    engine_end.attach_notifiers(on_readable=writer, on_writable=Signal())
    return socket_end, writer


def in_fresh_hub(function: Any) -> Any:
    """Run ``function`` in a new OS thread: a hub of its own, with no PollFlusher yet."""
    box: dict[str, Any] = {}

    def body() -> None:
        try:
            box["result"] = function()
        except BaseException as error:  # noqa: B902
            box["error"] = error
        finally:
            gevent.get_hub().destroy(destroy_loop=True)

    thread = threading.Thread(target=body, daemon=True)
    thread.start()
    thread.join(20)
    assert not thread.is_alive()
    if "error" in box:
        raise box["error"]
    return box["result"]


@pytest.mark.timeout(30)
def test_first_writer_of_a_hub_made_from_a_callback_is_flushed_before_the_loop_blocks() -> None:
    """The hub's PollFlusher is made with its first writer. If that happens while gevent runs
    its callbacks (they run inside gevent's own prepare watcher: a greenlet woken by an
    Event/AsyncResult/Signal, e.g. an engine whose ZAP verdict just came, see the CURVE test
    below), libev has already queued this turn's prepare watchers: the new one is not run
    this turn, and the message the writer was told of at once waits in a blocking poll until
    something else wakes the loop (here a 1 s timer; without one, forever)."""

    def scenario() -> float:
        stream = TimedStream()
        started: list[float] = []

        def engine_ready() -> None:  # what Engine._on_ready does, from a woken greenlet
            socket_end, _writer = make_writer(stream)
            socket_end.send_nowait([b"hello"])  # queued before: the writer is told at once
            started.append(time.monotonic())

        gevent.spawn(engine_ready)  # runs from gevent's callbacks (its prepare watcher)
        gevent.sleep(1.0)  # the only other thing that would wake the loop
        gevent.sleep(0.05)  # (the loop's next turn)
        assert stream.raw_sends == [HELLO], stream.raw_sends
        return stream.sent_at[0] - started[0]

    delay = in_fresh_hub(scenario)
    assert delay < 0.5, f"the first batch of the hub waited {delay:.2f}s in a blocking poll"


SERVER = r"""
import sys, time
import gzmq
from gzmq.auth import Authenticator, CURVE_ALLOW_ANY
print(gzmq.__file__, file=sys.stderr)
spub, ssec = sys.argv[1], sys.argv[2]
ctx = gzmq.Context()
auth = Authenticator(ctx)
auth.start()
auth.configure_curve(domain="*", location=CURVE_ALLOW_ANY)
sub = ctx.socket(gzmq.SUB)
sub.curve_server = True
sub.curve_secretkey = ssec.encode()
sub.curve_publickey = spub.encode()
sub.setsockopt(gzmq.SUBSCRIBE, b"")
port = sub.bind_to_random_port("tcp://127.0.0.1")
print(port, flush=True)
sub.setsockopt(gzmq.RCVTIMEO, 4000)
t0 = time.monotonic()
try:
    print("got %r after %.2fs" % (sub.recv(), time.monotonic() - t0), flush=True)
except gzmq.Again:
    print("timeout after %.2fs" % (time.monotonic() - t0), flush=True)
sub.close(linger=0)
auth.stop()
ctx.term()
"""


@pytest.mark.timeout(60)
def test_curve_sub_server_with_zap_gets_its_first_publisher_s_messages() -> None:
    """End to end, in a fresh process: a CURVE SUB server (ZAP via gzmq.auth.Authenticator)
    and a PUB client publishing every 50 ms. The server's handshake completes when the ZAP
    verdict wakes its engine greenlet (from gevent's callbacks), which makes the process's
    first writer and queues the subscription: that SUBSCRIBE is not written until the
    RCVTIMEO timer (4 s) wakes the hub, so the PUB drops everything and recv() times out.
    (Before the PollFlusher it got b'hello' after ~0.1 s.)"""
    server_public, server_secret = (k.decode() for k in gzmq.curve_keypair())
    client_public, client_secret = gzmq.curve_keypair()
    env = dict(os.environ, PYTHONPATH=ROOT)
    server = subprocess.Popen([sys.executable, "-c", SERVER, server_public, server_secret],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env=env, cwd=ROOT)
    try:
        # (a thread, not the hub: the pipe read blocks)
        port = server.stdout.readline().strip()
        assert port, server.stderr.read()
        ctx = gzmq.Context()
        pub = ctx.socket(gzmq.PUB)
        pub.curve_serverkey = server_public.encode()
        pub.curve_publickey = client_public
        pub.curve_secretkey = client_secret
        pub.connect(f"tcp://127.0.0.1:{port}")
        deadline = time.monotonic() + 8
        while server.poll() is None and time.monotonic() < deadline:
            pub.send(b"hello")
            gevent.sleep(0.05)
        pub.close(linger=0)
        ctx.term()
        out, err = server.communicate(timeout=10)
    finally:
        if server.poll() is None:
            server.kill()
    assert out.startswith("got b'hello'"), (out, err)


@pytest.mark.timeout(30)
def test_an_exception_escaping_one_flush_does_not_strand_the_other_writers() -> None:
    """A BaseException raised while one writer flushes (KeyboardInterrupt or a SIGTERM
    handler's SystemExit landing in the hub during its send; here raised by the send) leaves
    PollFlusher._flush with the rest of its local ``pending`` list dropped: those writers
    keep ``_flush_scheduled`` True, so no later notify() adds them again, and their
    connections never write another byte. (With a loop.run_callback per writer, gevent ran
    the other callbacks anyway.)"""

    def scenario() -> tuple[list[bytes], list[bytes]]:
        class Interrupting(FakeStream):
            armed = True

            def send(self, data: Any) -> int:
                if self.armed:
                    self.armed = False
                    raise KeyboardInterrupt  # a Ctrl-C arriving while the hub writes
                return super().send(data)

        first, second = Interrupting(), FakeStream()
        end_1, _w1 = make_writer(first)
        end_2, _w2 = make_writer(second)
        end_1.send_nowait([b"hello"])
        end_2.send_nowait([b"hello"])
        try:
            gevent.sleep(0.05)
        except KeyboardInterrupt:
            pass  # the program handles its Ctrl-C and goes on (or closes with LINGER)
        end_2.send_nowait([b"again"])
        gevent.sleep(0.2)
        return first.raw_sends, second.raw_sends

    _first, second = in_fresh_hub(scenario)
    assert second, "the other connection never writes again"
