"""ZAP authentication and CURVE certificates, as pyzmq's ``zmq.auth``.

``Authenticator`` serves ``inproc://zeromq.zap.01`` from greenlets (``start()``/``stop()``), so
it needs no thread: ``gzmq.auth.thread.ThreadAuthenticator`` is the same class. The
certificate helpers read and write pyzmq's and czmq's ZPL certificate files.
"""

from .base import *  # noqa: F401,F403
from .base import CURVE_ALLOW_ANY, Authenticator
from .certs import *  # noqa: F401,F403
from .certs import create_certificates, load_certificate, load_certificates

__all__ = ["Authenticator", "CURVE_ALLOW_ANY", "create_certificates", "load_certificate",
           "load_certificates"]
