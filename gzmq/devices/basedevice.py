"""``Device``, ``ThreadDevice``, ``ProcessDevice``: a proxy between two sockets it makes itself.

A device is described by socket types plus the binds, connects and options to apply; the
sockets are made by whatever runs the device (the caller, a greenlet, or a child process),
which is what lets a process device own its sockets outright.

- ``Device.start()`` runs the device here and returns when its context is terminated (or a
  socket is closed under it): ContextTerminated and ENOTSOCK count as a clean end.
- ``ThreadDevice``: a greenlet in the calling thread's hub (gzmq runs one hub per thread; see
  the package docstring for what that means without monkey-patching).
- ``ProcessDevice``: a child process made with fork where the platform has it (so neither
  pickling nor a ``__main__`` guard is needed, as with pyzmq on Linux). The child inherits the
  parent's hub with every greenlet parked in it; those greenlets hold the parent's connections
  and must never run in the child, so the child runs the device in a new OS thread (a fresh
  hub) and keeps its inherited main thread blocked until the device ends. The device makes a
  fresh ``Context`` there (``context_factory``), never the parent's ``Context.instance()``.
"""

from __future__ import annotations

import itertools
import multiprocessing
import os
from time import monotonic
from typing import Any, Callable, Optional

import gevent
import gevent.select

from ..constants import ENOTSOCK, ETERM, PUSH, QUEUE
from ..context import Context
from ..error import ZMQBindError, ZMQError

__all__ = ["Device", "ThreadDevice", "ProcessDevice"]


class Device:
    """Proxy between an ``in`` and an ``out`` socket, made from types when the device runs.

    ``Device(device_type, in_type, out_type)``; an ``out_type`` < 0 means one socket serves
    both sides. Queue up ``bind_in``/``connect_in``/``setsockopt_in`` (and ``_out``), then
    ``start()``. ``context_factory`` is how the running device gets its context:
    ``Context.instance`` here and for thread devices, a new ``Context`` for process devices.
    """

    context_factory: Callable[[], Any] = Context.instance

    def __init__(self, device_type: int = QUEUE, in_type: Optional[int] = None,
                 out_type: Optional[int] = None) -> None:
        if in_type is None:
            raise TypeError("in_type must be specified")
        if out_type is None:
            raise TypeError("out_type must be specified")
        self.device_type = device_type
        self.in_type = in_type
        self.out_type = out_type
        self._in_binds: list[str] = []
        self._in_connects: list[str] = []
        self._in_sockopts: list[tuple[int, Any]] = []
        self._out_binds: list[str] = []
        self._out_connects: list[str] = []
        self._out_sockopts: list[tuple[int, Any]] = []
        self._random_addrs: list[str] = []
        self._sockets: list[Any] = []
        self.daemon = True
        self.done = False

    # --- what to do with the sockets once they exist ----------------------------------------

    def bind_in(self, addr: str) -> None:
        """Bind the in socket to ``addr`` when the device starts."""
        self._in_binds.append(addr)

    def bind_in_to_random_port(self, addr: str, *args: Any, **kwargs: Any) -> int:
        """Pick a free port on ``addr`` now (as ``bind_to_random_port``); bind it at start."""
        port = self._reserve_random_port(addr, *args, **kwargs)
        self.bind_in(f"{addr}:{port}")
        return port

    def connect_in(self, addr: str) -> None:
        """Connect the in socket to ``addr`` when the device starts."""
        self._in_connects.append(addr)

    def setsockopt_in(self, opt: int, value: Any) -> None:
        """Set an option on the in socket (before any bind or connect) when the device starts."""
        self._in_sockopts.append((opt, value))

    def bind_out(self, addr: str) -> None:
        """Bind the out socket to ``addr`` when the device starts."""
        self._out_binds.append(addr)

    def bind_out_to_random_port(self, addr: str, *args: Any, **kwargs: Any) -> int:
        """Pick a free port on ``addr`` now; bind the out socket to it at start."""
        port = self._reserve_random_port(addr, *args, **kwargs)
        self.bind_out(f"{addr}:{port}")
        return port

    def connect_out(self, addr: str) -> None:
        """Connect the out socket to ``addr`` when the device starts."""
        self._out_connects.append(addr)

    def setsockopt_out(self, opt: int, value: Any) -> None:
        """Set an option on the out socket when the device starts."""
        self._out_sockopts.append((opt, value))

    def _reserve_random_port(self, addr: str, *args: Any, **kwargs: Any) -> int:
        """A port that was free a moment ago and that this device has not reserved yet.

        The probe socket lives in a throw-away context, so the port is free again when this
        returns (the device binds it later, possibly in another process)."""
        with Context() as probe_context:
            with probe_context.socket(PUSH) as probe:
                probe.linger = 0
                for _ in range(5):
                    port = probe.bind_to_random_port(addr, *args, **kwargs)
                    candidate = f"{addr}:{port}"
                    if candidate not in self._random_addrs:
                        self._random_addrs.append(candidate)
                        return port
        raise ZMQBindError("Could not reserve random port.")

    # --- running -----------------------------------------------------------------------------

    @staticmethod
    def _configure(sock: Any, sockopts: list[tuple[int, Any]], binds: list[str],
                   connects: list[str]) -> None:
        # options first: ROUTING_ID and friends only count before the first bind/connect
        for opt, value in sockopts:
            sock.setsockopt(opt, value)
        for addr in binds:
            sock.bind(addr)
        for addr in connects:
            sock.connect(addr)

    def _make_socket(self, socket_type: int) -> Any:
        sock = self._context.socket(socket_type)
        self._sockets.append(sock)
        return sock

    def _setup_sockets(self) -> tuple[Any, Any]:
        self._context = self.context_factory()
        ins = self._make_socket(self.in_type)
        outs = ins if self.out_type < 0 else self._make_socket(self.out_type)
        # all options, then all binds, then all connects (one socket may play both sides)
        self._configure(ins, self._in_sockopts, [], [])
        self._configure(outs, self._out_sockopts, [], [])
        self._configure(ins, [], self._in_binds, [])
        self._configure(outs, [], self._out_binds, [])
        self._configure(ins, [], [], self._in_connects)
        self._configure(outs, [], [], self._out_connects)
        return ins, outs

    def run_device(self) -> None:
        """Make the sockets and proxy between them (override to run something else)."""
        from ..proxy import proxy
        ins, outs = self._setup_sockets()
        proxy(ins, outs)

    def _close_sockets(self) -> None:
        for sock in self._sockets:
            if sock is not None and not sock.closed:
                sock.close()

    def run(self) -> None:
        """``run_device()``; a terminated context or a closed socket is a normal end."""
        try:
            self.run_device()
        except ZMQError as e:
            if e.errno not in (ETERM, ENOTSOCK):
                raise
        finally:
            self.done = True
            self._close_sockets()

    def start(self) -> None:
        """Run the device in this greenlet (subclasses run it in the background)."""
        return self.run()

    def join(self, timeout: Optional[float] = None) -> None:
        """Wait (cooperatively) until the device has ended, or ``timeout`` seconds."""
        deadline = None if timeout is None else monotonic() + timeout
        while not self.done and (deadline is None or monotonic() < deadline):
            gevent.sleep(0.005)

    def __getstate__(self) -> dict[str, Any]:
        # for a spawn/forkserver child: what it needs to build the device, not what runs it
        state = dict(self.__dict__)
        for live in ("launcher", "_context"):
            state.pop(live, None)
        state["_sockets"] = []
        return state


class BackgroundDevice(Device):
    """A device whose ``start()`` returns at once; ``launcher`` is what runs it."""

    launcher: Any = None
    _launch_class: Any = None

    def _launch_target(self) -> tuple[Callable[..., Any], tuple[Any, ...]]:
        return self.run, ()

    def start(self) -> None:
        target, args = self._launch_target()
        self.launcher = self._launch_class(target=target, args=args)
        self.launcher.daemon = self.daemon
        return self.launcher.start()

    def join(self, timeout: Optional[float] = None) -> None:
        return self.launcher.join(timeout=timeout)


_greenlet_names = itertools.count(1)
#: devices running as greenlets: nothing else may hold them (``del dev`` must not stop one)
_running: set[Any] = set()


class GreenletThread:
    """The part of ``threading.Thread`` a device launcher uses, run as a greenlet.

    It runs in the hub of the thread that calls ``start()``. ``daemon`` is kept for
    compatibility: a greenlet never keeps the process alive, and at exit gzmq closes the
    device's sockets, which ends it.
    """

    def __init__(self, target: Callable[..., Any], args: tuple[Any, ...] = (),
                 kwargs: Optional[dict[str, Any]] = None, name: Optional[str] = None) -> None:
        self._target = target
        self._args = args
        self._kwargs = kwargs or {}
        self.name = name or f"GreenletThread-{next(_greenlet_names)}"
        self.daemon = True
        self._greenlet: Optional[gevent.Greenlet] = None

    def start(self) -> None:
        if self._greenlet is not None:
            raise RuntimeError("threads can only be started once")
        _running.add(self)
        self._greenlet = gevent.spawn(self._run)

    def _run(self) -> None:
        try:
            self._target(*self._args, **self._kwargs)
        finally:
            _running.discard(self)

    def join(self, timeout: Optional[float] = None) -> None:
        if self._greenlet is None:
            raise RuntimeError("cannot join thread before it is started")
        self._greenlet.join(timeout)

    def is_alive(self) -> bool:
        return self._greenlet is not None and not self._greenlet.dead

    @property
    def ident(self) -> Optional[int]:
        return None if self._greenlet is None else id(self._greenlet)

    def __repr__(self) -> str:
        state = "started" if self._greenlet is not None else "initial"
        if self._greenlet is not None and self._greenlet.dead:
            state = "stopped"
        return f"<GreenletThread({self.name}, {state})>"


class ThreadDevice(BackgroundDevice):
    """A Device run in the background as a greenlet of the caller's hub (see Device)."""

    _launch_class = GreenletThread


def _process_class() -> Any:
    if "fork" in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("fork").Process
    return multiprocessing.get_context().Process


def _run_isolated(device: Device) -> None:
    """The child process's body: run ``device`` in a new OS thread, so that the parent's
    greenlets inherited in this thread's hub never run (they would use its connections)."""
    from gevent import monkey
    start_new_thread = monkey.get_original("_thread", "start_new_thread")
    allocate_lock = monkey.get_original("_thread", "allocate_lock")
    finished = allocate_lock()
    finished.acquire()
    failure: list[BaseException] = []

    def body() -> None:
        try:
            device.run()
        except BaseException as e:  # noqa: BLE001 - re-raised in the child's main thread
            failure.append(e)
        finally:
            finished.release()

    start_new_thread(body, ())
    finished.acquire()
    if failure:
        raise failure[0]


class _DeviceProcess(_process_class()):  # type: ignore[misc]
    """``multiprocessing.Process`` whose ``join`` waits cooperatively (on its sentinel)."""

    _exit_status: Optional[int] = None

    def start(self) -> None:
        super().start()
        # Once anything in this process has used gevent.subprocess, libev reaps *every* child
        # on SIGCHLD, and multiprocessing's own waitpid then never learns the exit status. A
        # child watcher, started before the hub can run, is told the status when libev reaps.
        watcher = gevent.get_hub().loop.child(self.pid, False, ref=False)
        watcher.start(self._record_exit, watcher)

    def _record_exit(self, watcher: Any) -> None:
        self._exit_status = watcher.rstatus
        watcher.stop()

    def join(self, timeout: Optional[float] = None) -> None:
        if self.exitcode is None:
            ready, _, _ = gevent.select.select([self.sentinel], [], [], timeout)
            if not ready:
                return
        # the sentinel closes as the child exits: reaping it takes a moment at most
        super().join(5.0)
        if self.exitcode is None and self._popen is not None:
            # gevent's child watcher (installed by any gevent.subprocess use in this process)
            # may have reaped the child first: multiprocessing then never learns its status,
            # but gevent's waitpid keeps it
            if self._exit_status is None:
                gevent.sleep(0)  # let libev run the child watcher for a SIGCHLD just handled
            if self._exit_status is not None:
                self._popen.returncode = os.waitstatus_to_exitcode(self._exit_status)


class ProcessDevice(BackgroundDevice):
    """A Device run in a child process, with a fresh gzmq Context there (see module doc)."""

    _launch_class = _DeviceProcess
    context_factory: Callable[[], Any] = Context

    def _launch_target(self) -> tuple[Callable[..., Any], tuple[Any, ...]]:
        return _run_isolated, (self,)
