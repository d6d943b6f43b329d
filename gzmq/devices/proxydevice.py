"""``Proxy``, ``ThreadProxy``, ``ProcessProxy``: a device with a third, monitor socket.

Every message the proxy forwards, either way, is also sent on the monitor socket (a PUB by
default), as libzmq's ``zmq_proxy`` capture socket.
"""

from __future__ import annotations

from typing import Any

from ..constants import PUB
from .basedevice import Device, ProcessDevice, ThreadDevice

__all__ = ["Proxy", "ThreadProxy", "ProcessProxy"]


class ProxyBase:
    """Adds the monitor socket (``*_mon`` methods) to a Device class."""

    def __init__(self, in_type: int, out_type: int, mon_type: int = PUB) -> None:
        Device.__init__(self, in_type=in_type, out_type=out_type)  # type: ignore[arg-type]
        self.mon_type = mon_type
        self._mon_binds: list[str] = []
        self._mon_connects: list[str] = []
        self._mon_sockopts: list[tuple[int, Any]] = []

    def bind_mon(self, addr: str) -> None:
        """Bind the monitor socket to ``addr`` when the device starts."""
        self._mon_binds.append(addr)

    def bind_mon_to_random_port(self, addr: str, *args: Any, **kwargs: Any) -> int:
        """Pick a free port on ``addr`` now; bind the monitor socket to it at start."""
        port = self._reserve_random_port(addr, *args, **kwargs)  # type: ignore[attr-defined]
        self.bind_mon(f"{addr}:{port}")
        return port

    def connect_mon(self, addr: str) -> None:
        """Connect the monitor socket to ``addr`` when the device starts."""
        self._mon_connects.append(addr)

    def setsockopt_mon(self, opt: int, value: Any) -> None:
        """Set an option on the monitor socket when the device starts."""
        self._mon_sockopts.append((opt, value))

    def _setup_sockets(self) -> Any:
        ins, outs = Device._setup_sockets(self)  # type: ignore[arg-type]
        mons = self._make_socket(self.mon_type)  # type: ignore[attr-defined]
        Device._configure(mons, self._mon_sockopts, self._mon_binds, self._mon_connects)
        return ins, outs, mons

    def run_device(self) -> None:
        from ..proxy import proxy
        ins, outs, mons = self._setup_sockets()
        proxy(ins, outs, mons)


class Proxy(ProxyBase, Device):
    """A proxy with a monitor socket, run in this greenlet by ``start()``."""


class ThreadProxy(ProxyBase, ThreadDevice):
    """Proxy run as a greenlet (see ThreadDevice)."""


class ProcessProxy(ProxyBase, ProcessDevice):
    """Proxy run in a child process (see ProcessDevice)."""
