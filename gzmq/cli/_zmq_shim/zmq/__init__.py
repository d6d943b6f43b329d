"""A stand-in for pyzmq's ``zmq`` package: gzmq.monkey.export_to_subprocesses() puts its
directory first on PYTHONPATH, so a Python subprocess that imports zmq lands here.

If ``GZMQ_PATCH_ZMQ`` asks for it and this interpreter can import gzmq, this calls
``gzmq.monkey.patch_zmq()``, which makes ``zmq`` (and every ``zmq.x``) gzmq; the import
statement that brought us here then returns gzmq. Otherwise it steps aside: its directory
leaves ``sys.path`` and the real zmq (pyzmq), if any, is imported in its place.
"""

import os as _os
import sys as _sys

__gzmq_shim__ = True


def _wanted() -> bool:
    flag = _os.environ.get("GZMQ_PATCH_ZMQ", "")
    return flag.strip() not in ("", "0", "false", "no", "off")


def _hand_over() -> None:
    if _wanted():
        try:
            from gzmq.monkey import patch_zmq
        except ImportError:
            pass  # another interpreter, without gzmq: fall through to the real zmq
        else:
            patch_zmq()  # replaces sys.modules['zmq'] (this module) with gzmq
            return
    here = _os.path.dirname(_os.path.dirname(_os.path.abspath(__file__)))
    _sys.path[:] = [p for p in _sys.path if _os.path.abspath(p or _os.curdir) != here]
    del _sys.modules[__name__]
    import importlib
    _sys.modules[__name__] = importlib.import_module(__name__)


_hand_over()
