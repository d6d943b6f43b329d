"""CURVE certificate files: ``create_certificates``, ``load_certificate``, ``load_certificates``.

The files are ZPL text (RFC 4), as pyzmq and czmq write them::

    #   ****  Generated on 2024-01-01 12:00:00.000000 by gzmq  ****
    #   ZeroMQ CURVE **Secret** Certificate
    #   DO NOT PROVIDE THIS FILE TO OTHER USERS nor change its permissions.

    metadata
        name = value
    curve
        public-key = "<40 Z85 characters>"
        secret-key = "<40 Z85 characters>"

``create_certificates`` writes the same bytes as pyzmq's apart from the generator/date line
(the public file has no metadata, as pyzmq's), except that the secret file is created with mode
0600. ``load_certificate`` understands ZPL sections and indentation, so it reads pyzmq's files
and czmq's (``zcert_save`` names them ``name`` and ``name_secret`` and quotes every value).
"""

from __future__ import annotations

import datetime
import os
from types import ModuleType
from typing import Any, Optional, Union

__all__ = ["create_certificates", "load_certificate", "load_certificates"]

PathLike = Union[str, "os.PathLike[str]"]

_SECRET_BANNER = (
    "#   ****  Generated on {date} by gzmq  ****\n"
    "#   ZeroMQ CURVE **Secret** Certificate\n"
    "#   DO NOT PROVIDE THIS FILE TO OTHER USERS nor change its permissions.\n"
    "\n"
)
_PUBLIC_BANNER = (
    "#   ****  Generated on {date} by gzmq  ****\n"
    "#   ZeroMQ CURVE Public Certificate\n"
    "#   Exchange securely, or use a secure mechanism to verify the contents\n"
    "#   of this file after exchange. Store public certificates in your home\n"
    "#   directory, in the .curve subdirectory.\n"
    "\n"
)

_Z85_ALPHABET = frozenset(
    b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#"
)


def _z85() -> ModuleType:
    """``gzmq.zmtp.z85`` (encode, decode, curve_keypair, curve_public), imported on first use."""
    from ..zmtp import z85
    return z85


def _text(value: Any, encoding: str = "utf-8") -> str:
    return value.decode(encoding) if isinstance(value, bytes) else str(value)


def _certificate_text(banner: str, date: str, public_key: str, secret_key: Optional[str],
                      metadata: Optional[dict[Any, Any]]) -> str:
    lines = [banner.format(date=date), "metadata\n"]
    for name, value in (metadata or {}).items():
        lines.append(f"    {_text(name)} = {_text(value)}\n")
    lines.append("curve\n")
    lines.append(f'    public-key = "{public_key}"\n')
    if secret_key:
        lines.append(f'    secret-key = "{secret_key}"\n')
    return "".join(lines)


def _write(path: str, text: str, mode: int) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with open(fd, "w", encoding="utf-8") as f:
        f.write(text)


def create_certificates(key_dir: PathLike, name: str,
                        metadata: Optional[dict[str, str]] = None) -> tuple[str, str]:
    """Write a new keypair as ``<key_dir>/<name>.key`` and ``<name>.key_secret``.

    Returns ``(public_file, secret_file)``. ``metadata`` goes into the secret certificate only
    (as pyzmq does). A missing ``key_dir`` raises ``OSError``.
    """
    public_key, secret_key = (_text(k, "ascii") for k in _z85().curve_keypair())
    base = os.path.join(key_dir, name)
    public_file = f"{base}.key"
    secret_file = f"{base}.key_secret"
    date = str(datetime.datetime.now())
    _write(public_file, _certificate_text(_PUBLIC_BANNER, date, public_key, None, None), 0o666)
    _write(secret_file,
           _certificate_text(_SECRET_BANNER, date, public_key, secret_key, metadata), 0o600)
    return public_file, secret_file


# ---------------------------------------------------------------------------------------------
# reading (ZPL, RFC 4)

def _zpl_value(rest: bytes) -> bytes:
    """The value after ``=``: quoted ("…" or '…', no escapes) or up to whitespace / ``#``."""
    rest = rest.strip(b" \t")
    if rest[:1] in (b'"', b"'"):
        end = rest.find(rest[:1], 1)
        return rest[1:end] if end > 0 else rest[1:]
    for stop in (b"#", b" ", b"\t"):
        cut = rest.find(stop)
        if cut >= 0:
            rest = rest[:cut]
    return rest


def _zpl_entries(data: bytes) -> list[tuple[tuple[bytes, ...], bytes]]:
    """``[(path, value)]`` for every ``name = value`` line; the path holds the enclosing sections.

    Lenient where ZPL is strict: any indentation deeper than the current section counts as one
    level, tabs count as 4 spaces, CRLF and a UTF-8 BOM are fine.
    """
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    stack: list[tuple[int, bytes]] = []  # (indent, section name)
    entries = []
    for raw in data.splitlines():
        line = raw.expandtabs(4).rstrip()
        stripped = line.lstrip(b" ")
        if not stripped or stripped.startswith(b"#"):
            continue
        indent = len(line) - len(stripped)
        while stack and stack[-1][0] >= indent:
            stack.pop()
        name, equals, rest = stripped.partition(b"=")
        name = name.strip()
        path = tuple(section for _, section in stack) + (name,)
        if equals:
            entries.append((path, _zpl_value(rest)))
        else:
            stack.append((indent, name.split(b"#", 1)[0].strip()))
    return entries


def _find_key(entries: list[tuple[tuple[bytes, ...], bytes]], name: bytes) -> Optional[bytes]:
    for path, value in entries:  # the ZPL location first: /curve/<name>
        if path == (b"curve", name):
            return value
    for path, value in entries:  # then anywhere, as pyzmq's line scan would find it
        if path[-1] == name:
            return value
    return None


def _check_key(key: bytes, what: str, filename: PathLike) -> None:
    if len(key) != 40 or not _Z85_ALPHABET.issuperset(key):
        raise ValueError(f"Invalid {what} in {os.fspath(filename)}: "
                         "expected 40 Z85 characters")


def load_certificate(filename: PathLike) -> tuple[bytes, Optional[bytes]]:
    """Read ``(public_key, secret_key)`` (Z85 bytes) from a certificate file.

    ``secret_key`` is None for a public certificate. A missing file raises ``OSError``, a file
    without a public key (or with a key that is not 40 Z85 characters) ``ValueError``.
    """
    if not os.path.exists(filename):
        raise OSError(f"Invalid certificate file: {os.fspath(filename)}")
    with open(filename, "rb") as f:
        entries = _zpl_entries(f.read())
    public_key = _find_key(entries, b"public-key")
    if not public_key:
        raise ValueError(f"No public key found in {os.fspath(filename)}")
    _check_key(public_key, "public key", filename)
    secret_key = _find_key(entries, b"secret-key") or None
    if secret_key is not None:
        _check_key(secret_key, "secret key", filename)
    return public_key, secret_key


def load_certificates(directory: PathLike = ".") -> dict[bytes, bool]:
    """``{public_key: True}`` for every ``*.key`` file in ``directory`` (czmq's convention).

    A missing directory raises ``OSError``; an unreadable certificate raises ``ValueError``.
    """
    if not os.path.isdir(directory):
        raise OSError(f"Invalid certificate directory: {os.fspath(directory)}")
    certs: dict[bytes, bool] = {}
    with os.scandir(directory) as entries:
        names = sorted(e.path for e in entries
                       if e.name.endswith(".key") and not e.name.startswith(".")
                       and e.is_file())
    for path in names:
        public_key, _ = load_certificate(path)
        certs[public_key] = True
    return certs
