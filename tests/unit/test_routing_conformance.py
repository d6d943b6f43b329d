"""One conformance suite for every socket type's routing (trio's check_*_stream idea).

For each routing class, hypothesis drives random sequences of what can happen to a socket's
pipes: peers attach (with small high-water marks) and go away in every way the transports
make them go (a tcp engine ending, an inproc peer leaving, our own disconnect), a ROUTER pipe
comes back, peers send to the socket, fill their pipe to the mark, read what the socket sent
them; and the socket sends and receives. Pipes are real ``pipe_pair``s wired to the routing as
the socket's lifecycle wires them (``attach_pipe``), so the per-pipe activations run too.

What must hold, for every type and every sequence:

- ``readable`` is True exactly when ``recv_nowait`` then succeeds, ``writable`` exactly when
  ``send_nowait`` then succeeds (for the types that can receive / send);
- where the type is a plain fair queue (PULL, DEALER, ROUTER, XSUB) ``readable`` says whether
  any pipe it holds has a message, and where it is a plain load balancer (PUSH, DEALER)
  ``writable`` whether any attached pipe has room: so an idle pipe that becomes ready is never
  forgotten by the O(1) active-region bookkeeping;
- every message a peer sent arrives at most once, in its peer's order;
- the internal active regions are consistent (each pipe once, every ready pipe active).
"""

from __future__ import annotations

import itertools
from typing import Any, Optional

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from gzmq.constants import SocketType
from gzmq.error import Again, ZMQError
from gzmq.options import Options
from gzmq.pipe import GroupCommand, Pipe, Signal, SubscriptionCommand, pipe_pair
from gzmq.routing import ROUTING
from gzmq.routing.base import attach_pipe
from gzmq.routing.primitives import FairQueue, LoadBalancer

FAIR_QUEUED = {SocketType.PULL, SocketType.DEALER, SocketType.ROUTER, SocketType.XSUB}
LOAD_BALANCED = {SocketType.PUSH, SocketType.DEALER}
#: types whose received messages are the peers' messages unchanged (ROUTER: after the id)
PASS_THROUGH = {SocketType.PULL, SocketType.DEALER, SocketType.ROUTER, SocketType.XSUB,
                SocketType.PAIR, SocketType.CLIENT, SocketType.SERVER, SocketType.PEER,
                SocketType.GATHER, SocketType.CHANNEL, SocketType.DISH}
#: types whose send depends on the message (a SERVER's routing id): ``writable`` is libzmq's
#: "always", so only "a send that worked was announced" holds
ADDRESSED_SEND = {SocketType.SERVER, SocketType.PEER}


class Peer:
    """One pipe of the socket: ``mine`` (the socket's end) and ``far`` (the peer's)."""

    def __init__(self, number: int, hwm: int) -> None:
        self.number = number
        self.mine, self.far = pipe_pair(hwm, hwm)
        self.attached = False  # the routing holds it (attached and not detached)
        self.refused = False
        self.gone = False  # no more puts from the peer, ever
        self.sent: list[int] = []  # sequence numbers this peer put into the socket's pipe

    def __repr__(self) -> str:
        return f"Peer({self.number})"


class RoutingConformance(RuleBasedStateMachine):
    socket_type: SocketType = SocketType.PAIR

    def __init__(self) -> None:
        super().__init__()
        options = Options(self.socket_type)
        self.routing = ROUTING[self.socket_type](options)
        self.kind = type(self.routing)
        self.peers: list[Peer] = []
        self.sequence = itertools.count()
        self.received: dict[int, int] = {}  # peer number -> last sequence number received
        self.seen: set[int] = set()
        self.recv_signal, self.send_signal = Signal(), Signal()

    # --- peers come and go --------------------------------------------------------------------

    @precondition(lambda self: len(self.peers) < 6)
    @rule(hwm=st.sampled_from([0, 1, 2, 3]), duplicate_id=st.booleans())
    def attach(self, hwm: int, duplicate_id: bool) -> None:
        peer = Peer(len(self.peers), hwm)
        if duplicate_id:
            peer.mine.routing_id = b"dup"
        accepted = attach_pipe(self.routing, peer.mine, self.recv_signal, self.send_signal)
        peer.attached, peer.refused = accepted, not accepted
        self.peers.append(peer)

    def _live(self, index: int) -> Optional[Peer]:
        live = [p for p in self.peers if p.attached]
        return live[index % len(live)] if live else None

    @rule(index=st.integers(0, 5))
    def engine_ends(self, index: int) -> None:
        """A tcp connection ends (bind side): no more from the peer, then detached."""
        peer = self._live(index)
        if peer is not None:
            peer.far.close_writing()
            self.routing.detach(peer.mine)
            peer.attached, peer.gone = False, True

    @rule(index=st.integers(0, 5))
    def inproc_peer_leaves(self, index: int) -> None:
        peer = self._live(index)
        if peer is not None:
            peer.far.close_writing()
            peer.far.close_reading()
            self.routing.detach(peer.mine)
            peer.attached, peer.gone = False, True

    @rule(index=st.integers(0, 5))
    def disconnect(self, index: int) -> None:
        """Our disconnect(): what the pipe holds is dropped, both ways."""
        peer = self._live(index)
        if peer is not None:
            peer.mine.close_reading()
            peer.mine.outbound.clear()
            self.routing.detach(peer.mine)
            peer.attached, peer.gone = False, True
            peer.sent.clear()  # dropped unread: nothing more can arrive from it

    @precondition(lambda self: self.socket_type == SocketType.ROUTER)
    @rule(index=st.integers(0, 5))
    def reconnect(self, index: int) -> None:
        """A ROUTER's connect-side pipe: detached when its connection ended, attached again
        (the same pipe) when the next one is made (other types keep such pipes attached)."""
        candidates = [p for p in self.peers if p.gone and not p.mine.inbound.read_closed
                      and not p.far.inbound.read_closed and not p.refused]
        if not candidates:
            return
        peer = candidates[index % len(candidates)]
        peer.far.outbound.reopen_writing()
        accepted = attach_pipe(self.routing, peer.mine, self.recv_signal, self.send_signal)
        peer.attached, peer.gone = accepted, not accepted

    # --- peers talk ---------------------------------------------------------------------------

    def _peer_item(self, choice: int) -> tuple[Any, int]:
        """What a peer of this type sends, and its sequence number."""
        number = next(self.sequence)
        body = b"%d" % number
        socket_type = self.socket_type
        if socket_type in (SocketType.PUB, SocketType.XPUB):
            topic = b"t%d" % (choice % 3)
            if choice % 4 == 3:
                return [b"\x01" + topic], number  # the ZMTP 3.0 / XSUB form
            return SubscriptionCommand(choice % 2 == 0, topic), number
        if socket_type == SocketType.REQ:
            return [b"", body], number
        if socket_type == SocketType.REP:
            return [b"id", b"", body], number
        if socket_type == SocketType.SUB:
            return [(b"a" if choice % 2 else b"b") + body], number
        if socket_type == SocketType.RADIO:  # a DISH's JOIN/LEAVE (or a udp pipe's "all")
            group = None if choice == 11 else b"g%d" % (choice % 3)
            return GroupCommand(choice % 2 == 0 or group is None, group), number
        if socket_type == SocketType.DISH:  # what a RADIO sends, and what no peer should
            if choice == 10:
                return [b"g" * 256, body], number
            if choice == 11:
                return [body], number
            return [b"g%d" % (choice % 3), body], number
        if self.kind.single_part and choice % 5 == 4:
            return [b"more", body], number  # multipart: the single-part types drop it
        return [body], number

    def _peer_put(self, peer: Peer, choice: int) -> bool:
        item, number = self._peer_item(choice)
        try:
            peer.far.send_nowait(item)
        except Again:
            return False
        if not peer.mine.inbound.read_closed:  # else dropped, as libzmq drops
            peer.sent.append(number)
        return True

    @rule(index=st.integers(0, 5), choice=st.integers(0, 11))
    def peer_sends(self, index: int, choice: int) -> None:
        candidates = [p for p in self.peers if not p.gone and not p.refused]
        if candidates:
            self._peer_put(candidates[index % len(candidates)], choice)

    @rule(index=st.integers(0, 5), choice=st.integers(0, 11))
    def peer_fills_to_hwm(self, index: int, choice: int) -> None:
        candidates = [p for p in self.peers if not p.gone and not p.refused]
        if candidates:
            peer = candidates[index % len(candidates)]
            for _ in range(8):
                if not self._peer_put(peer, choice):
                    break

    @rule(index=st.integers(0, 5), count=st.integers(1, 4))
    def peer_reads(self, index: int, count: int) -> None:
        if self.peers:
            peer = self.peers[index % len(self.peers)]
            for _ in range(count):
                if peer.far.inbound.take() is None:
                    break

    # --- the socket ---------------------------------------------------------------------------

    def _socket_message(self, choice: int) -> list[bytes]:
        if self.socket_type == SocketType.ROUTER:
            ids = [p.mine.routing_id for p in self.peers] + [b"nobody"]
            return [ids[choice % len(ids)], b"x"]
        if self.socket_type in (SocketType.PUB, SocketType.XPUB):
            return [b"t%d-data" % (choice % 3)]
        return [b"x%d" % choice]

    @rule(choice=st.integers(0, 11))
    def send(self, choice: int) -> None:
        if not self.kind.can_send:
            return
        writable = self.routing.writable
        try:
            if self.socket_type in ADDRESSED_SEND:
                ids = [int.from_bytes(p.mine.routing_id, "big") for p in self.peers] + [0, 7]
                self.routing.send_addressed_nowait([b"x"], ids[choice % len(ids)], None)
            elif self.socket_type == SocketType.RADIO:
                self.routing.send_addressed_nowait([b"x"], None, b"g%d" % (choice % 3))
            else:
                self.routing.send_nowait(self._socket_message(choice))
            sent = True
        except (Again, ZMQError):
            sent = False
        if self.socket_type in ADDRESSED_SEND:
            assert writable or not sent
        else:
            assert writable == sent, \
                f"writable={writable} but send {'worked' if sent else 'failed'}"

    @rule()
    def recv(self) -> None:
        if not self.kind.can_recv:
            return
        readable = self.routing.readable
        try:
            msg = self.routing.recv_nowait()
        except (Again, ZMQError):
            msg = None
        assert readable == (msg is not None), \
            f"readable={readable} but recv {'failed' if msg is None else 'worked'}"
        if msg is not None and self.socket_type in PASS_THROUGH:
            self._check_order(msg)

    def _check_order(self, msg: list[bytes]) -> None:
        body = msg[-1]
        number = int(body)
        assert number not in self.seen, f"message {number} received twice"
        self.seen.add(number)
        pipe = self.routing.last_pipe
        (peer,) = [p for p in self.peers if p.mine is pipe]
        assert number in peer.sent, f"message {number} came from the wrong pipe"
        assert number > self.received.get(peer.number, -1), "out of order within one peer"
        self.received[peer.number] = number
        if self.socket_type == SocketType.ROUTER:
            assert msg[0] == pipe.routing_id
        if self.socket_type in ADDRESSED_SEND:
            assert msg.routing_id == int.from_bytes(pipe.routing_id, "big")  # type: ignore[attr-defined]
        if self.socket_type == SocketType.DISH:
            assert msg.group in self.routing._groups  # type: ignore[attr-defined]

    @rule(topic=st.sampled_from([b"", b"a", b"b"]), subscribe=st.booleans())
    def sub_subscribes(self, topic: bytes, subscribe: bool) -> None:
        if self.socket_type == SocketType.SUB:
            (self.routing.subscribe if subscribe else self.routing.unsubscribe)(topic)

    @rule(group=st.sampled_from([b"g0", b"g1", b"g2"]), join=st.booleans())
    def dish_joins(self, group: bytes, join: bool) -> None:
        if self.socket_type == SocketType.DISH:
            try:
                (self.routing.join if join else self.routing.leave)(group)
            except ZMQError:
                pass  # EINVAL: joined twice, or left without joining

    # --- what must always hold --------------------------------------------------------------

    def _held(self) -> list[Pipe]:
        """The pipes the routing still reads: attached, or detached with data left."""
        return [p.mine for p in self.peers
                if p.attached or (not p.refused and p.mine.inbound.readable)]

    @invariant()
    def fair_queue_finds_every_message(self) -> None:
        if self.socket_type in FAIR_QUEUED:
            anything = any(pipe.inbound.readable for pipe in self._held())
            assert self.routing.readable == anything

    @invariant()
    def load_balancer_finds_every_room(self) -> None:
        if self.socket_type in LOAD_BALANCED:
            room = any(p.mine.outbound.writable for p in self.peers if p.attached)
            assert self.routing.writable == room

    @invariant()
    def active_regions_are_consistent(self) -> None:
        for strategy in vars(self.routing).values():
            if isinstance(strategy, (FairQueue, LoadBalancer)):
                pipes = strategy.pipes
                assert len(set(pipes)) == len(pipes), "a pipe held twice"
                assert 0 <= strategy.active <= len(pipes)
                assert strategy.active == 0 or 0 <= strategy.current < strategy.active
                for position, pipe in enumerate(pipes):
                    assert strategy._position[pipe] == position
                    ready = pipe.inbound.readable if isinstance(strategy, FairQueue) \
                        else pipe.outbound.writable
                    if ready:
                        assert position < strategy.active, f"{pipe} is ready but inactive"


SETTINGS = settings(max_examples=60, stateful_step_count=40, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


def _machine(socket_type: SocketType) -> type:
    return type(f"Conformance{socket_type.name}", (RoutingConformance,),
                {"socket_type": socket_type})


@pytest.mark.parametrize("socket_type", sorted(ROUTING, key=int),
                         ids=lambda t: SocketType(t).name)
def test_routing_conformance(socket_type: int) -> None:
    machine = _machine(SocketType(socket_type))
    machine.TestCase.settings = SETTINGS
    machine.TestCase().runTest()
