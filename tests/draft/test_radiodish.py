"""RADIO / DISH (RFC 48) over inproc, tcp and ipc, as libzmq 4.3.5: exact group match,
join/leave errors, JOIN/LEAVE commands reaching the RADIO, group + body on the wire."""
from __future__ import annotations

import logging
from typing import Any

import pytest

import gzmq
from gzmq import zmtp
from draft_helpers import RawPeer, drain, expect_errno, try_recv, until

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
        expect_errno(gzmq.EINVAL, call, group)
    dish.join(b"x" * 255)
    dish.leave(b"a")
    for kind in (gzmq.RADIO, gzmq.SUB, gzmq.SERVER):
        expect_errno(gzmq.ENOTSUP, ctx.socket(kind).join, "a")


def test_radio_send_rules(ctx: Any) -> None:
    radio = ctx.socket(gzmq.RADIO)
    expect_errno(gzmq.EINVAL, radio.send, b"x", group="g" * 256)
    expect_errno(gzmq.EINVAL, radio.send, b"x", gzmq.SNDMORE, group="g")
    radio.send(b"nobody listens", group="g")  # dropped, never blocks
    expect_errno(gzmq.ENOTSUP, radio.recv, gzmq.NOBLOCK)
    dish = ctx.socket(gzmq.DISH)
    expect_errno(gzmq.ENOTSUP, dish.send, b"x", group="g")
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
    dish = RawPeer(radio, "DISH")
    # a JOIN of a 256-byte group (libzmq would abort on it): dropped, the rest goes on
    dish.send(dish.conn._command_frame(b"\x04JOIN" + b"x" * 256) + dish.conn.join(b"g")
              + dish.conn.join(b"h"))
    until(lambda: any(isinstance(e, zmtp.Message) for e in dish.events),
          step=lambda: (radio.send(b"body", group="g"), dish.pump()))
    message = next(e for e in dish.events if isinstance(e, zmtp.Message))
    assert message.parts == [b"g", b"body"]
    assert set(radio._routing._groups) == {b"g", b"h"}
    dish.close()


def test_hostile_dish_input_is_dropped(ctx: Any, caplog: Any) -> None:
    """A 'RADIO' that sends one-frame messages or an over-long group: dropped and logged."""
    dish = ctx.socket(gzmq.DISH)
    dish.bind("tcp://127.0.0.1:*")
    dish.join("g")
    radio = RawPeer(dish, "RADIO")
    with caplog.at_level(logging.WARNING, logger="gzmq.security"):
        conn = radio.conn
        radio.send(conn.send_message([b"no group"]) + conn.send_message([b"g" * 256, b"x"])
                   + conn.send_message([b"g", b"ok"]))
        dish.rcvtimeo = 5000
        assert dish.recv() == b"ok"
    assert dish._routing.dropped == 2
    assert any("DISH dropped" in record.message for record in caplog.records)
    radio.close()
