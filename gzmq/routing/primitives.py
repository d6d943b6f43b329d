"""The three strategies every socket type is made of, plus the publisher's subscription table.

Modelled on libzmq's ``lb.cpp`` / ``fq.cpp`` / ``dist.cpp``, simplified because our pipes carry
whole messages (no ``_more`` / ``_dropping`` / rollback state):

- ``LoadBalancer``: round-robin over pipes with room, *skipping full ones*; ``Again`` only when
  every pipe is full (or there is none). Simpler ports block on the "next" pipe instead.
- ``FairQueue``: round-robin over pipes with something to read, one whole message at a time.
  A pipe whose peer has gone is kept until drained, so nothing that arrived is lost.
- ``Distributor``: a copy to each chosen pipe; a pipe at its high-water mark misses that message
  (PUB never blocks).
- ``Subscriptions`` (``subscriptions.py``): topic prefix → set of pipes, matched in time linear
  in the message whatever the subscribers sent.

The cost of a message does not depend on the number of idle peers (libzmq's design). LB and FQ
keep one array of pipes whose first ``active`` entries are the ones believed ready (LB: room to
write; FQ: something to read). A send or receive looks at ``pipes[current]`` only; a pipe found
not ready there is swapped to the end of the active region and left alone until the pipe says
otherwise: the socket's per-pipe notifier calls ``activated(pipe)`` when the pipe becomes
writable (LB) or readable (FQ), which swaps it back in. Each deactivation is paid for by an
earlier activation, so a send or receive is O(1) amortised, with ten peers or ten thousand.
Invariant (notifiers run synchronously today, see ``pipe.py``): a pipe outside the active
region is full (LB) or empty (FQ); one inside may turn out not to be, and is deactivated
where it is found. Round-robin order is libzmq's: the active pipes in turn, a pipe that comes
back joins the end of the active region.

Everything is synchronous and non-blocking; unit-testable with fake pipes.
"""

from __future__ import annotations

from typing import Any, Iterable, Optional

from ..error import Again
from ..pipe import Pipe
from .subscriptions import Subscriptions  # its own module; named here beside the strategies

__all__ = ["LoadBalancer", "FairQueue", "Distributor", "Subscriptions"]


class _ActiveArray:
    """Pipes in one list, the active ones first; attach, detach and (de)activation in O(1)."""

    __slots__ = ("pipes", "active", "current", "_position")

    def __init__(self) -> None:
        #: every attached pipe; ``pipes[:active]`` are the active ones
        self.pipes: list[Pipe] = []
        self.active = 0
        #: the index (in the active region) of the pipe whose turn is next
        self.current = 0
        self._position: dict[Pipe, int] = {}

    def __contains__(self, pipe: Pipe) -> bool:
        return pipe in self._position

    def __len__(self) -> int:
        return len(self.pipes)

    def _swap(self, i: int, j: int) -> None:
        if i != j:
            pipes = self.pipes
            first, second = pipes[i], pipes[j]
            pipes[i], pipes[j] = second, first
            self._position[second] = i
            self._position[first] = j

    def _add(self, pipe: Pipe) -> None:
        """Attach ``pipe``, active (libzmq): a pipe attached already is not added twice."""
        if pipe not in self._position:
            self._position[pipe] = len(self.pipes)
            self.pipes.append(pipe)
        self.activated(pipe)

    def activated(self, pipe: Pipe) -> None:
        """``pipe`` may be ready again: into the active region with it. A pipe that is there
        already, or is not attached here (refused, or forgotten), is left alone."""
        position = self._position.get(pipe)
        active = self.active
        if position is None or position < active:
            return
        if position != active:
            self._swap(position, active)
        self.active = active + 1

    def _deactivate(self, position: int) -> None:
        """The active pipe at ``position`` is not ready: out of the active region with it;
        the last active pipe takes its place, and its turn."""
        active = self.active = self.active - 1
        if position != active:
            self._swap(position, active)
        if self.current >= active:
            self.current = 0

    def _remove(self, pipe: Pipe) -> None:
        position = self._position.get(pipe)
        if position is None:
            return
        if position < self.active:
            self._deactivate(position)
            position = self.active
        self._swap(position, len(self.pipes) - 1)
        self.pipes.pop()
        del self._position[pipe]


class LoadBalancer(_ActiveArray):
    """Active pipes: those believed to have room. ``activated`` is for the writer-side
    notifier of each pipe's outbound queue."""

    __slots__ = ()

    def attach(self, pipe: Pipe) -> None:
        self._add(pipe)

    def detach(self, pipe: Pipe) -> None:
        self._remove(pipe)

    def send(self, msg: Any) -> Pipe:
        """Put ``msg`` in the next pipe with room; return that pipe. ``Again`` if none."""
        pipes = self.pipes
        if self.active == 1 and pipes[0].outbound.try_put(msg):
            return pipes[0]  # one pipe with room: no turn to take (current is 0)
        while self.active:
            current = self.current
            pipe = pipes[current]
            if pipe.outbound.try_put(msg):
                current += 1
                self.current = current if current < self.active else 0
                return pipe
            self._deactivate(current)  # full, or nobody reads it any more: skip it from now on
        raise Again()

    @property
    def writable(self) -> bool:
        pipes = self.pipes
        while self.active:
            if pipes[self.current].outbound.writable:
                return True
            self._deactivate(self.current)
        return False


class FairQueue(_ActiveArray):
    """Active pipes: those believed to have something to read. ``activated`` is for the
    reader-side notifier of each pipe's inbound queue. A detached pipe stays until drained,
    then is forgotten."""

    __slots__ = ("last_pipe",)

    def __init__(self) -> None:
        super().__init__()
        #: where the item recv() returned last came from (for ROUTER ids, REP envelopes...)
        self.last_pipe: Optional[Pipe] = None

    def attach(self, pipe: Pipe) -> None:
        self._add(pipe)  # a reconnected pipe may be attached before it drained: never twice

    def detach(self, pipe: Pipe) -> None:
        """Forget ``pipe`` now if it is empty, else once the socket has read what it holds."""
        pipe.detached = True
        if not pipe.inbound.readable:
            self._remove(pipe)

    def _not_ready(self, position: int) -> None:
        pipe = self.pipes[position]
        if pipe.detached:
            self._remove(pipe)  # drained: forget it
        else:
            self._deactivate(position)

    def recv(self) -> Any:
        """Take one item from the next pipe that has one (see ``last_pipe``); ``Again`` if
        none has."""
        pipes = self.pipes
        if self.active == 1:
            # THE fast path (the one place outside pipe.py that touches a queue's items): one
            # pipe with data, by far the commonest case on the hottest path of every receive.
            # It is MessageQueue.take inlined, and needs no turn arithmetic (current is 0);
            # tests/unit/test_fast_path.py runs it against _recv_turns, the general case.
            pipe = pipes[0]
            queue = pipe.inbound
            items = queue._items
            if items:
                item = items.popleft()
                if len(items) == queue._wake_writer_at:  # a writer stopped at the mark may go on
                    queue._on_writable.notify()
                self.last_pipe = pipe
                if pipe.detached and not items:
                    self._remove(pipe)  # that was its last message: forget it now
                return item
            if pipe.detached:  # _not_ready(0), inlined: every blocking recv comes here
                self._remove(pipe)
            else:
                self.active = self.current = 0
            raise Again()  # it was the only active pipe
        return self._recv_turns()

    def _recv_turns(self) -> Any:
        """``recv`` in general: the active pipes in turn, deactivating the empty ones."""
        pipes = self.pipes
        while self.active:
            current = self.current
            pipe = pipes[current]
            item = pipe.inbound.take()
            if item is not None:
                self.last_pipe = pipe
                if pipe.detached and not pipe.inbound.readable:
                    self._remove(pipe)  # that was its last message: forget it now
                else:
                    current += 1
                    self.current = current if current < self.active else 0
                return item
            self._not_ready(current)
        raise Again()

    @property
    def readable(self) -> bool:
        pipes = self.pipes
        while self.active:
            if pipes[self.current].inbound.readable:
                return True
            self._not_ready(self.current)
        return False

    def drop_queued(self, keep: Optional[Pipe] = None) -> None:
        """Discard what every pipe but ``keep`` holds (REQ: replies nobody waits for). Only
        active pipes can hold anything, so this costs what was received, not the peer count."""
        pipes = self.pipes
        position = self.active - 1
        if position == 0 and pipes[0] is keep:
            return  # the commonest case: only the pipe kept may hold anything
        while position >= 0:  # backwards: a deactivated pipe swaps with one seen already
            pipe = pipes[position]
            if pipe is not keep:
                pipe.inbound.clear()
                if pipe.detached:
                    self._remove(pipe)
                else:  # _deactivate, inlined: once per request on REQ's path
                    self.active -= 1
                    self._swap(position, self.active)
                    if self.current >= self.active:
                        self.current = 0
            position -= 1


class Distributor:
    """Fan-out: the pipes a message may go to (the caller chooses among them and sends with
    ``Routing.send_to``: full pipes miss the message)."""

    __slots__ = ("_pipes",)

    def __init__(self) -> None:
        self._pipes: dict[Pipe, None] = {}  # insertion-ordered, and O(1) to detach

    @property
    def pipes(self) -> list[Pipe]:
        return list(self._pipes)

    def attach(self, pipe: Pipe) -> None:
        self._pipes[pipe] = None

    def detach(self, pipe: Pipe) -> None:
        self._pipes.pop(pipe, None)

    @staticmethod
    def all_writable(pipes: Iterable[Pipe]) -> bool:
        return all(pipe.outbound.writable for pipe in pipes)
