"""CURVE (RFC 25/26 as libzmq 4.3.5 speaks it, security.md §4), two Connections in memory.

The handshake is opened up with PyNaCl and the mechanisms' transient keys to
check every box, size and nonce against security.md; tampering tests flip
one byte at a time; forged INITIATEs check the vouch rules.
"""

from __future__ import annotations

import os
from typing import Any

import pytest
from nacl.bindings import (
    crypto_box, crypto_box_afternm, crypto_box_keypair, crypto_box_open,
    crypto_box_open_afternm, crypto_secretbox_open,
)
from zmtp_helpers import (
    DEALER_PROPS, ERROR_400, ROUTER_PROPS, ConnectionPair, byte_by_byte, command, frames,
    greeting, handshake_byte_by_byte, refused,
)

from gzmq.zmtp import (
    AuthRequest, Cancel, Connection, ConnectionState, CurveClient, CurveServer,
    HandshakeComplete, LocalProtocolError, Message, PeerError, Ping, Pong, ProtocolError,
    ProtocolErrorCode, Subscribe, codec,
)

Code = ProtocolErrorCode
CLIENT = crypto_box_keypair()  # (C, c)
SERVER = crypto_box_keypair()  # (S, s)
DEALER_META = codec.encode_metadata(DEALER_PROPS.items())
ROUTER_META = codec.encode_metadata(ROUTER_PROPS.items())


def curve(conn: Connection) -> Any:
    """conn's CURVE mechanism, untyped: the tests read its transient keys."""
    return conn.mechanism


def body_of(frame: bytes) -> bytes:
    ((_, body),) = frames(frame)
    return body


def flip(frame: bytes, offset: int) -> bytes:
    """*frame* with byte *offset* of its body inverted."""
    hlen = 9 if frame[0] & codec.FLAG_LONG else 2
    pos = hlen + offset
    return frame[:pos] + bytes((frame[pos] ^ 0xFF,)) + frame[pos + 1 :]


class Handshake:
    """Client ``a`` and server ``b`` driven one command at a time."""

    def __init__(self, zap: bool = False, server_key: bytes | None = None,
                 a_type: str = "DEALER", b_type: str = "ROUTER") -> None:
        self.a = Connection(a_type, CurveClient(CLIENT[0], CLIENT[1], server_key or SERVER[0]))
        self.b = Connection(b_type, CurveServer(SERVER[0], SERVER[1], zap=zap))
        first_a, first_b = self.a.initiate(), self.b.initiate()
        self.b.receive_data(first_a)
        self.a.receive_data(first_b)
        self.a.receive_data(self.b.data_to_send())  # b's greeting rest: a queues HELLO
        out = self.a.data_to_send()
        assert self.b.receive_data(out[:53]) == []
        assert self.b.data_to_send() == b""  # the client speaks first
        self.hello = out[53:]

    def welcome(self) -> bytes:
        assert self.b.receive_data(self.hello) == []
        return self.b.data_to_send()

    def initiate(self) -> bytes:
        assert self.a.receive_data(self.welcome()) == []
        return self.a.data_to_send()

    def ready(self) -> bytes:
        events = self.b.receive_data(self.initiate())
        assert events == [HandshakeComplete(DEALER_PROPS)], events
        return self.b.data_to_send()

    def done(self) -> Handshake:
        assert self.a.receive_data(self.ready()) == [HandshakeComplete(ROUTER_PROPS)]
        return self


def curve_pair(zap: bool = False, a: str = "DEALER", b: str = "ROUTER") -> ConnectionPair:
    return ConnectionPair(
        Connection(a, CurveClient(CLIENT[0], CLIENT[1], SERVER[0])),
        Connection(b, CurveServer(SERVER[0], SERVER[1], zap=zap)),
    ).run()


def inner(conn: Connection, frame: bytes, sender_is_client: bool) -> tuple[int, bytes, int]:
    """``(inner flags, payload, nonce)`` of a MESSAGE frame, opened with conn's key."""
    body = body_of(frame)
    assert body[:8] == b"\x07MESSAGE"
    prefix = b"CurveZMQMESSAGEC" if sender_is_client else b"CurveZMQMESSAGES"
    plain = crypto_box_open_afternm(body[16:], prefix + body[8:16], curve(conn)._precom)
    return plain[0], plain[1:], int.from_bytes(body[8:16], "big")


# -------------------------------------------------------------- handshake


def test_handshake_commands_byte_exact() -> None:
    h = Handshake()
    cm, sm = curve(h.a), curve(h.b)
    c_t, s_t = cm._cn_public, sm._cn_public  # C', S'
    # HELLO: 04 C8, 200 bytes
    assert h.hello[:2] == b"\x04\xc8"
    hello = body_of(h.hello)
    assert len(hello) == 200
    assert hello[:8] == b"\x05HELLO\x01\x00" and hello[8:80] == bytes(72)
    assert hello[80:112] == c_t and hello[112:120] == (1).to_bytes(8, "big")
    assert crypto_box_open(hello[120:], b"CurveZMQHELLO---" + hello[112:120], c_t,
                           SERVER[1]) == bytes(64)
    # WELCOME: 04 A8, 168 bytes; Box[S' + cookie](S->C'); cookie = nonce + secretbox[C' + s']
    welcome_frame = h.welcome()
    assert welcome_frame[:2] == b"\x04\xa8"
    welcome = body_of(welcome_frame)
    assert len(welcome) == 168 and welcome[:8] == b"\x07WELCOME"
    plain = crypto_box_open(welcome[24:], b"WELCOME-" + welcome[8:24], SERVER[0], cm._cn_secret)
    assert plain[:32] == s_t
    cookie = plain[32:]
    assert len(cookie) == 96
    assert crypto_secretbox_open(cookie[16:], b"COOKIE--" + cookie[:16],
                                 sm._cookie_key) == c_t + sm._cn_secret
    # INITIATE: long command frame, 257 + M bytes
    assert h.a.receive_data(welcome_frame) == []
    initiate_frame = h.a.data_to_send()
    assert initiate_frame[0] == 0x06
    initiate = body_of(initiate_frame)
    assert len(initiate) == 257 + len(DEALER_META)
    assert initiate[:9] == b"\x08INITIATE" and initiate[9:105] == cookie
    assert initiate[105:113] == (2).to_bytes(8, "big")
    plain = crypto_box_open(initiate[113:], b"CurveZMQINITIATE" + initiate[105:113], s_t,
                            cm._cn_secret)
    assert plain[:32] == CLIENT[0] and plain[128:] == DEALER_META
    vouch = crypto_box_open(plain[48:128], b"VOUCH---" + plain[32:48], CLIENT[0], sm._cn_secret)
    assert vouch == c_t + SERVER[0]
    # READY: 30 + M bytes, nonce 1
    assert h.b.receive_data(initiate_frame) == [HandshakeComplete(DEALER_PROPS)]
    ready = body_of(h.b.data_to_send())
    assert len(ready) == 30 + len(ROUTER_META)
    assert ready[:6] == b"\x05READY" and ready[6:14] == (1).to_bytes(8, "big")
    assert crypto_box_open(ready[14:], b"CurveZMQREADY---" + ready[6:14], c_t,
                           sm._cn_secret) == ROUTER_META


def test_nonces_continue_into_messages() -> None:
    h = Handshake().done()
    client_nonces = [inner(h.b, h.a.send_message([b"x"]), True)[2] for _ in range(3)]
    server_nonces = [inner(h.a, h.b.send_message([b"y"]), False)[2] for _ in range(3)]
    assert client_nonces == [3, 4, 5]  # HELLO 1, INITIATE 2
    assert server_nonces == [2, 3, 4]  # READY 1


def test_wire_frames_outer_and_inner_flags() -> None:
    h = Handshake().done()
    big = os.urandom(70 * 1024)
    wire = h.a.send_message([b"a", b"", big])
    got = frames(wire)
    # one outer *message* frame per part: never MORE, never COMMAND; LONG when needed
    assert [flags for flags, _ in got] == [0x00, 0x00, 0x02]
    assert [len(body) for _, body in got] == [33 + 1, 33, 33 + len(big)]
    heads = [codec.encode_frame(b) for _, b in got]
    assert [inner(h.b, f, True)[:2] for f in heads] == [(1, b"a"), (1, b""), (0, big)]
    assert h.b.receive_data(wire) == [Message([b"a", b"", big])]


def test_messages_both_ways() -> None:
    pair = curve_pair()
    assert pair.take("a") == [HandshakeComplete(ROUTER_PROPS)]
    assert pair.take("b") == [HandshakeComplete(DEALER_PROPS)]
    for msg in ([b"one"], [b""], [b"", b""], [b"x" * 300, b"y", b"z" * 70 * 1024]):
        assert pair.a_to_b(pair.a.send_message(msg)) == [Message(msg)]
        assert pair.b_to_a(pair.b.send_message(msg)) == [Message(msg)]
    out: list[bytes] = []
    pair.b.encode_messages([[b"r1"], [b"r2", b"r3"], [b"r4"]], out)
    assert len(out) == 1  # a small batch is boxed into one buffer: one boxed frame per part
    assert [flags for flags, _ in frames(bytes(out[0]))] == [0, 0, 0, 0]
    assert pair.b_to_a(b"".join(out)) == [Message([b"r1"]), Message([b"r2", b"r3"]),
                                          Message([b"r4"])]
    with pytest.raises(LocalProtocolError):
        pair.a.send_message([])


def test_commands_through_curve() -> None:
    pair = curve_pair(a="SUB", b="XPUB")
    pair.take("a"), pair.take("b")
    sub = pair.a.subscribe(b"topic")
    assert inner(pair.b, sub, True)[:2] == (0x02, b"\x09SUBSCRIBEtopic")
    assert pair.a_to_b(sub) == [Subscribe(b"topic")]
    assert pair.a_to_b(pair.a.cancel(b"topic")) == [Cancel(b"topic")]
    ping = pair.a.ping(2500, b"ctx")
    assert frames(ping)[0][0] == 0x00  # the outer frame is a message frame
    assert inner(pair.b, ping, True)[:2] == (0x02, b"\x04PING\x00\x19ctx")
    assert pair.a_to_b(ping) == [Ping(2500, b"ctx")]
    pong = pair.wire["b"][-1]
    assert frames(pong)[0][0] == 0x00
    assert inner(pair.a, pong, False)[:2] == (0x02, b"\x04PONGctx")
    assert pair.take("a") == [Pong(b"ctx")]
    # a command between two frames of a multipart message
    first = curve(pair.b).encode_frame(b"p1", codec.FLAG_MORE)
    data = first + pair.b.ping() + curve(pair.b).encode_frame(b"p2", 0)
    assert byte_by_byte(pair.a, data) == [Ping(0, b""), Message([b"p1", b"p2"])]


def test_handshake_and_messages_byte_by_byte() -> None:
    a = Connection("DEALER", CurveClient(*CLIENT, SERVER[0]))
    b = Connection("ROUTER", CurveServer(*SERVER, zap=True))
    events = handshake_byte_by_byte(a, b, AuthRequest(b"CURVE", [CLIENT[0]]), b"u")
    assert events == {"a": [HandshakeComplete(ROUTER_PROPS)],
                      "b": [HandshakeComplete(DEALER_PROPS, b"u")]}
    data = a.send_message([b"m1", b"x" * 1000]) + a.send_message([b"m2"])
    assert byte_by_byte(b, data) == [Message([b"m1", b"x" * 1000]), Message([b"m2"])]


# -------------------------------------------------------------------- ZAP


def test_zap_200_user_id_and_metadata() -> None:
    pair = curve_pair(zap=True)
    assert pair.take("b") == [AuthRequest(b"CURVE", [CLIENT[0]])]
    assert curve(pair.b).client_key == CLIENT[0]
    assert pair.b.state is pair.a.state is ConnectionState.HANDSHAKE
    assert pair.b.data_to_send() == b""  # READY waits for the verdict
    events = pair.b.auth_reply(b"200", b"alice", {"X-Role": b"admin"})
    assert events == [HandshakeComplete({**DEALER_PROPS, "X-Role": b"admin"}, b"alice")]
    pair.pump()
    assert pair.take("a") == [HandshakeComplete(ROUTER_PROPS)]
    assert pair.a_to_b(pair.a.send_message([b"hi"])) == [Message([b"hi"])]


@pytest.mark.parametrize("status", [b"400", b"500"])
def test_zap_denied_sends_error(status: bytes) -> None:
    pair = curve_pair(zap=True)
    assert pair.b.auth_reply(status) == []
    out = pair.b.data_to_send()
    assert out == b"\x04\x0a\x05ERROR\x03" + status  # correct form for CURVE
    assert pair.b.state is ConnectionState.CLOSED
    assert pair.a.receive_data(out) == [PeerError(status)]
    assert pair.a.state is ConnectionState.CLOSED


def test_zap_300_sends_nothing() -> None:
    pair = curve_pair(zap=True)
    assert pair.b.auth_reply(b"300") == []
    assert pair.b.state is ConnectionState.CLOSED and pair.b.data_to_send() == b""
    assert pair.a.state is ConnectionState.HANDSHAKE


def test_zap_invalid_status_and_misuse() -> None:
    pair = curve_pair(zap=True)
    with pytest.raises(ProtocolError) as info:
        pair.b.auth_reply(b"2000")
    assert info.value.code == Code.ZAP_INVALID_STATUS_CODE
    pair = curve_pair(zap=False)
    assert pair.take("b") == [HandshakeComplete(DEALER_PROPS)]  # no request at all
    with pytest.raises(LocalProtocolError):
        pair.b.auth_reply(b"200")  # READY: nothing to decide


def test_command_while_waiting_for_zap() -> None:
    h = Handshake(zap=True)
    assert h.b.receive_data(h.initiate()) == [AuthRequest(b"CURVE", [CLIENT[0]])]
    assert refused(h.b, command(b"\x08INITIATE" + bytes(300))) == Code.ZMTP_UNSPECIFIED


def test_incompatible_socket_type_gets_nothing() -> None:
    h = Handshake(zap=True, a_type="PUB")
    with pytest.raises(ProtocolError) as info:
        h.b.receive_data(h.initiate())
    assert info.value.code == Code.ZMTP_INVALID_METADATA
    assert info.value.events == []  # no AuthRequest for a peer already refused
    assert h.b.data_to_send() == b""


# ---------------------------------------------------------------- tampering


@pytest.mark.parametrize("offset", [80, 100, 112, 119, 120, 150, 199])  # C', nonce, box
def test_tampered_hello(offset: int) -> None:
    h = Handshake()
    assert refused(h.b, flip(h.hello, offset)) == Code.ZMTP_CRYPTOGRAPHIC


@pytest.mark.parametrize("offset", [8, 23, 24, 100, 167])  # nonce, box
def test_tampered_welcome(offset: int) -> None:
    h = Handshake()
    assert refused(h.a, flip(h.welcome(), offset)) == Code.ZMTP_CRYPTOGRAPHIC


@pytest.mark.parametrize("offset", [9, 24, 25, 104, 105, 112, 113, 200, 256])
def test_tampered_initiate(offset: int) -> None:
    # cookie nonce, cookie box, short nonce, INITIATE box (C, vouch, metadata)
    h = Handshake()
    assert refused(h.b, flip(h.initiate(), offset)) == Code.ZMTP_CRYPTOGRAPHIC


@pytest.mark.parametrize("offset", [6, 13, 14, 29])
def test_tampered_ready(offset: int) -> None:
    h = Handshake()
    assert refused(h.a, flip(h.ready(), offset)) == Code.ZMTP_CRYPTOGRAPHIC


@pytest.mark.parametrize("offset", [16, 20, 32, 39])  # MAC, ciphertext (flags, payload)
def test_tampered_message(offset: int) -> None:
    h = Handshake().done()
    assert refused(h.b, flip(h.a.send_message([b"payload"]), offset)) == Code.ZMTP_CRYPTOGRAPHIC


def test_tampered_message_nonce_fails_open() -> None:
    h = Handshake().done()
    frame = h.b.send_message([b"x"])
    assert refused(h.a, flip(frame, 15)) == Code.ZMTP_CRYPTOGRAPHIC  # nonce 2 -> 0x...FD


def test_cookie_of_another_connection() -> None:
    first, second = Handshake(), Handshake()
    initiate = first.initiate()
    second.welcome()
    assert refused(second.b, initiate) == Code.ZMTP_CRYPTOGRAPHIC


def forged_initiate(h: Handshake, *, vouch_transient: bytes | None = None,
                    vouch_secret: bytes | None = None, vouch_server: bytes | None = None,
                    flip_vouch: bool = False) -> bytes:
    """An INITIATE built by hand from h's WELCOME, with a chosen vouch."""
    cm = curve(h.a)
    welcome = body_of(h.welcome())
    plain = crypto_box_open(welcome[24:], b"WELCOME-" + welcome[8:24], SERVER[0], cm._cn_secret)
    s_t, cookie = plain[:32], plain[32:]
    nonce16 = os.urandom(16)
    vouch_box = crypto_box(
        (vouch_transient or cm._cn_public) + (vouch_server or SERVER[0]),
        b"VOUCH---" + nonce16, s_t, vouch_secret or CLIENT[1],
    )
    if flip_vouch:
        vouch_box = bytes((vouch_box[0] ^ 1,)) + vouch_box[1:]
    short = (2).to_bytes(8, "big")
    box = crypto_box(CLIENT[0] + nonce16 + vouch_box + DEALER_META,
                     b"CurveZMQINITIATE" + short, s_t, cm._cn_secret)
    return command(b"\x08INITIATE" + cookie + short + box)


def test_forged_initiate_is_accepted_when_right() -> None:
    h = Handshake()
    assert h.b.receive_data(forged_initiate(h)) == [HandshakeComplete(DEALER_PROPS)]


def test_vouch_not_signed_by_c() -> None:
    h = Handshake()
    other_secret = crypto_box_keypair()[1]
    assert refused(h.b, forged_initiate(h, vouch_secret=other_secret)) == Code.ZMTP_CRYPTOGRAPHIC


def test_vouch_box_tampered() -> None:
    h = Handshake()
    assert refused(h.b, forged_initiate(h, flip_vouch=True)) == Code.ZMTP_CRYPTOGRAPHIC


def test_vouch_for_another_transient_key() -> None:
    h = Handshake()
    other = crypto_box_keypair()[0]
    assert refused(h.b, forged_initiate(h, vouch_transient=other)) == Code.ZMTP_KEY_EXCHANGE


@pytest.mark.parametrize("named", ["another server", "zeros", "the client itself"])
@pytest.mark.parametrize("zap", [False, True])
def test_vouch_must_name_this_server(named: str, zap: bool) -> None:
    # RFC 26: the vouch box holds C' and S. libzmq never looks at S; we do, so a vouch
    # made out for another server cannot be replayed here (KEY_EXCHANGE, like a vouch
    # for another C'), and ZAP is never asked.
    key = {"another server": crypto_box_keypair()[0], "zeros": bytes(32),
           "the client itself": CLIENT[0]}[named]
    h = Handshake(zap=zap)
    with pytest.raises(ProtocolError) as info:
        h.b.receive_data(forged_initiate(h, vouch_server=key))
    assert info.value.code == Code.ZMTP_KEY_EXCHANGE
    assert info.value.events == []  # no AuthRequest
    assert h.b.state is ConnectionState.CLOSED and h.b.data_to_send() == b""


def test_vouch_is_checked_against_the_key_derived_from_the_secret() -> None:
    # A server configured with a public key that does not match its secret key still
    # accepts clients that use the real one (libzmq's server never uses its public key).
    a = Connection("DEALER", CurveClient(CLIENT[0], CLIENT[1], SERVER[0]))
    b = Connection("ROUTER", CurveServer(crypto_box_keypair()[0], SERVER[1], zap=False))
    ConnectionPair(a, b).handshake()


# --------------------------------------------------------------- sequence


def test_replayed_message() -> None:
    h = Handshake().done()
    frame = h.a.send_message([b"once"])
    assert h.b.receive_data(frame) == [Message([b"once"])]
    assert refused(h.b, frame) == Code.ZMTP_INVALID_SEQUENCE


def test_reordered_messages_and_gaps() -> None:
    h = Handshake().done()
    first, second, third = (h.b.send_message([bytes((i,))]) for i in range(3))
    assert h.a.receive_data(second) == [Message([b"\x01"])]  # a gap is fine
    assert refused(h.a, first) == Code.ZMTP_INVALID_SEQUENCE


@pytest.mark.parametrize(("side", "restart"), [("client", 2), ("client", 1), ("server", 1)])
def test_message_nonce_not_above_handshake(side: str, restart: int) -> None:
    # MESSAGE nonces must exceed INITIATE's (2) / READY's (1)
    h = Handshake().done()
    sender, receiver = (h.a, h.b) if side == "client" else (h.b, h.a)
    curve(sender)._send_nonce = restart
    assert refused(receiver, sender.send_message([b"x"])) == Code.ZMTP_INVALID_SEQUENCE


# ------------------------------------------------------- malformed commands


def hello_body(h: Handshake) -> bytes:
    return body_of(h.hello)


@pytest.mark.parametrize(
    ("mutate", "code"),
    [
        (lambda b: b[:199], Code.ZMTP_MALFORMED_COMMAND_HELLO),
        (lambda b: b + b"\x00", Code.ZMTP_MALFORMED_COMMAND_HELLO),
        (lambda b: b[:6], Code.ZMTP_MALFORMED_COMMAND_HELLO),
        (lambda b: b[:6] + b"\x02\x00" + b[8:], Code.ZMTP_MALFORMED_COMMAND_HELLO),
        (lambda b: b[:6] + b"\x01\x01" + b[8:], Code.ZMTP_MALFORMED_COMMAND_HELLO),
        (lambda b: b"\x05READY" + b[6:], Code.ZMTP_UNEXPECTED_COMMAND),
        (lambda b: b"\x05HELL", Code.ZMTP_MALFORMED_COMMAND_UNSPECIFIED),
    ],
)
def test_bad_hello(mutate: Any, code: int) -> None:
    h = Handshake()
    assert refused(h.b, command(mutate(hello_body(h)))) == code


@pytest.mark.parametrize(
    ("mutate", "code"),
    [
        (lambda b: b[:256], Code.ZMTP_MALFORMED_COMMAND_INITIATE),
        (lambda b: b[:9], Code.ZMTP_MALFORMED_COMMAND_INITIATE),
        (lambda b: b"\x08INITIATF" + b[9:], Code.ZMTP_UNEXPECTED_COMMAND),
        (lambda b: b"\x05HELLO" + bytes(194), Code.ZMTP_UNEXPECTED_COMMAND),
    ],
)
def test_bad_initiate(mutate: Any, code: int) -> None:
    h = Handshake()
    assert refused(h.b, command(mutate(body_of(h.initiate())))) == code


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"\x07WELCOME" + bytes(159), Code.ZMTP_CRYPTOGRAPHIC),  # 167 bytes: libzmq's code
        (b"\x07WELCOME" + bytes(161), Code.ZMTP_CRYPTOGRAPHIC),
        (b"\x05READY" + bytes(30), Code.ZMTP_UNEXPECTED_COMMAND),  # before WELCOME
        (b"\x05ERROR", Code.ZMTP_MALFORMED_COMMAND_ERROR),
        (b"\x05ERROR\x09400", Code.ZMTP_MALFORMED_COMMAND_ERROR),
        (b"\x07MESSAGE" + bytes(30), Code.ZMTP_UNEXPECTED_COMMAND),
        (b"\x04PING\x00\x00", Code.ZMTP_UNEXPECTED_COMMAND),
    ],
)
def test_client_refuses_before_welcome(body: bytes, code: int) -> None:
    assert refused(Handshake().a, command(body)) == code


def test_client_refuses_after_welcome() -> None:
    h = Handshake()
    welcome = h.welcome()
    h.a.receive_data(welcome)
    h.a.data_to_send()
    assert refused(h.a, welcome) == Code.ZMTP_UNEXPECTED_COMMAND  # twice
    h = Handshake()
    h.initiate()
    assert refused(h.a, command(b"\x05READY" + bytes(23))) == Code.ZMTP_MALFORMED_COMMAND_READY
    h = Handshake()
    ready = body_of(h.ready())
    # a READY whose metadata do not parse (re-boxed with the right key)
    precom = curve(h.a)._precom
    short = (1).to_bytes(8, "big")
    bad = b"\x05READY" + short + crypto_box_afternm(b"\x01", b"CurveZMQREADY---" + short, precom)
    assert len(ready) > len(bad)
    assert refused(h.a, command(bad)) == Code.ZMTP_INVALID_METADATA


def test_client_error_while_waiting() -> None:
    h = Handshake()
    assert h.a.receive_data(ERROR_400) == [PeerError(b"400")]
    h = Handshake()
    h.initiate()
    assert h.a.receive_data(command(b"\x05ERROR\x03500extra")) == [PeerError(b"500")]


def test_malformed_messages() -> None:
    h = Handshake().done()
    good = body_of(h.a.send_message([b"x"]))
    assert refused(h.b, codec.encode_frame(good[:32])) == Code.ZMTP_MALFORMED_COMMAND_MESSAGE
    h = Handshake().done()
    not_message = codec.encode_frame(b"\x05READY" + bytes(40))
    assert refused(h.b, not_message) == Code.ZMTP_UNEXPECTED_COMMAND
    h = Handshake().done()
    assert refused(h.b, b"\x00\x02hi") == Code.ZMTP_MALFORMED_COMMAND_UNSPECIFIED
    h = Handshake().done()
    assert refused(h.b, b"\x00\x00") == Code.ZMTP_MALFORMED_COMMAND_UNSPECIFIED


@pytest.mark.parametrize("outer", [0x01, 0x04, 0x05, 0xF8])
def test_outer_flags_are_ignored(outer: int) -> None:
    h = Handshake().done()
    frame = h.a.send_message([b"data"])
    assert h.b.receive_data(bytes((outer,)) + frame[1:]) == [Message([b"data"])]


def test_message_frame_during_handshake() -> None:
    h = Handshake()
    assert refused(h.b, b"\x00\x05hello") == Code.ZMTP_UNEXPECTED_COMMAND


# ----------------------------------------------------- keys libsodium refuses

#: Curve25519 points of small order: libsodium refuses a key agreement with them, and
#: PyNaCl then raised RuntimeError out of receive_data.
SMALL_ORDER_POINTS = [
    bytes(32),
    (1).to_bytes(32, "little"),
    bytes.fromhex("e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800"),
    bytes.fromhex("5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157"),
]
SMALL_ORDER_IDS = ["zero", "one", "order8-a", "order8-b"]


@pytest.mark.parametrize("point", SMALL_ORDER_POINTS, ids=SMALL_ORDER_IDS)
def test_welcome_with_small_order_server_transient_key(point: bytes) -> None:
    # A WELCOME that opens (the peer knows s) but names a small-order S': libsodium refuses
    # the key agreement; PyNaCl raised RuntimeError out of receive_data.
    h = Handshake()
    client_transient = body_of(h.hello)[80:112]
    nonce = os.urandom(16)
    box = crypto_box(point + os.urandom(96), b"WELCOME-" + nonce, client_transient, SERVER[1])
    assert refused(h.a, command(b"\x07WELCOME" + nonce + box)) == Code.ZMTP_CRYPTOGRAPHIC


@pytest.mark.parametrize("point", SMALL_ORDER_POINTS, ids=SMALL_ORDER_IDS)
def test_hello_with_small_order_client_transient_key(point: bytes) -> None:
    conn = Connection("ROUTER", CurveServer(*SERVER, zap=False))
    conn.initiate()
    conn.receive_data(greeting(mechanism=b"CURVE"))
    hello = (b"\x05HELLO\x01\x00" + bytes(72) + point + (1).to_bytes(8, "big")
             + os.urandom(80))
    assert refused(conn, command(hello)) == Code.ZMTP_CRYPTOGRAPHIC


@pytest.mark.parametrize("point", SMALL_ORDER_POINTS, ids=SMALL_ORDER_IDS)
def test_small_order_server_key_is_refused_locally(point: bytes) -> None:
    # our own configuration, not the peer's fault: ValueError, as for a key of the wrong size
    with pytest.raises(ValueError):
        CurveClient(*CLIENT, point)


# ------------------------------------------------------------- wrong keys


def test_wrong_server_key_fails_at_hello() -> None:
    h = Handshake(server_key=crypto_box_keypair()[0])
    assert refused(h.b, h.hello) == Code.ZMTP_CRYPTOGRAPHIC
    assert h.a.state is ConnectionState.HANDSHAKE


def test_client_refuses_welcome_from_impostor() -> None:
    # An impostor with its own keys answers the HELLO: the client cannot open it.
    h = Handshake()
    impostor_public, impostor_secret = crypto_box_keypair()
    c_t = body_of(h.hello)[80:112]
    nonce16 = os.urandom(16)
    box = crypto_box(os.urandom(128), b"WELCOME-" + nonce16, c_t, impostor_secret)
    assert refused(h.a, command(b"\x07WELCOME" + nonce16 + box)) == Code.ZMTP_CRYPTOGRAPHIC


def test_key_validation() -> None:
    with pytest.raises(ValueError):
        CurveClient(CLIENT[0], CLIENT[1], SERVER[0][:31])
    with pytest.raises(ValueError):
        CurveClient(b"x" * 40, CLIENT[1], SERVER[0])  # Z85 is parsed by the options layer
    with pytest.raises(ValueError):
        CurveServer(SERVER[0], SERVER[1] + b"\x00")
    m = CurveServer(*SERVER)
    assert (m.name, m.encrypts, m.as_server, m.zap) == (b"CURVE", True, False, True)


def test_mechanism_mismatch_with_null() -> None:
    conn = Connection("DEALER", CurveClient(*CLIENT, SERVER[0]))
    conn.initiate()
    with pytest.raises(ProtocolError) as info:
        conn.receive_data(greeting(mechanism=b"NULL"))
    assert info.value.code == Code.ZMTP_MECHANISM_MISMATCH
