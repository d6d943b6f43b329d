"""A legacy gevent application written for pyzmq's ``zmq.green``, not for gzmq.

Nothing below mentions gzmq. Run it on gzmq, unchanged, with:

    python -m gzmq.run examples/green_legacy_app.py

which makes ``import zmq`` / ``import zmq.green`` (and ``zmq.devices``...) import gzmq, here
and in the subprocess it starts. What it does:

    4 clients (REQ greenlets) + 1 client subprocess (REQ)
        --> QUEUE device (zmq.devices.ThreadDevice, ROUTER/DEALER)
        --> 3 workers (REP greenlets): count the words of a line
    workers --PUB inproc--> a tally greenlet (SUB) that counts the jobs each worker did

It checks every answer, prints which zmq it ran on (``zmq.__name__``, and the module of
``zmq.Context``) in the parent and in the subprocess, and exits 0 when all went well.
Under pyzmq's own zmq.green this program does not finish: zmq.devices.ThreadDevice runs
libzmq's blocking proxy in a monkey-patched thread (a greenlet), which freezes the hub.

    python examples/green_legacy_app.py --client <endpoint> <name>   (the subprocess part)
"""

from gevent import monkey

monkey.patch_all()

import subprocess  # noqa: E402  (imports follow patch_all, as zmq.green apps do)
import sys  # noqa: E402
import time  # noqa: E402

import gevent  # noqa: E402
import gevent.event  # noqa: E402
import zmq.green as zmq  # noqa: E402
from zmq import devices  # noqa: E402

WORKERS = 3
CLIENTS = 4
JOBS_PER_CLIENT = 5
LINES = [
    "the quick brown fox",
    "jumps over the lazy dog",
    "zero m q",
    "a single word",
    "greenlets all the way down",
]


def which_zmq():
    return f"zmq.__name__={zmq.__name__} Context.__module__={zmq.Context.__module__}"


def worker(ctx, name, backend, stop):
    rep = ctx.socket(zmq.REP)
    rep.connect(backend)
    tally = ctx.socket(zmq.PUB)
    tally.connect("inproc://tally")
    poller = zmq.Poller()
    poller.register(rep, zmq.POLLIN)
    while not stop.is_set():
        if not dict(poller.poll(50)):
            continue
        line = rep.recv_string()
        time.sleep(0.001)  # patched: yields, like any legacy "work"
        rep.send_string(str(len(line.split())))
        tally.send_string(name)
    rep.close()
    tally.close()


def client(ctx, frontend, index):
    req = ctx.socket(zmq.REQ)
    req.connect(frontend)
    answers = []
    for job in range(JOBS_PER_CLIENT):
        line = LINES[(index + job) % len(LINES)]
        req.send_string(line)
        answers.append((line, int(req.recv_string())))
    req.close()
    return answers


def tally_counter(ctx, counts, stop):
    sub = ctx.socket(zmq.SUB)
    sub.bind("inproc://tally")
    sub.setsockopt_string(zmq.SUBSCRIBE, "")
    while not stop.is_set():
        if sub.poll(50):
            name = sub.recv_string()
            counts[name] = counts.get(name, 0) + 1
    sub.close()


def run_client_process(frontend):
    """The same client, in a child process started with this interpreter."""
    out = subprocess.run([sys.executable, __file__, "--client", frontend, "subprocess"],
                         capture_output=True, text=True, timeout=60)
    if out.returncode != 0:
        raise RuntimeError(f"client subprocess failed ({out.returncode}): {out.stderr}")
    return out.stdout


def main():
    print(f"parent: {which_zmq()}")
    ctx = zmq.Context.instance()
    stop = gevent.event.Event()

    queue = devices.ThreadDevice(zmq.QUEUE, zmq.ROUTER, zmq.DEALER)
    front = queue.bind_in_to_random_port("tcp://127.0.0.1")
    back = queue.bind_out_to_random_port("tcp://127.0.0.1")
    queue.start()
    frontend, backend = f"tcp://127.0.0.1:{front}", f"tcp://127.0.0.1:{back}"

    counts = {}
    tally = gevent.spawn(tally_counter, ctx, counts, stop)
    gevent.sleep(0.05)  # the tally binds inproc first
    workers = [gevent.spawn(worker, ctx, f"worker-{n}", backend, stop)
               for n in range(1, WORKERS + 1)]
    clients = [gevent.spawn(client, ctx, frontend, n) for n in range(CLIENTS)]
    child = gevent.spawn(run_client_process, frontend)

    gevent.joinall(clients + [child], timeout=30, raise_error=True)
    if not all(c.ready() for c in clients + [child]):
        print("green_legacy_app: FAILED, clients did not finish", file=sys.stderr)
        return 1
    wrong = [(line, got) for c in clients for line, got in c.value
             if got != len(line.split())]
    print(child.value.strip())
    gevent.sleep(0.1)  # let the last tallies arrive
    stop.set()
    gevent.joinall(workers + [tally], timeout=5)
    done = sum(counts.values())
    expected = (CLIENTS + 1) * JOBS_PER_CLIENT
    print(f"parent: {CLIENTS * JOBS_PER_CLIENT} answers checked, workers did {done} jobs: "
          f"{dict(sorted(counts.items()))}")
    ctx.term()  # ends the queue device too (its context is this one)
    queue.join(5)
    if wrong or done != expected or "subprocess: ok" not in child.value:
        print(f"green_legacy_app: FAILED wrong={wrong} done={done}/{expected}", file=sys.stderr)
        return 1
    print("green_legacy_app: ok")
    return 0


def client_process(frontend, name):
    ctx = zmq.Context()
    answers = client(ctx, frontend, 0)
    ctx.term()
    ok = all(got == len(line.split()) for line, got in answers)
    print(f"{name}: {which_zmq()}")
    print(f"{name}: {'ok' if ok else 'WRONG'} {len(answers)} answers")
    return 0 if ok else 1


if __name__ == "__main__":
    if sys.argv[1:2] == ["--client"]:
        sys.exit(client_process(sys.argv[2], sys.argv[3]))
    sys.exit(main())
