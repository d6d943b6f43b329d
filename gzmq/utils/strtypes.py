"""Python 2/3 string helpers that pyzmq keeps for old code (deprecated there since 23).

``bytes``/``unicode``/``basestring`` name the Python 3 types; ``cast_bytes`` (``b``,
``asbytes``) and ``cast_unicode`` (``u``) convert between str and bytes, and warn with a
DeprecationWarning, as pyzmq's do. New code should use ``str.encode``/``bytes.decode``.
"""

from __future__ import annotations

import warnings
from typing import Union

bytes = bytes  # noqa: PLW0127 - re-exported under pyzmq's names
unicode = str
basestring = (str,)

_DEPRECATED = "zmq.utils.strtypes is deprecated in pyzmq 23."


def cast_bytes(s: Union[str, bytes], encoding: str = "utf8", errors: str = "strict") -> bytes:
    """``s`` as bytes (str is encoded with ``encoding``); TypeError for anything else."""
    warnings.warn(_DEPRECATED, DeprecationWarning, stacklevel=2)
    if isinstance(s, bytes):
        return s
    if isinstance(s, str):
        return s.encode(encoding, errors)
    raise TypeError(f"Expected unicode or bytes, got {s!r}")


def cast_unicode(s: Union[str, bytes], encoding: str = "utf8", errors: str = "strict") -> str:
    """``s`` as str (bytes are decoded with ``encoding``); TypeError for anything else."""
    warnings.warn(_DEPRECATED, DeprecationWarning, stacklevel=2)
    if isinstance(s, bytes):
        return s.decode(encoding, errors)
    if isinstance(s, str):
        return s
    raise TypeError(f"Expected unicode or bytes, got {s!r}")


b = asbytes = cast_bytes
u = cast_unicode

__all__ = ["asbytes", "bytes", "unicode", "basestring", "b", "u", "cast_bytes",
           "cast_unicode"]
