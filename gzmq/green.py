"""``import gzmq.green as zmq`` for code written against ``zmq.green``: the same module.

gzmq is green by construction; this alias only spares such code an import change.
"""

from gzmq import *  # noqa: F401,F403
from gzmq import Context, Poller, Socket, __all__  # noqa: F401
