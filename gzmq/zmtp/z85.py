"""Z85 (ZeroMQ RFC 32) and CURVE key helpers.

Rules, libzmq's (``zmq_z85_encode`` / ``zmq_z85_decode``, security.md §6-7):

* Encode: input length must be a multiple of 4 (the empty string encodes to
  the empty string).  Each 4 bytes, read as a big-endian uint32, become 5
  base-85 digits, most significant first.
* Decode: length must be a multiple of 5 and at least 5.  A character outside
  the alphabet, or a 5-character group worth more than ``0xFFFFFFFF`` (above
  ``%nSc0``), is refused.  There is no padding scheme.
* Every refusal is a ``ValueError`` (pyzmq's ``zmq.utils.z85`` raises
  ``ValueError`` for bad lengths too).

CURVE keys are 32 raw bytes on the wire.  Users write them as 40 Z85
characters; libzmq's ``ZMQ_CURVE_*KEY`` setters also accept 41 bytes (Z85 plus
the C string's NUL).  :func:`parse_curve_key` accepts exactly those three
forms.  Key generation uses PyNaCl (libsodium), which does no I/O, so this
module stays inside the sans-IO rule of :mod:`gzmq.zmtp`.
"""

from __future__ import annotations

import struct
from typing import Final


__all__ = [
    "Z85CHARS", "encode", "decode", "curve_keypair", "curve_public", "parse_curve_key",
    "CURVE_KEY_SIZE",
]

#: The 85-character alphabet, index = digit value.
Z85CHARS: Final = (
    b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#"
)
#: Raw CURVE key length.
CURVE_KEY_SIZE: Final = 32
_Z85_KEY_SIZE: Final = 40

# byte value -> digit value, -1 for bytes outside the alphabet: one list index
# per character instead of a dict lookup plus a membership test.
_DIGIT: Final[list[int]] = [-1] * 256
for _value, _char in enumerate(Z85CHARS):
    _DIGIT[_char] = _value
del _value, _char

_U32_MAX: Final = 0xFFFFFFFF


def encode(data: bytes | bytearray | memoryview) -> bytes:
    """Z85 text of *data* (``len(data) % 4 == 0``) as ASCII ``bytes``.

    :raises ValueError: length not a multiple of 4.
    """
    raw = bytes(data)
    if len(raw) % 4:
        raise ValueError(f"Z85 encodes multiples of 4 bytes, got {len(raw)}")
    chars = Z85CHARS
    out = bytearray()
    for (value,) in struct.iter_unpack(">I", raw):
        out += bytes((
            chars[value // 52200625],  # 85**4
            chars[value // 614125 % 85],  # 85**3
            chars[value // 7225 % 85],  # 85**2
            chars[value // 85 % 85],
            chars[value % 85],
        ))
    return bytes(out)


def decode(text: str | bytes | bytearray | memoryview) -> bytes:
    """Raw bytes of Z85 *text* (``str`` must be ASCII).

    :raises ValueError: length not a positive multiple of 5, a character
        outside the alphabet, or a group above ``0xFFFFFFFF``.
    """
    raw = text.encode("ascii") if isinstance(text, str) else bytes(text)
    n = len(raw)
    if n < 5 or n % 5:
        raise ValueError(f"Z85 decodes a positive multiple of 5 characters, got {n}")
    digit = _DIGIT
    values = []
    for start in range(0, n, 5):
        value = 0
        for char in raw[start : start + 5]:
            d = digit[char]
            if d < 0:
                raise ValueError(f"invalid Z85 character {chr(char)!r} at offset {start}")
            value = value * 85 + d
        if value > _U32_MAX:
            raise ValueError(f"Z85 group {raw[start:start + 5]!r} exceeds 0xFFFFFFFF")
        values.append(value)
    return struct.pack(f">{len(values)}I", *values)


def parse_curve_key(value: bytes | bytearray | memoryview | str) -> bytes:
    """The 32 raw bytes of a CURVE key given as raw, Z85 or Z85+NUL.

    Same forms as libzmq's ``ZMQ_CURVE_*KEY`` setters: 32 raw bytes, 40 Z85
    characters, or 41 bytes whose last one is NUL.  A ``str`` is taken as Z85.

    :raises ValueError: any other length or invalid Z85.
    """
    raw = value.encode("ascii") if isinstance(value, str) else bytes(value)
    n = len(raw)
    if n == CURVE_KEY_SIZE and not isinstance(value, str):
        return raw
    if n == _Z85_KEY_SIZE + 1 and raw[-1] == 0:
        raw, n = raw[:-1], n - 1
    if n == _Z85_KEY_SIZE:
        return decode(raw)
    raise ValueError(f"a CURVE key is 32 raw bytes, 40 Z85 chars or 41 with NUL, got {n}")


def curve_keypair() -> tuple[bytes, bytes]:
    """A new ``(public, secret)`` key pair, each as 40 Z85 characters (pyzmq API)."""
    from nacl.bindings import crypto_box_keypair  # libsodium, loaded only when keys are made

    public, secret = crypto_box_keypair()
    return encode(public), encode(secret)


def curve_public(secret_key: bytes | str) -> bytes:
    """The Z85 public key belonging to *secret_key* (any form parse_curve_key takes)."""
    # X25519 base-point multiplication, like libzmq's zmq_curve_public.
    from nacl.bindings import crypto_scalarmult_base

    return encode(crypto_scalarmult_base(parse_curve_key(secret_key)))
