"""pyzmq's ``zmq.auth.thread`` names.

pyzmq runs its authenticator in a thread so that ZAP requests are served while the main thread
works. gzmq's ``Authenticator`` already serves them from greenlets (and under gevent a thread
would be a greenlet anyway), so ``ThreadAuthenticator`` is simply that class, with ``start()``,
``stop()`` and ``is_alive()``.
"""

from .base import Authenticator

ThreadAuthenticator = Authenticator

__all__ = ["ThreadAuthenticator"]
