"""Plain programs and threads behave as they do on libzmq (issue 9, items 1, 2 and 4).

Plain programs (no gevent in them: threads, ``time.sleep``, ``import zmq``) run in
subprocesses, on gzmq through ``python -m gzmq.run`` and on pyzmq (libzmq, the oracle) as
they are; both must give the same result. The busy-poll check runs in this (cooperative)
process.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from typing import Any

import gevent
import pytest

import gzmq

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_plain(source: str, impl: str, *args: str, timeout: float = 60) -> str:
    """Run a plain program; on gzmq via ``python -m gzmq.run``. Return its stdout."""
    if impl == "pyzmq":
        pytest.importorskip("zmq")
        command = [sys.executable, "-c", source, *args]
    else:
        command = [sys.executable, "-m", "gzmq.run", "-c", source, *args]
    env = dict(os.environ, PYTHONPATH=ROOT)
    result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env,
                            cwd=ROOT)
    assert result.returncode == 0, f"{impl}: rc={result.returncode}\n{result.stdout}\n" \
                                   f"{result.stderr}"
    return result.stdout


IMPLS = ["gzmq", "pyzmq"]

#: PUSH binds, sends, then sleeps with the real time.sleep: a PULL in another process that
#: connects meanwhile must get everything (gzmq used to do no I/O during the sleep)
SLEEPING_PUSH = textwrap.dedent("""
    import subprocess, sys, time
    import zmq
    ctx = zmq.Context()
    push = ctx.socket(zmq.PUSH)
    port = push.bind_to_random_port("tcp://127.0.0.1")
    peer = subprocess.Popen([sys.executable, "-c", '''
    import sys, zmq
    ctx = zmq.Context()
    pull = ctx.socket(zmq.PULL)
    pull.rcvtimeo = 5000
    pull.connect(sys.argv[1])
    print(" ".join(pull.recv().decode() for _ in range(3)))
    '''.replace("\\n    ", "\\n"), "tcp://127.0.0.1:%d" % port], stdout=subprocess.PIPE, text=True)
    for i in range(3):
        push.send(b"%d" % i)
    time.sleep(1)  # "give 0MQ time to deliver"
    print(peer.communicate(timeout=10)[0].strip())
""")

#: a loop on recv(NOBLOCK) plus time.sleep, fed by a thread
NOBLOCK_LOOP = textwrap.dedent("""
    import threading, time
    import zmq
    ctx = zmq.Context()
    pull = ctx.socket(zmq.PULL)
    pull.bind("tcp://127.0.0.1:5593")
    def feed():
        push = ctx.socket(zmq.PUSH)
        push.connect("tcp://127.0.0.1:5593")
        for i in range(5):
            push.send(b"%d" % i)
            time.sleep(0.01)
        push.close()
    threading.Thread(target=feed).start()
    got, deadline = [], time.monotonic() + 10
    while len(got) < 5 and time.monotonic() < deadline:
        try:
            got.append(pull.recv(zmq.NOBLOCK))
        except zmq.Again:
            time.sleep(0.01)
    print(b" ".join(got).decode())
    pull.close()
    ctx.term()
""")

#: one Context, a recv() blocked in one thread woken by a send() from another, and term()
#: called from a third thread while a thread is still blocked in recv()
THREADS_SHARING_A_CONTEXT = textwrap.dedent("""
    import threading, time
    import zmq
    ctx = zmq.Context()
    results = []
    def receiver():
        pull = ctx.socket(zmq.PULL)
        pull.bind("inproc://pipeline")
        results.append(pull.recv())
        try:
            pull.recv()  # blocks until term()
        except zmq.ContextTerminated:
            results.append(b"terminated")
        pull.close()
    thread = threading.Thread(target=receiver)
    thread.start()
    time.sleep(0.2)
    def sender():
        push = ctx.socket(zmq.PUSH)
        push.connect("inproc://pipeline")
        push.send(b"across threads")
        push.close()
    threading.Thread(target=sender).start()
    time.sleep(0.3)
    terminator = threading.Thread(target=ctx.term)
    terminator.start()
    terminator.join(10)
    thread.join(10)
    print(" | ".join(r.decode() for r in results), "| alive:", terminator.is_alive())
""")


@pytest.mark.parametrize("impl", IMPLS)
def test_a_sleeping_sender_still_delivers(impl: str) -> None:
    assert run_plain(SLEEPING_PUSH, impl).strip() == "0 1 2"


@pytest.mark.parametrize("impl", IMPLS)
def test_a_noblock_and_sleep_loop_receives(impl: str) -> None:
    assert run_plain(NOBLOCK_LOOP, impl).strip() == "0 1 2 3 4"


@pytest.mark.parametrize("impl", IMPLS)
def test_threads_sharing_a_context(impl: str) -> None:
    out = run_plain(THREADS_SHARING_A_CONTEXT, impl).strip()
    assert out == "across threads | terminated | alive: False"


@pytest.mark.parametrize("impl", IMPLS)
def test_the_plain_threads_example(impl: str) -> None:
    source = open(os.path.join(ROOT, "examples", "plain_threads.py")).read()
    out = run_plain(source, impl)
    assert "plain_threads: 15 answers, 10 updates" in out
    assert out.splitlines()[-1] == "plain_threads: ok"


def test_gzmq_run_gives_a_threaded_context_and_zmq_green_a_cooperative_one() -> None:
    out = run_plain("import zmq; print(type(zmq.Context()).__name__)", "gzmq")
    assert out.strip() == "ThreadedContext"
    out = run_plain("import zmq.green as zmq; print(type(zmq.Context()).__name__)", "gzmq")
    assert out.strip() == "Context"


def test_io_mode_explicit_and_from_the_environment(ctx: Any) -> None:
    assert type(ctx).__name__ == "Context"  # code that imports gzmq itself: cooperative
    threaded = gzmq.Context(io_mode="thread")
    try:
        assert type(threaded).__name__ == "ThreadedContext"
        pull = threaded.socket(gzmq.PULL)
        pull.bind("inproc://io-mode")
        push = threaded.socket(gzmq.PUSH)
        push.connect("inproc://io-mode")
        push.send(b"hello")
        pull.rcvtimeo = 2000
        assert pull.recv() == b"hello"
        assert pull.rcvtimeo == 2000  # options go through the I/O thread too
    finally:
        threaded.destroy(linger=0)
    with pytest.raises(ValueError):
        gzmq.Context(io_mode="fibers")
    out = subprocess.run(
        [sys.executable, "-c", "import gzmq; print(type(gzmq.Context()).__name__)"],
        capture_output=True, text=True, timeout=30,
        env=dict(os.environ, PYTHONPATH=ROOT, GZMQ_IO_MODE="thread")).stdout
    assert out.strip() == "ThreadedContext"


# ---------------------------------------------------------------------------------------------
# cooperative code: a busy loop must not starve the other greenlets (item 4)


def test_a_busy_poll_loop_lets_other_greenlets_run(ctx: Any) -> None:
    pull = ctx.socket(gzmq.PULL)
    pull.bind("inproc://busy")
    push = ctx.socket(gzmq.PUSH)
    push.connect("inproc://busy")
    push.send(b"always ready")
    poller = gzmq.Poller()
    poller.register(pull, gzmq.POLLIN)
    woke = []
    sleeper = gevent.spawn(lambda: (gevent.sleep(0), woke.append(True)))
    polls = 0
    while not woke and polls < 100_000:
        assert poller.poll(1000)  # readable at once, every time: never blocks
        polls += 1
    sleeper.kill()
    assert woke, "the other greenlet never ran during 100,000 polls"
    assert polls <= 7_000, f"the other greenlet ran only after {polls} polls (pyzmq: ~7,000)"


def test_a_recv_loop_that_never_waits_lets_other_greenlets_run(ctx: Any) -> None:
    pull = ctx.socket(gzmq.PULL)
    pull.bind("inproc://busy-recv")
    push = ctx.socket(gzmq.PUSH)
    push.connect("inproc://busy-recv")
    pull.rcvhwm = push.sndhwm = 0
    for _ in range(2000):
        push.send(b"x")
    woke = []
    sleeper = gevent.spawn(lambda: (gevent.sleep(0), woke.append(True)))
    received = 0
    while not woke and received < 2000:
        pull.recv()
        received += 1
    sleeper.kill()
    assert woke and received < 1000, f"the other greenlet waited for {received} recv()s"


#: sockets dropped without close(), then term(): pyzmq closes a collected socket, so term()
#: returns; with messages queued for a live peer, LINGER (here 1 s) still delivers them first
DROPPED_SOCKETS = textwrap.dedent("""
    import sys, time, warnings
    import zmq
    warnings.simplefilter("ignore", ResourceWarning)
    ctx = zmq.Context()
    pull = ctx.socket(zmq.PULL)
    port = pull.bind_to_random_port("tcp://127.0.0.1")

    def drop_some():
        a = ctx.socket(zmq.PAIR)
        a.bind("inproc://dropped")
        b = ctx.socket(zmq.PAIR)
        b.connect("inproc://dropped")
        b.send(b"unread")  # queued for a socket that is dropped too
        push = ctx.socket(zmq.PUSH)
        push.linger = 1000
        push.connect("tcp://127.0.0.1:%d" % port)
        push.send(b"delivered")
        listener = ctx.socket(zmq.ROUTER)
        listener.bind("tcp://127.0.0.1:*")
    drop_some()
    pull.rcvtimeo = 5000
    print(pull.recv().decode())
    pull.close()
    t0 = time.monotonic()
    ctx.term()
    print("term", "prompt" if time.monotonic() - t0 < 3 else "slow")
""")


@pytest.mark.parametrize("impl", IMPLS)
def test_sockets_dropped_without_close_are_closed_and_term_returns(impl: str) -> None:
    assert run_plain(DROPPED_SOCKETS, impl, timeout=30).split("\n")[:2] == \
        ["delivered", "term prompt"]


def test_a_dropped_socket_is_closed_when_collected_in_a_cooperative_program() -> None:
    import gc
    import warnings
    context = gzmq.Context()
    pull = context.socket(gzmq.PULL)
    port = pull.bind_to_random_port("tcp://127.0.0.1")
    push = context.socket(gzmq.PUSH)
    push.connect(f"tcp://127.0.0.1:{port}")
    push.send(b"queued before the drop")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        del push  # no close(): its greenlets and connections held only its core
        gc.collect()
    assert any(issubclass(w.category, ResourceWarning) and "Unclosed socket" in str(w.message)
               for w in caught), [str(w.message) for w in caught]
    pull.rcvtimeo = 5000
    assert pull.recv() == b"queued before the drop"  # LINGER still delivered it
    pull.close()
    with gevent.Timeout(5):
        context.term()
