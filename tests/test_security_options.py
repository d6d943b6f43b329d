"""Security socket options against pyzmq/libzmq 4.3.5 as the oracle (both in-process: setting
and reading options never blocks).

CURVE keys are accepted as 32 raw bytes, 40 Z85 characters or 41 bytes with a trailing NUL,
anything else is EINVAL (security.md §7); ZMQ_MECHANISM reads 0 NULL / 1 PLAIN / 2 CURVE and,
with PLAIN_SERVER / CURVE_SERVER, follows the last security option set (security.md §1).
"""

from __future__ import annotations

from typing import Any

import pytest
from helpers import outcome

import gzmq
from gzmq.utils import z85

zmq = pytest.importorskip("zmq")

PUBLIC_Z85, SECRET_Z85 = gzmq.curve_keypair()
PUBLIC_RAW = z85.decode(PUBLIC_Z85)
KEY_OPTIONS = ["CURVE_PUBLICKEY", "CURVE_SECRETKEY", "CURVE_SERVERKEY"]


def security_state(sock: Any) -> dict[str, Any]:
    return {name: outcome(sock.getsockopt, int(getattr(zmq, name)))
            for name in ("MECHANISM", "PLAIN_SERVER", "CURVE_SERVER", "PLAIN_USERNAME",
                         "PLAIN_PASSWORD", "ZAP_DOMAIN")}


def apply(sock: Any, steps: list[tuple[str, Any]]) -> list[tuple[str, Any]]:
    return [outcome(sock.setsockopt, int(getattr(zmq, name)), value) for name, value in steps]


def both(ctx: Any, zctx: Any, steps: list[tuple[str, Any]]) -> tuple[Any, Any]:
    ours, theirs = ctx.socket(gzmq.DEALER), zctx.socket(zmq.DEALER)
    try:
        mine = (apply(ours, steps), security_state(ours))
        oracle = (apply(theirs, steps), security_state(theirs))
    finally:
        theirs.close(linger=0)
        ours.close(linger=0)
    return mine, oracle


KEY_VALUES = {
    "raw-32": PUBLIC_RAW,
    "z85-40": PUBLIC_Z85,
    "z85-41-nul": PUBLIC_Z85 + b"\0",
    "empty": b"",
    "raw-31": PUBLIC_RAW[:31],
    "raw-33": PUBLIC_RAW + b"\0",
    "z85-39": PUBLIC_Z85[:39],
    "z85-41-not-nul": PUBLIC_Z85 + b"0",
    "z85-42": PUBLIC_Z85 + b"\0\0",
    "z85-80": PUBLIC_Z85 * 2,
    "z85-bad-character": b'"' + PUBLIC_Z85[1:],
    "z85-over-0xffffffff": b"%nSc1" + PUBLIC_Z85[5:],
}


@pytest.mark.parametrize("option", KEY_OPTIONS)
@pytest.mark.parametrize("value", list(KEY_VALUES), ids=list(KEY_VALUES))
def test_curve_key_lengths_match_pyzmq(ctx: Any, zctx: Any, option: str, value: str) -> None:
    mine, oracle = both(ctx, zctx, [(option, KEY_VALUES[value])])
    assert mine == oracle


@pytest.mark.parametrize("value", ["raw-32", "z85-40", "z85-41-nul"])
def test_curve_key_forms_accepted(ctx: Any, value: str) -> None:
    sock = ctx.socket(gzmq.DEALER)
    for option in KEY_OPTIONS:
        sock.setsockopt(getattr(gzmq, option), KEY_VALUES[value])
    assert sock.mechanism == gzmq.CURVE


@pytest.mark.parametrize("value", ["empty", "raw-31", "raw-33", "z85-39", "z85-42"])
def test_curve_key_other_lengths_einval(ctx: Any, value: str) -> None:
    sock = ctx.socket(gzmq.DEALER)
    for option in KEY_OPTIONS:
        with pytest.raises(gzmq.ZMQError) as raised:
            sock.setsockopt(getattr(gzmq, option), KEY_VALUES[value])
        assert raised.value.errno == gzmq.EINVAL
    assert sock.mechanism == gzmq.NULL  # a refused key changes nothing


SEQUENCES = {
    "fresh": [],
    "plain-server": [("PLAIN_SERVER", 1)],
    "plain-client": [("PLAIN_USERNAME", b"admin"), ("PLAIN_PASSWORD", b"secret")],
    # libzmq takes 1..255 bytes; an empty (non-NULL) value is EINVAL
    "plain-empty-username": [("PLAIN_USERNAME", b"")],
    "plain-empty-password": [("PLAIN_USERNAME", b"u"), ("PLAIN_PASSWORD", b"")],
    "plain-username-256": [("PLAIN_USERNAME", b"u" * 256)],
    "curve-server": [("CURVE_SERVER", 1), ("CURVE_SECRETKEY", SECRET_Z85)],
    "curve-client": [("CURVE_SERVERKEY", PUBLIC_Z85), ("CURVE_PUBLICKEY", PUBLIC_Z85),
                     ("CURVE_SECRETKEY", SECRET_Z85)],
    "curve-key-only": [("CURVE_PUBLICKEY", PUBLIC_RAW)],
    "plain-server-off": [("PLAIN_SERVER", 1), ("PLAIN_SERVER", 0)],
    "curve-server-off": [("CURVE_SERVER", 1), ("CURVE_SERVER", 0)],
    "curve-then-plain-server-off": [("CURVE_SERVER", 1), ("PLAIN_SERVER", 0)],
    "plain-then-curve-server": [("PLAIN_SERVER", 1), ("CURVE_SERVER", 1)],
    "curve-server-then-username": [("CURVE_SERVER", 1), ("PLAIN_USERNAME", b"u")],
    "curve-server-then-serverkey": [("CURVE_SERVER", 1), ("CURVE_SERVERKEY", PUBLIC_Z85)],
    "serverkey-then-curve-server": [("CURVE_SERVERKEY", PUBLIC_Z85), ("CURVE_SERVER", 1)],
    "plain-server-then-secretkey": [("PLAIN_SERVER", 1), ("CURVE_SECRETKEY", SECRET_Z85)],
    "server-flag-2": [("PLAIN_SERVER", 2), ("CURVE_SERVER", 2)],
    "zap-domain": [("ZAP_DOMAIN", b"global")],
    "zap-domain-256": [("ZAP_DOMAIN", b"d" * 256)],
    "mechanism-read-only": [("MECHANISM", 1)],
}


@pytest.mark.parametrize("name", list(SEQUENCES))
def test_mechanism_and_server_flags_match_pyzmq(ctx: Any, zctx: Any, name: str) -> None:
    mine, oracle = both(ctx, zctx, SEQUENCES[name])
    assert mine == oracle


def test_mechanism_values(ctx: Any) -> None:
    null, plain, curve = (ctx.socket(gzmq.DEALER) for _ in range(3))
    plain.plain_server = True
    curve.curve_server = True
    assert (null.mechanism, plain.mechanism, curve.mechanism) == (0, 1, 2)
    assert (gzmq.NULL, gzmq.PLAIN, gzmq.CURVE) == (0, 1, 2)
    assert (plain.plain_server, plain.curve_server) == (1, 0)
    assert (curve.plain_server, curve.curve_server) == (0, 1)


def test_curve_keys_are_write_only_like_pyzmq(ctx: Any, zctx: Any) -> None:
    ours, theirs = ctx.socket(gzmq.DEALER), zctx.socket(zmq.DEALER)
    try:
        for sock in (ours, theirs):
            sock.curve_publickey = PUBLIC_Z85
        for attribute in ("curve_publickey", "curve_secretkey", "curve_serverkey"):
            assert outcome(getattr, ours, attribute)[0] == outcome(getattr, theirs, attribute)[0]
    finally:
        theirs.close(linger=0)
