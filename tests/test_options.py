"""Socket options against pyzmq/libzmq as the oracle: defaults, validation, round trips, sugar.

pyzmq runs in-process here: reading and setting options never blocks.
"""

from __future__ import annotations

from typing import Any

import pytest
from helpers import outcome

import gzmq

zmq = pytest.importorskip("zmq")

CLASSIC_TYPES = ["PAIR", "PUB", "SUB", "REQ", "REP", "DEALER", "ROUTER", "PULL", "PUSH",
                 "XPUB", "XSUB"]
VALUE_TYPES = (zmq.constants._OptType.int, zmq.constants._OptType.int64,
               zmq.constants._OptType.bytes)


def snapshot(sock: Any) -> dict[str, Any]:
    """Every readable int/int64/bytes option of ``sock`` (value or errno)."""
    return {option.name: outcome(sock.getsockopt, int(option))
            for option in zmq.SocketOption if option._opt_type in VALUE_TYPES}


# --------------------------------------------------------------------------------------------
# defaults


@pytest.mark.parametrize("type_name", CLASSIC_TYPES)
def test_defaults_match_pyzmq(ctx: Any, zctx: Any, type_name: str) -> None:
    ours = ctx.socket(getattr(gzmq, type_name))
    theirs = zctx.socket(getattr(zmq, type_name))
    try:
        mine, oracle = snapshot(ours), snapshot(theirs)
    finally:
        theirs.close(linger=0)
    diffs = {name: (mine[name], oracle[name]) for name in oracle if mine[name] != oracle[name]}
    assert diffs == {}, f"{type_name}: option -> (gzmq, pyzmq)"


@pytest.mark.parametrize("type_name", CLASSIC_TYPES)
def test_fd_is_an_int(ctx: Any, type_name: str) -> None:
    sock = ctx.socket(getattr(gzmq, type_name))
    fd = sock.getsockopt(gzmq.FD)
    assert isinstance(fd, int) and fd >= 0
    assert sock.fd == fd == sock.fileno()


def test_every_pyzmq_option_exists(ctx: Any) -> None:
    missing = [o.name for o in zmq.SocketOption if not hasattr(gzmq, o.name)]
    assert missing == []
    for option in zmq.SocketOption:
        assert int(getattr(gzmq, option.name)) == int(option), option.name
        assert gzmq.SocketOption(int(option))._opt_type.name == option._opt_type.name


# --------------------------------------------------------------------------------------------
# setting: types, validation, round trips (pyzmq decides what is right)

WRONG_TYPES = [
    ("SUBSCRIBE", "str", "SUB"),
    ("SUBSCRIBE", 1, "SUB"),
    ("LINGER", b"1", "PUSH"),
    ("LINGER", 1.5, "PUSH"),
    ("LINGER", "1", "PUSH"),
    ("SNDHWM", None, "PUSH"),
    ("ROUTING_ID", 5, "DEALER"),
    ("ROUTING_ID", "abc", "DEALER"),
    ("ZAP_DOMAIN", 7, "DEALER"),
]


@pytest.mark.parametrize("name,value,type_name", WRONG_TYPES)
def test_wrong_type_is_type_error(ctx: Any, zctx: Any, name: str, value: Any,
                                  type_name: str) -> None:
    theirs = zctx.socket(getattr(zmq, type_name))
    try:
        assert outcome(theirs.setsockopt, getattr(zmq, name), value) == ("TypeError", None)
    finally:
        theirs.close(linger=0)
    ours = ctx.socket(getattr(gzmq, type_name))
    with pytest.raises(TypeError):
        ours.setsockopt(getattr(gzmq, name), value)


def test_subscribe_str_message(ctx: Any) -> None:
    sub = ctx.socket(gzmq.SUB)
    with pytest.raises(TypeError, match="unicode not allowed"):
        sub.setsockopt(gzmq.SUBSCRIBE, "topic")


# (option, value, socket type): pyzmq's outcome (error or resulting option values) must match
SET_CASES = [
    ("SNDHWM", -1, "PUSH"),
    ("RCVHWM", -1, "PULL"),
    ("LINGER", -2, "PUSH"),
    ("RCVTIMEO", -2, "PULL"),
    ("SNDTIMEO", -2, "PUSH"),
    ("BACKLOG", -1, "PULL"),
    ("IMMEDIATE", 2, "PUSH"),
    ("IPV6", 2, "PUSH"),
    ("ROUTING_ID", b"", "DEALER"),
    ("ROUTING_ID", b"x" * 256, "DEALER"),
    ("ROUTING_ID", b"x" * 255, "DEALER"),
    ("ROUTER_MANDATORY", 2, "ROUTER"),
    ("HEARTBEAT_IVL", -1, "DEALER"),
    ("CONNECT_TIMEOUT", -1, "DEALER"),
    ("HANDSHAKE_IVL", -1, "DEALER"),
    ("RECONNECT_IVL_MAX", -1, "DEALER"),
    ("TCP_KEEPALIVE", 2, "DEALER"),
    ("TYPE", 2, "SUB"),
    ("RCVMORE", 1, "SUB"),
    ("EVENTS", 1, "SUB"),
    ("LAST_ENDPOINT", b"tcp://x", "SUB"),
    ("SUBSCRIBE", b"x", "PUB"),
    ("SNDHWM", 2**31, "PUSH"),
    # accepted values: every readable option afterwards must read as in pyzmq
    ("LINGER", 0, "PUSH"),
    ("LINGER", 123, "PUSH"),
    ("LINGER", True, "PUSH"),
    ("SNDHWM", 7, "PUSH"),
    ("RCVHWM", 0, "PULL"),
    ("RCVTIMEO", 250, "PULL"),
    ("SNDTIMEO", 0, "PUSH"),
    ("RECONNECT_IVL", -1, "DEALER"),
    ("RECONNECT_IVL", 50, "DEALER"),
    ("RECONNECT_IVL_MAX", 500, "DEALER"),
    ("BACKLOG", 10, "PULL"),
    ("MAXMSGSIZE", 1024, "PULL"),
    ("MAXMSGSIZE", 2**40, "PULL"),
    ("MAXMSGSIZE", -2, "PULL"),
    ("SNDBUF", 0, "PUSH"),
    ("RCVBUF", 65536, "PULL"),
    ("IMMEDIATE", 1, "PUSH"),
    ("IPV6", 1, "PUSH"),
    ("IPV4ONLY", 0, "PUSH"),
    ("CONFLATE", 1, "PULL"),
    ("INVERT_MATCHING", 1, "SUB"),
    ("INVERT_MATCHING", 2, "SUB"),
    ("HANDSHAKE_IVL", 0, "DEALER"),
    ("HEARTBEAT_IVL", 100, "DEALER"),
    ("HEARTBEAT_TTL", 2000, "DEALER"),
    ("HEARTBEAT_TIMEOUT", 300, "DEALER"),
    ("CONNECT_TIMEOUT", 400, "DEALER"),
    ("TCP_KEEPALIVE", 1, "DEALER"),
    ("TCP_KEEPALIVE_IDLE", 30, "DEALER"),
    ("TOS", 8, "DEALER"),
    ("AFFINITY", 3, "DEALER"),
    ("ROUTING_ID", b"abc", "DEALER"),
    ("ROUTING_ID", b"\x00id", "ROUTER"),
    ("ZAP_DOMAIN", b"global", "DEALER"),
    ("PLAIN_USERNAME", b"user", "DEALER"),
    ("PLAIN_PASSWORD", b"secret", "DEALER"),
    ("PLAIN_SERVER", 1, "ROUTER"),
    ("SOCKS_PROXY", b"127.0.0.1:1080", "DEALER"),
    ("SUBSCRIBE", b"topic", "SUB"),
    ("UNSUBSCRIBE", b"topic", "SUB"),
    ("ROUTER_MANDATORY", 1, "ROUTER"),
    ("XPUB_VERBOSE", 1, "XPUB"),
    ("REQ_RELAXED", 1, "REQ"),
    ("CONNECT_ROUTING_ID", b"peer", "ROUTER"),
]


@pytest.mark.parametrize("name,value,type_name", SET_CASES,
                         ids=[f"{n}={v!r:.12}-{t}" for n, v, t in SET_CASES])
def test_set_matches_pyzmq(ctx: Any, zctx: Any, name: str, value: Any, type_name: str) -> None:
    theirs = zctx.socket(getattr(zmq, type_name))
    ours = ctx.socket(getattr(gzmq, type_name))
    try:
        expected = outcome(theirs.setsockopt, getattr(zmq, name), value)
        expected_state = snapshot(theirs)
    finally:
        theirs.close(linger=0)
    got = outcome(ours.setsockopt, getattr(gzmq, name), value)
    assert got == expected
    state = snapshot(ours)
    diffs = {k: (state[k], expected_state[k]) for k in expected_state
             if state[k] != expected_state[k]}
    assert diffs == {}, "option -> (gzmq, pyzmq) after the set"


@pytest.mark.parametrize("name,value", [("LINGER", 77), ("SNDHWM", 3), ("RCVTIMEO", 1500),
                                        ("ROUTING_ID", b"me"), ("ZAP_DOMAIN", b"zone")])
def test_round_trip(ctx: Any, name: str, value: Any) -> None:
    sock = ctx.socket(gzmq.DEALER)
    option = getattr(gzmq, name)
    sock.setsockopt(option, value)
    got = sock.getsockopt(option)
    assert got == value and type(got) is type(value)
    sock.set(option, value)
    assert sock.get(option) == value


def test_unknown_option_is_einval(ctx: Any) -> None:
    sock = ctx.socket(gzmq.DEALER)
    for call in (lambda: sock.setsockopt(9999, 1), lambda: sock.getsockopt(9999)):
        with pytest.raises(gzmq.ZMQError) as info:
            call()
        assert info.value.errno == gzmq.EINVAL
    with pytest.raises(gzmq.ZMQError) as info:
        sock.getsockopt(gzmq.HWM)  # libzmq 2 legacy
    assert info.value.errno == gzmq.EINVAL


def test_options_on_closed_socket(ctx: Any) -> None:
    sock = ctx.socket(gzmq.DEALER)
    sock.close()
    for call in (lambda: sock.getsockopt(gzmq.LINGER), lambda: sock.setsockopt(gzmq.LINGER, 0)):
        with pytest.raises(gzmq.ZMQError) as info:
            call()
        assert info.value.errno == gzmq.ENOTSOCK


def test_attribute_on_closed_socket_is_zmqerror(ctx: Any) -> None:
    # pyzmq turns only EINVAL/EFAULT into AttributeError; ENOTSOCK stays a ZMQError
    sock = ctx.socket(gzmq.DEALER)
    sock.close()
    with pytest.raises(gzmq.ZMQError) as info:
        sock.linger
    assert info.value.errno == gzmq.ENOTSOCK


# --------------------------------------------------------------------------------------------
# attribute style and helpers


def test_attribute_style(ctx: Any) -> None:
    sock = ctx.socket(gzmq.ROUTER)
    sock.linger = 0
    assert sock.linger == 0
    assert sock.rcvhwm == 1000
    sock.sndtimeo = 25
    assert sock.getsockopt(gzmq.SNDTIMEO) == 25
    assert sock.last_endpoint == b"" and isinstance(sock.last_endpoint, bytes)
    sock.bind("inproc://attribute-style")
    assert sock.last_endpoint == b"inproc://attribute-style"
    sock.identity = b"abc"  # IDENTITY is ROUTING_ID
    assert sock.routing_id == b"abc"
    with pytest.raises(AttributeError, match="write-only"):
        sock.router_mandatory
    with pytest.raises(AttributeError):
        sock.no_such_option
    names = {name.lower() for name in dir(sock)}  # pyzmq lists them upper case
    assert "linger" in names and "rcvhwm" in names


def test_attribute_write_only_is_attribute_error(ctx: Any) -> None:
    sub = ctx.socket(gzmq.SUB)
    assert callable(sub.subscribe)  # the method, not the option
    sub.subscribe = "topic"  # str allowed here (pyzmq special-cases it)
    sub.subscribe = b"other"
    assert sub.topics_count == 2
    xpub = ctx.socket(gzmq.XPUB)
    xpub.xpub_verbose = 1
    with pytest.raises(AttributeError):
        xpub.xpub_verbose
    dealer = ctx.socket(gzmq.DEALER)
    with pytest.raises(AttributeError):
        dealer.topics_count


def test_type_attribute_and_option(ctx: Any) -> None:
    for name in CLASSIC_TYPES:
        sock = ctx.socket(getattr(gzmq, name))
        assert sock.type == getattr(gzmq, name)
        assert sock.type.name == name
        assert sock.getsockopt(gzmq.TYPE) == int(getattr(gzmq, name))
        sock.close()


def test_hwm_property(ctx: Any) -> None:
    sock = ctx.socket(gzmq.DEALER)
    assert sock.hwm == 1000
    sock.hwm = 5
    assert (sock.sndhwm, sock.rcvhwm, sock.hwm) == (5, 5, 5)
    sock.set_hwm(11)
    assert sock.get_hwm() == 11
    assert sock.getsockopt(gzmq.SNDHWM) == sock.getsockopt(gzmq.RCVHWM) == 11


def test_get_set_string(ctx: Any) -> None:
    sock = ctx.socket(gzmq.DEALER)
    sock.set_string(gzmq.ROUTING_ID, "ab\u00e9")
    assert sock.getsockopt(gzmq.ROUTING_ID) == "ab\u00e9".encode()
    assert sock.get_string(gzmq.ROUTING_ID) == "ab\u00e9"
    sock.setsockopt_string(gzmq.ZAP_DOMAIN, "dom")
    assert sock.getsockopt_string(gzmq.ZAP_DOMAIN) == "dom"
    assert sock.get_string(gzmq.LAST_ENDPOINT) == ""
    with pytest.raises(TypeError):
        sock.get_string(gzmq.LINGER)  # not a bytes option
    with pytest.raises(TypeError):
        sock.set_string(gzmq.ROUTING_ID, b"bytes")  # strings only
    with pytest.raises(TypeError):
        sock.set_string(gzmq.LINGER, "1")  # encodes to bytes, wrong for an int option
    sub = ctx.socket(gzmq.SUB)
    sub.set_string(gzmq.SUBSCRIBE, "t")
    assert sub.topics_count == 1


# --------------------------------------------------------------------------------------------
# context default options


def test_context_default_options() -> None:
    context = gzmq.Context()
    try:
        before = context.socket(gzmq.PUSH)
        context.linger = 0
        context.sndhwm = 7
        context.setsockopt(gzmq.RCVHWM, 9)
        assert context.linger == 0
        assert context.getsockopt(gzmq.RCVHWM) == 9
        push = context.socket(gzmq.PUSH)
        assert (push.linger, push.sndhwm, push.rcvhwm) == (0, 7, 9)
        assert before.linger == -1 and before.sndhwm == 1000  # only new sockets
        context.subscribe = b"a"  # applies to SUB, silently ignored for PULL
        pull = context.socket(gzmq.PULL)
        sub = context.socket(gzmq.SUB)
        assert sub.topics_count == 1
        assert pull.rcvhwm == 9
        with pytest.raises(AttributeError):
            context.rcvtimeo  # never set
        del context.linger
        assert context.socket(gzmq.PUSH).linger == -1
    finally:
        context.destroy(linger=0)


def test_context_options(ctx: Any) -> None:
    assert ctx.get(gzmq.IO_THREADS) == 1
    assert ctx.get(gzmq.MAX_SOCKETS) == 1023
    assert ctx.max_sockets == 1023
    ctx.set(gzmq.MAX_SOCKETS, 100)
    assert ctx.get(gzmq.MAX_SOCKETS) == 100
    with pytest.raises(gzmq.ZMQError) as info:
        ctx.get(9999)
    assert info.value.errno == gzmq.EINVAL


# --------------------------------------------------------------------------------------------
# computed options: EVENTS, RCVMORE


def test_events(ctx: Any) -> None:
    assert ctx.socket(gzmq.PUB).events == gzmq.POLLOUT
    assert ctx.socket(gzmq.PULL).events == 0
    assert ctx.socket(gzmq.SUB).events == 0
    assert ctx.socket(gzmq.REQ).getsockopt(gzmq.EVENTS) == 0  # no peer yet
    a, b = ctx.socket(gzmq.PAIR), ctx.socket(gzmq.PAIR)
    a.bind("inproc://events")
    b.connect("inproc://events")
    assert b.events & gzmq.POLLOUT
    assert not a.events & gzmq.POLLIN
    b.send(b"x")
    assert a.poll(1000) == gzmq.POLLIN
    assert a.events & gzmq.POLLIN
    assert a.recv() == b"x"
    assert not a.events & gzmq.POLLIN


def test_events_req_has_pollout_with_peer(ctx: Any, zctx: Any) -> None:
    req, rep = ctx.socket(gzmq.REQ), ctx.socket(gzmq.REP)
    rep.bind("inproc://events-req")
    req.connect("inproc://events-req")
    assert req.events == gzmq.POLLOUT
    assert rep.events == 0
    req.send(b"q")
    assert req.events == 0  # REQ must now receive first
    assert rep.poll(1000)


def test_rcvmore(ctx: Any) -> None:
    a, b = ctx.socket(gzmq.PAIR), ctx.socket(gzmq.PAIR)
    a.bind("inproc://rcvmore")
    b.connect("inproc://rcvmore")
    assert a.rcvmore == 0
    b.send_multipart([b"1", b"2", b"3"])
    assert a.recv() == b"1"
    assert a.getsockopt(gzmq.RCVMORE) == 1
    assert a.recv() == b"2"
    assert a.rcvmore == 1
    assert a.recv() == b"3"
    assert a.rcvmore == 0
