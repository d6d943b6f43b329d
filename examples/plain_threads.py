"""A plain pyzmq program: OS threads, time.sleep, one shared Context, no gevent in sight.

Written exactly as pyzmq code is (``import zmq``), in the style of the ZeroMQ guide's mtserver
and sleeping publishers. Run it on gzmq, unchanged, with::

    python -m gzmq.run examples/plain_threads.py

There ``import zmq`` gives gzmq, and the Context gets an I/O thread of its own, as libzmq's
does, so I/O goes on while these threads sleep or block (see the README's I/O modes).

- a ROUTER/DEALER queue (``zmq.proxy``) in a thread, in front of three REP worker threads
  reached over inproc;
- three REQ client threads over tcp, each sending requests with time.sleep() between them;
- a publisher that sends one update, then sleeps, while a SUB thread listens;
- the main thread polls with NOBLOCK and time.sleep() until everything is in, then ends it all
  with ``ctx.term()`` from the main thread.
"""

import threading
import time

import zmq

REQUESTS_PER_CLIENT = 5
UPDATES = 10


def worker(ctx, number):
    rep = ctx.socket(zmq.REP)
    rep.connect("inproc://workers")
    try:
        while True:
            request = rep.recv()
            time.sleep(0.001)  # "work"
            rep.send(b"worker %d did %s" % (number, request))
    except zmq.ContextTerminated:
        rep.close()


def queue(ctx, frontend_address):
    frontend = ctx.socket(zmq.ROUTER)
    frontend.bind(frontend_address)
    backend = ctx.socket(zmq.DEALER)
    backend.bind("inproc://workers")
    try:
        zmq.proxy(frontend, backend)
    except zmq.ContextTerminated:
        frontend.close()
        backend.close()


def client(ctx, number, endpoint, answers):
    req = ctx.socket(zmq.REQ)
    req.connect(endpoint)
    for index in range(REQUESTS_PER_CLIENT):
        req.send(b"request %d.%d" % (number, index))
        answers.append(req.recv())
        time.sleep(0.01)
    req.close()


def subscriber(ctx, endpoint, updates):
    sub = ctx.socket(zmq.SUB)
    sub.connect(endpoint)
    sub.setsockopt(zmq.SUBSCRIBE, b"update")
    sub.rcvtimeo = 3000
    try:
        while True:
            updates.append(sub.recv())
    except (zmq.Again, zmq.ContextTerminated):
        sub.close()


def main():
    ctx = zmq.Context()
    frontend_address = "tcp://127.0.0.1:5591"
    threading.Thread(target=queue, args=(ctx, frontend_address), daemon=True).start()
    time.sleep(0.1)  # let the queue bind inproc://workers before the workers connect
    for number in range(3):
        threading.Thread(target=worker, args=(ctx, number), daemon=True).start()

    answers = []
    clients = [threading.Thread(target=client, args=(ctx, n, frontend_address, answers))
               for n in range(3)]
    for thread in clients:
        thread.start()

    pub = ctx.socket(zmq.PUB)
    pub.bind("tcp://127.0.0.1:5592")
    updates = []
    listener = threading.Thread(target=subscriber,
                                args=(ctx, "tcp://127.0.0.1:5592", updates))
    listener.start()
    time.sleep(0.3)  # the slow joiner: give the subscription time to arrive
    for index in range(UPDATES):
        pub.send(b"update %d" % index)
        time.sleep(0.05)  # the publisher sleeps; its I/O must not

    # the main thread polls without blocking, sleeping in between, as plain programs do
    deadline = time.monotonic() + 10
    while len(answers) < 3 * REQUESTS_PER_CLIENT and time.monotonic() < deadline:
        time.sleep(0.01)
    for thread in clients:
        thread.join()
    listener.join()
    pub.close()
    print(f"plain_threads: {len(answers)} answers, {len(updates)} updates")
    ctx.term()  # from the main thread: the workers and the queue see ContextTerminated
    ok = len(answers) == 3 * REQUESTS_PER_CLIENT and len(updates) == UPDATES
    print("plain_threads: ok" if ok else "plain_threads: FAILED")
    raise SystemExit(0 if ok else 1)


if __name__ == "__main__":
    main()
