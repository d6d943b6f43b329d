"""Deliver at interpreter exit what a script queued: libzmq's I/O thread does it meanwhile.

With libzmq, ``send()`` hands the message to an I/O thread that writes it within microseconds,
so a script that sends, closes and ends has delivered. gzmq writes from the gevent hub, which
runs only while the program is inside a blocking call; a script that sends and exits (or sleeps
with the real ``time.sleep`` first) would lose everything. At exit, therefore, every socket of
this thread's hub is closed with its LINGER and the hub runs until what is queued is written:

- a connection that is up, or being made, finishes its handshake and writes its queue;
- a connect with no peer to reach (its dial failed; it waits to redial) is dropped at once, so
  a script with nobody listening exits promptly, as pyzmq's does;
- LINGER bounds each socket as on close(); with LINGER -1 we give up once nothing has been
  written for ``STALL_SECONDS`` (a peer that stopped reading cannot hold the exit forever).

Threaded contexts (``io_thread.py``) are flushed the same way, inside their I/O threads. A
forked child's copy of a parent's socket has nothing of its own to deliver and does nothing.
"""

from __future__ import annotations

import atexit
import logging
import os
from time import monotonic

import gevent

from .io_thread import all_io_threads
from .lifecycle import SocketLifecycle, all_lifecycles

__all__ = ["deliver_queued_messages", "STALL_SECONDS"]

#: at exit, give up on a socket whose connections wrote nothing for this long
STALL_SECONDS = 2.0
#: how often the exit loop looks again
_POLL_SECONDS = 0.01

log = logging.getLogger("gzmq")
_pid = os.getpid()


def deliver_queued_messages() -> None:
    """Close this hub's open sockets and let them deliver what they hold (see module doc)."""
    if os.getpid() != _pid:
        return
    hub = gevent.get_hub()
    lifecycles = [lc for lc in all_lifecycles() if lc.hub is hub]
    for lifecycle in lifecycles:
        if not lifecycle.core.closed:
            lifecycle.core.close()
    lingering = [lc for lc in lifecycles if lc.lingering]
    if lingering:
        _wait_for(lingering)


def _wait_for(lingering: list[SocketLifecycle]) -> None:
    progress = [0]

    def written() -> None:  # the socket's send signal fires as writers take batches
        progress[0] += 1

    for lifecycle in lingering:
        lifecycle.core.send_signal.add_watcher(written)
    seen, last_progress = progress[0], monotonic()
    while lingering:
        for lifecycle in lingering:
            lifecycle.abandon_unreachable_peers()
        gevent.sleep(_POLL_SECONDS)
        lingering = [lc for lc in lingering if lc.lingering]
        if progress[0] != seen:
            seen, last_progress = progress[0], monotonic()
        elif monotonic() - last_progress > STALL_SECONDS:
            log.warning("exiting with undelivered messages on %d socket(s): their peers took "
                        "nothing for %.0f s", len(lingering), STALL_SECONDS)
            for lifecycle in lingering:
                lifecycle.kill()
            return


def _at_exit() -> None:
    try:
        deliver_queued_messages()
        for io in all_io_threads():  # threaded contexts: their hubs run in their I/O threads
            io.call(deliver_queued_messages)
    except Exception:  # noqa: BLE001 - never turn an exit into a traceback storm
        log.exception("gzmq could not deliver queued messages at exit")


atexit.register(_at_exit)
