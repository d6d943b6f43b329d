"""Nothing outlives its owner: greenlets, fds, ipc files; LINGER; queued and reconnecting
delivery; destroy()."""

from __future__ import annotations

import os
import socket as stdsocket
import time
from typing import Any

import gevent
import pytest
from helpers import assert_no_fd_left, assert_no_greenlet_left, live_greenlets, open_fds

import gzmq

RECONNECT_IVL = 20  # ms, so reconnect tests stay fast


def free_tcp_port() -> int:
    probe = stdsocket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    return port


def term_seconds(context: Any, limit: float, hung: str) -> float:
    """How long ``context.term()`` takes; AssertionError(``hung``) past ``limit`` seconds."""
    started = time.monotonic()
    with gevent.Timeout(limit, AssertionError(hung)):
        context.term()
    return time.monotonic() - started


def assert_numbered_delivery(pull: Any, count: int, timeout: float = 3.0) -> None:
    """``pull`` receives b"0", b"1" ... b"<count - 1>", in order, within ``timeout`` s."""
    got: list[bytes] = []
    try:
        with gevent.Timeout(timeout):
            while len(got) < count:
                got.append(pull.recv())
    except gevent.Timeout:
        raise AssertionError(f"only {got} delivered") from None
    assert got == [b"%d" % i for i in range(count)]


def full_cycle(tmp_path: Any, tag: str) -> str:
    """tcp + ipc + inproc binds/connects, traffic, monitor, fd use; close; term."""
    context = gzmq.Context()
    ipc_path = str(tmp_path / f"{tag}.ipc")
    sockets = []
    pairs = [("tcp://127.0.0.1:*", None), (f"ipc://{ipc_path}", None),
             (f"inproc://cycle-{tag}", None)]
    for url, _ in pairs:
        pull, push = context.socket(gzmq.PULL), context.socket(gzmq.PUSH)
        sockets += [pull, push]
        pull.bind(url)
        push.connect(pull.last_endpoint)
        for i in range(20):
            push.send_multipart([b"%d" % i, b"x" * 100])
        for i in range(20):
            assert pull.poll(2000), url
            assert pull.recv_multipart()[0] == b"%d" % i
    rep, req = context.socket(gzmq.REP), context.socket(gzmq.REQ)
    sockets += [rep, req]
    monitor = rep.get_monitor_socket()
    rep.bind("tcp://127.0.0.1:*")
    req.connect(rep.last_endpoint)
    req.send(b"q")
    rep.send(rep.recv())
    assert req.recv() == b"q"
    assert isinstance(req.fileno(), int)  # an FD-emulating object comes into being
    assert monitor.poll(2000)
    rep.disable_monitor()
    for sock in sockets:
        sock.close()
    monitor.close()
    with gevent.Timeout(5, AssertionError("term() hung after closing everything")):
        context.term()
    return ipc_path


def test_no_greenlet_left_behind(tmp_path: Any) -> None:
    full_cycle(tmp_path, "warmup")
    before = live_greenlets()
    full_cycle(tmp_path, "measured")
    assert_no_greenlet_left(before, timeout=1)


def test_no_greenlet_left_after_destroy(tmp_path: Any) -> None:
    full_cycle(tmp_path, "warmup-destroy")
    before = live_greenlets()
    context = gzmq.Context()
    pull = context.socket(gzmq.PULL)
    pull.bind("tcp://127.0.0.1:*")
    for _ in range(5):
        push = context.socket(gzmq.PUSH)
        push.connect(pull.last_endpoint)
        push.send(b"queued")
    nowhere = context.socket(gzmq.PUSH)
    nowhere.connect(f"tcp://127.0.0.1:{free_tcp_port()}")
    nowhere.send(b"stuck")
    gevent.sleep(0.05)
    context.destroy(linger=0)
    assert_no_greenlet_left(before, timeout=1)


def test_no_fd_left_open(tmp_path: Any) -> None:
    full_cycle(tmp_path, "warmup-fd")
    before = open_fds()
    ipc_path = full_cycle(tmp_path, "measured-fd")
    assert_no_fd_left(before, timeout=1)
    assert not os.path.exists(ipc_path), "ipc socket file left behind"


def test_no_fd_left_after_failed_connects() -> None:
    context = gzmq.Context()
    context.socket(gzmq.PUSH).close()
    before = open_fds()
    push = context.socket(gzmq.PUSH)
    push.reconnect_ivl = RECONNECT_IVL
    push.connect(f"tcp://127.0.0.1:{free_tcp_port()}")  # refused again and again
    gevent.sleep(0.2)
    push.close(linger=0)
    context.term()
    assert_no_fd_left(before, timeout=1)


# --------------------------------------------------------------------------------------------
# LINGER


def lingering_push(linger: int) -> tuple[Any, int]:
    """A context whose only socket is a closed PUSH holding 5 messages for a peer that isn't
    there yet (tcp port returned)."""
    context = gzmq.Context()
    port = free_tcp_port()
    push = context.socket(gzmq.PUSH)
    push.linger = linger
    push.reconnect_ivl = RECONNECT_IVL
    push.connect(f"tcp://127.0.0.1:{port}")
    for i in range(5):
        push.send(b"%d" % i)
    push.close()
    return context, port


def test_linger_forever_delivers_when_peer_appears(ctx: Any) -> None:
    context, port = lingering_push(-1)
    terminator = gevent.spawn(context.term)
    gevent.sleep(0.2)
    assert not terminator.dead, "term() returned with messages still queued (LINGER -1)"
    pull = ctx.socket(gzmq.PULL)
    pull.bind(f"tcp://127.0.0.1:{port}")
    assert_numbered_delivery(pull, 5)
    terminator.join(2)
    assert terminator.dead, "term() kept waiting after the queue drained"
    assert context.closed


def test_close_during_the_handshake_still_delivers(ctx: Any) -> None:
    """close() while the connection is in its handshake: the handshake finishes and the queue
    is written (it was dropped with the connection)."""
    from gevent import socket as gsocket
    from gzmq import zmtp
    listening = gsocket.socket()
    listening.bind(("127.0.0.1", 0))
    listening.listen(1)
    push = ctx.socket(gzmq.PUSH)
    push.linger = -1
    push.connect(f"tcp://127.0.0.1:{listening.getsockname()[1]}")
    stream, _ = listening.accept()  # dialled; our greeting is not sent yet
    for i in range(5):
        push.send(b"%d" % i)
    push.close()
    conn = zmtp.Connection("PULL")
    stream.sendall(conn.initiate())
    received: list[bytes] = []
    with gevent.Timeout(5):
        while len(received) < 5:
            data = stream.recv(65536)
            assert data, f"closed after {received}"
            received += [m.parts[0] for m in conn.receive_data(data)
                         if isinstance(m, zmtp.Message)]
            stream.sendall(conn.data_to_send())
    assert received == [b"%d" % i for i in range(5)]
    stream.close()
    listening.close()


def test_linger_zero_term_returns_immediately() -> None:
    context, _ = lingering_push(0)
    assert term_seconds(context, 2, "term() waited despite LINGER 0") < 0.1


@pytest.mark.parametrize("via", ["socket", "close"])
def test_linger_200ms_term_waits_about_that(via: str) -> None:
    if via == "socket":
        context, _ = lingering_push(200)
    else:  # close(linger=...) overrides the option
        context = gzmq.Context()
        push = context.socket(gzmq.PUSH)
        push.connect(f"tcp://127.0.0.1:{free_tcp_port()}")
        push.send(b"never delivered")
        push.close(linger=200)
    elapsed = term_seconds(context, 3, "term() ignored LINGER 200")
    assert 0.15 <= elapsed < 0.7, elapsed


def test_context_linger_default_applies(ctx: Any) -> None:
    context = gzmq.Context()
    context.linger = 0
    push = context.socket(gzmq.PUSH)
    push.connect(f"tcp://127.0.0.1:{free_tcp_port()}")
    push.send(b"dropped")
    push.close()
    assert term_seconds(context, 2, "context linger default ignored") < 0.1


def test_linger_without_pending_messages_does_not_wait() -> None:
    context = gzmq.Context()
    pull = context.socket(gzmq.PULL)
    pull.bind("tcp://127.0.0.1:*")
    push = context.socket(gzmq.PUSH)
    push.connect(pull.last_endpoint)
    push.send(b"x")
    assert pull.recv() == b"x"
    push.close()  # LINGER -1, but nothing is queued
    pull.close()
    assert term_seconds(context, 2, "term() waited with nothing to deliver") < 0.2


# --------------------------------------------------------------------------------------------
# queued and reconnecting delivery


def test_connect_before_bind_tcp_delivers_queued(ctx: Any) -> None:
    port = free_tcp_port()
    push = ctx.socket(gzmq.PUSH)
    push.reconnect_ivl = RECONNECT_IVL
    push.connect(f"tcp://127.0.0.1:{port}")
    for i in range(10):
        push.send(b"%d" % i, gzmq.NOBLOCK)  # queued, never blocks below the HWM
    gevent.sleep(0.1)  # a few refused connection attempts
    pull = ctx.socket(gzmq.PULL)
    pull.bind(f"tcp://127.0.0.1:{port}")
    assert_numbered_delivery(pull, 10)


def test_connect_before_bind_ipc_delivers_queued(ctx: Any, tmp_path: Any) -> None:
    url = f"ipc://{tmp_path / 'late.ipc'}"
    push = ctx.socket(gzmq.PUSH)
    push.reconnect_ivl = RECONNECT_IVL
    push.connect(url)
    for i in range(10):
        push.send(b"%d" % i)
    pull = ctx.socket(gzmq.PULL)
    gevent.sleep(0.05)
    pull.bind(url)
    assert_numbered_delivery(pull, 10)


def peer_rebinds(ctx: Any, push: Any, port: int, down_for: float) -> Any:
    """``push`` connects to a PULL on ``port`` and delivers to it; that PULL goes away for
    ``down_for`` seconds, then a new one binds the same port: the new PULL."""
    first = ctx.socket(gzmq.PULL)
    first.bind(f"tcp://127.0.0.1:{port}")
    push.connect(f"tcp://127.0.0.1:{port}")
    push.send(b"before")
    assert first.poll(2000) and first.recv() == b"before"
    first.close(linger=0)
    gevent.sleep(down_for)
    second = ctx.socket(gzmq.PULL)
    second.bind(f"tcp://127.0.0.1:{port}")
    return second


def reconnects(ctx: Any, push: Any, port: int, down_for: float) -> None:
    second = peer_rebinds(ctx, push, port, down_for)
    deadline = time.monotonic() + 3
    while True:
        push.send(b"after", gzmq.NOBLOCK)
        if second.poll(50):
            break
        assert time.monotonic() < deadline, "PUSH never reconnected to the re-bound port"
    assert second.recv() == b"after"


def test_reconnect_after_peer_rebinds(ctx: Any) -> None:
    push = ctx.socket(gzmq.PUSH)
    push.reconnect_ivl = RECONNECT_IVL
    push.sndhwm = 100000
    reconnects(ctx, push, free_tcp_port(), down_for=0.05)


def test_reconnect_with_backoff(ctx: Any) -> None:
    push = ctx.socket(gzmq.PUSH)
    push.reconnect_ivl = 10
    push.reconnect_ivl_max = 100  # 10, 20, 40, 80, 100, 100 ... ms between attempts
    push.sndhwm = 100000
    started = time.monotonic()
    reconnects(ctx, push, free_tcp_port(), down_for=0.4)
    assert time.monotonic() - started < 2.0


def test_reconnect_ivl_minus_one_does_not_reconnect(ctx: Any) -> None:
    push = ctx.socket(gzmq.PUSH)
    push.reconnect_ivl = -1
    push.sndhwm = 100000
    second = peer_rebinds(ctx, push, free_tcp_port(), down_for=0.1)
    for _ in range(5):
        try:
            push.send(b"after", gzmq.NOBLOCK)
        except gzmq.Again:
            pass
        gevent.sleep(0.05)
    assert second.poll(100) == 0, "reconnected although RECONNECT_IVL is -1"


# --------------------------------------------------------------------------------------------
# destroy


def test_destroy_linger_zero_closes_everything(tmp_path: Any) -> None:
    context = gzmq.Context()
    port = free_tcp_port()
    server = context.socket(gzmq.ROUTER)
    server.bind(f"tcp://127.0.0.1:{port}")
    ipc_path = str(tmp_path / "destroy.ipc")
    ipc_server = context.socket(gzmq.PULL)
    ipc_server.bind(f"ipc://{ipc_path}")
    client = context.socket(gzmq.DEALER)
    client.connect(f"tcp://127.0.0.1:{port}")
    client.send(b"hello")
    assert server.poll(2000)
    stuck = context.socket(gzmq.PUSH)  # default LINGER -1, with a message nobody will take
    stuck.connect(f"tcp://127.0.0.1:{free_tcp_port()}")
    stuck.send(b"pending")
    blocked_error: list[Any] = []

    def blocked_recv() -> None:
        try:
            ipc_server.recv()
        except gzmq.ZMQError as e:
            blocked_error.append(e)

    waiter = gevent.spawn(blocked_recv)
    gevent.sleep(0.05)
    started = time.monotonic()
    with gevent.Timeout(2, AssertionError("destroy(linger=0) hung")):
        context.destroy(linger=0)
    assert time.monotonic() - started < 0.2
    assert context.closed
    assert all(s.closed for s in (server, ipc_server, client, stuck))
    waiter.join(1)
    assert waiter.dead and len(blocked_error) == 1
    assert blocked_error[0].errno in (gzmq.ENOTSOCK, gzmq.ETERM)
    assert not os.path.exists(ipc_path)
    # the port is free again
    fresh = gzmq.Context()
    try:
        again = fresh.socket(gzmq.ROUTER)
        again.bind(f"tcp://127.0.0.1:{port}")
        again.close()
    finally:
        fresh.term()
    context.destroy()  # idempotent


def test_close_and_term_while_the_reader_waits_for_room(ctx):
    """A connection blocked at RCVHWM must still end when the socket closes (term() hung)."""
    pull = ctx.socket(gzmq.PULL)
    pull.rcvhwm = 2
    pull.bind("tcp://127.0.0.1:*")
    push = ctx.socket(gzmq.PUSH)
    push.sndhwm = 2
    push.linger = 0
    push.connect(pull.last_endpoint)
    for _ in range(50):
        try:
            push.send(b"x" * 10000, gzmq.NOBLOCK)
        except gzmq.Again:
            gevent.sleep(0.01)
    gevent.sleep(0.2)  # the PULL's engine now waits for room
    pull.close()
    push.close()
    with gevent.Timeout(5):
        ctx.term()


def test_a_background_failure_surfaces_on_the_next_blocking_call(ctx):
    """An unexpected error in one of the socket's greenlets is not only printed by the hub:
    the next blocking call raises it (as the cause of a RuntimeError)."""
    pull = ctx.socket(gzmq.PULL)

    def broken() -> None:
        raise ValueError("a bug")

    hub = gevent.get_hub()
    # this error is expected: keep it from the hub's printer and from conftest's trap
    original, hub.handle_error = hub.handle_error, lambda *args: None
    try:
        greenlet = pull._lifecycle.spawn(broken)
        greenlet.join()
        with pytest.raises(RuntimeError) as raised:
            with gevent.Timeout(5):
                pull.recv()
    finally:
        hub.handle_error = original
    assert isinstance(raised.value.__cause__, ValueError)
    pull.rcvtimeo = 10
    with pytest.raises(gzmq.Again):  # reported once; the socket goes on
        pull.recv()
