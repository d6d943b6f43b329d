"""``python -m gzmq``: every sub-command end to end, as subprocesses talking to each other.

A binding command reports ``gzmq <cmd>: bound <endpoint>`` on stderr; the tests read that to
find the port (``tcp://127.0.0.1:*``), so nothing depends on a fixed port."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import gevent
import gevent.subprocess
import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ENV = dict(os.environ, PYTHONPATH=REPO, PYTHONUNBUFFERED="1")
LIMIT = 30
GZMQ = [sys.executable, "-m", "gzmq"]


def run(*args, stdin="", timeout=LIMIT):
    return gevent.subprocess.run([*GZMQ, *args], input=stdin, capture_output=True, text=True,
                                 env=ENV, timeout=timeout, cwd=REPO)


class Server:
    """A binding command in the background; ``endpoint`` is what it reported."""

    def __init__(self, *args, stdin=""):
        self.proc = gevent.subprocess.Popen(
            [*GZMQ, *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True, env=ENV, cwd=REPO)
        if stdin is not None:
            self.proc.stdin.write(stdin)
        self.proc.stdin.close()
        with gevent.Timeout(LIMIT, AssertionError(f"{args[0]} never reported its endpoint")):
            line = self.proc.stderr.readline()
        match = re.match(r"gzmq \w+: bound (\S+)$", line.strip())
        assert match, line
        self.endpoint = match.group(1)

    def finish(self, timeout=LIMIT):
        try:
            out, err = self.proc.communicate(timeout=timeout)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode, out, err

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def test_help_for_every_command():
    top = run("--help")
    assert top.returncode == 0
    for command in ("keygen", "pub", "sub", "push", "pull", "req", "rep", "monitor", "bench",
                    "run"):
        assert command in top.stdout
    for command in ("pub", "sub", "push", "pull", "req", "rep"):
        out = run(command, "--help")
        assert out.returncode == 0, out.stderr
        for option in ("--bind", "--connect", "--curve-server-key", "--curve-public-key",
                       "--curve-secret-key", "--curve-cert", "--plain-username",
                       "--plain-password", "--count", "--timeout"):
            assert option in out.stdout, (command, option)
    assert "--subscribe" in run("sub", "--help").stdout
    assert "--type" in run("monitor", "--help").stdout
    assert "--builtin" in run("bench", "--help").stdout
    assert "--cert-dir" in run("keygen", "--help").stdout
    assert "--patch-all" in run("run", "--help").stdout
    assert run("--version").stdout.startswith("gzmq ")


def test_usage_errors_exit_2():
    assert run().returncode == 2  # no command
    assert run("frobnicate").returncode == 2
    no_endpoint = run("push")
    assert no_endpoint.returncode == 2 and "--bind or --connect" in no_endpoint.stderr
    assert run("pull", "--count", "x", "--bind", "inproc://x").returncode == 2


def test_rep_and_req_pair():
    rep = Server("rep", "--bind", "tcp://127.0.0.1:*", "--count", "3", stdin="one\ntwo\n")
    try:
        req = run("req", "--connect", rep.endpoint, "--timeout", "10",
                  stdin="hello\nworld\nagain\n")
        code, out, err = rep.finish()
    finally:
        rep.kill()
    assert req.returncode == 0, req.stderr
    # replies: the rep's stdin lines, then (stdin exhausted) the request echoed
    assert req.stdout.splitlines() == ["one", "two", "again"]
    assert code == 0, err
    assert out.splitlines() == ["hello", "world", "again"]


def test_pub_and_sub_with_topics_and_stdin_lines():
    pub = Server("pub", "--bind", "tcp://127.0.0.1:*", "--wait-subscribers", "1",
                 "--timeout", "20", stdin="news one\nweather rain\nnews two\n")
    try:
        sub = run("sub", "--connect", pub.endpoint, "--subscribe", "news", "--count", "2",
                  "--timeout", "20")
        code, _, err = pub.finish()
    finally:
        pub.kill()
    assert sub.returncode == 0, sub.stderr
    assert sub.stdout.splitlines() == ["news one", "news two"]
    assert code == 0 and "1 subscription(s) arrived" in err


def test_push_and_pull_multipart_with_separator():
    pull = Server("pull", "--bind", "tcp://127.0.0.1:*", "--count", "2", "--separator", "|",
                  stdin=None)
    try:
        push = run("push", "--connect", pull.endpoint, "--separator", "|",
                   stdin="a|b|c\nsingle\n")
        code, out, err = pull.finish()
    finally:
        pull.kill()
    assert push.returncode == 0, push.stderr
    assert code == 0, err
    assert out.splitlines() == ["a|b|c", "single"]


def test_push_with_count_sends_only_that_many_and_pull_default_tab():
    pull = Server("pull", "--bind", "tcp://127.0.0.1:*", "--count", "2", stdin=None)
    try:
        push = run("push", "--connect", pull.endpoint, "--count", "2",
                   stdin="1\n2\n3\n")
        code, out, _ = pull.finish()
    finally:
        pull.kill()
    assert push.returncode == 0 and code == 0
    assert out.splitlines() == ["1", "2"]


def test_timeouts_exit_3_and_bind_errors_exit_1():
    nobody = run("req", "--connect", "tcp://127.0.0.1:1", "--timeout", "0.5", stdin="x\n")
    assert nobody.returncode == 3 and "timed out" in nobody.stderr
    quiet = run("pull", "--bind", "tcp://127.0.0.1:*", "--timeout", "0.3")
    assert quiet.returncode == 3
    busy = Server("pull", "--bind", "tcp://127.0.0.1:*", stdin=None)
    try:
        clash = run("pull", "--bind", busy.endpoint)
    finally:
        busy.kill()
    assert clash.returncode == 1 and "Address already in use" in clash.stderr


def test_keygen_text_json_secret_and_certificates(tmp_path):
    from gzmq.auth.certs import load_certificate
    from gzmq.zmtp import z85
    text = run("keygen")
    assert text.returncode == 0
    keys = re.findall(r"^(\S{40})$", text.stdout, re.M)
    assert len(keys) == 2 and z85.curve_public(keys[1].encode()) == keys[0].encode()
    as_json = json.loads(run("keygen", "--json").stdout)
    derived = run("keygen", "--secret", as_json["secret"], "--json")
    assert json.loads(derived.stdout)["public"] == as_json["public"]
    assert run("keygen", "--secret", "short").returncode == 2
    made = run("keygen", "--cert-dir", str(tmp_path / "certs"), "--name", "server")
    assert made.returncode == 0, made.stderr
    public_file, secret_file = made.stdout.split()
    public, secret = load_certificate(secret_file)
    assert load_certificate(public_file) == (public, None)
    assert z85.curve_public(secret) == public
    assert run("keygen", "--cert-dir", str(tmp_path), "--secret", "x" * 40).returncode == 2


def test_curve_with_certificates_admits_known_client_and_refuses_others(tmp_path):
    from gzmq.auth.certs import load_certificate
    servers, clients, strangers = (tmp_path / d for d in ("server", "clients", "strangers"))
    assert run("keygen", "--cert-dir", str(servers), "--name", "server").returncode == 0
    assert run("keygen", "--cert-dir", str(clients), "--name", "client").returncode == 0
    assert run("keygen", "--cert-dir", str(strangers), "--name", "stranger").returncode == 0
    server_public, _ = load_certificate(str(servers / "server.key"))
    rep = Server("rep", "--bind", "tcp://127.0.0.1:*", "--echo", "--count", "1",
                 "--curve-cert", str(servers / "server.key_secret"),
                 "--curve-clients", str(clients), stdin=None)
    try:
        refused = run("req", "--connect", rep.endpoint, "--timeout", "1",
                      f"--curve-server-key={server_public.decode()}",
                      "--curve-cert", str(strangers / "stranger.key_secret"), stdin="psst\n")
        assert refused.returncode == 3
        admitted = run("req", "--connect", rep.endpoint, "--timeout", "10",
                       f"--curve-server-key={server_public.decode()}",
                       "--curve-cert", str(clients / "client.key_secret"), stdin="secret\n")
        code, out, err = rep.finish()
    finally:
        rep.kill()
    assert admitted.returncode == 0, admitted.stderr
    assert admitted.stdout == "secret\n"
    assert code == 0 and out == "secret\n", err


def test_curve_with_keys_on_the_command_line():
    from gzmq.zmtp import z85
    public, secret = (k.decode() for k in z85.curve_keypair())
    rep = Server("rep", "--bind", "tcp://127.0.0.1:*", "--echo", "--count", "1",
                 f"--curve-secret-key={secret}", stdin=None)
    try:
        req = run("req", "--connect", rep.endpoint, "--timeout", "10",
                  f"--curve-server-key={public}", stdin="ephemeral client keys\n")
        rep.finish()
    finally:
        rep.kill()
    assert req.returncode == 0 and req.stdout == "ephemeral client keys\n", req.stderr
    bad = run("req", "--connect", "tcp://127.0.0.1:1", "--curve-server-key", "short",
              stdin="x\n")
    assert bad.returncode == 1 and "40 Z85 characters" in bad.stderr


def test_plain_server_checks_username_and_password():
    rep = Server("rep", "--bind", "tcp://127.0.0.1:*", "--echo", "--count", "1",
                 "--plain-server", "--plain-username", "admin", "--plain-password", "s3cret",
                 stdin=None)
    try:
        wrong = run("req", "--connect", rep.endpoint, "--timeout", "1",
                    "--plain-username", "admin", "--plain-password", "guess", stdin="x\n")
        right = run("req", "--connect", rep.endpoint, "--timeout", "10",
                    "--plain-username", "admin", "--plain-password", "s3cret", stdin="in\n")
        rep.finish()
    finally:
        rep.kill()
    assert wrong.returncode == 3
    assert right.returncode == 0 and right.stdout == "in\n", right.stderr


def test_monitor_prints_events_live():
    rep = Server("rep", "--bind", "tcp://127.0.0.1:*", "--echo", stdin=None)
    try:
        seen = run("monitor", rep.endpoint, "--type", "req", "--count", "3", "--timeout", "10")
    finally:
        rep.kill()
    assert seen.returncode == 0, seen.stderr
    names = [line.split()[1] for line in seen.stdout.splitlines()]
    assert names == ["CONNECT_DELAYED", "CONNECTED", "HANDSHAKE_SUCCEEDED"]
    for line in seen.stdout.splitlines():
        assert re.match(r"^\d+\.\d{3} [A-Z_]+ value=-?\d+ endpoint=tcp://127\.0\.0\.1:\d+$",
                        line), line


def test_monitor_handshake_failure_and_timeouts():
    from gzmq.zmtp import z85
    public, secret = (k.decode() for k in z85.curve_keypair())
    rep = Server("rep", "--bind", "tcp://127.0.0.1:*", f"--curve-secret-key={secret}",
                 stdin=None)
    try:
        # a NULL probe against a CURVE server: the handshake fails, and that is printed
        seen = run("monitor", rep.endpoint, "--events", "HANDSHAKE_FAILED_PROTOCOL,"
                   "HANDSHAKE_FAILED_NO_DETAIL,HANDSHAKE_SUCCEEDED,DISCONNECTED",
                   "--count", "1", "--timeout", "10")
        secure = run("monitor", rep.endpoint, f"--curve-server-key={public}", "--events",
                     "HANDSHAKE_SUCCEEDED", "--count", "1", "--timeout", "10")
    finally:
        rep.kill()
    assert seen.returncode == 0, seen.stderr
    assert seen.stdout.split()[1] in ("HANDSHAKE_FAILED_PROTOCOL", "HANDSHAKE_FAILED_NO_DETAIL",
                                      "DISCONNECTED")
    assert secure.returncode == 0 and secure.stdout.split()[1] == "HANDSHAKE_SUCCEEDED"
    idle = run("monitor", "tcp://127.0.0.1:1", "--events", "HANDSHAKE_SUCCEEDED",
               "--timeout", "0.5")
    assert idle.returncode == 3
    assert run("monitor", "tcp://127.0.0.1:1", "--type", "nonsense").returncode == 2


STATS_LINE = (r"^\d+\.\d{3} STATS peers=(\d+) handshaking=\d+ failed=(\d+) msgs in=\d+ "
              r"out=\d+ bytes in=\d+ out=\d+ queued in=\d+ out=\d+ dropped=\d+$")


def test_monitor_prints_a_stats_line_on_stderr():
    rep = Server("rep", "--bind", "tcp://127.0.0.1:*", "--echo", stdin=None)
    try:
        seen = run("monitor", rep.endpoint, "--type", "req", "--count", "3", "--timeout", "10",
                   "--stats-interval", "0.05")
        quiet = run("monitor", rep.endpoint, "--type", "req", "--count", "3", "--timeout", "10",
                    "--no-stats")
    finally:
        rep.kill()
    assert seen.returncode == 0, seen.stderr
    assert len(seen.stdout.splitlines()) == 3  # stdout: the events only
    stats = [re.match(STATS_LINE, line) for line in seen.stderr.splitlines()]
    assert stats and all(stats), seen.stderr
    assert stats[-1].group(1) == "1"  # the last line, after HANDSHAKE_SUCCEEDED: one peer
    assert quiet.returncode == 0 and "STATS" not in quiet.stderr


def test_monitor_stats_every_interval_and_on_a_terminal():
    # nobody there: a line per interval (not a terminal) until the timeout
    idle = run("monitor", "tcp://127.0.0.1:1", "--events", "HANDSHAKE_SUCCEEDED",
               "--timeout", "0.6", "--stats-interval", "0.1")
    assert idle.returncode == 3
    lines = [line for line in idle.stderr.splitlines() if " STATS " in line]
    assert len(lines) >= 4 and all(re.match(STATS_LINE, line) for line in lines), idle.stderr
    # on a terminal the line is redrawn in place: carriage returns, one final newline
    import pty
    master, slave = pty.openpty()
    try:
        proc = gevent.subprocess.Popen(
            [*GZMQ, "monitor", "tcp://127.0.0.1:1", "--events", "HANDSHAKE_SUCCEEDED",
             "--timeout", "0.5", "--stats-interval", "0.1"],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=slave, env=ENV, cwd=REPO)
        os.close(slave)
        slave = -1
        proc.communicate(timeout=LIMIT)
        output = b""
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the child's end is closed and everything was read
                break
            if not chunk:
                break
            output += chunk
    finally:
        os.close(master)
        if slave >= 0:
            os.close(slave)
    text = output.decode()
    assert proc.returncode == 3, text
    assert text.count("\r\x1b[K") >= 3, repr(text)
    redrawn = text.split("gzmq monitor:")[0].rstrip("\r\n").split("\r\x1b[K")
    assert all(re.match(STATS_LINE, line.strip()) for line in redrawn if line.strip()), repr(text)


def test_bench_builtin_and_perf_tools():
    builtin = run("bench", "--builtin", "--count", "500", "--size", "16")
    assert builtin.returncode == 0, builtin.stderr
    assert re.search(r"mean throughput: \d+ \[msg/s\]", builtin.stdout)
    assert re.search(r"average latency: [\d.]+ \[us\]", builtin.stdout)
    tcp = run("bench", "--builtin", "--transport", "tcp", "--which", "lat", "--count", "200")
    assert tcp.returncode == 0 and "roundtrip count: 20" in tcp.stdout
    tools = run("bench", "--count", "500", "--which", "thr", "--max-duration", "20")
    assert tools.returncode == 0, tools.stdout + tools.stderr
    assert "perf/local_thr.py" in tools.stdout and "implementation: gzmq" in tools.stdout
    assert run("bench", "--count", "0").returncode == 2


def test_run_subcommand_runs_a_zmq_program():
    out = run("run", "-c", "import zmq.green as zmq; print(zmq.__name__)")
    assert out.returncode == 0 and out.stdout.strip() == "gzmq.green"
