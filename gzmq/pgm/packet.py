"""PGM packets (RFC 3208) as OpenPGM writes them: parse and build, nothing else.

Every packet starts with the 16-byte PGM header::

    sport:16 dport:16 type:8 options:8 checksum:16 gsi:48 tsdu_length:16

followed by a type-specific part (all numbers big-endian):

- SPM   ``spm_sqn:32 trail:32 lead:32 afi:16 reserved:16 nla:32`` (IPv4; 36 bytes in all)
- ODATA / RDATA ``sqn:32 trail:32`` then options, then ``tsdu_length`` bytes of data
- NAK / NCF ``sqn:32 src_afi:16 reserved:16 src_nla:32 grp_afi:16 reserved:16 grp_nla:32``
  then options (OPT_NAK_LIST asks for up to 62 more sequence numbers)
- SPMR the header alone

The checksum is the Internet checksum of the whole PGM packet with the field zeroed; OpenPGM
always fills it in, and a packet whose checksum does not match is dropped (0 means "not
computed", which RFC 3208 allows). Options come as a chain: OPT_LENGTH (type 0, length 4,
total length of all options) first, then options of ``type:8 length:8 ...`` until one has the
END bit (0x80) in its type. Upstream packets (NAK, SPMR) swap the ports: their sport is the
data destination port, their dport the source's port.

Nothing here trusts a length it reads: every slice is checked against the bytes that arrived,
and a bad packet is a ``PacketError`` (callers drop it and log), never another exception.
"""

from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass, field
from typing import Optional, Union

__all__ = [
    "PacketError", "Header", "Spm", "Data", "Nak", "Packet", "Parser", "parse", "try_parse",
    "checksum",
    "build_spm", "build_data", "build_nak", "build_spmr", "sqn_after", "sqn_diff",
    "SPM", "ODATA", "RDATA", "NAK", "NNAK", "NCF", "SPMR", "HEADER_SIZE", "DATA_HEADER_SIZE",
    "MAX_NAK_LIST",
]

SPM, POLL, POLR, ODATA, RDATA, NAK, NNAK, NCF, SPMR, ACK = (
    0x00, 0x01, 0x02, 0x04, 0x05, 0x08, 0x09, 0x0A, 0x0C, 0x0D)
OPT_LENGTH, OPT_FRAGMENT, OPT_NAK_LIST = 0x00, 0x01, 0x02
OPT_END, OPT_MASK = 0x80, 0x7F
OPT_PRESENT = 0x01  # header options bit: option extensions follow
AFI_IP = 1

HEADER_SIZE = 16
DATA_HEADER_SIZE = 8  # sqn + trail
#: a NAK carries its own sequence number plus at most this many in OPT_NAK_LIST (OpenPGM)
MAX_NAK_LIST = 62

_HEADER = struct.Struct("!HHBBH6sH")
_SPM = struct.Struct("!IIIHH4s")
_DATA = struct.Struct("!II")
_NAK = struct.Struct("!IHH4sHH4s")


class PacketError(ValueError):
    """A packet we cannot accept (truncated, bad checksum, unknown layout)."""


def checksum(data: bytes) -> int:
    """The Internet checksum (one's complement of the one's complement sum of 16-bit words).

    The one's complement sum of 16-bit words is the number the bytes spell, modulo 0xFFFF
    (2**16 is 1 modulo 0xFFFF), except that a non-zero sum of 0xFFFF comes out as 0: one
    big-integer operation in C instead of a Python-level pass over the words."""
    if len(data) % 2:
        data = bytes(data) + b"\0"
    total = int.from_bytes(data, "big") % 0xFFFF
    if total == 0 and any(data):
        total = 0xFFFF
    return (~total) & 0xFFFF


@dataclass(frozen=True)
class Header:
    sport: int
    dport: int
    type: int
    options: int
    gsi: bytes
    tsdu_length: int


@dataclass(frozen=True)
class Spm:
    header: Header
    spm_sqn: int
    trail: int
    lead: int
    nla: str


@dataclass(frozen=True)
class Data:
    """ODATA or RDATA (``header.type`` tells which)."""
    header: Header
    sqn: int
    trail: int
    payload: bytes
    #: OPT_FRAGMENT present: part of an APDU larger than one packet (libzmq never sends it)
    fragment: bool = False


@dataclass(frozen=True)
class Nak:
    """NAK, N-NAK or NCF: the sequence numbers asked for (or confirmed)."""
    header: Header
    sqns: tuple[int, ...]
    src_nla: str
    grp_nla: str


@dataclass(frozen=True)
class Spmr:
    header: Header


#: what ``parse`` returns
Packet = Union[Spm, Data, Nak, Spmr]


@dataclass
class _Options:
    fragment: bool = False
    nak_list: list[int] = field(default_factory=list)


def _parse_options(buf: bytes, start: int) -> tuple[_Options, int]:
    """Walk the option chain at ``buf[start:]``; return what we use and where it ends."""
    if len(buf) < start + 4:
        raise PacketError("truncated OPT_LENGTH")
    opt_type, opt_len, total = struct.unpack_from("!BBH", buf, start)
    if opt_type & OPT_MASK != OPT_LENGTH or opt_len != 4:
        raise PacketError("options do not start with OPT_LENGTH")
    end = start + total
    if total < 4 or end > len(buf):
        raise PacketError("option chain longer than the packet")
    found = _Options()
    pos = start + 4
    count = 0
    while pos < end:
        if pos + 2 > end:
            raise PacketError("truncated option header")
        opt_type, opt_len = buf[pos], buf[pos + 1]
        if opt_len < 3 or pos + opt_len > end:
            raise PacketError("bad option length")
        kind = opt_type & OPT_MASK
        if kind == OPT_FRAGMENT:
            found.fragment = True
        elif kind == OPT_NAK_LIST:
            # type, length, OPX byte, reserved byte, then 32-bit sequence numbers
            body = buf[pos + 4:pos + opt_len]
            if len(body) % 4 or len(body) // 4 > MAX_NAK_LIST:
                raise PacketError("bad OPT_NAK_LIST")
            found.nak_list = list(struct.unpack(f"!{len(body) // 4}I", body))
        pos += opt_len
        count += 1
        if opt_type & OPT_END or count > 16:
            break
    return found, end


def _aton(address: str) -> bytes:
    return ipaddress.IPv4Address(address).packed


def _nla(afi: int, raw: bytes) -> str:
    if afi != AFI_IP:
        raise PacketError(f"unsupported NLA family {afi}")
    return str(ipaddress.IPv4Address(raw))


def parse(buf: bytes, verify: bool = True) -> Packet:
    """One PGM packet (what follows the IP or UDP header). Raises ``PacketError``."""
    if len(buf) < HEADER_SIZE:
        raise PacketError("shorter than a PGM header")
    sport, dport, ptype, options, csum, gsi, tsdu_length = _HEADER.unpack_from(buf)
    if verify and csum and checksum(buf[:6] + b"\0\0" + buf[8:]) != csum:
        raise PacketError("bad checksum")
    header = Header(sport, dport, ptype, options, gsi, tsdu_length)
    body = HEADER_SIZE
    if ptype in (ODATA, RDATA):
        if len(buf) < body + DATA_HEADER_SIZE:
            raise PacketError("truncated data header")
        sqn, trail = _DATA.unpack_from(buf, body)
        start = body + DATA_HEADER_SIZE
        fragment = False
        if options & OPT_PRESENT:
            opts, start = _parse_options(buf, start)
            fragment = opts.fragment
        payload = bytes(buf[start:])
        if len(payload) != tsdu_length:
            raise PacketError("TSDU length does not match the packet")
        return Data(header, sqn, trail, payload, fragment)
    if ptype == SPM:
        if len(buf) < body + _SPM.size:
            raise PacketError("truncated SPM")
        spm_sqn, trail, lead, afi, _reserved, nla = _SPM.unpack_from(buf, body)
        return Spm(header, spm_sqn, trail, lead, _nla(afi, nla))
    if ptype in (NAK, NNAK, NCF):
        if len(buf) < body + _NAK.size:
            raise PacketError("truncated NAK")
        sqn, src_afi, _r1, src, grp_afi, _r2, grp = _NAK.unpack_from(buf, body)
        sqns = [sqn]
        if options & OPT_PRESENT:
            opts, _end = _parse_options(buf, body + _NAK.size)
            sqns += opts.nak_list
        return Nak(header, tuple(sqns), _nla(src_afi, src), _nla(grp_afi, grp))
    if ptype == SPMR:
        return Spmr(header)
    raise PacketError(f"unsupported packet type {ptype:#x}")


def try_parse(buf: bytes) -> Optional[Packet]:
    """``parse``, with None for a packet we cannot accept (the caller counts and drops it)."""
    try:
        return parse(buf)
    except PacketError:
        return None


class Parser:
    """What the sender and the receiver share: parse a datagram, count what cannot be."""

    bad_packets = 0

    def _parse(self, datagram: bytes) -> Optional[Packet]:
        parsed = try_parse(datagram)
        if parsed is None:
            self.bad_packets += 1
        return parsed


def _finish(header: bytes, rest: bytes) -> bytes:
    """Fill in the checksum of a packet built with a zero checksum field."""
    packet = header + rest
    csum = checksum(packet)
    return packet[:6] + struct.pack("!H", csum) + packet[8:]


def _header(sport: int, dport: int, ptype: int, options: int, gsi: bytes, tsdu: int) -> bytes:
    return _HEADER.pack(sport, dport, ptype, options, 0, gsi, tsdu)


def build_spm(sport: int, dport: int, gsi: bytes, spm_sqn: int, trail: int, lead: int,
              nla: str) -> bytes:
    return _finish(_header(sport, dport, SPM, 0, gsi, 0),
                   _SPM.pack(spm_sqn & 0xFFFFFFFF, trail & 0xFFFFFFFF, lead & 0xFFFFFFFF,
                             AFI_IP, 0, _aton(nla)))


def build_data(sport: int, dport: int, gsi: bytes, sqn: int, trail: int, payload: bytes,
               repair: bool = False) -> bytes:
    """ODATA (or RDATA with ``repair``) carrying ``payload`` whole: never fragmented, as
    libzmq's receiver requires one TSDU per APDU."""
    return _finish(_header(sport, dport, RDATA if repair else ODATA, 0, gsi, len(payload)),
                   _DATA.pack(sqn & 0xFFFFFFFF, trail & 0xFFFFFFFF) + payload)


def build_nak(sport: int, dport: int, gsi: bytes, sqns: list[int], src_nla: str,
              grp_nla: str, confirm: bool = False) -> bytes:
    """A NAK (receiver to source) or, with ``confirm``, an NCF (source to group) for
    ``sqns`` (1 + at most 62): the first in the fixed part, the rest in OPT_NAK_LIST."""
    if not 1 <= len(sqns) <= 1 + MAX_NAK_LIST:
        raise ValueError("a NAK carries 1 to 63 sequence numbers")
    rest = _NAK.pack(sqns[0] & 0xFFFFFFFF, AFI_IP, 0, _aton(src_nla), AFI_IP, 0,
                     _aton(grp_nla))
    options = 0
    if len(sqns) > 1:
        more = sqns[1:]
        nak_list = struct.pack(f"!BBBB{len(more)}I", OPT_NAK_LIST | OPT_END, 4 + 4 * len(more),
                               0, 0, *[s & 0xFFFFFFFF for s in more])
        rest += struct.pack("!BBH", OPT_LENGTH, 4, 4 + len(nak_list)) + nak_list
        options = OPT_PRESENT | 0x02  # OPT_NETWORK: a NAK list matters to network elements
    return _finish(_header(sport, dport, NCF if confirm else NAK, options, gsi, 0), rest)


def build_spmr(sport: int, dport: int, gsi: bytes) -> bytes:
    return _finish(_header(sport, dport, SPMR, 0, gsi, 0), b"")


def sqn_after(a: int, b: int) -> bool:
    """Serial-number arithmetic (RFC 1982, 32 bits): ``a`` comes after ``b``."""
    return 0 < ((a - b) & 0xFFFFFFFF) < 0x80000000


def sqn_diff(a: int, b: int) -> int:
    """``a - b`` in serial-number arithmetic, in [-2**31, 2**31)."""
    d = (a - b) & 0xFFFFFFFF
    return d - 0x100000000 if d >= 0x80000000 else d
