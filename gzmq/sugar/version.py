"""``zmq.sugar.version``: the versions gzmq reports, and why.

gzmq is not pyzmq and links no libzmq, yet code gates behaviour on these numbers (pyzmq's own
``Authenticator`` and monitor helpers need ``zmq_version_info() >= (4, 0)``; applications
check ``pyzmq_version_info()`` before using newer API). So gzmq reports:

- ``zmq.__version__`` / ``pyzmq_version()`` / ``pyzmq_version_info()``: **27.3.0**, the pyzmq
  API level gzmq implements (``/work/shared/pyzmq_api.md`` was written against it; the
  behaviour is checked with pyzmq's own test suite, tag v27.2.0, and pyzmq 27.3.0 as the
  oracle in gzmq's tests). As in pyzmq, ``pyzmq_version() == __version__`` (no revision).
- ``zmq_version()`` / ``zmq_version_info()``: **4.3.5**, the libzmq whose behaviour gzmq
  reproduces and whose wire protocol (ZMTP 3.1) it speaks.
- gzmq's own release is ``__gzmq_version__`` (also ``gzmq.__gzmq_version__``); it is the
  version of the distribution (``pip show gzmq``) and of ``python -m gzmq --version``.
"""

from __future__ import annotations

from ..constants import ZMQ_VERSION_INFO

__all__ = ["zmq_version", "zmq_version_info", "pyzmq_version", "pyzmq_version_info",
           "__version__", "__revision__"]

#: gzmq's own release (the distribution's version)
__gzmq_version__ = "0.1.0"

#: the pyzmq API level gzmq implements
__version__: str = "27.3.0"
__revision__: str = ""

VERSION_MAJOR, VERSION_MINOR, VERSION_PATCH = (int(part) for part in __version__.split("."))
VERSION_EXTRA = ""  # a pyzmq development version would have e.g. "dev0" (and inf below)
version_info: tuple[int, int, int] = (VERSION_MAJOR, VERSION_MINOR, VERSION_PATCH)


def pyzmq_version() -> str:
    """The pyzmq API version gzmq implements, as a string ("27.3.0")."""
    return __version__ + ("+" + __revision__[:6] if __revision__ else "")


def pyzmq_version_info() -> tuple[int, int, int]:
    """The pyzmq API version gzmq implements, as a tuple of three ints."""
    return version_info


def zmq_version_info() -> tuple[int, int, int]:
    """The libzmq version whose behaviour gzmq reproduces: (4, 3, 5)."""
    return ZMQ_VERSION_INFO


def zmq_version() -> str:
    """The libzmq version whose behaviour gzmq reproduces, as a string ("4.3.5")."""
    return "%i.%i.%i" % zmq_version_info()
