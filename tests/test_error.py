"""gzmq.error against pyzmq's zmq.error: classes, errno, str/repr, strerror texts."""

from __future__ import annotations

import errno
import pickle
import warnings

import pytest

from gzmq import constants as c
from gzmq import error as g

zmq = pytest.importorskip("zmq")

STRERROR_CASES = [
    c.EAGAIN,
    c.EINVAL,
    c.EFSM,
    c.ETERM,
    c.EHOSTUNREACH,
    c.ENOTSOCK,
    c.ENOTSUP,
    c.EADDRINUSE,
    errno.ENAMETOOLONG,
    errno.ENOENT,
    c.EMTHREAD,
    c.ENOCOMPATPROTO,
    errno.EINTR,
    c.EPROTONOSUPPORT,
    c.ECONNREFUSED,
    12345,
    0,
]


@pytest.mark.parametrize("errnum", STRERROR_CASES)
def test_strerror_matches_pyzmq(errnum: int) -> None:
    assert g.strerror(errnum) == zmq.strerror(errnum)


def test_strerror_texts() -> None:
    assert g.strerror(c.EAGAIN) == "Resource temporarily unavailable"
    assert g.strerror(c.EFSM) == "Operation cannot be accomplished in current state"
    assert g.strerror(c.ENOCOMPATPROTO) == "The protocol is not compatible with the socket type"
    assert g.strerror(c.ETERM) == "Context was terminated"
    assert g.strerror(c.EMTHREAD) == "No thread available"
    assert g.strerror(c.EHOSTUNREACH) == "Host unreachable"
    assert isinstance(g.strerror(2**40), str)


def test_hierarchy() -> None:
    assert issubclass(g.ZMQError, g.ZMQBaseError)
    assert issubclass(g.ZMQBaseError, Exception)
    for cls in (g.Again, g.ContextTerminated, g.InterruptedSystemCall):
        assert issubclass(cls, g.ZMQError)
    assert issubclass(g.InterruptedSystemCall, InterruptedError)
    assert issubclass(g.ZMQBindError, g.ZMQBaseError)
    assert issubclass(g.NotDone, g.ZMQBaseError)
    assert not issubclass(g.ZMQBindError, g.ZMQError)
    assert issubclass(g.ZMQVersionError, NotImplementedError)
    assert issubclass(g.DraftFDWarning, RuntimeWarning)
    for name in zmq.error.__all__:
        assert hasattr(g, name), name


@pytest.mark.parametrize("errnum", [c.EAGAIN, c.ETERM, c.EINVAL, c.EFSM, c.EHOSTUNREACH])
def test_zmqerror_matches_pyzmq(errnum: int) -> None:
    ours, theirs = g.ZMQError(errnum), zmq.ZMQError(errnum)
    assert type(ours) is g.ZMQError  # no automatic conversion to Again/ContextTerminated
    assert ours.errno == theirs.errno == errnum
    assert ours.strerror == theirs.strerror
    assert str(ours) == str(theirs)
    assert repr(ours) == repr(theirs)
    assert ours.args == theirs.args


def test_zmqerror_custom_message() -> None:
    ours, theirs = g.ZMQError(c.EAGAIN, "hi"), zmq.ZMQError(zmq.EAGAIN, "hi")
    assert ours.errno == c.EAGAIN
    assert str(ours) == str(theirs) == "hi"
    assert repr(ours) == repr(theirs) == "ZMQError('hi')"
    assert ours.args == theirs.args == (c.EAGAIN, "hi")


def test_zmqerror_without_errno() -> None:
    e = g.ZMQError()
    assert e.errno == 0
    assert str(e) == zmq.strerror(0)
    s = g.ZMQError("a message")
    assert s.errno is None and str(s) == "a message"
    assert str(s) == str(zmq.ZMQError("a message"))


@pytest.mark.parametrize(
    "name, errnum",
    [("Again", c.EAGAIN), ("ContextTerminated", c.ETERM), ("InterruptedSystemCall", errno.EINTR)],
)
def test_specific_errors_match_pyzmq(name: str, errnum: int) -> None:
    ours_cls, theirs_cls = getattr(g, name), getattr(zmq, name)
    for args in [(), (errnum,), (12345, "ignored message")]:
        ours, theirs = ours_cls(*args), theirs_cls(*args)
        assert ours.errno == theirs.errno == errnum
        assert ours.strerror == theirs.strerror == zmq.strerror(errnum)
        assert ours.args == theirs.args
        if name != "InterruptedSystemCall":
            assert str(ours) == str(theirs)
            assert repr(ours) == repr(theirs)
        else:
            assert str(ours).startswith(zmq.strerror(errnum) + ": This call should have been")
            assert repr(ours) == f"InterruptedSystemCall('{ours}')"


def test_catching() -> None:
    with pytest.raises(g.ZMQError) as info:
        raise g.Again()
    assert info.value.errno == c.EAGAIN
    assert str(info.value) == "Resource temporarily unavailable"
    with pytest.raises(g.ZMQError) as info:
        raise g.ContextTerminated()
    assert info.value.errno == c.ETERM
    with pytest.raises(InterruptedError):
        raise g.InterruptedSystemCall()


def test_pickle_roundtrip() -> None:
    for exc in (g.ZMQError(c.EINVAL), g.ZMQError(c.EAGAIN, "hi"), g.Again(), g.ContextTerminated()):
        copy = pickle.loads(pickle.dumps(exc))
        assert type(copy) is type(exc)
        assert copy.errno == exc.errno
        assert str(copy) == str(exc)


def test_version_error() -> None:
    ours, theirs = g.ZMQVersionError("5.0", "Thing"), zmq.ZMQVersionError("5.0", "Thing")
    assert ours.min_version == "5.0"
    assert ours.version == "4.3.5" == theirs.version
    assert str(ours) == str(theirs) == "Thing requires libzmq >= 5.0, have 4.3.5"
    assert repr(ours) == repr(theirs)
    assert str(g.ZMQVersionError("4.4")) == "Feature requires libzmq >= 4.4, have 4.3.5"
    g._check_version((4, 3), "ok")
    with pytest.raises(g.ZMQVersionError) as info:
        g._check_version((4, 4, 0), "Newer thing")
    assert info.value.min_version == "4.4.0"


def test_draft_fd_warning() -> None:
    assert str(g.DraftFDWarning("custom")) == "custom"
    assert "experimental" in str(g.DraftFDWarning())
    with pytest.warns(g.DraftFDWarning):
        warnings.warn(g.DraftFDWarning())
