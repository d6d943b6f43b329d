"""SSH tunnels for ZeroMQ connections, as pyzmq's ``zmq.ssh``: see ``gzmq.ssh.tunnel``."""

from .tunnel import *  # noqa: F401,F403
from .tunnel import __all__  # noqa: F401
