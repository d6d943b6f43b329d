"""The Mechanism interface: NULL itself, plus two toy mechanisms that prove
PLAIN/CURVE/ZAP can plug in without changing the Connection.

* ``ToyCipher`` encrypts like CURVE is shaped on the wire (security.md §4.8):
  every logical frame becomes one outer *message* frame whose body is
  ``07 MESSAGE inner-flags payload`` (the "cipher" just reverses bytes).
* ``ZapNull`` is NULL with a ZAP step: its READY waits for ``auth_reply()``.
"""

from __future__ import annotations

from collections.abc import Mapping

import pytest
from zmtp_helpers import (
    DEALER_PROPS, ERROR_400, ROUTER_PROPS, ConnectionPair, byte_by_byte, greeting,
)

from gzmq.zmtp import (
    AuthRequest, Cancel, Connection, ConnectionState, HandshakeComplete, LocalProtocolError,
    Mechanism, MechanismStatus, Message, NullMechanism, PeerError, Ping, Pong, ProtocolError,
    ProtocolErrorCode, Subscribe, codec,
)

# ------------------------------------------------------------------ NULL


def test_null_mechanism_steps() -> None:
    m = NullMechanism()
    assert (m.name, m.as_server, m.encrypts) == (b"NULL", False, False)
    assert m.start(b"META") == [b"\x05READYMETA"]
    assert m.status is MechanismStatus.HANDSHAKING and m.peer_properties is None
    assert m.receive_command(b"\x05READY" + codec.encode_metadata([("X-a", b"1")])) == []
    assert m.status is MechanismStatus.READY and m.peer_properties == {"X-a": b"1"}
    with pytest.raises(ProtocolError) as info:
        m.receive_command(b"\x05READY")
    assert info.value.code == ProtocolErrorCode.ZMTP_UNEXPECTED_COMMAND


def test_null_mechanism_error_and_unknown() -> None:
    m = NullMechanism()
    m.start(b"")
    m.receive_command(b"\x05ERROR\x03500")
    assert (m.status, m.peer_error) == (MechanismStatus.ERROR, b"500")
    with pytest.raises(ProtocolError) as info:
        NullMechanism().receive_command(b"\x05HELLO")
    assert info.value.code == ProtocolErrorCode.ZMTP_UNEXPECTED_COMMAND
    with pytest.raises(LocalProtocolError):
        NullMechanism().auth_reply(b"200", b"", {})


# ----------------------------------------------------- encrypting toy

INNER_MORE, INNER_COMMAND = 0x01, 0x02


class ToyCipher(NullMechanism):
    name = b"TOY"
    encrypts = True

    def encode_frame(self, body: bytes, flags: int) -> bytes:
        inner = (INNER_MORE if flags & codec.FLAG_MORE else 0) | (
            INNER_COMMAND if flags & codec.FLAG_COMMAND else 0)
        return codec.encode_frame(b"\x07MESSAGE" + bytes((inner,)) + body[::-1])

    def decode_frame(self, flags: int, body: bytes) -> tuple[int, bytes]:
        if body[:8] != b"\x07MESSAGE" or len(body) < 9:
            raise ProtocolError("not a MESSAGE", ProtocolErrorCode.ZMTP_MALFORMED_COMMAND_MESSAGE)
        inner = body[8]
        logical = (codec.FLAG_MORE if inner & INNER_MORE else 0) | (
            codec.FLAG_COMMAND if inner & INNER_COMMAND else 0)
        return logical, body[9:][::-1]


def toy_pair(a: str = "SUB", b: str = "XPUB") -> ConnectionPair:
    pair = ConnectionPair(Connection(a, ToyCipher()), Connection(b, ToyCipher())).handshake()
    pair.take("a"), pair.take("b")
    return pair


def test_encrypting_mechanism_messages() -> None:
    pair = toy_pair("DEALER", "ROUTER")
    msg = [b"one", b"", b"x" * 300]
    wire = pair.a.send_message(msg)
    # three outer frames, flags 0x00/0x02 only (MORE lives inside), bodies reversed
    frames = []
    pos = 0
    while pos < len(wire):
        flags, size, hlen = codec.decode_frame_header(wire, pos) or (0, 0, 0)
        frames.append((flags, wire[pos + hlen : pos + hlen + size]))
        pos += hlen + size
    assert [f for f, _ in frames] == [0x00, 0x00, 0x02]
    assert frames[0][1] == b"\x07MESSAGE\x01eno"
    assert pair.a_to_b(wire) == [Message(msg)]
    out: list[bytes] = []
    pair.b.encode_messages([[b"r1"], [b"r2", b"r3"]], out)
    assert pair.b_to_a(b"".join(out)) == [Message([b"r1"]), Message([b"r2", b"r3"])]


def test_encrypting_mechanism_commands() -> None:
    pair = toy_pair()
    assert pair.a_to_b(pair.a.subscribe(b"t")) == [Subscribe(b"t")]
    assert pair.a_to_b(pair.a.cancel(b"t")) == [Cancel(b"t")]
    assert pair.a_to_b(pair.a.ping(1000, b"c")) == [Ping(1000, b"c")]
    assert pair.take("a") == [Pong(b"c")]  # the PONG went out encrypted too
    assert pair.wire["b"][-1] == codec.encode_frame(b"\x07MESSAGE\x02" + b"\x04PONGc"[::-1])
    # a fed one byte at a time, with a command inside a multipart message
    data = pair.b.send_message([b"ab"]) + pair.b.ping() + pair.b.send_message([b"cd"])
    assert byte_by_byte(pair.a, data) == [Message([b"ab"]), Ping(0, b""), Message([b"cd"])]


def test_encrypting_mechanism_decode_failure_closes() -> None:
    pair = toy_pair()
    with pytest.raises(ProtocolError) as info:
        pair.b.receive_data(b"\x00\x02hi")
    assert info.value.code == ProtocolErrorCode.ZMTP_MALFORMED_COMMAND_MESSAGE
    assert pair.b.state is ConnectionState.CLOSED


def test_mechanism_name_mismatch_with_toy() -> None:
    conn = Connection("PULL", ToyCipher())
    conn.initiate()
    with pytest.raises(ProtocolError) as info:
        conn.receive_data(greeting(mechanism=b"NULL"))
    assert info.value.code == ProtocolErrorCode.ZMTP_MECHANISM_MISMATCH


# -------------------------------------------------------------- ZAP toy


class ZapNull(NullMechanism):
    """NULL with ZMQ_ZAP_DOMAIN set: READY (or ERROR) only after ZAP."""

    def __init__(self) -> None:
        super().__init__()
        self._metadata = b""
        self._request: AuthRequest | None = None
        self._decided = False
        self._peer_ready = False

    def start(self, metadata: bytes) -> list[bytes]:
        self._metadata = metadata
        self._request = AuthRequest(b"NULL", [])
        return []

    def take_auth_request(self) -> AuthRequest | None:
        request, self._request = self._request, None
        return request

    def receive_command(self, body: bytes) -> list[bytes]:
        if self._peer_ready:
            raise ProtocolError("again", ProtocolErrorCode.ZMTP_UNEXPECTED_COMMAND)
        self.peer_properties = codec.decode_metadata(body[6:])
        self._peer_ready = True
        if self._decided:
            self.status = MechanismStatus.READY
        return []

    def auth_reply(
        self, status_code: bytes, user_id: bytes, metadata: Mapping[str, bytes]
    ) -> list[bytes]:
        if status_code != b"200":
            self.status = MechanismStatus.ERROR
            return [] if status_code == b"300" else [codec.error_body(status_code)]
        self._decided = True
        self.user_id = user_id
        if self._peer_ready:
            self.status = MechanismStatus.READY
        return [b"\x05READY" + self._metadata]


def test_zap_step_accept() -> None:
    pair = ConnectionPair(Connection("DEALER"), Connection("ROUTER", ZapNull())).run()
    assert pair.take("b") == [AuthRequest(b"NULL", [])]
    assert pair.b.state is ConnectionState.HANDSHAKE
    assert pair.a.state is ConnectionState.HANDSHAKE  # no READY from b yet
    events = pair.b.auth_reply(b"200", b"alice")
    assert events == [HandshakeComplete(DEALER_PROPS, b"alice")]
    pair.pump()
    assert pair.take("a") == [HandshakeComplete(ROUTER_PROPS)]
    with pytest.raises(LocalProtocolError):
        pair.b.auth_reply(b"200")  # not in HANDSHAKE any more


@pytest.mark.parametrize(("status", "wire"), [(b"400", ERROR_400), (b"300", b"")])
def test_zap_step_deny(status: bytes, wire: bytes) -> None:
    pair = ConnectionPair(Connection("DEALER"), Connection("ROUTER", ZapNull())).run()
    assert pair.b.auth_reply(status) == []
    assert pair.b.state is ConnectionState.CLOSED
    out = pair.b.data_to_send()
    assert out == wire  # our ERROR is kept for flushing
    if out:
        assert pair.a.receive_data(out) == [PeerError(b"400")]
        assert pair.a.state is ConnectionState.CLOSED


def test_mechanism_is_abstract() -> None:
    with pytest.raises(TypeError):
        Mechanism()  # type: ignore[abstract]
