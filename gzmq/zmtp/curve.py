"""ZMTP CURVE (RFC 25 + CurveZMQ RFC 26) as libzmq 4.3.5 speaks it (security.md §4).

Keys: C/c client long-term, S/s server long-term, C'/c' and S'/s' transient
(fresh per connection), K the server's per-connection cookie key.  ``Box``
is NaCl ``crypto_box`` in libsodium's MAC-first layout (len + 16).

Handshake command bodies::

    HELLO    (200)   05 HELLO 01 00 zeros(72) C' nonce8 Box[zeros(64)](C'->S)
    WELCOME  (168)   07 WELCOME nonce16 Box[S' + cookie](S->C')
                     cookie = nonce16 + secretbox[C' + s'](K)        (96)
    INITIATE (257+M) 08 INITIATE cookie nonce8 Box[C + vouch + metadata](C'->S')
                     vouch  = nonce16 + Box[C' + S](C->S')           (96)
    READY    (30+M)  05 READY nonce8 Box[metadata](S'->C')
    ERROR            05 ERROR len reason  (cleartext, ZAP 400/500 only)

Traffic: every logical frame (data or command) becomes ONE ZMTP *message*
frame, outer flags 0x00 (or 0x02 when long) -- never MORE, never COMMAND --
whose body is ``07 MESSAGE nonce8 Box[inner-flags + payload]``; inner flags
are MORE 0x01 and COMMAND 0x02 (libzmq).  Received frames are judged by the
``07 MESSAGE`` prefix; their outer flags are ignored.

Nonce rules (libzmq ``curve_encoding_t``):

* One 8-byte big-endian counter per direction, starting at 1 and carried
  from the handshake into MESSAGE: client HELLO 1, INITIATE 2, MESSAGE 3, 4...;
  server READY 1, MESSAGE 2, 3...  Restarting at MESSAGE breaks libzmq.
* Every short nonce received (HELLO, INITIATE, READY, MESSAGE) is recorded;
  a MESSAGE nonce must be strictly greater than the last one, else
  ZMTP_INVALID_SEQUENCE.  The check precedes decryption, as in libzmq.
* Consequence for the engine: frames must reach the wire in the order
  ``encode_frame`` produced them (the nonce is fixed at encode time).

Errors (libzmq's codes): wrong command name -> UNEXPECTED_COMMAND; bad
size/version -> MALFORMED_COMMAND_HELLO/INITIATE/READY/MESSAGE/ERROR (a
WELCOME of the wrong size is CRYPTOGRAPHIC, as in libzmq); a box that does
not open, a cookie that does not match, or a peer's transient key that
libsodium refuses (a small-order point) -> CRYPTOGRAPHIC; a vouch for
another C' or another S -> KEY_EXCHANGE; bad metadata -> INVALID_METADATA.

Checks stricter than libzmq's: the server checks that the vouch names its own
long-term key S (RFC 26; libzmq reads only C' from it), so a vouch made out
for another server cannot be replayed against this one.

Every libsodium failure is turned into ProtocolError (PyNaCl raises
``CryptoError``, or its ``RuntimeError`` subclass for a small-order key).

ZAP: ``CurveServer(zap=True)`` raises ``AuthRequest(b"CURVE", [C])`` after
a fully verified INITIATE and holds READY until ``auth_reply``.  libzmq asks
ZAP only when a handler is bound (else it accepts: "Stonehouse"); the engine
makes that choice and passes ``zap``.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Final, NoReturn

from nacl._sodium import ffi as _ffi
from nacl._sodium import lib as _sodium
from nacl.bindings import (
    crypto_box, crypto_box_beforenm, crypto_box_keypair, crypto_box_open, crypto_scalarmult_base,
    crypto_secretbox, crypto_secretbox_open,
)
from nacl.exceptions import CryptoError

from .codec import FLAG_COMMAND, FLAG_LONG, FLAG_MORE, parse_error_reason
from .errors import LocalProtocolError, ProtocolError, ProtocolErrorCode
from .mechanism import HandshakeState as _State  # one set of states for PLAIN and CURVE
from .mechanism import Mechanism, MechanismStatus


# Boxes call libsodium's "easy" API through PyNaCl's own cffi binding directly: PyNaCl's
# wrappers re-check lengths and pad/unpad with two extra copies per call, roughly doubling the
# cost. The easy layout (MAC + ciphertext) is exactly the wire layout of a CurveZMQ box. Nonce
# (24) and key (32) sizes are fixed here. MESSAGE boxes, the per-message cost of CURVE, go
# further (see _CurveBase): a batch is boxed in place in a few buffers, and a read is opened
# by offset into one buffer, with the nonce written into a reused one.


def crypto_box_afternm(message: bytes, nonce: bytes, key: bytes) -> bytes:
    size = len(message) + 16
    out = _ffi.new("unsigned char[]", size)
    if _sodium.crypto_box_easy_afternm(out, message, len(message), nonce, key) != 0:
        raise CryptoError("encryption failed")
    boxed: bytes = _ffi.buffer(out, size)[:]  # cffi is untyped
    return boxed


def crypto_box_open_afternm(box: bytes, nonce: bytes, key: bytes) -> bytes:
    size = len(box) - 16
    if size < 0:
        raise CryptoError("box shorter than its MAC")
    out = _ffi.new("unsigned char[]", size or 1)
    if _sodium.crypto_box_open_easy_afternm(out, box, len(box), nonce, key) != 0:
        raise CryptoError("box does not open")
    opened: bytes = _ffi.buffer(out, size)[:]  # cffi is untyped
    return opened


#: allocates without zeroing: only what libsodium wrote is ever read back
_alloc_uncleared = _ffi.new_allocator(should_clear_after_alloc=False)
_seal = _sodium.crypto_box_easy_afternm
_open = _sodium.crypto_box_open_easy_afternm


__all__ = ["CurveClient", "CurveServer"]

KEY_SIZE: Final = 32
_U64 = struct.Struct(">Q")
# A MESSAGE frame up to its box: outer header (flags 0, short or long size), 07 MESSAGE, nonce.
_SHORT_MESSAGE_HEAD = struct.Struct(">BB8sQ")
_LONG_MESSAGE_HEAD = struct.Struct(">BQ8sQ")
#: a received MESSAGE body up to its box: 07 MESSAGE, nonce
_MESSAGE_HEAD = struct.Struct(">8sQ")
#: what a MESSAGE frame's body adds to a part: 07 MESSAGE, nonce, MAC, inner flags
_MESSAGE_OVERHEAD: Final = 33
#: a batch is boxed into buffers of about this size (a larger frame gets one of its own): the
#: writer joins them into one send, and writes a chunk of 64 KiB or more on its own instead
_CHUNK_SIZE: Final = 32 * 1024
#: a connection keeps a buffer to open received boxes into, for frames up to this size
_KEEP_OPENED: Final = 8 * 1024

_HELLO = b"\x05HELLO"
_WELCOME = b"\x07WELCOME"
_INITIATE = b"\x08INITIATE"
_READY = b"\x05READY"
_ERROR = b"\x05ERROR"
_MESSAGE = b"\x07MESSAGE"

_HELLO_SIZE: Final = 200
_WELCOME_SIZE: Final = 168
_INITIATE_MIN: Final = 257
_READY_MIN: Final = 30
#: 07 MESSAGE + nonce8 + MAC16 + inner flags: the smallest valid MESSAGE.
_MESSAGE_MIN: Final = 33

# Logical ZMTP flags (MORE 0x01, COMMAND 0x04) <-> inner MESSAGE flags
# (MORE 0x01, COMMAND 0x02), as tables: one index per frame on the hot path.
_INNER: Final[list[int]] = [(f & FLAG_MORE) | (0x02 if f & FLAG_COMMAND else 0) for f in range(8)]
_LOGICAL: Final[list[int]] = [(i & 0x01) | (FLAG_COMMAND if i & 0x02 else 0) for i in range(4)]

Code = ProtocolErrorCode


def _error(message: str, code: int) -> ProtocolError:
    return ProtocolError(f"CURVE: {message}", code)


def _check_key(key: bytes, what: str) -> bytes:
    raw = bytes(key)
    if len(raw) != KEY_SIZE:
        raise ValueError(f"CURVE {what} must be 32 raw bytes, got {len(raw)}")
    return raw


def _check_structure(body: bytes) -> None:
    # libzmq check_basic_command_structure: a body whose name-len overruns it.
    if len(body) <= 1 or len(body) <= body[0]:
        raise _error("malformed command", Code.ZMTP_MALFORMED_COMMAND_UNSPECIFIED)


class _CurveBase(Mechanism):
    """Shared MESSAGE encryption and nonce bookkeeping."""

    name = b"CURVE"
    encrypts = True
    _send_prefix: bytes  # "CurveZMQMESSAGEC" (client) / "...S" (server)
    _recv_prefix: bytes
    #: Where the transient key pair and the random nonces, cookie key and vouch nonce come
    #: from.  A test subclass may make them deterministic to replay a recorded conversation
    #: (tests/zmtp/test_fuzz.py); anywhere else they must stay libsodium's and the OS's.
    _keypair = staticmethod(crypto_box_keypair)
    _random = staticmethod(os.urandom)

    def __init__(self) -> None:
        super().__init__()
        # Transient key pair (C'/c' or S'/s'), new for every connection.
        self._cn_public, self._cn_secret = self._keypair()
        self._precom = b""  # crypto_box_beforenm(peer transient, own transient)
        self._send_nonce = 1  # next short nonce we send
        self._peer_nonce = 1  # last short nonce received (libzmq starts at 1)
        self._state = _State.WAIT_HELLO
        # MESSAGE nonces: prefix + 8-byte counter, the counter written in place before each box
        self._send_nonce_buf = bytearray(self._send_prefix + bytes(8))
        self._send_nonce_ptr = _ffi.from_buffer(self._send_nonce_buf)
        self._recv_nonce_buf = bytearray(self._recv_prefix + bytes(8))
        self._recv_nonce_ptr = _ffi.from_buffer(self._recv_nonce_buf)
        # where received boxes are opened (see _opening_buffer)
        self._opened: Any = None
        self._plain: Any = b""

    def _next_nonce(self) -> bytes:
        n = self._send_nonce
        self._send_nonce = n + 1
        return _U64.pack(n)

    def encode_frame(self, body: bytes, flags: int) -> bytes:
        out: list[bytes] = []
        self._box_messages(((body,),), out, _INNER[flags & 0x07])
        return bytes(out[0])

    def encode_messages(self, messages: Iterable[Sequence[bytes]], out: list[bytes]) -> None:
        self._box_messages(messages, out, 0)

    def _box_messages(
        self, messages: Iterable[Sequence[bytes]], out: list[bytes], last_flags: int
    ) -> None:
        """Append every part of *messages* to *out* as one MESSAGE frame, boxed in place.

        The frames go into a few buffers of about ``_CHUNK_SIZE``, each laid out as it goes
        on the wire -- header, 07 MESSAGE, nonce, 16 bytes left for the MAC, inner flags,
        part -- and the flags and part are encrypted where they lie (libsodium boxes in
        place when the ciphertext starts where the message does): the part is copied once,
        and nothing is allocated per frame. Inner flags: MORE on all but the last part of a
        message, *last_flags* on the last. Nonces are taken in frame order, the wire's.

        :raises LocalProtocolError: a message with no parts.
        """
        seal, key = _seal, self._precom
        nonce_buf, nonce_ptr = self._send_nonce_buf, self._send_nonce_ptr
        pack_nonce, short_head, long_head = (
            _U64.pack_into, _SHORT_MESSAGE_HEAD.pack_into, _LONG_MESSAGE_HEAD.pack_into)
        nonce, overhead, message = self._send_nonce, _MESSAGE_OVERHEAD, _MESSAGE
        buf = bytearray()
        ptr: Any = None  # buf, for libsodium
        pos = end = 0  # where the next frame goes in buf, and the end of buf
        try:
            for parts in messages:
                left = len(parts)  # parts after this one, once it is taken
                if not left:
                    raise LocalProtocolError("a message needs at least one part")
                for part in parts:
                    left -= 1
                    n = len(part)
                    size = n + overhead
                    need = size + 2 if size < 256 else size + 9
                    if pos + need > end:  # on to the next buffer
                        _end_chunk(buf, ptr, pos, out)
                        end = need if need > _CHUNK_SIZE else _CHUNK_SIZE
                        buf = bytearray(end)
                        ptr = _ffi.from_buffer(buf)
                        pos = 0
                    if size < 256:
                        short_head(buf, pos, 0, size, message, nonce)
                        mac = pos + 18
                    else:
                        long_head(buf, pos, FLAG_LONG, size, message, nonce)
                        mac = pos + 25
                    pack_nonce(nonce_buf, 16, nonce)
                    nonce += 1
                    text = mac + 16  # inner flags + part, encrypted in place after the MAC
                    buf[text] = FLAG_MORE if left else last_flags
                    done = text + 1 + n
                    buf[text + 1:done] = part
                    if seal(ptr + mac, ptr + text, n + 1, nonce_ptr, key) != 0:
                        raise CryptoError("encryption failed")  # libsodium cannot fail here
                    pos = done  # (a frame that failed half-way is not handed on)
        finally:
            self._send_nonce = nonce  # the nonces of frames written, or skipped: never reused
            _end_chunk(buf, ptr, pos, out)

    def decode_frame(self, flags: int, body: bytes) -> tuple[int, bytes]:
        return self.frame_decoder(body)(flags, 0, len(body))

    def frame_decoder(self, data: bytes) -> Callable[[int, int, int], tuple[int, bytes]]:
        """Open MESSAGE frames of *data* by offset: each box is read where it lies in *data*
        and opened into the connection's buffer, the part sliced out of it (the one copy)."""
        src = _ffi.from_buffer(data)
        key, message, logical, open_box = self._precom, _MESSAGE, _LOGICAL, _open
        nonce_buf, nonce_ptr, unpack_head, pack_nonce = (
            self._recv_nonce_buf, self._recv_nonce_ptr, _MESSAGE_HEAD.unpack_from, _U64.pack_into)
        opened, plain = self._opened, self._plain
        capacity = len(plain)

        def decode(flags: int, start: int, end: int) -> tuple[int, bytes]:
            nonlocal opened, plain, capacity
            # libzmq's order: command name, size, nonce, then the box
            if end - start < _MESSAGE_MIN:
                _refuse(data[start:end])
            name, nonce = unpack_head(data, start)  # (within the frame: 16 < _MESSAGE_MIN)
            if name != message:
                _refuse(data[start:end])
            if nonce <= self._peer_nonce:
                raise _error(
                    f"MESSAGE nonce {nonce} after {self._peer_nonce}", Code.ZMTP_INVALID_SEQUENCE
                )
            self._peer_nonce = nonce
            pack_nonce(nonce_buf, 16, nonce)
            # sizes come from the frame received: the box is data[start + 16:end]
            size = end - start - 32  # of what it opens to: inner flags + part
            if size > capacity:
                opened, plain = self._opening_buffer(size)
                capacity = len(plain)
            if open_box(opened, src + start + 16, size + 16, nonce_ptr, key) != 0:
                raise _error("MESSAGE box does not open", Code.ZMTP_CRYPTOGRAPHIC)
            return logical[opened[0] & 0x03], plain[1:size]

        return decode

    def _opening_buffer(self, size: int) -> tuple[Any, Any]:
        """A buffer (cdata, and its ffi.buffer) for a box that opens to *size* bytes: the
        connection keeps one for frames up to _KEEP_OPENED, grown as they come (an idle
        connection holds none, a stream of 1 KiB messages about 1 KiB); a larger frame gets
        one of its own."""
        if size > _KEEP_OPENED:
            opened = _alloc_uncleared("unsigned char[]", size)
            return opened, _ffi.buffer(opened)
        size = min(_KEEP_OPENED, max(size, 2 * len(self._plain)))
        self._opened = _alloc_uncleared("unsigned char[]", size)
        self._plain = _ffi.buffer(self._opened)
        return self._opened, self._plain


def _end_chunk(buf: bytearray, ptr: Any, used: int, out: list[bytes]) -> None:
    """Hand the *used* bytes of a boxing buffer to *out* (none: nothing)."""
    if ptr is not None:
        _ffi.release(ptr)  # the buffer may be resized again
    if used:
        del buf[used:]
        out.append(buf)  # type: ignore[arg-type]  # a bytearray nobody writes to any more


def _refuse(body: bytes) -> NoReturn:
    """Raise the error for a received frame that is not a well-formed MESSAGE."""
    if body[:8] != _MESSAGE:
        _check_structure(body)
        raise _error(f"expected MESSAGE, got {bytes(body[:16])!r}", Code.ZMTP_UNEXPECTED_COMMAND)
    raise _error(f"MESSAGE of {len(body)} bytes", Code.ZMTP_MALFORMED_COMMAND_MESSAGE)


def _open_box(box: bytes, nonce: bytes, public: bytes, secret: bytes, what: str) -> bytes:
    try:
        return crypto_box_open(box, nonce, public, secret)
    except CryptoError:
        raise _error(f"{what} box does not open", Code.ZMTP_CRYPTOGRAPHIC) from None


class CurveClient(_CurveBase):
    """CURVE client (``ZMQ_CURVE_SERVERKEY`` set).

    :param public_key: our long-term public key C, 32 raw bytes.
    :param secret_key: our long-term secret key c, 32 raw bytes.
    :param server_key: the server's long-term public key S, 32 raw bytes.
    :raises ValueError: a key that is not 32 bytes.
    """

    _send_prefix = b"CurveZMQMESSAGEC"
    _recv_prefix = b"CurveZMQMESSAGES"

    def __init__(self, public_key: bytes, secret_key: bytes, server_key: bytes) -> None:
        super().__init__()
        self.public_key = _check_key(public_key, "public key")
        self._secret_key = _check_key(secret_key, "secret key")
        self.server_key = _check_key(server_key, "server key")
        try:
            # the HELLO box's key, computed here so that a server key libsodium refuses (a
            # small-order point) is a configuration error, not a failure inside receive_data
            self._hello_key = crypto_box_beforenm(self.server_key, self._cn_secret)
        except CryptoError:
            raise ValueError("CURVE server key is not a usable Curve25519 public key") from None

    def start(self, metadata: bytes) -> list[bytes]:
        self._metadata = metadata
        self._state = _State.WAIT_WELCOME
        short = self._next_nonce()  # 1
        box = crypto_box_afternm(bytes(64), b"CurveZMQHELLO---" + short, self._hello_key)
        # 72 zero bytes of anti-amplification padding (RFC prose says 70).
        return [b"".join((_HELLO, b"\x01\x00", bytes(72), self._cn_public, short, box))]

    def receive_command(self, body: bytes) -> list[bytes]:
        state = self._state
        if body[:8] == _WELCOME:
            if state is not _State.WAIT_WELCOME:
                raise _error("unexpected WELCOME", Code.ZMTP_UNEXPECTED_COMMAND)
            return [self._welcome(body)]
        if body[:6] == _READY:
            if state is not _State.WAIT_READY:
                raise _error("unexpected READY", Code.ZMTP_UNEXPECTED_COMMAND)
            self._ready(body)
            return []
        if body[:6] == _ERROR:
            if state is not _State.WAIT_WELCOME and state is not _State.WAIT_READY:
                raise _error("unexpected ERROR", Code.ZMTP_UNEXPECTED_COMMAND)
            self.peer_error = bytes(parse_error_reason(body[6:]))
            self._state = _State.DONE
            self.status = MechanismStatus.ERROR
            return []
        raise _error(f"unexpected command {bytes(body[:16])!r}", Code.ZMTP_UNEXPECTED_COMMAND)

    def _welcome(self, body: bytes) -> bytes:
        if len(body) != _WELCOME_SIZE:
            # libzmq's curve_client_tools reports every WELCOME failure so.
            raise _error(f"WELCOME of {len(body)} bytes", Code.ZMTP_CRYPTOGRAPHIC)
        plain = _open_box(
            body[24:], b"WELCOME-" + body[8:24], self.server_key, self._cn_secret, "WELCOME"
        )
        server_transient, cookie = plain[:32], plain[32:128]
        vouch_nonce = self._random(16)
        try:
            self._precom = crypto_box_beforenm(server_transient, self._cn_secret)
            # Vouch: proves that the owner of C also owns C' and meant this S.
            vouch = vouch_nonce + crypto_box(
                self._cn_public + self.server_key, b"VOUCH---" + vouch_nonce,
                server_transient, self._secret_key,
            )
        except CryptoError:  # S' is a key libsodium refuses (small order)
            raise _error("WELCOME carries an unusable S'", Code.ZMTP_CRYPTOGRAPHIC) from None
        short = self._next_nonce()  # 2
        box = crypto_box_afternm(
            self.public_key + vouch + self._metadata, b"CurveZMQINITIATE" + short, self._precom
        )
        self._state = _State.WAIT_READY
        return b"".join((_INITIATE, cookie, short, box))

    def _ready(self, body: bytes) -> None:
        if len(body) < _READY_MIN:
            raise _error(f"READY of {len(body)} bytes", Code.ZMTP_MALFORMED_COMMAND_READY)
        short = body[6:14]
        self._peer_nonce = _U64.unpack(short)[0]  # server MESSAGE nonces must exceed it
        try:
            plain = crypto_box_open_afternm(body[14:], b"CurveZMQREADY---" + short, self._precom)
        except CryptoError:
            raise _error("READY box does not open", Code.ZMTP_CRYPTOGRAPHIC) from None
        self._parse_peer_metadata(plain)
        self._state = _State.DONE
        self.status = MechanismStatus.READY


class CurveServer(_CurveBase):
    """CURVE server (``ZMQ_CURVE_SERVER``).

    :param public_key: our long-term public key S (kept for reference: like
        libzmq, the server never needs it on the wire).
    :param secret_key: our long-term secret key s.
    :param zap: ask ZAP about each client key (libzmq: iff a handler is
        bound); ``False`` accepts every client that completes the handshake.
    :raises ValueError: a key that is not 32 bytes.
    """

    _send_prefix = b"CurveZMQMESSAGES"
    _recv_prefix = b"CurveZMQMESSAGEC"

    def __init__(self, public_key: bytes, secret_key: bytes, zap: bool = True) -> None:
        super().__init__()
        self.public_key = _check_key(public_key, "public key")
        self._secret_key = _check_key(secret_key, "secret key")
        self.zap = zap
        #: The client's long-term public key C, once its INITIATE is verified.
        self.client_key = b""
        self._client_transient = b""
        self._cookie_key = b""
        self._own_key = b""  # S as derived from s, once an INITIATE needs it

    def start(self, metadata: bytes) -> list[bytes]:
        self._metadata = metadata
        return []  # the client speaks first

    def receive_command(self, body: bytes) -> list[bytes]:
        state = self._state
        if state is _State.WAIT_HELLO:
            return [self._hello(body)]
        if state is _State.WAIT_INITIATE:
            return self._initiate(body)
        # WAIT_ZAP: a well-behaved client waits for READY.
        raise _error("command while waiting for ZAP", Code.ZMTP_UNSPECIFIED)

    def _hello(self, body: bytes) -> bytes:
        _check_structure(body)
        if body[:6] != _HELLO:
            raise _error(f"expected HELLO, got {bytes(body[:16])!r}", Code.ZMTP_UNEXPECTED_COMMAND)
        if len(body) != _HELLO_SIZE:
            raise _error(f"HELLO of {len(body)} bytes", Code.ZMTP_MALFORMED_COMMAND_HELLO)
        if body[6:8] != b"\x01\x00":
            raise _error(f"HELLO version {bytes(body[6:8])!r}", Code.ZMTP_MALFORMED_COMMAND_HELLO)
        client_transient = bytes(body[80:112])
        short = body[112:120]
        self._peer_nonce = _U64.unpack(short)[0]
        # The 64 zero bytes inside are not checked (libzmq does not either):
        # that the box opens proves C' knows S.
        _open_box(body[120:200], b"CurveZMQHELLO---" + short, client_transient,
                  self._secret_key, "HELLO")
        self._client_transient = client_transient
        # Cookie: our per-connection state, sealed under a fresh key K so the
        # client can only echo it back.
        self._cookie_key = self._random(32)
        cookie_nonce = self._random(16)
        cookie = cookie_nonce + crypto_secretbox(
            client_transient + self._cn_secret, b"COOKIE--" + cookie_nonce, self._cookie_key
        )
        welcome_nonce = self._random(16)
        try:
            # cannot fail once the HELLO box opened with C' (libsodium refuses small-order
            # keys in both), but no libsodium error may escape
            box = crypto_box(
                self._cn_public + cookie, b"WELCOME-" + welcome_nonce, client_transient,
                self._secret_key,
            )
        except CryptoError:
            raise _error("HELLO carries an unusable C'", Code.ZMTP_CRYPTOGRAPHIC) from None
        self._state = _State.WAIT_INITIATE
        return _WELCOME + welcome_nonce + box

    def _initiate(self, body: bytes) -> list[bytes]:
        # Checks in libzmq's order; all must pass before ZAP is asked.
        _check_structure(body)
        if body[:9] != _INITIATE:
            raise _error(
                f"expected INITIATE, got {bytes(body[:16])!r}", Code.ZMTP_UNEXPECTED_COMMAND
            )
        if len(body) < _INITIATE_MIN:
            raise _error(f"INITIATE of {len(body)} bytes", Code.ZMTP_MALFORMED_COMMAND_INITIATE)
        try:
            cookie = crypto_secretbox_open(
                body[25:105], b"COOKIE--" + body[9:25], self._cookie_key
            )
        except CryptoError:
            raise _error("cookie does not open", Code.ZMTP_CRYPTOGRAPHIC) from None
        if cookie != self._client_transient + self._cn_secret:
            raise _error("cookie is not this connection's", Code.ZMTP_CRYPTOGRAPHIC)
        short = body[105:113]
        self._peer_nonce = _U64.unpack(short)[0]
        try:
            self._precom = crypto_box_beforenm(self._client_transient, self._cn_secret)
            plain = crypto_box_open_afternm(
                body[113:], b"CurveZMQINITIATE" + short, self._precom
            )
        except CryptoError:
            raise _error("INITIATE box does not open", Code.ZMTP_CRYPTOGRAPHIC) from None
        client_key = plain[:32]
        vouch = _open_box(plain[48:128], b"VOUCH---" + plain[32:48], client_key,
                          self._cn_secret, "vouch")
        if vouch[:32] != self._client_transient:
            raise _error("vouch is for another transient key", Code.ZMTP_KEY_EXCHANGE)
        # RFC 26: the vouch names the server it was made for. libzmq does not check it; we
        # do, against S derived from our secret key (the key the client's HELLO was boxed
        # for), not the configured public key, which libzmq's server never uses.
        if not self._own_key:
            self._own_key = crypto_scalarmult_base(self._secret_key)
        if vouch[32:64] != self._own_key:
            raise _error("vouch is for another server", Code.ZMTP_KEY_EXCHANGE)
        self.client_key = client_key
        if self.zap:
            self._state = _State.WAIT_ZAP
            self._request_auth(b"CURVE", [client_key])
        # libzmq parses the metadata after sending the ZAP request.
        self._parse_peer_metadata(plain[128:])
        if self.zap:
            return []
        return [self._ready_body()]

    def _ready_body(self) -> bytes:
        short = self._next_nonce()  # 1
        box = crypto_box_afternm(self._metadata, b"CurveZMQREADY---" + short, self._precom)
        self._state = _State.DONE
        self.status = MechanismStatus.READY
        return _READY + short + box

    def _zap_accepted(self) -> list[bytes]:
        return [self._ready_body()]
