"""The three strategies every socket type is made of, plus the publisher's subscription table.

Modelled on libzmq's ``lb.cpp`` / ``fq.cpp`` / ``dist.cpp``, simplified because our pipes carry
whole messages (no ``_more`` / ``_dropping`` / rollback state):

- ``LoadBalancer``: round-robin over attached pipes, *skipping full ones*; ``Again`` only when
  every pipe is full (or there is none). Simpler ports block on the "next" pipe instead.
- ``FairQueue``: round-robin over pipes with something to read, one whole message at a time.
  A pipe whose peer has gone is kept until drained, so nothing that arrived is lost.
- ``Distributor``: a copy to each chosen pipe; a pipe at its high-water mark misses that message
  (PUB never blocks).
- ``Subscriptions`` (``subscriptions.py``): topic prefix → set of pipes, matched in time linear
  in the message whatever the subscribers sent.

Everything is synchronous and non-blocking; unit-testable with fake pipes.
"""

from __future__ import annotations

from typing import Any, Iterable, Optional

from ..error import Again
from ..pipe import Pipe
from .subscriptions import Subscriptions  # its own module; named here beside the strategies

__all__ = ["LoadBalancer", "FairQueue", "Distributor", "Subscriptions"]


def _remove_keeping_turn(pipes: list[Pipe], pipe: Pipe, turn: int) -> int:
    """Remove ``pipe`` from a round-robin list; return the index of whose turn is next, so
    the rotation goes on where it was."""
    try:
        index = pipes.index(pipe)
    except ValueError:
        return turn
    del pipes[index]
    return turn - 1 if index < turn else turn


class LoadBalancer:
    __slots__ = ("pipes", "_next")

    def __init__(self) -> None:
        self.pipes: list[Pipe] = []
        self._next = 0  # index of the pipe that gets the next message

    def attach(self, pipe: Pipe) -> None:
        if pipe not in self.pipes:  # a reconnected pipe may be attached again
            self.pipes.append(pipe)

    def detach(self, pipe: Pipe) -> None:
        self._next = _remove_keeping_turn(self.pipes, pipe, self._next)

    def send(self, msg: Any) -> Pipe:
        """Put ``msg`` in the next pipe with room; return that pipe. ``Again`` if none."""
        pipes = self.pipes
        count = len(pipes)
        if count == 1:  # the common case, without the rotation arithmetic
            pipe = pipes[0]
            out = pipe.outbound
            if not out.read_closed and not (out.hwm and len(out.items) >= out.hwm) \
                    and not out.conflate:
                out.items.append(msg)
                out.reader.notify()
                return pipe
        start = self._next
        for offset in range(count):
            index = (start + offset) % count
            pipe = pipes[index]
            out = pipe.outbound  # Pipe.writable and send_nowait, inlined: the hottest loop
            if out.read_closed or (out.hwm and len(out.items) >= out.hwm and not out.conflate):
                continue
            if out.conflate:
                out.items.clear()
            out.items.append(msg)
            out.reader.notify()
            self._next = index + 1
            return pipe
        raise Again()

    @property
    def writable(self) -> bool:
        return any(pipe.writable for pipe in self.pipes)


class FairQueue:
    __slots__ = ("pipes", "_next", "last_pipe")

    def __init__(self) -> None:
        self.pipes: list[Pipe] = []
        self._next = 0
        #: where the item recv() returned last came from (for ROUTER ids, REP envelopes...)
        self.last_pipe: Optional[Pipe] = None

    def attach(self, pipe: Pipe) -> None:
        if pipe not in self.pipes:  # a reconnected pipe may be attached before it drained
            self.pipes.append(pipe)

    def detach(self, pipe: Pipe) -> None:
        """Forget ``pipe`` now if it is empty, else once the socket has read what it holds."""
        pipe.detached = True
        if not pipe.inbound.items:
            self._remove(pipe)

    def _remove(self, pipe: Pipe) -> None:
        self._next = _remove_keeping_turn(self.pipes, pipe, self._next)

    def recv(self) -> Any:
        """Take one item from the next pipe that has one (see ``last_pipe``); ``Again`` if
        none has."""
        pipes = self.pipes
        count = len(pipes)
        if count == 1:  # the common case, without the rotation arithmetic
            pipe = pipes[0]
            inbound = pipe.inbound
            items = inbound.items
            if items and not pipe.detached:
                item = items.popleft()
                if inbound.hwm and len(items) + 1 >= inbound.hwm:
                    inbound.writer.notify()  # it was full: a blocked writer may go on
                self.last_pipe = pipe
                return item
        start = self._next
        for offset in range(count):
            index = (start + offset) % count
            pipe = pipes[index]
            inbound = pipe.inbound
            items = inbound.items
            if items:
                item = items.popleft()  # Pipe.recv_nowait, inlined
                if inbound.hwm and len(items) + 1 >= inbound.hwm:
                    inbound.writer.notify()  # it was full: a blocked writer may go on
                self._next = index + 1
                if pipe.detached and not items:
                    self._remove(pipe)
                self.last_pipe = pipe
                return item
        raise Again()

    @property
    def readable(self) -> bool:
        for pipe in self.pipes:
            if pipe.inbound.items:
                return True
        return False


class Distributor:
    """Fan-out: the caller chooses the pipes; full pipes miss the message."""

    __slots__ = ("pipes",)

    def __init__(self) -> None:
        self.pipes: list[Pipe] = []

    def attach(self, pipe: Pipe) -> None:
        self.pipes.append(pipe)

    def detach(self, pipe: Pipe) -> None:
        if pipe in self.pipes:
            self.pipes.remove(pipe)

    @staticmethod
    def send_to(pipes: Iterable[Pipe], msg: Any) -> None:
        for pipe in pipes:
            if pipe.writable:
                pipe.send_nowait(msg)

    @staticmethod
    def all_writable(pipes: Iterable[Pipe]) -> bool:
        return all(pipe.writable for pipe in pipes)
