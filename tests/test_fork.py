"""fork() after bind(): the child's copy of gzmq is inert, as libzmq's is (issue 9, item 5).

libzmq's I/O threads do not survive a fork, so a child that inherited a bound socket never
accepts, reads or writes on the parent's connections. gzmq's I/O runs in the gevent hub, which
the child inherits; it must stop there. Each case runs in a subprocess of its own (a fork
inside the test runner would copy the runner too), with pyzmq (the libzmq oracle) as the
peer that connects.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

SCRIPT = textwrap.dedent("""
    import os, subprocess, sys, time
    sys.path.insert(0, {root!r})
    if {patch!r}:
        from gevent import monkey; monkey.patch_all()
    import gevent
    import gzmq as zmq

    ctx = zmq.Context()
    router = ctx.socket(zmq.ROUTER)
    router.bind("tcp://127.0.0.1:*")
    endpoint = router.last_endpoint.decode()
    pid = os.fork()
    if pid == 0:
        # the child runs its hub for a while, then makes sockets of its own that must work
        gevent.sleep(1.5)
        child_ctx = zmq.Context()
        pull = child_ctx.socket(zmq.PULL)
        pull.bind("inproc://child")
        push = child_ctx.socket(zmq.PUSH)
        push.connect("inproc://child")
        push.send(b"own")
        ok = pull.recv() == b"own"
        child_ctx.destroy(linger=0)
        os._exit(0 if ok else 3)
    peers = '''
    import zmq
    ctx = zmq.Context()
    for i in range(10):
        dealer = ctx.socket(zmq.DEALER)
        dealer.linger = 1000
        dealer.connect(%r)
        dealer.send(b"%%d" %% i)
        dealer.close()
    ctx.term()
    ''' % endpoint
    gevent.subprocess.run([sys.executable, "-c", peers], check=True)
    router.rcvtimeo = 2000
    got = 0
    try:
        while got < 10:
            router.recv_multipart()
            got += 1
    except zmq.Again:
        pass
    _, status = os.waitpid(pid, 0)
    print("parent got", got, "child status", status)
    sys.exit(0 if got == 10 and status == 0 else 1)
""")


@pytest.mark.parametrize("patch", [True, False], ids=["patch_all", "plain"])
def test_a_forked_child_never_takes_the_parents_connections(patch: bool) -> None:
    pytest.importorskip("zmq")
    script = "import gevent.subprocess\n" + SCRIPT.format(root=ROOT, patch=patch)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
