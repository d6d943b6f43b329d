"""A scripted chat room: one ROUTER server, several DEALER clients.

Each client is a greenlet with its own DEALER socket whose ROUTING_ID is the
client's name. It sends JOIN, then says its scripted lines one at a time,
listening (with poll) between lines and printing everything it hears, and
sends LEAVE once it has heard every other client's lines.

The ROUTER server sees each message prefixed with the sender's routing id. It
relays every line to all other members ([member, sender, text]) and keeps a
history, which it replays to late joiners, so nobody misses a line whatever the
join order. The server stops when the room is empty again.

Message frames:  client -> server  [b"JOIN"] | [b"SAY", text] | [b"LEAVE"]
                 server -> client  [sender, text]

Run:  python examples/chat.py
"""

import random
import sys

import gevent

import gzmq as zmq

SCRIPT = {
    "alice": ["Hi all, anyone up for lunch?", "Noon at the usual place?", "Great, see you there!"],
    "bob": ["Hey alice!", "Lunch sounds good.", "Noon works for me."],
    "carol": ["Count me in.", "I'll be 5 minutes late."],
    "dave": ["Sorry, can't make it today.", "Have fun!"],
}
TIMEOUT = 10  # seconds; the whole demo must finish well before this


def server(socket):
    """Relay each line to every other member until the room is empty."""
    members = []  # routing ids, in join order
    history = []  # (sender, text) of every line said so far
    ever_joined = False
    while members or not ever_joined:
        identity, command, *rest = socket.recv_multipart()
        name = identity.decode()
        if command == b"JOIN":
            members.append(identity)
            ever_joined = True
            print(f"server: {name} joined, replaying {len(history)} earlier lines")
            for sender, text in history:
                socket.send_multipart([identity, sender, text])
        elif command == b"SAY":
            text = rest[0]
            history.append((identity, text))
            for member in members:
                if member != identity:
                    socket.send_multipart([member, identity, text])
        elif command == b"LEAVE":
            members.remove(identity)
            print(f"server: {name} left")
    print(f"server: room is empty, {len(history)} lines relayed")


def client(ctx, endpoint, name, lines, expected):
    """Say our lines, print what others say; leave after hearing `expected` lines."""
    socket = ctx.socket(zmq.DEALER)
    socket.setsockopt(zmq.ROUTING_ID, name.encode())
    socket.connect(endpoint)
    socket.send(b"JOIN")

    heard = []
    to_say = list(lines)
    while to_say or len(heard) < expected:
        if to_say:
            text = to_say.pop(0)
            print(f"[{name}] says: {text}")
            socket.send_multipart([b"SAY", text.encode()])
        # Listen for a little while before saying the next line.
        while socket.poll(timeout=random.randint(10, 50)):
            sender, text = socket.recv_multipart()
            heard.append((sender.decode(), text.decode()))
            print(f"[{name}] hears {sender.decode()}: {text.decode()}")

    socket.send(b"LEAVE")
    socket.close()  # default linger: LEAVE (and our last line) still get delivered
    return heard


def main():
    ctx = zmq.Context()
    router = ctx.socket(zmq.ROUTER)
    router.bind("tcp://127.0.0.1:*")
    endpoint = router.getsockopt_string(zmq.LAST_ENDPOINT)
    print(f"server: chat room open on {endpoint}")
    server_greenlet = gevent.spawn(server, router)

    clients = {}
    for name, lines in SCRIPT.items():
        expected = sum(len(other) for who, other in SCRIPT.items() if who != name)
        clients[name] = gevent.spawn(client, ctx, endpoint, name, lines, expected)

    try:
        with gevent.Timeout(TIMEOUT):
            transcripts = {name: g.get() for name, g in clients.items()}
            server_greenlet.get()
    except gevent.Timeout:
        print(f"chat: FAILED, not done after {TIMEOUT}s", file=sys.stderr)
        return 1
    finally:
        gevent.killall([server_greenlet] + list(clients.values()))
        router.close(linger=0)
        ctx.term()

    ok = True
    for name, heard in transcripts.items():
        should_hear = {(who, line) for who, lines in SCRIPT.items() if who != name for line in lines}
        missing = should_hear - set(heard)
        got = len(should_hear) - len(missing)
        print(f"chat: {name} heard {got}/{len(should_hear)} lines from the others")
        ok = ok and not missing and len(heard) == len(should_hear)
    if not ok:
        print("chat: FAILED, some lines were lost or duplicated")
        return 1
    print("chat: every client saw every other client's lines")
    return 0


if __name__ == "__main__":
    sys.exit(main())
