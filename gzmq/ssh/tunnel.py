"""Reach a ZeroMQ endpoint through an SSH tunnel, as pyzmq's ``zmq.ssh.tunnel``.

``tunnel_connection(sock, "tcp://10.0.0.5:5555", "user@gateway")`` opens a tunnel from a free
local port to ``10.0.0.5:5555`` as seen from ``gateway`` and connects ``sock`` to the local end.
Two ways to make the tunnel, as in pyzmq:

- OpenSSH (the default on POSIX): the ``ssh`` command, driven through ``pexpect`` (needed
  to answer a password prompt). It reuses a running ControlMaster if there is one.
- paramiko (the default on Windows, or ``paramiko=True``): a forwarding server in a child
  process.

Neither pexpect nor paramiko is a gzmq dependency. Without them the calls fail as pyzmq's do,
with an ImportError that says what to install or use instead; without the ``ssh`` command an
OpenSSH tunnel raises FileNotFoundError. ``select_random_ports`` needs nothing.
"""

from __future__ import annotations

import atexit
import os
import re
import shutil
import socket
import sys
import warnings
from getpass import getpass, getuser
from typing import Any, Optional, Union

try:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import paramiko  # type: ignore[import-not-found]
    SSHException: type[Exception] = paramiko.ssh_exception.SSHException
except ImportError:
    paramiko = None

    class SSHException(Exception):  # type: ignore[no-redef]
        """An SSH failure (paramiko's SSHException when paramiko is installed)."""

try:
    import pexpect  # type: ignore[import-not-found]
except ImportError:
    pexpect = None

__all__ = ["tunnel_connection", "ssh_tunnel", "openssh_tunnel", "paramiko_tunnel",
           "try_passwordless_ssh"]

#: how many times to look at ssh's output for a prompt (0.1 s each) before giving up
MAX_RETRY = 10
_PASSWORD_PROMPT = re.compile(rb"pass(word|phrase)", re.IGNORECASE)
_NEW_HOST_PROMPT = "Are you sure you want to continue connecting"


class MaxRetryExceeded(Exception):
    """ssh neither finished nor asked for a password in time."""


def select_random_ports(n: int) -> list[int]:
    """``n`` distinct TCP ports that were free a moment ago (all held until all are picked)."""
    held = []
    try:
        for _ in range(n):
            probe = socket.socket()
            held.append(probe)
            probe.bind(("", 0))
        return [probe.getsockname()[1] for probe in held]
    finally:
        for probe in held:
            probe.close()


# --- checking for passwordless login -------------------------------------------------------

def try_passwordless_ssh(server: str, keyfile: Optional[str],
                         paramiko: Optional[bool] = None) -> bool:
    """Whether ``server`` lets us log in without a password (True/False).

    ``paramiko=None`` picks the platform's default: OpenSSH, paramiko on Windows."""
    if paramiko is None:
        paramiko = sys.platform == "win32"
    if paramiko:
        return _try_passwordless_paramiko(server, keyfile)
    return _try_passwordless_openssh(server, keyfile)


def _need_pexpect(alternative: str) -> Any:
    if pexpect is None:
        raise ImportError(f"pexpect unavailable, use {alternative}")
    return pexpect


def _need_ssh_command() -> str:
    path = shutil.which("ssh")
    if path is None:
        raise FileNotFoundError("the OpenSSH client 'ssh' is not on PATH: install it, or "
                                "use paramiko (paramiko=True)")
    return path


def _need_paramiko(message: str) -> Any:
    if paramiko is None:
        raise ImportError(message)
    return paramiko


def _ssh_env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("SSH_ASKPASS", None)  # we answer prompts ourselves
    return env


def _try_passwordless_openssh(server: str, keyfile: Optional[str]) -> bool:
    expect = _need_pexpect("paramiko")
    _need_ssh_command()
    command = f"ssh -f {server}" + (f" -i {keyfile}" if keyfile else "") + " exit"
    child = expect.spawn(command, env=_ssh_env())
    for _ in range(MAX_RETRY):
        try:
            index = child.expect([_NEW_HOST_PROMPT, _PASSWORD_PROMPT], timeout=0.1)
        except expect.TIMEOUT:
            continue
        except expect.EOF:
            return True  # ssh ran `exit` without asking anything
        if index == 0:
            raise SSHException("The authenticity of the host can't be established.")
        return False  # it asked for a password
    raise MaxRetryExceeded(f"Failed after {MAX_RETRY} attempts")


def _split_server(server: str) -> tuple[str, str, int]:
    """``user@host:port`` → (user, host, port), with the local user and port 22 by default."""
    username, _, hostport = server.rpartition("@")
    host, _, port = hostport.partition(":")
    return username or getuser(), host, int(port) if port else 22


def _paramiko_client(lib: Any) -> Any:
    client = lib.SSHClient()
    try:
        client.load_host_keys(os.path.expanduser("~/.ssh/known_hosts"))
    except FileNotFoundError:
        pass
    policy = os.environ.get("PYZMQ_PARAMIKO_HOST_KEY_POLICY")
    if policy:  # e.g. AutoAdd, Warning, Reject: paramiko.<name>Policy
        client.set_missing_host_key_policy(getattr(lib, f"{policy}Policy")())
    return client


def _try_passwordless_paramiko(server: str, keyfile: Optional[str]) -> bool:
    hint = ("Paramiko is required for ssh tunneled connections on Windows."
            if sys.platform == "win32" else "use OpenSSH.")
    lib = _need_paramiko(f"Paramiko unavailable, {hint}")
    username, host, port = _split_server(server)
    client = _paramiko_client(lib)
    try:
        client.connect(host, port, username=username, key_filename=keyfile,
                       look_for_keys=True)
    except lib.AuthenticationException:
        return False
    client.close()
    return True


# --- opening tunnels -------------------------------------------------------------------------

def tunnel_connection(socket: Any, addr: str, server: str, keyfile: Optional[str] = None,
                      password: Optional[str] = None, paramiko: Optional[bool] = None,
                      timeout: int = 60) -> Any:
    """Connect ``socket`` to ``addr`` through a tunnel via ``server``; return the tunnel
    (the ssh pid for OpenSSH, the forwarding Process for paramiko)."""
    url, tunnel = open_tunnel(addr, server, keyfile=keyfile, password=password,
                              paramiko=paramiko, timeout=timeout)
    socket.connect(url)
    return tunnel


def open_tunnel(addr: str, server: str, keyfile: Optional[str] = None,
                password: Optional[str] = None, paramiko: Optional[bool] = None,
                timeout: int = 60) -> tuple[str, Any]:
    """Tunnel a free local port to ``addr`` (``tcp://ip:port``) via ``server``; return
    ``('tcp://127.0.0.1:<local port>', tunnel)``."""
    transport, _, location = addr.partition("://")
    if transport != "tcp" or ":" not in location:
        raise ValueError(f"only tcp://host:port addresses can be tunneled, not {addr!r}")
    remote_ip, _, remote_port = location.rpartition(":")
    local_port = select_random_ports(1)[0]
    if paramiko is None:
        paramiko = sys.platform == "win32"
    make = paramiko_tunnel if paramiko else openssh_tunnel
    tunnel = make(local_port, int(remote_port), server, remoteip=remote_ip, keyfile=keyfile,
                  password=password, timeout=timeout)
    return f"tcp://127.0.0.1:{local_port}", tunnel


def openssh_tunnel(lport: int, rport: int, server: str, remoteip: str = "127.0.0.1",
                   keyfile: Optional[str] = None, password: Optional[str] = None,
                   timeout: int = 60) -> int:
    """Forward ``127.0.0.1:lport`` here to ``remoteip:rport`` as seen from ``server``
    (``[user@]host[:port]``) with the ``ssh`` command; return the pid of the ssh process.

    An ssh ControlMaster for ``server``, if one runs, carries the forward (cancelled at
    exit); otherwise a new ssh runs ``sleep timeout`` in the background, so the tunnel closes
    once it has been idle that long after its last connection. A password prompt is answered
    with ``password``, or asked for on the terminal."""
    expect = _need_pexpect("paramiko_tunnel")
    _need_ssh_command()
    ssh = "ssh " + (f"-i {keyfile} " if keyfile else "")
    if ":" in server:
        server, port = server.split(":", 1)
        ssh += f"-p {port} "
    forward = f"-L 127.0.0.1:{lport}:{remoteip}:{rport}"

    output, status = expect.run(f"{ssh}-O check {server}", withexitstatus=True)
    if not status:  # a master connection is up: ask it to forward
        master_pid = int(output[output.find(b"(pid=") + 5:output.find(b")")])
        command = f"{ssh}-O forward {forward} {server}"
        output, status = expect.run(command, withexitstatus=True)
        if not status:
            atexit.register(expect.run, command.replace("-O forward", "-O cancel", 1))
            return master_pid

    command = f"{ssh}-f -S none {forward} {server} sleep {timeout}"
    child = expect.spawn(command, env=_ssh_env())
    rejected = False
    for _ in range(MAX_RETRY):
        try:
            index = child.expect([_NEW_HOST_PROMPT, _PASSWORD_PROMPT], timeout=0.1)
        except expect.TIMEOUT:
            continue
        except expect.EOF:
            if child.exitstatus:
                raise RuntimeError(f"tunnel {command!r} failed to start (exit status "
                                   f"{child.exitstatus}): {child.before!r}") from None
            return int(child.pid)
        if index == 0:
            raise SSHException("The authenticity of the host can't be established.")
        if rejected:
            print("Password rejected, try again", file=sys.stderr)
            password = None
        if password is None:
            password = getpass(f"{server}'s password: ")
        child.sendline(password)
        rejected = True
    raise MaxRetryExceeded(f"Failed after {MAX_RETRY} attempts")


def paramiko_tunnel(lport: int, rport: int, server: str, remoteip: str = "127.0.0.1",
                    keyfile: Optional[str] = None, password: Optional[str] = None,
                    timeout: int = 60) -> Any:
    """Forward ``127.0.0.1:lport`` to ``remoteip:rport`` via ``server`` with paramiko, in a
    daemon child process (returned). ``timeout`` is accepted for symmetry and unused, as in
    pyzmq: the forward lasts as long as the process."""
    _need_paramiko("Paramiko not available")
    if password is None and not _try_passwordless_paramiko(server, keyfile):
        password = getpass(f"{server}'s password: ")
    from multiprocessing import Process
    process = Process(target=_paramiko_forward, args=(lport, rport, server, remoteip),
                      kwargs={"keyfile": keyfile, "password": password})
    process.daemon = True
    process.start()
    return process


def _paramiko_forward(lport: int, rport: int, server: str, remoteip: str,
                      keyfile: Optional[str] = None, password: Optional[str] = None) -> None:
    """The paramiko tunnel's child process: log in, then forward until killed."""
    import signal
    from .forward import forward_tunnel
    username, host, port = _split_server(server)
    client = paramiko.SSHClient()
    client.load_system_host_keys()
    client.set_missing_host_key_policy(paramiko.WarningPolicy())
    try:
        client.connect(host, port, username=username, key_filename=keyfile,
                       look_for_keys=True, password=password)
    except Exception as e:  # noqa: BLE001 - the child reports and exits
        print(f"*** Failed to connect to {host}:{port}: {e!r}", file=sys.stderr)
        sys.exit(1)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C in the parent leaves it running
    try:
        forward_tunnel(lport, remoteip, rport, client.get_transport())
    except Exception as e:  # noqa: BLE001
        print(f"Port forwarding stopped uncleanly: {e}", file=sys.stderr)
        sys.exit(255)


ssh_tunnel: Union[Any] = paramiko_tunnel if sys.platform == "win32" else openssh_tunnel
