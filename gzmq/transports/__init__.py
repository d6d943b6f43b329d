"""How a peer comes to exist for an endpoint URL.

``bind(socket, url)`` / ``connect(socket, url)`` pick the transport by scheme, register a handle
in the socket's endpoint table and return the resolved endpoint (what LAST_ENDPOINT reports).
tcp and ipc produce byte streams and share ``stream.Listener`` / ``stream.Connector``; inproc
cross-wires two sockets with a pipe and has no engine at all. ``bind``'s ``mode`` (a gzmq
extension) is the file mode of an ipc:// socket file; any other endpoint is EINVAL with it.
"""

from __future__ import annotations

from typing import Any, Optional

from ..constants import EINVAL, EPROTONOSUPPORT, Event
from ..error import ZMQError
from . import inproc, ipc, tcp
from .ipc import GzmqExtensionFileMode
from .stream import Connector, Listener

__all__ = ["bind", "connect", "split_url", "GzmqExtensionFileMode"]

_STREAM_TRANSPORTS = {"tcp": tcp, "ipc": ipc}


def split_url(url: str) -> tuple[str, str]:
    scheme, sep, address = url.partition("://")
    if not sep:
        raise ZMQError(EINVAL)
    if scheme not in ("tcp", "ipc", "inproc"):
        raise ZMQError(EPROTONOSUPPORT)
    if not address:
        raise ZMQError(EINVAL)
    return scheme, address


def bind(socket: Any, url: str, mode: Optional[int] = None) -> str:
    if mode is not None:
        ipc.check_mode(mode)
    scheme, address = split_url(url)
    if mode is not None and scheme != "ipc":
        raise ZMQError(EINVAL, f"mode={mode:#o} applies only to ipc:// endpoints with a socket "
                               f"file (mode= is a gzmq extension); {scheme}:// has no file")
    if scheme == "inproc":
        return inproc.bind(socket, address)
    module = _STREAM_TRANSPORTS[scheme]
    if scheme == "ipc":
        listening_socket, resolved, cleanup = ipc.listen(address, socket._options, mode)
    else:
        listening_socket, resolved, cleanup = module.listen(address, socket._options)
    listener = Listener(socket, listening_socket, resolved, module.peer_address, cleanup)
    socket._endpoints.add_bound([url, resolved], listener)
    listener.start()
    socket._emit(Event.LISTENING, listening_socket.fileno(), resolved)
    return resolved


def connect(socket: Any, url: str) -> str:
    scheme, address = split_url(url)
    if scheme == "inproc":
        return inproc.connect(socket, address)
    module = _STREAM_TRANSPORTS[scheme]
    target = module.parse_connect_address(address, socket._options)
    connector = Connector(socket, url, lambda: module.dial(target, socket._options),
                          module.peer_address)
    socket._endpoints.add_connected(url, connector)
    connector.start()
    return url
