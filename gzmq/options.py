"""Socket options: one table, and the per-socket record it generates.

The body of ``Options`` *is* the table, one row per option::

    attribute: type = row(SocketOption.X, default, <checks>, access=..., after=...)

- **attribute**: the option's name in lower case. Engines and routing read options on hot
  paths as plain attributes (``options.sndhwm``); ``Options`` has ``__slots__``, so that read
  is one slot load.
- **type**: ``int`` or ``bytes``. Whether an int is a C ``int`` (OverflowError outside 32 bits)
  or an ``int64`` is pyzmq's ``SocketOption._opt_type``, which must agree with the annotation
  (checked when this module is imported).
- **default**: libzmq 4.3.5's, as read through pyzmq (``tests/test_options.py`` compares every
  one against a live pyzmq socket). A socket type whose libzmq constructor changes a default
  says so itself, in ``Routing.option_defaults`` (SUB and XSUB: LINGER 0).
- **checks**, all EINVAL: ``minimum``; ``choices``; ``length`` (bounds of a byte string);
  ``only`` (the socket types that take the option: libzmq's per-type ``xsetsockopt``);
  ``convert`` (normalises the value; a ValueError from it is EINVAL).
- **access**: ``READ_WRITE``; ``WRITE_ONLY`` (reading is EINVAL, as in libzmq); ``READ_ONLY``
  (setting is EINVAL; gzmq changes the value itself, e.g. MECHANISM).
- **after**: what else setting it changes (IPV6 and IPV4ONLY are each other's inverse; the
  security options pick the mechanism and the role), and **read**, where reading computes.

Options the facade answers itself (RCVMORE, EVENTS, FD, TYPE, LAST_ENDPOINT, TOPICS_COUNT,
SUBSCRIBE/UNSUBSCRIBE) have no row; neither do the ones gzmq does not support (GSSAPI, VMCI,
WSS, NORM, XSUB_VERBOSE_UNSUBSCRIBE, ...): both are EINVAL here, as they are in libzmq 4.3.5
for what it lacks. A value gzmq cannot honour is EINVAL too (RECONNECT_STOP's AFTER_DISCONNECT).
Every row is read somewhere, except the few that change nothing in libzmq on Linux either
(AFFINITY, OUT_BATCH_SIZE, LOOPBACK_FASTPATH, ZAP_ENFORCE_DOMAIN): tests/test_options_have_effect.py
keeps it so.

``set`` checks in libzmq's order: unknown or read-only, then the socket type, then the value's
kind (TypeError, as pyzmq), then its range.
"""

from __future__ import annotations

import enum
from typing import Any, Callable, ClassVar, Mapping, Optional, TypeVar, Union, cast

from .constants import EINVAL, SocketOption, SocketType, _OptType
from .error import ZMQError
from .zmtp.z85 import parse_curve_key

__all__ = ["Options", "Row", "Access", "TABLE", "OptionValue", "option_name", "row",
           "NULL", "PLAIN", "CURVE"]

O = SocketOption
T = SocketType

OptionValue = Union[int, bytes]
_V = TypeVar("_V", int, bytes)

#: ZMQ_MECHANISM values
NULL, PLAIN, CURVE = 0, 1, 2


class Access(enum.Enum):
    READ_WRITE = "read-write"
    WRITE_ONLY = "write-only"  #: set only; reading is EINVAL (libzmq has no getter)
    READ_ONLY = "read-only"  #: read only; setting is EINVAL


READ_WRITE, WRITE_ONLY, READ_ONLY = Access.READ_WRITE, Access.WRITE_ONLY, Access.READ_ONLY


class Row:
    """One option of the table (see the module docstring for the columns)."""

    __slots__ = ("option", "attr", "kind", "c_int", "default", "access", "minimum", "choices",
                 "length", "only", "convert", "after", "read")

    def __init__(self, option: SocketOption, default: OptionValue, access: Access,
                 minimum: Optional[int], choices: Optional[frozenset[int]],
                 length: Optional[tuple[int, int]], only: Optional[frozenset[int]],
                 convert: Optional[Callable[[Any], OptionValue]],
                 after: Optional[Callable[["Options", Any], None]],
                 read: Optional[Callable[["Options"], OptionValue]]) -> None:
        self.option = option
        self.attr = option_name(option)
        self.kind: type = bytes if option._opt_type is _OptType.bytes else int
        self.c_int = option._opt_type is _OptType.int
        self.default = default
        self.access = access
        self.minimum = minimum
        self.choices = choices
        self.length = length
        self.only = only
        self.convert = convert
        self.after = after
        self.read = read

    def __repr__(self) -> str:
        return f"<Row {self.option.name} {self.kind.__name__} = {self.default!r} {self.access.value}>"


def row(option: SocketOption, default: _V, *, access: Access = READ_WRITE,
        minimum: Optional[int] = None, choices: Optional[frozenset[int]] = None,
        length: Optional[tuple[int, int]] = None, only: Optional[frozenset[int]] = None,
        convert: Optional[Callable[[Any], OptionValue]] = None,
        after: Optional[Callable[["Options", Any], None]] = None,
        read: Optional[Callable[["Options"], OptionValue]] = None) -> _V:
    """A row of the table, in the body of ``Options``. Typed as its default's type because
    that is the type of the attribute it becomes (``_OptionTable`` takes it out of the class)."""
    return cast(_V, Row(option, default, access, minimum, choices, length, only, convert,
                        after, read))


def option_name(option: SocketOption) -> str:
    return option.name.lower()


class _OptionTable(type):
    """Turns the rows in a class body into ``TABLE`` and ``__slots__``, and checks them."""

    def __new__(mcs, name: str, bases: tuple[type, ...],
                namespace: dict[str, Any]) -> "_OptionTable":
        rows = {attr: value for attr, value in namespace.items() if isinstance(value, Row)}
        annotations = namespace.get("__annotations__", {})
        for attr, spec in rows.items():
            del namespace[attr]
            if attr != spec.attr:
                raise TypeError(f"row {attr} is for {spec.option.name}: name it {spec.attr}")
            if annotations.get(attr) not in (spec.kind.__name__, spec.kind):
                raise TypeError(f"{attr}: annotated {annotations.get(attr)!r}, but "
                                f"{spec.option.name} is a {spec.option._opt_type.name} option")
            if not isinstance(spec.default, spec.kind) or isinstance(spec.default, bool):
                raise TypeError(f"{attr}: default {spec.default!r} is not {spec.kind.__name__}")
        namespace["__slots__"] = tuple(namespace.pop("_more_slots", ())) + tuple(rows)
        cls = super().__new__(mcs, name, bases, namespace)
        cls._rows = {spec.option: spec for spec in rows.values()}  # type: ignore[attr-defined]
        return cls


# ---- what setting some options also changes, and reading computes ---------------------------

def _set_ipv6(options: Options, value: int) -> None:
    options.ipv4only = 1 - value


def _set_ipv4only(options: Options, value: int) -> None:
    options.ipv6 = 1 - value


def _set_plain_server(options: Options, value: int) -> None:
    # libzmq: the server flag picks the mechanism; clearing it falls back to NULL
    options.as_server = value
    options.mechanism = PLAIN if value else NULL


def _set_curve_server(options: Options, value: int) -> None:
    options.as_server = value
    options.mechanism = CURVE if value else NULL


def _set_plain_credential(options: Options, value: bytes) -> None:
    options.as_server = 0
    options.mechanism = PLAIN


def _set_curve_key(options: Options, value: bytes) -> None:
    options.mechanism = CURVE


def _set_curve_serverkey(options: Options, value: bytes) -> None:
    options.mechanism = CURVE
    options.as_server = 0


def _set_xpub_verbose(options: Options, value: int) -> None:
    options.xpub_verboser = 0  # libzmq: VERBOSE reports subscriptions only, from now on


def _set_xpub_verboser(options: Options, value: int) -> None:
    options.xpub_verbose = value  # libzmq: VERBOSER is VERBOSE plus the unsubscriptions


def _set_xpub_manual_last_value(options: Options, value: int) -> None:
    options.xpub_manual = value  # libzmq: it is XPUB_MANUAL plus "send to that pipe only"


def _read_plain_server(options: Options) -> int:
    return options.as_server if options.mechanism == PLAIN else 0


def _read_curve_server(options: Options) -> int:
    return options.as_server if options.mechanism == CURVE else 0


def _as_bool(value: int) -> int:
    return int(value != 0)  # libzmq keeps a bool


def _reconnect_stop(value: int) -> int:
    """RECONNECT_STOP: CONN_REFUSED (1) and HANDSHAKE_FAILED (2) work; AFTER_DISCONNECT (4),
    an ipc-only rule of libzmq's, is not implemented, so it is EINVAL (ValueError here)."""
    if value & 4:
        raise ValueError("ZMQ_RECONNECT_STOP_AFTER_DISCONNECT is not implemented")
    return value


def _curve_key(value: bytes) -> bytes:
    """32 raw bytes, 40 Z85 characters, or 41 with a trailing NUL; ValueError otherwise."""
    return parse_curve_key(value)


# ---- the socket types an option is for (libzmq's per-type xsetsockopt) -----------------------

_ROUTER_LIKE = frozenset({T.ROUTER, T.REP})  # libzmq's REP is built on its ROUTER
_XPUB_LIKE = frozenset({T.XPUB, T.PUB})
_REQ = frozenset({T.REQ})
_PROBING = frozenset({T.REQ, T.REP, T.DEALER, T.ROUTER})
_X_PUBSUB = frozenset({T.XPUB, T.XSUB})
_STREAM = frozenset({T.STREAM})

#: the booleans libzmq checks strictly take only 0 or 1; the others (``minimum=0``) read any
#: non-negative value as true
_BOOLEAN = frozenset({0, 1})
#: ROUTER_NOTIFY: 0, NOTIFY_CONNECT (1), NOTIFY_DISCONNECT (2) or both
_NOTIFY = frozenset({0, 1, 2, 3})
#: strings that travel in one-byte-length fields (ZAP, the routing id a peer is given)
_SHORT = (0, 255)


class Options(metaclass=_OptionTable):
    """The option values of one socket, as attributes named like the option in lower case."""

    # __slots__ (made by _OptionTable): these two, then one per row
    _more_slots = ("socket_type", "as_server")

    # option                  type    row(SocketOption, default, checks...)
    affinity:                 int   = row(O.AFFINITY, 0)
    routing_id:               bytes = row(O.ROUTING_ID, b"", length=(1, 255))
    rate:                     int   = row(O.RATE, 100)
    recovery_ivl:             int   = row(O.RECOVERY_IVL, 10000)
    sndbuf:                   int   = row(O.SNDBUF, -1, minimum=-1)
    rcvbuf:                   int   = row(O.RCVBUF, -1, minimum=-1)
    linger:                   int   = row(O.LINGER, -1, minimum=-1)
    reconnect_ivl:            int   = row(O.RECONNECT_IVL, 100, minimum=-1)
    backlog:                  int   = row(O.BACKLOG, 100, minimum=0)
    reconnect_ivl_max:        int   = row(O.RECONNECT_IVL_MAX, 0, minimum=0)
    maxmsgsize:               int   = row(O.MAXMSGSIZE, -1)
    sndhwm:                   int   = row(O.SNDHWM, 1000, minimum=0)
    rcvhwm:                   int   = row(O.RCVHWM, 1000, minimum=0)
    multicast_hops:           int   = row(O.MULTICAST_HOPS, 1)
    rcvtimeo:                 int   = row(O.RCVTIMEO, -1, minimum=-1)
    sndtimeo:                 int   = row(O.SNDTIMEO, -1, minimum=-1)
    ipv4only:                 int   = row(O.IPV4ONLY, 1, choices=_BOOLEAN, after=_set_ipv4only)
    router_mandatory:         int   = row(O.ROUTER_MANDATORY, 0, access=WRITE_ONLY, minimum=0,
                                          only=_ROUTER_LIKE)
    tcp_keepalive:            int   = row(O.TCP_KEEPALIVE, -1, choices=frozenset({-1, 0, 1}))
    tcp_keepalive_cnt:        int   = row(O.TCP_KEEPALIVE_CNT, -1, minimum=-1)
    tcp_keepalive_idle:       int   = row(O.TCP_KEEPALIVE_IDLE, -1, minimum=-1)
    tcp_keepalive_intvl:      int   = row(O.TCP_KEEPALIVE_INTVL, -1, minimum=-1)
    immediate:                int   = row(O.IMMEDIATE, 0, choices=_BOOLEAN)
    xpub_verbose:             int   = row(O.XPUB_VERBOSE, 0, access=WRITE_ONLY, minimum=0,
                                          only=_XPUB_LIKE, after=_set_xpub_verbose)
    router_raw:               int   = row(O.ROUTER_RAW, 0, access=WRITE_ONLY, minimum=0,
                                          only=_ROUTER_LIKE)
    ipv6:                     int   = row(O.IPV6, 0, choices=_BOOLEAN, after=_set_ipv6)
    mechanism:                int   = row(O.MECHANISM, NULL, access=READ_ONLY)
    plain_server:             int   = row(O.PLAIN_SERVER, 0, choices=_BOOLEAN,
                                          after=_set_plain_server, read=_read_plain_server)
    plain_username:           bytes = row(O.PLAIN_USERNAME, b"", length=(1, 255),
                                          after=_set_plain_credential)
    plain_password:           bytes = row(O.PLAIN_PASSWORD, b"", length=(1, 255),
                                          after=_set_plain_credential)
    curve_server:             int   = row(O.CURVE_SERVER, 0, choices=_BOOLEAN,
                                          after=_set_curve_server, read=_read_curve_server)
    curve_publickey:          bytes = row(O.CURVE_PUBLICKEY, b"", access=WRITE_ONLY,
                                          convert=_curve_key, after=_set_curve_key)
    curve_secretkey:          bytes = row(O.CURVE_SECRETKEY, b"", access=WRITE_ONLY,
                                          convert=_curve_key, after=_set_curve_key)
    curve_serverkey:          bytes = row(O.CURVE_SERVERKEY, b"", access=WRITE_ONLY,
                                          convert=_curve_key, after=_set_curve_serverkey)
    probe_router:             int   = row(O.PROBE_ROUTER, 0, access=WRITE_ONLY, minimum=0,
                                          only=_PROBING)
    req_correlate:            int   = row(O.REQ_CORRELATE, 0, access=WRITE_ONLY, minimum=0,
                                          only=_REQ)
    req_relaxed:              int   = row(O.REQ_RELAXED, 0, access=WRITE_ONLY, minimum=0,
                                          only=_REQ)
    conflate:                 int   = row(O.CONFLATE, 0, choices=_BOOLEAN)
    zap_domain:               bytes = row(O.ZAP_DOMAIN, b"", length=_SHORT)
    router_handover:          int   = row(O.ROUTER_HANDOVER, 0, access=WRITE_ONLY, minimum=0,
                                          only=_ROUTER_LIKE)
    tos:                      int   = row(O.TOS, 0)
    connect_routing_id:       bytes = row(O.CONNECT_ROUTING_ID, b"", access=WRITE_ONLY,
                                          length=_SHORT, only=_ROUTER_LIKE | _STREAM)
    handshake_ivl:            int   = row(O.HANDSHAKE_IVL, 30000, minimum=0)
    socks_proxy:              bytes = row(O.SOCKS_PROXY, b"")
    xpub_nodrop:              int   = row(O.XPUB_NODROP, 0, access=WRITE_ONLY, minimum=0,
                                          only=_XPUB_LIKE)
    xpub_manual:              int   = row(O.XPUB_MANUAL, 0, access=WRITE_ONLY, minimum=0,
                                          only=_XPUB_LIKE)
    xpub_welcome_msg:         bytes = row(O.XPUB_WELCOME_MSG, b"", access=WRITE_ONLY,
                                          only=_XPUB_LIKE)
    stream_notify:            int   = row(O.STREAM_NOTIFY, 1, access=WRITE_ONLY,
                                          choices=_BOOLEAN, only=_STREAM)
    invert_matching:          int   = row(O.INVERT_MATCHING, 0, convert=_as_bool)
    heartbeat_ivl:            int   = row(O.HEARTBEAT_IVL, 0, minimum=0)
    heartbeat_ttl:            int   = row(O.HEARTBEAT_TTL, 0, minimum=0)
    heartbeat_timeout:        int   = row(O.HEARTBEAT_TIMEOUT, -1, minimum=-1)
    xpub_verboser:            int   = row(O.XPUB_VERBOSER, 0, access=WRITE_ONLY, minimum=0,
                                          only=_XPUB_LIKE, after=_set_xpub_verboser)
    connect_timeout:          int   = row(O.CONNECT_TIMEOUT, 0, minimum=0)
    tcp_maxrt:                int   = row(O.TCP_MAXRT, 0)
    thread_safe:              int   = row(O.THREAD_SAFE, 0, access=READ_ONLY)
    multicast_maxtpdu:        int   = row(O.MULTICAST_MAXTPDU, 1500)
    use_fd:                   int   = row(O.USE_FD, -1)
    bindtodevice:             bytes = row(O.BINDTODEVICE, b"")
    zap_enforce_domain:       int   = row(O.ZAP_ENFORCE_DOMAIN, 0)
    loopback_fastpath:        int   = row(O.LOOPBACK_FASTPATH, 0)
    metadata:                 bytes = row(O.METADATA, b"", access=WRITE_ONLY)
    multicast_loop:           int   = row(O.MULTICAST_LOOP, 1)
    router_notify:            int   = row(O.ROUTER_NOTIFY, 0, access=WRITE_ONLY,
                                          choices=_NOTIFY, only=_ROUTER_LIKE)
    xpub_manual_last_value:   int   = row(O.XPUB_MANUAL_LAST_VALUE, 0, access=WRITE_ONLY,
                                          minimum=0, only=_XPUB_LIKE,
                                          after=_set_xpub_manual_last_value)
    socks_username:           bytes = row(O.SOCKS_USERNAME, b"")
    socks_password:           bytes = row(O.SOCKS_PASSWORD, b"")
    in_batch_size:            int   = row(O.IN_BATCH_SIZE, 8192, access=WRITE_ONLY)
    out_batch_size:           int   = row(O.OUT_BATCH_SIZE, 8192, access=WRITE_ONLY)
    only_first_subscribe:     int   = row(O.ONLY_FIRST_SUBSCRIBE, 0, access=WRITE_ONLY,
                                          minimum=0, only=_X_PUBSUB)
    reconnect_stop:           int   = row(O.RECONNECT_STOP, 0, convert=_reconnect_stop)
    hello_msg:                bytes = row(O.HELLO_MSG, b"", access=WRITE_ONLY)
    disconnect_msg:           bytes = row(O.DISCONNECT_MSG, b"", access=WRITE_ONLY)
    priority:                 int   = row(O.PRIORITY, 0, access=WRITE_ONLY)
    busy_poll:                int   = row(O.BUSY_POLL, 0, access=WRITE_ONLY)
    hiccup_msg:               bytes = row(O.HICCUP_MSG, b"", access=WRITE_ONLY)

    _rows: ClassVar[dict[SocketOption, Row]]  # set by _OptionTable: the rows above

    #: the security role, derived from the PLAIN/CURVE options as libzmq does
    as_server: int
    socket_type: int

    def __init__(self, socket_type: int,
                 overrides: Optional[Mapping[SocketOption, OptionValue]] = None) -> None:
        """A fresh socket's options: the table's defaults, then ``overrides`` (the socket
        type's ``Routing.option_defaults``)."""
        self.socket_type = socket_type
        self.as_server = 0
        for spec in _ROWS:
            setattr(self, spec.attr, spec.default)
        if overrides:
            for option, value in overrides.items():
                setattr(self, TABLE[option].attr, value)

    def get(self, option: SocketOption) -> OptionValue:
        """The value, as ``getsockopt``; EINVAL for a write-only or unknown option."""
        spec = TABLE.get(option)
        if spec is None or spec.access is WRITE_ONLY:
            raise ZMQError(EINVAL)
        if spec.read is not None:
            return spec.read(self)
        return cast(OptionValue, getattr(self, spec.attr))

    def set(self, option: SocketOption, value: Any) -> None:
        """Validate and store; ``TypeError`` for a value of the wrong kind, EINVAL if invalid."""
        spec = TABLE.get(option)
        if spec is None or spec.access is READ_ONLY:
            raise ZMQError(EINVAL)
        if spec.only is not None and self.socket_type not in spec.only:
            raise ZMQError(EINVAL)
        if spec.kind is bytes:
            value = _as_bytes(value)
            if spec.length is not None and not spec.length[0] <= len(value) <= spec.length[1]:
                raise ZMQError(EINVAL)
        else:
            value = _as_int(value)
            if spec.c_int and not -(2**31) <= value < 2**31:
                raise OverflowError(f"value {value} does not fit a C int")
            if spec.minimum is not None and value < spec.minimum:
                raise ZMQError(EINVAL)
            if spec.choices is not None and value not in spec.choices:
                raise ZMQError(EINVAL)
        if spec.convert is not None:
            try:
                value = spec.convert(value)
            except ValueError:
                raise ZMQError(EINVAL) from None
        setattr(self, spec.attr, value)
        if spec.after is not None:
            spec.after(self, value)


#: the table, by option (aliases such as IDENTITY are the same member as their target)
TABLE: Mapping[SocketOption, Row] = Options._rows
_ROWS = tuple(TABLE.values())


def _as_int(value: Any) -> int:
    if isinstance(value, bool):
        return int(value)
    if not isinstance(value, int):
        raise TypeError(f"expected int, got: {value!r}")
    return value


def _as_bytes(value: Any) -> bytes:
    if isinstance(value, str):
        raise TypeError("unicode not allowed, use setsockopt_string")
    try:
        return bytes(memoryview(value))
    except TypeError:
        raise TypeError(f"expected bytes, got: {value!r}") from None
