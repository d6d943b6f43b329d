"""How a peer comes to exist for an endpoint URL.

``bind(socket, url)`` / ``connect(socket, url)`` pick the transport by scheme, register a handle
in the socket's endpoint table and return the resolved endpoint (what LAST_ENDPOINT reports).
tcp and ipc produce byte streams and share ``stream.Listener`` / ``stream.Connector``, which are
handed the transport object (``base.StreamTransport``) and so never import tcp or ipc; inproc
cross-wires two sockets with a pipe and has no engine at all; pgm/epgm (multicast) start one
session per endpoint, whether bound or connected, as libzmq. ``bind``'s ``mode`` (a gzmq
extension) is the file mode of an ipc:// socket file; any other endpoint is EINVAL with it.
"""

from __future__ import annotations

from typing import Any, Optional

from ..constants import EINVAL, EPROTONOSUPPORT, Event
from ..error import ZMQError
from . import inproc, ipc, pgm, tcp, udp
from .base import StreamTransport
from .ipc import GzmqExtensionFileMode
from .stream import Connector, Listener

__all__ = ["bind", "connect", "split_url", "GzmqExtensionFileMode", "STREAM_TRANSPORTS"]

#: the byte-stream transports by URL scheme
STREAM_TRANSPORTS: dict[str, StreamTransport[Any]] = {
    transport.scheme: transport for transport in (tcp.TRANSPORT, ipc.TRANSPORT)}
#: the multicast transports by URL scheme (pgm, epgm)
MULTICAST_TRANSPORTS: dict[str, pgm.PgmTransport] = {
    transport.scheme: transport for transport in pgm.TRANSPORTS}


def split_url(url: str) -> tuple[str, str]:
    scheme, sep, address = url.partition("://")
    if not sep:
        raise ZMQError(EINVAL)
    if scheme not in ("tcp", "ipc", "inproc", "udp") and scheme not in MULTICAST_TRANSPORTS:
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
    if scheme == "udp":
        return udp.bind(socket, address, url)
    if scheme in MULTICAST_TRANSPORTS:  # bind is connect for pgm/epgm (libzmq)
        return MULTICAST_TRANSPORTS[scheme].attach(socket, address, url)
    transport = STREAM_TRANSPORTS[scheme]
    listening_socket, resolved, cleanup = transport.listen(address, socket.options, mode)
    listener = Listener(socket, listening_socket, resolved, transport, cleanup)
    socket.endpoints.add_bound([url, resolved], listener)
    listener.start()
    socket.emit(Event.LISTENING, listening_socket.fileno(), resolved)
    return resolved


def connect(socket: Any, url: str) -> str:
    scheme, address = split_url(url)
    if scheme == "inproc":
        return inproc.connect(socket, address)
    if scheme == "udp":
        return udp.connect(socket, address, url)
    if scheme in MULTICAST_TRANSPORTS:
        return MULTICAST_TRANSPORTS[scheme].attach(socket, address, url)
    transport = STREAM_TRANSPORTS[scheme]
    target = transport.parse_connect_address(address, socket.options)
    connector = Connector(socket, url, lambda: transport.dial(target, socket.options),
                          transport.peer_address)
    socket.endpoints.add_connected(url, connector)
    connector.start()
    return url
