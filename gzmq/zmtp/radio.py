"""RADIO/DISH on the wire: groups, JOIN/LEAVE bodies and udp datagrams (pure functions).

Over ZMTP (tcp, ipc) a RADIO message is two frames, ``[group, MORE][body]``, and a DISH
tells its RADIO which groups it wants with ``JOIN``/``LEAVE`` commands whose data is the
group (no length byte).  Over udp there is no ZMTP: each message is one datagram::

    group-len(1) group(group-len) body(rest)

(libzmq ``udp_engine.cpp``.)  A group is at most ``GROUP_MAX_LENGTH`` (255) bytes; libzmq
sends no datagram larger than ``MAX_DATAGRAM`` (8192) bytes and reads no more than that of
one (the rest of a longer datagram is cut off by the kernel).

Input is the peer's choice: :func:`decode_datagram` trusts only the bytes it is given and
raises :class:`ProtocolError` (the caller drops and logs) for a datagram that is empty or
shorter than its group length says.
"""

from __future__ import annotations

from typing import Final

from .errors import LocalProtocolError, ProtocolError, ProtocolErrorCode

__all__ = [
    "GROUP_MAX_LENGTH", "MAX_DATAGRAM", "check_group", "encode_datagram", "decode_datagram",
    "JOIN_PREFIX", "LEAVE_PREFIX",
]

#: ZMQ_GROUP_MAX_LENGTH (zmq.h): join/leave/send of a longer group fail with EINVAL
GROUP_MAX_LENGTH: Final = 255
#: libzmq's MAX_UDP_MSG: its udp engine's buffer, both ways
MAX_DATAGRAM: Final = 8192
#: command bodies up to the group (name-length byte + name)
JOIN_PREFIX: Final = b"\x04JOIN"
LEAVE_PREFIX: Final = b"\x05LEAVE"


def check_group(group: bytes) -> bytes:
    """``group`` if it is a valid group, else :class:`LocalProtocolError` (the caller's
    mistake: the socket turns it into EINVAL before anything is sent)."""
    if len(group) > GROUP_MAX_LENGTH:
        raise LocalProtocolError(f"group longer than {GROUP_MAX_LENGTH} bytes: {len(group)}")
    return group


def encode_datagram(group: bytes, body: bytes) -> bytes:
    """One udp datagram for a RADIO message.

    :raises LocalProtocolError: the group is too long, or the datagram would exceed
        ``MAX_DATAGRAM`` (libzmq drops such a message silently; the caller decides).
    """
    check_group(group)
    size = 1 + len(group) + len(body)
    if size > MAX_DATAGRAM:
        raise LocalProtocolError(f"datagram of {size} bytes exceeds {MAX_DATAGRAM}")
    return b"".join((bytes((len(group),)), group, body))


def decode_datagram(datagram: bytes) -> tuple[bytes, bytes]:
    """``(group, body)`` from one received datagram.

    :raises ProtocolError: empty, or shorter than its group-length byte says (libzmq
        ignores such a datagram).
    """
    if not datagram:
        raise ProtocolError("empty datagram", ProtocolErrorCode.ZMTP_UNSPECIFIED)
    end = 1 + datagram[0]
    if len(datagram) < end:
        raise ProtocolError(
            f"datagram of {len(datagram)} bytes announces a {datagram[0]}-byte group",
            ProtocolErrorCode.ZMTP_UNSPECIFIED)
    return bytes(datagram[1:end]), bytes(datagram[end:])
