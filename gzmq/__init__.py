"""gzmq: ZeroMQ in pure Python on gevent, a drop-in for pyzmq.

``import gzmq as zmq`` runs ordinary pyzmq code inside gevent: blocking calls yield to the hub,
any number of greenlets may share a socket, SNDTIMEO/RCVTIMEO work, and the wire protocol is
ZMTP 3.1 as libzmq 4.3 speaks it, so gzmq and libzmq peers interoperate.

Layout: ``zmtp/`` is the sans-IO protocol; ``routing/`` the socket-type policies; ``pipe`` the
queues between sockets and connections; ``engine`` the per-connection greenlets;
``transports/`` tcp, ipc and inproc; ``socket``/``context``/``poll``/``proxy`` the pyzmq facade.
"""

from __future__ import annotations

from typing import Any

from . import constants, error
from . import after_fork  # noqa: F401  (a forked child leaves the parent's sockets alone)
from . import exit_delivery  # noqa: F401  (its atexit hook delivers what scripts queued)
from .constants import *  # noqa: F401,F403  (pyzmq re-exports every constant at top level)
from .context import Context
from .error import (
    Again, ContextTerminated, DraftFDWarning, InterruptedSystemCall, NotDone, ZMQBaseError,
    ZMQBindError, ZMQError, ZMQVersionError, strerror,
)
from .frame import _FINISHED_TRACKER, Frame, Message, MessageTracker
from .poll import Poller, select, zmq_poll
from .proxy import device, proxy, proxy_steerable
from .socket import Socket
from .sugar.version import (
    __gzmq_version__, __revision__, __version__, pyzmq_version, pyzmq_version_info,
    version_info as PYZMQ_VERSION_INFO, zmq_version, zmq_version_info,
)
from .transports.ipc import MAX_PATH_LENGTH as IPC_PATH_MAX_LEN
from .zmtp.z85 import curve_keypair, curve_public

#: pyzmq's typing aliases: gzmq has only one (green) flavour of each
SyncContext = Context
SyncSocket = Socket

# Versions (gzmq.sugar.version says why): __version__ and pyzmq_version() are the pyzmq API
# level gzmq implements, zmq_version() the libzmq whose behaviour and wire protocol it
# reproduces (reported so that code gating on zmq_version_info() >= (4, x) runs), and
# __gzmq_version__ gzmq's own release.
COPY_THRESHOLD = 65536
# the draft socket types (CLIENT/SERVER, RADIO/DISH, SCATTER/GATHER, PEER, CHANNEL), udp and
# the routing_id / group / join / leave API are always there: code that checks these runs them
DRAFT_API = True
PYZMQ_DRAFT_API = True
_CAPABILITIES = {"ipc": True, "pgm": True, "tipc": False, "norm": False, "curve": True,
                 "gssapi": False, "draft": True}


def has(capability: str) -> bool:
    """Whether a libzmq capability ('ipc', 'curve', 'pgm', 'draft', ...) is available."""
    return _CAPABILITIES.get(capability, False)


def zmq_errno() -> int:
    return 0


class Stopwatch:
    """Deprecated in pyzmq (use time.monotonic); kept so old code still runs."""

    def __init__(self) -> None:
        self._start: Any = None

    def start(self) -> None:
        from time import monotonic
        self._start = monotonic()

    def stop(self) -> int:
        """Microseconds since start()."""
        from time import monotonic
        if self._start is None:
            raise ZMQError(22, "Must start the Stopwatch before calling stop.")
        elapsed = monotonic() - self._start
        self._start = None
        return int(elapsed * 1e6)


def get_includes() -> list[str]:
    return []


def get_library_dirs() -> list[str]:
    return []


__all__ = [
    "Context", "Socket", "Frame", "Message", "MessageTracker", "Poller", "select", "zmq_poll",
    "proxy", "proxy_steerable", "device", "has", "zmq_version", "zmq_version_info",
    "pyzmq_version", "pyzmq_version_info", "strerror", "zmq_errno", "ZMQBaseError", "ZMQError",
    "Again", "ContextTerminated", "InterruptedSystemCall", "ZMQBindError", "NotDone",
    "ZMQVersionError", "DraftFDWarning", "COPY_THRESHOLD", "IPC_PATH_MAX_LEN", "DRAFT_API",
    "PYZMQ_DRAFT_API", "constants", "error", "_FINISHED_TRACKER", "__version__",
    "get_includes", "get_library_dirs", "curve_keypair", "curve_public", "Stopwatch",
    "SyncContext", "SyncSocket",
]
__all__ += constants.__all__  # (in this form mypy sees the re-exports too)
