"""Per-socket statistics: ``Socket.stats()``, ``Context.stats()``, ``python -m gzmq monitor``.

Cheap enough to be always on: almost everything is computed when asked, from what the socket
has anyway (its lifecycle's engines and inproc links, the pipes its routing holds, the queues
in them, the handshake gate). What must be counted is counted where it costs least:

- messages in and out: the facade's ``itertools.count``s that already pace its yields
  (read here without advancing them);
- bytes in and out: one integer add per read or write syscall of a tcp/ipc connection (on its
  reader and writer; the socket keeps the totals of connections that ended);
- events (handshakes failed, disconnects, ...): ``SocketCore.emit`` counts every event by kind,
  whether or not a monitor listens (events are rare);
- drops: the routing counts them on its slow paths only (a refused ``try_put``, an unknown
  routing id), by reason.
"""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING, Any, Iterable, TypedDict

from .constants import Event
from .transports.stream import handshake_gate

if TYPE_CHECKING:
    from .core import SocketCore

__all__ = ["SocketStats", "PeerStats", "socket_stats", "sum_stats", "format_stats"]

_HANDSHAKE_FAILURES = (Event.HANDSHAKE_FAILED_NO_DETAIL, Event.HANDSHAKE_FAILED_PROTOCOL,
                       Event.HANDSHAKE_FAILED_AUTH)


class PeerStats(TypedDict):
    """One pipe the socket's routing holds: a connected peer, or a connect() whose messages
    queue until its peer is there (``connected`` False)."""

    #: the endpoint this pipe belongs to (the bound or connected address; inproc://name)
    endpoint: str
    #: the peer's address (tcp: its IP, as libzmq's Peer-Address; "" for inproc, udp, pgm)
    peer_address: str
    #: the peer's routing id (ROUTER: what recv() returns as the first frame; b"" if none)
    routing_id: bytes
    #: the peer's ZMTP Socket-Type ("" until its handshake succeeded)
    socket_type: str
    #: whether a peer is there now (tcp/ipc: its handshake done; inproc: the name bound;
    #: always False for udp and pgm, which have no connections)
    connected: bool
    #: messages queued for this peer, not yet taken by its connection (or inproc peer)
    queued_out: int
    #: messages received from this peer, not yet taken by the application
    queued_in: int


class SocketStats(TypedDict):
    """``Socket.stats()``: what a socket has done since it was made, and where it stands."""

    #: the socket type, e.g. "ROUTER"
    type: str
    #: peers with a connection past its handshake (tcp/ipc) plus joined inproc links;
    #: udp and pgm have no connections (their sessions show in ``peers``)
    peers_connected: int
    #: tcp/ipc connections in their handshake now (accepted and dialled)
    handshakes_in_progress: int
    #: handshakes that succeeded / failed (the monitor's HANDSHAKE_SUCCEEDED and
    #: HANDSHAKE_FAILED_NO_DETAIL/_PROTOCOL/_AUTH events) since the socket was made
    handshakes_succeeded: int
    handshakes_failed: int
    #: accepted connections evicted during their handshake by a connection flood (see
    #: ``max_pending_handshakes``)
    handshakes_evicted: int
    #: connections accepted, connections made, connections ended (DISCONNECTED events)
    accepted: int
    connected: int
    disconnected: int
    #: every monitor event emitted so far, by name (whether or not a monitor listens)
    events: dict[str, int]
    #: whole messages the application sent (its sends that succeeded, dropped ones included)
    #: / received through this socket
    messages_out: int
    messages_in: int
    #: bytes written to / read from tcp and ipc connections after their handshakes (ZMTP
    #: frames, subscriptions, heartbeats; the greeting and handshake are not counted). inproc
    #: puts no bytes on a wire; udp and pgm are not counted either.
    bytes_out: int
    bytes_in: int
    #: messages sent that were dropped, by reason: "hwm" (a PUB/XPUB/RADIO subscriber's, a
    #: ROUTER peer's or a REP requester's pipe was full), "unroutable" (ROUTER without
    #: ROUTER_MANDATORY: no peer with that routing id), "peer-gone" (the peer left or stopped
    #: reading), "malformed" (DISH: a message from the wire not [group, body]). A SUB/DISH
    #: message filtered out is not a drop, nor a CONFLATE replacement.
    dropped: dict[str, int]
    #: the sums of ``queued_out`` and ``queued_in`` over ``peers``
    queued_out: int
    queued_in: int
    #: one entry per pipe, in attach order
    peers: list[PeerStats]


def count_of(counter: "itertools.count[int]") -> int:
    """How many values ``counter`` (an ``itertools.count(1)``) gave, without advancing it."""
    text = repr(counter)  # "count(N)": N is the next value
    return int(text[text.index("(") + 1:-1]) - 1


def socket_stats(core: "SocketCore", messages_out: int, messages_in: int) -> SocketStats:
    """The statistics of the socket whose core is ``core``; the facade counts messages."""
    lifecycle = core.lifecycle
    connected = handshaking = 0
    bytes_in, bytes_out = core.bytes_in, core.bytes_out
    live: set[Any] = set()  # the pipes that have a peer now
    for peer in lifecycle.peers:
        traffic = getattr(peer, "traffic", None)
        if traffic is None:  # an inproc link: connected once its name is bound
            if getattr(peer, "binder", None) is not None:
                connected += 1
                live.update((peer.connect_end, peer.bind_end))
            continue
        if peer.handshake_done:
            connected += 1
            live.add(peer.session.pipe)
            read, written = traffic()
            bytes_in += read
            bytes_out += written
        else:
            handshaking += 1
    peers: list[PeerStats] = []
    queued_out = queued_in = 0
    for pipe in list(lifecycle.pipes):
        properties = pipe.properties
        out, inn = len(pipe.outbound), len(pipe.inbound)
        queued_out += out
        queued_in += inn
        peers.append(PeerStats(
            endpoint=pipe.endpoint,
            peer_address=_text(properties.get("Peer-Address", b"")),
            routing_id=bytes(pipe.routing_id),
            socket_type=_text(properties.get("Socket-Type", b"")),
            connected=pipe in live,
            queued_out=out, queued_in=inn))
    seen = core.events_seen
    return SocketStats(
        type=core.type.name,
        peers_connected=connected,
        handshakes_in_progress=handshaking,
        handshakes_succeeded=seen.get(Event.HANDSHAKE_SUCCEEDED, 0),
        handshakes_failed=sum(seen.get(event, 0) for event in _HANDSHAKE_FAILURES),
        handshakes_evicted=handshake_gate(core).evicted,
        accepted=seen.get(Event.ACCEPTED, 0),
        connected=seen.get(Event.CONNECTED, 0),
        disconnected=seen.get(Event.DISCONNECTED, 0),
        events={_event_name(event): count for event, count in seen.items()},
        messages_out=messages_out, messages_in=messages_in,
        bytes_out=bytes_out, bytes_in=bytes_in,
        dropped=dict(core.routing.drops),
        queued_out=queued_out, queued_in=queued_in,
        peers=peers)


_SUMMED = ("peers_connected", "handshakes_in_progress", "handshakes_succeeded",
           "handshakes_failed", "handshakes_evicted", "accepted", "connected", "disconnected",
           "messages_out", "messages_in", "bytes_out", "bytes_in", "queued_out", "queued_in")


def sum_stats(all_stats: Iterable[SocketStats]) -> dict[str, Any]:
    """``Context.stats()``: the counters of ``all_stats`` summed (``events`` and ``dropped``
    per key), plus ``sockets``, how many were summed. No ``peers`` or ``type``."""
    total: dict[str, Any] = dict.fromkeys(_SUMMED, 0)
    total.update(sockets=0, events={}, dropped={})
    for stats in all_stats:
        total["sockets"] += 1
        for key in _SUMMED:
            total[key] += stats[key]  # type: ignore[literal-required]
        for key in ("events", "dropped"):
            into = total[key]
            for name, count in stats[key].items():  # type: ignore[literal-required]
                into[name] = into.get(name, 0) + count
    return total


def format_stats(stats: Any) -> str:
    """One line for a terminal (``python -m gzmq monitor``)."""
    dropped = sum(stats["dropped"].values())
    return (f"peers={stats['peers_connected']} handshaking={stats['handshakes_in_progress']} "
            f"failed={stats['handshakes_failed']} msgs in={stats['messages_in']} "
            f"out={stats['messages_out']} bytes in={stats['bytes_in']} "
            f"out={stats['bytes_out']} queued in={stats['queued_in']} "
            f"out={stats['queued_out']} dropped={dropped}")


def _text(value: Any) -> str:
    return bytes(value).decode("utf-8", "backslashreplace")


def _event_name(event: Any) -> str:
    return getattr(event, "name", None) or str(event)
