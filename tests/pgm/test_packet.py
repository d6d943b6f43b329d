"""PGM packets against bytes OpenPGM sent (captured from libzmq 4.3.4 + OpenPGM 5.3 over epgm
in a network namespace), and our builders against the parser."""

from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

from gzmq.pgm import packet

# an SPM before any data (lead = trail - 1), then ODATA #0 with libzmq's framing inside
SPM = bytes.fromhex("7179 15b3 00 00 a898 fc982a932a0c 0000"
                    "00000000 00000000 ffffffff 0001 0000 7f000001")
ODATA_HEAD = bytes.fromhex("7179 15b3 04 00 0000 fc982a932a0c 000b 00000000 00000000")


def _with_checksum(raw: bytes) -> bytes:
    zeroed = raw[:6] + b"\0\0" + raw[8:]
    return raw[:6] + packet.checksum(zeroed).to_bytes(2, "big") + raw[8:]


def test_an_openpgm_spm_parses_and_our_builder_gives_the_same_bytes() -> None:
    spm = packet.parse(SPM)
    assert isinstance(spm, packet.Spm)
    assert (spm.header.sport, spm.header.dport, spm.header.gsi) == (29049, 5555,
                                                                    bytes.fromhex("fc982a932a0c"))
    assert (spm.spm_sqn, spm.trail, spm.lead, spm.nla) == (0, 0, 0xFFFFFFFF, "127.0.0.1")
    assert packet.build_spm(29049, 5555, spm.header.gsi, 0, 0, 0xFFFFFFFF, "127.0.0.1") == SPM


def test_odata_round_trip_and_checksum() -> None:
    payload = bytes.fromhex("0000 0601 746f706963 0100")
    raw = _with_checksum(ODATA_HEAD + payload)
    data = packet.parse(raw)
    assert isinstance(data, packet.Data)
    assert (data.sqn, data.trail, data.payload, data.fragment) == (0, 0, payload, False)
    assert packet.build_data(29049, 5555, data.header.gsi, 0, 0, payload) == raw
    rdata = packet.parse(packet.build_data(1, 2, b"abcdef", 7, 3, b"xy", repair=True))
    assert isinstance(rdata, packet.Data) and rdata.header.type == packet.RDATA


def test_a_bad_checksum_is_refused_and_zero_means_not_computed() -> None:
    raw = bytearray(SPM)
    raw[20] ^= 1
    with pytest.raises(packet.PacketError):
        packet.parse(bytes(raw))
    raw[6:8] = b"\0\0"
    assert isinstance(packet.parse(bytes(raw)), packet.Spm)


def test_nak_with_a_nak_list_as_openpgm_lays_it_out() -> None:
    raw = packet.build_nak(5555, 29049, b"abcdef", [5, 6, 9], "127.0.0.1", "239.192.1.1")
    # header options: OPT_PRESENT | OPT_NETWORK; OPT_LENGTH (0x00, 4, total 16); then
    # OPT_NAK_LIST | OPT_END, length 4 + 4 x 2, OPX, reserved, the two extra numbers
    assert raw[5] == 0x03
    assert raw[36:] == bytes.fromhex("00040010 820c0000 00000006 00000009")
    nak = packet.parse(raw)
    assert isinstance(nak, packet.Nak)
    assert nak.sqns == (5, 6, 9) and nak.src_nla == "127.0.0.1" and nak.grp_nla == "239.192.1.1"
    ncf = packet.parse(packet.build_nak(1, 2, b"abcdef", [4], "10.0.0.1", "239.1.1.1",
                                        confirm=True))
    assert isinstance(ncf, packet.Nak) and ncf.header.type == packet.NCF and ncf.sqns == (4,)


@pytest.mark.parametrize("cut", range(0, 36))
def test_every_truncation_is_a_packet_error(cut: int) -> None:
    with pytest.raises(packet.PacketError):
        packet.parse(SPM[:cut], verify=False)


def test_serial_number_arithmetic_wraps() -> None:
    assert packet.sqn_after(0, 0xFFFFFFFF)
    assert not packet.sqn_after(0xFFFFFFFF, 0)
    assert packet.sqn_diff(2, 0xFFFFFFFE) == 4
    assert packet.sqn_diff(0xFFFFFFFE, 2) == -4


def _reference_checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = sum(int.from_bytes(data[i:i + 2], "big") for i in range(0, len(data), 2))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200) | st.sampled_from([b"", b"\0\0", b"\xff\xff", b"\xff\xff\0\0",
                                                  b"\xff", b"\x00\x01\xff\xfe"]))
def test_checksum_matches_the_word_by_word_definition(data: bytes) -> None:
    assert packet.checksum(data) == _reference_checksum(data)
