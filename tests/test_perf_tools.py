"""Smoke tests of the benchmark tools in perf/: each tool runs once with gzmq on a tiny count,
as a subprocess, and must print sane numbers and exit 0; compare.py does a minimal run and
renders its page. The whole file stays well under 30 s."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PERF = os.path.join(REPO, 'perf')
ENV = dict(os.environ, PYTHONPATH=REPO)
LIMIT = 20  # seconds per subprocess; the tools' own --max-duration is 15


def tool(name: str, *args: str) -> list:
    return [sys.executable, os.path.join(PERF, name), *args, '--max-duration', '15']


def run(cmd: list, timeout: float = LIMIT) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, env=ENV, timeout=timeout)


def pair(local: list, remote: list) -> tuple:
    """Start the binding tool, then the connecting one; both must exit 0."""
    lp = subprocess.Popen(local, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          env=ENV)
    try:
        r = run(remote)
        lout, lerr = lp.communicate(timeout=LIMIT)
    finally:
        if lp.poll() is None:
            lp.kill()
            lp.wait()
    assert lp.returncode == 0, lerr
    assert r.returncode == 0, r.stderr
    return lout, r.stdout


def free_endpoints(count: int) -> list[str]:
    """``count`` distinct free tcp endpoints (held together while chosen, so the kernel cannot
    hand the same port out twice)."""
    held = [socket.socket() for _ in range(count)]
    try:
        for s in held:
            s.bind(('127.0.0.1', 0))
        return ['tcp://127.0.0.1:%d' % s.getsockname()[1] for s in held]
    finally:
        for s in held:
            s.close()


def free_endpoint() -> str:
    return free_endpoints(1)[0]


def number(pattern: str, text: str) -> float:
    m = re.search(pattern, text)
    assert m, 'no %r in:\n%s' % (pattern, text)
    return float(m.group(1))


def check_thr(text: str, count: int = 200) -> None:
    assert 'implementation: gzmq' in text
    assert number(r'message count: (\d+)', text) == count
    assert number(r'mean throughput: (\d+) \[msg/s\]', text) > 0
    assert number(r'mean throughput: ([\d.]+) \[Mb/s\]', text) > 0


def check_lat(text: str) -> None:
    avg = number(r'average latency: ([\d.]+) \[us\]', text)
    p50 = number(r'round trip p50: ([\d.]+) \[us\]', text)
    p99 = number(r'round trip p99: ([\d.]+) \[us\]', text)
    assert 0 < p50 <= p99 < 1e6
    assert 0 < avg < 1e6
    assert number(r'roundtrip count: (\d+)', text) == 180  # 200 minus 20 warm-up


def test_thr_tcp():
    ep = free_endpoint()
    local, remote = pair(tool('local_thr.py', ep, '64', '200'),
                         tool('remote_thr.py', ep, '64', '200'))
    check_thr(local)
    assert number(r'messages sent: (\d+)', remote) == 200


def test_thr_inproc():
    r = run(tool('local_thr.py', 'inproc://perf-smoke', '1024', '200'))
    assert r.returncode == 0, r.stderr
    check_thr(r.stdout)
    assert number(r'messages sent: (\d+)', r.stdout) == 200


def test_lat_tcp():
    ep = free_endpoint()
    local, remote = pair(tool('local_lat.py', ep, '64', '200'),
                         tool('remote_lat.py', ep, '64', '200'))
    assert number(r'roundtrips echoed: (\d+)', local) == 200
    check_lat(remote)


def test_lat_inproc():
    r = run(tool('local_lat.py', 'inproc://perf-smoke', '64', '200'))
    assert r.returncode == 0, r.stderr
    check_lat(r.stdout)


@pytest.mark.parametrize('where', ['tcp', 'inproc'])
def test_pubsub(where):
    args: tuple[str, ...] = ('64', '200', '--pattern', 'pubsub', '--json')
    if where == 'tcp':  # a free sync port too (the default, port + 1, may be taken)
        ep, sync = free_endpoints(2)
        args += ('--sync', sync)
    else:
        ep = 'inproc://perf-pubsub'
    if where == 'tcp':
        local, remote = pair(tool('local_thr.py', ep, *args), tool('remote_thr.py', ep, *args))
    else:
        r = run(tool('local_thr.py', ep, *args))
        assert r.returncode == 0, r.stderr
        local = remote = r.stdout
    assert json.loads(local.splitlines()[0])['ready'].startswith(where)  # the --json ready line
    got, sent = json.loads(local.splitlines()[-1]), json.loads(remote.splitlines()[-1])
    assert sent['sent'] == 200
    assert 0 < got['msgs'] <= 200 and got['msgs_per_s'] > 0
    assert sent['received'] == got['msgs']
    assert 0 <= sent['drop_pct'] < 100


def test_curve_tcp():
    ep = free_endpoint()
    local, _ = pair(tool('local_thr.py', ep, '1024', '200', '--curve'),
                    tool('remote_thr.py', ep, '1024', '200', '--curve'))
    check_thr(local)


def test_duration_bound_and_end_of_test():
    """--duration stops the sender early; its empty end-of-test message ends the receiver."""
    r = run(tool('local_thr.py', 'inproc://perf-dur', '64', '1000000000', '--duration', '0.2',
                 '--json'))
    assert r.returncode == 0, r.stderr
    res = json.loads(r.stdout.splitlines()[-1])
    assert 0 < res['msgs'] == res['sent'] < 10 ** 9
    assert res['seconds'] < 10


def test_max_duration_watchdog():
    """A receiver whose sender never comes gives up by itself (exit 3)."""
    r = run([sys.executable, os.path.join(PERF, 'local_thr.py'), free_endpoint(), '64', '10',
             '--max-duration', '1'], timeout=10)
    assert r.returncode == 3
    assert 'max-duration' in r.stderr


def test_remote_refuses_inproc():
    r = run(tool('remote_thr.py', 'inproc://x', '64', '10'))
    assert r.returncode == 2 and 'local_thr.py' in r.stderr


def test_compare_minimal(tmp_path):
    out, md = tmp_path / 'run.jsonl', tmp_path / 'performance.md'
    r = run([sys.executable, os.path.join(PERF, 'compare.py'), '--impls', 'gzmq', '--cases',
             'thr', '--sizes', '64', '--rounds', '1', '--quick', '--transports', 'tcp', '--out', str(out)], timeout=60)
    assert r.returncode == 0, r.stderr
    assert 'PUSH/PULL tcp 64 B' in r.stdout and 'msg/s' in r.stdout
    runs = [json.loads(line) for line in out.read_text().splitlines()]
    res = [x for x in runs if x.get('kind') == 'run']
    assert len(res) == 1 and 'error' not in res[0], res
    assert res[0]['impl'] == 'gzmq' and res[0]['msgs_per_s'] > 0 and res[0]['sent'] > 0

    # re-rendering keeps the hand-written section
    md.write_text('STALE GENERATED TEXT\n<!-- keep -->\nHAND WRITTEN\n<!-- /keep -->\n')
    cmd = [sys.executable, os.path.join(PERF, 'compare.py'), '--from', str(out),
           '--markdown', str(md)]
    try:
        import matplotlib  # noqa: F401
        png = tmp_path / 'thr.png'
        cmd += ['--plot', str(png)]
    except ImportError:
        png = None
    r = run(cmd)
    assert r.returncode == 0, r.stderr
    text = md.read_text()
    assert 'python perf/compare.py' in text.split('## Results')[0]
    assert '<!-- keep -->\nHAND WRITTEN\n<!-- /keep -->' in text and 'STALE' not in text
    assert '| PUSH/PULL tcp 64 B |' in text
    if png is not None:
        assert png.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'


def test_callcounts_counts_calls_and_syscalls_per_message():
    """perf/callcounts.py: exact Python calls per message, and syscalls per message (tcp writes
    and reads in batches: well under one each per message; inproc: none)."""
    r = run([sys.executable, os.path.join(PERF, 'callcounts.py'),
             '--cases', 'inproc PUSH/PULL,tcp PUSH/PULL'])
    assert r.returncode == 0, r.stderr
    rows = {line[:22].strip(): line[22:].split() for line in r.stdout.splitlines()[2:]}
    inproc_calls, inproc_sys = map(float, rows['inproc PUSH/PULL'])
    tcp_calls, tcp_sys = map(float, rows['tcp PUSH/PULL'])
    assert 5 < inproc_calls < tcp_calls < 100
    assert inproc_sys < 0.1 or inproc_sys != inproc_sys  # nan: no strace on this machine
    assert 0 < tcp_sys < 1 or tcp_sys != tcp_sys


def test_callcounts_curve_case():
    """perf/callcounts.py's tcp CURVE case: PUSH/PULL of 1 KiB with CURVE on both ends (the
    hot-path counterpart of peerbench's curve test): boxing costs calls, not syscalls."""
    r = run([sys.executable, os.path.join(PERF, 'callcounts.py'), '--cases', 'tcp CURVE'])
    assert r.returncode == 0, r.stderr
    calls, syscalls = map(float, r.stdout.splitlines()[2][22:].split())
    assert 10 < calls < 100
    assert 0 < syscalls < 1 or syscalls != syscalls  # nan: no strace on this machine


# ------------------------------------------------------------- ceiling, fan-out, router --

def ceiling_pair(role: str, ep: str, size: int, count: int, *extra: str) -> tuple:
    """perf/ceiling.py local_<role> and remote_<role>; returns their parsed JSON lines."""
    args = (ep, str(size), str(count), '--json', *extra)
    local, remote = pair(tool('ceiling.py', 'local_' + role, *args),
                         tool('ceiling.py', 'remote_' + role, *args))
    return json.loads(local.splitlines()[-1]), json.loads(remote.splitlines()[-1])


@pytest.mark.parametrize('where', ['tcp', 'ipc'])
@pytest.mark.parametrize('size', [64, 300000])  # 300000: bigger than the receive buffer
def test_ceiling_thr(where, size, tmp_path):
    ep = free_endpoint() if where == 'tcp' else 'ipc://%s' % (tmp_path / 'c.ipc')
    got, sent = ceiling_pair('thr', ep, size, 200)
    assert got['impl'] == sent['impl'] == 'raw' and got['transport'] == where
    assert got['msgs'] == sent['sent'] == 200 and got['msgs_per_s'] > 0


def test_ceiling_lat_and_pubsub():
    got, timed = ceiling_pair('lat', free_endpoint(), 64, 200)
    assert got['echoed'] == 200 and timed['roundtrips'] == 180
    assert 0 < timed['rtt_p50_us'] <= timed['rtt_p99_us']
    got, sent = ceiling_pair('thr', free_endpoint(), 64, 200, '--pattern', 'pubsub')
    assert got['msgs'] == sent['sent'] == 200 and got['pattern'] == 'pubsub'


def test_ceiling_speaks_zmtp_to_libzmq():
    """The ceiling's wire is ZeroMQ's: a pyzmq PULL receives it, a pyzmq REQ is echoed."""
    pytest.importorskip('zmq')
    ep = free_endpoint()
    local, _ = pair(tool('local_thr.py', ep, '1024', '200', '--impl', 'pyzmq'),
                    tool('ceiling.py', 'remote_thr', ep, '1024', '200'))
    assert number(r'message count: (\d+)', local) == 200
    ep = free_endpoint()
    _, remote = pair(tool('ceiling.py', 'local_lat', ep, '64', '200'),
                     tool('remote_lat.py', ep, '64', '200', '--impl', 'pyzmq'))
    check_lat(remote)


def test_ceiling_curve_speaks_curvezmq_to_libzmq(tmp_path):
    """--curve: the ceiling's boxes are CurveZMQ's (a pyzmq CURVE server receives them, a
    ceiling receiver takes a pyzmq CURVE client's), and two ceilings talk over ipc."""
    pytest.importorskip('zmq')
    ep = free_endpoint()
    local, _ = pair(tool('local_thr.py', ep, '1024', '200', '--impl', 'pyzmq', '--curve'),
                    tool('ceiling.py', 'remote_thr', ep, '1024', '200', '--curve'))
    assert number(r'message count: (\d+)', local) == 200
    ep = free_endpoint()
    local, _ = pair(tool('ceiling.py', 'local_thr', ep, '300', '200', '--curve'),
                    tool('remote_thr.py', ep, '300', '200', '--impl', 'pyzmq', '--curve'))
    assert number(r'message count: (\d+)', local) == 200
    got, sent = ceiling_pair('thr', 'ipc://%s' % (tmp_path / 'c.ipc'), 1024, 200, '--curve')
    assert got['msgs'] == sent['sent'] == 200 and 'CURVE' in got['version']


def last_json_lines(text: str) -> list:
    return [json.loads(line) for line in text.splitlines() if line.startswith('{')]


@pytest.mark.parametrize('sub_impl', ['raw', 'same'])
def test_fanout_tiny(sub_impl):
    r = run([sys.executable, os.path.join(PERF, 'fanout.py'), '--impls', 'gzmq', '--subs', '5',
             '--rounds', '1', '--duration', '0.2', '--sub-impl', sub_impl, '--json'], timeout=60)
    assert r.returncode == 0, r.stderr
    (rec,) = last_json_lines(r.stdout)
    assert 'error' not in rec, rec
    assert rec['impl'] == 'gzmq' and rec['subscribers'] == 5 and rec['ended'] == 5
    assert rec['sent'] > 0 and 0 < rec['delivered'] <= rec['sent'] * 5
    assert rec['delivered_per_sub_min'] <= rec['delivered_per_sub_max'] <= rec['sent']
    assert rec['msgs_per_s'] == rec['delivered_msgs_per_s'] > 0
    assert 0 <= rec['drop_pct'] <= 100 and rec['rss_growth_mib'] >= 0


def test_fanout_stalled_subscribers():
    """--stalled: those subscribers read nothing after the start; the rest end normally."""
    r = run([sys.executable, os.path.join(PERF, 'fanout.py'), '--impls', 'gzmq', '--subs', '5',
             '--stalled', '2', '--rounds', '1', '--duration', '0.2', '--json'], timeout=60)
    assert r.returncode == 0, r.stderr
    (rec,) = last_json_lines(r.stdout)
    assert 'error' not in rec, rec
    assert rec['case'] == 'fanout-stalled' and rec['stalled'] == 2
    assert rec['subscribers'] == 3 and rec['ended'] == 3
    assert 0 < rec['delivered'] <= rec['sent'] * 3 and rec['rss_growth_mib'] >= 0


def test_router_peers_tiny():
    r = run([sys.executable, os.path.join(PERF, 'router_peers.py'), '--impls', 'gzmq',
             '--peers', '3,40', '--active', '2', '--window', '5', '--messages', '200',
             '--repeat', '1', '--rounds', '1', '--json'], timeout=60)
    assert r.returncode == 0, r.stderr
    recs = last_json_lines(r.stdout)
    assert [x['peers'] for x in recs] == [3, 40]
    for rec in recs:
        assert 'error' not in rec, rec
        assert rec['active'] == 2 and rec['roundtrips'] == 200
        assert rec['us_per_msg'] > 0 and rec['msgs_per_s'] > 0


def test_router_peers_counts():
    """--count: the ROUTER profiles exactly the active phase (the peers finish, so it echoed
    every round trip of it) and reports calls per message and the GC's work."""
    r = run([sys.executable, os.path.join(PERF, 'router_peers.py'), '--impls', 'gzmq',
             '--peers', '30', '--active', '3', '--window', '5', '--messages', '150',
             '--repeat', '2', '--rounds', '1', '--count', '--json'], timeout=60)
    assert r.returncode == 0, r.stderr
    (rec,) = last_json_lines(r.stdout)
    assert 'error' not in rec, rec
    assert rec['roundtrips'] == 150
    assert 10 < rec['calls_per_msg'] < 1000  # recv_multipart and send_multipart at least
    assert len(rec['gc_collections']) == 3 and min(rec['gc_collections']) >= 0
    assert rec['gc_tracked'] > 30 and rec['full_gc_ms'] >= 0


@pytest.mark.parametrize('impl', ['gzmq', 'pyzmq'])
def test_idle_connections_tiny(impl):
    if impl == 'pyzmq':
        pytest.importorskip('zmq')
    r = run([sys.executable, os.path.join(PERF, 'idle_connections.py'), '--connections', '50',
             '--limit', '20', '--impl', impl, '--json'], timeout=40)
    assert r.returncode == 0, r.stdout + r.stderr
    rec = json.loads(r.stdout.splitlines()[-1])
    assert rec['impl'] == impl and rec['handshaken'] == 50 and rec['ok'] is True
    assert rec['bytes_per_connection'] >= 0 and rec['version']


def test_compare_new_cases_targets_and_readme(tmp_path):
    """One tiny run of every new case (ceiling, fan-out, ROUTER peers, idle RSS), rendered:
    the page has the ceiling column and the targets table, the README's table is rewritten
    between its markers and nothing else in it changes."""
    out, md, readme = tmp_path / 'run.jsonl', tmp_path / 'perf.md', tmp_path / 'README.md'
    r = run([sys.executable, os.path.join(PERF, 'compare.py'), '--impls', 'gzmq,raw',
             '--cases', 'thr,fanout,fanout-stalled,router,idle', '--sizes', '64',
             '--transports', 'tcp',
             '--rounds', '1', '--quick', '--fanout-subs', '5', '--router-peers', '3,20',
             '--router-messages', '200', '--idle-connections', '50', '--out', str(out)],
            timeout=120)
    assert r.returncode == 0, r.stderr
    runs = [json.loads(line) for line in out.read_text().splitlines()]
    res = [x for x in runs if x.get('kind') == 'run']
    assert sorted((x['case'], x['impl']) for x in res) == [
        ('fanout', 'gzmq'), ('fanout-stalled', 'gzmq'), ('idle', 'gzmq'), ('router', 'gzmq'),
        ('router', 'gzmq'),
        ('thr', 'gzmq'), ('thr', 'raw')]
    assert not [x for x in res if 'error' in x], res

    before, after = 'intro\n<!-- perf-table -->\n', '<!-- /perf-table -->\nrest\n'
    readme.write_text(before + 'OLD TABLE\n' + after)
    md.write_text('<!-- keep -->\nHAND WRITTEN\n<!-- /keep -->\n')
    r = run([sys.executable, os.path.join(PERF, 'compare.py'), '--from', str(out),
             '--markdown', str(md), '--readme', str(readme)])
    assert r.returncode == 0, r.stderr
    text = md.read_text()
    assert '| case | gzmq/ceiling | gzmq | ceiling |' in text
    assert '| PUB fan-out tcp 64 B, 5 SUBs |' in text
    assert '| ROUTER echo tcp 64 B, 20 DEALERs |' in text
    assert '| idle tcp connection RSS (50) |' in text
    targets = text.split('## Targets (issue 12)')[1].split('## Method')[0]
    assert '| idle tcp connection RSS | ≤ 10 KiB |' in targets
    assert '| PUB fan-out tcp 64 B, 5 SUBs, 4 stalled |' in text
    assert '| ROUTER: flat per-message cost' in targets and '(N = 3 to 20)' in targets
    assert '<!-- keep -->\nHAND WRITTEN\n<!-- /keep -->' in text
    new = readme.read_text()
    assert new.startswith(before) and new.endswith(after) and 'OLD TABLE' not in new
    assert '| case (tcp unless named) | gzmq vs pure-Python ceiling |' in new
    assert '50 idle tcp connections to one ROUTER cost' in new
