"""Generated hostile input (issue 7): whatever bytes a peer sends, a Connection raises
nothing but ProtocolError, and what its reader holds follows the bytes it was fed.

For every mechanism and role -- NULL (with and without ZAP), PLAIN client and server (with
and without ZAP), CURVE client and server (with and without ZAP) -- the target Connection is
fed

* random bytes;
* *mutated valid conversations*: the bytes a real peer Connection sent for a full handshake
  and a few messages (multipart, a long frame, PING, SUBSCRIBE; one conversation also has a
  70 KB message, for the in-place receive path), with bytes flipped, set, inserted, deleted
  or duplicated, the stream truncated, frame headers given other flags or other sizes (0,
  255/256, 64 KiB +- 1, 2^62, 2^63 - 1, 2^64 - 1, anything), or a valid prefix followed by
  garbage;

whole, byte by byte, or in random chunks, sometimes through ``receive_buffer()`` /
``received_into()`` as the engine does for large bodies, sometimes with a bound on the
messages each call may return (``max_messages``, then ``next_events()`` while input is held,
as the engine does at RCVHWM): the events are then exactly those of the unbounded run.
An AuthRequest is answered with 200 or 400 (or never), as the engine would, while the
Connection is still in HANDSHAKE.

Checked: only ProtocolError escapes (then the Connection is CLOSED); the reader never holds
more than ``4 * bytes fed + 64 KiB`` (the geometric segments of a large body: see
gzmq/zmtp/reader.py), and a receive window is never more than ``max(64 KiB, 3 * fed)``.

CURVE replays need the target to draw the same transient keys and nonces as when the
conversation was recorded: its mechanism is a subclass with deterministic ``_keypair`` and
``_random`` (test-only; the real ones stay libsodium's and the OS's).

Default run: ``FUZZ_EXAMPLES`` (250) examples per case, about 3 s in all.  The slow run,
``pytest -m slow tests/zmtp/test_fuzz.py`` (or ``GZMQ_FUZZ_SLOW=1``), generates
``FUZZ_SLOW_EXAMPLES`` (100,000) per case, about 3 minutes each on one core; a plain
``pytest`` run skips it although it runs the other slow tests.  Both are derandomized and keep
no example database, so CI is reproducible; ``GZMQ_FUZZ_EXAMPLES`` /
``GZMQ_FUZZ_SLOW_EXAMPLES`` change the counts.
"""

from __future__ import annotations

import hashlib
import itertools
import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from nacl.bindings import crypto_scalarmult_base

from gzmq.zmtp import (
    AuthRequest, Cancel, Connection, ConnectionState, CurveClient, CurveServer, Message,
    NullMechanism, PlainClient, PlainServer, ProtocolError, Subscribe, codec,
)

FUZZ_EXAMPLES = int(os.environ.get("GZMQ_FUZZ_EXAMPLES", "250"))
FUZZ_SLOW_EXAMPLES = int(os.environ.get("GZMQ_FUZZ_SLOW_EXAMPLES", "100000"))

CLOSED = ConnectionState.CLOSED
HANDSHAKE = ConnectionState.HANDSHAKE
KiB = 1024


# ------------------------------------------------------------------ deterministic CURVE


def _keys(label: bytes) -> tuple[bytes, bytes]:
    secret = hashlib.sha256(b"key " + label).digest()
    return crypto_scalarmult_base(secret), secret


def _random_stream(label: bytes) -> Callable[[int], bytes]:
    counter = itertools.count()

    def random(n: int) -> bytes:
        out = b""
        while len(out) < n:
            out += hashlib.sha256(label + next(counter).to_bytes(8, "big")).digest()
        return out[:n]

    return random


class ReplayCurveClient(CurveClient):
    """A CurveClient that draws the same transient key and nonces every time."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._keypair = lambda: _keys(b"client transient")  # type: ignore[method-assign]
        self._random = _random_stream(b"client")  # type: ignore[method-assign]
        super().__init__(*args, **kwargs)


class ReplayCurveServer(CurveServer):
    """A CurveServer that draws the same transient key, cookie key and nonces every time."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._keypair = lambda: _keys(b"server transient")  # type: ignore[method-assign]
        self._random = _random_stream(b"server")  # type: ignore[method-assign]
        super().__init__(*args, **kwargs)


CLIENT = _keys(b"client")
SERVER = _keys(b"server")


# ------------------------------------------------------------------ cases and conversations

#: name -> (target factory, peer factory)
CASES: dict[str, tuple[Callable[[], Connection], Callable[[], Connection]]] = {
    "null": (lambda: Connection("DEALER"), lambda: Connection("ROUTER")),
    "null-zap": (lambda: Connection("ROUTER", NullMechanism(zap=True)),
                 lambda: Connection("DEALER")),
    "plain-client": (lambda: Connection("DEALER", PlainClient(b"user", b"secret")),
                     lambda: Connection("ROUTER", PlainServer(zap=False))),
    "plain-server": (lambda: Connection("ROUTER", PlainServer(zap=False)),
                     lambda: Connection("DEALER", PlainClient(b"user", b"secret"))),
    "plain-server-zap": (lambda: Connection("ROUTER", PlainServer(zap=True)),
                         lambda: Connection("DEALER", PlainClient(b"user", b"secret"))),
    "curve-client": (lambda: Connection("DEALER", ReplayCurveClient(*CLIENT, SERVER[0])),
                     lambda: Connection("ROUTER", CurveServer(*SERVER, zap=False))),
    "curve-server": (lambda: Connection("ROUTER", ReplayCurveServer(*SERVER, zap=False)),
                     lambda: Connection("DEALER", CurveClient(*CLIENT, SERVER[0]))),
    "curve-server-zap": (lambda: Connection("ROUTER", ReplayCurveServer(*SERVER, zap=True)),
                         lambda: Connection("DEALER", CurveClient(*CLIENT, SERVER[0]))),
}

SMALL_MESSAGES: list[list[bytes]] = [
    [b"hello"], [b"id", b"", b"x" * 300], [b"m" * 40] * 3, [b""],
]
BIG_MESSAGES: list[list[bytes]] = [[b"before"], [b"B" * 70_000], [b"after"]]


def record(name: str, messages: list[list[bytes]]) -> list[bytes]:
    """Everything the peer sends the target, in the pieces it was sent: greeting, handshake,
    a PING, a SUBSCRIBE and *messages* (the target's AuthRequest answered 200)."""
    make_target, make_peer = CASES[name]
    target, peer = make_target(), make_peer()
    stream: list[bytes] = []
    to_target, to_peer = peer.initiate(), target.initiate()
    while to_target or to_peer:
        if to_target:
            stream.append(to_target)
            for event in target.receive_data(to_target):
                if isinstance(event, AuthRequest):
                    target.auth_reply(b"200")
        if to_peer:
            peer.receive_data(to_peer)
        to_target, to_peer = peer.data_to_send(), target.data_to_send()
    assert target.state is peer.state is ConnectionState.READY, name
    after = [peer.ping(1500, b"ctx"), peer.subscribe(b"topic")]
    after += [peer.send_message(parts) for parts in messages]
    stream.append(b"".join(after))
    return stream


def frame_offsets(stream: bytes) -> list[int]:
    """Where the frame headers of a recorded (valid) stream are."""
    offsets, pos = [], codec.GREETING_SIZE
    while pos < len(stream):
        header = codec.decode_frame_header(stream, pos)
        assert header is not None
        offsets.append(pos)
        pos += header[2] + header[1]
    return offsets


class Conversation:
    def __init__(self, name: str, messages: list[list[bytes]]) -> None:
        pieces = record(name, messages)
        self.stream = b"".join(pieces)
        #: the recorded pieces' sizes: fed so, a ZAP server gets its peer's commands only
        #: after its verdict, as on a real connection
        self.plan = tuple(len(piece) for piece in pieces)
        self.offsets = frame_offsets(self.stream)
        # the replay is faithful: a fresh target gets every message
        events = feed(name, self.stream, plan=self.plan, answers=(b"200",), direct=False)
        got = [e.parts for e in events if isinstance(e, Message)]
        assert got == messages, (name, got)


_CONVERSATIONS: dict[tuple[str, bool], Conversation] = {}


def conversation(name: str, big: bool) -> Conversation:
    key = (name, big)
    if key not in _CONVERSATIONS:
        _CONVERSATIONS[key] = Conversation(name, BIG_MESSAGES if big else SMALL_MESSAGES)
    return _CONVERSATIONS[key]


# ------------------------------------------------------------------ feeding


def chunks(data: bytes, plan: tuple[int, ...]) -> Iterator[bytes]:
    """*data* cut by the sizes of *plan*, cycled; ``()`` = whole."""
    if not plan:
        yield data
        return
    pos = 0
    for size in itertools.cycle(plan):
        if pos >= len(data):
            return
        yield data[pos:pos + size]
        pos += size


def feed(name: str, data: bytes, plan: tuple[int, ...], answers: tuple[bytes | None, ...],
         direct: bool, room: int = -1) -> list[Any]:
    """Feed *data* to a fresh target as the engine would; return its events (those before
    a ProtocolError included). *room*: the ``max_messages`` of each ``receive_data`` (-1:
    none); held input is then parsed by ``next_events(max(room, 1))`` before more is fed.

    Fails on any exception but ProtocolError, on memory held beyond the bound, and on a
    call returning more messages than it was allowed."""
    conn = CASES[name][0]()
    conn.initiate()
    reader = conn._reader
    answer = itertools.cycle(answers)
    fed = 0
    out: list[Any] = []
    try:
        for chunk in chunks(data, plan):
            while chunk:
                if conn.state is CLOSED:
                    return out
                window = conn.receive_buffer() if direct else None
                if window is not None:
                    assert 0 < len(window) <= max(64 * KiB, 3 * fed)
                    n = min(len(window), len(chunk))
                    window[:n] = chunk[:n]
                    window.release()
                    fed += n
                    chunk = chunk[n:]
                    events = conn.received_into(n)
                else:
                    fed += len(chunk)
                    events, chunk = conn.receive_data(chunk, room), b""
                    assert room < 0 or _messages(events) <= room
                while True:
                    conn.data_to_send()
                    out += events
                    for event in events:
                        if isinstance(event, AuthRequest) and conn.state is HANDSHAKE:
                            verdict = next(answer)
                            if verdict is not None:
                                out += conn.auth_reply(verdict)
                                conn.data_to_send()
                    held = reader.buffered_bytes()
                    assert held <= 4 * fed + 64 * KiB, (fed, held)
                    if not conn.held_input:
                        break
                    assert room >= 0 and conn.receive_buffer() is None
                    events = conn.next_events(max(room, 1))
                    assert _messages(events) <= max(room, 1)
    except ProtocolError as err:
        assert conn.state is CLOSED
        out += err.events
    return out


def _messages(events: list[Any]) -> int:
    return sum(isinstance(event, (Message, Subscribe, Cancel)) for event in events)


# ------------------------------------------------------------------ strategies

#: frame sizes worth trying in a header: limits and their neighbours
SIZES = [0, 1, 2, 8, 255, 256, 257, 65535, 65536, 65537, 1 << 20, (1 << 31) - 1, 1 << 32,
         1 << 40, 1 << 62, (1 << 63) - 1, 1 << 63, (1 << 64) - 1]


@st.composite
def mutated(draw: Any, conv: Conversation) -> bytes:
    data = bytearray(conv.stream)
    for _ in range(draw(st.integers(1, 4))):
        if not data:
            data = bytearray(b"\x00")
        n = len(data)
        kind = draw(st.sampled_from(
            ["flip", "set", "insert", "delete", "truncate", "resize", "flags", "duplicate"]))
        if kind == "flip":
            data[draw(st.integers(0, n - 1))] ^= draw(st.integers(1, 255))
        elif kind == "set":
            data[draw(st.integers(0, n - 1))] = draw(st.integers(0, 255))
        elif kind == "insert":
            pos = draw(st.integers(0, n))
            data[pos:pos] = draw(st.binary(min_size=1, max_size=64))
        elif kind == "delete":
            start = draw(st.integers(0, n - 1))
            del data[start:draw(st.integers(start + 1, min(n, start + 64)))]
        elif kind == "truncate":
            data = data[:draw(st.integers(0, n))]
        elif kind == "duplicate":
            start = draw(st.integers(0, n - 1))
            end = draw(st.integers(start + 1, min(n, start + 256)))
            data[end:end] = data[start:end]
        else:  # a frame header of the recording: other flags, or another size
            pos = draw(st.sampled_from(conv.offsets))
            if pos >= n:
                continue
            if kind == "flags":
                data[pos] = draw(st.integers(0, 255))
                continue
            flags = data[pos]
            old = 9 if flags & codec.FLAG_LONG else 2
            size = draw(st.one_of(st.sampled_from(SIZES), st.integers(0, (1 << 64) - 1)))
            if size < 256 and draw(st.booleans()):
                header = bytes((flags & ~codec.FLAG_LONG, size))
            else:
                header = bytes((flags | codec.FLAG_LONG,)) + size.to_bytes(8, "big")
            data[pos:pos + old] = header
    return bytes(data)


@st.composite
def spliced(draw: Any, conv: Conversation) -> bytes:
    """A valid prefix (the greeting, or up to some frame), then garbage, then maybe the rest."""
    cut = draw(st.sampled_from([codec.GREETING_SIZE, *conv.offsets]))
    garbage = draw(st.binary(min_size=1, max_size=300))
    rest = conv.stream[cut:] if draw(st.booleans()) else b""
    return conv.stream[:cut] + garbage + rest


class Input:
    """The bytes to feed and how to cut them, with a short repr for hypothesis' report (a
    mutated 70 KB conversation would print pages; the run is derandomized, so a failure is
    found again by running the test again)."""

    def __init__(self, data: bytes, plan: tuple[int, ...]) -> None:
        self.data, self.plan = data, plan

    def __repr__(self) -> str:
        if len(self.data) <= 1500:
            return f"Input({self.data!r}, plan={self.plan})"
        digest = hashlib.sha256(self.data).hexdigest()[:16]
        return (f"Input(<{len(self.data)} bytes, sha256 {digest}...: {self.data[:600]!r} ..."
                f" {self.data[-200:]!r}>, plan={self.plan})")

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:  # hypothesis' printer
        printer.text(repr(self))


def inputs(name: str) -> st.SearchStrategy[Input]:
    """What to feed one case's target, and in which pieces."""
    small = conversation(name, big=False)
    big = conversation(name, big=True)
    small_data = st.one_of(
        st.binary(max_size=1000), mutated(small), mutated(small), spliced(small))
    small_plan = st.one_of(
        st.just(()), st.just((1,)), st.just(small.plan),
        st.lists(st.integers(1, 300), min_size=1, max_size=20).map(tuple))
    big_data = st.one_of(mutated(big), spliced(big))
    big_plan = st.one_of(
        st.just(big.plan), st.lists(st.integers(500, 40_000), min_size=1, max_size=5).map(tuple))
    return st.one_of(st.tuples(small_data, small_plan), st.tuples(big_data, big_plan)).map(
        lambda case: Input(*case))


ANSWERS = st.lists(st.sampled_from([b"200", b"400", None]), min_size=1, max_size=3).map(tuple)

COMMON = dict(
    deadline=None, database=None, derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                           HealthCheck.large_base_example],
)


def run_fuzz(name: str, examples: int) -> None:
    @settings(max_examples=examples, **COMMON)  # type: ignore[arg-type]
    @given(case=inputs(name), answers=ANSWERS, direct=st.booleans(),
           room=st.sampled_from([-1, -1, 0, 1, 3, 1000]))
    def check(case: Input, answers: tuple[bytes | None, ...], direct: bool, room: int) -> None:
        events = feed(name, case.data, case.plan, answers, direct, room)
        if room >= 0:  # bounded parsing delays events, never changes them
            assert events == feed(name, case.data, case.plan, answers, direct)

    check()


# ------------------------------------------------------------------ tests


@pytest.mark.parametrize("name", list(CASES))
def test_recorded_conversations_replay(name: str) -> None:
    conversation(name, big=False)
    conversation(name, big=True)


@pytest.mark.parametrize("name", list(CASES))
def test_fuzz(name: str) -> None:
    run_fuzz(name, FUZZ_EXAMPLES)


@pytest.mark.slow
@pytest.mark.timeout(3600)
@pytest.mark.parametrize("name", list(CASES))
def test_fuzz_slow(name: str, request: pytest.FixtureRequest) -> None:
    # About three minutes per case: only when asked for (``-m slow``, or
    # GZMQ_FUZZ_SLOW=1), not in the plain ``pytest`` run, which includes the other slow tests.
    selected = "slow" in request.config.getoption("markexpr", "").replace("not slow", "")
    if not (selected or os.environ.get("GZMQ_FUZZ_SLOW")):
        pytest.skip("100,000 inputs per case: run with -m slow or GZMQ_FUZZ_SLOW=1")
    run_fuzz(name, FUZZ_SLOW_EXAMPLES)
