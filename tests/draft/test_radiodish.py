"""RADIO / DISH (RFC 48) over inproc, tcp and ipc, as libzmq 4.3.5: exact group match,
join/leave errors, JOIN/LEAVE commands reaching the RADIO, group + body on the wire."""
from __future__ import annotations

import logging
import socket as pysocket
from typing import Any

import pytest

import gzmq
from gzmq import zmtp
from draft_helpers import drain, try_recv, until

pytestmark = pytest.mark.timeout(15)


def _pair(ctx: Any, endpoint: str, *groups: str) -> tuple[Any, Any]:
    radio = ctx.socket(gzmq.RADIO)
    radio.bind(endpoint)
    dish = ctx.socket(gzmq.DISH)
    for group in groups:
        dish.join(group)
    dish.connect(radio.last_endpoint.decode())
    return radio, dish


def _first(radio: Any, dish: Any, group: str) -> Any:
    """Send to ``group`` until the DISH's JOIN has reached the RADIO; the first frame."""
    return until(lambda: try_recv(dish), step=lambda: radio.send(b"probe", group=group))


def test_exact_group_match(ctx: Any, endpoint: str) -> None:
    radio, dish = _pair(ctx, endpoint, "weather")
    frame = _first(radio, dish, "weather")
    assert (frame.bytes, frame.group) == (b"probe", "weather")
    drain(dish)
    for group in ("weathe", "weatherx", "Weather", ""):
        radio.send(b"not for us", group=group)
    radio.send(b"for us", group=b"weather")
    dish.rcvtimeo = 5000
    frame = dish.recv(copy=False)
    assert (frame.bytes, frame.group) == (b"for us", "weather")
    assert try_recv(dish) is None


def test_join_after_connect_and_leave(ctx: Any, endpoint: str) -> None:
    radio, dish = _pair(ctx, endpoint)
    dish.join("late")
    _first(radio, dish, "late")
    dish.leave("late")
    # once the LEAVE is read, the RADIO stops sending (the DISH would drop them anyway)
    until(lambda: not radio._routing._groups, step=lambda: radio.send(b"x", group="late"))
    drain(dish)
    radio.send(b"after leave", group="late")
    assert drain(dish) == 0


def test_frame_group_on_send(ctx: Any) -> None:
    radio, dish = _pair(ctx, "inproc://rd-frame", "g")
    message = gzmq.Frame(b"via frame")
    message.group = "g"
    radio.send(message)
    assert dish.recv() == b"via frame"
    assert gzmq.Frame(b"x").group == ""


def test_join_leave_errors(ctx: Any) -> None:
    dish = ctx.socket(gzmq.DISH)
    dish.join("a")
    for call, group in ((dish.join, "a"), (dish.leave, "b"), (dish.join, "x" * 256)):
        with pytest.raises(gzmq.ZMQError) as info:
            call(group)
        assert info.value.errno == gzmq.EINVAL
    dish.join(b"x" * 255)
    dish.leave(b"a")
    for kind in (gzmq.RADIO, gzmq.SUB, gzmq.SERVER):
        with pytest.raises(gzmq.ZMQError) as info:
            ctx.socket(kind).join("a")
        assert info.value.errno == gzmq.ENOTSUP


def test_radio_send_rules(ctx: Any) -> None:
    radio = ctx.socket(gzmq.RADIO)
    with pytest.raises(gzmq.ZMQError) as info:
        radio.send(b"x", group="g" * 256)
    assert info.value.errno == gzmq.EINVAL
    with pytest.raises(gzmq.ZMQError) as info:
        radio.send(b"x", gzmq.SNDMORE, group="g")
    assert info.value.errno == gzmq.EINVAL
    radio.send(b"nobody listens", group="g")  # dropped, never blocks
    with pytest.raises(gzmq.ZMQError) as info:
        radio.recv(gzmq.NOBLOCK)
    assert info.value.errno == gzmq.ENOTSUP
    dish = ctx.socket(gzmq.DISH)
    with pytest.raises(gzmq.ZMQError) as info:
        dish.send(b"x", group="g")
    assert info.value.errno == gzmq.ENOTSUP
    assert dish.linger == 0  # libzmq's DISH constructor, as SUB's


def test_poll_never_promises_a_filtered_message(ctx: Any) -> None:
    radio, dish = _pair(ctx, "inproc://rd-poll", "g")
    radio._routing._groups.setdefault(b"other", {})  # (force the send to the DISH's pipe)
    for pipe in list(radio._routing._dist.pipes):
        radio._routing._everything[pipe] = None
    radio.send(b"filtered", group="other")
    assert dish.poll(0) == 0
    radio.send(b"kept", group="g")
    assert dish.poll(100) == gzmq.POLLIN
    assert dish.recv(gzmq.NOBLOCK) == b"kept"


def test_wire_format_and_join_commands(ctx: Any) -> None:
    """A raw ZMTP DISH: our RADIO gets its JOIN, then sends [group, MORE][body]."""
    radio = ctx.socket(gzmq.RADIO)
    radio.bind("tcp://127.0.0.1:*")
    port = int(radio.last_endpoint.decode().rsplit(":", 1)[1])
    raw = pysocket.create_connection(("127.0.0.1", port))
    raw.settimeout(0)
    conn = zmtp.Connection("DISH")
    raw.sendall(conn.initiate())
    received: list[Any] = []

    def pump() -> None:
        try:
            data = raw.recv(65536)
        except BlockingIOError:
            return
        received.extend(conn.receive_data(data))
        out = conn.data_to_send()
        if out:
            raw.sendall(out)

    until(lambda: conn.state is zmtp.ConnectionState.READY, step=pump)
    raw.sendall(conn.join(b"g") + conn.join(b"h"))
    until(lambda: any(isinstance(e, zmtp.Message) for e in received),
          step=lambda: (radio.send(b"body", group="g"), pump()))
    message = next(e for e in received if isinstance(e, zmtp.Message))
    assert message.parts == [b"g", b"body"]
    raw.close()


def test_hostile_dish_input_is_dropped(ctx: Any, caplog: Any) -> None:
    """A 'RADIO' that sends one-frame messages or an over-long group: dropped and logged."""
    dish = ctx.socket(gzmq.DISH)
    dish.bind("tcp://127.0.0.1:*")
    dish.join("g")
    port = int(dish.last_endpoint.decode().rsplit(":", 1)[1])
    raw = pysocket.create_connection(("127.0.0.1", port))
    raw.settimeout(0)
    conn = zmtp.Connection("RADIO")
    raw.sendall(conn.initiate())

    def pump() -> None:
        try:
            data = raw.recv(65536)
        except BlockingIOError:
            return
        conn.receive_data(data)
        out = conn.data_to_send()
        if out:
            raw.sendall(out)

    until(lambda: conn.state is zmtp.ConnectionState.READY, step=pump)
    with caplog.at_level(logging.WARNING, logger="gzmq.security"):
        raw.sendall(conn.send_message([b"no group"]) + conn.send_message([b"g" * 256, b"x"])
                    + conn.send_message([b"g", b"ok"]))
        dish.rcvtimeo = 5000
        assert dish.recv() == b"ok"
    assert dish._routing.dropped == 2
    assert any("DISH dropped" in record.message for record in caplog.records)
    raw.close()
