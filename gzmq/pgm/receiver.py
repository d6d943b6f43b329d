"""A PGM receiver as a state machine: packets and time in, messages and NAKs out.

One ``_Source`` per transport session id (GSI + source port), as OpenPGM keeps one peer each:

- **Join.** The first data packet from a source fixes where its stream starts for us (OpenPGM's
  default: no OPT_JOIN catch-up); the framing decoder then waits for a packet where a message
  starts (``framing.FrameDecoder``), so a late joiner starts at a message boundary.
- **Receive window.** Packets are delivered in sequence order. A gap (seen from a later packet,
  or from an SPM's lead) makes each missing number wait a random back-off up to NAK_BO_IVL,
  then a NAK goes to the source's NLA (learnt from its SPM; until then an SPMR asks for one).
  No NCF within NAK_RPT_IVL: NAK again; an NCF but no RDATA within NAK_RDATA_IVL: back off and
  NAK again; after NAK_*_RETRIES the packet is lost. libzmq's settings: 50 ms, 200 ms, 200 ms,
  50 retries. A packet is lost too once the source's trail (in SPM, ODATA, RDATA) passes it.
  A loss is told to the decoder, which drops the message in progress and rejoins at the next
  message start (libzmq's pgm_receiver does the same).
- **Bounds.** At most ``window_sqns`` packets are held or awaited per source (RATE x
  RECOVERY_IVL, as libzmq sizes OpenPGM's receive window); a packet further ahead restarts the
  stream there, as unrecoverable loss. At most ``max_sources`` sources; one silent for
  ``source_expiry`` seconds is forgotten. Bad packets are counted and dropped.

Time comes in as ``now`` (seconds, any monotonic origin); randomness from the ``rng`` given.
"""

from __future__ import annotations

import random
from typing import Optional

from . import packet
from .framing import FrameDecoder
from .sender import window_sqns

__all__ = ["Receiver"]

NAK_BO_IVL = 0.05
NAK_RPT_IVL = 0.2
NAK_RDATA_IVL = 0.2
NAK_RETRIES = 50
SOURCE_EXPIRY = 300.0

_BACKOFF, _WAIT_NCF, _WAIT_DATA = 0, 1, 2


class _Missing:
    __slots__ = ("state", "deadline", "ncf_retries", "data_retries")

    def __init__(self, deadline: float) -> None:
        self.state = _BACKOFF
        self.deadline = deadline
        self.ncf_retries = 0
        self.data_retries = 0


class _Source:
    def __init__(self, tsi: tuple[bytes, int], first_sqn: int, maxmsgsize: int,
                 now: float) -> None:
        self.tsi = tsi
        self.nla: Optional[str] = None
        self.next = first_sqn  # the next sequence number to deliver
        self.top = first_sqn  # one past the highest number seen or announced
        self.held: dict[int, bytes] = {}  # received ahead of a gap
        self.missing: dict[int, _Missing] = {}
        self.decoder = FrameDecoder(maxmsgsize)
        self.heard = now
        self.spmr_due = 0.0


class Receiver(packet.Parser):
    def __init__(self, *, dport: int, group: str, rate: int = 100, recovery_ivl: int = 10000,
                 maxtpdu: int = 1500, maxmsgsize: int = -1, rng: Optional[random.Random] = None,
                 max_sources: int = 1024, source_expiry: float = SOURCE_EXPIRY) -> None:
        self.dport, self.group = dport, group
        self.window = min(window_sqns(rate, recovery_ivl, maxtpdu), 1 << 20)
        self.maxmsgsize = maxmsgsize
        self.rng = rng or random.Random()
        self.max_sources = max_sources
        self.source_expiry = source_expiry
        self._sources: dict[tuple[bytes, int], _Source] = {}
        self._messages: list[list[bytes]] = []
        self._out: list[tuple[bytes, Optional[str]]] = []
        #: counters (besides bad_packets): packets lost for good, NAKs sent, packets repaired
        self.lost_packets = self.naks_sent = self.repaired = 0

    # --- input -----------------------------------------------------------------------------

    def receive(self, datagram: bytes, now: float) -> None:
        """A downstream packet (ODATA, RDATA, SPM, NCF) from the group."""
        parsed = self._parse(datagram)
        if parsed is None:
            return
        header = parsed.header
        if header.dport != self.dport:
            return
        tsi = (header.gsi, header.sport)
        source = self._sources.get(tsi)
        if isinstance(parsed, packet.Data):
            if parsed.fragment or not parsed.payload:
                self.bad_packets += 1  # libzmq never fragments nor sends empty packets
                return
            if source is None:
                source = self._new_source(tsi, parsed.sqn, now)
                if source is None:
                    return
            source.heard = now
            self._on_data(source, parsed.sqn, parsed.payload, now,
                          header.type == packet.RDATA)
            self._on_trail(source, parsed.trail)
        elif source is None:
            return  # SPM or NCF of a source we have no data from: nothing to repair yet
        elif isinstance(parsed, packet.Spm):
            source.heard = now
            source.nla = parsed.nla
            self._on_trail(source, parsed.trail)
            lead_after = (parsed.lead + 1) & 0xFFFFFFFF
            if packet.sqn_diff(lead_after, source.top) > 0:
                self._announce(source, lead_after, now)
        elif isinstance(parsed, packet.Nak) and header.type == packet.NCF:
            for sqn in parsed.sqns:
                missing = source.missing.get(sqn)
                if missing is not None:
                    missing.state = _WAIT_DATA
                    missing.deadline = now + NAK_RDATA_IVL
        self._deliver(source)

    def _new_source(self, tsi: tuple[bytes, int], sqn: int, now: float) -> Optional[_Source]:
        if len(self._sources) >= self.max_sources:
            self.expire(now)
            if len(self._sources) >= self.max_sources:
                self.bad_packets += 1
                return None
        source = self._sources[tsi] = _Source(tsi, sqn, self.maxmsgsize, now)
        return source

    def _on_data(self, source: _Source, sqn: int, payload: bytes, now: float,
                 repair: bool) -> None:
        ahead = packet.sqn_diff(sqn, source.next)
        if ahead < 0 or sqn in source.held:
            return  # delivered or held already: a duplicate
        if ahead >= self.window:
            # further ahead than we may hold: what lies before is lost, restart there
            self.lost_packets += len(source.missing)
            source.held.clear()
            source.missing.clear()
            source.decoder.lost()
            source.next = source.top = sqn
        if source.missing.pop(sqn, None) is not None and repair:
            self.repaired += 1
        source.held[sqn] = payload
        after = (sqn + 1) & 0xFFFFFFFF
        if packet.sqn_diff(after, source.top) > 0:
            self._announce(source, sqn, now)
            source.top = after

    def _announce(self, source: _Source, upto: int, now: float) -> None:
        """Numbers from ``source.top`` to ``upto`` (excluded) exist but did not arrive."""
        count = packet.sqn_diff(upto, source.top)
        if count <= 0:
            return
        room = self.window - (len(source.held) + len(source.missing))
        if count > room:
            count = max(room, 0)  # the rest would exceed the window: lost when passed
        sqn = source.top
        for _ in range(count):
            if sqn not in source.held:
                source.missing[sqn] = _Missing(now + self.rng.uniform(0, NAK_BO_IVL))
            sqn = (sqn + 1) & 0xFFFFFFFF
        source.top = upto

    def _on_trail(self, source: _Source, trail: int) -> None:
        """The source can no longer repair anything before ``trail``."""
        gone = packet.sqn_diff(trail, source.next)
        if gone <= 0 or gone > self.window:
            return  # nothing we wait for has left its window (or a trail we cannot judge)
        sqn = source.next
        for _ in range(gone):
            if sqn in source.missing:
                del source.missing[sqn]
                self._lose(source, sqn)
            sqn = (sqn + 1) & 0xFFFFFFFF
        self._deliver(source)

    def _lose(self, source: _Source, sqn: int) -> None:
        self.lost_packets += 1
        if sqn == source.next:
            source.decoder.lost()
            source.next = (sqn + 1) & 0xFFFFFFFF
        else:
            source.held[sqn] = b""  # a placeholder: delivering it tells the decoder

    def _deliver(self, source: _Source) -> None:
        held = source.held
        while True:
            nxt = source.next
            if nxt in held:
                payload = held.pop(nxt)
                if payload:
                    self._messages.extend(source.decoder.feed(payload))
                else:
                    source.decoder.lost()
                source.next = (nxt + 1) & 0xFFFFFFFF
            elif packet.sqn_diff(source.top, nxt) > 0 and nxt not in source.missing:
                # known to exist, neither held nor awaited (beyond the window when announced)
                self.lost_packets += 1
                source.decoder.lost()
                source.next = (nxt + 1) & 0xFFFFFFFF
            else:
                return

    # --- output ----------------------------------------------------------------------------

    def take_messages(self) -> list[list[bytes]]:
        messages = self._messages
        self._messages = []
        return messages

    def poll(self, now: float) -> list[tuple[bytes, Optional[str]]]:
        """Due NAKs (to the source's NLA) and SPMRs (``None``: to the group)."""
        for source in list(self._sources.values()):
            if source.missing:
                self._poll_source(source, now)
        out = self._out
        self._out = []
        return out

    def _poll_source(self, source: _Source, now: float) -> None:
        due: list[int] = []
        lost: list[int] = []
        for sqn, missing in source.missing.items():
            if missing.deadline > now:
                continue
            if missing.state == _WAIT_NCF:
                missing.ncf_retries += 1
                if missing.ncf_retries > NAK_RETRIES:
                    lost.append(sqn)
                    continue
            elif missing.state == _WAIT_DATA:
                missing.data_retries += 1
                if missing.data_retries > NAK_RETRIES:
                    lost.append(sqn)
                    continue
            due.append(sqn)
        for sqn in lost:
            del source.missing[sqn]
            self._lose(source, sqn)
        if due:
            if source.nla is None:
                # no SPM yet: we do not know where to NAK; ask for one, retry later
                for sqn in due:
                    source.missing[sqn].deadline = now + NAK_RPT_IVL
                if now >= source.spmr_due:
                    source.spmr_due = now + NAK_RPT_IVL
                    gsi, sport = source.tsi
                    self._out.append((packet.build_spmr(self.dport, sport, gsi), None))
            else:
                due.sort(key=lambda s: packet.sqn_diff(s, source.next))
                gsi, sport = source.tsi
                step = 1 + packet.MAX_NAK_LIST
                for start in range(0, len(due), step):
                    chunk = due[start:start + step]
                    self._out.append((packet.build_nak(self.dport, sport, gsi, chunk,
                                                       source.nla, self.group), source.nla))
                    self.naks_sent += 1
                for sqn in due:
                    missing = source.missing[sqn]
                    missing.state = _WAIT_NCF
                    missing.deadline = now + NAK_RPT_IVL
        if lost:
            self._deliver(source)

    def next_deadline(self) -> Optional[float]:
        deadline: Optional[float] = None
        for source in self._sources.values():
            for missing in source.missing.values():
                if deadline is None or missing.deadline < deadline:
                    deadline = missing.deadline
        return deadline

    def expire(self, now: float) -> None:
        """Forget sources silent for longer than ``source_expiry``."""
        for tsi, source in list(self._sources.items()):
            if now - source.heard > self.source_expiry:
                del self._sources[tsi]

    @property
    def decode_errors(self) -> int:
        """Malformed libzmq framing seen in the sources' streams (each one a rejoin)."""
        return sum(source.decoder.errors for source in self._sources.values())

    @property
    def sources(self) -> int:
        return len(self._sources)
