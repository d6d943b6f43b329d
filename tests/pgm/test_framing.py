"""libzmq's framing in PGM payloads: the 2-byte first-message offset and v1 frames."""

from __future__ import annotations

from hypothesis import given, settings, strategies as st

from gzmq.pgm.framing import NO_OFFSET, FrameDecoder, FrameEncoder

# what libzmq's pgm_sender sent for [b"topic", b""] then [b"B" * 3] in one packet
LIBZMQ_PAYLOAD = bytes.fromhex("0000 0601 746f706963 0100 0400 424242")


def test_decodes_libzmq_bytes_whole_and_the_encoder_writes_them() -> None:
    assert FrameDecoder().feed(LIBZMQ_PAYLOAD) == [[b"topic", b""], [b"BBB"]]
    assert FrameEncoder(1428).encode([[b"topic", b""], [b"BBB"]]) == [LIBZMQ_PAYLOAD]


def test_long_frames_use_the_eight_byte_size() -> None:
    packets = FrameEncoder(1428).encode([[b"x" * 300]])
    assert packets[0][:12] == bytes.fromhex("0000 ff 000000000000012d 00")
    decoder = FrameDecoder()
    assert [m for p in packets for m in decoder.feed(p)] == [[b"x" * 300]]


def test_offsets_mark_message_starts_and_libzmqs_end_of_batch_rule() -> None:
    # 3 packets of 20 stream bytes: a 40-byte message spans two, the next starts in the third
    packets = FrameEncoder(22).encode([[b"a" * 38], [b"b" * 5]])
    offsets = [int.from_bytes(p[:2], "big") for p in packets]
    assert offsets == [0, NO_OFFSET, 0]
    # a batch ending inside a packet where no message starts: offset = the packet's length
    packets = FrameEncoder(22).encode([[b"a" * 30]])
    assert [int.from_bytes(p[:2], "big") for p in packets] == [0, 12]


def test_a_late_joiner_starts_at_the_next_message_boundary() -> None:
    packets = FrameEncoder(22).encode([[b"a" * 38], [b"b" * 5], [b"c" * 3]])
    decoder = FrameDecoder()
    assert decoder.feed(packets[1]) == []  # the middle of message a: nothing to join at
    assert not decoder.joined
    assert decoder.feed(packets[2]) == [[b"b" * 5], [b"c" * 3]]


def test_a_loss_drops_the_message_in_progress_then_rejoins() -> None:
    packets = FrameEncoder(22).encode([[b"a" * 38], [b"b" * 5]])
    decoder = FrameDecoder()
    assert decoder.feed(packets[0]) == []
    decoder.lost()
    assert decoder.feed(packets[2]) == [[b"b" * 5]]


def test_malformed_streams_and_maxmsgsize_never_raise() -> None:
    decoder = FrameDecoder(maxmsgsize=10)
    assert decoder.feed(b"\x00\x00\x00\x00") == []  # a zero-size frame
    assert decoder.errors == 1 and not decoder.joined
    assert decoder.feed(b"\x00\x00\xff" + (2 ** 62).to_bytes(8, "big") + b"\x00") == []
    assert decoder.errors == 2
    assert decoder.feed(b"\x00\x00\x03\x00ok") == [[b"ok"]]
    assert decoder.feed(b"\x00") == [] and decoder.errors == 3
    assert FrameDecoder().feed(b"\x00\x09\x01") == []  # offset beyond the payload


messages = st.lists(st.lists(st.binary(max_size=700), min_size=1, max_size=4), max_size=12)


@settings(max_examples=150, deadline=None)
@given(batches=st.lists(messages, max_size=4), tsdu=st.integers(3, 1500))
def test_any_messages_survive_any_packet_size(batches: list[list[list[bytes]]],
                                               tsdu: int) -> None:
    encoder, decoder = FrameEncoder(tsdu), FrameDecoder()
    out = []
    for batch in batches:
        for payload in encoder.encode(batch):
            assert len(payload) <= tsdu
            out += decoder.feed(payload)
    assert out == [m for batch in batches for m in batch]


@settings(max_examples=300, deadline=None)
@given(payloads=st.lists(st.binary(max_size=64), max_size=30), limit=st.integers(-1, 100))
def test_hostile_payloads_never_raise_and_memory_follows_the_input(payloads: list[bytes],
                                                                    limit: int) -> None:
    decoder = FrameDecoder(maxmsgsize=limit)
    fed = 0
    for payload in payloads:
        fed += len(payload)
        for message in decoder.feed(payload):
            assert limit < 0 or sum(map(len, message)) <= limit
        assert len(decoder._buf) <= fed


def test_libzmqs_last_packet_of_a_batch_lets_a_late_joiner_in_at_its_end() -> None:
    # libzmq's third packet of a batch ending with a 3000-byte message: no message starts in
    # it, so its offset is its own length (0x04c3 = 1219), which is where the next one starts
    last_of_batch = b"\x04\xc3" + b"B" * 1219
    decoder = FrameDecoder()
    assert decoder.feed(last_of_batch) == [] and decoder.joined
    assert decoder.feed(b"\x00\x00\x04\x00new") == [[b"new"]]
