"""A PGM source as a state machine: messages and upstream packets in, packets out, time passed in.

What it does, after OpenPGM's source as libzmq configures it (pgm_socket.cpp):

- **Original data.** Messages become ODATA packets (``framing.FrameEncoder``), numbered from 0,
  each carrying the transmit window's trailing edge. They leave at RATE (kbit/s, IP and UDP
  headers included) through a token bucket; ``backlog`` is what waits, so the I/O layer takes
  no more messages from its pipe while the bucket holds it back (the PUB's pipe then fills and
  drops at SNDHWM, as libzmq's does).
- **The transmit window** keeps the last ``window_sqns`` packets for repair: RATE x
  RECOVERY_IVL bytes in packets of MULTICAST_MAXTPDU, as libzmq's ``compute_sqns``.
- **Repair.** A NAK (or a NAK list) naming our NLA and group is confirmed at once by an NCF to
  the group, and each asked-for packet still in the window is sent again as RDATA, ahead of
  new data. A NAK for another source or group is ignored (OpenPGM does the same).
- **SPMs** announce the window (trail, lead) and our NLA, which receivers need before they
  can NAK: three at the start, a heartbeat after data (100 ms x4, 1.3 s, 7 s, 16 s, 25 s, 30 s,
  libzmq's PGM_HEARTBEAT_SPM) so a receiver learns of lost tail packets, then one every 30 s;
  an SPMR is answered with an SPM at once (at most one answer per 100 ms).

``poll(now)`` returns the datagrams due now; ``next_deadline`` when to call it again.
"""

from __future__ import annotations

from collections import deque
from typing import Optional

from . import packet
from .framing import FrameEncoder

__all__ = ["Sender", "window_sqns", "max_tsdu"]

#: libzmq's PGM_HEARTBEAT_SPM schedule after data, in seconds; then PGM_AMBIENT_SPM
HEARTBEAT_SPM = (0.1, 0.1, 0.1, 0.1, 1.3, 7.0, 16.0, 25.0, 30.0)
AMBIENT_SPM = 30.0
#: seconds after answering an SPMR during which further SPMRs are not answered
SPMR_HOLDOFF = 0.1
IP_HEADER = 20
UDP_HEADER = 8
#: OpenPGM keeps room for OPT_LENGTH + OPT_FRAGMENT in every packet (PGM_MSS)
_OPTION_ROOM = 4 + 16


def window_sqns(rate: int, recovery_ivl: int, tpdu: int) -> int:
    """libzmq's compute_sqns: RATE (kbit/s = bytes/ms x 8) x RECOVERY_IVL (ms) / TPDU."""
    return max(1, (max(rate, 0) // 8) * max(recovery_ivl, 0) // max(tpdu, 1))


def max_tsdu(maxtpdu: int, udp: bool) -> int:
    """The payload of one unfragmented packet, as OpenPGM's PGM_MSS (1428 for epgm at 1500)."""
    return (maxtpdu - IP_HEADER - (UDP_HEADER if udp else 0) - packet.HEADER_SIZE
            - packet.DATA_HEADER_SIZE - _OPTION_ROOM)


class Sender(packet.Parser):
    def __init__(self, *, gsi: bytes, sport: int, dport: int, nla: str, group: str,
                 maxtpdu: int = 1500, rate: int = 100, recovery_ivl: int = 10000,
                 udp: bool = True, now: float = 0.0) -> None:
        self.gsi, self.sport, self.dport, self.nla, self.group = gsi, sport, dport, nla, group
        self.tsdu = max_tsdu(maxtpdu, udp)
        if self.tsdu < 3:
            raise ValueError("MULTICAST_MAXTPDU too small for a PGM packet")
        self._encoder = FrameEncoder(self.tsdu)
        self._overhead = IP_HEADER + (UDP_HEADER if udp else 0)
        self.window_size = window_sqns(rate, recovery_ivl, maxtpdu)
        #: sent packets kept for repair: (sqn, payload), oldest first
        self._window: deque[tuple[int, bytes]] = deque()
        self._next_sqn = 0
        self._unsent: deque[bytes] = deque()  # payloads waiting for the rate limit
        self._repairs: deque[int] = deque()  # sqns asked for, in NAK order
        self._repair_set: set[int] = set()
        self._urgent: list[bytes] = []  # NCFs and SPMs: not rate limited
        self._spm_sqn = 0
        self._spmr_quiet_until = now
        # token bucket in bytes: RATE kbit/s; holds 10 ms of traffic (at least one packet)
        self._bytes_per_second = max(rate, 1) * 1000 / 8
        self._bucket_size = max(self._bytes_per_second * 0.01, float(maxtpdu))
        self._tokens = self._bucket_size
        self._last_fill = now
        self._heartbeat = len(HEARTBEAT_SPM)
        self._next_spm = now + AMBIENT_SPM
        for _ in range(3):  # as OpenPGM on pgm_connect: announce the session at once
            self._queue_spm()
        #: counters (besides bad_packets), for tests and statistics
        self.odata_sent = self.rdata_sent = self.naks_received = 0

    # --- the window ------------------------------------------------------------------------

    @property
    def trail(self) -> int:
        return self._window[0][0] if self._window else self._next_sqn

    @property
    def lead(self) -> int:
        return (self._next_sqn - 1) & 0xFFFFFFFF

    @property
    def backlog(self) -> int:
        """Packets built and waiting for the rate limit (original data and repairs)."""
        return len(self._unsent) + len(self._repairs)

    # --- input -----------------------------------------------------------------------------

    def send_messages(self, messages: list[list[bytes]]) -> None:
        self._unsent.extend(self._encoder.encode(messages))

    def receive(self, datagram: bytes, now: float) -> None:
        """An upstream packet (NAK, SPMR); anything else, or anything broken, is ignored."""
        parsed = self._parse(datagram)
        if parsed is None:
            return
        header = parsed.header
        if header.gsi != self.gsi or header.dport != self.sport or header.sport != self.dport:
            return  # for another source (upstream packets swap the ports)
        if isinstance(parsed, packet.Nak) and header.type == packet.NAK:
            if parsed.src_nla != self.nla or parsed.grp_nla != self.group:
                self.bad_packets += 1
                return
            self.naks_received += 1
            self._urgent.append(packet.build_nak(self.sport, self.dport, self.gsi,
                                                 list(parsed.sqns), self.nla, self.group,
                                                 confirm=True))
            trail, next_sqn = self.trail, self._next_sqn
            for sqn in parsed.sqns:
                in_window = packet.sqn_diff(sqn, trail) >= 0 and packet.sqn_diff(sqn, next_sqn) < 0
                if in_window and sqn not in self._repair_set:
                    self._repair_set.add(sqn)
                    self._repairs.append(sqn)
        elif isinstance(parsed, packet.Spmr) and now >= self._spmr_quiet_until:
            # at most one answer per SPMR_HOLDOFF: a flood of SPMRs costs one SPM each time
            self._spmr_quiet_until = now + SPMR_HOLDOFF
            self._queue_spm()

    # --- output ----------------------------------------------------------------------------

    def _queue_spm(self) -> None:
        self._urgent.append(packet.build_spm(self.sport, self.dport, self.gsi, self._spm_sqn,
                                             self.trail, self.lead, self.nla))
        self._spm_sqn = (self._spm_sqn + 1) & 0xFFFFFFFF

    def _refill(self, now: float) -> None:
        elapsed = now - self._last_fill
        if elapsed > 0:
            self._tokens = min(self._bucket_size, self._tokens + elapsed * self._bytes_per_second)
        self._last_fill = now

    def poll(self, now: float) -> list[bytes]:
        """The datagrams to send now, in order."""
        out = self._urgent
        self._urgent = []
        self._refill(now)
        sent_data = False
        overhead = self._overhead + packet.HEADER_SIZE + packet.DATA_HEADER_SIZE
        while self._tokens > 0 and (self._repairs or self._unsent):
            if self._repairs:
                sqn = self._repairs.popleft()
                self._repair_set.discard(sqn)
                payload = self._find(sqn)
                if payload is None:
                    continue  # it left the window since it was asked for
                out.append(packet.build_data(self.sport, self.dport, self.gsi, sqn, self.trail,
                                             payload, repair=True))
                self.rdata_sent += 1
            else:
                payload = self._unsent.popleft()
                sqn = self._next_sqn
                self._next_sqn = (sqn + 1) & 0xFFFFFFFF
                self._window.append((sqn, payload))
                if len(self._window) > self.window_size:
                    self._window.popleft()
                out.append(packet.build_data(self.sport, self.dport, self.gsi, sqn, self.trail,
                                             payload))
                self.odata_sent += 1
                sent_data = True
            self._tokens -= overhead + len(payload)
        if sent_data:
            self._heartbeat = 0
            self._next_spm = now + HEARTBEAT_SPM[0]
        elif now >= self._next_spm:
            self._queue_spm()
            out.extend(self._urgent)
            self._urgent = []
            if self._heartbeat < len(HEARTBEAT_SPM) - 1:
                self._heartbeat += 1
                self._next_spm = now + HEARTBEAT_SPM[self._heartbeat]
            else:
                self._heartbeat = len(HEARTBEAT_SPM)
                self._next_spm = now + AMBIENT_SPM
        return out

    def _find(self, sqn: int) -> Optional[bytes]:
        window = self._window
        if not window:
            return None
        index = packet.sqn_diff(sqn, window[0][0])
        if 0 <= index < len(window):
            return window[index][1]
        return None

    def next_deadline(self, now: float) -> float:
        """When ``poll`` has something to do next (``now`` if it has already)."""
        if self._urgent:
            return now
        if self._repairs or self._unsent:
            if self._tokens > 0:
                return now
            return now + (-self._tokens + 1) / self._bytes_per_second
        return self._next_spm
