"""PUSH, PULL (RFC 30) and PAIR (RFC 31): the simplest compositions of the primitives."""

from __future__ import annotations

from typing import Any, Optional

from ..error import Again
from ..pipe import Pipe
from .base import Routing
from .primitives import FairQueue, LoadBalancer

__all__ = ["Push", "Pull", "Pair"]


class Push(Routing):
    """Load-balanced to peers with room; blocks (``Again``) only when all are full or none."""

    socket_type = "PUSH"
    can_recv = False

    def __init__(self, options: Any) -> None:
        super().__init__(options)
        self._lb = LoadBalancer()
        # one call less a message
        self.send_nowait = self._lb.send  # type: ignore[method-assign, assignment]
        self.write_activated = self._lb.activated

    def attach(self, pipe: Pipe) -> bool:
        self._lb.attach(pipe)
        return True

    def detach(self, pipe: Pipe) -> None:
        self._lb.detach(pipe)

    @property
    def writable(self) -> bool:
        return self._lb.writable


class Pull(Routing):
    """Fair-queued from every peer."""

    socket_type = "PULL"
    can_send = False

    def __init__(self, options: Any) -> None:
        super().__init__(options)
        self._fq = FairQueue()
        self.recv_nowait = self._fq.recv  # type: ignore[method-assign]  # one call less a message
        self.read_activated = self._fq.activated

    @property
    def last_pipe(self) -> Optional[Pipe]:  # type: ignore[override]
        return self._fq.last_pipe

    def attach(self, pipe: Pipe) -> bool:
        self._fq.attach(pipe)
        return True

    def detach(self, pipe: Pipe) -> None:
        self._fq.detach(pipe)

    @property
    def readable(self) -> bool:
        return self._fq.readable


class Pair(Routing):
    """Exclusive pair: one peer at a time; a second peer is refused (libzmq terminates it)."""

    socket_type = "PAIR"

    def __init__(self, options: Any) -> None:
        super().__init__(options)
        self._pipe: Optional[Pipe] = None

    def attach(self, pipe: Pipe) -> bool:
        if self._pipe is not None and not self._pipe.detached:
            return False
        self._pipe = pipe
        pipe.detached = False
        return True

    def detach(self, pipe: Pipe) -> None:
        if pipe is self._pipe:
            pipe.detached = True
            if not pipe.inbound.readable:
                self._pipe = None

    def send_nowait(self, msg: list[bytes]) -> None:
        pipe = self._pipe
        if pipe is None or pipe.detached:
            raise Again()
        pipe.send_nowait(msg)

    def recv_nowait(self) -> list[bytes]:
        pipe = self._pipe
        if pipe is None:
            raise Again()
        msg: list[bytes] = pipe.recv_nowait()
        self.last_pipe = pipe
        if pipe.detached and not pipe.inbound.readable:
            self._pipe = None
        return msg

    @property
    def readable(self) -> bool:
        return self._pipe is not None and self._pipe.readable

    @property
    def writable(self) -> bool:
        return self._pipe is not None and not self._pipe.detached and self._pipe.writable
