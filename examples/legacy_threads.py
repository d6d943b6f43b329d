"""A "legacy" threaded application running unchanged on gevent.

The code below is written the old-fashioned way: threading.Thread subclasses,
queue.Queue, time.sleep, threading.Event. The first two lines monkey-patch the
standard library, so every thread is really a greenlet and every blocking call
(including gzmq socket calls) just yields to the gevent hub.

    main --queue.Queue--> dispatcher --PUSH inproc://jobs--> 4 x Worker
    Worker --PUSH tcp://127.0.0.1:<port>--> collector --queue.Queue--> main
    main --REQ tcp--> health (REP)   "PING" -> "PONG <results so far>"

Each thread creates, uses and closes its own sockets (the classic ZeroMQ rule);
they all share one Context. Threads poll their sockets with a timeout and check
a threading.Event, so main can stop and join them all at the end (they are
daemon threads too, so a bug can never keep the process alive).

Run:  python examples/legacy_threads.py
"""

from gevent import monkey

monkey.patch_all()

import queue  # noqa: E402  (imports must follow patch_all)
import random  # noqa: E402
import sys  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402

import gzmq as zmq  # noqa: E402

JOBS = 20
WORKERS = 4
JOBS_ENDPOINT = "inproc://jobs"
JOIN_TIMEOUT = 5.0  # seconds

ctx = zmq.Context()
stop = threading.Event()
results_seen = 0  # updated by the collector, reported by the health check
results_lock = threading.Lock()


class Dispatcher(threading.Thread):
    """Take jobs from a queue.Queue and PUSH them to the workers (None = done)."""

    def __init__(self, jobs, ready):
        super().__init__(name="dispatcher", daemon=True)
        self.jobs = jobs
        self.ready = ready

    def run(self):
        sender = ctx.socket(zmq.PUSH)
        sender.bind(JOBS_ENDPOINT)
        self.ready.set()
        handed_out = 0
        while not stop.is_set():
            try:
                job = self.jobs.get(timeout=0.1)
            except queue.Empty:
                continue
            if job is None:
                break
            sender.send_json(job)
            handed_out += 1
        sender.close()  # default linger: queued jobs are still delivered
        print(f"dispatcher: handed out {handed_out} jobs")


class Worker(threading.Thread):
    """PULL jobs, square the number, PUSH the result to the collector."""

    def __init__(self, name, collector_endpoint):
        super().__init__(name=name, daemon=True)
        self.collector_endpoint = collector_endpoint
        self.done = 0

    def run(self):
        receiver = ctx.socket(zmq.PULL)
        receiver.connect(JOBS_ENDPOINT)
        sender = ctx.socket(zmq.PUSH)
        sender.connect(self.collector_endpoint)
        while not stop.is_set():
            if not receiver.poll(timeout=100):
                continue
            job = receiver.recv_json()
            time.sleep(random.uniform(0.001, 0.02))  # "slow" legacy work
            sender.send_json({"id": job["id"], "n": job["n"], "square": job["n"] ** 2, "worker": self.name})
            self.done += 1
        receiver.close()
        sender.close()
        print(f"{self.name}: stopping after {self.done} jobs")


class Collector(threading.Thread):
    """PULL results from all workers and put them on a queue.Queue for main."""

    def __init__(self, results, endpoint_box):
        super().__init__(name="collector", daemon=True)
        self.results = results
        self.endpoint_box = endpoint_box

    def run(self):
        global results_seen
        receiver = ctx.socket(zmq.PULL)
        port = receiver.bind_to_random_port("tcp://127.0.0.1")
        self.endpoint_box.put(f"tcp://127.0.0.1:{port}")
        while not stop.is_set():
            if receiver.poll(timeout=100):
                result = receiver.recv_json()
                with results_lock:
                    results_seen += 1
                self.results.put(result)
        receiver.close()
        print("collector: stopping")


class Health(threading.Thread):
    """Answer "PING" with "PONG <results so far>" on a REP socket."""

    def __init__(self, endpoint_box):
        super().__init__(name="health", daemon=True)
        self.endpoint_box = endpoint_box

    def run(self):
        rep = ctx.socket(zmq.REP)
        port = rep.bind_to_random_port("tcp://127.0.0.1")
        self.endpoint_box.put(f"tcp://127.0.0.1:{port}")
        while not stop.is_set():
            if rep.poll(timeout=100):
                request = rep.recv_string()
                with results_lock:
                    count = results_seen
                rep.send_string(f"PONG {count}" if request == "PING" else "ERROR")
        rep.close()
        print("health: stopping")


def health_check(endpoint):
    req = ctx.socket(zmq.REQ)
    req.setsockopt(zmq.RCVTIMEO, 2000)
    req.setsockopt(zmq.LINGER, 0)
    req.connect(endpoint)
    try:
        req.send_string("PING")
        return req.recv_string()
    finally:
        req.close()


def run(threads):
    """Start the threads (appending them to `threads`), feed the jobs, gather the results."""
    jobs = queue.Queue()
    results = queue.Queue()
    endpoints = queue.Queue()

    # Start the binding side first and wait until it is ready, like any legacy app.
    ready = threading.Event()
    dispatcher = Dispatcher(jobs, ready)
    threads.append(dispatcher)
    dispatcher.start()
    ready.wait(JOIN_TIMEOUT)
    collector = Collector(results, endpoints)
    threads.append(collector)
    collector.start()
    collector_endpoint = endpoints.get(timeout=JOIN_TIMEOUT)
    health = Health(endpoints)
    threads.append(health)
    health.start()
    health_endpoint = endpoints.get(timeout=JOIN_TIMEOUT)

    workers = [Worker(f"worker-{i}", collector_endpoint) for i in range(1, WORKERS + 1)]
    threads.extend(workers)
    for w in workers:
        w.start()

    print(f"main: health check before work: {health_check(health_endpoint)}")
    for job_id in range(JOBS):
        jobs.put({"id": job_id, "n": job_id + 1})
    jobs.put(None)

    answers = {}
    for _ in range(JOBS):
        result = results.get(timeout=JOIN_TIMEOUT)  # queue.Empty if results stop coming
        answers[result["id"]] = result
        print(f"main: {result['worker']} computed {result['n']}**2 = {result['square']}")
    print(f"main: health check after work: {health_check(health_endpoint)}")
    print(f"main: jobs per worker: { {w.name: w.done for w in workers} }")
    return answers


def main():
    print(f"legacy_threads: threading patched by gevent: {monkey.is_module_patched('threading')}")
    threads = []
    try:
        answers = run(threads)
    finally:
        stop.set()  # whatever happened, let every thread finish
        for t in threads:
            t.join(JOIN_TIMEOUT)

    alive = [t.name for t in threads if t.is_alive()]
    if alive:
        print(f"legacy_threads: FAILED, threads still running: {alive}", file=sys.stderr)
        return 1
    ctx.term()

    if sorted(answers) != list(range(JOBS)) or any(r["square"] != r["n"] ** 2 for r in answers.values()):
        print("legacy_threads: FAILED, wrong or missing results", file=sys.stderr)
        return 1
    print(f"legacy_threads: all {JOBS} jobs done by {WORKERS} threads, all threads joined")
    return 0


if __name__ == "__main__":
    sys.exit(main())
