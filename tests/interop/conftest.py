"""Fixtures for the libzmq interop suite.

The side under test runs in this (gevent) process; libzmq runs through plain pyzmq in a
separate process (peer.py), so its blocking calls cannot block our hub.  See
interop_helpers.py for GZMQ_INTEROP_IMPL (``gzmq`` by default, ``green`` for zmq.green).
"""
import importlib.util
import os
import shutil
import socket as _pysocket
import sys
import tempfile

import gevent
import pytest

if importlib.util.find_spec("zmq") is None:  # pyzmq is the libzmq oracle; no oracle, no suite
    pytest.skip("pyzmq (libzmq oracle) is not installed", allow_module_level=True)

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:  # make interop_helpers importable whatever pytest's import mode
    sys.path.insert(0, HERE)
pytest.register_assert_rewrite("interop_helpers")  # its checks assert for the tests

from interop_helpers import TEST_TIMEOUT, InteropTimeout, Peer, make_authenticator, zmq_impl  # noqa: E402


def pytest_report_header(config):
    return "interop: module under test %s (%s), libzmq peer via %s" % (
        zmq_impl.__name__, getattr(zmq_impl, "__file__", "?"), sys.executable)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item):
    # Never let a test hang: bound the whole body (zmq.green ignores RCVTIMEO).
    with gevent.Timeout(TEST_TIMEOUT, InteropTimeout("interop test exceeded %ss" % TEST_TIMEOUT)):
        yield


# -- fixtures -------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def zmq():
    """The module under test (``gzmq`` or ``zmq.green``), used like pyzmq."""
    return zmq_impl


@pytest.fixture
def ctx(zmq):
    c = zmq.Context()
    yield c
    with gevent.Timeout(5, InteropTimeout("ctx.destroy(linger=0) hung")):
        c.destroy(linger=0)


@pytest.fixture
def workdir():
    """A short per-test directory in /tmp (ipc paths must stay < 100 bytes)."""
    d = tempfile.mkdtemp(prefix="gz", dir="/tmp")
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def spawn(workdir):
    """spawn(scenario, ready=True) -> Peer; every peer is killed at teardown."""
    peers = []

    def _spawn(scenario, ready=True):
        p = Peer(scenario, workdir)
        peers.append(p)
        if ready:
            p.wait_ready()
        return p

    yield _spawn
    for p in peers:
        p.kill()


@pytest.fixture(params=["tcp", "ipc"])
def transport(request):
    return request.param


@pytest.fixture(params=[True, False], ids=["gzbind", "gzconnect"])
def gz_binds(request):
    return request.param


@pytest.fixture
def new_endpoint(transport, workdir):
    """new_endpoint() -> a fresh bindable endpoint (wildcard tcp port or ipc path)."""
    counter = iter(range(1000))

    def _new():
        if transport == "tcp":
            return "tcp://127.0.0.1:*"
        path = os.path.join(workdir, "s%d" % next(counter))
        assert len(path) < 100
        return "ipc://" + path
    return _new


@pytest.fixture
def fixed_endpoint(transport, workdir):
    """fixed_endpoint() -> a concrete endpoint nobody listens on yet (tcp: free port)."""
    def _fixed():
        if transport == "ipc":
            return "ipc://" + os.path.join(workdir, "fixed")
        s = _pysocket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        return "tcp://127.0.0.1:%d" % port
    return _fixed


@pytest.fixture
def link(zmq, ctx, spawn, gz_binds, new_endpoint):
    """link(gz_type, peer_type, steps, gz_opts=None, peer_opts=None) -> (gz socket, Peer).

    Binds on one side and connects the other according to `gz_binds`; gz options are set
    before bind/connect (a dict of option name -> value, "subscribe" takes a list).
    """
    def _link(gz_type, peer_type, steps, gz_opts=None, peer_opts=None):
        sock = ctx.socket(getattr(zmq, gz_type))
        sock.linger = 0
        for name, value in (gz_opts or {}).items():
            if name == "subscribe":
                for topic in value:
                    sock.subscribe(topic)
            else:
                sock.setsockopt(getattr(zmq, name.upper()), value)
        scenario = {"type": peer_type, "steps": steps,
                    "options": {k: (v.hex() if isinstance(v, bytes) else
                                    [t.hex() for t in v] if isinstance(v, list) else v)
                                for k, v in (peer_opts or {}).items()}}
        if gz_binds:
            sock.bind(new_endpoint())
            scenario.update(bind=False, endpoint=sock.last_endpoint.decode())
            peer = spawn(scenario)
        else:
            scenario.update(bind=True, endpoint=new_endpoint())
            peer = spawn(scenario)
            sock.connect(peer.endpoint)
        return sock, peer
    return _link


@pytest.fixture
def authenticator(ctx):
    """authenticator() -> a started ZAP authenticator for `ctx` (stopped at teardown)."""
    auths = []

    def _new():
        auths.append(make_authenticator(ctx))
        return auths[-1]
    yield _new
    for a in auths:
        a.stop()
