"""ipc:// endpoints: Unix domain stream sockets, as libzmq uses them on Linux.

- ``ipc://@name`` is the abstract namespace (a leading NUL, no file); ``ipc://*`` binds a fresh
  path in a new temporary directory.
- A path must fit ``sun_path`` (107 bytes + NUL): ENAMETOOLONG otherwise.
- bind removes a stale file at the path first (as libzmq does), and we also remove the file
  on unbind/close, which libzmq 4.3 does not (libzmq#2764): leaving nothing behind is the
  behaviour users ask for, and a peer cannot tell. Abstract names leave nothing anyway.
- Peer-Address is ``localhost:<uid>:<gid>:<pid>`` of the peer process (SO_PEERCRED).
"""

from __future__ import annotations

import errno
import os
import shutil
import socket as stdsocket
import struct
import tempfile
from typing import Any, Callable

from gevent import socket as gsocket

from errno import ENAMETOOLONG
from ..error import ZMQError

__all__ = ["listen", "parse_connect_address", "dial", "configure_stream", "peer_address",
           "MAX_PATH_LENGTH"]

#: sizeof(sockaddr_un.sun_path) - 1 on Linux (pyzmq's IPC_PATH_MAX_LEN)
MAX_PATH_LENGTH = 107


def _socket_address(path: str) -> str:
    address = "\0" + path[1:] if path.startswith("@") else path
    if len(address.encode()) > MAX_PATH_LENGTH:
        raise ZMQError(ENAMETOOLONG)
    return address


def listen(path: str, options: Any) -> tuple[gsocket.socket, str, Callable[[], None]]:
    cleanup_dir = None
    if path == "*":
        cleanup_dir = tempfile.mkdtemp(prefix="gzmq-")
        path = os.path.join(cleanup_dir, "socket")
    address = _socket_address(path)
    is_file = not address.startswith("\0")
    if is_file:
        try:
            os.unlink(address)  # a stale socket file from an earlier run
        except OSError:
            pass
    listener = gsocket.socket(stdsocket.AF_UNIX, stdsocket.SOCK_STREAM)
    try:
        listener.bind(address)
        listener.listen(max(options.backlog, 1))
    except OSError as e:
        listener.close()
        raise ZMQError(e.errno or errno.EINVAL) from None
    inode = os.stat(address).st_ino if is_file else None

    def cleanup() -> None:
        # only remove the file if it is still ours (another socket may have rebound the path)
        if is_file:
            try:
                if os.stat(address).st_ino == inode:
                    os.unlink(address)
            except OSError:
                pass
        if cleanup_dir is not None:
            shutil.rmtree(cleanup_dir, ignore_errors=True)

    return listener, f"ipc://{path}", cleanup


def parse_connect_address(path: str, options: Any) -> str:
    return _socket_address(path)


def dial(address: str, options: Any) -> gsocket.socket:
    stream = gsocket.socket(stdsocket.AF_UNIX, stdsocket.SOCK_STREAM)
    try:
        stream.connect(address)
        configure_stream(stream, options)
    except OSError:
        stream.close()
        raise
    return stream


def configure_stream(stream: gsocket.socket, options: Any) -> None:
    """Socket options for every connection, dialled or accepted."""
    from .stream import apply_buffer_sizes
    apply_buffer_sizes(stream, options)


def peer_address(stream: gsocket.socket) -> str:
    try:
        creds = stream.getsockopt(stdsocket.SOL_SOCKET, stdsocket.SO_PEERCRED,
                                  struct.calcsize("3i"))
        pid, uid, gid = struct.unpack("3i", creds)
        return f"localhost:{uid}:{gid}:{pid}"
    except (OSError, AttributeError):
        return ""
