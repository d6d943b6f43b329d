"""Encrypted, authenticated PUB/SUB with CURVE (the zguide's "Ironhouse" pattern).

1. Certificates are generated into a temporary directory with
   gzmq.auth.create_certificates: one for the server, one for the allowed client and one for an
   intruder. Only the allowed client's *public* certificate is copied into the directory of
   authorized clients.
2. An Authenticator (a ZAP handler served by greenlets) accepts CURVE clients whose public key
   is in that directory, and nobody else.
3. A PUB socket is a CURVE server (it needs its secret key); it publishes numbered updates.
4. The allowed SUB client (its own keypair plus the server's public key) receives updates.
5. The intruder's SUB client knows the server's public key too, but its key is not authorized:
   the server answers its handshake with ERROR 400, the client's monitor socket reports
   HANDSHAKE_FAILED_AUTH 400, it never receives anything and does not reconnect.

Everything has a deadline, so the demo ends by itself in a couple of seconds. Security events
are logged by gzmq (loggers "gzmq.auth" and "gzmq.security") to stderr; they name the peer
address and mechanism but never a secret key.

Run:  python examples/curve_pubsub.py
"""

import logging
import os
import shutil
import sys
import tempfile

import gevent
import gevent.event

import gzmq as zmq
from gzmq.auth import Authenticator, create_certificates, load_certificate
from gzmq.utils.monitor import recv_monitor_message

UPDATES_WANTED = 10
RECEIVE_TIMEOUT = 5.0  # s: the allowed client must get its updates within this
REFUSAL_TIMEOUT = 3.0  # s: the intruder's refusal must be reported within this
QUIET_PERIOD = 0.5  # s: after the refusal, the intruder must still receive nothing


def make_certificates(base_dir):
    """Server, client and intruder certificates; only the client's public one is authorized."""
    keys_dir = os.path.join(base_dir, "certificates")
    authorized_dir = os.path.join(base_dir, "authorized_clients")
    os.mkdir(keys_dir)
    os.mkdir(authorized_dir)
    secret_files = {}
    for name in ("server", "client", "intruder"):
        public_file, secret_file = create_certificates(keys_dir, name)
        secret_files[name] = secret_file
    shutil.copy(os.path.join(keys_dir, "client.key"), authorized_dir)
    return secret_files, authorized_dir


def publisher(socket, stop):
    """Publish numbered updates every 10 ms until told to stop; return how many were sent."""
    sent = 0
    while not stop.is_set():
        sent += 1
        socket.send_string(f"update {sent}")
        gevent.sleep(0.01)
    return sent


def subscriber(ctx, endpoint, server_public, keypair):
    """A CURVE SUB socket subscribed to everything, monitored; connected last."""
    socket = ctx.socket(zmq.SUB)
    socket.curve_publickey, socket.curve_secretkey = keypair
    socket.curve_serverkey = server_public
    socket.setsockopt(zmq.SUBSCRIBE, b"")
    monitor = socket.get_monitor_socket()
    socket.connect(endpoint)
    return socket, monitor


def receive_updates(socket, wanted, timeout):
    """Up to ``wanted`` updates, each awaited at most ``timeout`` seconds."""
    updates = []
    while len(updates) < wanted and socket.poll(int(timeout * 1000)):
        updates.append(socket.recv_string())
    return updates


def wait_for_auth_failure(monitor, timeout):
    """Monitor events up to the first HANDSHAKE_FAILED_AUTH (or ``timeout``) and its status."""
    events = []
    with gevent.Timeout(timeout, False):
        while True:
            events.append(recv_monitor_message(monitor))
            if events[-1]["event"] == zmq.EVENT_HANDSHAKE_FAILED_AUTH:
                return events, events[-1]["value"]
    return events, None


def pending_events(monitor):
    """Monitor events already queued, without waiting."""
    events = []
    while monitor.poll(0):
        events.append(recv_monitor_message(monitor))
    return events


def main():
    logging.basicConfig(level=logging.WARNING, format="log: %(name)s: %(message)s")
    base_dir = tempfile.mkdtemp(prefix="curve_pubsub-")
    ctx = zmq.Context()
    auth = Authenticator(ctx)
    sockets = []
    stop = gevent.event.Event()
    pub_greenlet = None
    try:
        secret_files, authorized_dir = make_certificates(base_dir)
        print(f"curve_pubsub: certificates generated in {base_dir}")

        auth.start()
        auth.allow("127.0.0.1")
        auth.configure_curve(domain="*", location=authorized_dir)
        client_public, client_secret = load_certificate(secret_files["client"])
        print(f"authenticator: only client key {client_public.decode()} is allowed")

        server_public, server_secret = load_certificate(secret_files["server"])
        pub = ctx.socket(zmq.PUB)
        sockets.append(pub)
        pub.curve_secretkey = server_secret
        pub.curve_publickey = server_public
        pub.curve_server = True
        pub.bind("tcp://127.0.0.1:*")
        endpoint = pub.getsockopt_string(zmq.LAST_ENDPOINT)
        print(f"server: CURVE PUB bound to {endpoint}, public key {server_public.decode()}")
        pub_greenlet = gevent.spawn(publisher, pub, stop)

        allowed, allowed_monitor = subscriber(ctx, endpoint, server_public,
                                              (client_public, client_secret))
        intruder_keys = load_certificate(secret_files["intruder"])
        refused, refused_monitor = subscriber(ctx, endpoint, server_public, intruder_keys)
        sockets += [allowed, allowed_monitor, refused, refused_monitor]

        updates = receive_updates(allowed, UPDATES_WANTED, RECEIVE_TIMEOUT)
        if updates:
            print(f"allowed client: first {updates[0]!r}, last {updates[-1]!r}")

        events, status = wait_for_auth_failure(refused_monitor, REFUSAL_TIMEOUT)
        intruded = receive_updates(refused, 1, QUIET_PERIOD)
        events += pending_events(refused_monitor)
        connects = sum(1 for event in events if event["event"] == zmq.EVENT_CONNECTED)
        print(f"refused client: connected {connects} time(s), monitor reported "
              f"HANDSHAKE_FAILED_AUTH {status}")
        stop.set()
        sent = pub_greenlet.get(timeout=2)
        print(f"server: published {sent} updates")

        print(f"allowed client received {len(updates)} messages")
        if intruded:
            print(f"refused client received {len(intruded)} messages")
        elif status is None:
            print("refused client received nothing (no refusal reported)")
        else:
            print(f"refused client received nothing (handshake refused: {status})")
        ok = (len(updates) == UPDATES_WANTED and not intruded and status == 400
              and connects == 1)
        print("curve_pubsub: done" if ok else "curve_pubsub: FAILED")
        return 0 if ok else 1
    finally:
        stop.set()
        if pub_greenlet is not None:
            pub_greenlet.kill()
        for socket in sockets:
            socket.close(linger=0)
        auth.stop()
        ctx.term()
        shutil.rmtree(base_dir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
