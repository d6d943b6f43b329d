"""``FrameReader``: receive-side buffering for one Connection.

The Connection decides what frames *mean*; the reader only cuts a byte
stream into frames and, on the hot path, frames into messages.  This is the
receive hot path of the whole library, so its rules are about cost:

* Input is parsed in place, by offset, from the ``bytes`` the caller gave.
  Nothing is copied per frame except the body itself (``data[a:b]`` -- one
  copy, into the immutable ``bytes`` the application keeps).
* Only two things survive between calls:

  - ``tail``: an incomplete frame header (< 9 bytes) or a partial greeting
    (< 64), re-joined with the next input.  It is small by construction, so
    the join costs at most one copy of the next input.
  - the *pending body*: once a header is known but its body is not complete,
    the received chunks are kept as they are and joined once at the end.  A
    16 MiB frame fed in 64 KiB pieces therefore costs O(n), not O(n^2).
    A body of ``DIRECT_THRESHOLD`` bytes or more gets its own buffer instead,
    which the engine may receive into directly (``direct_buffer``): one copy
    of a large message fewer, and one syscall per kernel-buffer's worth.

* Every frame size is checked against the limit (``ZMQ_MAXMSGSIZE``, and in
  any case the top bit of the 64-bit size) *before* anything is buffered, so
  a hostile size never makes us allocate.

Frames of a multipart message accumulate in ``parts`` until the frame
without MORE; command frames between them leave ``parts`` alone (libzmq may
slip a PONG between two frames of a large message, zmtp.md §4).
"""

from __future__ import annotations

from collections.abc import Callable

from .codec import FLAG_LONG, FLAG_MORE, MAX_FRAME_SIZE, unpack_u64_from
from .errors import ProtocolError
from .events import Event, Message

__all__ = ["FrameReader", "DIRECT_THRESHOLD"]

#: bodies at least this large are assembled in a buffer the engine can receive into
DIRECT_THRESHOLD = 64 * 1024
#: the largest such buffer kept for the next body of the same size (allocating and zeroing a
#: fresh one per message cost more than receiving into it)
SPARE_LIMIT = 16 * 1024 * 1024


class FrameReader:
    """Frame splitter with partial-input state (see module docstring)."""

    __slots__ = ("tail", "parts", "pending", "_limit", "_pending_flags", "_pending_need",
                 "_direct", "_direct_filled", "_spare")

    def __init__(self, max_message_size: int = -1) -> None:
        #: Unparsed bytes (partial header or greeting) from the last call.
        self.tail = b""
        #: Frames of the message being assembled.
        self.parts: list[bytes] = []
        #: Chunks of a body whose header has been read, else None.
        self.pending: list[bytes] | None = None
        # One comparison per frame covers both ZMQ_MAXMSGSIZE and the top bit.
        self._limit = (
            min(max_message_size, MAX_FRAME_SIZE) if max_message_size >= 0 else MAX_FRAME_SIZE
        )
        self._pending_flags = 0
        self._pending_need = 0
        #: the buffer of a large pending body, and how much of it is filled
        self._direct: bytearray | None = None
        self._direct_filled = 0
        self._spare: bytearray | None = None

    def reset(self) -> None:
        """Forget everything (the connection is closed)."""
        self.tail = b""
        self.parts = []
        self.pending = None
        self._direct = None

    def direct_buffer(self) -> memoryview | None:
        """The unfilled rest of a large pending body, to receive into; else None."""
        if self._direct is None:
            return None
        return memoryview(self._direct)[self._direct_filled:]

    def direct_filled(self, count: int) -> tuple[int, bytes] | None:
        """``count`` bytes were written into ``direct_buffer()``; ``(flags, body)`` once
        the body is complete."""
        direct = self._direct
        assert direct is not None and 0 < count <= len(direct) - self._direct_filled
        self._direct_filled += count
        if self._direct_filled < len(direct):
            return None
        return self._finish_direct()

    def _finish_direct(self) -> tuple[int, bytes]:
        direct = self._direct
        assert direct is not None
        body = bytes(direct)  # the application keeps an immutable copy; the buffer is reused
        if len(direct) <= SPARE_LIMIT:
            self._spare = direct
        self._direct = None
        self.pending = None
        return self._pending_flags, body

    def finish_pending(self, data: bytes) -> tuple[int, bytes, int] | None:
        """Feed *data* to the pending body.

        Returns ``(flags, body, consumed)`` once the body is complete, or
        ``None`` if all of *data* was absorbed and more is needed.
        """
        direct = self._direct
        if direct is not None:
            filled = self._direct_filled
            take = min(len(data), len(direct) - filled)
            direct[filled:filled + take] = memoryview(data)[:take]
            self._direct_filled = filled + take
            if self._direct_filled < len(direct):
                return None
            flags, body = self._finish_direct()
            return flags, body, take
        chunks = self.pending
        assert chunks is not None
        need = self._pending_need
        if len(data) < need:
            chunks.append(data)
            self._pending_need = need - len(data)
            return None
        chunks.append(data[:need])
        self.pending = None
        body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        return self._pending_flags, body, need

    def next_frame(self, data: bytes, pos: int) -> tuple[int, bytes, int] | None:
        """``(flags, body, end)`` of the frame at *pos* (general path).

        Returns ``None`` if the frame is incomplete; the remainder is then
        stored (tail or pending) and the caller must stop parsing *data*.

        :raises ProtocolError: size over the limit or with the top bit set.
        """
        left = len(data) - pos
        if left >= 2:
            flags = data[pos]
            if not flags & FLAG_LONG:
                size, start = data[pos + 1], pos + 2
            elif left >= 9:
                size, start = unpack_u64_from(data, pos + 1)[0], pos + 9
            else:
                self.tail = data[pos:]
                return None
            if size > self._limit:
                self._too_large(size)
            end = start + size
            if end <= len(data):
                return flags, data[start:end], end
            self._begin_pending(flags, data, start, size)
            return None
        self.tail = data[pos:]
        return None

    def add_part(self, flags: int, body: bytes, events: list[Event]) -> None:
        """Add one message frame; emit the Message when it is the last."""
        self.parts.append(body)
        if not flags & FLAG_MORE:
            events.append(Message(self.parts))
            self.parts = []

    def read_plain(
        self,
        data: bytes,
        pos: int,
        events: list[Event],
        on_command: Callable[[bytes, list[Event]], None],
    ) -> None:
        """Parse every frame of *data* from *pos*: the READY fast path.

        Message frames are assembled here; command bodies go to
        *on_command*.  Deliberately inlines :meth:`next_frame` and
        :meth:`add_part` -- two calls per frame would dominate the cost of
        small messages.
        """
        n = len(data)
        parts = self.parts
        limit = self._limit
        emit = events.append
        try:
            while True:
                left = n - pos
                if left < 2:
                    break
                flags = data[pos]
                if flags & 0x02:  # LONG (literals: no name lookups in here)
                    if left < 9:
                        break
                    size = unpack_u64_from(data, pos + 1)[0]
                    start = pos + 9
                else:
                    size = data[pos + 1]
                    start = pos + 2
                if size > limit:
                    self._too_large(size)
                end = start + size
                if end > n:
                    self._begin_pending(flags, data, start, size)
                    return
                if flags & 0x04:  # COMMAND
                    on_command(data[start:end], events)
                elif flags & 0x01:  # MORE
                    parts.append(data[start:end])
                elif parts:  # last frame of a multipart message
                    parts.append(data[start:end])
                    emit(Message(parts))
                    parts = []
                else:  # single-frame message: the common case, one list build
                    emit(Message([data[start:end]]))
                pos = end
            if pos < n:
                self.tail = data[pos:]
        finally:
            self.parts = parts

    def _begin_pending(self, flags: int, data: bytes, start: int, size: int) -> None:
        have = len(data) - start
        if size >= DIRECT_THRESHOLD:
            spare = self._spare
            if spare is not None and len(spare) == size:
                self._direct, self._spare = spare, None
            else:
                self._direct = bytearray(size)
            self._direct[:have] = memoryview(data)[start:]
            self._direct_filled = have
            self.pending = []  # marks "a body is pending" for the Connection
            self._pending_flags = flags
            return
        # data[start:] is data itself when start == 0: no copy for the common
        # "chunk begins exactly at a large body" case.
        self.pending = [data[start:]] if have else []
        self._pending_flags = flags
        self._pending_need = size - have

    @staticmethod
    def _too_large(size: int) -> None:
        if size > MAX_FRAME_SIZE:
            raise ProtocolError(f"frame size {size:#x} has the top bit set")
        # libzmq: EMSGSIZE from the decoder, connection dropped.
        raise ProtocolError(f"frame of {size} bytes exceeds max_message_size")
