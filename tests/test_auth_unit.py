"""gzmq.auth.Authenticator driven with hand-built ZAP requests over real gzmq inproc sockets.

A DEALER connected to ``inproc://zeromq.zap.01`` plays the part of a server socket's engine:
it sends ``[b"", b"1.0", request_id, domain, address, identity, mechanism, *credentials]``
(the empty delimiter first, as libzmq's ZAP client does) and reads the 6-frame reply.
"""

from __future__ import annotations

import gc
import logging
import time

import gevent
import gevent.event
import pytest

import gzmq as zmq
from gzmq.auth import CURVE_ALLOW_ANY, Authenticator, create_certificates, load_certificate

ZAP = "inproc://zeromq.zap.01"
PASSWORD = "s3cr3t-pa55w0rd"


@pytest.fixture
def z85():
    from gzmq.zmtp import z85 as module
    return module


def _raw(z85_module, text: bytes) -> bytes:
    return bytes(z85_module.decode(text))


# ---------------------------------------------------------------------------------------------
# helpers

@pytest.fixture
def client(ctx, auth):
    sock = ctx.socket(zmq.DEALER)
    sock.linger = 0
    sock.rcvtimeo = 5000
    sock.connect(ZAP)
    yield sock
    sock.close()


def send_request(sock, mechanism=b"NULL", credentials=(), *, domain=b"", address=b"127.0.0.1",
                 request_id=b"1", identity=b"", version=b"1.0"):
    sock.send_multipart([b"", version, request_id, domain, address, identity, mechanism,
                         *credentials])


def read_reply(sock):
    reply = sock.recv_multipart()
    assert reply[0] == b"", reply
    assert len(reply) == 7, reply  # delimiter + exactly 6 frames
    return reply[1:]


def zap(sock, mechanism=b"NULL", credentials=(), **kw):
    send_request(sock, mechanism, credentials, **kw)
    version, request_id, code, text, user_id, metadata = read_reply(sock)
    assert version == b"1.0"
    assert request_id == kw.get("request_id", b"1")
    assert metadata == b""
    if code != b"200":
        assert user_id == b""
    return code, text, user_id


def plain(sock, username, password, **kw):
    return zap(sock, b"PLAIN", [username.encode(), password.encode()], **kw)


# ---------------------------------------------------------------------------------------------
# NULL and address lists

def test_null_allowed_by_default(client):
    assert zap(client) == (b"200", b"OK", b"anonymous")


def test_null_denied_by_address(auth, client):
    auth.deny("10.0.0.9")
    assert zap(client, address=b"10.0.0.9") == (b"400", b"Address denied", b"")
    assert zap(client, address=b"127.0.0.1") == (b"200", b"OK", b"anonymous")


def test_allow_list(auth, client):
    auth.allow("127.0.0.1", "::1")
    assert zap(client, address=b"127.0.0.1")[0] == b"200"
    assert zap(client, address=b"::1")[0] == b"200"
    assert zap(client, address=b"10.0.0.9") == (b"400", b"Address not allowed", b"")


def test_allow_and_deny_are_exclusive(ctx):
    a = Authenticator(ctx)
    a.allow("1.2.3.4")
    with pytest.raises(ValueError):
        a.deny("5.6.7.8")
    b = Authenticator(ctx)
    b.deny("1.2.3.4")
    with pytest.raises(ValueError):
        b.allow("5.6.7.8")


def test_allowed_address_still_needs_a_password(auth, client):
    auth.allow("127.0.0.1")
    auth.configure_plain("*", {"admin": PASSWORD})
    assert plain(client, "admin", "wrong") == (b"400", b"Invalid password", b"")
    assert plain(client, "admin", PASSWORD) == (b"200", b"OK", b"admin")
    assert plain(client, "admin", PASSWORD, address=b"10.1.1.1") == (
        b"400", b"Address not allowed", b"")


# ---------------------------------------------------------------------------------------------
# PLAIN

def test_plain_without_passwords_is_denied(client):
    assert plain(client, "admin", PASSWORD) == (b"400", b"No passwords defined", b"")


def test_plain_good_and_bad_password(auth, client):
    auth.configure_plain("*", {"admin": PASSWORD, "bob": "b0b"})
    assert plain(client, "admin", PASSWORD) == (b"200", b"OK", b"admin")
    assert plain(client, "bob", "b0b") == (b"200", b"OK", b"bob")
    assert plain(client, "admin", "b0b") == (b"400", b"Invalid password", b"")
    assert plain(client, "admin", PASSWORD + "x") == (b"400", b"Invalid password", b"")
    assert plain(client, "admin", "") == (b"400", b"Invalid password", b"")
    assert plain(client, "mallory", PASSWORD) == (b"400", b"Invalid username", b"")


def test_plain_domains(auth, client):
    auth.configure_plain("*", {"admin": "star"})
    auth.configure_plain("global", {"admin": "glob"})
    # an empty domain means '*'
    assert plain(client, "admin", "star")[0] == b"200"
    assert plain(client, "admin", "glob", domain=b"global")[0] == b"200"
    assert plain(client, "admin", "star", domain=b"global")[1] == b"Invalid password"
    # a named domain that is not configured does not fall back to '*' (as pyzmq)
    assert plain(client, "admin", "star", domain=b"other") == (b"400", b"Invalid domain", b"")


def test_plain_passwords_are_live(auth, client):
    users = {"admin": PASSWORD}
    auth.configure_plain(passwords=users)
    assert plain(client, "carol", "c")[0] == b"400"
    users["carol"] = "c"
    assert plain(client, "carol", "c") == (b"200", b"OK", b"carol")


def test_plain_non_ascii_credentials(auth, client):
    auth.configure_plain("*", {"zoë": "pässwörd"})
    assert plain(client, "zoë", "pässwörd") == (b"200", b"OK", "zoë".encode())
    assert plain(client, "zoë", "passwort")[0] == b"400"


def test_plain_wrong_number_of_credentials(auth, client):
    auth.configure_plain("*", {"admin": PASSWORD})
    assert zap(client, b"PLAIN", [b"admin"]) == (b"400", b"Invalid credentials", b"")
    assert zap(client, b"PLAIN", [b"admin", PASSWORD.encode(), b"x"]) == (
        b"400", b"Invalid credentials", b"")


# ---------------------------------------------------------------------------------------------
# CURVE

@pytest.fixture
def cert_dir(tmp_path):
    public_file, secret_file = create_certificates(tmp_path, "alice")
    return tmp_path, load_certificate(secret_file)


def test_curve_unconfigured_is_denied(client, z85):
    public, _ = z85.curve_keypair()
    assert zap(client, b"CURVE", [_raw(z85, public)]) == (b"400", b"Unknown domain", b"")


def test_curve_certificate_directory(auth, client, cert_dir, z85):
    directory, (alice_public, _) = cert_dir
    auth.configure_curve("*", str(directory))
    code, text, user_id = zap(client, b"CURVE", [_raw(z85, alice_public)])
    assert (code, text, user_id) == (b"200", b"OK", alice_public)
    assert auth.curve_user_id(_raw(z85, alice_public)) == alice_public.decode()
    stranger, _ = z85.curve_keypair()
    assert zap(client, b"CURVE", [_raw(z85, stranger)]) == (b"400", b"Unknown key", b"")
    assert zap(client, b"CURVE", [_raw(z85, alice_public)], domain=b"other") == (
        b"400", b"Unknown domain", b"")


def test_curve_directory_is_reread_by_configure_curve(auth, client, tmp_path, z85):
    auth.configure_curve("*", tmp_path)  # empty directory, PathLike accepted
    public_file, _ = create_certificates(tmp_path, "bob")
    bob, _ = load_certificate(public_file)
    assert zap(client, b"CURVE", [_raw(z85, bob)])[1] == b"Unknown key"
    auth.configure_curve("*", tmp_path)
    assert zap(client, b"CURVE", [_raw(z85, bob)])[0] == b"200"


def test_curve_missing_directory_is_logged_not_raised(auth, client, tmp_path, caplog, z85):
    with caplog.at_level(logging.ERROR, logger="gzmq.auth"):
        auth.configure_curve("*", str(tmp_path / "nope"))
    assert "Failed to load CURVE certs" in caplog.text
    public, _ = z85.curve_keypair()
    assert zap(client, b"CURVE", [_raw(z85, public)])[0] == b"400"


def test_curve_allow_any(auth, client, tmp_path, z85):
    auth.configure_curve(domain="*", location=CURVE_ALLOW_ANY)
    public, _ = z85.curve_keypair()
    assert zap(client, b"CURVE", [_raw(z85, public)]) == (b"200", b"OK", public)
    assert zap(client, b"CURVE", [_raw(z85, public)], domain=b"any-domain")[0] == b"200"
    # configuring a directory again ends allow-any (as pyzmq)
    auth.configure_curve("*", str(tmp_path))
    assert zap(client, b"CURVE", [_raw(z85, public)])[0] == b"400"


def test_curve_bad_key_length(auth, client):
    auth.configure_curve("*", CURVE_ALLOW_ANY)
    assert zap(client, b"CURVE", [b"x" * 31]) == (b"400", b"Invalid credentials", b"")
    assert zap(client, b"CURVE", [b"x" * 32, b"y" * 32]) == (b"400", b"Invalid credentials", b"")
    assert zap(client, b"CURVE", []) == (b"400", b"Invalid credentials", b"")


class Provider:
    def __init__(self, allowed=(), delays=None):
        self.allowed = set(allowed)
        self.delays = delays or {}
        self.calls = []

    def callback(self, domain, key):
        self.calls.append((domain, key))
        if key in self.delays:
            gevent.sleep(self.delays[key])
        return key in self.allowed


def test_curve_callback(auth, client, z85):
    good, _ = z85.curve_keypair()
    bad, _ = z85.curve_keypair()
    provider = Provider(allowed={good})
    auth.configure_curve_callback("*", credentials_provider=provider)
    assert zap(client, b"CURVE", [_raw(z85, good)]) == (b"200", b"OK", good)
    assert zap(client, b"CURVE", [_raw(z85, bad)]) == (b"400", b"Unknown key", b"")
    assert provider.calls == [("*", good), ("*", bad)]  # z85 bytes, empty domain → '*'
    assert zap(client, b"CURVE", [_raw(z85, good)], domain=b"x") == (
        b"400", b"Unknown domain", b"")


def test_curve_callback_none_provider_is_logged(auth, caplog):
    with caplog.at_level(logging.ERROR, logger="gzmq.auth"):
        auth.configure_curve_callback("*", None)
    assert "None credentials_provider" in caplog.text
    assert auth.credentials_providers == {}


def test_slow_callback_does_not_delay_other_requests(auth, client, z85):
    slow, _ = z85.curve_keypair()
    fast, _ = z85.curve_keypair()
    provider = Provider(allowed={slow, fast}, delays={slow: 0.5})
    auth.configure_curve_callback("*", provider)
    started = time.monotonic()
    send_request(client, b"CURVE", [_raw(z85, slow)], request_id=b"slow")
    send_request(client, b"CURVE", [_raw(z85, fast)], request_id=b"fast")
    first = read_reply(client)
    first_at = time.monotonic() - started
    second = read_reply(client)
    second_at = time.monotonic() - started
    assert first[1] == b"fast" and first[2] == b"200" and first[4] == fast
    assert second[1] == b"slow" and second[2] == b"200" and second[4] == slow
    assert first_at < 0.25 <= 0.45 <= second_at


def test_callback_failures_give_500(auth, client, z85):
    class Broken:
        def callback(self, domain, key):
            raise RuntimeError("database down")

    auth.configure_curve_callback("*", Broken())
    public, _ = z85.curve_keypair()
    assert zap(client, b"CURVE", [_raw(z85, public)]) == (b"500", b"Internal error", b"")
    # the handler survives
    assert zap(client) == (b"200", b"OK", b"anonymous")


def test_callback_may_return_waitables_and_simple_coroutines(auth, client, z85):
    by_greenlet, _ = z85.curve_keypair()
    by_coroutine, _ = z85.curve_keypair()
    needs_loop, _ = z85.curve_keypair()

    class Mixed:
        def callback(self, domain, key):
            if key == by_greenlet:
                return gevent.spawn(lambda: (gevent.sleep(0.01), True)[1])
            if key == by_coroutine:
                async def check():
                    return True
                return check()
            if key == needs_loop:
                async def check_with_loop():
                    import asyncio
                    await asyncio.sleep(0.01)
                    return True
                return check_with_loop()
            result = gevent.event.AsyncResult()
            result.set(False)
            return result

    auth.configure_curve_callback("*", Mixed())
    assert zap(client, b"CURVE", [_raw(z85, by_greenlet)])[0] == b"200"
    assert zap(client, b"CURVE", [_raw(z85, by_coroutine)])[0] == b"200"
    assert zap(client, b"CURVE", [_raw(z85, needs_loop)])[0] == b"500"
    other, _ = z85.curve_keypair()
    assert zap(client, b"CURVE", [_raw(z85, other)]) == (b"400", b"Unknown key", b"")


def test_allow_any_takes_precedence_over_callback(auth, client, z85):
    # pyzmq's order: allow-any, then providers, then certificate directories
    auth.configure_curve_callback("*", Provider())
    auth.configure_curve("*", CURVE_ALLOW_ANY)
    public, _ = z85.curve_keypair()
    assert zap(client, b"CURVE", [_raw(z85, public)])[0] == b"200"


# ---------------------------------------------------------------------------------------------
# other mechanisms and malformed requests

def test_gssapi_and_unknown_mechanisms_are_denied(auth, client):
    auth.configure_gssapi()
    assert zap(client, b"GSSAPI", [b"principal"]) == (b"400", b"GSSAPI not supported", b"")
    auth.allow("127.0.0.1")
    assert zap(client, b"FOO") == (b"400", b"Unsupported mechanism", b"")


def test_wrong_version(client):
    assert zap(client, version=b"2.0") == (b"400", b"Invalid version", b"")


def test_too_few_frames(client):
    client.send_multipart([b"", b"1.0", b"42", b"domain"])
    assert read_reply(client) == [b"1.0", b"42", b"400", b"Not enough frames", b"", b""]


def test_unanswerable_requests_are_dropped(client, caplog):
    with caplog.at_level(logging.ERROR, logger="gzmq.auth"):
        client.send_multipart([b"", b"1.0"])            # no request id to echo
        client.send_multipart([b"1.0", b"7", b"x"])     # no envelope delimiter at all
        assert zap(client, request_id=b"after") == (b"200", b"OK", b"anonymous")
    assert "not enough information to reply" in caplog.text
    assert "without envelope delimiter" in caplog.text


def test_many_concurrent_requests(ctx, auth):
    auth.configure_plain("*", {f"user{i}": f"pw{i}" for i in range(50)})
    dealers = []
    for _ in range(10):
        sock = ctx.socket(zmq.DEALER)
        sock.linger = 0
        sock.connect(ZAP)
        dealers.append(sock)

    def run(sock, base):
        results = {}
        for i in range(base, base + 20):
            user = f"user{i % 50}"
            password = f"pw{i % 50}" if i % 3 else "wrong"
            send_request(sock, b"PLAIN", [user.encode(), password.encode()],
                         request_id=str(i).encode())
        for _ in range(20):
            _, request_id, code, _, user_id, _ = read_reply(sock)
            results[int(request_id)] = (code, user_id)
        return results

    jobs = [gevent.spawn(run, sock, n * 20) for n, sock in enumerate(dealers)]
    gevent.joinall(jobs, raise_error=True)
    results = {}
    for job in jobs:
        results.update(job.value)
    assert sorted(results) == list(range(200))
    for i, (code, user_id) in results.items():
        if i % 3:
            assert (code, user_id) == (b"200", f"user{i % 50}".encode())
        else:
            assert (code, user_id) == (b"400", b"")
    for sock in dealers:
        sock.close()


def test_handle_zap_message_direct(ctx, auth):
    sock = ctx.socket(zmq.DEALER)
    sock.linger = 0
    sock.routing_id = b"engine-1"
    sock.connect(ZAP)
    sock.send(b"")  # make the ROUTER know the peer
    gevent.sleep(0.01)
    # the ROUTER form (envelope included) ...
    auth.handle_zap_message([b"engine-1", b"", b"1.0", b"9", b"", b"1.2.3.4", b"", b"NULL"])
    assert read_reply(sock) == [b"1.0", b"9", b"200", b"OK", b"anonymous", b""]
    # ... and the REP form with the envelope given separately
    auth.handle_zap_message([b"1.0", b"10", b"", b"1.2.3.4", b"", b"NULL"],
                            envelope=[b"engine-1", b""])
    assert read_reply(sock)[1] == b"10"
    sock.close()


def test_handle_zap_message_when_stopped_is_logged(ctx, caplog):
    a = Authenticator(ctx)
    with caplog.at_level(logging.ERROR, logger="gzmq.auth"):
        a.handle_zap_message([b"1.0", b"1", b"", b"1.2.3.4", b"", b"NULL"])
    assert "not running" in caplog.text


# ---------------------------------------------------------------------------------------------
# life cycle

def _live_greenlets_of(obj):
    found = []
    for item in gc.get_objects():
        if isinstance(item, gevent.Greenlet) and not item.dead:
            run = getattr(item, "_run", None)
            if getattr(run, "__self__", None) is obj:
                found.append(item)
    return found


def test_stop_leaves_no_greenlets(ctx, z85):
    a = Authenticator(ctx)
    a.start()
    assert a.is_alive()
    a.configure_curve_callback("*", Provider(delays={}))
    slow, _ = z85.curve_keypair()
    a.credentials_providers["*"].delays[slow] = 60  # a request that would hang for a minute
    sock = ctx.socket(zmq.DEALER)
    sock.linger = 0
    sock.connect(ZAP)
    send_request(sock, b"CURVE", [_raw(z85, slow)])
    gevent.sleep(0.05)
    server = a._server
    pending = list(a._handlers)
    assert len(pending) == 1 and _live_greenlets_of(a)
    a.stop()
    assert server.dead and all(g.dead for g in pending)
    assert not _live_greenlets_of(a)
    assert a.zap_socket is None and not a.is_alive()
    a.stop()  # idempotent
    # the endpoint is free again: a new authenticator can bind it
    b = Authenticator(ctx)
    b.start()
    sock2 = ctx.socket(zmq.DEALER)
    sock2.connect(ZAP)
    assert zap(sock2) == (b"200", b"OK", b"anonymous")
    b.stop()
    sock.close()
    sock2.close(linger=0)


def test_restart(ctx):
    a = Authenticator(ctx)
    a.start()
    a.start()  # already running: no-op, no EADDRINUSE
    a.stop()
    a.start()
    sock = ctx.socket(zmq.DEALER)
    sock.connect(ZAP)
    assert zap(sock)[0] == b"200"
    a.stop()
    sock.close(linger=0)


def test_second_authenticator_cannot_bind(ctx, auth):
    with pytest.raises(zmq.ZMQError) as info:
        Authenticator(ctx).start()
    assert info.value.errno == zmq.EADDRINUSE


def test_context_term_without_stop():
    context = zmq.Context()
    a = Authenticator(context)
    a.start()
    gevent.sleep(0)
    with gevent.Timeout(5):
        context.term()
    gevent.sleep(0)
    assert not a.is_alive()
    a.stop()


def test_default_context_and_logger():
    a = Authenticator()
    assert a.context is zmq.Context.instance()
    assert a.log is logging.getLogger("gzmq.auth")
    custom = logging.getLogger("my.auth")
    assert Authenticator(log=custom).log is custom


def test_thread_authenticator_alias():
    from gzmq.auth.thread import ThreadAuthenticator
    import gzmq.auth
    assert ThreadAuthenticator is Authenticator
    assert gzmq.auth.CURVE_ALLOW_ANY == "*"
    assert {"Authenticator", "CURVE_ALLOW_ANY", "create_certificates", "load_certificate",
            "load_certificates"} <= set(gzmq.auth.__all__)


# ---------------------------------------------------------------------------------------------
# logging

def test_logs_decisions_without_secrets(auth, client, cert_dir, caplog, z85):
    directory, (alice_public, alice_secret) = cert_dir
    auth.configure_plain("*", {"admin": PASSWORD})
    auth.configure_curve("*", str(directory))
    with caplog.at_level(logging.DEBUG, logger="gzmq.auth"):
        plain(client, "admin", PASSWORD, address=b"192.0.2.7")
        plain(client, "admin", PASSWORD[::-1], address=b"192.0.2.8")
        plain(client, "nobody", PASSWORD, address=b"192.0.2.9")
        zap(client, b"PLAIN", [b"admin", PASSWORD.encode(), b"extra"], address=b"192.0.2.10")
        zap(client, b"PLAIN", [b"admin", PASSWORD.encode()], version=b"0.9")
        zap(client, b"CURVE", [_raw(z85, alice_public)], address=b"192.0.2.11")
    records = [r for r in caplog.records if r.name == "gzmq.auth"]
    text = "\n".join(r.getMessage() for r in records)
    for secret in (PASSWORD, PASSWORD[::-1], alice_secret.decode()):
        assert secret not in text
    allowed = [r.getMessage() for r in records if r.levelno == logging.DEBUG
               and "ALLOWED" in r.getMessage()]
    denied = [r.getMessage() for r in records if r.levelno >= logging.WARNING
              and "DENIED" in r.getMessage()]
    assert any("192.0.2.7" in m and "PLAIN" in m for m in allowed)
    assert any("192.0.2.11" in m and "CURVE" in m for m in allowed)
    for address in ("192.0.2.8", "192.0.2.9", "192.0.2.10"):
        assert any(address in m and "PLAIN" in m for m in denied), (address, denied)


# ---------------------------------------------------------------------------------------------
# end to end: real PLAIN / CURVE handshakes over tcp, the engine asking this authenticator

def _pair(ctx, server_options, client_options):
    server = ctx.socket(zmq.PULL)
    client = ctx.socket(zmq.PUSH)
    for sock, options in ((server, server_options), (client, client_options)):
        sock.linger = 0
        for name, value in options.items():
            setattr(sock, name, value)
    port = server.bind_to_random_port("tcp://127.0.0.1")
    client.connect(f"tcp://127.0.0.1:{port}")
    return server, client


def test_end_to_end_plain(ctx, auth):
    auth.configure_plain("*", {"admin": PASSWORD})
    server, client = _pair(ctx, {"plain_server": True},
                           {"plain_username": b"admin", "plain_password": PASSWORD.encode()})
    client.send(b"hello")
    assert server.poll(5000)
    frame = server.recv(copy=False)
    assert frame.bytes == b"hello" and frame.get("User-Id") == "admin"
    server2, intruder = _pair(ctx, {"plain_server": True},
                              {"plain_username": b"admin", "plain_password": b"guess"})
    intruder.send(b"let me in")
    assert server2.poll(300) == 0


def test_end_to_end_curve(ctx, auth, tmp_path):
    clients = tmp_path / "clients"
    clients.mkdir()
    _, client_secret_file = create_certificates(clients, "client")
    _, server_secret_file = create_certificates(tmp_path, "server")
    client_public, client_secret = load_certificate(client_secret_file)
    server_public, server_secret = load_certificate(server_secret_file)
    auth.configure_curve("*", str(clients))
    server_options = {"curve_server": True, "curve_secretkey": server_secret,
                      "curve_publickey": server_public}
    server, client = _pair(ctx, server_options, {
        "curve_serverkey": server_public, "curve_publickey": client_public,
        "curve_secretkey": client_secret})
    client.send(b"hello")
    assert server.poll(5000)
    frame = server.recv(copy=False)
    assert frame.bytes == b"hello" and frame.get("User-Id") == client_public.decode()
    (clients / "client.key").unlink()
    auth.configure_curve("*", str(clients))  # the client's key is no longer known
    server2, late = _pair(ctx, server_options, {
        "curve_serverkey": server_public, "curve_publickey": client_public,
        "curve_secretkey": client_secret})
    late.send(b"again")
    assert server2.poll(300) == 0
