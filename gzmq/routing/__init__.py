"""Socket-type policy: which pipe a message goes to or comes from.

``ROUTING`` is the one place that maps a socket type to its behaviour; nothing else in gzmq
branches on socket types.
"""

from __future__ import annotations

from ..constants import SocketType
from .base import Routing
from .clientserver import Client, Peer, Server
from .pipeline import Pair, Pull, Push
from .pubsub import Pub, Sub, XPub, XSub
from .radiodish import Dish, Radio
from .reqrep import Dealer, Rep, Req, Router
from .singlepart import Channel, Gather, Scatter
from .stream import Stream

__all__ = ["Routing", "ROUTING"]

ROUTING: dict[int, type[Routing]] = {
    SocketType.PAIR: Pair,
    SocketType.PUB: Pub,
    SocketType.SUB: Sub,
    SocketType.REQ: Req,
    SocketType.REP: Rep,
    SocketType.DEALER: Dealer,
    SocketType.ROUTER: Router,
    SocketType.PULL: Pull,
    SocketType.PUSH: Push,
    SocketType.XPUB: XPub,
    SocketType.XSUB: XSub,
    SocketType.STREAM: Stream,
    # draft types, always available (no DRAFT flag as in libzmq's builds)
    SocketType.SERVER: Server,
    SocketType.CLIENT: Client,
    SocketType.RADIO: Radio,
    SocketType.DISH: Dish,
    SocketType.GATHER: Gather,
    SocketType.SCATTER: Scatter,
    SocketType.PEER: Peer,
    SocketType.CHANNEL: Channel,
}
