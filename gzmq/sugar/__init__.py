"""``zmq.sugar``: where pyzmq keeps its Python-level classes. In gzmq every class is already
pure Python; these modules re-export them under pyzmq's module names, for code that imports
``zmq.sugar.context.Context`` (pyzmq's own test harness does), ``zmq.sugar.version``, etc.
"""

from __future__ import annotations

from . import context, frame, poll, socket, tracker, version
from .context import *  # noqa: F401,F403
from .frame import *  # noqa: F401,F403
from .poll import *  # noqa: F401,F403
from .socket import *  # noqa: F401,F403
from .tracker import *  # noqa: F401,F403
from .version import *  # noqa: F401,F403
from ..error import *  # noqa: F401,F403
from ..error import __all__ as _error_all

__all__ = [*context.__all__, *frame.__all__, *poll.__all__, *socket.__all__,
           *tracker.__all__, *version.__all__, *_error_all]
