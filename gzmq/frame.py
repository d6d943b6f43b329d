"""``Frame`` (alias ``Message``) and ``MessageTracker``, as pyzmq offers them.

A gzmq frame is an immutable ``bytes`` underneath, so copy=False costs nothing extra and a
tracker is always already done: no libzmq buffer outlives the call.
"""

from __future__ import annotations

from typing import Any, Mapping, Optional

from .constants import EINVAL, MessageOption
from .error import NotDone, ZMQError

__all__ = ["Frame", "Message", "MessageTracker"]


class MessageTracker:
    """Tracks whether messages have left gzmq's hands; in gzmq that is immediate."""

    def __init__(self, *towatch: Any) -> None:
        self.peers: set[Any] = set(towatch)

    @property
    def done(self) -> bool:
        return True

    def wait(self, timeout: float = -1) -> None:
        if not self.done:
            raise NotDone()


_FINISHED_TRACKER = MessageTracker()


class Frame:
    """One message part, with the ZMTP properties of the peer it came from."""

    __slots__ = ("bytes", "more", "tracker", "_properties", "__weakref__")

    def __init__(self, data: Any = b"", track: bool = False, copy: Optional[bool] = None,
                 copy_threshold: Optional[int] = None) -> None:
        if data is None:
            data = b""
        if isinstance(data, str):
            raise TypeError("Str objects not allowed. Only: bytes, buffer interfaces.")
        if isinstance(data, Frame):
            data = data.bytes
        self.bytes: bytes = data if type(data) is bytes else bytes(memoryview(data))
        self.more = False
        self.tracker: Optional[MessageTracker] = _FINISHED_TRACKER if track else None
        self._properties: Mapping[str, bytes] = {}

    @property
    def buffer(self) -> memoryview:
        return memoryview(self.bytes)

    def __len__(self) -> int:
        return len(self.bytes)

    def __bytes__(self) -> bytes:
        return self.bytes

    def __buffer__(self, flags: int) -> memoryview:
        return memoryview(self.bytes)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Frame):
            return self.bytes == other.bytes
        if isinstance(other, (bytes, bytearray, memoryview)):
            return self.bytes == other
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __copy__(self) -> "Frame":
        clone = Frame(self.bytes)
        clone.more = self.more
        clone._properties = self._properties
        return clone

    fast_copy = __copy__

    def get(self, option: Any) -> Any:
        """``MORE`` as an int, or a message property (``'Socket-Type'``, ``'Peer-Address'``…)."""
        if isinstance(option, str):
            value = self._properties.get(option)
            if value is None and option == "Identity":
                value = self._properties.get("Routing-Id")
            if value is None:
                raise ZMQError(EINVAL)
            return value.decode("utf-8", "replace")
        if option == MessageOption.MORE:
            return int(self.more)
        if option == MessageOption.SHARED:
            return 0
        raise ZMQError(EINVAL)

    __getitem__ = get

    def set(self, option: Any, value: Any) -> None:
        raise ZMQError(EINVAL)

    def __repr__(self) -> str:
        shown = self.bytes if len(self.bytes) <= 32 else self.bytes[:32] + b"..."
        return f"<zmq.Frame({shown!r})>"

    def __str__(self) -> str:
        return self.bytes.decode()


Message = Frame
