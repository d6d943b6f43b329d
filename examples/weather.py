"""Weather updates over PUB/SUB (the zguide's wuserver + wuclient in one script).

A publisher greenlet binds a PUB socket to a random TCP port on 127.0.0.1 and
keeps publishing "zipcode temperature relhumidity" strings. A subscriber
connects a SUB socket, subscribes to a single zip-code prefix, collects a fixed
number of updates and prints the average temperature. Then the publisher is told
to stop and everything is closed.

Shows: bind('tcp://127.0.0.1:*') + LAST_ENDPOINT, SUBSCRIBE prefix filtering,
RCVTIMEO, and that a PUB loop must yield (gevent.sleep) so others can run.

Run:  python examples/weather.py
"""

import random
import sys

import gevent
import gevent.event

import gzmq as zmq

ZIP_FILTER = "10001"
UPDATES_WANTED = 20
TIMEOUT = 10  # seconds; the whole demo must finish well before this


def publisher(ctx, endpoint_ready, stop):
    """Publish random weather updates until `stop` is set."""
    socket = ctx.socket(zmq.PUB)
    socket.bind("tcp://127.0.0.1:*")
    endpoint = socket.getsockopt_string(zmq.LAST_ENDPOINT)
    print(f"publisher: bound to {endpoint}")
    endpoint_ready.set(endpoint)

    sent = 0
    try:
        while not stop.is_set():
            # Only ten zip codes, so roughly one update in ten matches the filter.
            zipcode = random.randrange(10000, 10010)
            temperature = random.randrange(-80, 135)
            relhumidity = random.randrange(10, 60)
            socket.send_string(f"{zipcode} {temperature} {relhumidity}")
            sent += 1
            # PUB never blocks (slow subscribers just drop), so yield explicitly.
            gevent.sleep(0.001)
    finally:
        socket.close(linger=0)
    print(f"publisher: sent {sent} updates, stopping")
    return sent


def subscriber(ctx, endpoint):
    """Collect UPDATES_WANTED updates for ZIP_FILTER and return their temperatures."""
    socket = ctx.socket(zmq.SUB)
    socket.setsockopt(zmq.RCVTIMEO, 5000)  # a stalled publisher raises zmq.Again
    socket.setsockopt_string(zmq.SUBSCRIBE, ZIP_FILTER)
    socket.connect(endpoint)
    print(f"subscriber: collecting {UPDATES_WANTED} updates for zip code {ZIP_FILTER}")

    temperatures = []
    try:
        while len(temperatures) < UPDATES_WANTED:
            zipcode, temperature, relhumidity = socket.recv_string().split()
            assert zipcode == ZIP_FILTER, f"filter let through {zipcode}"
            temperatures.append(int(temperature))
    finally:
        socket.close()
    return temperatures


def main():
    ctx = zmq.Context()
    endpoint_ready = gevent.event.AsyncResult()
    stop = gevent.event.Event()
    pub = gevent.spawn(publisher, ctx, endpoint_ready, stop)
    try:
        with gevent.Timeout(TIMEOUT):
            temperatures = subscriber(ctx, endpoint_ready.get())
            stop.set()
            pub.get()  # re-raises if the publisher failed
    except gevent.Timeout:
        print(f"weather: FAILED, not done after {TIMEOUT}s", file=sys.stderr)
        return 1
    finally:
        stop.set()
        pub.kill()
        ctx.term()

    average = sum(temperatures) / len(temperatures)
    print(
        f"subscriber: average temperature for zip code {ZIP_FILTER} "
        f"was {average:.1f}F over {len(temperatures)} updates"
    )
    print("weather: done")
    return 0


if __name__ == "__main__":
    sys.exit(main())
