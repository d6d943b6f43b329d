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
    the join costs at most one copy of the next input.  Or, once the caller's
    frame budget (``max_frames``, the Connection's ``max_messages``) is
    spent, the rest of the input, unparsed (``held``): 2 bytes of an empty
    message stay 2 bytes until the caller has room for it, instead of ~120
    as a Message object.  It is kept by offset, without a copy, until less
    than half of the input is left, then copied (O(n) in all).
  - the *pending body*: once a header is known but its body is not complete,
    the received chunks are kept as they are and joined once at the end.  A
    16 MiB frame fed in 64 KiB pieces therefore costs O(n), not O(n^2).
    Once ``DIRECT_THRESHOLD`` bytes of a body have arrived, the rest is
    assembled in buffers of its own, which the engine may receive into
    directly (``direct_buffer``): one copy of a large message fewer, and one
    syscall per kernel-buffer's worth.

Memory follows the bytes received, never a declared size (a header is a
claim, not a promise):

* Every pending body starts as a list of the received chunks, whatever its
  declared size: a header declaring 1 MiB followed by one byte holds one
  byte, not a 64 KiB buffer.
* Once ``DIRECT_THRESHOLD`` bytes of a large body have arrived, the chunks
  become the first (full) segments of the body, without a copy, and the rest
  is assembled in *segments* added as the data arrives.  A new segment brings
  the body's capacity to twice the bytes received so far (counting the bytes
  in hand), i.e. it offers a window of about as many again, rounded up to a
  pool size (64 KiB times a power of two).  Until the body completes it holds
  at most ``4 * received``, and ``direct_buffer`` offers at most
  ``3 * received`` (both bounds come from the rounding).  A 1 MiB body
  arriving in 256 KiB reads takes two or three windows.
* Segments are reused across bodies through a pool shared by every
  connection of the process and capped at ``POOL_LIMIT`` bytes in total,
  whatever the number of connections: a stream of large messages does not
  allocate and zero fresh memory for each one, and an idle connection holds
  nothing.
* Chunks trickled a few bytes at a time are compacted every 32, so the
  per-object overhead cannot multiply the bytes received.
* Every frame size is checked *before* anything is buffered, against a limit
  that is ``codec.MAX_HANDSHAKE_FRAME`` until the Connection calls
  :meth:`FrameReader.handshake_done`, and then ``ZMQ_MAXMSGSIZE`` (or only
  the top bit of the 64-bit size, which libzmq refuses too).
* With ``max_message_size`` set, the *sum* of the frames of a multipart
  message is bounded too (libzmq bounds each frame only, so an endless run
  of small MORE frames would be buffered without limit): a deliberate
  difference from libzmq.  It costs no extra comparison per frame: the
  limit checked is the remaining budget of the message in progress, reduced
  by each MORE frame when a limit is set (an empty MORE frame counts as one
  byte, so a run of empty frames is bounded too).  Without a limit the
  frames of a message in progress are not bounded (as in libzmq): they are
  bytes the peer really sent, and a completed message is then subject to
  the socket's RCVHWM.

Frames of a multipart message accumulate in ``parts`` until the frame
without MORE; command frames between them leave ``parts`` alone (libzmq may
slip a PONG between two frames of a large message, zmtp.md §4) and are not
counted in the message's size.
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import repeat
from typing import cast

from .codec import FLAG_COMMAND, FLAG_LONG, FLAG_MORE, MAX_FRAME_SIZE, MAX_HANDSHAKE_FRAME
from .codec import unpack_u64_from
from .errors import LocalProtocolError, ProtocolError, ProtocolErrorCode
from .events import Received

__all__ = ["FrameReader", "DIRECT_THRESHOLD", "POOL_LIMIT", "pooled_bytes"]

#: bodies at least this large are assembled in segments the engine can receive into
DIRECT_THRESHOLD = 64 * 1024
#: the first segment of a large body, and the smallest pool size
SEGMENT_MIN = 64 * 1024
#: the largest pooled segment size; larger segments are allocated to the byte, never pooled
POOL_SEGMENT_MAX = 4 * 1024 * 1024
#: the most memory the pool holds, for the whole process
POOL_LIMIT = 16 * 1024 * 1024
#: a small pending body is joined when it has this many chunks (trickled input)
_COMPACT_AT = 32
#: read_plain's frame loop when no budget is set (an endless iterator, shared)
_FOREVER = repeat(None)

# The pool: segment size (SEGMENT_MIN * 2**k) -> free segments.  list.append/pop are
# atomic, so OS threads (one hub each) may share it; a race can overshoot POOL_LIMIT by a
# segment or two, never more.
_POOL: dict[int, list[bytearray]] = {}
_size = SEGMENT_MIN
while _size <= POOL_SEGMENT_MAX:
    _POOL[_size] = []
    _size *= 2
del _size


def pooled_bytes() -> int:
    """Bytes held by the process-wide segment pool (at most ``POOL_LIMIT``)."""
    return sum(size * len(free) for size, free in _POOL.items())


def _segment_size(window: int) -> int:
    """*window* rounded up to a pool size (if it is not larger than any)."""
    if window > POOL_SEGMENT_MAX:
        return window
    size = SEGMENT_MIN
    while size < window:
        size <<= 1
    return size


def _take_segment(size: int) -> bytearray:
    free = _POOL.get(size)
    if free:
        try:
            return free.pop()
        except IndexError:  # another thread took it
            pass
    return bytearray(size)


def _give_back(segments: list[bytearray | bytes]) -> None:
    for segment in segments:
        if type(segment) is not bytearray:
            continue  # a chunk the body began with
        free = _POOL.get(len(segment))
        if free is not None and pooled_bytes() + len(segment) <= POOL_LIMIT:
            free.append(segment)


class FrameReader:
    """Frame splitter with partial-input state (see module docstring)."""

    __slots__ = ("tail", "tail_pos", "held", "parts", "pending", "_limit", "_max", "_bounded",
                 "_budget", "_pending_flags", "_pending_need", "_pending_size", "_segments",
                 "_seg_start", "_filled")

    def __init__(self, max_message_size: int = -1) -> None:
        #: Unparsed bytes from the last call, from ``tail_pos`` on: a partial header or
        #: greeting, or (``held``) the input left when the frame budget was spent.
        self.tail = b""
        self.tail_pos = 0
        #: True when ``tail`` is input held back by the frame budget: it may be parsed
        #: without new data (``Connection.next_events``).
        self.held = False
        #: Frames of the message being assembled.
        self.parts: list[bytes] = []
        #: Chunks of a body whose header has been read, else None.
        self.pending: list[bytes] | None = None
        #: ZMQ_MAXMSGSIZE, folded with the top-bit rule: one comparison covers both.
        self._max = (
            min(max_message_size, MAX_FRAME_SIZE) if max_message_size >= 0 else MAX_FRAME_SIZE
        )
        #: whether the frames of a message in progress are counted (max_message_size set)
        self._bounded = max_message_size >= 0
        #: the per-frame limit: handshake-sized until handshake_done()
        self._limit = min(self._max, MAX_HANDSHAKE_FRAME)
        #: what the next message frame may weigh: _limit, less the parts of the message in
        #: progress if _bounded (the only size compared per frame)
        self._budget = self._limit
        self._pending_flags = 0
        #: bytes of the pending body still to come (chunks), or its size (segments)
        self._pending_need = 0
        #: the declared size of the pending body
        self._pending_size = 0
        #: the segments of a large pending body (None if none: chunks in ``pending``),
        #: the body offset where the last one starts, and how many bytes are filled.
        #: The first segments may be the body's first chunks (full ``bytes``).
        self._segments: list[bytearray | bytes] | None = None
        self._seg_start = 0
        self._filled = 0

    def handshake_done(self) -> None:
        """Lift the handshake frame limit: from now on ``max_message_size`` applies."""
        self._limit = self._max
        self._budget = self._max  # no message frames during the handshake

    def reset(self) -> None:
        """Forget everything (the connection is closed)."""
        self.tail = b""
        self.tail_pos = 0
        self.held = False
        self.parts = []
        self.pending = None
        self._segments = None  # not pooled: the engine may still hold a view of one

    def buffered_bytes(self) -> int:
        """Memory held for the peer's unfinished input: tail (the whole buffer while held
        input is kept by offset), parts of the message in progress and pending body (the
        allocated segments, filled or not)."""
        held = len(self.tail) + sum(map(len, self.parts))
        if self._segments is not None:
            held += sum(map(len, self._segments))
        elif self.pending:
            held += sum(map(len, self.pending))
        return held

    def hold(self, data: bytes, pos: int) -> None:
        """Keep ``data[pos:]`` unparsed: the frame budget is spent (``held``)."""
        if pos >= len(data):
            return
        if pos > len(data) - pos:  # most of it is parsed: copy the rest, free the buffer
            data, pos = data[pos:], 0
        self.tail, self.tail_pos, self.held = data, pos, True

    def take_tail(self) -> tuple[bytes, int]:
        """The unparsed input ``(data, pos)``, which the caller parses now."""
        data, pos = self.tail, self.tail_pos
        self.tail, self.tail_pos, self.held = b"", 0, False
        return data, pos

    # ---------------------------------------------------------- large bodies

    def direct_buffer(self) -> memoryview | None:
        """Where the next bytes of a large pending body may be written; else None.

        The window is the free part of the current segment, up to the body's end; when
        the segment is full, a new one is added for a window of about the bytes received
        so far (see the module docstring).  None until ``DIRECT_THRESHOLD`` bytes of
        the body have arrived through :meth:`finish_pending`.
        """
        segments = self._segments
        if segments is None:
            return None
        segment = segments[-1]
        offset = self._filled - self._seg_start
        if offset == len(segment):
            segment = self._grow(0)
            offset = 0
        end = min(len(segment), self._pending_need - self._seg_start)
        return memoryview(segment)[offset:end]

    def direct_filled(self, count: int) -> tuple[int, bytes] | None:
        """``count`` bytes were written into ``direct_buffer()``; ``(flags, body)`` once
        the body is complete.

        :raises LocalProtocolError: no large body pending, or *count* out of the window.
        """
        segments = self._segments
        if segments is None:
            raise LocalProtocolError("no receive buffer is pending")
        start = self._seg_start
        window = min(len(segments[-1]), self._pending_need - start) - (self._filled - start)
        if not 0 < count <= window:
            raise LocalProtocolError(f"{count} bytes received into a window of {window}")
        self._filled += count
        if self._filled < self._pending_need:
            return None
        return self._finish_direct()

    def _grow(self, in_hand: int) -> bytearray:
        """Add a segment once the last is full: the body's capacity becomes twice the
        bytes received (at least 64 KiB, which they are by now), counting the *in_hand*
        bytes about to be copied, never more than the body."""
        segments = self._segments
        assert segments is not None
        filled = self._filled
        received = 2 * (filled + in_hand)
        window = min(self._pending_need, received if received > SEGMENT_MIN else SEGMENT_MIN)
        window -= filled
        segment = _take_segment(_segment_size(window))
        segments.append(segment)
        self._seg_start = filled
        return segment

    def _fill(self, data: bytes, pos: int) -> int:
        """Copy bytes of *data* from *pos* into the segments; return how many were taken."""
        segments = self._segments
        assert segments is not None
        take = min(len(data) - pos, self._pending_need - self._filled)
        view = memoryview(data)
        done = 0
        while done < take:
            last = segments[-1]
            offset = self._filled - self._seg_start
            if offset == len(last):  # full (the chunks a body began with always are)
                segment = self._grow(take - done)
                offset = 0
            else:
                segment = cast(bytearray, last)
            step = min(take - done, len(segment) - offset)
            segment[offset:offset + step] = view[pos + done:pos + done + step]
            done += step
            self._filled += step
        return take

    def _finish_direct(self) -> tuple[int, bytes]:
        segments = self._segments
        assert segments is not None
        used = self._pending_need - self._seg_start
        last = segments[-1]
        if used == len(last):
            body = b"".join(segments)
        else:
            # the application keeps an immutable copy; the segments are reused
            body = b"".join([*segments[:-1], memoryview(last)[:used]])
        self._segments = None
        self.pending = None
        _give_back(segments)
        return self._pending_flags, body

    # ---------------------------------------------------------- parsing

    def finish_pending(self, data: bytes) -> tuple[int, bytes, int] | None:
        """Feed *data* to the pending body.

        Returns ``(flags, body, consumed)`` once the body is complete, or
        ``None`` if all of *data* was absorbed and more is needed.
        """
        if self._segments is not None:
            take = self._fill(data, 0)
            if self._filled < self._pending_need:
                return None
            flags, body = self._finish_direct()
            return flags, body, take
        chunks = self.pending
        assert chunks is not None
        need = self._pending_need
        if len(data) < need:
            chunks.append(data)
            if len(chunks) >= _COMPACT_AT:  # trickled input: bound the objects held
                chunks[:] = [b"".join(chunks)]
            need -= len(data)
            self._pending_need = need
            if self._pending_size - need >= DIRECT_THRESHOLD:
                self._to_segments()
            return None
        self.pending = None
        if not chunks:
            body = data if need == len(data) else data[:need]
        else:  # one copy: the tail of *data* is joined without being sliced first
            body = b"".join([*chunks, memoryview(data)[:need]])
        return self._pending_flags, body, need

    def _to_segments(self) -> None:
        """Enough of a large body has arrived: its chunks, as they are, become its first
        (full) segments; the next ``direct_buffer``/``_fill`` adds a writable one."""
        chunks = self.pending
        assert chunks
        filled = self._pending_size - self._pending_need
        self._segments = cast("list[bytearray | bytes]", chunks)
        self._filled = filled
        self._seg_start = filled - len(chunks[-1])
        self._pending_need = self._pending_size
        self.pending = []  # still marks "a body is pending" for the Connection

    def next_frame(self, data: bytes, pos: int) -> tuple[int, bytes, int] | None:
        """``(flags, body, end)`` of the frame at *pos* (general path).

        Returns ``None`` if the frame is incomplete; the remainder is then
        stored (tail or pending) and the caller must stop parsing *data*.

        :raises ProtocolError: size over a limit (see the module docstring).
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
            if size > self._limit:  # per frame; add_part() checks the whole message
                self._check_size(flags, size, self._limit)
            end = start + size
            if end <= len(data):
                return flags, data[start:end], end
            self._begin_pending(flags, data, start, size)
            return None
        self.tail = data[pos:]
        return None

    def add_part(self, flags: int, body: bytes, events: list[Received]) -> None:
        """Add one message frame; emit the message (its parts list) when it is the last.

        General path: frames that were pending, and decrypted CURVE frames (whose outer
        frame was checked against the per-frame limit only, since a command may hide in
        it): this is where their message's budget is checked.
        """
        if len(body) > self._budget:
            self._check_size(0, len(body), self._budget)
        self.parts.append(body)
        if flags & FLAG_MORE:
            if self._bounded:
                self._budget -= len(body) or 1
        else:
            events.append(self.parts)
            self.parts = []
            self._budget = self._limit

    def read_plain(
        self,
        data: bytes,
        pos: int,
        events: list[Received],
        on_command: Callable[[bytes, list[Received]], None],
        max_frames: int = -1,
    ) -> None:
        """Parse the frames of *data* from *pos*: the READY fast path.

        Message frames are assembled here; command bodies go to
        *on_command*.  Deliberately inlines :meth:`next_frame` and
        :meth:`add_part` -- two calls per frame would dominate the cost of
        small messages.  Per frame, the only size check is one comparison with
        the message's remaining budget; only MORE frames update it, and only
        when a limit is set (an int subtraction allocates: ~20 ns a frame).

        At most *max_frames* frames (message frames and commands; -1: no
        limit) are parsed; the rest of *data* is then ``held``.  The bound is
        the loop's iterator (``repeat``), so it costs no comparison per frame. A short
        single-frame message, the commonest frame, is taken before the general tests.
        """
        n = len(data)
        parts = self.parts
        limit = self._budget  # what the next message frame may weigh
        full = self._limit
        bounded = self._bounded
        emit = events.append
        # a short frame (at most 255 bytes) never exceeds the limit: the fast case needs no
        # size check
        short_ok = full >= 255
        last = n - 1  # a frame header needs two bytes: one at last at the latest
        try:
            for _ in _FOREVER if max_frames < 0 else repeat(None, max_frames):
                if pos < last and not data[pos] and short_ok and not parts:
                    # the small single-frame message (flags 0: short, last, not a command),
                    # the commonest frame of all: none of the general case's tests apply
                    end = pos + 2 + data[pos + 1]
                    if end <= n:
                        emit([data[pos + 2:end]])
                        pos = end
                        continue
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
                    self._check_size(flags, size, limit)  # raises, unless a command may pass
                end = start + size
                if end > n:
                    self._begin_pending(flags, data, start, size)
                    return
                if flags & 0x04:  # COMMAND
                    on_command(data[start:end], events)
                elif flags & 0x01:  # MORE
                    parts.append(data[start:end])
                    if bounded:  # a limit is set: what is left for the message
                        limit -= size or 1  # an empty frame counts one byte
                elif parts:  # last frame of a multipart message
                    parts.append(data[start:end])
                    emit(parts)
                    parts = []
                    limit = full
                else:  # single-frame message: the common case, one list build
                    emit([data[start:end]])
                pos = end
            else:  # max_frames parsed: the rest waits, unparsed
                self.hold(data, pos)
                return
            if pos < n:
                self.tail = data[pos:]
        finally:
            self.parts = parts
            self._budget = limit

    def read_decoded(
        self,
        data: bytes,
        pos: int,
        events: list[Received],
        on_command: Callable[[bytes, list[Received]], None],
        decode: Callable[[int, int, int], tuple[int, bytes]],
        max_frames: int = -1,
    ) -> None:
        """Parse the frames of *data* from *pos* when a mechanism encrypts them (CURVE): the
        READY path of :meth:`read_plain`, each frame through ``decode(flags, start, end)``
        (its logical flags and body from ``data[start:end]``, opened where it lies).

        The outer frame is checked against the per-frame limit (a command may hide in it),
        the decoded body against what its message may still weigh.
        """
        n = len(data)
        parts = self.parts
        limit = self._budget  # what the next message frame may weigh (read_plain's rules)
        full = self._limit
        bounded = self._bounded
        try:
            for _ in _FOREVER if max_frames < 0 else repeat(None, max_frames):
                flags = data[pos] if pos < n else 0
                start = pos + (9 if flags & FLAG_LONG else 2)
                if start > n:  # no frame header left whole: keep the rest
                    self.tail = data[pos:]
                    return
                size = unpack_u64_from(data, pos + 1)[0] if flags & FLAG_LONG else data[pos + 1]
                if size > full:
                    self._check_size(flags, size, full)  # raises
                pos = start + size
                if pos > n:
                    self._begin_pending(flags, data, start, size)
                    return
                flags, body = decode(flags, start, pos)
                if flags & FLAG_COMMAND:
                    on_command(body, events)
                    continue
                if len(body) > limit:
                    self._check_size(0, len(body), limit)  # raises
                parts.append(body)
                if not flags:  # the last frame: the message is complete
                    events.append(parts)
                    parts = []
                    limit = full
                elif bounded:  # MORE, and a limit is set
                    limit -= len(body) or 1
            self.hold(data, pos)  # max_frames parsed: the rest waits, unparsed
        finally:
            self.parts = parts
            self._budget = limit

    def _begin_pending(self, flags: int, data: bytes, start: int, size: int) -> None:
        # Chunks first, whatever the declared size: segments (and their 64 KiB or more)
        # only once DIRECT_THRESHOLD bytes of the body are really here.
        self._pending_flags = flags
        self._pending_size = size
        have = len(data) - start
        # data[start:] is data itself when start == 0: no copy for the common
        # "chunk begins exactly at a large body" case.
        self.pending = [data[start:]] if have else []
        self._pending_need = size - have
        if have >= DIRECT_THRESHOLD:
            self._to_segments()

    def _check_size(self, flags: int, size: int, budget: int) -> None:
        """*size* is over *budget*, what the message in progress may still weigh: raise,
        unless it is a command frame within the per-frame limit (commands between the
        frames of a message do not count)."""
        if size > MAX_FRAME_SIZE:
            raise ProtocolError(f"frame size {size:#x} has the top bit set")
        if size <= self._limit:
            if flags & FLAG_COMMAND:
                return
            # libzmq checks frames only; we check the whole message too (module docstring)
            raise ProtocolError(
                f"message of {self._limit - budget + size} bytes or more exceeds"
                f" max_message_size ({self._max})"
            )
        if size > self._max:
            # libzmq: EMSGSIZE from the decoder, connection dropped.
            raise ProtocolError(f"frame of {size} bytes exceeds max_message_size")
        # before the handshake is done (see codec.MAX_HANDSHAKE_FRAME)
        if flags & FLAG_COMMAND:
            raise ProtocolError(
                f"handshake command of {size} bytes (more than {self._limit})",
                ProtocolErrorCode.ZMTP_MALFORMED_COMMAND_UNSPECIFIED,
            )
        raise ProtocolError(
            f"message frame of {size} bytes during the handshake",
            ProtocolErrorCode.ZMTP_UNEXPECTED_COMMAND,
        )
