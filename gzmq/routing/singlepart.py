"""SCATTER, GATHER (RFC 49) and CHANNEL (RFC 52): PUSH, PULL and PAIR for single-part
messages (libzmq ``scatter.cpp``, ``gather.cpp``, ``channel.cpp``). A send with SNDMORE is
EINVAL (the socket checks ``single_part``); a multipart message from the wire is dropped."""

from __future__ import annotations

from typing import Any, Optional

from ..pipe import Pipe
from .clientserver import SinglePartInbox, SinglePartReceiving
from .pipeline import Pair, Pull, Push

__all__ = ["Scatter", "Gather", "Channel"]


class Scatter(Push):
    """Round-robin to peers with room, as PUSH."""

    socket_type = "SCATTER"
    single_part = True


class Gather(Pull):
    """Fair-queued from every peer, as PULL; multipart messages are dropped."""

    socket_type = "GATHER"
    single_part = True

    def __init__(self, options: Any) -> None:
        super().__init__(options)
        self._inbox = SinglePartInbox.over(self._fq)
        self.recv_nowait = self._inbox.recv  # type: ignore[method-assign]

    @property
    def last_pipe(self) -> Optional[Pipe]:  # type: ignore[override]
        return self._inbox.last_pipe

    @property
    def readable(self) -> bool:
        return self._inbox.readable


class Channel(SinglePartReceiving, Pair):
    """One peer at a time, as PAIR; multipart messages are dropped."""

    socket_type = "CHANNEL"
    single_part = True

    def __init__(self, options: Any) -> None:
        super().__init__(options)
        # Pair.recv_nowait notes where each message came from in last_pipe
        self._inbox = SinglePartInbox(lambda: Pair.recv_nowait(self), lambda: self.last_pipe)
