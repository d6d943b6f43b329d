"""What a READY Connection keeps (issue 12: 10,000 idle peers on one socket): nothing that
only the handshake needed, and one shared object for what every peer of a type says."""

from __future__ import annotations

from zmtp_helpers import fresh, greeting, ready_frame

from gzmq.zmtp import ConnectionState, HandshakeComplete


def _ready(peer_type: bytes = b"DEALER"):
    conn = fresh("ROUTER")
    events = conn.receive_data(greeting() + ready_frame(peer_type, (b"Identity", b"")))
    assert conn.state is ConnectionState.READY
    (complete,) = [e for e in events if isinstance(e, HandshakeComplete)]
    return conn, complete


def test_a_ready_connection_drops_its_handshake_state() -> None:
    conn, complete = _ready()
    assert conn._greeting == conn._metadata == b""
    assert conn.mechanism.peer_socket_types == ()
    assert not conn.mechanism.zap_properties
    # without ZAP metadata the event hands the Connection's own dict on, not a copy
    assert complete.properties is conn.peer_properties
    assert complete.properties == {"Socket-Type": b"DEALER", "Identity": b""}


def test_every_peer_of_a_type_shares_its_socket_type_and_property_names() -> None:
    (a, _), (b, _) = _ready(), _ready()
    assert a.peer_properties["Socket-Type"] is b.peer_properties["Socket-Type"]
    assert a.peer_socket_type is b.peer_socket_type == "DEALER"
    assert [id(name) for name in a.peer_properties] == [id(name) for name in b.peer_properties]

