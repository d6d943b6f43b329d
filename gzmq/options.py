"""Socket options as a table: what each one defaults to, whether it can be read, how it is checked.

Defaults are libzmq 4.3.5's as read through pyzmq (``tests/test_options.py`` compares every one
against a live pyzmq socket). The ``Options`` record is a plain object with one attribute per
option (``options.sndhwm``), because routing strategies and engines read options on hot paths.

Options that live elsewhere (RCVMORE, EVENTS, FD, TYPE, LAST_ENDPOINT, SUBSCRIBE, ...) are
answered by the socket facade before it consults this table.
"""

from __future__ import annotations

from typing import Any, Union

from .constants import EINVAL, SocketOption, SocketType, _OptType
from .error import ZMQError

__all__ = ["Options", "DEFAULTS", "WRITE_ONLY", "READ_ONLY", "option_name"]

O = SocketOption

#: readable options and their defaults on a fresh socket (libzmq 4.3.5)
DEFAULTS: dict[SocketOption, Union[int, bytes]] = {
    O.AFFINITY: 0, O.ROUTING_ID: b"", O.RATE: 100, O.RECOVERY_IVL: 10000, O.SNDBUF: -1,
    O.RCVBUF: -1, O.LINGER: -1, O.RECONNECT_IVL: 100, O.BACKLOG: 100, O.RECONNECT_IVL_MAX: 0,
    O.MAXMSGSIZE: -1, O.SNDHWM: 1000, O.RCVHWM: 1000, O.MULTICAST_HOPS: 1, O.RCVTIMEO: -1,
    O.SNDTIMEO: -1, O.TCP_KEEPALIVE: -1, O.TCP_KEEPALIVE_CNT: -1, O.TCP_KEEPALIVE_IDLE: -1,
    O.TCP_KEEPALIVE_INTVL: -1, O.IMMEDIATE: 0, O.IPV6: 0, O.MECHANISM: 0, O.PLAIN_SERVER: 0,
    O.PLAIN_USERNAME: b"", O.PLAIN_PASSWORD: b"", O.CURVE_SERVER: 0, O.CONFLATE: 0,
    O.ZAP_DOMAIN: b"", O.TOS: 0, O.HANDSHAKE_IVL: 30000, O.SOCKS_PROXY: b"",
    O.INVERT_MATCHING: 0, O.HEARTBEAT_IVL: 0, O.HEARTBEAT_TTL: 0, O.HEARTBEAT_TIMEOUT: -1,
    O.CONNECT_TIMEOUT: 0, O.TCP_MAXRT: 0, O.THREAD_SAFE: 0, O.MULTICAST_MAXTPDU: 1500,
    O.USE_FD: -1, O.BINDTODEVICE: b"", O.IPV4ONLY: 1, O.ZAP_ENFORCE_DOMAIN: 0,
    O.LOOPBACK_FASTPATH: 0, O.MULTICAST_LOOP: 1, O.SOCKS_USERNAME: b"", O.SOCKS_PASSWORD: b"",
    O.RECONNECT_STOP: 0,
}

#: options that may be set but not read back (reading gives EINVAL, as in libzmq)
WRITE_ONLY: dict[SocketOption, Union[int, bytes]] = {
    O.ROUTER_MANDATORY: 0, O.XPUB_VERBOSE: 0, O.XPUB_VERBOSER: 0, O.ROUTER_RAW: 0,
    O.PROBE_ROUTER: 0, O.REQ_CORRELATE: 0, O.REQ_RELAXED: 0, O.ROUTER_HANDOVER: 0,
    O.CONNECT_ROUTING_ID: b"", O.XPUB_NODROP: 0, O.XPUB_MANUAL: 0, O.XPUB_WELCOME_MSG: b"",
    O.STREAM_NOTIFY: 1, O.METADATA: b"", O.ROUTER_NOTIFY: 0, O.ONLY_FIRST_SUBSCRIBE: 0,
    O.HELLO_MSG: b"", O.DISCONNECT_MSG: b"", O.HICCUP_MSG: b"", O.IN_BATCH_SIZE: 8192,
    O.OUT_BATCH_SIZE: 8192, O.XSUB_VERBOSE_UNSUBSCRIBE: 0, O.PRIORITY: 0, O.BUSY_POLL: 0,
    O.XPUB_MANUAL_LAST_VALUE: 0,
}

#: options the facade computes; setting them is EINVAL
READ_ONLY = frozenset({O.RCVMORE, O.FD, O.EVENTS, O.TYPE, O.LAST_ENDPOINT, O.MECHANISM,
                       O.THREAD_SAFE, O.TOPICS_COUNT})

#: smallest accepted value, where libzmq checks one (EINVAL below it)
_MINIMUM: dict[SocketOption, int] = {
    O.SNDHWM: 0, O.RCVHWM: 0, O.LINGER: -1, O.RCVTIMEO: -1, O.SNDTIMEO: -1,
    O.RECONNECT_IVL: -1, O.RECONNECT_IVL_MAX: 0, O.BACKLOG: 0,
    O.HANDSHAKE_IVL: 0, O.HEARTBEAT_IVL: 0, O.HEARTBEAT_TTL: 0, O.HEARTBEAT_TIMEOUT: -1,
    O.CONNECT_TIMEOUT: 0, O.TCP_KEEPALIVE: -1, O.TCP_KEEPALIVE_CNT: -1,
    O.TCP_KEEPALIVE_IDLE: -1, O.TCP_KEEPALIVE_INTVL: -1, O.SNDBUF: -1, O.RCVBUF: -1,
}

#: booleans libzmq checks strictly: only 0 or 1 (EINVAL otherwise)
_STRICT_BOOLEAN = frozenset({
    O.IMMEDIATE, O.IPV6, O.IPV4ONLY, O.PLAIN_SERVER, O.CURVE_SERVER, O.CONFLATE,
})
#: booleans libzmq reads as "non-zero is true" but that must not be negative
_RELAXED_BOOLEAN = frozenset({
    O.ROUTER_MANDATORY, O.XPUB_VERBOSE, O.XPUB_VERBOSER, O.PROBE_ROUTER, O.REQ_CORRELATE,
    O.REQ_RELAXED, O.ROUTER_HANDOVER, O.XPUB_NODROP, O.XPUB_MANUAL, O.ROUTER_RAW,
    O.STREAM_NOTIFY, O.ONLY_FIRST_SUBSCRIBE,
})
#: string options limited to 255 bytes (they travel in one-byte-length fields)
_SHORT_STRINGS = frozenset({O.PLAIN_USERNAME, O.PLAIN_PASSWORD, O.ZAP_DOMAIN,
                            O.CONNECT_ROUTING_ID})
#: CURVE keys: write-only; 32 raw bytes, 40 Z85 characters, or 41 with a trailing NUL
CURVE_KEYS = frozenset({O.CURVE_PUBLICKEY, O.CURVE_SECRETKEY, O.CURVE_SERVERKEY})

_T = SocketType
_ROUTER_LIKE = frozenset({_T.ROUTER, _T.REP})  # libzmq's REP is built on its ROUTER
_XPUB_LIKE = frozenset({_T.XPUB, _T.PUB})
#: options only some socket types take (libzmq's per-type xsetsockopt; EINVAL elsewhere)
TYPE_SPECIFIC: dict[SocketOption, frozenset[int]] = {
    O.ROUTER_MANDATORY: _ROUTER_LIKE, O.ROUTER_HANDOVER: _ROUTER_LIKE, O.ROUTER_RAW: _ROUTER_LIKE,
    O.CONNECT_ROUTING_ID: _ROUTER_LIKE, O.ROUTER_NOTIFY: _ROUTER_LIKE,
    O.PROBE_ROUTER: frozenset({_T.REQ, _T.REP, _T.DEALER, _T.ROUTER}),
    O.XPUB_VERBOSE: _XPUB_LIKE, O.XPUB_VERBOSER: _XPUB_LIKE, O.XPUB_NODROP: _XPUB_LIKE,
    O.XPUB_MANUAL: _XPUB_LIKE, O.XPUB_WELCOME_MSG: _XPUB_LIKE,
    O.XPUB_MANUAL_LAST_VALUE: _XPUB_LIKE,
    O.REQ_CORRELATE: frozenset({_T.REQ}), O.REQ_RELAXED: frozenset({_T.REQ}),
    O.ONLY_FIRST_SUBSCRIBE: frozenset({_T.XPUB, _T.XSUB}),
    O.XSUB_VERBOSE_UNSUBSCRIBE: frozenset({_T.XSUB, _T.SUB}),
}

#: ZMQ_MECHANISM values
NULL, PLAIN, CURVE = 0, 1, 2


def option_name(option: SocketOption) -> str:
    return option.name.lower()


class Options:
    """The option values of one socket, as attributes named like the option in lower case."""

    def __init__(self, socket_type: int) -> None:
        self.socket_type = socket_type
        for option, value in DEFAULTS.items():
            setattr(self, option_name(option), value)
        for option, value in WRITE_ONLY.items():
            setattr(self, option_name(option), value)
        if socket_type in (SocketType.SUB, SocketType.XSUB):
            self.linger = 0  # libzmq's XSUB constructor: pending subscriptions are not flushed
        #: the security role, derived from the PLAIN/CURVE options as libzmq does
        self.as_server = 0
        self.curve_publickey = self.curve_secretkey = self.curve_serverkey = b""

    def get(self, option: SocketOption) -> Union[int, bytes]:
        if option is O.PLAIN_SERVER:
            return self.as_server if self.mechanism == PLAIN else 0
        if option is O.CURVE_SERVER:
            return self.as_server if self.mechanism == CURVE else 0
        if option in DEFAULTS:
            return getattr(self, option_name(option))  # type: ignore[no-any-return]
        raise ZMQError(EINVAL)

    def set(self, option: SocketOption, value: Any) -> None:
        """Validate and store; ``TypeError`` for a value of the wrong kind, EINVAL if invalid."""
        if option in CURVE_KEYS:
            self._set_curve_key(option, _as_bytes(value))
            return
        if option in READ_ONLY or (option not in DEFAULTS and option not in WRITE_ONLY):
            raise ZMQError(EINVAL)
        types = TYPE_SPECIFIC.get(option)
        if types is not None and self.socket_type not in types:
            raise ZMQError(EINVAL)
        if option._opt_type is _OptType.bytes:
            value = _as_bytes(value)
            if option is O.ROUTING_ID and not 1 <= len(value) <= 255:
                raise ZMQError(EINVAL)
            if option in _SHORT_STRINGS and len(value) > 255:
                raise ZMQError(EINVAL)
            if option in (O.PLAIN_USERNAME, O.PLAIN_PASSWORD) and not value:
                raise ZMQError(EINVAL)  # libzmq takes 1..255 bytes
        else:
            if isinstance(value, bool) or not isinstance(value, int):
                if not isinstance(value, bool):
                    raise TypeError(f"expected int, got: {value!r}")
                value = int(value)
            if option._opt_type is _OptType.int and not -(2**31) <= value < 2**31:
                raise OverflowError(f"value {value} does not fit a C int")
            if value < _MINIMUM.get(option, -(2**63)):
                raise ZMQError(EINVAL)
            if option is O.TCP_KEEPALIVE and value not in (-1, 0, 1):
                raise ZMQError(EINVAL)
            if option in _STRICT_BOOLEAN and value not in (0, 1):
                raise ZMQError(EINVAL)
            if option in _RELAXED_BOOLEAN and value < 0:
                raise ZMQError(EINVAL)
            if option is O.INVERT_MATCHING:
                value = int(value != 0)  # libzmq keeps a bool
        setattr(self, option_name(option), value)
        if option is O.IPV6:
            self.ipv4only = 1 - value
        elif option is O.IPV4ONLY:
            self.ipv6 = 1 - value
        elif option in (O.PLAIN_SERVER, O.CURVE_SERVER):
            # libzmq: the server flag picks the mechanism; clearing it falls back to NULL
            self.as_server = value
            self.mechanism = (PLAIN if option is O.PLAIN_SERVER else CURVE) if value else NULL
        elif option in (O.PLAIN_USERNAME, O.PLAIN_PASSWORD):
            self.as_server = 0
            self.mechanism = PLAIN

    def _set_curve_key(self, option: SocketOption, key: bytes) -> None:
        from .zmtp.z85 import parse_curve_key
        try:
            raw = parse_curve_key(key)
        except ValueError:
            raise ZMQError(EINVAL) from None
        setattr(self, option_name(option), raw)
        self.mechanism = CURVE
        if option is O.CURVE_SERVERKEY:
            self.as_server = 0


def _as_bytes(value: Any) -> bytes:
    if isinstance(value, str):
        raise TypeError("unicode not allowed, use setsockopt_string")
    try:
        return bytes(memoryview(value))
    except TypeError:
        raise TypeError(f"expected bytes, got: {value!r}") from None
