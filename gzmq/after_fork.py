"""What a forked child does with its copy of the parent's sockets: nothing, as with libzmq.

libzmq's I/O threads do not survive ``fork()``, so a child's copy of a context is inert: it
never accepts on the parent's listeners nor reads or writes the parent's connections. gzmq's
I/O runs in the gevent hub, which the child inherits, so right after a fork the child:

1. gives its hub a fresh event loop (``gevent.hub.reinit``) when ``os.fork`` was not patched
   by gevent (which does that itself), so the child never shares the parent's epoll set;
2. makes every inherited socket inert (``SocketLifecycle.abandon_after_fork``): the child's
   copies of its fds are closed without a byte sent, its greenlets are killed, and calls on it
   raise ENOTSOCK. The parent's connections and ipc files are untouched.

The child's own new contexts and sockets work as usual. ``exit_delivery`` likewise delivers
nothing at the child's exit on the parent's behalf.
"""

from __future__ import annotations

import logging
import os

from gevent import hub as gevent_hub
from gevent import monkey

from .lifecycle import all_lifecycles

__all__ = ["make_inherited_sockets_inert"]

log = logging.getLogger("gzmq")


def make_inherited_sockets_inert() -> None:
    lifecycles = list(all_lifecycles())
    if not lifecycles:
        return
    if not monkey.is_module_patched("os"):
        gevent_hub.reinit()
    for lifecycle in lifecycles:
        lifecycle.abandon_after_fork()


def _after_fork_in_child() -> None:
    try:
        make_inherited_sockets_inert()
    except Exception:  # noqa: BLE001 - a fork must not fail because of us
        log.exception("gzmq could not make the parent's sockets inert in a forked child")


os.register_at_fork(after_in_child=_after_fork_in_child)
