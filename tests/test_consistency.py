"""Numbers that live in more than one place agree: gzmq with itself, and with pyzmq.

gzmq keeps a few tables twice on purpose (the sans-IO ``gzmq.zmtp`` imports nothing from the
rest of gzmq, so it has its own socket-type and protocol-error numbers); these tests make sure
the copies cannot drift, and that what pyzmq users compare against is pyzmq's.
"""

from __future__ import annotations

import errno as std_errno
from typing import Any

import pytest

import gzmq
from gzmq import constants, error
from gzmq.options import TABLE, Options
from gzmq.routing import ROUTING
from gzmq.zmtp import sockettypes
from gzmq.zmtp.errors import ProtocolErrorCode



@pytest.fixture(scope="module")
def zmq() -> Any:
    """pyzmq, for the tests that compare with it (the others run without it)."""
    return pytest.importorskip("zmq")


# ---- socket types: constants vs zmtp vs routing ----------------------------------------------

def test_zmtp_socket_type_numbers_are_the_constants() -> None:
    canonical = {t.name: int(t) for t in constants.SocketType}  # aliases XREQ/XREP excluded
    assert sockettypes.SOCKET_TYPE_NUMBERS == canonical


def test_zmtp_peer_table_covers_every_type() -> None:
    assert set(sockettypes.COMPATIBLE) == set(sockettypes.SOCKET_TYPE_NUMBERS)
    for peers in sockettypes.COMPATIBLE.values():
        assert peers <= set(sockettypes.SOCKET_TYPE_NUMBERS)


def test_socket_type_names_on_the_wire() -> None:
    # what READY announces: every type but STREAM, which never speaks ZMTP
    expected = {n: name for name, n in sockettypes.SOCKET_TYPE_NUMBERS.items()
                if name != "STREAM"}
    assert constants.SOCKET_TYPE_NAMES == expected


def test_routing_classes_announce_their_own_type() -> None:
    for number, routing in ROUTING.items():
        assert routing.socket_type == constants.SocketType(number).name, routing
        assert routing.socket_type in sockettypes.COMPATIBLE


def test_socket_types_match_pyzmq(zmq: Any) -> None:
    for member in zmq.SocketType:
        assert int(constants.SocketType[member.name]) == int(member), member.name


# ---- protocol errors and monitor events -------------------------------------------------------

def test_zmtp_protocol_error_codes_are_the_events_values() -> None:
    events = {name: int(m) for name, m in constants.Event.__members__.items()
              if name.startswith("PROTOCOL_ERROR_")}  # (iterating a Flag skips multi-bit ones)
    codes = {f"PROTOCOL_ERROR_{m.name}": int(m) for m in ProtocolErrorCode}
    assert codes == events


def test_events_match_pyzmq(zmq: Any) -> None:
    theirs = {name: int(member) for name, member in zmq.Event.__members__.items()}
    ours = {name: int(member) for name, member in constants.Event.__members__.items()}
    assert ours == theirs
    for name in theirs:
        if not name.startswith("PROTOCOL_ERROR_"):
            assert getattr(gzmq, f"EVENT_{name}") == getattr(zmq, f"EVENT_{name}"), name


def test_v1_events_fit_the_monitor_frame() -> None:
    """Frame 1 carries the event id in 16 bits (every v1 event; PIPES_STATS is v2 only)."""
    from gzmq.monitor import pack_event, unpack_event
    for name, event in constants.Event.__members__.items():
        if name.startswith("PROTOCOL_ERROR_") or event > 0xFFFF:
            continue
        assert unpack_event(pack_event(event, 0, ""))[0] == event


# ---- error numbers: constants vs gzmq.error vs pyzmq ------------------------------------------

def test_errnos_match_pyzmq(zmq: Any) -> None:
    theirs = {name: int(member) for name, member in zmq.Errno.__members__.items()}
    ours = {name: int(member) for name, member in constants.Errno.__members__.items()}
    assert ours == theirs


@pytest.mark.parametrize("name,number", [
    ("Again", constants.EAGAIN), ("ContextTerminated", constants.ETERM),
    ("InterruptedSystemCall", std_errno.EINTR),
])
def test_error_classes_carry_their_errno(zmq: Any, name: str, number: int) -> None:
    ours, theirs = getattr(error, name)(), getattr(zmq.error, name)()
    assert ours.errno == number == theirs.errno
    assert isinstance(ours, error.ZMQError)
    assert getattr(gzmq, name) is getattr(error, name)


@pytest.mark.parametrize("member", list(constants.Errno), ids=lambda m: m.name)
def test_error_messages_match_pyzmq(zmq: Any, member: constants.Errno) -> None:
    assert error.strerror(member) == zmq.strerror(int(member))
    assert str(error.ZMQError(member)) == str(zmq.ZMQError(int(member)))


def test_error_class_tree_matches_pyzmq(zmq: Any) -> None:
    for name in error.__all__:
        ours, theirs = getattr(error, name), getattr(zmq.error, name, None)
        if not isinstance(ours, type):
            continue  # strerror
        assert theirs is not None, name
        our_bases = [b.__name__ for b in ours.__mro__ if b.__module__.startswith("gzmq")]
        their_bases = [b.__name__ for b in theirs.__mro__ if b.__module__.startswith("zmq")]
        assert our_bases == their_bases, name


# ---- socket options: constants vs the options table vs pyzmq ----------------------------------

def test_option_numbers_match_pyzmq(zmq: Any) -> None:
    both = set(zmq.SocketOption.__members__) & set(constants.SocketOption.__members__)
    assert both == set(zmq.SocketOption.__members__)
    for name in both:
        assert int(constants.SocketOption[name]) == int(zmq.SocketOption[name]), name


def test_table_rows_are_typed_as_pyzmq_types_them(zmq: Any) -> None:
    kinds = {"int": int, "int64": int, "bytes": bytes}
    for option, spec in TABLE.items():
        theirs = zmq.SocketOption[option.name]._opt_type.name
        assert spec.kind is kinds[theirs], option.name
        assert spec.c_int == (theirs == "int"), option.name
        assert spec.attr == option.name.lower()
        assert isinstance(spec.default, spec.kind) and not isinstance(spec.default, bool)


def test_every_row_is_an_attribute_of_options() -> None:
    options = Options(constants.SocketType.DEALER)
    for spec in TABLE.values():
        assert getattr(options, spec.attr) == spec.default, spec.attr
    assert set(Options.__slots__) == {spec.attr for spec in TABLE.values()} | {
        "socket_type", "as_server"}
    with pytest.raises(AttributeError):
        options.not_an_option = 1  # type: ignore[attr-defined]


def test_per_type_defaults_are_valid_values_of_table_options() -> None:
    for number, routing in ROUTING.items():
        for option, value in routing.option_defaults.items():
            assert option in TABLE, (routing, option)
            Options(number).set(option, value)  # the table accepts it
            assert getattr(Options(number, routing.option_defaults), TABLE[option].attr) == value


@pytest.mark.parametrize("number", sorted(ROUTING))
def test_per_type_defaults_match_pyzmq(zctx: Any, number: int) -> None:
    """Where a socket type's default differs from the table's, pyzmq's socket agrees; where
    it does not, pyzmq's socket has the table's default."""
    theirs = zctx.socket(number)
    try:
        routing = ROUTING[number]
        for option, spec in TABLE.items():
            if spec.access is not spec.access.READ_WRITE or spec.read is not None:
                continue
            expected = routing.option_defaults.get(option, spec.default)
            assert theirs.getsockopt(int(option)) == expected, (routing.socket_type, option)
    finally:
        theirs.close(linger=0)
