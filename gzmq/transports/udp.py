"""udp:// — RADIO/DISH over UDP datagrams, unicast or multicast, as libzmq's ``udp_engine``.

Rules (libzmq ``socket_base.cpp``, ``udp_address.cpp``):

- Only a DISH binds and only a RADIO connects (ENOCOMPATPROTO otherwise; DGRAM, the other
  udp type in libzmq, is not implemented). ``bind`` of ``udp://*:port`` or
  ``udp://host:port`` receives unicast there; ``udp://239.x.y.z:port`` (any multicast group)
  binds the port on every address and joins the group; ``udp://iface;group:port`` joins on
  that interface (an IPv4 address or a name). ``connect`` names where datagrams go; to a
  multicast group they go out with MULTICAST_HOPS as TTL and MULTICAST_LOOP as loopback.
- One datagram per message: group length byte, group, body (``zmtp.radio``). There is no
  handshake and no JOIN: a RADIO sends every message to its udp pipes (``GroupCommand(True,
  None)`` tells the routing so) and the DISH filters by group. A message that would make a
  datagram over 8192 bytes is dropped, as libzmq drops it; so are datagrams that a full send
  buffer refuses (UDP promises nothing) and, at the DISH, datagrams that find its pipe at
  RCVHWM.
- A datagram that is not one (empty, or shorter than its group length says) is dropped and
  counted, with a line on ``gzmq.security`` for the first and every 1000th; nothing a peer
  sends reaches the application otherwise or ends the socket.

Each endpoint is a ``_Session``: the far end of one pipe, its notifier, and the endpoint
handle ``unbind``/``disconnect``/close use; its one greenlet belongs to the socket's lifecycle.
``bind``/``connect`` return the endpoint with the port resolved (``udp://*:0`` picks a free
port; libzmq would report it without the ``udp://``).
"""

from __future__ import annotations

import fcntl
import logging
import socket as stdsocket
import struct
from typing import Any, Optional

import gevent
from gevent.event import Event
from gevent.socket import wait_read

from ..constants import EINVAL, ENOCOMPATPROTO, SocketType
from ..error import ZMQError
from ..pipe import GroupCommand, Pipe
from ..security import log as security_log
from ..zmtp import LocalProtocolError, ProtocolError
from ..zmtp.radio import MAX_DATAGRAM, decode_datagram, encode_datagram

__all__ = ["bind", "connect", "parse_address"]

log = logging.getLogger("gzmq.udp")

_SIOCGIFADDR = 0x8915
#: datagrams read, or messages sent, per turn before the hub gets one
_BATCH = 256


def _interface_address(spec: str) -> str:
    """An IPv4 interface address from an address or an interface name ('*': any)."""
    if spec in ("", "*"):
        return "0.0.0.0"
    try:
        return stdsocket.inet_ntoa(stdsocket.inet_aton(spec))
    except OSError:
        pass
    probe = stdsocket.socket(stdsocket.AF_INET, stdsocket.SOCK_DGRAM)
    try:
        raw = fcntl.ioctl(probe.fileno(), _SIOCGIFADDR,
                          struct.pack("256s", spec.encode()[:15]))
    except OSError:
        raise ZMQError(EINVAL, f"unknown interface {spec!r}") from None
    finally:
        probe.close()
    return stdsocket.inet_ntoa(raw[20:24])


def parse_address(address: str, binding: bool, ipv6: bool) -> tuple[str, tuple[str, int], int]:
    """``[iface;]host:port`` → (interface address, (host, port), address family).

    ``host`` is ``*`` (bind only), a name or an address; with an interface it must be a
    multicast group (libzmq). EINVAL if malformed or not resolvable."""
    network, sep, port_text = address.rpartition(":")
    if not sep or not network:
        raise ZMQError(EINVAL, "a udp endpoint needs a port: [interface;]host:port")
    if port_text == "*" and binding:
        port = 0
    elif port_text.isdigit() and int(port_text) < 65536:
        port = int(port_text)
    else:
        raise ZMQError(EINVAL, f"bad udp port {port_text!r}")
    interface, has_interface, host = network.rpartition(";")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if host == "*":
        if not binding or has_interface:
            raise ZMQError(EINVAL)
        return "0.0.0.0", ("0.0.0.0", port), stdsocket.AF_INET
    family = stdsocket.AF_UNSPEC if ipv6 else stdsocket.AF_INET
    try:
        info = stdsocket.getaddrinfo(host, port, family, stdsocket.SOCK_DGRAM)
    except (OSError, UnicodeError):
        raise ZMQError(EINVAL, f"cannot resolve {host!r}") from None
    family, _type, _proto, _name, sockaddr = info[0]
    target = (str(sockaddr[0]), port)
    if has_interface:
        if family != stdsocket.AF_INET or not _is_multicast(target[0]):
            raise ZMQError(EINVAL, "an interface goes with a multicast group only")
        return _interface_address(interface), target, family
    return "0.0.0.0", target, family


def _is_multicast(host: str) -> bool:
    if ":" in host:
        return host.lower().startswith("ff")
    return 224 <= int(host.split(".")[0]) <= 239


def _new_socket(family: int, options: Any) -> stdsocket.socket:
    sock = stdsocket.socket(family, stdsocket.SOCK_DGRAM)
    sock.setblocking(False)
    if options.sndbuf >= 0:
        sock.setsockopt(stdsocket.SOL_SOCKET, stdsocket.SO_SNDBUF, options.sndbuf)
    if options.rcvbuf >= 0:
        sock.setsockopt(stdsocket.SOL_SOCKET, stdsocket.SO_RCVBUF, options.rcvbuf)
    return sock


def bind(socket: Any, address: str, url: str) -> str:
    """A DISH receives datagrams at ``address``; returns the endpoint, port resolved."""
    if socket.type != SocketType.DISH:
        raise ZMQError(ENOCOMPATPROTO)
    options = socket.options
    interface, (host, port), family = parse_address(address, True, bool(options.ipv6))
    multicast = _is_multicast(host)
    sock = _new_socket(family, options)
    try:
        sock.setsockopt(stdsocket.SOL_SOCKET, stdsocket.SO_REUSEADDR, 1)
        if multicast:
            # every socket on the port gets the group's datagrams (libzmq: SO_REUSEPORT)
            if hasattr(stdsocket, "SO_REUSEPORT"):
                sock.setsockopt(stdsocket.SOL_SOCKET, stdsocket.SO_REUSEPORT, 1)
            sock.bind(("::" if family == stdsocket.AF_INET6 else "0.0.0.0", port))
            if family == stdsocket.AF_INET6:
                request = stdsocket.inet_pton(family, host) + struct.pack("@I", 0)
                sock.setsockopt(stdsocket.IPPROTO_IPV6, stdsocket.IPV6_JOIN_GROUP, request)
            else:
                request = stdsocket.inet_aton(host) + stdsocket.inet_aton(interface)
                sock.setsockopt(stdsocket.IPPROTO_IP, stdsocket.IP_ADD_MEMBERSHIP, request)
        else:
            sock.bind((host, port))
    except OSError as error:
        sock.close()
        raise ZMQError(error.errno or EINVAL, str(error)) from None
    bound_port = sock.getsockname()[1]
    resolved = f"udp://{address.rpartition(':')[0]}:{bound_port}"
    session = _Session(socket, resolved, sock, None)
    socket.endpoints.add_bound([url, resolved], session)
    session.start(session.receive_loop)
    return resolved


def connect(socket: Any, address: str, url: str) -> str:
    """A RADIO sends its messages as datagrams to ``address``."""
    if socket.type != SocketType.RADIO:
        raise ZMQError(ENOCOMPATPROTO)
    options = socket.options
    interface, target, family = parse_address(address, False, bool(options.ipv6))
    sock = _new_socket(family, options)
    try:
        if _is_multicast(target[0]):
            level, prefix = ((stdsocket.IPPROTO_IPV6, "IPV6_MULTICAST_")
                             if family == stdsocket.AF_INET6 else (stdsocket.IPPROTO_IP,
                                                                  "IP_MULTICAST_"))
            sock.setsockopt(level, getattr(stdsocket, prefix + "LOOP"),
                            1 if options.multicast_loop else 0)
            if options.multicast_hops > 0:
                hops = getattr(stdsocket, "IPV6_MULTICAST_HOPS" if prefix.startswith("IPV6")
                               else "IP_MULTICAST_TTL")
                sock.setsockopt(level, hops, min(options.multicast_hops, 255))
            if family == stdsocket.AF_INET and interface != "0.0.0.0":
                sock.setsockopt(level, stdsocket.IP_MULTICAST_IF, stdsocket.inet_aton(interface))
    except OSError as error:
        sock.close()
        raise ZMQError(error.errno or EINVAL, str(error)) from None
    session = _Session(socket, url, sock, target)
    socket.endpoints.add_connected(url, session)
    session.start(session.send_loop)
    return url


class _Session:
    """One udp endpoint: the far end of its pipe, its notifier and its endpoint handle."""

    def __init__(self, socket: Any, endpoint: str, sock: stdsocket.socket,
                 target: Optional[tuple[str, int]]) -> None:
        self.socket = socket
        self.endpoint = endpoint
        self.sock: Optional[stdsocket.socket] = sock
        self.target = target
        self.wake = Event()
        self.greenlet: Optional[gevent.Greenlet] = None
        self.pipe: Optional[Pipe] = None  # our end
        self.socket_end: Optional[Pipe] = None
        self.stopping = False
        #: hostile or broken datagrams dropped (DISH), messages too big to send (RADIO)
        self.dropped = 0

    def start(self, loop: Any) -> None:
        lifecycle = self.socket.lifecycle
        socket_end, self.pipe = lifecycle.new_pipe()
        socket_end.endpoint = self.pipe.endpoint = self.endpoint
        self.pipe.attach_notifiers(on_readable=self, on_writable=self)
        if self.target is not None:  # RADIO: this pipe takes every group (libzmq's udp pipes)
            self.pipe.force_send(GroupCommand(True, None))
        self.socket_end = socket_end
        lifecycle.attach(socket_end)
        self.greenlet = lifecycle.spawn(loop)

    def notify(self) -> None:
        self.wake.set()

    # --- RADIO --------------------------------------------------------------------------------

    def send_loop(self) -> None:
        try:
            while True:
                self.wake.clear()
                if not self._send_batch():
                    if self.stopping:
                        return
                    self.wake.wait()
                else:
                    gevent.sleep(0)  # more may be queued: let the application run first
        finally:
            self._finish()

    def _send_batch(self) -> bool:
        """Send up to a batch of queued messages; True if it took any."""
        pipe, sock = self.pipe, self.sock
        if pipe is None or sock is None:
            return False
        taken = pipe.inbound.take_batch(_BATCH)
        for item in taken:
            if type(item) is GroupCommand or len(item) != 2:
                continue  # a RADIO sends [group, body] only
            try:
                datagram = encode_datagram(item[0], item[1])
            except LocalProtocolError:
                self.dropped += 1  # over MAX_DATAGRAM: libzmq drops it too
                continue
            try:
                sock.sendto(datagram, self.target)  # type: ignore[arg-type]
            except BlockingIOError:
                pass  # the kernel's buffer is full: lost, as the network may lose it
            except OSError as error:  # e.g. no route: this message is lost, not the socket
                log.debug("udp: sendto %s failed: %s", self.target, error)
        return bool(taken)

    # --- DISH ---------------------------------------------------------------------------------

    def receive_loop(self) -> None:
        try:
            while not self.stopping:
                sock = self.sock
                if sock is None:
                    return
                try:
                    wait_read(sock.fileno())
                except OSError:
                    return  # closed under us
                self._receive_batch()
                gevent.sleep(0)
        finally:
            self._finish()

    def _receive_batch(self) -> None:
        pipe, sock = self.pipe, self.sock
        if pipe is None or sock is None:
            return
        if pipe.inbound.readable:
            pipe.inbound.clear()  # the DISH's JOIN/LEAVE: nothing to tell over udp
        batch: list[list[bytes]] = []
        for _ in range(_BATCH):
            try:
                datagram = sock.recv(MAX_DATAGRAM)
            except (BlockingIOError, InterruptedError):
                break
            except OSError:
                break  # e.g. an ICMP error queued on the socket: nothing to read
            try:
                group, body = decode_datagram(datagram)
            except ProtocolError as error:
                self._drop(error)
                continue
            batch.append([group, body])
        if batch:
            pipe.outbound.put_batch(batch)  # beyond RCVHWM they are dropped, as libzmq

    def _drop(self, error: ProtocolError) -> None:
        self.dropped += 1
        if self.dropped == 1 or not self.dropped % 1000:
            security_log.warning("udp %s: dropped %d bad datagram(s), the last: %s",
                                 self.endpoint, self.dropped, error)

    # --- endpoint handle ------------------------------------------------------------------------

    def _finish(self) -> None:
        sock, self.sock = self.sock, None
        if sock is not None:
            sock.close()
        socket_end, self.socket_end = self.socket_end, None
        if socket_end is not None:
            socket_end.close_writing()
            self.socket.lifecycle.detach(socket_end)

    def close(self) -> None:
        """unbind()/disconnect(): stop now; what is queued is dropped."""
        if self.greenlet is not None:
            self.greenlet.kill(block=False)
        if self.pipe is not None:
            self.pipe.close_reading()
        self._finish()

    def shutdown(self) -> None:
        """The socket is closing: a RADIO sends what is queued (within LINGER); a DISH stops."""
        self.stopping = True
        if self.target is None:
            self.close()
        else:
            self.wake.set()

    def abandon(self) -> None:
        """After fork: let go of the fd without sending anything."""
        sock, self.sock = self.sock, None
        if sock is not None:
            sock.close()
