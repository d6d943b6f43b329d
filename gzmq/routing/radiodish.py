"""RADIO and DISH (RFC 48): groups matched exactly, one frame per message (libzmq
``radio.cpp``, ``dish.cpp`` and their sessions).

- A message travels on a pipe as ``[group, body]``, which is also how it goes on the ZMTP wire
  (a group frame with MORE, then the body); the udp transport makes one datagram of it.
- A DISH tells its RADIOs what it wants with ``GroupCommand`` items (JOIN/LEAVE commands on
  the wire): once per group at ``join``/``leave``, and all its groups again to each new or
  reconnected pipe. Joining a group twice, or leaving one not joined, is EINVAL; so is a group
  over 255 bytes.
- A RADIO reads its pipes' commands lazily, before each send (libzmq: when it processes
  pending commands), keeps group -> pipes with a count per pipe (libzmq's multimap: two JOINs
  from one pipe need two LEAVEs), and sends a copy to each pipe that joined the message's
  group and to every udp pipe (``GroupCommand(True, None)``: "all groups"). A full pipe misses
  the message, unless XPUB_NODROP makes the send EAGAIN. A message without a group has group
  ``b""``, as in libzmq.
- A DISH filters again (exact match), so a RADIO that sends everything (udp) is still right.
  ``readable`` finds the next matching message (libzmq's ``xhas_in`` prefetch), so a poll never
  promises a message that recv would then filter out.
- What a peer sends is its own choice: a message that is not ``[group of <= 255 bytes,
  body]`` is dropped and logged on ``gzmq.security`` (libzmq's dish session fails the
  connection), never raised to the application.
"""

from __future__ import annotations

import logging
from typing import Any, Optional

from ..constants import EINVAL, SocketOption
from ..error import Again, ZMQError
from ..pipe import GroupCommand, Pipe
from ..zmtp.radio import GROUP_MAX_LENGTH
from .base import Addressed, Routing
from .primitives import Distributor, FairQueue

__all__ = ["Radio", "Dish"]

_security_log = logging.getLogger("gzmq.security")


def check_group(group: bytes) -> bytes:
    """EINVAL for a group libzmq refuses (longer than ZMQ_GROUP_MAX_LENGTH)."""
    if len(group) > GROUP_MAX_LENGTH:
        raise ZMQError(EINVAL)
    return group


class Radio(Routing):
    socket_type = "RADIO"
    can_recv = False
    single_part = True
    accepts_groups = True
    fans_out = True

    def __init__(self, options: Any) -> None:
        super().__init__(options)
        self._dist = Distributor()
        self._upstream = FairQueue()
        self.read_activated = self._upstream.activated
        #: group -> {pipe: how many times it joined}
        self._groups: dict[bytes, dict[Pipe, int]] = {}
        #: pipe -> the groups it joined (to forget them in O(its groups) when it goes)
        self._joined: dict[Pipe, set[bytes]] = {}
        #: pipes that take every group (udp)
        self._everything: dict[Pipe, None] = {}

    def attach(self, pipe: Pipe) -> bool:
        self._dist.attach(pipe)
        self._upstream.attach(pipe)
        return True

    def detach(self, pipe: Pipe) -> None:
        self._dist.detach(pipe)
        self._upstream.detach(pipe)
        self._everything.pop(pipe, None)
        for group in self._joined.pop(pipe, ()):
            holders = self._groups.get(group)
            if holders is not None:
                holders.pop(pipe, None)
                if not holders:
                    del self._groups[group]

    def _read_upstream(self) -> None:
        upstream = self._upstream
        while upstream.active and upstream.readable:
            item = upstream.recv()
            if type(item) is not GroupCommand:
                continue  # a DISH sends nothing else; anything else is dropped
            pipe: Pipe = upstream.last_pipe  # type: ignore[assignment]  # set by recv()
            group = item.group
            if group is None:
                self._everything[pipe] = None
            elif item.join:
                holders = self._groups.setdefault(group, {})
                holders[pipe] = holders.get(pipe, 0) + 1
                self._joined.setdefault(pipe, set()).add(group)
            else:
                joined = self._groups.get(group)
                if joined is not None and pipe in joined:
                    joined[pipe] -= 1
                    if not joined[pipe]:
                        del joined[pipe]
                        self._joined[pipe].discard(group)
                        if not joined:
                            del self._groups[group]

    def send_nowait(self, msg: list[bytes]) -> None:
        self.send_addressed_nowait(msg, None, None)

    def send_addressed_nowait(self, msg: list[bytes], routing_id: Optional[int],
                              group: Optional[bytes]) -> None:
        if self._upstream.active:
            self._read_upstream()
        group = b"" if group is None else check_group(group)
        targets = list(self._groups.get(group, ()))
        targets.extend(pipe for pipe in self._everything if pipe not in targets)
        if self.options.xpub_nodrop and not Distributor.all_writable(targets):
            raise Again()
        self.send_to(targets, [group, msg[0]])  # a pipe at its mark misses this one

    @property
    def readable(self) -> bool:
        self._read_upstream()
        return False

    @property
    def writable(self) -> bool:
        return True  # libzmq's dist has_out

    @property
    def group_count(self) -> int:
        return len(self._groups)


class Dish(Routing):
    socket_type = "DISH"
    can_send = False
    single_part = True
    #: libzmq's DISH constructor (as SUB's): pending JOIN/LEAVE are not flushed at close
    option_defaults = {SocketOption.LINGER: 0}

    def __init__(self, options: Any) -> None:
        super().__init__(options)
        self._fq = FairQueue()
        self.read_activated = self._fq.activated
        self._dist = Distributor()
        self._groups: set[bytes] = set()
        #: a matching message found by ``readable`` and not yet received
        self._prefetched: Optional[Addressed] = None
        self.dropped = 0

    def attach(self, pipe: Pipe) -> bool:
        self._fq.attach(pipe)
        self._dist.attach(pipe)
        self.hiccup(pipe)
        return True

    def detach(self, pipe: Pipe) -> None:
        self._fq.detach(pipe)
        self._dist.detach(pipe)

    def hiccup(self, pipe: Pipe) -> None:
        for group in self._groups:
            pipe.force_send(GroupCommand(True, group))  # libzmq writes past the HWM too

    def join(self, group: bytes) -> None:
        if check_group(group) in self._groups:
            raise ZMQError(EINVAL)
        self._groups.add(group)
        for pipe in self._dist.pipes:
            pipe.force_send(GroupCommand(True, group))

    def leave(self, group: bytes) -> None:
        if check_group(group) not in self._groups:
            raise ZMQError(EINVAL)
        self._groups.discard(group)
        for pipe in self._dist.pipes:
            pipe.force_send(GroupCommand(False, group))

    def _next_matching(self) -> Addressed:
        fq = self._fq
        while True:
            msg = fq.recv()  # Again when nothing is left
            if type(msg) is GroupCommand or len(msg) != 2 or len(msg[0]) > GROUP_MAX_LENGTH:
                self._drop(msg)
                continue
            group, body = msg
            if group in self._groups:
                self.last_pipe = fq.last_pipe
                return Addressed([body], group=group)

    def _drop(self, item: Any) -> None:
        self.dropped += 1
        self.count_drop("malformed")
        if self.dropped == 1 or not self.dropped % 1000:
            _security_log.warning(
                "DISH dropped %d message(s) that were not [group <= %d bytes, body], the "
                "last from %s", self.dropped, GROUP_MAX_LENGTH,
                getattr(self._fq.last_pipe, "endpoint", "?") or "inproc")

    def recv_nowait(self) -> list[bytes]:
        msg = self._prefetched
        if msg is not None:
            self._prefetched = None
            return msg
        return self._next_matching()

    @property
    def readable(self) -> bool:
        if self._prefetched is not None:
            return True
        try:
            self._prefetched = self._next_matching()
        except Again:
            return False
        return True
