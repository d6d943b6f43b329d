"""PLAIN (RFC 24, libzmq behaviour) and NULL with ZAP, two Connections in memory.

Byte strings are from shared/spec/security.md (§2, §3), captured from
libzmq 4.3.5.
"""

from __future__ import annotations

from typing import Any

import pytest
from zmtp_helpers import (
    DEALER_PROPS, ERROR_400, ROUTER_PROPS, ConnectionPair, command, frames, greeting,
    handshake_byte_by_byte, ready_body, refused,
)

from gzmq.zmtp import (
    AuthRequest, Connection, ConnectionState, HandshakeComplete, LocalProtocolError, Message,
    NullMechanism, PeerError, PlainClient, PlainServer, ProtocolError, ProtocolErrorCode, codec,
)

Code = ProtocolErrorCode

#: HELLO for admin/secret (security.md §3.1).
HELLO_ADMIN = bytes.fromhex("04 13 05 48 45 4c 4c 4f 05 61 64 6d 69 6e 06 73 65 63 72 65 74")
#: libzmq's PLAIN ERROR for ZAP 400, with its prefix quirk (security.md §3.3) [verified].
PLAIN_ERROR_400_QUIRK = bytes.fromhex("04 09 5e 52 52 4f 52 03 34 30 30")
WELCOME = b"\x04\x08\x07WELCOME"


def plain_pair(zap: bool = True, quirk: bool = True, user: bytes = b"admin",
               password: bytes = b"secret") -> ConnectionPair:
    return ConnectionPair(
        Connection("DEALER", PlainClient(user, password)),
        Connection("ROUTER", PlainServer(zap=zap, libzmq_error_quirk=quirk)),
    ).run()


def server(**kwargs: Any) -> Connection:
    """Our PLAIN server after a PLAIN client's greeting."""
    conn = Connection("ROUTER", PlainServer(**kwargs))
    conn.initiate()
    assert conn.receive_data(greeting(mechanism=b"PLAIN")) == []
    # the rest of our greeting, and nothing else: the client speaks first
    assert conn.data_to_send() == codec.encode_greeting(b"PLAIN")[codec.SNIFF_SIZE:]
    return conn


def client() -> Connection:
    """Our PLAIN client after the server's greeting (HELLO already queued)."""
    conn = Connection("DEALER", PlainClient(b"admin", b"secret"))
    conn.initiate()
    conn.receive_data(greeting(mechanism=b"PLAIN"))
    assert conn.data_to_send().endswith(HELLO_ADMIN)
    return conn


# -------------------------------------------------------------- handshake


def test_hello_bytes_and_zap_request() -> None:
    pair = plain_pair()
    assert b"".join(pair.wire["a"])[64:] == HELLO_ADMIN  # right after the greeting
    assert pair.take("b") == [AuthRequest(b"PLAIN", [b"admin", b"secret"])]
    assert pair.b.state is ConnectionState.HANDSHAKE
    assert pair.b.data_to_send() == b""  # nothing before the ZAP verdict
    assert pair.b.mechanism.name == pair.a.mechanism.name == b"PLAIN"


def test_zap_200_full_handshake() -> None:
    pair = plain_pair()
    pair.take("b")
    assert pair.b.auth_reply(b"200", b"alice", {"X-Role": b"admin"}) == []
    assert pair.b.data_to_send() == WELCOME
    pair._deliver("b", WELCOME)
    pair.pump()
    (initiate,) = frames(b"".join(pair.wire["a"])[64 + len(HELLO_ADMIN):])
    assert initiate == (0x04, b"\x08INITIATE" + codec.encode_metadata(DEALER_PROPS.items()))
    assert pair.take("b") == [
        HandshakeComplete({**DEALER_PROPS, "X-Role": b"admin"}, b"alice")
    ]
    assert pair.take("a") == [HandshakeComplete(ROUTER_PROPS)]
    (ready,) = frames(b"".join(pair.wire["b"])[64 + len(WELCOME):])
    assert ready == (0x04, b"\x05READY" + codec.encode_metadata(ROUTER_PROPS.items()))
    # PLAIN does not encrypt: plain frames both ways
    assert pair.a_to_b(pair.a.send_message([b"x", b"", b"y" * 70000])) == [
        Message([b"x", b"", b"y" * 70000])
    ]
    assert pair.b_to_a(pair.b.send_message([b"r"])) == [Message([b"r"])]
    assert pair.b.send_message([b"r"]) == b"\x00\x01r"


def test_zap_metadata_wins_a_name_clash() -> None:
    pair = plain_pair()
    pair.b.auth_reply(b"200", b"", {"Socket-Type": b"zap"})
    pair.pump()
    events = pair.take("b")
    assert events[-1] == HandshakeComplete({"Socket-Type": b"zap", "Identity": b""}, b"")
    assert pair.b.peer_socket_type == "DEALER"  # the check used the peer's own value


def test_zap_300_sends_nothing() -> None:
    pair = plain_pair()
    assert pair.b.auth_reply(b"300") == []
    assert pair.b.state is ConnectionState.CLOSED
    assert pair.b.data_to_send() == b""
    assert pair.a.state is ConnectionState.HANDSHAKE  # the client just sees a close


@pytest.mark.parametrize("status", [b"400", b"500"])
def test_zap_denied_libzmq_error_quirk(status: bytes) -> None:
    pair = plain_pair()
    assert pair.b.auth_reply(status) == []
    out = pair.b.data_to_send()
    assert out == bytes.fromhex("04 09 5e 52 52 4f 52 03") + status
    assert pair.b.state is ConnectionState.CLOSED
    assert pair.a.receive_data(out) == [PeerError(status)]
    assert pair.a.state is ConnectionState.CLOSED


def test_zap_denied_rfc_error_form() -> None:
    pair = plain_pair(quirk=False)
    pair.b.auth_reply(b"400")
    out = pair.b.data_to_send()
    assert out == ERROR_400  # 04 0a 05 ERROR 03 400
    assert pair.a.receive_data(out) == [PeerError(b"400")]


def test_client_accepts_both_error_forms_while_waiting_for_ready() -> None:
    for error in (PLAIN_ERROR_400_QUIRK, ERROR_400):
        conn = client()
        conn.receive_data(WELCOME)
        assert conn.receive_data(error) == [PeerError(b"400")]


def test_invalid_zap_status_code() -> None:
    pair = plain_pair()
    with pytest.raises(ProtocolError) as info:
        pair.b.auth_reply(b"201")
    assert info.value.code == Code.ZAP_INVALID_STATUS_CODE
    assert pair.b.state is ConnectionState.CLOSED


def test_auth_reply_without_request() -> None:
    pair = plain_pair()
    pair.b.auth_reply(b"200")
    with pytest.raises(LocalProtocolError):
        pair.b.auth_reply(b"200")  # still HANDSHAKE, but nothing pending
    with pytest.raises(LocalProtocolError):
        pair.a.auth_reply(b"200")  # clients never ask


def test_zap_false_accepts_without_request() -> None:
    pair = plain_pair(zap=False)
    assert pair.a.state is pair.b.state is ConnectionState.READY
    assert pair.take("b") == [HandshakeComplete(DEALER_PROPS)]
    mechanism = pair.b.mechanism
    assert isinstance(mechanism, PlainServer) and mechanism.username == b"admin"


def test_empty_and_long_credentials() -> None:
    pair = plain_pair(user=b"", password=b"")
    assert pair.take("b") == [AuthRequest(b"PLAIN", [b"", b""])]
    pair = plain_pair(user=b"u" * 255, password=b"p" * 255)
    assert pair.take("b") == [AuthRequest(b"PLAIN", [b"u" * 255, b"p" * 255])]
    with pytest.raises(ValueError):
        PlainClient(b"u" * 256, b"")
    with pytest.raises(ValueError):
        PlainClient(b"", b"p" * 256)


def test_handshake_byte_by_byte() -> None:
    events = handshake_byte_by_byte(
        Connection("DEALER", PlainClient(b"admin", b"secret")),
        Connection("ROUTER", PlainServer()), AuthRequest(b"PLAIN", [b"admin", b"secret"]), b"u")
    assert events == {"a": [HandshakeComplete(ROUTER_PROPS)],
                      "b": [HandshakeComplete(DEALER_PROPS, b"u")]}


# ------------------------------------------------------ server refusals


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"\x05HELLO\x05admin\x06secretX", Code.ZMTP_MALFORMED_COMMAND_HELLO),  # trailing
        (b"\x05HELLO\x05admin\x06secre", Code.ZMTP_MALFORMED_COMMAND_HELLO),  # short password
        (b"\x05HELLO\x05admin", Code.ZMTP_MALFORMED_COMMAND_HELLO),  # no password
        (b"\x05HELLO\x09admin", Code.ZMTP_MALFORMED_COMMAND_HELLO),  # username truncated
        (b"\x05HELLO", Code.ZMTP_MALFORMED_COMMAND_HELLO),  # no username
        (b"\x05HELL", Code.ZMTP_MALFORMED_COMMAND_UNSPECIFIED),  # name overruns the body
        (b"\x08INITIATE", Code.ZMTP_UNEXPECTED_COMMAND),
        (b"\x05READY", Code.ZMTP_UNEXPECTED_COMMAND),
        (b"\x05hello\x00\x00", Code.ZMTP_UNEXPECTED_COMMAND),  # names are case-sensitive
    ],
)
def test_server_refuses_bad_hello(body: bytes, code: int) -> None:
    assert refused(server(), command(body)) == code


def test_server_refuses_command_while_waiting_for_zap() -> None:
    conn = server()
    assert conn.receive_data(HELLO_ADMIN) == [AuthRequest(b"PLAIN", [b"admin", b"secret"])]
    assert refused(conn, HELLO_ADMIN) == Code.ZMTP_UNSPECIFIED


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"\x05HELLO\x00\x00", Code.ZMTP_UNEXPECTED_COMMAND),
        (b"\x05READY", Code.ZMTP_UNEXPECTED_COMMAND),
        (b"\x08INITIATE\x0bSocket-Type\x00\x00", Code.ZMTP_INVALID_METADATA),
        (b"\x08INITIATE" + ready_body([(b"Socket-Type", b"PUB")])[6:], Code.ZMTP_INVALID_METADATA),
    ],
)
def test_server_refuses_bad_initiate(body: bytes, code: int) -> None:
    conn = server()
    conn.receive_data(HELLO_ADMIN)
    conn.auth_reply(b"200")
    assert conn.data_to_send() == WELCOME
    assert refused(conn, command(body)) == code  # and no READY went out


def test_server_refuses_message_frame() -> None:
    assert refused(server(), b"\x00\x02hi") == Code.ZMTP_UNEXPECTED_COMMAND


# ------------------------------------------------------ client refusals


@pytest.mark.parametrize(
    ("prelude", "data", "code"),
    [
        ([], command(b"\x07WELCOMEx"), Code.ZMTP_MALFORMED_COMMAND_WELCOME),
        ([], command(b"\x05READY"), Code.ZMTP_UNEXPECTED_COMMAND),  # before WELCOME
        ([WELCOME], WELCOME, Code.ZMTP_UNEXPECTED_COMMAND),  # twice
        ([WELCOME], command(b"\x05READY\x01"), Code.ZMTP_INVALID_METADATA),
        ([WELCOME], command(ready_body([(b"Socket-Type", b"SUB")])), Code.ZMTP_INVALID_METADATA),
        ([], command(b"\x05ERROR"), Code.ZMTP_MALFORMED_COMMAND_ERROR),
        ([], command(b"\x5eRROR\x04400"), Code.ZMTP_MALFORMED_COMMAND_ERROR),
        ([], command(b"\x05HELLO\x00\x00"), Code.ZMTP_UNEXPECTED_COMMAND),
        ([], command(b"\x04PING\x00\x00"), Code.ZMTP_UNEXPECTED_COMMAND),
    ],
)
def test_client_refusals(prelude: list[bytes], data: bytes, code: int) -> None:
    conn = client()
    for item in prelude:
        conn.receive_data(item)
        conn.data_to_send()
    assert refused(conn, data) == code


def test_client_error_before_welcome() -> None:
    assert client().receive_data(PLAIN_ERROR_400_QUIRK) == [PeerError(b"400")]
    assert client().receive_data(command(b"\x05ERROR\x03500tail")) == [PeerError(b"500")]


# --------------------------------------------------------- NULL with ZAP


def null_zap_pair() -> ConnectionPair:
    return ConnectionPair(Connection("DEALER"),
                          Connection("ROUTER", NullMechanism(zap=True))).run()


def test_null_zap_request_right_after_greeting() -> None:
    pair = null_zap_pair()
    # libzmq asks ZAP when it would send READY, i.e. right after the greeting
    assert pair.take("b") == [AuthRequest(b"NULL", [])]
    assert pair.b.state is pair.a.state is ConnectionState.HANDSHAKE
    assert pair.b.peer_properties == DEALER_PROPS  # the peer's READY is in already
    assert b"".join(pair.wire["b"])[64:] == b""  # but ours is held back


def test_null_zap_200() -> None:
    pair = null_zap_pair()
    pair.take("b")
    events = pair.b.auth_reply(b"200", b"alice", {"X-Role": b"r"})
    assert events == [HandshakeComplete({**DEALER_PROPS, "X-Role": b"r"}, b"alice")]
    pair.pump()
    assert pair.take("a") == [HandshakeComplete(ROUTER_PROPS)]
    assert pair.a_to_b(pair.a.send_message([b"m"])) == [Message([b"m"])]


def test_null_zap_verdict_before_peer_ready() -> None:
    conn = Connection("ROUTER", NullMechanism(zap=True))
    conn.initiate()
    assert conn.receive_data(greeting()) == [AuthRequest(b"NULL", [])]
    assert conn.auth_reply(b"200", b"u") == []
    assert conn.data_to_send().endswith(command(ready_body([(b"Socket-Type", b"ROUTER"),
                                                            (b"Identity", b"")])))
    events = conn.receive_data(command(ready_body([(b"Socket-Type", b"DEALER")])))
    assert events == [HandshakeComplete({"Socket-Type": b"DEALER"}, b"u")]


@pytest.mark.parametrize(("status", "wire"), [(b"400", ERROR_400), (b"500", None), (b"300", b"")])
def test_null_zap_denied(status: bytes, wire: bytes | None) -> None:
    pair = null_zap_pair()
    assert pair.b.auth_reply(status) == []
    assert pair.b.state is ConnectionState.CLOSED
    out = pair.b.data_to_send()
    assert out == (wire if wire is not None else b"\x04\x0a\x05ERROR\x03" + status)
    if out:
        assert pair.a.receive_data(out) == [PeerError(status)]


def test_null_zap_second_ready_is_unexpected() -> None:
    conn = Connection("ROUTER", NullMechanism(zap=True))
    conn.initiate()
    conn.receive_data(greeting() + command(ready_body([])))
    assert refused(conn, command(ready_body([]))) == Code.ZMTP_UNEXPECTED_COMMAND


def test_null_without_zap_unchanged() -> None:
    pair = ConnectionPair(Connection("DEALER", NullMechanism()), "ROUTER").handshake()
    assert pair.take("a") == [HandshakeComplete(ROUTER_PROPS)]
    with pytest.raises(LocalProtocolError):
        NullMechanism().auth_reply(b"200", b"", {})
