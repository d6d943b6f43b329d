"""tcp:// addresses, listening and dialling, with libzmq's rules.

- bind: ``*`` is every interface (``0.0.0.0``, or ``::`` dual-stack with the ``ipv6`` option);
  a host name or an interface name (``lo``) resolves to its first address; port ``*`` or ``0``
  is ephemeral. IPv6 literals need the ``ipv6`` option (else ENODEV, as libzmq).
- connect: the name is resolved when dialling, so connect() never blocks on DNS; ``*`` as a
  host or port is EINVAL.
- Every connection gets TCP_NODELAY; listeners get SO_REUSEADDR (libzmq does both).

``TRANSPORT`` is this module as ``stream.Listener`` and the connect side use it.
"""

from __future__ import annotations

import errno
import socket as stdsocket
from errno import ENODEV
from typing import Any, Optional

from gevent import socket as gsocket

from ..constants import EINVAL
from ..error import ZMQError
from ..options import Options
from .base import Listening, StreamTransport, apply_buffer_sizes

__all__ = ["listen", "parse_connect_address", "dial", "configure_stream", "peer_address",
           "TcpTarget", "TRANSPORT"]

#: what connect() makes of an address for dial(): host, port, whether IPv6 may be used
TcpTarget = tuple[str, int, bool]


def _split_host_port(address: str) -> tuple[str, str]:
    host, sep, port = address.rpartition(":")
    if not sep or not host or not port:
        raise ZMQError(EINVAL)
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host, port


def _port_number(port: str, allow_wildcard: bool) -> int:
    if port == "*":
        if not allow_wildcard:
            raise ZMQError(EINVAL)
        return 0
    try:
        number = int(port)
    except ValueError:
        raise ZMQError(EINVAL) from None
    if number < 0:
        raise ZMQError(EINVAL)
    return number & 0xFFFF  # libzmq parses with atoi into a uint16


def _interface_address(name: str) -> Optional[str]:
    """The IPv4 address of a network interface called ``name`` (Linux), if there is one."""
    try:
        import fcntl
        import struct

        probe = stdsocket.socket(stdsocket.AF_INET, stdsocket.SOCK_DGRAM)
        try:
            packed = fcntl.ioctl(probe.fileno(), 0x8915,  # SIOCGIFADDR
                                 struct.pack("256s", name.encode()[:15]))
        finally:
            probe.close()
        return stdsocket.inet_ntoa(packed[20:24])
    except (OSError, ImportError):
        return None


def _resolve_bind_host(host: str, ipv6: bool) -> tuple[int, str]:
    if host == "*":
        return (stdsocket.AF_INET6, "::") if ipv6 else (stdsocket.AF_INET, "0.0.0.0")
    if ":" in host:
        if not ipv6:
            raise ZMQError(ENODEV)
        return stdsocket.AF_INET6, host
    interface = _interface_address(host)
    if interface is not None:
        return stdsocket.AF_INET, interface
    family = stdsocket.AF_UNSPEC if ipv6 else stdsocket.AF_INET
    try:
        info = gsocket.getaddrinfo(host, None, family, stdsocket.SOCK_STREAM)
    except OSError:
        raise ZMQError(ENODEV) from None
    return info[0][0], info[0][4][0]


def format_endpoint(family: int, sockaddr: tuple[Any, ...]) -> str:
    host, port = sockaddr[0], sockaddr[1]
    if family == stdsocket.AF_INET6:
        return f"tcp://[{host}]:{port}"
    return f"tcp://{host}:{port}"


def listen(address: str, options: Options, mode: Optional[int] = None) -> Listening:
    if mode is not None:
        raise ZMQError(EINVAL)  # a socket file's mode: ipc:// only (transports.bind says so)
    if options.use_fd >= 0:  # libzmq: the application's socket, bound and listening already
        listener = gsocket.socket(fileno=options.use_fd)
        return listener, format_endpoint(listener.family, listener.getsockname()), lambda: None
    host, port = _split_host_port(address)
    family, ip = _resolve_bind_host(host, bool(options.ipv6))
    number = _port_number(port, allow_wildcard=True)
    listener = gsocket.socket(family, stdsocket.SOCK_STREAM)
    try:
        tune_new_socket(listener, options)
        listener.setsockopt(stdsocket.SOL_SOCKET, stdsocket.SO_REUSEADDR, 1)
        if family == stdsocket.AF_INET6 and host == "*":
            listener.setsockopt(stdsocket.IPPROTO_IPV6, stdsocket.IPV6_V6ONLY, 0)
        listener.bind((ip, number))
        listener.listen(max(options.backlog, 1))
    except OSError as e:
        listener.close()
        raise ZMQError(e.errno or errno.EINVAL) from None
    return listener, format_endpoint(family, listener.getsockname()), lambda: None


def parse_connect_address(address: str, options: Options) -> TcpTarget:
    if ";" in address:  # "source;destination": the source part is not supported yet
        address = address.split(";", 1)[1]
    host, port = _split_host_port(address)
    if host == "*":
        raise ZMQError(EINVAL)
    return host, _port_number(port, allow_wildcard=False), bool(options.ipv6)


def dial(target: TcpTarget, options: Options) -> gsocket.socket:
    """Connect a stream to ``target``, through SOCKS_PROXY if set; raises OSError (the
    connector retries)."""
    if not options.socks_proxy:
        return _dial(target, options)
    try:
        proxy_host, proxy_port = _split_host_port(options.socks_proxy.decode())
        proxy = (proxy_host, _port_number(proxy_port, allow_wildcard=False), target[2])
    except (ZMQError, UnicodeDecodeError):
        raise OSError(errno.EINVAL, "SOCKS_PROXY is not host:port") from None
    stream = _dial(proxy, options)
    try:
        stream.settimeout(options.handshake_ivl / 1000.0 if options.handshake_ivl > 0 else None)
        socks5_connect(stream, target[0], target[1], options)
        stream.settimeout(None)
    except BaseException:
        stream.close()
        raise
    return stream


def socks5_connect(stream: Any, host: str, port: int, options: Options) -> None:
    """RFC 1928 CONNECT through the proxy ``stream`` is connected to, as libzmq's
    socks_connecter: one method offered (username/password, RFC 1929, if SOCKS_USERNAME is
    set, else none), the address as an IPv4 or IPv6 literal or else a domain name. Any
    refusal is an OSError (ECONNREFUSED): the connector dials again later, as libzmq's."""
    method = 0x02 if options.socks_username else 0x00
    stream.sendall(bytes((5, 1, method)))
    if _read_exactly(stream, 2) != bytes((5, method)):
        raise OSError(errno.ECONNREFUSED, "the SOCKS proxy refused the method")
    if method == 0x02:
        username, password = options.socks_username, options.socks_password
        stream.sendall(bytes((1, len(username))) + username + bytes((len(password),)) + password)
        if _read_exactly(stream, 2) != b"\x01\x00":
            raise OSError(errno.ECONNREFUSED, "the SOCKS proxy refused the credentials")
    for family, kind in ((stdsocket.AF_INET, 1), (stdsocket.AF_INET6, 4)):
        try:
            address = bytes((kind,)) + stdsocket.inet_pton(family, host)
            break
        except OSError:
            continue
    else:
        name = host.encode("idna")
        if len(name) > 255:
            raise OSError(errno.EINVAL, "host name too long for SOCKS")
        address = bytes((3, len(name))) + name
    stream.sendall(bytes((5, 1, 0)) + address + port.to_bytes(2, "big"))
    reply = _read_exactly(stream, 5)
    if reply[0] != 5 or reply[1] != 0:
        raise OSError(errno.ECONNREFUSED, f"the SOCKS proxy refused the connection ({reply[1]})")
    rest = {1: 3 + 2, 3: reply[4] + 2, 4: 15 + 2}.get(reply[3])
    if rest is None:
        raise OSError(errno.EPROTO, "malformed SOCKS reply")
    _read_exactly(stream, rest)  # the address the proxy bound: not needed


def _read_exactly(stream: Any, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = stream.recv(size - len(data))
        if not chunk:
            raise OSError(errno.ECONNRESET, "the SOCKS proxy hung up")
        data += chunk
    return data


def _dial(target: TcpTarget, options: Options) -> gsocket.socket:
    host, port, ipv6 = target
    family = stdsocket.AF_UNSPEC if ipv6 else stdsocket.AF_INET
    if ":" in host and not ipv6:
        raise OSError(errno.EAFNOSUPPORT, "IPv6 address needs the ipv6 option")
    infos = gsocket.getaddrinfo(host, port, family, stdsocket.SOCK_STREAM)
    timeout = options.connect_timeout / 1000.0 if options.connect_timeout > 0 else None
    last_error: OSError = OSError(errno.EHOSTUNREACH, "no address")
    for info_family, kind, proto, _, sockaddr in infos:
        stream = gsocket.socket(info_family, kind, proto)
        try:
            tune_new_socket(stream, options)
            stream.settimeout(timeout)
            stream.connect(sockaddr)
            stream.settimeout(None)
        except OSError as e:
            stream.close()
            last_error = e
            continue
        try:
            configure_stream(stream, options)
        except OSError as e:  # the connection died already
            stream.close()
            last_error = e
            continue
        return stream
    raise last_error


def tune_new_socket(sock: gsocket.socket, options: Options) -> None:
    """What libzmq's ``tcp_open_socket`` sets on a socket it will listen or dial with (an
    accepted connection inherits what Linux passes on): TOS (IP_TOS, and IPV6_TCLASS where
    IPv6), PRIORITY (SO_PRIORITY), BINDTODEVICE (SO_BINDTODEVICE: root or CAP_NET_RAW),
    BUSY_POLL."""
    if options.tos:
        sock.setsockopt(stdsocket.IPPROTO_IP, stdsocket.IP_TOS, options.tos)
        if sock.family == stdsocket.AF_INET6:
            sock.setsockopt(stdsocket.IPPROTO_IPV6, stdsocket.IPV6_TCLASS, options.tos)
    if options.priority and hasattr(stdsocket, "SO_PRIORITY"):
        sock.setsockopt(stdsocket.SOL_SOCKET, stdsocket.SO_PRIORITY, options.priority)
    if options.bindtodevice:
        sock.setsockopt(stdsocket.SOL_SOCKET, stdsocket.SO_BINDTODEVICE, options.bindtodevice)
    if options.busy_poll > 0:
        sock.setsockopt(stdsocket.SOL_SOCKET, _SO_BUSY_POLL, options.busy_poll)


#: Linux's SO_BUSY_POLL (the socket module does not name it)
_SO_BUSY_POLL = getattr(stdsocket, "SO_BUSY_POLL", 46)


def configure_stream(stream: gsocket.socket, options: Options) -> None:
    """Socket options for every connection, dialled or accepted."""
    stream.setsockopt(stdsocket.IPPROTO_TCP, stdsocket.TCP_NODELAY, 1)
    apply_buffer_sizes(stream, options)
    if options.tcp_maxrt > 0 and hasattr(stdsocket, "TCP_USER_TIMEOUT"):
        # libzmq's tune_tcp_maxrt: how long sent data may stay unacknowledged (ms)
        stream.setsockopt(stdsocket.IPPROTO_TCP, stdsocket.TCP_USER_TIMEOUT, options.tcp_maxrt)
    if options.tcp_keepalive == 1:
        stream.setsockopt(stdsocket.SOL_SOCKET, stdsocket.SO_KEEPALIVE, 1)
        for option, name in ((options.tcp_keepalive_idle, "TCP_KEEPIDLE"),
                             (options.tcp_keepalive_intvl, "TCP_KEEPINTVL"),
                             (options.tcp_keepalive_cnt, "TCP_KEEPCNT")):
            if option > 0 and hasattr(stdsocket, name):
                stream.setsockopt(stdsocket.IPPROTO_TCP, getattr(stdsocket, name), option)


def peer_address(stream: gsocket.socket) -> str:
    """What libzmq reports as Peer-Address: the numeric IP, no port."""
    try:
        return str(stream.getpeername()[0])
    except OSError:
        return ""


class TcpTransport:
    """tcp:// for ``stream.Listener`` and the connect side (a ``base.StreamTransport``)."""

    scheme = "tcp"
    listen = staticmethod(listen)
    parse_connect_address = staticmethod(parse_connect_address)
    dial = staticmethod(dial)
    configure_stream = staticmethod(configure_stream)
    peer_address = staticmethod(peer_address)


TRANSPORT: StreamTransport[TcpTarget] = TcpTransport()
