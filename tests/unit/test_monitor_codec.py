"""The monitor message format (gzmq.monitor owns it): exact bytes, round trips, pyzmq's parser.

libzmq's v1 message: frame 1 is uint16 event + uint32 value in native byte order (6 bytes),
frame 2 the endpoint (spec/extras.md §1.2). pyzmq reads the value back as a signed int32.
"""

from __future__ import annotations

import struct
import sys

import pytest

from gzmq.constants import Event
from gzmq.monitor import pack_event, unpack_event
from gzmq.utils.monitor import parse_monitor_message

LITTLE = sys.byteorder == "little"


@pytest.mark.skipif(not LITTLE, reason="the verified bytes are little-endian (x86/ARM)")
@pytest.mark.parametrize("event,value,header", [
    (Event.LISTENING, 12, bytes.fromhex("08000c000000")),  # verified against libzmq 4.3.5
    (Event.HANDSHAKE_SUCCEEDED, 0, bytes.fromhex("001000000000")),
    (Event.CONNECT_DELAYED, 115, bytes.fromhex("020073000000")),
    (Event.HANDSHAKE_FAILED_PROTOCOL, 0x11000001, bytes.fromhex("002001000011")),
    (Event.CLOSED, -1, bytes.fromhex("8000ffffffff")),
])
def test_exact_bytes(event: Event, value: int, header: bytes) -> None:
    assert pack_event(event, value, "tcp://127.0.0.1:5555") == [header, b"tcp://127.0.0.1:5555"]


@pytest.mark.parametrize("value", [0, 1, 115, 2**31 - 1, -1, -(2**31), 0x20000005])
@pytest.mark.parametrize("event", [e for e in Event if e <= 0xFFFF and e.name not in
                                   ("ALL_V1", "ALL")])
def test_round_trip(event: Event, value: int) -> None:
    got_event, got_value, endpoint = unpack_event(pack_event(event, value, b"ipc://@x"))
    assert got_event is event
    assert got_value == value if value < 2**31 else value - 2**32
    assert endpoint == b"ipc://@x"
    assert parse_monitor_message(pack_event(event, value, "ipc://@x")) == {
        "event": event, "value": got_value, "endpoint": b"ipc://@x"}


def test_unsigned_values_read_back_signed_as_pyzmq_does() -> None:
    frames = pack_event(Event.CONNECT_RETRIED, 2**32 - 1, "")
    assert unpack_event(frames)[1] == -1
    assert struct.unpack("=hi", frames[0]) == (Event.CONNECT_RETRIED, -1)  # pyzmq's own reading


def test_any_event_id_reads_back_as_its_number() -> None:
    # Event is an IntFlag, as pyzmq's: ids that are no single event still read back as a value
    assert int(unpack_event([struct.pack("=HI", 0x0003, 0), b""])[0]) == 3
    assert int(unpack_event([struct.pack("=HI", 0x8001, 0), b""])[0]) & 0xFFFF == 0x8001


@pytest.mark.parametrize("msg", [[b"\0" * 6], [b"\0" * 5, b""], [b"\0" * 6, b"", b""]])
def test_malformed(msg: list[bytes]) -> None:
    with pytest.raises(ValueError):
        unpack_event(msg)
    with pytest.raises(RuntimeError, match="Invalid event message format"):
        parse_monitor_message(msg)


def test_agrees_with_pyzmq() -> None:
    zmq_monitor = pytest.importorskip("zmq.utils.monitor")
    for event in (Event.ACCEPTED, Event.DISCONNECTED, Event.MONITOR_STOPPED):
        frames = pack_event(event, 42, "tcp://[::1]:1")
        theirs = zmq_monitor.parse_monitor_message(frames)
        assert (int(theirs["event"]), theirs["value"], theirs["endpoint"]) == \
            (int(event), 42, b"tcp://[::1]:1")
