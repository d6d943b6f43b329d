"""Socket-Type names and which peer types may talk to each other (zmtp.md §7.1).

This table is the only place in ``gzmq.zmtp`` that knows socket types by
name; the Connection checks the peer's ``Socket-Type`` property against it
and decides whether to send an ``Identity`` property.

Rules (libzmq ``mechanism_t::check_socket_type``):

* The comparison is exact: case-sensitive, full length (``"push"`` is not
  ``"PUSH"``).  Values are ASCII on the wire; we compare ``str`` after a
  latin-1 decode, which maps each byte to one code point, so it is still a
  byte-exact comparison.
* A missing ``Socket-Type`` property is accepted (no check is made).
* ``STREAM`` never speaks ZMTP (raw TCP), so it has no compatible peers and
  a Connection cannot be built for it.  ``DGRAM`` is UDP-only but listed for
  completeness, as in the RFC 37 table.
* Draft types (CLIENT/SERVER, RADIO/DISH, SCATTER/GATHER, PEER, CHANNEL) are
  included: they use the same handshake.
* What a socket announces (libzmq ``add_basic_properties``): Socket-Type,
  then Identity for REQ/DEALER/ROUTER only, then the ``X-`` application
  properties sorted by name.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

__all__ = [
    "SOCKET_TYPE_NUMBERS",
    "COMPATIBLE",
    "DRAFT_TYPES",
    "SENDS_IDENTITY",
    "is_compatible",
    "announced_properties",
]

#: Socket-Type string -> ``ZMQ_*`` constant value (zmq.h).
SOCKET_TYPE_NUMBERS: Final[dict[str, int]] = {
    "PAIR": 0,
    "PUB": 1,
    "SUB": 2,
    "REQ": 3,
    "REP": 4,
    "DEALER": 5,
    "ROUTER": 6,
    "PULL": 7,
    "PUSH": 8,
    "XPUB": 9,
    "XSUB": 10,
    "STREAM": 11,
    "SERVER": 12,
    "CLIENT": 13,
    "RADIO": 14,
    "DISH": 15,
    "GATHER": 16,
    "SCATTER": 17,
    "DGRAM": 18,
    "PEER": 19,
    "CHANNEL": 20,
}

#: Our Socket-Type -> the peer Socket-Types libzmq accepts (RFC 37 table).
COMPATIBLE: Final[dict[str, frozenset[str]]] = {
    "PAIR": frozenset({"PAIR"}),
    "PUB": frozenset({"SUB", "XSUB"}),
    "SUB": frozenset({"PUB", "XPUB"}),
    "REQ": frozenset({"REP", "ROUTER"}),
    "REP": frozenset({"REQ", "DEALER"}),
    "DEALER": frozenset({"REP", "DEALER", "ROUTER"}),
    "ROUTER": frozenset({"REQ", "DEALER", "ROUTER"}),
    "PULL": frozenset({"PUSH"}),
    "PUSH": frozenset({"PULL"}),
    "XPUB": frozenset({"SUB", "XSUB"}),
    "XSUB": frozenset({"PUB", "XPUB"}),
    "STREAM": frozenset(),
    "SERVER": frozenset({"CLIENT"}),
    "CLIENT": frozenset({"SERVER"}),
    "RADIO": frozenset({"DISH"}),
    "DISH": frozenset({"RADIO"}),
    "GATHER": frozenset({"SCATTER"}),
    "SCATTER": frozenset({"GATHER"}),
    "DGRAM": frozenset({"DGRAM"}),
    "PEER": frozenset({"PEER"}),
    "CHANNEL": frozenset({"CHANNEL"}),
}

#: Types that exist only in libzmq builds with the DRAFT API.
DRAFT_TYPES: Final[frozenset[str]] = frozenset(
    {"SERVER", "CLIENT", "RADIO", "DISH", "GATHER", "SCATTER", "DGRAM", "PEER", "CHANNEL"}
)

#: Types whose READY/INITIATE carries an ``Identity`` property -- sent even
#: when the routing id is empty (libzmq ``add_basic_properties``; RFC 37's
#: example, where ROUTER sends none, is wrong about libzmq).
SENDS_IDENTITY: Final[frozenset[str]] = frozenset({"REQ", "DEALER", "ROUTER"})


def is_compatible(ours: str, peer: str) -> bool:
    """True if a socket of type *ours* accepts a peer announcing *peer*."""
    return peer in COMPATIBLE.get(ours, frozenset())


def announced_properties(
    socket_type: str, identity: bytes, extra: Mapping[str, bytes]
) -> list[tuple[str, bytes]]:
    """The properties our READY/INITIATE carries, in libzmq's order.

    :raises ValueError: an application property not named ``X-...`` (it
        could shadow Socket-Type/Identity) or longer than 255 bytes.
    """
    props = [("Socket-Type", socket_type.encode("ascii"))]
    if socket_type in SENDS_IDENTITY:
        props.append(("Identity", bytes(identity)))
    # libzmq keeps them in a std::map<std::string>: byte-wise name order.
    for name in sorted(extra, key=lambda k: k.encode("latin-1")):
        if not name.startswith("X-") or len(name.encode("latin-1")) > 255:
            raise ValueError(f"metadata names must be 'X-...', <= 255 bytes: {name!r}")
        props.append((name, bytes(extra[name])))
    return props
