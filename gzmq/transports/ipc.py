"""ipc:// endpoints: Unix domain stream sockets, as libzmq uses them on Linux.

- ``ipc://@name`` is the abstract namespace (a leading NUL, no file); ``ipc://*`` binds a fresh
  path in a new temporary directory.
- A path must fit ``sun_path`` (107 bytes + NUL): ENAMETOOLONG otherwise.
- bind removes a stale file at the path first (as libzmq does), and we also remove the file
  on unbind/close, which libzmq 4.3 does not (libzmq#2764): leaving nothing behind is the
  behaviour users ask for, and a peer cannot tell. Abstract names leave nothing anyway.
- ``bind(..., mode=0o600)`` (a gzmq extension) gives the socket file exactly that mode, and the
  file never exists at its path with any other mode: the socket is bound in a fresh private
  (0700) directory next to the target, chmod-ed there, then renamed into place. rename replaces
  what is at the path, as the stale-file unlink does; something it cannot replace (a
  directory) is EADDRINUSE, as it is without ``mode``. The process umask is never touched.
- Peer-Address is ``localhost:<uid>:<gid>:<pid>`` of the peer process (SO_PEERCRED).

``TRANSPORT`` is this module as ``stream.Listener`` and the connect side use it.
"""

from __future__ import annotations

import errno
import os
import shutil
import socket as stdsocket
import struct
import tempfile
from errno import ENAMETOOLONG
from typing import Annotated, Any, Optional

from gevent import socket as gsocket

from ..error import ZMQError
from ..options import Options
from .base import Listening, StreamTransport, apply_buffer_sizes

__all__ = ["listen", "parse_connect_address", "dial", "configure_stream", "peer_address",
           "check_mode", "GzmqExtensionFileMode", "MAX_PATH_LENGTH", "TRANSPORT"]

#: sizeof(sockaddr_un.sun_path) - 1 on Linux (pyzmq's IPC_PATH_MAX_LEN)
MAX_PATH_LENGTH = 107

#: the type of ``Socket.bind(..., mode=)``: a gzmq extension (pyzmq's bind has no ``mode``)
GzmqExtensionFileMode = Annotated[
    Optional[int], "gzmq extension, not in pyzmq: file mode of an ipc:// socket file"]


def check_mode(mode: Any) -> None:
    """TypeError/ValueError unless ``mode`` is a file mode (an int in 0..0o777)."""
    if isinstance(mode, bool) or not isinstance(mode, int):
        raise TypeError(f"mode must be an int file mode such as 0o600, got: {mode!r}")
    if not 0 <= mode <= 0o777:
        raise ValueError(f"mode must be in 0..0o777 (permission bits only), got: {mode!r}")


def _socket_address(path: str) -> str:
    address = "\0" + path[1:] if path.startswith("@") else path
    if len(address.encode()) > MAX_PATH_LENGTH:
        raise _too_long(path)
    return address


def _too_long(path: str) -> ZMQError:
    """ENAMETOOLONG with pyzmq's message, which names the limit."""
    return ZMQError(ENAMETOOLONG,
                    f'ipc path "{path}" is longer than {MAX_PATH_LENGTH} characters '
                    "(sizeof(sockaddr_un.sun_path)). zmq.IPC_PATH_MAX_LEN constant can be "
                    "used to check addr length (if it is defined).")


def listen(path: str, options: Options, mode: Optional[int] = None) -> Listening:
    if mode is not None:
        check_mode(mode)
        if path.startswith("@"):
            raise ZMQError(errno.EINVAL, f"mode={mode:#o} needs a socket file, and the abstract "
                                         "ipc://@name has none (mode= is a gzmq extension)")
    if options.use_fd >= 0:  # libzmq: the application's socket, bound and listening already
        listener = gsocket.socket(fileno=options.use_fd)
        name = listener.getsockname()
        name = "@" + name[1:].decode() if isinstance(name, bytes) else name
        return listener, f"ipc://{name}", lambda: None
    cleanup_dir = None
    if path == "*":
        cleanup_dir = tempfile.mkdtemp(prefix="gzmq-")
        path = os.path.join(cleanup_dir, "socket")
    try:
        address = _socket_address(path)
        is_file = not address.startswith("\0")
        listener = gsocket.socket(stdsocket.AF_UNIX, stdsocket.SOCK_STREAM)
        try:
            if mode is None:
                if is_file:
                    try:
                        os.unlink(address)  # a stale socket file from an earlier run
                    except OSError:
                        pass
                listener.bind(address)
                listener.listen(max(options.backlog, 1))
                inode = os.stat(address).st_ino if is_file else None
            else:
                inode = _bind_with_mode(listener, address, mode, max(options.backlog, 1))
                if cleanup_dir is not None:
                    # ipc://*: let whoever the file mode admits reach it (search bit only)
                    os.chmod(cleanup_dir, 0o700 | (0o010 if mode & 0o070 else 0)
                             | (0o001 if mode & 0o007 else 0))
        except OSError as e:
            listener.close()
            raise ZMQError(e.errno or errno.EINVAL) from None
        except BaseException:
            listener.close()
            raise
    except BaseException:
        if cleanup_dir is not None:
            shutil.rmtree(cleanup_dir, ignore_errors=True)
        raise

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


def _bind_with_mode(listener: gsocket.socket, address: str, mode: int, backlog: int) -> int:
    """Bind and listen at ``address``, the file appearing there only ever with ``mode``.

    Bound, listening and chmod-ed in a private 0700 directory in the target's own directory
    (so nobody else can reach it meanwhile), then renamed into place: same filesystem, so the
    rename is atomic. Returns the file's inode. The private directory is always removed.
    """
    private = tempfile.mkdtemp(prefix=".gzmq-", dir=os.path.dirname(address) or ".")
    staged = os.path.join(private, "s")
    dir_fd = None
    try:
        bind_address = staged
        if len(staged.encode()) > MAX_PATH_LENGTH:
            # the target fits sun_path but the staged path does not: name the private
            # directory through its descriptor instead
            if not os.path.isdir("/proc/self/fd"):
                raise ZMQError(ENAMETOOLONG)
            dir_fd = os.open(private, os.O_RDONLY | os.O_DIRECTORY)
            bind_address = f"/proc/self/fd/{dir_fd}/s"
        listener.bind(bind_address)
        listener.listen(backlog)  # before the path appears: no ECONNREFUSED once it is there
        os.chmod(staged, mode)
        inode = os.stat(staged).st_ino
        try:
            os.rename(staged, address)  # replaces a stale file, as unlink + bind does
        except OSError as e:
            if os.path.lexists(address):
                raise ZMQError(errno.EADDRINUSE) from None  # e.g. a directory is in the way
            raise
        return inode
    finally:
        if dir_fd is not None:
            os.close(dir_fd)
        try:
            os.unlink(staged)  # still there if anything failed
        except OSError:
            pass
        try:
            os.rmdir(private)
        except OSError:
            pass


def parse_connect_address(path: str, options: Options) -> str:
    return _socket_address(path)


def dial(address: str, options: Options) -> gsocket.socket:
    stream = gsocket.socket(stdsocket.AF_UNIX, stdsocket.SOCK_STREAM)
    try:
        stream.connect(address)
        configure_stream(stream, options)
    except OSError:
        stream.close()
        raise
    return stream


def configure_stream(stream: gsocket.socket, options: Options) -> None:
    """Socket options for every connection, dialled or accepted."""
    apply_buffer_sizes(stream, options)


def peer_address(stream: gsocket.socket) -> str:
    try:
        creds = stream.getsockopt(stdsocket.SOL_SOCKET, stdsocket.SO_PEERCRED,
                                  struct.calcsize("3i"))
        pid, uid, gid = struct.unpack("3i", creds)
        return f"localhost:{uid}:{gid}:{pid}"
    except (OSError, AttributeError):
        return ""


class IpcTransport:
    """ipc:// for ``stream.Listener`` and the connect side (a ``base.StreamTransport``)."""

    scheme = "ipc"
    listen = staticmethod(listen)
    parse_connect_address = staticmethod(parse_connect_address)
    dial = staticmethod(dial)
    configure_stream = staticmethod(configure_stream)
    peer_address = staticmethod(peer_address)


TRANSPORT: StreamTransport[str] = IpcTransport()
