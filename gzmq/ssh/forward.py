"""Local port forwarding over a paramiko transport (``ssh -L`` without the ssh command).

Used by ``gzmq.ssh.tunnel.paramiko_tunnel`` in its child process; needs paramiko.
"""

from __future__ import annotations

import select
import socketserver
import sys
from typing import Any

__all__ = ["forward_tunnel"]

_CHUNK = 65536


class _ForwardServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


def _pump(local: Any, channel: Any) -> None:
    """Copy bytes both ways until either side closes."""
    while True:
        readable, _, _ = select.select([local, channel], [], [])
        if local in readable:
            data = local.recv(_CHUNK)
            if not data:
                return
            channel.sendall(data)
        if channel in readable:
            data = channel.recv(_CHUNK)
            if not data:
                return
            local.sendall(data)


def forward_tunnel(local_port: int, remote_host: str, remote_port: int, transport: Any) -> None:
    """Serve ``127.0.0.1:local_port`` forever, forwarding each connection through
    ``transport`` to ``remote_host:remote_port`` (as seen from the SSH server)."""

    class Handler(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            peer = self.request.getpeername()
            try:
                channel = transport.open_channel("direct-tcpip", (remote_host, remote_port),
                                                 peer)
            except Exception as e:  # noqa: BLE001 - one failed connection, not the server
                print(f"forwarding to {remote_host}:{remote_port} failed: {e!r}",
                      file=sys.stderr)
                return
            if channel is None:
                print(f"the SSH server refused to forward to {remote_host}:{remote_port}",
                      file=sys.stderr)
                return
            try:
                _pump(self.request, channel)
            finally:
                channel.close()
                self.request.close()

    with _ForwardServer(("127.0.0.1", local_port), Handler) as server:
        server.serve_forever()
