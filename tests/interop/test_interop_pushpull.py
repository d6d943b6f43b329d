"""PUSH/PULL against libzmq: gzmq on either side, tcp and ipc, gzmq binding and connecting.

Also: big messages, 10k messages in order, queueing before the peer exists, reconnect after
the libzmq peer restarts on the same endpoint.
"""
import gevent
import pytest

from interop_helpers import (InteropTimeout, enc, encmsg, gen_msgs, hexmsg, make_frame, recv_msg,
                             stream_digest)

pytestmark = pytest.mark.interop

# A sending peer stays connected ("wait") until the test has received everything: libzmq
# drops the unread tail of a stream when its peer disconnects while the receiver is under
# RCVHWM back-pressure (seen over ipc: EPOLLHUP with input stopped), so an early exit of
# the sender would make the test depend on the receiver's speed.
WAIT = {"op": "wait"}

MSGS = [[b"hello"], [b"", b"x"], [b"a", b"", b"b"], [b""], [b"multi", b"part", b"message", b""],
        [bytes(range(256))]]


@pytest.mark.parametrize("gz_side", ["PUSH", "PULL"])
def test_push_pull_multipart(link, gz_side):
    if gz_side == "PUSH":
        sock, peer = link("PUSH", "PULL", [{"op": "recv", "count": len(MSGS)}])
        for m in MSGS:
            sock.send_multipart(m)
        peer.assert_received(MSGS, "PUSH")
        assert peer.result() == []
    else:
        sock, peer = link("PULL", "PUSH", [{"op": "send", "msgs": [hexmsg(m) for m in MSGS]}, WAIT])
        assert [recv_msg(sock, "PUSH") for _ in MSGS] == MSGS
        assert peer.result() == [{"sent": len(MSGS)}]


@pytest.mark.parametrize("size", [1 << 20, 16 << 20], ids=["1MiB", "16MiB"])
@pytest.mark.parametrize("gz_side", ["PUSH", "PULL"])
def test_push_pull_big(link, gz_side, size):
    spec = {"size": size, "pattern": bytes(range(251)).hex()}  # prime length: no aligned repeats
    body = make_frame(spec)
    msgs = [[b"head", body], [b"after"]]  # the small message checks framing resumes correctly
    if gz_side == "PUSH":
        sock, peer = link("PUSH", "PULL", [{"op": "recv", "count": 2}])
        for m in msgs:
            sock.send_multipart(m)
        assert peer.recv_msgs(2, timeout=15) == [encmsg(m) for m in msgs]
        assert peer.result() == []
    else:
        sock, peer = link("PULL", "PUSH", [{"op": "send", "msgs": [["68656164", spec], [b"after".hex()]]}, WAIT])
        got = recv_msg(sock, "PUSH", timeout=15)
        assert [len(f) for f in got] == [4, size]
        assert encmsg(got) == encmsg(msgs[0])  # sha256 of the big frame
        assert recv_msg(sock, "PUSH") == [b"after"]
        assert peer.result() == [{"sent": 2}]


N_SEQ = 10000


@pytest.mark.parametrize("gz_side", ["PUSH", "PULL"])
def test_push_pull_10k_in_order(link, gz_side):
    msgs = gen_msgs({"count": N_SEQ, "prefix": b"seq-".hex()})
    if gz_side == "PUSH":
        sock, peer = link("PUSH", "PULL", [{"op": "recv", "count": N_SEQ, "summary": True}])
        for m in msgs:  # more than SNDHWM+RCVHWM: exercises flow control, nothing may drop
            sock.send_multipart(m)
        summary = peer.line(timeout=15)
        assert summary["count"] == N_SEQ
        assert (summary["first"], summary["last"]) == (encmsg(msgs[0]), encmsg(msgs[-1]))
        assert summary["digest"] == stream_digest(msgs)
        assert peer.result() == []
    else:
        sock, peer = link("PULL", "PUSH", [{"op": "send", "gen": {"count": N_SEQ, "prefix": b"seq-".hex()}}, WAIT])
        with gevent.Timeout(15, InteropTimeout("10k recv too slow")):
            for i, m in enumerate(msgs):
                got = sock.recv_multipart()
                assert got == m, "message %d out of order or lost" % i
        assert peer.result() == [{"sent": N_SEQ}]


def test_push_queues_before_peer_starts(zmq, ctx, spawn, fixed_endpoint):
    """connect() creates the pipe at once: messages sent before libzmq binds are delivered."""
    ep = fixed_endpoint()
    sock = ctx.socket(zmq.PUSH)
    sock.linger = 0
    sock.connect(ep)
    msgs = [[b"early-%d" % i] for i in range(3)] + [[b"early", b"multi"]]
    with gevent.Timeout(2, InteropTimeout("send blocked: connect() must create the pipe immediately")):
        for m in msgs:
            sock.send_multipart(m)
    gevent.sleep(0.3)  # let a few reconnect attempts fail first
    peer = spawn({"type": "PULL", "bind": True, "endpoint": ep, "steps": [{"op": "recv", "count": len(msgs)}]})
    assert peer.recv_msgs(len(msgs)) == [encmsg(m) for m in msgs]
    assert peer.result() == []
    sock.close()


def test_reconnect_after_peer_restart(zmq, ctx, spawn, new_endpoint):
    """gzmq keeps reconnecting (RECONNECT_IVL 100 ms) to a libzmq PULL that is restarted."""
    first = spawn({"type": "PULL", "bind": True, "endpoint": new_endpoint(),
                   "steps": [{"op": "recv", "count": 1}, {"op": "wait"}]})
    ep = first.endpoint  # the resolved tcp port / ipc path is reused by the second peer
    sock = ctx.socket(zmq.PUSH)
    sock.linger = 0
    sock.connect(ep)
    sock.send(b"one")
    assert first.recv_msgs(1) == [[enc(b"one")]]
    first.kill()
    gevent.sleep(0.3)  # gzmq sees the connection drop; "two" then waits in the pipe
    sock.send(b"two")
    second = spawn({"type": "PULL", "bind": True, "endpoint": ep, "steps": [{"op": "recv", "count": 2}]})
    sock.send(b"three")
    assert second.recv_msgs(2) == [[enc(b"two")], [enc(b"three")]]
    assert second.result() == []
    sock.close()
