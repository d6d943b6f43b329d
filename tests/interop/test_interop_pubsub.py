"""PUB/XPUB -> SUB/XSUB against libzmq, gzmq on either side, tcp and ipc, bind and connect.

Slow joiner: a subscription reaches the publisher some time after connect, so whoever
publishes does so repeatedly (round-robin over PUBLISHED every few ms) until the subscriber
has its messages; the test checks prefix filtering and that what arrived is a contiguous,
in-order run of the matching messages.  An XPUB publisher instead waits for the
subscription message before publishing.
"""
import gevent
import pytest

from interop_helpers import InteropTimeout, enc, encmsg, hexmsg, publisher, recv_msg

pytestmark = pytest.mark.interop

PUBLISHED = [[b"AB", b"1"], [b"B-not-me"], [b"A"], [b"Bx", b"A"], [b"ABC", b"", b"3"], [b"", b"empty topic"]]
EXPECTED = [m for m in PUBLISHED if m[0].startswith(b"A")]  # subscribed to b"A" (prefix)
N = 2 * len(EXPECTED) + 1

PAIRS = [("PUB", "SUB"), ("XPUB", "SUB"), ("PUB", "XSUB"), ("XPUB", "XSUB")]


def assert_contiguous_run(got, expected):
    """`got` must be consecutive messages of the endless cycle over `expected`."""
    assert got[0] in expected, got[0]
    start = expected.index(got[0])
    assert got == [expected[(start + i) % len(expected)] for i in range(len(got))]


@pytest.mark.parametrize("pub_type,sub_type", PAIRS, ids=["%s-%s" % p for p in PAIRS])
def test_gz_publishes(link, pub_type, sub_type):
    if sub_type == "SUB":
        steps, opts = [{"op": "recv", "count": N}], {"subscribe": [b"A"]}
    else:  # XSUB subscribes by sending b"\x01" + topic
        steps, opts = [{"op": "send", "msgs": [hexmsg([b"\x01A"])]}, {"op": "recv", "count": N}], {}
    sock, peer = link(pub_type, sub_type, steps, peer_opts=opts)
    if sub_type == "XSUB":
        assert peer.line() == {"sent": 1}
    if pub_type == "XPUB":
        # the libzmq subscriber's subscription, whatever its wire form, reads as b"\x01A"
        assert recv_msg(sock) == [b"\x01A"]
    pubber = publisher(sock, PUBLISHED)
    try:
        got = peer.lines(N)
    finally:
        pubber.kill()
    assert {g["st"] for g in got} == {pub_type}
    assert_contiguous_run([g["recv"] for g in got], [encmsg(m) for m in EXPECTED])
    assert peer.result() == []


@pytest.mark.parametrize("pub_type,sub_type", PAIRS, ids=["%s-%s" % p for p in PAIRS])
def test_gz_subscribes(link, pub_type, sub_type):
    pub = {"op": "pub", "msgs": [hexmsg(m) for m in PUBLISHED], "interval": 5}
    steps = [{"op": "recv", "count": 1}, pub] if pub_type == "XPUB" else [pub]
    gz_opts = {"subscribe": [b"A"]} if sub_type == "SUB" else None
    sock, peer = link(sub_type, pub_type, steps, gz_opts=gz_opts)
    if sub_type == "XSUB":
        sock.send(b"\x01A")  # XSUB does not filter locally: only libzmq's filtering applies
    if pub_type == "XPUB":
        assert peer.line()["recv"] == [enc(b"\x01A")]
    got = [recv_msg(sock, pub_type) for _ in range(N)]
    assert_contiguous_run(got, EXPECTED)
    (published,) = peer.result()
    assert published["published"] >= N


@pytest.mark.parametrize("sub_type", ["SUB", "XSUB"])
def test_gz_sub_multiple_topics_and_unsubscribe(link, sub_type):
    """Two prefixes arrive; after unsubscribing b"A" the libzmq PUB stops sending A-messages.

    XSUB does not filter locally, so with XSUB this checks that the cancel reached libzmq.
    """
    sock, peer = link(sub_type, "PUB", [{"op": "pub", "msgs": [hexmsg(m) for m in PUBLISHED], "interval": 5}],
                      gz_opts={"subscribe": [b"A", b"Bx"]} if sub_type == "SUB" else None)
    if sub_type == "XSUB":
        sock.send(b"\x01A")
        sock.send(b"\x01Bx")
    wanted = [m for m in PUBLISHED if m[0].startswith((b"A", b"Bx"))]
    assert_contiguous_run([recv_msg(sock, "PUB") for _ in range(2 * len(wanted))], wanted)
    if sub_type == "SUB":
        sock.unsubscribe(b"A")
    else:
        sock.send(b"\x00A")
    # messages already in flight may still start with A; then only Bx may come
    with gevent.Timeout(10, InteropTimeout("unsubscribing b'A' never took effect")):
        streak = 0
        while streak < 8:
            msg = sock.recv_multipart()
            assert msg[0].startswith((b"A", b"Bx")), msg
            streak = streak + 1 if msg[0].startswith(b"Bx") else 0
    assert peer.result()[0]["published"] > 0


def test_gz_xpub_sees_subscribe_and_disconnect(zmq, ctx, spawn, new_endpoint):
    """gzmq XPUB: b"\\x01topic" per new topic from a libzmq SUB, b"\\x00topic" when it leaves.

    Bound XPUB only: libzmq keeps a connecting XPUB's pipe (and its subscriptions) across
    a disconnect, waiting to reconnect, so no b"\\x00..." is reported on that side.
    """
    sock = ctx.socket(zmq.XPUB)
    sock.linger = 0
    sock.bind(new_endpoint())
    peer = spawn({"type": "SUB", "bind": False, "endpoint": sock.last_endpoint.decode(),
                  "options": {"subscribe": [b"A".hex(), b"topic".hex()]}, "steps": [{"op": "wait"}]})
    assert sorted(recv_msg(sock)[0] for _ in range(2)) == [b"\x01A", b"\x01topic"]
    assert peer.result() == []  # the SUB closes and disconnects
    assert sorted(recv_msg(sock)[0] for _ in range(2)) == [b"\x00A", b"\x00topic"]
