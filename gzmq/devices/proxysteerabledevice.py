"""``ProxySteerable`` and its thread/process variants: a Proxy with a control socket.

The control socket takes libzmq's commands PAUSE, RESUME, TERMINATE and STATISTICS (see
gzmq/proxy.py). TERMINATE ends the device normally. With ``ctrl_type=None`` there is no
control socket and the device is a plain Proxy, as libzmq's proxy with a NULL control.
"""

from __future__ import annotations

from typing import Any, Optional

from ..constants import PUB
from .basedevice import Device
from .proxydevice import ProcessProxy, Proxy, ThreadProxy

__all__ = ["ProxySteerable", "ThreadProxySteerable", "ProcessProxySteerable"]


class ProxySteerableBase:
    """Adds the control socket (``*_ctrl`` methods) to a Proxy class."""

    def __init__(self, in_type: int, out_type: int, mon_type: int = PUB,
                 ctrl_type: Optional[int] = None) -> None:
        super().__init__(in_type=in_type, out_type=out_type, mon_type=mon_type)  # type: ignore
        self.ctrl_type = ctrl_type
        self._ctrl_binds: list[str] = []
        self._ctrl_connects: list[str] = []
        self._ctrl_sockopts: list[tuple[int, Any]] = []

    def bind_ctrl(self, addr: str) -> None:
        """Bind the control socket to ``addr`` when the device starts."""
        self._ctrl_binds.append(addr)

    def bind_ctrl_to_random_port(self, addr: str, *args: Any, **kwargs: Any) -> int:
        """Pick a free port on ``addr`` now; bind the control socket to it at start."""
        port = self._reserve_random_port(addr, *args, **kwargs)  # type: ignore[attr-defined]
        self.bind_ctrl(f"{addr}:{port}")
        return port

    def connect_ctrl(self, addr: str) -> None:
        """Connect the control socket to ``addr`` when the device starts."""
        self._ctrl_connects.append(addr)

    def setsockopt_ctrl(self, opt: int, value: Any) -> None:
        """Set an option on the control socket when the device starts."""
        self._ctrl_sockopts.append((opt, value))

    def _setup_sockets(self) -> Any:
        ins, outs, mons = super()._setup_sockets()  # type: ignore[misc]
        ctrls = None
        if self.ctrl_type is not None:
            ctrls = self._make_socket(self.ctrl_type)  # type: ignore[attr-defined]
            Device._configure(ctrls, self._ctrl_sockopts, self._ctrl_binds,
                              self._ctrl_connects)
        return ins, outs, mons, ctrls

    def run_device(self) -> None:
        from ..proxy import proxy_steerable
        ins, outs, mons, ctrls = self._setup_sockets()
        proxy_steerable(ins, outs, mons, ctrls)


class ProxySteerable(ProxySteerableBase, Proxy):
    """A steerable proxy run in this greenlet by ``start()``."""


class ThreadProxySteerable(ProxySteerableBase, ThreadProxy):
    """ProxySteerable run as a greenlet (see ThreadDevice)."""


class ProcessProxySteerable(ProxySteerableBase, ProcessProxy):
    """ProxySteerable run in a child process (see ProcessDevice)."""
