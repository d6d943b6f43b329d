"""Z85 (RFC 32, libzmq's rules) and the CURVE key helpers in gzmq.zmtp.z85."""

from __future__ import annotations

import os

import pytest

from gzmq.zmtp import z85

#: libzmq's test client key pair (tests/testutil_security); the public key was
#: checked against libzmq's zmq_curve_public through pyzmq.
CLIENT_PUBLIC = b"Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID"
CLIENT_SECRET = b"D:)Q[IlAW!ahhC2ac:9*A}h:p?([4%wOTJ%JR%cs"


# ------------------------------------------------------------------ vectors


def test_rfc32_vector() -> None:
    raw = bytes.fromhex("86 4F D2 6F B5 59 F7 5B")
    assert z85.encode(raw) == b"HelloWorld"
    assert z85.decode(b"HelloWorld") == raw
    assert z85.decode("HelloWorld") == raw  # str is accepted (pyzmq does too)


@pytest.mark.parametrize(
    ("raw", "text"),
    [
        (b"", b""),  # encoding nothing is fine; decoding nothing is not (below)
        (bytes(4), b"00000"),
        (b"\xff" * 4, b"%nSc0"),  # the largest group
        (bytes.fromhex("00000001"), b"00001"),
        (bytes.fromhex("00000054"), b"0000#"),  # digit 84 is the last character
    ],
)
def test_edge_vectors(raw: bytes, text: bytes) -> None:
    assert z85.encode(raw) == text
    if text:
        assert z85.decode(text) == raw


def test_alphabet() -> None:
    assert len(z85.Z85CHARS) == 85 == len(set(z85.Z85CHARS))
    for forbidden in b"\"'\\,; `":
        assert forbidden not in z85.Z85CHARS
    # every digit round-trips through its position
    for value, char in enumerate(z85.Z85CHARS):
        assert z85.decode(b"0000" + bytes((char,))) == value.to_bytes(4, "big")


@pytest.mark.parametrize("size", [4, 8, 32, 400])
def test_round_trip(size: int) -> None:
    raw = os.urandom(size)
    text = z85.encode(raw)
    assert len(text) == size * 5 // 4
    assert all(c in z85.Z85CHARS for c in text)
    assert z85.decode(text) == raw


def test_accepts_bytes_like() -> None:
    raw = bytes(range(8))
    assert z85.encode(bytearray(raw)) == z85.encode(memoryview(raw)) == z85.encode(raw)
    assert z85.decode(bytearray(z85.encode(raw))) == raw


# ------------------------------------------------------------------- errors


@pytest.mark.parametrize("size", [1, 2, 3, 5, 31, 33])
def test_encode_length_not_multiple_of_4(size: int) -> None:
    with pytest.raises(ValueError):
        z85.encode(bytes(size))


@pytest.mark.parametrize("text", [b"", b"0000", b"000000", b"HelloWorl", b"HelloWorld0"])
def test_decode_bad_length(text: bytes) -> None:
    with pytest.raises(ValueError):
        z85.decode(text)


@pytest.mark.parametrize(
    "text",
    [b"0000 ", b"0000\"", b"0000'", b"0000\\", b"0000,", b"0000;", b"0000`", b"0000\x00",
     b"0000~", b"\x80\x80\x80\x80\x80", b"Hello\xffxxxx"],
)
def test_decode_invalid_character(text: bytes) -> None:
    with pytest.raises(ValueError):
        z85.decode(text)


@pytest.mark.parametrize("text", [b"%nSc1", b"%nSd0", b"#####", b"00000#####"])
def test_decode_group_overflow(text: bytes) -> None:
    with pytest.raises(ValueError):
        z85.decode(text)


def test_decode_non_ascii_str() -> None:
    with pytest.raises(ValueError):
        z85.decode("Hellö")


# ------------------------------------------------------------- CURVE keys


def test_parse_curve_key_forms() -> None:
    raw = z85.decode(CLIENT_PUBLIC)
    assert len(raw) == 32
    assert z85.parse_curve_key(raw) == raw
    assert z85.parse_curve_key(CLIENT_PUBLIC) == raw
    assert z85.parse_curve_key(CLIENT_PUBLIC + b"\x00") == raw
    assert z85.parse_curve_key(CLIENT_PUBLIC.decode()) == raw
    assert z85.parse_curve_key(bytearray(raw)) == raw


@pytest.mark.parametrize(
    "value",
    [b"", bytes(31), bytes(33), CLIENT_PUBLIC[:39], CLIENT_PUBLIC + b"0",
     CLIENT_PUBLIC + b"\x00\x00", b" " * 40, b"#" * 40, bytes(40)],
)
def test_parse_curve_key_refuses(value: bytes) -> None:
    with pytest.raises(ValueError):
        z85.parse_curve_key(value)


def test_parse_curve_key_str_of_32_chars_is_not_raw() -> None:
    # A str is always Z85 text, never a raw key.
    with pytest.raises(ValueError):
        z85.parse_curve_key("a" * 32)


def test_curve_public_matches_libzmq() -> None:
    assert z85.curve_public(CLIENT_SECRET) == CLIENT_PUBLIC
    assert z85.curve_public(z85.decode(CLIENT_SECRET)) == CLIENT_PUBLIC


def test_curve_keypair() -> None:
    public, secret = z85.curve_keypair()
    assert len(public) == len(secret) == 40
    assert isinstance(public, bytes) and isinstance(secret, bytes)
    assert z85.curve_public(secret) == public
    assert z85.curve_keypair()[1] != secret  # fresh every time


def test_utils_reexport() -> None:
    from gzmq.utils import z85 as utils_z85

    assert utils_z85.encode is z85.encode and utils_z85.decode is z85.decode
