"""Session on a real socket, without any connection: when the pipe is made and attached
(early on connect, late for ROUTER and IMMEDIATE, at the handshake on the bind side), the
hiccup after a reconnect, and which endings detach the pipe."""

from __future__ import annotations

from typing import Any

import pytest

import gzmq
from gzmq.engine import Session
from gzmq.pipe import NOBODY, Signal, SubscriptionCommand

PEER = {"Socket-Type": b"PULL", "Peer-Address": b"127.0.0.1:1"}


def session_on(socket: Any, connecting: bool = True) -> Session:
    """A session as a connector or listener of ``socket`` makes it (on the socket's core)."""
    return Session(socket._core, "tcp://127.0.0.1:1", connecting=connecting)


def routed(socket: Any, session: Session) -> bool:
    """The socket can send to the session's pipe right now."""
    try:
        socket.send(b"probe", gzmq.NOBLOCK)
    except gzmq.Again:
        return False
    assert session.pipe is not None
    return session.pipe.outbound.take() == [b"probe"]


def hiccups(socket: Any) -> list[Any]:
    """Record the routing's hiccups (the pipes it was told were reconnected)."""
    seen: list[Any] = []
    original = socket._routing.hiccup
    socket._routing.hiccup = lambda pipe: (seen.append(pipe), original(pipe))
    return seen


def test_connect_attaches_at_once_so_messages_queue_before_the_peer_is_there(ctx) -> None:
    push = ctx.socket(gzmq.PUSH)
    session = session_on(push)
    assert session.pipe is not None and session.attached
    push.send(b"early", gzmq.NOBLOCK)
    assert session.has_pending()
    engine_end = session.engine_ready(dict(PEER))
    assert engine_end is session.engine_end
    assert engine_end.inbound.take() == [b"early"]  # the engine's end reads what was queued


@pytest.mark.parametrize("socket_type, option", [(gzmq.ROUTER, None),
                                                 (gzmq.PUSH, "immediate")])
def test_router_and_immediate_attach_only_after_the_handshake(ctx, socket_type,
                                                              option) -> None:
    socket = ctx.socket(socket_type)
    if option:
        setattr(socket, option, 1)
    session = session_on(socket)
    assert session.pipe is not None and not session.attached
    if socket_type == gzmq.PUSH:
        assert not routed(socket, session)
    session.engine_ready(dict(PEER, Identity=b"peer-1"))
    assert session.attached
    if socket_type == gzmq.PUSH:
        assert routed(socket, session)
    else:
        assert session.pipe.routing_id == b"peer-1"
        socket.send_multipart([b"peer-1", b"hi"], gzmq.NOBLOCK)
        assert session.pipe.outbound.take() == [b"hi"]


def test_bind_side_makes_its_pipe_at_the_handshake(ctx) -> None:
    pull = ctx.socket(gzmq.PULL)
    session = session_on(pull, connecting=False)
    assert session.pipe is None and not session.attached and not session.has_pending()
    engine_end = session.engine_ready(dict(PEER))
    assert session.attached and session.pipe is not None
    assert session.pipe.properties["Peer-Address"] == b"127.0.0.1:1"
    engine_end.send_nowait([b"from the wire"])
    pull.rcvtimeo = 1000
    assert pull.recv() == b"from the wire"


def test_connect_routing_id_names_only_the_next_connection(ctx) -> None:
    router = ctx.socket(gzmq.ROUTER)
    router.connect_rid = b"named"
    first = session_on(router)
    second = session_on(router)
    assert first.pipe.routing_id == b"named" and second.pipe.routing_id == b""
    first.engine_ready(dict(PEER, Identity=b"theirs"))
    assert first.pipe.routing_id == b"named"  # ours wins over the peer's Identity


def test_a_reconnect_is_a_hiccup_on_the_same_pipe(ctx) -> None:
    push = ctx.socket(gzmq.PUSH)
    seen = hiccups(push)
    session = session_on(push)
    pipe = session.pipe
    engine_end = session.engine_ready(dict(PEER))
    assert seen == []  # the first connection is no hiccup
    session.engine_ended(handshake_done=True)
    assert session.pipe is pipe and session.attached  # kept for the next connection
    assert engine_end.outbound.write_closed  # nothing more comes from the old engine
    push.send(b"between connections", gzmq.NOBLOCK)
    again = session.engine_ready(dict(PEER))
    assert again is engine_end and not engine_end.outbound.write_closed
    assert seen == [pipe]
    assert engine_end.inbound.take() == [b"between connections"]


def test_a_reconnected_subscriber_resends_its_subscriptions_first(ctx) -> None:
    sub = ctx.socket(gzmq.SUB)
    session = session_on(sub)
    sub.subscribe(b"topic")
    engine_end = session.engine_ready(dict(PEER, **{"Socket-Type": b"PUB"}))
    engine_end.inbound.take_batch(100)  # the first engine wrote it
    session.engine_ended(handshake_done=True)
    session.engine_ready(dict(PEER, **{"Socket-Type": b"PUB"}))
    (resent,) = engine_end.inbound.take_batch(100)
    assert isinstance(resent, SubscriptionCommand) and resent.topic == b"topic"


def test_an_ended_engine_loses_its_notifiers(ctx) -> None:
    push = ctx.socket(gzmq.PUSH)
    session = session_on(push)
    engine_end = session.engine_ready(dict(PEER))
    writer, room = Signal(), Signal()
    engine_end.attach_notifiers(on_readable=writer, on_writable=room)
    session.engine_ended(handshake_done=True)
    assert engine_end.inbound._on_readable is NOBODY
    assert engine_end.outbound._on_writable is NOBODY


def test_a_failed_handshake_leaves_the_pipe_as_it_was(ctx) -> None:
    push = ctx.socket(gzmq.PUSH)
    session = session_on(push)
    push.send(b"kept", gzmq.NOBLOCK)
    session.engine_ended(handshake_done=False)
    assert session.attached and not session.engine_end.outbound.write_closed
    assert session.has_pending()


@pytest.mark.parametrize("socket_type, option, connecting", [
    (gzmq.ROUTER, None, True), (gzmq.PUSH, "immediate", True), (gzmq.PUSH, None, False)],
    ids=["router-connect", "immediate-connect", "bind"])
def test_late_attached_pipes_are_detached_when_their_connection_ends(ctx, socket_type, option,
                                                                     connecting) -> None:
    socket = ctx.socket(socket_type)
    if option:
        setattr(socket, option, 1)
    session = session_on(socket, connecting=connecting)
    session.engine_ready(dict(PEER, Identity=b"p"))
    assert session.attached
    session.engine_ended(handshake_done=True)
    assert not session.attached
    if socket_type == gzmq.PUSH:
        assert not routed(socket, session)  # the load balancer forgot it
    else:
        socket.router_mandatory = 1
        with pytest.raises(gzmq.ZMQError):  # EHOSTUNREACH: the ROUTER forgot "p"
            socket.send_multipart([b"p", b"hi"], gzmq.NOBLOCK)


def test_an_early_attached_pipe_is_detached_once_the_socket_closed(ctx) -> None:
    push = ctx.socket(gzmq.PUSH)
    session = session_on(push)
    session.engine_ready(dict(PEER))
    push.close(linger=0)
    session.engine_ended(handshake_done=True)
    assert not session.attached  # kept across connections only while the socket is open


def test_close_writing_lets_the_queued_messages_go_out(ctx) -> None:
    push = ctx.socket(gzmq.PUSH)
    session = session_on(push)
    push.send(b"last", gzmq.NOBLOCK)
    session.close_writing()
    engine_end = session.engine_end
    assert engine_end.inbound.write_closed and engine_end.inbound.take() == [b"last"]


def test_drop_forgets_the_pipe_and_what_it_holds(ctx) -> None:
    push = ctx.socket(gzmq.PUSH)
    session = session_on(push)
    push.send(b"dropped", gzmq.NOBLOCK)
    session.drop()
    assert not session.attached and not session.has_pending()
    assert session.pipe.inbound.read_closed
    session_on(ctx.socket(gzmq.PULL), connecting=False).drop()  # no pipe yet: nothing to do


def test_a_pair_refuses_a_second_peer_and_keeps_the_first(ctx) -> None:
    pair = ctx.socket(gzmq.PAIR)
    first, second = session_on(pair), session_on(pair)
    assert first.attached and not second.attached  # PAIR talks to one peer only
    second.engine_ready(dict(PEER, **{"Socket-Type": b"PAIR"}))
    assert not second.attached  # connected, but unheard (as libzmq)
    second.engine_ended(handshake_done=True)
    assert first.attached
    pair.send(b"to the first", gzmq.NOBLOCK)
    assert first.pipe.outbound.take() == [b"to the first"]
