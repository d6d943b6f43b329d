"""gzmq.constants against pyzmq's zmq.constants: same classes, members, order, values, types."""

from __future__ import annotations

import enum
import pickle

import pytest

from gzmq import constants as g

zmq_constants = pytest.importorskip("zmq.constants")

ENUM_CLASSES = [
    "Errno",
    "ContextOption",
    "SocketType",
    "SocketOption",
    "MessageOption",
    "Flag",
    "RouterNotify",
    "SecurityMechanism",
    "ReconnectStop",
    "Event",
    "PollEvent",
    "DeviceType",
    "NormMode",
]


@pytest.mark.parametrize("name", ENUM_CLASSES)
def test_enum_class_matches_pyzmq(name: str) -> None:
    ours, theirs = getattr(g, name), getattr(zmq_constants, name)
    assert ours.__name__ == theirs.__name__
    # the same base kind (IntEnum vs IntFlag)
    for kind in (enum.IntFlag, enum.IntEnum):
        assert issubclass(ours, kind) == issubclass(theirs, kind), kind
    # same names in the same order (order decides which alias is canonical), same values
    assert list(ours.__members__) == list(theirs.__members__)
    for member_name, member in theirs.__members__.items():
        assert ours[member_name] == member, member_name
        assert ours[member_name].name == member.name, member_name
        assert repr(ours[member_name]) == repr(member), member_name
        assert str(ours[member_name]) == str(member), member_name
    # canonical members in the same order
    assert [m.name for m in ours] == [m.name for m in theirs]


def test_opt_type_matches_pyzmq() -> None:
    assert [t.name for t in g._OptType] == [t.name for t in zmq_constants._OptType]
    assert [t.value for t in g._OptType] == [t.value for t in zmq_constants._OptType]
    for name, member in zmq_constants.SocketOption.__members__.items():
        assert g.SocketOption[name]._opt_type.name == member._opt_type.name, name
        assert g.SocketOption[name]._opt_type is g._OptType[member._opt_type.name]


def test_every_pyzmq_flat_name_exists() -> None:
    missing = [n for n in zmq_constants.__all__ if not hasattr(g, n)]
    assert not missing
    for name in zmq_constants.__all__:
        theirs = getattr(zmq_constants, name)
        if isinstance(theirs, type):
            continue  # classes: compared above
        ours = getattr(g, name)
        assert ours == theirs, name
        assert type(ours).__name__ == type(theirs).__name__, name
        assert ours.name == theirs.name, name


def test_all_matches_pyzmq() -> None:
    assert set(g.__all__) == set(zmq_constants.__all__)
    assert len(g.__all__) == len(set(g.__all__))
    for name in g.__all__:
        assert hasattr(g, name), name


def test_flat_names_are_members() -> None:
    assert g.PUB is g.SocketType.PUB
    assert g.XREP is g.ROUTER and g.XREQ is g.DEALER
    assert g.NOBLOCK is g.DONTWAIT
    assert g.IDENTITY is g.ROUTING_ID
    assert g.CONNECT_RID is g.CONNECT_ROUTING_ID
    assert g.DELAY_ATTACH_ON_CONNECT is g.IMMEDIATE
    assert g.EVENT_ALL is g.EVENT_ALL_V1
    assert g.HWM == 1
    assert g.NOTIFY_CONNECT is g.RouterNotify.CONNECT
    assert g.RECONNECT_STOP_AFTER_DISCONNECT == 4
    assert g.NORM_CCE_ECNONLY == 4
    assert g.PROTOCOL_ERROR_ZMTP_UNSPECIFIED is g.Event.PROTOCOL_ERROR_ZMTP_UNSPECIFIED


def test_str_repr_format() -> None:
    import zmq

    cases = [
        (g.PUB, zmq.PUB),
        (g.EFSM, zmq.EFSM),
        (g.RCVHWM, zmq.RCVHWM),
        (g.IDENTITY, zmq.IDENTITY),
        (g.POLLIN | g.POLLOUT, zmq.POLLIN | zmq.POLLOUT),
        (g.EVENT_ALL, zmq.EVENT_ALL),
        (g.Event(0), zmq.Event(0)),
        (g.PROTOCOL_ERROR_WS_UNSPECIFIED, zmq.PROTOCOL_ERROR_WS_UNSPECIFIED),
    ]
    for ours, theirs in cases:
        assert str(ours) == str(theirs)
        assert repr(ours) == repr(theirs)
        assert f"{ours}" == f"{theirs}"
        assert "%s/%d" % (ours, ours) == "%s/%d" % (theirs, theirs)
    assert str(g.PUB) == "1"
    assert f"tcp://127.0.0.1:{g.PUB}" == "tcp://127.0.0.1:1"
    assert repr(g.PUB) == "<SocketType.PUB: 1>"


def test_int_behaviour() -> None:
    assert g.PUB == 1 and isinstance(g.PUB, int)
    assert {1: "x"}[g.PUB] == "x"
    assert g.SocketType(6) is g.ROUTER
    assert g.SocketOption(5) is g.ROUTING_ID
    assert pickle.loads(pickle.dumps(g.RCVHWM)) is g.RCVHWM
    assert g.DONTWAIT | g.SNDMORE == 3
    assert isinstance(g.DONTWAIT | g.SNDMORE, g.Flag)


def test_errno_values() -> None:
    assert g.EFSM == 156384763
    assert g.ENOCOMPATPROTO == 156384764
    assert g.ETERM == 156384765
    assert g.EMTHREAD == 156384766


def test_socket_type_names() -> None:
    expected = {t.value: t.name for t in zmq_constants.SocketType if t.value != 11}
    assert g.SOCKET_TYPE_NAMES == expected
    assert g.SOCKET_TYPE_NAMES[1] == "PUB"
    assert g.SOCKET_TYPE_NAMES[5] == "DEALER"
    assert g.SOCKET_TYPE_NAMES[6] == "ROUTER"
    assert 11 not in g.SOCKET_TYPE_NAMES
    assert set(g.SOCKET_TYPE_NAMES) == set(range(0, 11)) | set(range(12, 21))
    assert all(type(k) is int for k in g.SOCKET_TYPE_NAMES)


def test_version_info() -> None:
    assert g.ZMQ_VERSION_INFO == (4, 3, 5)
