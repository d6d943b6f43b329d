"""PLAIN, CURVE and NULL+ZAP end to end, gzmq <-> gzmq over tcp (and ipc), with
``gzmq.auth.Authenticator`` or a hand-made ZAP handler at ``inproc://zeromq.zap.01``.

What libzmq 4.3.5 does is the reference (security.md §3-5; the behaviours below were checked
against pyzmq 27.3 / libzmq 4.3.5 with the same scenario): User-Id and Peer-Address (and ZAP
metadata) become message properties, CURVE without a handler accepts any client
("stonehouse"), a PLAIN server without a handler refuses everyone, NULL asks ZAP only with a
ZAP_DOMAIN. Also: what the security logs say (never a password or secret key) and that 50 CURVE
handshakes with a slow credentials callback do not wait for each other.
"""

from __future__ import annotations

import errno
import logging
import os
import time
from pathlib import Path
from typing import Any, Optional

import gevent
import pytest
from helpers import count, read_events, seen, wait_for_event

import gzmq as zmq
from gzmq.auth import CURVE_ALLOW_ANY, create_certificates, load_certificate
from gzmq.utils import z85

RECONNECT_IVL = 50  # ms: a client that would reconnect does so well within the waits below


# ---------------------------------------------------------------------------------------------
# helpers


def recv_frame(sock: Any, timeout: float = 2.0) -> Any:
    assert sock.poll(int(timeout * 1000)), "nothing received"
    return sock.recv(copy=False)


def nothing_received(sock: Any, timeout: float = 0.3) -> bool:
    return not sock.poll(int(timeout * 1000))


def assert_denied(server: Any, server_monitor: Any, client_monitor: Any) -> None:
    """ZAP said 400: both sides report HANDSHAKE_FAILED_AUTH 400 and nothing got through."""
    denied = seen(zmq.EVENT_HANDSHAKE_FAILED_AUTH, 400)
    events = read_events(client_monitor, 2, denied)
    assert denied(events), events
    events = read_events(server_monitor, 2, denied)
    assert denied(events), events
    assert nothing_received(server)


def curve_server(ctx: Any, kind: int = zmq.PULL) -> tuple[Any, bytes]:
    public, secret = zmq.curve_keypair()
    server = ctx.socket(kind)
    server.curve_server = True
    server.curve_secretkey = secret
    server.curve_publickey = public
    return server, public


def curve_client(ctx: Any, server_key: bytes, kind: int = zmq.PUSH,
                 keypair: Optional[tuple[bytes, bytes]] = None) -> tuple[Any, bytes]:
    public, secret = keypair or zmq.curve_keypair()
    client = ctx.socket(kind)
    client.curve_serverkey = server_key
    client.curve_publickey = public
    client.curve_secretkey = secret
    client.reconnect_ivl = RECONNECT_IVL
    return client, public


def plain_pair(ctx: Any, username: bytes, password: bytes) -> tuple[Any, Any]:
    server = ctx.socket(zmq.PULL)
    server.plain_server = True
    port = server.bind_to_random_port("tcp://127.0.0.1")
    client = ctx.socket(zmq.PUSH)
    client.plain_username = username
    client.plain_password = password
    client.reconnect_ivl = RECONNECT_IVL
    client.connect(f"tcp://127.0.0.1:{port}")
    return server, client


# ---------------------------------------------------------------------------------------------
# PLAIN


def test_plain_allowed_carries_user_id_and_peer_address(ctx: Any, auth: Any) -> None:
    auth.configure_plain(domain="*", passwords={"admin": "secret"})
    server, client = plain_pair(ctx, b"admin", b"secret")
    client.send(b"hello")
    frame = recv_frame(server)
    assert frame.bytes == b"hello"
    assert frame.get("User-Id") == "admin"
    assert frame.get("Peer-Address") == "127.0.0.1"
    assert frame.get("Socket-Type") == "PUSH"


def test_plain_wrong_password_denied_and_final(ctx: Any, auth: Any) -> None:
    auth.configure_plain(domain="*", passwords={"admin": "secret"})
    server = ctx.socket(zmq.PULL)
    server.plain_server = True
    server_monitor = server.get_monitor_socket()
    port = server.bind_to_random_port("tcp://127.0.0.1")
    client = ctx.socket(zmq.PUSH)
    client.plain_username, client.plain_password = b"admin", b"wrong"
    client.reconnect_ivl = RECONNECT_IVL
    client_monitor = client.get_monitor_socket()
    client.connect(f"tcp://127.0.0.1:{port}")
    client.send(b"should not pass")
    assert_denied(server, server_monitor, client_monitor)


def test_plain_server_without_zap_handler_refuses(ctx: Any) -> None:
    # libzmq: a PLAIN server needs a ZAP handler; without one every handshake fails (closed
    # without ERROR, so the client just sees a disconnect and keeps retrying)
    server, client = plain_pair(ctx, b"admin", b"secret")
    client_monitor = client.get_monitor_socket()
    client.send(b"should not pass")
    assert nothing_received(server, 0.5)
    events = read_events(client_monitor, 2, lambda ev: count(ev, zmq.EVENT_CONNECTED) >= 2)
    assert count(events, zmq.EVENT_CONNECTED) >= 2, events
    assert not seen(zmq.EVENT_HANDSHAKE_SUCCEEDED)(events)


def test_plain_users_per_zap_domain(ctx: Any, auth: Any) -> None:
    auth.configure_plain(domain="ops", passwords={"alice": "pw-ops"})
    auth.configure_plain(domain="*", passwords={"bob": "pw-any"})
    server = ctx.socket(zmq.PULL)
    server.plain_server = True
    server.zap_domain = b"ops"
    port = server.bind_to_random_port("tcp://127.0.0.1")
    clients = {}
    for user, password in ((b"alice", b"pw-ops"), (b"bob", b"pw-any")):
        client = ctx.socket(zmq.PUSH)
        client.plain_username, client.plain_password = user, password
        client.connect(f"tcp://127.0.0.1:{port}")
        client.send(user)
        clients[user] = client
    frame = recv_frame(server)
    assert (frame.bytes, frame.get("User-Id")) == (b"alice", "alice")
    assert nothing_received(server)  # bob is only known in the '*' domain


# ---------------------------------------------------------------------------------------------
# CURVE


def test_curve_allowed_by_certificate_directory(ctx: Any, auth: Any, tmp_path: Path) -> None:
    keys, allowed_dir = tmp_path / "keys", tmp_path / "allowed"
    keys.mkdir()
    allowed_dir.mkdir()
    public_file, secret_file = create_certificates(str(keys), "client")
    os.rename(public_file, allowed_dir / "client.key")
    client_public, client_secret = load_certificate(secret_file)
    auth.configure_curve(domain="*", location=str(allowed_dir))
    server, server_public = curve_server(ctx)
    port = server.bind_to_random_port("tcp://127.0.0.1")
    client, _ = curve_client(ctx, server_public, keypair=(client_public, client_secret))
    client.connect(f"tcp://127.0.0.1:{port}")
    client.send(b"encrypted hello")
    frame = recv_frame(server)
    assert frame.bytes == b"encrypted hello"
    # pyzmq's Authenticator: the User-Id of a CURVE client is its public key in Z85
    assert frame.get("User-Id") == client_public.decode()
    assert frame.get("Peer-Address") == "127.0.0.1"


def test_curve_unknown_key_denied_and_final(ctx: Any, auth: Any, tmp_path: Path) -> None:
    auth.configure_curve(domain="*", location=str(tmp_path))  # an empty directory
    server, server_public = curve_server(ctx)
    server_monitor = server.get_monitor_socket()
    port = server.bind_to_random_port("tcp://127.0.0.1")
    client, _ = curve_client(ctx, server_public)
    client_monitor = client.get_monitor_socket()
    client.connect(f"tcp://127.0.0.1:{port}")
    client.send(b"should not pass")
    assert_denied(server, server_monitor, client_monitor)


def test_curve_allow_any(ctx: Any, auth: Any) -> None:
    auth.configure_curve(domain="*", location=CURVE_ALLOW_ANY)
    server, server_public = curve_server(ctx)
    port = server.bind_to_random_port("tcp://127.0.0.1")
    client, client_public = curve_client(ctx, server_public)
    client.connect(f"tcp://127.0.0.1:{port}")
    client.send(b"anyone")
    frame = recv_frame(server)
    assert frame.bytes == b"anyone"
    assert frame.get("User-Id") == client_public.decode()


def test_curve_stonehouse_without_zap_handler(ctx: Any) -> None:
    # no handler bound: a CURVE server encrypts but accepts any client key (libzmq)
    server, server_public = curve_server(ctx, zmq.REP)
    port = server.bind_to_random_port("tcp://127.0.0.1")
    clients = [curve_client(ctx, server_public, zmq.REQ)[0] for _ in range(2)]
    for number, client in enumerate(clients):
        client.connect(f"tcp://127.0.0.1:{port}")
        client.send(b"ping %d" % number)
        assert server.poll(2000)
        request = server.recv()
        server.send(request.replace(b"ping", b"pong"))
        assert client.poll(2000)
        assert client.recv() == b"pong %d" % number


def test_curve_server_needs_only_its_secret_key(ctx: Any) -> None:
    # libzmq: ZMQ_CURVE_SERVER + ZMQ_CURVE_SECRETKEY is a complete server configuration (the
    # public key is never needed on the wire)
    public, secret = zmq.curve_keypair()
    server = ctx.socket(zmq.PULL)
    server.curve_server = True
    server.curve_secretkey = secret
    port = server.bind_to_random_port("tcp://127.0.0.1")
    client, _ = curve_client(ctx, public)
    client.connect(f"tcp://127.0.0.1:{port}")
    client.send(b"secret key is enough")
    assert recv_frame(server).bytes == b"secret key is enough"


def test_curve_over_ipc(ctx: Any, auth: Any, tmp_path: Path) -> None:
    auth.configure_curve(domain="*", location=CURVE_ALLOW_ANY)
    server, server_public = curve_server(ctx, zmq.ROUTER)
    server.bind(f"ipc://{tmp_path}/curve.ipc")
    client, client_public = curve_client(ctx, server_public, zmq.DEALER)
    client.connect(f"ipc://{tmp_path}/curve.ipc")
    client.send_multipart([b"over", b"ipc"])
    assert server.poll(2000)
    identity, first, second = server.recv_multipart()
    assert (first, second) == (b"over", b"ipc")
    server.send_multipart([identity, b"back"])
    assert client.poll(2000) and client.recv() == b"back"
    client.send(b"again")
    frame = recv_frame(server)  # the identity frame carries the properties too
    # libzmq on Linux: localhost:<uid>:<gid>:<pid> of the peer process (here, ourselves)
    assert frame.get("Peer-Address") == f"localhost:{os.getuid()}:{os.getgid()}:{os.getpid()}"
    assert frame.get("User-Id") == client_public.decode()


def test_zap_user_id_and_metadata_become_properties(ctx: Any) -> None:
    """A hand-made REP handler: the reply's user id and metadata reach the received frames."""
    handler = ctx.socket(zmq.REP)
    handler.bind("inproc://zeromq.zap.01")
    requests = []

    def serve() -> None:
        request = handler.recv_multipart()
        requests.append(request)
        metadata = b"\x06X-Role\x00\x00\x00\x05admin" + b"\x07X-Shard\x00\x00\x00\x017"
        handler.send_multipart([b"1.0", request[1], b"200", b"OK", b"alice", metadata])

    zap = gevent.spawn(serve)
    server, server_public = curve_server(ctx)
    server.zap_domain = b"global"
    server.routing_id = b"SRVID"
    port = server.bind_to_random_port("tcp://127.0.0.1")
    client, client_public = curve_client(ctx, server_public)
    client.connect(f"tcp://127.0.0.1:{port}")
    client.send(b"with metadata")
    frame = recv_frame(server)
    zap.get(timeout=1)
    assert frame.get("User-Id") == "alice"
    assert frame.get("X-Role") == "admin" and frame.get("X-Shard") == "7"
    # the request as libzmq sends it (security.md §5.2): identity is the server's routing id,
    # the credential the client's 32-byte public key
    ((version, _, domain, address, identity, mechanism, key),) = requests
    assert (version, domain, address, identity, mechanism) == (
        b"1.0", b"global", b"127.0.0.1", b"SRVID", b"CURVE")
    assert key == z85.decode(client_public)


# ---------------------------------------------------------------------------------------------
# NULL with ZAP


def test_null_asks_zap_only_with_a_domain_and_denies_by_address(ctx: Any, auth: Any) -> None:
    auth.deny("127.0.0.1")
    guarded = ctx.socket(zmq.PULL)
    guarded.zap_domain = b"global"
    guarded_monitor = guarded.get_monitor_socket()
    open_server = ctx.socket(zmq.PULL)  # no domain: libzmq does not ask ZAP for NULL
    monitors, clients = [], []  # kept: a socket dropped is closed, as pyzmq's
    for server in (guarded, open_server):
        port = server.bind_to_random_port("tcp://127.0.0.1")
        client = ctx.socket(zmq.PUSH)
        clients.append(client)
        client.reconnect_ivl = RECONNECT_IVL
        monitors.append(client.get_monitor_socket())
        client.connect(f"tcp://127.0.0.1:{port}")
        client.send(b"from 127.0.0.1")
    assert recv_frame(open_server).bytes == b"from 127.0.0.1"
    assert_denied(guarded, guarded_monitor, monitors[0])


def test_null_allowed_address_gets_anonymous_user_id(ctx: Any, auth: Any) -> None:
    auth.allow("127.0.0.1")
    server = ctx.socket(zmq.PULL)
    server.zap_domain = b"global"
    port = server.bind_to_random_port("tcp://127.0.0.1")
    client = ctx.socket(zmq.PUSH)
    client.connect(f"tcp://127.0.0.1:{port}")
    client.send(b"let in")
    frame = recv_frame(server)
    assert frame.bytes == b"let in"
    assert frame.get("User-Id") == "anonymous"  # pyzmq's Authenticator


# ---------------------------------------------------------------------------------------------
# logging


def _formatted(record: logging.LogRecord) -> str:
    text = logging.Formatter("%(name)s %(levelname)s %(message)s").format(record)
    return f"{text} {record.args!r}"


def _secret_forms(secret_z85: bytes) -> list[str]:
    raw = z85.decode(secret_z85)
    return [secret_z85.decode(), repr(raw)[2:-1], raw.hex(), raw.decode("latin-1")]


def test_security_logs_name_the_peer_but_never_a_secret(ctx: Any, auth: Any,
                                                        caplog: Any) -> None:
    caplog.set_level(logging.DEBUG, logger="gzmq")
    real_password, tried_password = "Corr3ct-H0rse-Battery", "Wr0ng-Guess-Staple"
    auth.configure_plain(domain="*", passwords={"admin": real_password})
    server, client = plain_pair(ctx, b"admin", tried_password.encode())
    monitor = client.get_monitor_socket()
    client.send(b"denied")
    wait_for_event(monitor, zmq.EVENT_HANDSHAKE_FAILED_AUTH, 400, timeout=2)

    # a CURVE handshake that fails: the client has the wrong server key
    server_public, server_secret = zmq.curve_keypair()
    client_public, client_secret = zmq.curve_keypair()
    curve = ctx.socket(zmq.PULL)
    curve.curve_server = True
    curve.curve_secretkey, curve.curve_publickey = server_secret, server_public
    curve_monitor = curve.get_monitor_socket()
    port = curve.bind_to_random_port("tcp://127.0.0.1")
    wrong = ctx.socket(zmq.PUSH)
    wrong.curve_serverkey = zmq.curve_keypair()[0]
    wrong.curve_publickey, wrong.curve_secretkey = client_public, client_secret
    wrong.connect(f"tcp://127.0.0.1:{port}")
    wait_for_event(curve_monitor, zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL, timeout=2)
    gevent.sleep(0.05)

    texts = [_formatted(record) for record in caplog.records]
    assert any("127.0.0.1" in t and "PLAIN" in t for t in texts), texts
    assert any("127.0.0.1" in t and "CURVE" in t and "fail" in t for t in texts), texts
    forbidden = [real_password, tried_password]
    forbidden += _secret_forms(server_secret) + _secret_forms(client_secret)
    leaks = [(secret, t) for t in texts for secret in forbidden if secret in t]
    assert leaks == []


# ---------------------------------------------------------------------------------------------
# concurrency


class SlowProvider:
    """A credentials provider that takes 50 ms per key and records how many run at once."""

    def __init__(self) -> None:
        self.calls = 0
        self.running = 0
        self.max_running = 0

    def callback(self, domain: str, key: bytes) -> bool:
        self.calls += 1
        self.running += 1
        self.max_running = max(self.max_running, self.running)
        try:
            gevent.sleep(0.05)
        finally:
            self.running -= 1
        return len(key) == 40


def test_many_curve_handshakes_with_a_slow_callback_do_not_serialize(ctx: Any,
                                                                       auth: Any) -> None:
    clients_wanted = 50
    provider = SlowProvider()
    auth.configure_curve_callback(domain="*", credentials_provider=provider)
    server, server_public = curve_server(ctx, zmq.ROUTER)
    port = server.bind_to_random_port("tcp://127.0.0.1")
    start = time.monotonic()
    clients = []
    for number in range(clients_wanted):
        client, _ = curve_client(ctx, server_public, zmq.DEALER)
        client.connect(f"tcp://127.0.0.1:{port}")
        client.send(b"%d" % number)
        clients.append(client)
    received = set()
    while len(received) < clients_wanted:
        assert server.poll(5000), f"only {len(received)} clients got through"
        _, body = server.recv_multipart()
        received.add(body)
    elapsed = time.monotonic() - start
    assert received == {b"%d" % n for n in range(clients_wanted)}
    assert provider.calls == clients_wanted
    assert provider.max_running > 1
    serialized = clients_wanted * 0.05
    assert elapsed < serialized / 2, f"{elapsed:.2f} s for {clients_wanted} handshakes"


def test_zap_works_again_after_the_handler_restarts(ctx):
    from gzmq.auth import Authenticator
    for attempt in range(2):
        auth = Authenticator(ctx)
        auth.start()
        auth.configure_plain(domain="*", passwords={"admin": "secret"})
        server = ctx.socket(zmq.PULL)
        server.plain_server = 1
        server.rcvtimeo = 5000
        server.bind("tcp://127.0.0.1:*")
        client = ctx.socket(zmq.PUSH)
        client.plain_username, client.plain_password = b"admin", b"secret"
        client.connect(server.last_endpoint)
        client.send(b"round %d" % attempt)
        assert server.recv() == b"round %d" % attempt
        client.close(linger=0)
        server.close()
        auth.stop()


# ---------------------------------------------------------------------------------------------
# ZAP_ENFORCE_DOMAIN (libzmq 4.3.5: curve_server.cpp, null_mechanism.cpp)


def _round_trip(ctx: Any, server: Any, client: Any) -> bool:
    port = server.bind_to_random_port("tcp://127.0.0.1")
    client.connect(f"tcp://127.0.0.1:{port}")
    client.send(b"hello")
    return bool(server.poll(1000)) and server.recv() == b"hello"


@pytest.mark.parametrize("enforce", [0, 1])
def test_null_with_a_domain_and_no_handler_fails_only_when_enforced(ctx: Any,
                                                                    enforce: int) -> None:
    server = ctx.socket(zmq.PULL)
    server.zap_domain = b"global"
    server.zap_enforce_domain = enforce
    monitor = server.get_monitor_socket()
    client = ctx.socket(zmq.PUSH)
    client.reconnect_ivl = RECONNECT_IVL
    assert _round_trip(ctx, server, client) is (not enforce)
    if enforce:
        event = wait_for_event(monitor, zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL)
        assert event["value"] == errno.EFAULT


@pytest.mark.parametrize("enforce", [0, 1])
def test_curve_without_a_domain_asks_zap_unless_enforced(ctx: Any, auth: Any,
                                                         enforce: int) -> None:
    auth.deny("127.0.0.1")  # a handler that refuses everyone: asked, it keeps the client out
    server, public = curve_server(ctx)
    server.zap_enforce_domain = enforce
    client, _ = curve_client(ctx, public)
    # enforced, ZAP is asked only with a domain: no domain, so encryption without
    # authentication (stonehouse) lets the client in
    assert _round_trip(ctx, server, client) is bool(enforce)


def test_curve_with_a_domain_and_no_handler_fails_when_enforced(ctx: Any) -> None:
    server, public = curve_server(ctx)
    server.zap_domain = b"global"
    server.zap_enforce_domain = 1
    monitor = server.get_monitor_socket()
    client, _ = curve_client(ctx, public)
    assert _round_trip(ctx, server, client) is False
    assert wait_for_event(monitor, zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL)["value"] == \
        errno.EFAULT
