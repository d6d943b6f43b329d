"""pgm:// and epgm:// — libzmq's reliable multicast, for PUB/XPUB (send) and SUB/XSUB (receive).

An endpoint is ``[interface;]group:port``: the interface as an IPv4 address or a name (empty:
the one the route to the group leaves by), an IPv4 multicast group, a port. ``epgm`` carries
PGM in UDP datagrams to ``group:port`` (OpenPGM's UDP encapsulation, with the same port for
multicast and unicast); ``pgm`` carries it as IP protocol 113 (raw sockets: root or
CAP_NET_RAW). bind and connect are the same thing, as in libzmq.

The protocol is in ``gzmq.pgm`` (sans-IO); here are only the sockets and the greenlets:

- A **publisher** gets one pipe with a ``_SendSession`` at its far end: the XPUB routing counts
  that pipe as subscribed to everything (libzmq's ``subscribe_to_all``: PGM carries no
  subscriptions, SUB filters locally). The session takes batches of messages from the pipe,
  hands them to ``pgm.Sender`` and sends what it releases, at RATE. Its socket is bound to the
  interface's address and the port, so unicast NAKs and SPMRs reach it (a more specific bind
  wins over the receivers' on the same host) and the group's traffic does not.
- A **subscriber** gets one pipe with a ``_ReceiveSession``: a socket bound to ``group:port``
  and joined to the group feeds ``pgm.Receiver``; whole messages go into the pipe in batches;
  NAKs go back to the source. At RCVHWM the session stops reading (the kernel buffer then
  overflows and the lost packets are repaired by NAK, or lost as libzmq's would be).
  Subscriptions the SUB sends into the pipe are dropped (libzmq's ``drop_subscriptions``).

``loss_hook`` (tests only): a callable ``(direction, datagram) -> bool``; True drops the
datagram, ``direction`` is ``"out"`` for original data we send, ``"in"`` for data we receive.
"""

from __future__ import annotations

import fcntl
import logging
import os
import random
import socket as stdsocket
import struct
import time
from typing import Any, Callable, Optional

import gevent
from gevent.event import Event
from gevent.socket import wait_read

from ..constants import EINVAL, ENOCOMPATPROTO, SocketType
from ..error import ZMQError
from ..pgm import packet
from ..pgm.receiver import Receiver
from ..pgm.sender import Sender
from ..pipe import Pipe, SubscriptionCommand

__all__ = ["PgmTransport", "TRANSPORTS", "parse_endpoint", "sessions", "loss_hook"]

log = logging.getLogger("gzmq.pgm")

IPPROTO_PGM = 113
_SIOCGIFADDR = 0x8915
_SENDERS = (SocketType.PUB, SocketType.XPUB)
_RECEIVERS = (SocketType.SUB, SocketType.XSUB)
#: messages taken from the pipe per batch, and the backlog (packets) above which we wait
_BATCH = 256
_MAX_BACKLOG = 64
#: datagrams read per wake-up before the hub gets a turn
_READ_BATCH = 256
#: seconds between two log records about dropped packets
_LOG_EVERY = 10.0

loss_hook: Optional[Callable[[str, bytes], bool]] = None


def _interface_address(spec: str, group: str, port: int) -> str:
    if not spec:
        probe = stdsocket.socket(stdsocket.AF_INET, stdsocket.SOCK_DGRAM)
        try:
            probe.connect((group, port))  # no packet: only asks the routing table
            address = str(probe.getsockname()[0])
        except OSError:
            raise ZMQError(EINVAL, f"no route to multicast group {group}") from None
        finally:
            probe.close()
        return address
    try:
        return stdsocket.inet_ntoa(stdsocket.inet_aton(spec)) if spec.count(".") == 3 else \
            _address_of(spec)
    except OSError:
        raise ZMQError(EINVAL, f"unknown interface {spec!r}") from None


def _address_of(name: str) -> str:
    probe = stdsocket.socket(stdsocket.AF_INET, stdsocket.SOCK_DGRAM)
    try:
        raw = fcntl.ioctl(probe.fileno(), _SIOCGIFADDR, struct.pack("256s", name.encode()[:15]))
    finally:
        probe.close()
    return stdsocket.inet_ntoa(raw[20:24])


def parse_endpoint(address: str) -> tuple[str, str, int]:
    """``[interface;]group:port`` → (interface address, group, port); EINVAL if malformed."""
    network, sep, port_text = address.rpartition(":")
    if not sep or not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ZMQError(EINVAL, "a pgm endpoint needs a port: [interface;]group:port")
    port = int(port_text)
    interface, _sep, group = network.rpartition(";")
    try:
        packed = stdsocket.inet_aton(group)
    except OSError:
        raise ZMQError(EINVAL, f"{group!r} is not an IPv4 multicast group") from None
    if group.count(".") != 3 or not 224 <= packed[0] <= 239:
        raise ZMQError(EINVAL, f"{group!r} is not an IPv4 multicast group")
    return _interface_address(interface, group, port), group, port


class PgmTransport:
    """pgm (``udp`` False: IP protocol 113) or epgm (PGM in UDP)."""

    def __init__(self, scheme: str, udp: bool) -> None:
        self.scheme = scheme
        self.udp = udp

    def attach(self, socket: Any, address: str, url: str) -> str:
        """bind() or connect(): start the session; return LAST_ENDPOINT (the URL)."""
        return _attach(socket, self.udp, address, url)


TRANSPORTS = (PgmTransport("pgm", udp=False), PgmTransport("epgm", udp=True))


def _attach(socket: Any, udp: bool, address: str, url: str) -> str:
    kind = int(socket.type)
    if kind not in _SENDERS and kind not in _RECEIVERS:
        raise ZMQError(ENOCOMPATPROTO)
    nla, group, port = parse_endpoint(address)
    options = socket.options
    if options.rate <= 0 or options.multicast_maxtpdu < 128:
        raise ZMQError(EINVAL)
    session: _Session
    if kind in _SENDERS:
        session = _SendSession(socket, url, nla, group, port, udp)
    else:
        session = _ReceiveSession(socket, url, nla, group, port, udp)
    try:
        session.open(options)  # errors (a raw socket without root) belong to this call
    except OSError as error:
        raise ZMQError(error.errno or EINVAL, str(error)) from None
    lifecycle = socket.lifecycle
    socket_end, engine_end = lifecycle.new_pipe()
    socket_end.endpoint = engine_end.endpoint = url
    session.pipe = engine_end
    engine_end.attach_notifiers(on_readable=session, on_writable=session)
    lifecycle.attach(socket_end)
    session.socket_end = socket_end
    if kind in _SENDERS:
        socket.routing.subscribe_all(socket_end)  # PGM carries no subscriptions: send it all
    socket.endpoints.add_connected(url, session)
    session.greenlets.append(lifecycle.spawn(session.run))
    return url


def sessions(socket: Any) -> list["_Session"]:
    """The pgm/epgm sessions of ``socket`` (or of its core): statistics, ``.sender`` /
    ``.receiver`` counters."""
    core = getattr(socket, "_core", socket)
    return [h for h in core.endpoints.handles() if isinstance(h, _Session)]


def _multicast_options(sock: stdsocket.socket, nla: str, options: Any) -> None:
    """Where our multicast leaves, how far it goes (MULTICAST_HOPS), and whether this host's
    own sockets see it (MULTICAST_LOOP; libzmq leaves loop off for pgm)."""
    level = stdsocket.IPPROTO_IP
    sock.setsockopt(level, stdsocket.IP_MULTICAST_IF, stdsocket.inet_aton(nla))
    sock.setsockopt(level, stdsocket.IP_MULTICAST_TTL, max(0, min(options.multicast_hops, 255)))
    sock.setsockopt(level, stdsocket.IP_MULTICAST_LOOP, 1 if options.multicast_loop else 0)


def _open(udp: bool, bind_to: tuple[str, int], options: Any) -> stdsocket.socket:
    if udp:
        sock = stdsocket.socket(stdsocket.AF_INET, stdsocket.SOCK_DGRAM)
    else:
        sock = stdsocket.socket(stdsocket.AF_INET, stdsocket.SOCK_RAW, IPPROTO_PGM)
    try:
        # OpenPGM shares the port with SO_REUSEPORT; every socket on it must say the same
        sock.setsockopt(stdsocket.SOL_SOCKET, stdsocket.SO_REUSEADDR, 1)
        if hasattr(stdsocket, "SO_REUSEPORT"):
            sock.setsockopt(stdsocket.SOL_SOCKET, stdsocket.SO_REUSEPORT, 1)
        if options.sndbuf >= 0:
            sock.setsockopt(stdsocket.SOL_SOCKET, stdsocket.SO_SNDBUF, options.sndbuf)
        if options.rcvbuf >= 0:
            sock.setsockopt(stdsocket.SOL_SOCKET, stdsocket.SO_RCVBUF, options.rcvbuf)
        sock.bind(bind_to if udp else (bind_to[0], 0))
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


class _Session:
    """The far end of a pgm endpoint's pipe; also its endpoint handle and its notifier."""

    def __init__(self, socket: Any, url: str, nla: str, group: str, port: int,
                 udp: bool) -> None:
        self.socket = socket
        self.url, self.nla, self.group, self.port, self.udp = url, nla, group, port, udp
        self.pipe: Optional[Pipe] = None
        self.socket_end: Optional[Pipe] = None
        self.greenlets: list[gevent.Greenlet] = []
        self.wake = Event()
        self.stopping = False  # the socket is closing: finish what is queued, then end
        self.sock: Optional[stdsocket.socket] = None
        self._bad_reported = 0
        self._bad_logged_at = 0.0

    def notify(self) -> None:
        self.wake.set()

    def _report_bad(self, count: int) -> None:
        """Log dropped malformed or foreign packets: the first at once, then a summary at
        most every 10 s, so a flood of junk cannot flood the log too."""
        if count <= self._bad_reported:
            return
        now = time.monotonic()
        if self._bad_reported and now - self._bad_logged_at < _LOG_EVERY:
            return
        log.warning("pgm %s: dropped %d malformed or unexpected packet(s) (%d in all)",
                    self.url, count - self._bad_reported, count)
        self._bad_reported, self._bad_logged_at = count, now

    def _sendto(self, datagram: bytes, host: str) -> None:
        assert self.sock is not None
        try:
            self.sock.sendto(datagram, (host, self.port if self.udp else 0))
        except BlockingIOError:
            pass  # a full send buffer drops it, as the network could have: PGM repairs
        except OSError as error:
            log.warning("pgm: sendto %s failed: %s", host, error)

    def _recv_ready(self, timeout: Optional[float]) -> None:
        assert self.sock is not None
        try:
            wait_read(self.sock.fileno(), timeout=timeout)
        except stdsocket.timeout:
            pass

    def _strip(self, data: bytes) -> Optional[bytes]:
        """A raw socket's datagram starts with the IP header: keep only the PGM packet."""
        if self.udp:
            return data
        if len(data) < 20 or data[0] >> 4 != 4:
            return None
        return data[(data[0] & 0x0F) * 4:]

    def _finish(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None
        if self.socket_end is not None:
            self.socket.lifecycle.detach(self.socket_end)

    def close(self) -> None:
        """disconnect()/unbind(): stop now, drop what is queued."""
        for greenlet in self.greenlets:
            greenlet.kill(block=False)
        if self.pipe is not None:
            self.pipe.close_reading()
        self._finish()

    def shutdown(self) -> None:
        """The socket is closing: deliver what is queued (within LINGER), then end."""
        self.stopping = True
        self.wake.set()

    def abandon(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None

    def open(self, options: Any) -> None:
        raise NotImplementedError

    def run(self) -> None:
        raise NotImplementedError


class _SendSession(_Session):
    def open(self, options: Any) -> None:
        self.sock = sock = _open(self.udp, (self.nla, self.port), options)
        try:
            _multicast_options(sock, self.nla, options)
        except OSError:
            sock.close()
            self.sock = None
            raise
        self.sender = Sender(gsi=os.urandom(6), sport=random.randint(1, 0xFFFF),
                             dport=self.port, nla=self.nla, group=self.group,
                             maxtpdu=options.multicast_maxtpdu, rate=options.rate,
                             recovery_ivl=options.recovery_ivl, udp=self.udp,
                             now=time.monotonic())

    def run(self) -> None:
        sender = self.sender
        upstream = self.socket.lifecycle.spawn(self._read_upstream, sender)
        self.greenlets.append(upstream)
        try:
            self._send_loop(sender)
        finally:
            upstream.kill(block=False)
            self._finish()

    def _send_loop(self, sender: Sender) -> None:
        pipe = self.pipe
        assert pipe is not None
        inbound = pipe.inbound
        group = self.group
        while True:
            if sender.backlog < _MAX_BACKLOG and inbound.readable:
                batch = [m for m in inbound.take_batch(_BATCH) if type(m) is not SubscriptionCommand]
                sender.send_messages(batch)
            now = time.monotonic()
            hook = loss_hook
            for datagram in sender.poll(now):
                if hook is not None and datagram[4] == packet.ODATA and hook("out", datagram):
                    continue
                self._sendto(datagram, group)
            if sender.backlog < _MAX_BACKLOG and inbound.readable:
                gevent.sleep(0)  # more to take: let the application run, then go on
                continue
            if self.stopping and not inbound.readable and not sender.backlog:
                return
            self.wake.clear()
            timeout = max(0.0, sender.next_deadline(now) - time.monotonic())
            if timeout > 0:
                self.wake.wait(timeout)

    def _read_upstream(self, sender: Sender) -> None:
        while self.sock is not None:
            self._recv_ready(None)
            sock = self.sock
            if sock is None:
                return
            for _ in range(_READ_BATCH):
                try:
                    data = sock.recv(65536)
                except BlockingIOError:
                    break
                except OSError:
                    return
                pgm = self._strip(data)
                if pgm is not None:
                    sender.receive(pgm, time.monotonic())
            self._report_bad(sender.bad_packets)
            self.wake.set()


class _ReceiveSession(_Session):
    def open(self, options: Any) -> None:
        self.sock = sock = _open(self.udp, (self.group, self.port), options)
        try:
            membership = stdsocket.inet_aton(self.group) + stdsocket.inet_aton(self.nla)
            sock.setsockopt(stdsocket.IPPROTO_IP, stdsocket.IP_ADD_MEMBERSHIP, membership)
            _multicast_options(sock, self.nla, options)
        except OSError:
            sock.close()
            self.sock = None
            raise
        self.receiver = Receiver(dport=self.port, group=self.group, rate=options.rate,
                                 recovery_ivl=options.recovery_ivl,
                                 maxtpdu=options.multicast_maxtpdu,
                                 maxmsgsize=options.maxmsgsize)

    def shutdown(self) -> None:
        self.close()  # nothing of ours waits to be delivered: stop at once

    def run(self) -> None:
        receiver = self.receiver
        try:
            self._receive_loop(receiver)
        finally:
            self._finish()

    def _receive_loop(self, receiver: Receiver) -> None:
        pipe = self.pipe
        assert pipe is not None
        pending: list[list[bytes]] = []
        group_bytes = stdsocket.inet_aton(self.group)
        while not self.stopping:
            if pipe.inbound.readable:
                pipe.inbound.clear()  # what SUB sends upstream: PGM has no use for it
            if pending:
                done = pipe.outbound.put_batch(pending)
                pending = pending[done:]
            sock = self.sock
            if sock is None:
                return
            if not pending:
                hook = loss_hook
                for _ in range(_READ_BATCH):
                    try:
                        data = sock.recv(65536)
                    except BlockingIOError:
                        break
                    if not self.udp and (len(data) < 20 or data[16:20] != group_bytes):
                        continue  # raw sockets see every PGM packet of the host
                    pgm = self._strip(data)
                    if pgm is None:
                        continue
                    if hook is not None and len(pgm) > 4 and pgm[4] == packet.ODATA \
                            and hook("in", pgm):
                        continue
                    receiver.receive(pgm, time.monotonic())
                self._report_bad(receiver.bad_packets + receiver.decode_errors)
                messages = receiver.take_messages()
                if messages:
                    done = pipe.outbound.put_batch(messages)
                    pending = messages[done:]
            now = time.monotonic()
            for datagram, host in receiver.poll(now):
                self._sendto(datagram, host or self.group)
            deadline = receiver.next_deadline()
            timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
            if pending:
                self.wake.clear()
                if not pipe.outbound.writable:
                    self.wake.wait(timeout if timeout is not None else 1.0)
            else:
                self._wait_readable_or_wake(timeout)

    def _wait_readable_or_wake(self, timeout: Optional[float]) -> None:
        if timeout is not None and timeout <= 0:
            gevent.sleep(0)
            return
        self._recv_ready(timeout)
