"""The middle layer: one connection's protocol over one stream, and the socket's side of it.

- ``session.py``: ``Session``, the socket's side of a peer slot; it owns the pipe across the
  connections that fill the slot (attach, re-attach after reconnect, detach).
- ``engine.py``: ``Engine``, one live connection: it runs the handshake, then its reader and
  writer, and reports how it ended (``ConnectionOutcome``). It never knows socket types.
- ``handshake.py``: greeting, security mechanism and ZAP, under HANDSHAKE_IVL.
- ``receiver.py``: bytes → messages from a hub io watcher, bounded by RCVHWM.
- ``writer.py``: messages → bytes, one non-blocking send from the hub, a greenlet if needed.
- ``heartbeat.py``: ZMTP PING/PONG liveness.
- ``raw.py``: ``RawEngine``, a connection without ZMTP (STREAM, ROUTER_RAW): bytes in and out
  as they come, under the same ``Session``.

The protocol itself (bytes in, events out) is ``gzmq.zmtp``; how streams are made (tcp, ipc)
is ``gzmq.transports``.
"""

from .engine import ConnectionOutcome, Engine
from .raw import RawEngine
from .session import Session

__all__ = ["ConnectionOutcome", "Engine", "RawEngine", "Session"]
