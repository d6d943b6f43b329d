"""libzmq's framing inside PGM: what one ODATA payload (TSDU) carries.

Each payload is ``offset:16`` then a slice of one continuous byte stream of ZMTP/1.0 ("v1")
frames, cut at packet size regardless of frame boundaries. ``offset`` is where the first
*message* (not frame: a frame after a MORE frame does not count) starts within the slice, or
0xFFFF if none starts there. A receiver that joins late, or lost data it could not repair,
skips packets until one with an offset, and starts decoding there (libzmq's pgm_receiver).

A v1 frame: ``size:8`` (payload length + 1, for the flags byte) when that is below 255, else
``0xFF size:64``; then ``flags:8`` (bit 0 = MORE); then the payload.

As libzmq's pgm_sender does, a batch is cut into full packets and its last packet is sent
short rather than held back; when a packet ends inside a message and no message starts in it,
its offset is 0xFFFF, except for the batch's last packet, whose offset is then its length (the
next message starts right after it, which lets a late joiner start with the next packet).
"""

from __future__ import annotations

import struct
from typing import Iterable

__all__ = ["FrameEncoder", "FrameDecoder", "NO_OFFSET"]

NO_OFFSET = 0xFFFF
_OFFSET = struct.Struct("!H")
_LONG = struct.Struct("!BQB")


def _frame_header(size: int, more: bool) -> bytes:
    wire_size = size + 1  # the flags byte counts
    if wire_size < 0xFF:
        return bytes((wire_size, 1 if more else 0))
    return _LONG.pack(0xFF, wire_size, 1 if more else 0)


class FrameEncoder:
    """Messages in, packet payloads (offset + stream slice) out; ``tsdu`` bytes at most each."""

    def __init__(self, tsdu: int) -> None:
        if tsdu < 3:
            raise ValueError("a TSDU must hold the offset and at least one byte")
        self.room = tsdu - 2

    def encode(self, messages: Iterable[list[bytes]]) -> list[bytes]:
        stream = bytearray()
        starts: list[int] = []
        for message in messages:
            starts.append(len(stream))
            last = len(message) - 1
            for index, frame in enumerate(message):
                stream += _frame_header(len(frame), index < last)
                stream += frame
        if not stream:
            return []
        room = self.room
        packets = []
        view = memoryview(stream)
        start_index = 0
        total = len(stream)
        for begin in range(0, total, room):
            end = min(begin + room, total)
            while start_index < len(starts) and starts[start_index] < begin:
                start_index += 1
            if start_index < len(starts) and starts[start_index] < end:
                offset = starts[start_index] - begin
            elif end == total:
                offset = end - begin  # the boundary is right after this packet
            else:
                offset = NO_OFFSET
            packets.append(_OFFSET.pack(offset) + view[begin:end])
        return packets


class FrameDecoder:
    """One source's stream: packet payloads in (in sequence order), whole messages out.

    ``lost()`` says a packet is missing for good: the message in progress is dropped and the
    decoder waits for the next packet where a message starts. Memory follows the bytes that
    arrived: a declared frame size is only compared with ``maxmsgsize``, never allocated.
    A malformed stream (zero-size frame, a frame or message beyond ``maxmsgsize``) counts in
    ``errors`` and is treated like a loss; nothing raises.
    """

    def __init__(self, maxmsgsize: int = -1) -> None:
        self.maxmsgsize = maxmsgsize
        self.joined = False
        self.errors = 0
        self._buf = bytearray()
        self._frames: list[bytes] = []
        self._message_size = 0

    def lost(self) -> None:
        self.joined = False
        self._buf.clear()
        self._frames = []
        self._message_size = 0

    def feed(self, payload: bytes) -> list[list[bytes]]:
        """The payload of the next packet; returns the messages it completed."""
        if len(payload) < 2:
            self.errors += 1
            self.lost()
            return []
        (offset,) = _OFFSET.unpack_from(payload)
        if not self.joined:
            if offset == NO_OFFSET:
                return []
            if offset > len(payload) - 2:
                self.errors += 1  # libzmq asserts here; we just wait for a sane packet
                return []
            self.joined = True
            self._buf += memoryview(payload)[2 + offset:]
        else:
            self._buf += memoryview(payload)[2:]
        return self._parse()

    def _parse(self) -> list[list[bytes]]:
        buf = self._buf
        pos = 0
        end = len(buf)
        messages: list[list[bytes]] = []
        limit = self.maxmsgsize
        while pos < end:
            first = buf[pos]
            if first == 0xFF:
                if end - pos < 10:
                    break
                _ff, wire_size, flags = _LONG.unpack_from(buf, pos)
                header = 10
            else:
                if end - pos < 2:
                    break
                wire_size, flags = first, buf[pos + 1]
                header = 2
            if wire_size == 0 or (limit >= 0 and (
                    wire_size - 1 > limit or self._message_size + wire_size - 1 > limit)):
                self.errors += 1
                self.lost()
                return messages
            size = wire_size - 1
            if end - pos - header < size:
                break  # the rest of this frame is in later packets
            body = pos + header
            self._frames.append(bytes(buf[body:body + size]))
            self._message_size += size
            pos = body + size
            if not flags & 1:
                messages.append(self._frames)
                self._frames = []
                self._message_size = 0
        if pos:
            del buf[:pos]
        return messages
