"""``bind("ipc://...", mode=0o600)``: owner-only ipc in one call, with no window (issue 7, item 8).

``mode`` is a gzmq extension (pyzmq's bind has none; libzmq leaves the mode to the umask). The
socket file must have exactly ``mode`` and never exist at its path with any other mode, not even
for an instant; the process umask must not be touched.
"""

from __future__ import annotations

import errno
import os
import shutil
import signal
import socket as stdsocket
import stat
import subprocess
import sys
import tempfile
import threading
import time
from typing import Any, Callable, Iterator

import gevent
import gevent.socket
import gevent.monkey
import gevent.subprocess
import pytest
from helpers import wait_until

import gzmq
from gzmq.transports import ipc

NOBODY = 65534


def file_mode(path: str) -> int:
    st = os.stat(path)
    assert stat.S_ISSOCK(st.st_mode), f"{path} is not a socket"
    return stat.S_IMODE(st.st_mode)


def path_of(sock: Any) -> str:
    endpoint = sock.last_endpoint.decode()
    assert endpoint.startswith("ipc://")
    return endpoint[len("ipc://"):]


def leftovers(directory: str) -> list[str]:
    """Private staging directories left in ``directory`` (there must be none)."""
    return [name for name in os.listdir(directory) if name.startswith(".gzmq-")]


@pytest.fixture
def shared_dir() -> Iterator[str]:
    """A directory another user can traverse (pytest's tmp_path is inside a 0700 one)."""
    directory = tempfile.mkdtemp(prefix="gzmq-perm-")
    os.chmod(directory, 0o755)
    yield directory
    shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def umask() -> Iterator[Callable[[int], None]]:
    original = os.umask(0o022)
    os.umask(original)
    yield lambda value: os.umask(value)
    os.umask(original)


# ---------------------------------------------------------------------------------------------
# the mode is exactly the one asked for, whatever the umask; the umask is left alone


@pytest.mark.parametrize("process_umask", [0o022, 0o077, 0o000])
@pytest.mark.parametrize("mode", [0o600, 0o660, 0o666, 0o644, 0o700, 0o777])
def test_mode_is_exact(ctx: Any, tmp_path: Any, umask: Any, mode: int,
                       process_umask: int) -> None:
    umask(process_umask)
    sock = ctx.socket(gzmq.PULL)
    path = str(tmp_path / "exact.sock")
    sock.bind(f"ipc://{path}", mode=mode)
    assert file_mode(path) == mode
    assert sock.last_endpoint == f"ipc://{path}".encode()
    assert os.umask(process_umask) == process_umask, "bind changed the process umask"
    sock.bind("ipc://*", mode=mode)
    assert file_mode(path_of(sock)) == mode
    assert path_of(sock) != path
    # mode=None keeps today's behaviour: the umask decides
    path = str(tmp_path / "default.sock")
    sock.bind(f"ipc://{path}", mode=None)
    assert file_mode(path) == 0o777 & ~process_umask
    assert leftovers(str(tmp_path)) == []


# ---------------------------------------------------------------------------------------------
# no window: the final path never shows a socket file with another mode


class CheckingOs:
    """Stands in for ``os`` in gzmq.transports.ipc: before and after every call the bind makes,
    looks at the final path. A bind that creates the file and then chmods it is caught."""

    def __init__(self, path: str, mode: int) -> None:
        self.target, self.mode = path, mode
        self.looks = 0
        self.appeared = False
        self.wrong: list[tuple[str, int]] = []

    def check(self, when: str) -> None:
        self.looks += 1
        try:
            st = os.lstat(self.target)
        except FileNotFoundError:
            return
        self.appeared = True
        if stat.S_IMODE(st.st_mode) != self.mode or not stat.S_ISSOCK(st.st_mode):
            self.wrong.append((when, st.st_mode))

    def __getattr__(self, name: str) -> Any:
        real = getattr(os, name)
        if not callable(real) or isinstance(real, type):
            return real

        def call(*args: Any, **kwargs: Any) -> Any:
            self.check(f"before os.{name}{args}")
            try:
                return real(*args, **kwargs)
            finally:
                self.check(f"after os.{name}{args}")
        return call


@pytest.mark.parametrize("name", ["seq.sock", "s", "*"])
def test_no_window_in_the_bind_sequence(ctx: Any, tmp_path: Any, monkeypatch: Any,
                                        name: str) -> None:
    sock = ctx.socket(gzmq.PULL)
    if name == "*":
        # the random path is not known in advance: learn where mkdtemp puts it
        real_mkdtemp = tempfile.mkdtemp
        made: list[str] = []

        def mkdtemp(*args: Any, **kwargs: Any) -> str:
            directory = real_mkdtemp(*args, **kwargs)
            made.append(directory)
            if len(made) == 1:
                checker.target = os.path.join(directory, "socket")
            return directory
        monkeypatch.setattr(tempfile, "mkdtemp", mkdtemp)
        url, path = "ipc://*", ""
    else:
        path = str(tmp_path / name)
        url = f"ipc://{path}"
    checker = CheckingOs(path, 0o600)
    monkeypatch.setattr(ipc, "os", checker)
    sock.bind(url, mode=0o600)
    monkeypatch.undo()
    checker.check("after bind")
    assert checker.appeared and checker.looks > 2
    assert checker.wrong == [], f"socket file seen with another mode: {checker.wrong}"


@pytest.mark.skipif(gevent.monkey.is_module_patched("threading"),
                    reason="needs a real OS thread")
def test_no_window_seen_by_a_watcher_thread(ctx: Any, tmp_path: Any) -> None:
    """An OS thread stats the path in a tight loop while it is bound over and over."""
    path = str(tmp_path / "watched.sock")
    seen: dict[int, int] = {}
    stop = threading.Event()

    def watch() -> None:
        while not stop.is_set():
            try:
                mode = stat.S_IMODE(os.lstat(path).st_mode)
            except FileNotFoundError:
                continue
            seen[mode] = seen.get(mode, 0) + 1

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # hand the GIL over as often as possible
    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    sockets = []
    try:
        deadline = time.monotonic() + 5
        for _ in range(300):
            sock = ctx.socket(gzmq.PULL)
            sock.bind(f"ipc://{path}", mode=0o600)  # replaces the previous one's file
            sockets.append(sock)
            if len(sockets) > 20:
                sockets.pop(0).close(linger=0)
            if time.monotonic() > deadline:
                break
    finally:
        stop.set()
        watcher.join(5)
        sys.setswitchinterval(interval)
    assert seen.get(0o600), "the watcher never saw the file: the test proves nothing"
    counts = {oct(mode): n for mode, n in seen.items()}
    assert set(seen) == {0o600}, f"modes seen at the path: {counts}"


# ---------------------------------------------------------------------------------------------
# another user


def connect_as_nobody(path: str) -> int:
    """Fork; the child drops to uid/gid nobody and connects a raw AF_UNIX socket to ``path``.
    Returns 0 if it connected, else the errno. The child reports through a pipe, not its
    exit status: gevent's child watcher (installed by any gevent.subprocess use earlier in
    this process) may reap the child before we can."""
    readable, writable = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: plain syscalls only, then _exit
        code = 99
        try:
            os.close(readable)
            signal.alarm(10)
            os.setgroups([])
            os.setgid(NOBODY)
            os.setuid(NOBODY)
            raw = stdsocket.socket(stdsocket.AF_UNIX, stdsocket.SOCK_STREAM)
            try:
                raw.connect(path)
                code = 0
            except OSError as e:
                code = e.errno or 98
        finally:
            try:
                os.write(writable, b"%d" % code)
            finally:
                os._exit(0)
    os.close(writable)
    try:
        gevent.socket.wait_read(readable, timeout=15,
                                timeout_exc=AssertionError("child did not finish"))
        report = os.read(readable, 16)
    finally:
        os.close(readable)
        try:
            os.waitpid(pid, 0)
        except ChildProcessError:
            pass  # reaped by gevent's child watcher already
    assert report, "child died before reporting"
    return int(report)


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to become another user")
@pytest.mark.parametrize("where", ["path", "*"])
def test_another_user_cannot_connect(ctx: Any, shared_dir: str, umask: Any,
                                     where: str) -> None:
    umask(0o022)
    results = {}
    for mode in (0o600, 0o666, None):
        if mode is None and where == "*":
            continue
        sock = ctx.socket(gzmq.PULL)
        url = f"ipc://{shared_dir}/{mode}.sock" if where == "path" else "ipc://*"
        sock.bind(url, mode=mode)
        results[mode] = connect_as_nobody(path_of(sock))
    assert results[0o600] == errno.EACCES
    assert results[0o666] == 0
    if where == "path":
        assert results[None] == errno.EACCES  # umask 022: 0o755, no write bit for others


# ---------------------------------------------------------------------------------------------
# the endpoint still works, for gzmq and for libzmq (pyzmq) peers of the same user


def test_push_pull_over_an_owner_only_endpoint(ctx: Any, tmp_path: Any) -> None:
    path = str(tmp_path / "pp.sock")
    pull, push = ctx.socket(gzmq.PULL), ctx.socket(gzmq.PUSH)
    pull.rcvtimeo = 5000
    pull.bind(f"ipc://{path}", mode=0o600)
    push.connect(f"ipc://{path}")
    for i in range(10):
        push.send(b"%d" % i)
    assert [pull.recv() for _ in range(10)] == [b"%d" % i for i in range(10)]
    # and ipc://*
    pull2 = ctx.socket(gzmq.PULL)
    pull2.rcvtimeo = 5000
    pull2.bind("ipc://*", mode=0o600)
    push2 = ctx.socket(gzmq.PUSH)
    push2.connect(pull2.last_endpoint)
    push2.send(b"star")
    assert pull2.recv() == b"star"


PYZMQ_PUSH = """
import sys, zmq
ctx = zmq.Context()
s = ctx.socket(zmq.PUSH)
s.linger = 5000
s.sndtimeo = 5000
s.connect(sys.argv[1])
s.send(b"from libzmq")
s.close()
ctx.term()
"""


def test_pyzmq_peer_connects_to_an_owner_only_endpoint(ctx: Any, tmp_path: Any) -> None:
    pytest.importorskip("zmq")
    path = str(tmp_path / "interop.sock")
    pull = ctx.socket(gzmq.PULL)
    pull.rcvtimeo = 10000
    pull.bind(f"ipc://{path}", mode=0o600)
    assert file_mode(path) == 0o600
    peer = gevent.subprocess.Popen([sys.executable, "-c", PYZMQ_PUSH, f"ipc://{path}"],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert pull.recv() == b"from libzmq"
        out, err = peer.communicate(timeout=15)
        assert peer.returncode == 0, err.decode()
    finally:
        if peer.poll() is None:
            peer.kill()
            peer.wait()


# ---------------------------------------------------------------------------------------------
# errors, conflicts and cleanup


def test_mode_errors(ctx: Any, tmp_path: Any) -> None:
    sock = ctx.socket(gzmq.PULL)
    for url in ("tcp://127.0.0.1:*", "inproc://mode-perm", "ipc://@gzmq-mode-abstract"):
        with pytest.raises(gzmq.ZMQError) as info:
            sock.bind(url, mode=0o600)
        assert info.value.errno == gzmq.EINVAL
        assert "mode" in str(info.value) and url in str(info.value)
    path = str(tmp_path / "bad.sock")
    for bad in ("0o600", 1.5, True, b"\x01"):
        with pytest.raises(TypeError):
            sock.bind(f"ipc://{path}", mode=bad)
    for bad in (-1, 0o1000, 0o4700):
        with pytest.raises(ValueError):
            sock.bind(f"ipc://{path}", mode=bad)
    with pytest.raises(TypeError):
        sock.bind(f"ipc://{path}", 0o600)  # keyword-only
    assert not os.path.exists(path) and leftovers(str(tmp_path)) == []
    # a missing directory: the same error as without mode, nothing left behind
    missing = str(tmp_path / "missing" / "x.sock")
    with pytest.raises(gzmq.ZMQError) as info:
        sock.bind(f"ipc://{missing}", mode=0o600)
    assert info.value.errno == errno.ENOENT
    # the socket is still usable afterwards
    sock.bind(f"ipc://{path}", mode=0o600)
    assert file_mode(path) == 0o600


def test_conflicts_as_without_mode(ctx: Any, tmp_path: Any) -> None:
    """mode= keeps bind's conflict rules: a file at the path is replaced (libzmq unlinks it,
    stale or not); something that cannot be replaced (a directory) is EADDRINUSE."""
    directory = str(tmp_path)
    for mode in (None, 0o600):
        # a stale socket file from an earlier run
        stale_path = os.path.join(directory, f"stale-{mode}.sock")
        stale = stdsocket.socket(stdsocket.AF_UNIX, stdsocket.SOCK_STREAM)
        stale.bind(stale_path)
        stale.close()
        os.chmod(stale_path, 0o777)
        server, client = ctx.socket(gzmq.PAIR), ctx.socket(gzmq.PAIR)
        server.rcvtimeo = 5000
        server.bind(f"ipc://{stale_path}", mode=mode)
        if mode is not None:
            assert file_mode(stale_path) == mode
        client.connect(f"ipc://{stale_path}")
        client.send(b"after stale")
        assert server.recv() == b"after stale"
        # a directory in the way
        blocked = os.path.join(directory, f"dir-{mode}")
        os.mkdir(blocked)
        with pytest.raises(gzmq.ZMQError) as info:
            server.bind(f"ipc://{blocked}", mode=mode)
        assert info.value.errno == gzmq.EADDRINUSE
        assert os.path.isdir(blocked)
    assert leftovers(directory) == []


def test_unbind_and_close_remove_the_file(ctx: Any, tmp_path: Any) -> None:
    path = str(tmp_path / "gone.sock")
    sock = ctx.socket(gzmq.PULL)
    sock.bind(f"ipc://{path}", mode=0o600)
    assert sock.last_endpoint == f"ipc://{path}".encode()
    sock.unbind(f"ipc://{path}")
    assert wait_until(lambda: not os.path.exists(path)), "file left after unbind"
    sock.bind(f"ipc://{path}", mode=0o600)
    sock.bind("ipc://*", mode=0o600)
    star = path_of(sock)
    sock.close()
    assert wait_until(lambda: not os.path.exists(path)), "file left after close"
    assert wait_until(lambda: not os.path.exists(os.path.dirname(star))), "ipc://* dir left"
    assert os.listdir(str(tmp_path)) == []


def test_longest_path_still_binds(ctx: Any, tmp_path: Any) -> None:
    """A path that fits sun_path exactly, with a name too short to hide a staging directory's."""
    base = str(tmp_path)
    room = ipc.MAX_PATH_LENGTH - len(base) - len("/s") - 1
    deep = os.path.join(base, "d" * room)
    os.mkdir(deep)
    path = os.path.join(deep, "s")
    assert len(path.encode()) == ipc.MAX_PATH_LENGTH
    pull, push = ctx.socket(gzmq.PULL), ctx.socket(gzmq.PUSH)
    pull.rcvtimeo = 5000
    pull.bind(f"ipc://{path}", mode=0o640)
    assert file_mode(path) == 0o640
    push.connect(f"ipc://{path}")
    push.send(b"long")
    assert pull.recv() == b"long"
    assert leftovers(deep) == []
