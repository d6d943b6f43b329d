"""gzmq STREAM against libzmq's STREAM (pyzmq in another process), tcp and ipc, gzmq binding
and connecting: both see the other connect as [routing id, b""], bytes travel as they are,
and an empty frame from one side closes the connection, which the other sees as [id, b""].
"""
import pytest

from interop_helpers import recv_msg

pytestmark = pytest.mark.interop


def test_stream_to_libzmq_stream(link):
    sock, peer = link("STREAM", "STREAM",
                      [{"op": "recv", "count": 1},  # connected
                       {"op": "echo", "count": 1},
                       {"op": "recv", "count": 1}])  # the close we ask for below
    rid, empty = recv_msg(sock)
    assert empty == b""
    sock.send_multipart([rid, b"hello"])
    assert recv_msg(sock) == [rid, b"hello"]
    sock.send_multipart([rid, b""])  # close it
    got = peer.recv_msgs(3)
    their_id = bytes.fromhex(got[0][0])
    assert len(their_id) == 5 and their_id[0] == 0
    assert got == [[their_id.hex(), ""], [their_id.hex(), b"hello".hex()],
                   [their_id.hex(), ""]]
    assert peer.result() == []


def test_libzmq_stream_going_away(link):
    """The libzmq side echoes, then its process ends: gzmq reads [id, b""]."""
    sock, peer = link("STREAM", "STREAM", [{"op": "recv", "count": 1},
                                           {"op": "echo", "count": 1}])
    rid, empty = recv_msg(sock)
    assert empty == b""
    sock.send_multipart([rid, b"data"])
    assert recv_msg(sock) == [rid, b"data"]
    assert len(peer.result()) == 2
    assert recv_msg(sock) == [rid, b""]
