"""USE_FD: bind() takes the application's socket, already bound and listening, and ignores the
address given (libzmq's tcp_listener / ipc_listener). Compared with libzmq through pyzmq."""
from __future__ import annotations

import os
import socket as stdsocket
import tempfile

import gevent
import pytest

import gzmq

zmq = pytest.importorskip("zmq")
pytestmark = pytest.mark.timeout(20)


def listening(family):
    sock = stdsocket.socket(family, stdsocket.SOCK_STREAM)
    if family == stdsocket.AF_INET:
        sock.bind(("127.0.0.1", 0))
        where = "tcp://127.0.0.1:*"
    else:
        path = os.path.join(tempfile.mkdtemp(prefix="gz", dir="/tmp"), "s")
        sock.bind(path)
        where = "ipc://" + path + "-ignored"
    sock.listen(8)
    return sock, where


@pytest.mark.parametrize("family", [stdsocket.AF_INET, stdsocket.AF_UNIX], ids=["tcp", "ipc"])
def test_use_fd(family, ctx):
    endpoints = []
    for module in (zmq, gzmq):
        ctx = module.Context()
        try:
            plain, ignored = listening(family)
            router = ctx.socket(module.ROUTER)
            router.linger = 0
            router.setsockopt(module.USE_FD, plain.detach())
            router.bind(ignored)
            endpoint = router.last_endpoint.decode()
            endpoints.append(endpoint.replace(endpoint.rsplit(":", 1)[-1], "P")
                             if family == stdsocket.AF_INET else endpoint)
            dealer = ctx.socket(gzmq.DEALER)
            dealer.linger = 0
            dealer.connect(endpoint)
            dealer.send(b"via the application's socket")
            with gevent.Timeout(3):
                while not router.poll(0):
                    gevent.sleep(0.01)  # gzmq's side runs in this hub
            assert router.recv_multipart()[1] == b"via the application's socket"
            dealer.close()
        finally:
            ctx.destroy(linger=0)
    if family == stdsocket.AF_INET:
        assert endpoints[0] == endpoints[1]
    else:
        assert all(not e.endswith("-ignored") for e in endpoints)
