"""Run every program in examples/ as a user would and check what it prints.

Each example runs as `sys.executable examples/<name>.py` from the repository
root with the root on PYTHONPATH (so `import gzmq` works without installing).
It must exit by itself with status 0 within EXAMPLE_TIMEOUT seconds; running
longer is a hard failure.

Set GZMQ_EXAMPLES_PYTHONPATH to a directory to put it first on the examples'
PYTHONPATH, e.g. a shim package `gzmq` that re-exports zmq.green, to check the
examples against libzmq:

    GZMQ_EXAMPLES_PYTHONPATH=/tmp/gzshim python -m pytest tests/test_examples.py
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
EXAMPLES_DIR = REPO_ROOT / "examples"
EXAMPLE_TIMEOUT = 60  # seconds; each example normally takes well under one


def run_example(name):
    """Run examples/<name>.py; return its stdout after checking the exit status."""
    pythonpath = [str(REPO_ROOT)]
    if os.environ.get("GZMQ_EXAMPLES_PYTHONPATH"):
        pythonpath.insert(0, os.environ["GZMQ_EXAMPLES_PYTHONPATH"])
    if os.environ.get("PYTHONPATH"):
        pythonpath.append(os.environ["PYTHONPATH"])
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(pythonpath), PYTHONUNBUFFERED="1")

    try:
        proc = subprocess.run(
            [sys.executable, str(EXAMPLES_DIR / f"{name}.py")],
            cwd=REPO_ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=EXAMPLE_TIMEOUT,
        )
    except subprocess.TimeoutExpired as exc:  # the child has been killed by now
        pytest.fail(
            f"examples/{name}.py did not exit within {EXAMPLE_TIMEOUT}s\n"
            f"--- stdout ---\n{_text(exc.stdout)}\n--- stderr ---\n{_text(exc.stderr)}",
            pytrace=False,
        )

    report = f"--- stdout ---\n{proc.stdout}\n--- stderr ---\n{proc.stderr}"
    assert proc.returncode == 0, f"examples/{name}.py exited with {proc.returncode}\n{report}"
    # Errors in other greenlets/threads are printed, not propagated: catch them too.
    assert "Traceback" not in proc.stderr, f"examples/{name}.py printed a traceback\n{report}"
    return proc.stdout


def _text(data):
    if data is None:
        return ""
    return data.decode(errors="replace") if isinstance(data, bytes) else data


def test_every_example_is_tested():
    tested = {"weather", "hello_world", "pipeline", "chat", "legacy_threads", "curve_pubsub",
              "green_legacy_app",  # runs under python -m gzmq.run: tests/test_migration.py
              "plain_threads",  # runs under python -m gzmq.run: tests/test_plain_programs.py
              "multicast_ticker"}
    assert {p.stem for p in EXAMPLES_DIR.glob("*.py")} == tested


def test_weather():
    out = run_example("weather")
    assert re.search(r"^publisher: bound to tcp://127\.0\.0\.1:\d+$", out, re.M)
    assert re.search(
        r"^subscriber: average temperature for zip code 10001 was -?\d+\.\dF over 20 updates$", out, re.M
    )
    assert re.search(r"^publisher: sent \d+ updates, stopping$", out, re.M)
    assert out.splitlines()[-1] == "weather: done"


def test_hello_world():
    out = run_example("hello_world")
    for i in range(10):
        assert f"client: received reply {i} [ World ]" in out.splitlines()
    assert out.count("server: received request: Hello") == 10
    assert out.splitlines()[-1] == "hello_world: 10/10 requests answered"


def test_pipeline():
    out = run_example("pipeline")
    assert re.search(r"^ventilator: sent 100 tasks, total expected cost \d+ ms$", out, re.M)
    assert re.search(r"^sink: 100/100 tasks done in \d+ ms$", out, re.M)
    per_worker = re.search(r"^sink: tasks per worker: (.*)$", out, re.M).group(1)
    assert sum(int(n) for n in re.findall(r"worker-\d=(\d+)", per_worker)) == 100
    killed = re.findall(r"^(worker-\d): got KILL after (\d+) tasks$", out, re.M)
    assert sorted(w for w, _ in killed) == ["worker-1", "worker-2", "worker-3", "worker-4"]
    assert sum(int(n) for _, n in killed) == 100
    assert out.splitlines()[-1] == "pipeline: all 100 tasks arrived"


def test_chat():
    out = run_example("chat")
    said = re.findall(r"^\[(\w+)\] says: (.*)$", out, re.M)
    heard = re.findall(r"^\[(\w+)\] hears (\w+): (.*)$", out, re.M)
    names = {who for who, _ in said}
    assert names == {"alice", "bob", "carol", "dave"}
    # The transcript is complete: every line said was heard once by every other client.
    expected = sorted((listener, who, line) for who, line in said for listener in names if listener != who)
    assert sorted(heard) == expected
    for name in names:
        assert f"server: {name} joined" in out and f"server: {name} left" in out
    assert out.splitlines()[-1] == "chat: every client saw every other client's lines"


def test_legacy_threads():
    out = run_example("legacy_threads")
    assert "legacy_threads: threading patched by gevent: True" in out
    computed = re.findall(r"^main: worker-\d computed (\d+)\*\*2 = (\d+)$", out, re.M)
    assert sorted(int(n) for n, _ in computed) == list(range(1, 21))
    assert all(int(n) ** 2 == int(sq) for n, sq in computed)
    assert "main: health check before work: PONG 0" in out
    assert "main: health check after work: PONG 20" in out
    assert "dispatcher: handed out 20 jobs" in out
    stopped = re.findall(r"^(worker-\d): stopping after (\d+) jobs$", out, re.M)
    assert sorted(w for w, _ in stopped) == ["worker-1", "worker-2", "worker-3", "worker-4"]
    assert sum(int(n) for _, n in stopped) == 20
    assert "collector: stopping" in out and "health: stopping" in out
    assert out.splitlines()[-1] == "legacy_threads: all 20 jobs done by 4 threads, all threads joined"


def test_curve_pubsub():
    out = run_example("curve_pubsub")
    lines = out.splitlines()
    z85_key = r"[0-9a-zA-Z.\-:+=^!/*?&<>()\[\]{}@%$#]{40}"
    assert re.search(rf"^authenticator: only client key {z85_key} is allowed$", out, re.M)
    bound = rf"^server: CURVE PUB bound to tcp://127\.0\.0\.1:\d+, public key {z85_key}$"
    assert re.search(bound, out, re.M)
    first, last = map(int, re.search(
        r"^allowed client: first 'update (\d+)', last 'update (\d+)'$", out, re.M).groups())
    assert last - first == 9  # ten consecutive updates, none lost once subscribed
    refusal = "refused client: connected 1 time(s), monitor reported HANDSHAKE_FAILED_AUTH 400"
    assert refusal in lines  # refused with 400 and never reconnected
    assert "allowed client received 10 messages" in lines
    assert "refused client received nothing (handshake refused: 400)" in lines
    assert not any("secret" in line.lower() for line in lines)
    assert lines[-1] == "curve_pubsub: done"


def test_multicast_ticker():
    """epgm inside the example's own network namespace when run as root (as CI does), else a
    clear message and exit status 0."""
    out = run_example("multicast_ticker")
    lines = out.splitlines()
    if os.geteuid() != 0:
        assert "needs root" in lines[-1]
        return
    assert lines[0] == "publisher: epgm://127.0.0.1;239.192.7.7:5577 (multicast hops 1)"
    assert "all symbols: 30 ticks, last: INITECH 107.25" in lines
    assert "ACME only: 10 ticks, last: ACME 106.75" in lines
    assert lines[-1] == "multicast_ticker: done"
