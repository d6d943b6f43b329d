"""Background devices, as pyzmq's ``zmq.devices``, cooperative with gevent.

A device is built from socket *types*; its sockets are made where it runs. Three launchers:

- ``Device``, ``Proxy``, ``ProxySteerable``, ``MonitoredQueue``: ``start()`` runs the device
  in the calling greenlet until its context ends (it yields to the hub while it waits);
- ``Thread*`` variants: ``start()`` returns at once and the device runs **as a greenlet in the
  caller's hub**, not in an OS thread. pyzmq's thread would sit in a blocking C loop; here the
  device only runs while the caller's thread is inside gevent (a gzmq call, ``gevent.sleep``,
  or anything after ``gevent.monkey.patch_all()``, under which threads are greenlets anyway);
- ``Process*`` variants: ``start()`` forks a real child process that makes a fresh gzmq
  context there and runs the device (see ``basedevice.ProcessDevice``).

``monitored_queue(in, out, mon, in_prefix=b'in', out_prefix=b'out')`` is the function behind
``MonitoredQueue``; ``proxy``/``proxy_steerable`` are gzmq's (gzmq/proxy.py).
"""

from __future__ import annotations

from ..constants import DeviceType
from ..proxy import proxy
from . import basedevice, monitoredqueue, monitoredqueuedevice, proxydevice, proxysteerabledevice
from .basedevice import *  # noqa: F401,F403
from .monitoredqueue import *  # noqa: F401,F403
from .monitoredqueuedevice import *  # noqa: F401,F403
from .proxydevice import *  # noqa: F401,F403
from .proxysteerabledevice import *  # noqa: F401,F403

__all__: list[str] = []
for _module in (basedevice, proxydevice, proxysteerabledevice, monitoredqueue,
                monitoredqueuedevice):
    __all__.extend(_module.__all__)
del _module
