"""``zmq.utils.jsonapi``: JSON to and from UTF-8 bytes, as pyzmq's (the stdlib json module)."""

from __future__ import annotations

import json
from typing import Any

__all__ = ["dumps", "loads", "jsonmod"]

#: the JSON implementation in use (pyzmq's name for it)
jsonmod = json


def dumps(o: object, **kwargs: Any) -> bytes:
    """``o`` as JSON, UTF-8 encoded; keyword arguments go to ``json.dumps``."""
    return json.dumps(o, **kwargs).encode("utf8")


def loads(s: "bytes | str", **kwargs: Any) -> Any:
    """The object in JSON ``s`` (bytes are decoded as UTF-8); keyword arguments go to
    ``json.loads``."""
    if isinstance(s, bytes):
        s = s.decode("utf8")
    return json.loads(s, **kwargs)
