"""pyzmq's ``zmq.utils.z85`` path: Z85 ``encode``/``decode`` (RFC 32, libzmq's rules).

A thin re-export of :mod:`gzmq.zmtp.z85`; see there for the rules.
"""

from __future__ import annotations

from ..zmtp.z85 import Z85CHARS, decode, encode

__all__ = ["encode", "decode", "Z85CHARS"]
