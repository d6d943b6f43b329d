"""Parallel pipeline: ventilator -> workers -> sink (the zguide's taskvent,
taskwork2 and tasksink2 in one script).

* The ventilator tells the sink "START n", then PUSHes a batch of n tasks;
  each task is "task_id workload_ms".
* WORKERS worker greenlets PULL tasks (PUSH round-robins them), "work" by
  sleeping for the workload, and PUSH "DONE task_id worker_name" to the sink.
* The sink PULLs the results, checks that every task arrived exactly once,
  prints the elapsed time, then broadcasts "KILL" on a PUB control socket.
* Each worker polls its task socket and the control socket with a Poller and
  exits when it hears "KILL".

Tasks and results travel over TCP on 127.0.0.1; the kill signal uses inproc.

Run:  python examples/pipeline.py
"""

import random
import sys
import time
from collections import Counter

import gevent
import gevent.event

import gzmq as zmq

TASKS = 100
WORKERS = 4
CONTROL = "inproc://pipeline-control"
TIMEOUT = 15  # seconds; the whole demo must finish well before this


def ventilator(ctx, sender, sink_endpoint):
    """Send a batch of TASKS tasks to the workers."""
    # Tell the sink that the batch starts (and how big it is).
    start = ctx.socket(zmq.PUSH)
    start.connect(sink_endpoint)
    start.send_string(f"START {TASKS}")
    start.close()

    total_ms = 0
    for task_id in range(TASKS):
        workload = random.randint(1, 10)  # milliseconds
        total_ms += workload
        sender.send_string(f"{task_id} {workload}")
    print(f"ventilator: sent {TASKS} tasks, total expected cost {total_ms} ms")
    sender.close()


def worker(ctx, name, vent_endpoint, sink_endpoint):
    """Process tasks until the sink broadcasts KILL."""
    receiver = ctx.socket(zmq.PULL)
    receiver.connect(vent_endpoint)
    sender = ctx.socket(zmq.PUSH)
    sender.connect(sink_endpoint)
    controller = ctx.socket(zmq.SUB)
    controller.connect(CONTROL)
    controller.setsockopt(zmq.SUBSCRIBE, b"")

    poller = zmq.Poller()
    poller.register(receiver, zmq.POLLIN)
    poller.register(controller, zmq.POLLIN)

    done = 0
    try:
        while True:
            events = dict(poller.poll(1000))
            if receiver in events:
                task_id, workload = receiver.recv_string().split()
                gevent.sleep(int(workload) / 1000.0)  # do the work
                sender.send_string(f"DONE {task_id} {name}")
                done += 1
            if controller in events:
                controller.recv()  # "KILL"
                break
    finally:
        receiver.close()
        sender.close()
        controller.close()
    print(f"{name}: got KILL after {done} tasks")
    return done


def sink(receiver, controller):
    """Collect one result per task, report, then tell the workers to stop."""
    expected = None
    started = time.monotonic()
    seen = set()
    per_worker = Counter()
    # The START message comes over its own connection, so a fast worker's first
    # result may overtake it: accept both kinds of message in any order.
    while expected is None or len(seen) < expected:
        kind, *fields = receiver.recv_string().split()
        if kind == "START":
            expected = int(fields[0])
            started = time.monotonic()
        else:
            task_id, worker_name = fields
            assert task_id not in seen, f"task {task_id} delivered twice"
            seen.add(task_id)
            per_worker[worker_name] += 1
    elapsed_ms = (time.monotonic() - started) * 1000

    print(f"sink: {len(seen)}/{expected} tasks done in {elapsed_ms:.0f} ms")
    print("sink: tasks per worker: " + ", ".join(f"{w}={n}" for w, n in sorted(per_worker.items())))
    controller.send(b"KILL")
    return seen


def main():
    ctx = zmq.Context()

    # Bind the stable parts of the pipeline first: ventilator, sink, control.
    vent_sender = ctx.socket(zmq.PUSH)
    vent_sender.bind("tcp://127.0.0.1:*")
    vent_endpoint = vent_sender.getsockopt_string(zmq.LAST_ENDPOINT)
    sink_receiver = ctx.socket(zmq.PULL)
    sink_receiver.setsockopt(zmq.RCVTIMEO, 5000)  # a lost task raises zmq.Again
    sink_receiver.bind("tcp://127.0.0.1:*")
    sink_endpoint = sink_receiver.getsockopt_string(zmq.LAST_ENDPOINT)
    sink_controller = ctx.socket(zmq.PUB)
    sink_controller.bind(CONTROL)
    print(f"pipeline: ventilator on {vent_endpoint}, sink on {sink_endpoint}")

    names = [f"worker-{i}" for i in range(1, WORKERS + 1)]
    workers = [gevent.spawn(worker, ctx, n, vent_endpoint, sink_endpoint) for n in names]
    sink_greenlet = gevent.spawn(sink, sink_receiver, sink_controller)
    # The zguide asks you to "press Enter when the workers are ready"; we just give
    # them a moment to connect so the tasks get spread over all of them.
    gevent.sleep(0.2)
    vent_greenlet = gevent.spawn(ventilator, ctx, vent_sender, sink_endpoint)

    everyone = [vent_greenlet, sink_greenlet] + workers
    try:
        with gevent.Timeout(TIMEOUT):
            seen = sink_greenlet.get()
            vent_greenlet.get()
            done = sum(w.get() for w in workers)
    except gevent.Timeout:
        print(f"pipeline: FAILED, not done after {TIMEOUT}s", file=sys.stderr)
        return 1
    finally:
        gevent.killall(everyone)
        sink_receiver.close()
        sink_controller.close()
        vent_sender.close()
        ctx.term()

    if seen != {str(i) for i in range(TASKS)} or done != TASKS:
        print(f"pipeline: FAILED, sink saw {len(seen)} tasks, workers did {done}")
        return 1
    print(f"pipeline: all {TASKS} tasks arrived")
    return 0


if __name__ == "__main__":
    sys.exit(main())
