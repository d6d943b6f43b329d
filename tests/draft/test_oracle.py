"""Interop with libzmq 4.3.5's draft sockets (zeromq.js 6.8.0 in Node, ``oracle.py``), in a
separate process, both directions: gzmq binds and libzmq connects, and the reverse; tcp and
ipc for every type the oracle exports (CLIENT, SERVER, RADIO, DISH, SCATTER, GATHER), udp for
RADIO/DISH. PEER and CHANNEL are not exported by zeromq.js: test_peer_channel.py covers them.
"""
from __future__ import annotations

import os
import shutil
import socket as pysocket
import tempfile
from typing import Any, Iterator

import gevent
import pytest

import gzmq
from draft_helpers import try_recv, until
from oracle import NodePeer, hexs, require_oracle

pytestmark = pytest.mark.timeout(30)

TRANSPORTS = ["tcp", "ipc"]


@pytest.fixture
def workdir() -> Iterator[str]:
    path = tempfile.mkdtemp(prefix="gzo", dir="/tmp")
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def node(workdir: str) -> Iterator[Any]:
    require_oracle()
    peers: list[NodePeer] = []

    def start(scenario: dict[str, Any]) -> NodePeer:
        scenario.setdefault("deadline", 25)
        peer = NodePeer(scenario, workdir)
        peers.append(peer)
        peer.wait_ready()
        return peer

    yield start
    for peer in peers:
        peer.kill()


def _endpoint(transport: str, workdir: str, name: str = "s") -> str:
    return "tcp://127.0.0.1:*" if transport == "tcp" else f"ipc://{workdir}/{name}"


def _free_udp_port() -> int:
    probe = pysocket.socket(pysocket.AF_INET, pysocket.SOCK_DGRAM)
    probe.bind(("127.0.0.1", 0))
    port = int(probe.getsockname()[1])
    probe.close()
    return port


def _link(node: Any, sock: Any, scenario: dict[str, Any], transport: str, workdir: str,
          gzmq_binds: bool) -> NodePeer:
    """Start the libzmq peer and join it to ``sock``: gzmq binds and libzmq connects, or
    libzmq binds and gzmq connects."""
    if gzmq_binds:
        sock.bind(_endpoint(transport, workdir))
        return node(dict(scenario, endpoint=sock.last_endpoint.decode()))  # type: ignore[no-any-return]
    peer = node(dict(scenario, bind=True, endpoint=_endpoint(transport, workdir)))
    sock.connect(peer.endpoint)
    return peer  # type: ignore[no-any-return]


# -- CLIENT / SERVER -----------------------------------------------------------------------

@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("gzmq_binds", [True, False], ids=["gzmq-binds", "libzmq-binds"])
def test_gzmq_server_libzmq_client(ctx: Any, node: Any, workdir: str, transport: str,
                                   gzmq_binds: bool) -> None:
    server = ctx.socket(gzmq.SERVER)
    server.rcvtimeo = server.sndtimeo = 10000
    steps = [{"op": "send", "msgs": [{"data": hexs("hello")}, {"data": hexs("again")}]},
             {"op": "recv", "count": 2}]
    peer = _link(node, server, {"type": "CLIENT", "steps": steps}, transport, workdir,
                 gzmq_binds)
    first = server.recv(copy=False)
    second = server.recv(copy=False)
    assert (first.bytes, second.bytes) == (b"hello", b"again")
    assert first.routing_id == second.routing_id
    assert peer.line() == {"sent": 2}
    server.send(b"world", routing_id=first.routing_id)
    reply = gzmq.Frame(b"frame-addressed")
    reply.routing_id = first.routing_id
    server.send(reply)
    got = [peer.line()["recv"] for _ in range(2)]
    assert got == [hexs("world"), hexs("frame-addressed")]
    peer.finish()


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("gzmq_binds", [True, False], ids=["gzmq-binds", "libzmq-binds"])
def test_gzmq_client_libzmq_server(ctx: Any, node: Any, workdir: str, transport: str,
                                   gzmq_binds: bool) -> None:
    client = ctx.socket(gzmq.CLIENT)
    client.rcvtimeo = client.sndtimeo = 10000
    steps = [{"op": "echo", "count": 3}]
    peer = _link(node, client, {"type": "SERVER", "steps": steps}, transport, workdir,
                 gzmq_binds)
    for body in (b"one", b"two", b"x" * 300):
        client.send(body)
        assert client.recv() == body
    reports = [peer.line() for _ in range(3)]
    assert [r["recv"] for r in reports] == [hexs(b) for b in (b"one", b"two", b"x" * 300)]
    assert len({r["routing_id"] for r in reports}) == 1 and reports[0]["routing_id"] > 0
    peer.finish()


# -- RADIO / DISH --------------------------------------------------------------------------

def _radio_until_received(radio: Any, peer: NodePeer, group: bytes, count: int) -> list[Any]:
    """Send to ``group`` (and to a group nobody joined) until the libzmq DISH has reported
    ``count`` messages: the JOIN takes a moment to reach the RADIO, and what is sent before
    is dropped, as libzmq's RADIO drops it."""
    stop = gevent.event.Event()

    def sender() -> None:
        n = 0
        while not stop.is_set():
            radio.send(b"nobody-%d" % n, group=b"unjoined")
            radio.send(b"msg-%d" % n, group=group)
            n += 1
            gevent.sleep(0.01)

    greenlet = gevent.spawn(sender)
    try:
        return [peer.line() for _ in range(count)]
    finally:
        stop.set()
        greenlet.join(timeout=5)


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("gzmq_binds", [True, False], ids=["gzmq-binds", "libzmq-binds"])
def test_gzmq_radio_libzmq_dish(ctx: Any, node: Any, workdir: str, transport: str,
                                gzmq_binds: bool) -> None:
    radio = ctx.socket(gzmq.RADIO)
    scenario = {"type": "DISH", "join": [hexs("weather")],
                "steps": [{"op": "recv", "count": 3}, {"op": "leave", "groups": [hexs("weather")]},
                          {"op": "wait"}]}
    peer = _link(node, radio, scenario, transport, workdir, gzmq_binds)
    reports = _radio_until_received(radio, peer, b"weather", 3)
    for report in reports:  # libzmq's DISH saw only the joined group, with its group
        assert report["group"] == hexs("weather")
        assert bytes.fromhex(report["recv"]).startswith(b"msg-")
    assert peer.line() == {"ok": "leave"}
    # the LEAVE command reaches our RADIO: it stops sending to that pipe
    until(lambda: not radio._routing._groups, step=lambda: radio.send(b"x", group="weather"))
    peer.finish()


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("gzmq_binds", [True, False], ids=["gzmq-binds", "libzmq-binds"])
def test_gzmq_dish_libzmq_radio(ctx: Any, node: Any, workdir: str, transport: str,
                                gzmq_binds: bool) -> None:
    dish = ctx.socket(gzmq.DISH)
    dish.join("weather")
    scenario = {"type": "RADIO", "steps": [{"op": "repeat", "interval": 10, "msgs": [
        {"data": hexs("other"), "group": hexs("sport")},
        {"data": hexs("sunny"), "group": hexs("weather")}]}]}
    peer = _link(node, dish, scenario, transport, workdir, gzmq_binds)
    dish.rcvtimeo = 10000
    for _ in range(3):
        frame = dish.recv(copy=False)
        assert (frame.bytes, frame.group) == (b"sunny", "weather")
    dish.join("sport")
    until(lambda: (lambda f: f is not None and f.group == "sport")(try_recv(dish)))
    peer.finish()


def test_udp_gzmq_radio_to_libzmq_dish(ctx: Any, node: Any) -> None:
    port = _free_udp_port()
    peer = node({"type": "DISH", "bind": True, "endpoint": f"udp://127.0.0.1:{port}",
                 "join": [hexs("weather")], "steps": [{"op": "recv", "count": 3}]})
    radio = ctx.socket(gzmq.RADIO)
    radio.connect(f"udp://127.0.0.1:{port}")
    reports = _radio_until_received(radio, peer, b"weather", 3)
    assert all(r["group"] == hexs("weather") for r in reports)
    assert all(bytes.fromhex(r["recv"]).startswith(b"msg-") for r in reports)
    peer.finish()


def test_udp_libzmq_radio_to_gzmq_dish(ctx: Any, node: Any) -> None:
    dish = ctx.socket(gzmq.DISH)
    dish.bind("udp://127.0.0.1:*")
    dish.join("weather")
    peer = node({"type": "RADIO", "endpoint": dish.last_endpoint.decode(),
                 "steps": [{"op": "repeat", "interval": 10, "msgs": [
                     {"data": hexs("other"), "group": hexs("sport")},
                     {"data": hexs("sunny"), "group": hexs("weather")}]}]})
    dish.rcvtimeo = 10000
    for _ in range(3):
        frame = dish.recv(copy=False)
        assert (frame.bytes, frame.group) == (b"sunny", "weather")
    peer.finish()


def test_udp_multicast_libzmq_radio_to_gzmq_dish(ctx: Any, node: Any) -> None:
    port = _free_udp_port()
    group_address = "239.192.%d.%d" % (os.getpid() % 250, port % 250 + 1)
    dish = ctx.socket(gzmq.DISH)
    dish.bind(f"udp://{group_address}:{port}")
    dish.join("m")
    peer = node({"type": "RADIO", "endpoint": f"udp://{group_address}:{port}",
                 "steps": [{"op": "repeat", "interval": 10, "msgs": [
                     {"data": hexs("multicast"), "group": hexs("m")}]}]})
    dish.rcvtimeo = 10000
    frame = dish.recv(copy=False)
    assert (frame.bytes, frame.group) == (b"multicast", "m")
    peer.finish()


def test_udp_multicast_gzmq_radio_to_libzmq_dish(ctx: Any, node: Any) -> None:
    port = _free_udp_port()
    group_address = "239.193.%d.%d" % (os.getpid() % 250, port % 250 + 1)
    peer = node({"type": "DISH", "bind": True, "endpoint": f"udp://{group_address}:{port}",
                 "join": [hexs("m")], "steps": [{"op": "recv", "count": 2}]})
    radio = ctx.socket(gzmq.RADIO)
    radio.connect(f"udp://{group_address}:{port}")  # MULTICAST_LOOP (1) lets this host see it
    reports = _radio_until_received(radio, peer, b"m", 2)
    assert all(r["group"] == hexs("m") for r in reports)
    peer.finish()


# -- SCATTER / GATHER ----------------------------------------------------------------------

@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("gzmq_binds", [True, False], ids=["gzmq-binds", "libzmq-binds"])
def test_gzmq_scatter_libzmq_gather(ctx: Any, node: Any, workdir: str, transport: str,
                                    gzmq_binds: bool) -> None:
    scatter = ctx.socket(gzmq.SCATTER)
    scatter.sndtimeo = 10000
    scenario = {"type": "GATHER", "steps": [{"op": "recv", "count": 20}]}
    peer = _link(node, scatter, scenario, transport, workdir, gzmq_binds)
    for n in range(20):
        scatter.send(b"work-%d" % n)
    assert [peer.line()["recv"] for _ in range(20)] == [hexs(b"work-%d" % n) for n in range(20)]
    peer.finish()


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("gzmq_binds", [True, False], ids=["gzmq-binds", "libzmq-binds"])
def test_gzmq_gather_libzmq_scatter(ctx: Any, node: Any, workdir: str, transport: str,
                                    gzmq_binds: bool) -> None:
    gather = ctx.socket(gzmq.GATHER)
    gather.rcvtimeo = 10000
    msgs = [{"data": hexs(b"job-%d" % n)} for n in range(20)]
    scenario = {"type": "SCATTER", "steps": [{"op": "send", "msgs": msgs}, {"op": "wait"}]}
    peer = _link(node, gather, scenario, transport, workdir, gzmq_binds)
    assert [gather.recv() for _ in range(20)] == [b"job-%d" % n for n in range(20)]
    assert peer.line() == {"sent": 20}
    peer.finish()


# -- error rules, side by side ---------------------------------------------------------------

ERROR_CASES = [
    ("DISH", [{"call": "join", "group": hexs("a")}, {"call": "join", "group": hexs("a")},
              {"call": "leave", "group": hexs("b")}, {"call": "join", "group": hexs("x" * 256)},
              {"call": "leave", "group": hexs("a")}, {"call": "leave", "group": hexs("a")}]),
    ("SERVER", [{"call": "send", "data": hexs("x"), "routing_id": 12345}]),
]


@pytest.mark.parametrize(("kind", "calls"), ERROR_CASES, ids=[c[0] for c in ERROR_CASES])
def test_error_rules_match_libzmq(ctx: Any, node: Any, workdir: str, kind: str,
                                  calls: list[dict[str, Any]]) -> None:
    """The same calls on a libzmq socket and on ours fail (or not) with the same errno."""
    peer = node({"type": kind, "bind": True, "endpoint": _endpoint("tcp", workdir),
                 "steps": [dict(call, op="try") for call in calls]})
    theirs = [peer.line()["code"] for _ in calls]
    sock = ctx.socket(getattr(gzmq, kind))
    ours = []
    for call in calls:
        try:
            if call["call"] == "send":
                sock.send(bytes.fromhex(call["data"]), gzmq.NOBLOCK, routing_id=call["routing_id"])
            else:
                getattr(sock, call["call"])(bytes.fromhex(call["group"]))
            ours.append(None)
        except gzmq.ZMQError as error:
            ours.append(gzmq.Errno(error.errno).name)
    assert ours == theirs
    peer.finish()
