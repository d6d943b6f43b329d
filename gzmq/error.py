"""Exceptions, mirroring pyzmq's ``zmq.error``.

``ZMQError`` wraps an errno: ``.errno`` is the number, ``.strerror`` (and ``str()``) the
libzmq message for it. Like pyzmq, constructing ``ZMQError(EAGAIN)`` gives a plain
``ZMQError``; gzmq's own code raises ``Again()`` / ``ContextTerminated()`` directly, so users
can catch either the subclass or ``ZMQError`` and test ``e.errno``.
"""

from __future__ import annotations

import os
from errno import EINTR
from typing import Literal

from .constants import EAGAIN, EFSM, EHOSTUNREACH, EMTHREAD, ENOCOMPATPROTO, ETERM
from .constants import ZMQ_VERSION_INFO

__all__ = [
    "DraftFDWarning",
    "ZMQBaseError",
    "ZMQBindError",
    "ZMQError",
    "NotDone",
    "ContextTerminated",
    "InterruptedSystemCall",
    "Again",
    "ZMQVersionError",
    "strerror",
]

# zmq_strerror's own texts; every other number gets the C library's strerror(), as in libzmq.
_LIBZMQ_MESSAGES: dict[int, str] = {
    EFSM: "Operation cannot be accomplished in current state",
    ENOCOMPATPROTO: "The protocol is not compatible with the socket type",
    ETERM: "Context was terminated",
    EMTHREAD: "No thread available",
    EHOSTUNREACH: "Host unreachable",
}


def strerror(errnum: int) -> str:
    """The message libzmq's ``zmq_strerror`` gives for ``errnum``."""
    message = _LIBZMQ_MESSAGES.get(errnum)
    if message is not None:
        return message
    try:
        return os.strerror(errnum)
    except (ValueError, OverflowError):  # beyond a C int
        return f"Unknown error {errnum}"


class DraftFDWarning(RuntimeWarning):
    """Warning for using the experimental FD on draft (thread-safe) sockets."""

    def __init__(self, msg: str = "") -> None:
        if not msg:
            msg = (
                "FD support on thread-safe sockets is experimental, and may be removed."
                " You can suppress this warning with"
                " `warnings.simplefilter('ignore', zmq.error.DraftFDWarning)`"
            )
        super().__init__(msg)


class ZMQBaseError(Exception):
    """Base class of all gzmq errors."""


class ZMQError(ZMQBaseError):
    """An errno-style error.

    ``errno`` is the error number; ``None`` means "the last error", which for gzmq (having no
    C library state) is 0, as in a fresh pyzmq process. ``msg`` overrides the message. A
    non-int ``errno`` is taken as the message itself and leaves ``.errno`` as None.
    """

    errno: int | None = None
    strerror: str

    def __init__(self, errno: int | None = None, msg: str | None = None) -> None:
        if errno is None:
            errno = 0
        if isinstance(errno, int):
            self.errno = errno
            self.strerror = strerror(errno) if msg is None else msg
        else:
            self.strerror = str(errno) if msg is None else msg

    def __str__(self) -> str:
        return self.strerror

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}('{self}')"


class ZMQBindError(ZMQBaseError):
    """``Socket.bind_to_random_port`` found no free port."""


class NotDone(ZMQBaseError):
    """A ``MessageTracker.wait`` timed out before the message was sent."""


class ContextTerminated(ZMQError):
    """The context was terminated (ETERM). Arguments are accepted and ignored, as in pyzmq."""

    def __init__(self, errno: int | Literal["ignored"] = "ignored", msg: str = "ignored") -> None:
        super().__init__(ETERM)


_EAGAIN_MESSAGE = strerror(EAGAIN)


class Again(ZMQError):
    """The operation would block (EAGAIN). Arguments are accepted and ignored, as in pyzmq."""

    # Raised internally every time a non-blocking step finds nothing to do, so it must be
    # cheap: its errno and message are class attributes and its __init__ is the C one of
    # Exception (no Python frame per instance; the arguments are kept in ``args``, ignored).
    errno = EAGAIN
    strerror = _EAGAIN_MESSAGE
    __init__ = Exception.__init__  # type: ignore[assignment]


class InterruptedSystemCall(ZMQError, InterruptedError):
    """EINTR. gzmq retries interrupted calls itself, so this should never reach the user."""

    errno = EINTR
    strerror: str

    def __init__(self, errno: int | Literal["ignored"] = "ignored", msg: str = "ignored") -> None:
        super().__init__(EINTR)

    def __str__(self) -> str:
        return f"{self.strerror}: This call should have been retried. Please report this to gzmq."


class ZMQVersionError(NotImplementedError):
    """A feature needs a newer libzmq than the one gzmq reproduces."""

    msg: str
    min_version: str
    version: str

    def __init__(self, min_version: str, msg: str = "Feature") -> None:
        self.msg = msg
        self.min_version = min_version
        self.version = ".".join(str(v) for v in ZMQ_VERSION_INFO)

    def __repr__(self) -> str:
        return f"ZMQVersionError('{self}')"

    def __str__(self) -> str:
        return f"{self.msg} requires libzmq >= {self.min_version}, have {self.version}"


def _check_version(
    min_version_info: tuple[int] | tuple[int, int] | tuple[int, int, int],
    msg: str = "Feature",
) -> None:
    """Raise ZMQVersionError if the emulated libzmq version is older than ``min_version_info``."""
    if ZMQ_VERSION_INFO < min_version_info:
        raise ZMQVersionError(".".join(str(v) for v in min_version_info), msg)
