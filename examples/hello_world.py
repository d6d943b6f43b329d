"""Hello World over REQ/REP (the zguide's hwserver + hwclient in one script).

A server greenlet binds a REP socket and answers every "Hello" with "World".
The client, in the main greenlet, connects a REQ socket and makes ten
requests, waiting for each reply before sending the next one (REQ/REP is
strictly lock-step). While either side waits, gevent runs the other.

Shows: REQ/REP, bind_to_random_port, RCVTIMEO on the client, stopping a
server greenlet with kill().

Run:  python examples/hello_world.py
"""

import sys

import gevent

import gzmq as zmq

REQUESTS = 10
TIMEOUT = 10  # seconds; the whole demo must finish well before this


def server(socket):
    """Reply "World" to every "Hello", forever (until killed)."""
    try:
        while True:
            message = socket.recv()
            print(f"server: received request: {message.decode()}")
            gevent.sleep(0.01)  # do some 'work'
            socket.send(b"World")
    finally:
        socket.close()


def main():
    ctx = zmq.Context()

    rep = ctx.socket(zmq.REP)
    port = rep.bind_to_random_port("tcp://127.0.0.1")
    print(f"server: listening on tcp://127.0.0.1:{port}")
    server_greenlet = gevent.spawn(server, rep)

    print("client: connecting to hello world server...")
    req = ctx.socket(zmq.REQ)
    req.setsockopt(zmq.RCVTIMEO, 2000)  # a missing reply raises zmq.Again
    req.connect(f"tcp://127.0.0.1:{port}")

    replies = 0
    try:
        with gevent.Timeout(TIMEOUT):
            for request in range(REQUESTS):
                print(f"client: sending request {request}...")
                req.send_string("Hello")
                reply = req.recv_string()
                print(f"client: received reply {request} [ {reply} ]")
                replies += 1
    except gevent.Timeout:
        print(f"hello_world: FAILED, not done after {TIMEOUT}s", file=sys.stderr)
    finally:
        req.close()
        server_greenlet.kill()  # raises GreenletExit inside the blocked recv()
        ctx.term()

    print(f"hello_world: {replies}/{REQUESTS} requests answered")
    return 0 if replies == REQUESTS else 1


if __name__ == "__main__":
    sys.exit(main())
