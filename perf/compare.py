#!/usr/bin/env python3
"""compare: gzmq against pyzmq, zmq.green and a pure-Python ceiling, alternating, in one run.

    python perf/compare.py                          # every case, 5 rounds: ~16 minutes on 2 vCPUs
    python perf/compare.py --quick                  # ~5 minutes
    python perf/compare.py --out perf/last-run.jsonl --markdown docs/performance.md \\
                           --plot docs/throughput.png     # regenerate the docs and README table
    python perf/compare.py --from perf/last-run.jsonl --markdown docs/performance.md \\
                           --plot docs/throughput.png     # re-render without running
    python perf/compare.py --cases fanout,router --impls gzmq,pyzmq   # some cases only

For each case, for each round, every implementation runs once (A B C A B C ...), so slow
drifts of a shared machine hit all of them alike. Every run starts fresh processes running
the perf tools of this directory (tcp/ipc: local_* and remote_* in two processes; inproc: one
local_* process running both ends). The sender runs for --duration seconds (then sends the
end-of-test message), so every run lasts about the same time whatever the implementation's
speed.

Reported per case: the median over rounds with [min-max], and per-pair ratios: round k of
gzmq against round k of each other implementation, median [min-max] over the rounds.
Throughput ratio = gzmq msg/s / other msg/s; latency ratio = other p50 RTT / gzmq p50 RTT;
memory ratio = other bytes / gzmq bytes. Either way >1 means gzmq is better.

Cases (--cases): thr (PUSH/PULL at --sizes), lat (REQ/REP 64 B), pubsub (PUB/SUB 64 B, one
subscriber), curve (PUSH/PULL 1 KiB with CURVE), each over every --transports entry (curve:
not over inproc); fanout (fanout.py: 1 PUB, --fanout-subs SUBs, tcp 64 B; the compared
number is the delivered msg/s), fanout-stalled (the same with 10 of the SUBs stalled: the
publisher's memory must stay bounded by SNDHWM while it drops for them), router
(router_peers.py: a ROUTER echoing 64 B requests, for each of --router-peers DEALER peers),
idle (idle_connections.py: RSS per idle tcp connection to a ROUTER, --idle-connections of
them).

Implementations (--impls): gzmq, pyzmq, green (zmq.green) and raw: ceiling.py, raw gevent
sockets speaking ZMTP with batching and nothing else, the measured pure-Python ceiling of
issue 12 (thr, lat and pubsub over tcp and ipc only). router, idle and fanout-stalled run
gzmq and pyzmq only (zmq.green adds little there and minutes to the run).

--markdown also writes the targets table (targets.TARGETS) into the page, and, when it is the
repository's docs/performance.md, rewrites README.md's table between its perf-table markers
(--readme PATH names another file, --readme '' none).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import select
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, HERE)

import fanout  # noqa: E402
import report  # noqa: E402
import router_peers  # noqa: E402
import targets  # noqa: E402
from report import IMPLS, LABEL  # noqa: E402

CASES = ('thr', 'lat', 'pubsub', 'curve', 'fanout', 'fanout-stalled', 'router', 'idle')
STALLED = 10  # fanout-stalled: subscribers of the 100 that stop reading
SIZES = (64, 1024, 65536, 1048576)
COUNT = 10 ** 9  # the runs are bounded by --duration
RAW_CASES = ('thr', 'lat', 'pubsub', 'curve')  # what the ceiling covers (tcp and ipc)


# ------------------------------------------------------------------ running ----

def plan(cases, transports, sizes, router_peers=(10, 1000, 10000), idle=10000, subs=100):
    """The (case, transport, size) keys to run; in place of the size: the number of peers
    (router), of connections (idle), of subscribers (fanout: its messages are 64 B)."""
    out = []
    for case in cases:
        if case in ('fanout', 'fanout-stalled'):
            out.append((case, 'tcp', subs))
        elif case == 'router':
            out += [(case, 'tcp', n) for n in router_peers]
        elif case == 'idle':
            out.append((case, 'tcp', idle))
        for tr in transports:
            if case == 'thr':
                out += [(case, tr, s) for s in sizes]
            elif case in ('lat', 'pubsub'):
                out.append((case, tr, 64))
            elif case == 'curve' and tr != 'inproc':
                out.append((case, tr, 1024))
    return out


def applies(impl: str, k: tuple) -> bool:
    if impl == 'raw':
        return k[0] in RAW_CASES and k[1] != 'inproc'
    if k[0] in ('router', 'idle', 'fanout-stalled'):
        return impl in ('gzmq', 'pyzmq')
    return True


def measure(impl: str, k: tuple, args, n: int) -> dict:
    """One run of case ``k`` for ``impl``, in fresh processes."""
    case, tr, size = k
    if case == 'fanout':
        return fanout.run_one(impl, size, args.duration)
    if case == 'fanout-stalled':
        return fanout.run_one(impl, size, args.duration, stalled=min(STALLED, size - 1))
    if case == 'router':
        return router_peers.run_one(impl, size, messages=args.router_messages)
    if case == 'idle':
        return run_idle(impl, size)
    return run_one(impl, case, tr, size, args.duration, n)


def run_idle(impl: str, count: int) -> dict:
    rec = {'case': 'idle', 'transport': 'tcp', 'size': count, 'impl': impl}
    try:
        p = subprocess.run([sys.executable, os.path.join(HERE, 'idle_connections.py'),
                            '--connections', str(count), '--impl', impl, '--json',
                            '--limit', str(60 + count / 100)], capture_output=True, text=True,
                           timeout=120 + count / 50, cwd=REPO)
    except subprocess.TimeoutExpired:
        return dict(rec, error='timeout')
    res = _last_json(p.stdout)
    if res is None or not res.get('ok'):
        why = (p.stderr.strip().splitlines() or [json.dumps(res)])[-1]
        return dict(rec, error='idle_connections exit %s: %s' % (p.returncode, why[:300]))
    rec.update(res)
    return rec


def endpoint(tr: str, n: int) -> str:
    if tr == 'tcp':
        return 'tcp://127.0.0.1:*'  # the local tool reports the port it got
    if tr == 'ipc':
        return 'ipc:///tmp/gzmq-perf-%d-%d.ipc' % (os.getpid(), n)
    return 'inproc://gzmq-perf-%d' % n


def _last_json(text: str) -> dict | None:
    for line in reversed(text.splitlines()):
        if line.startswith('{'):
            try:
                return json.loads(line)
            except ValueError:
                return None
    return None


def _readline(proc, timeout: float) -> str:
    r, _, _ = select.select([proc.stdout], [], [], timeout)
    return proc.stdout.readline() if r else ''


def run_one(impl: str, case: str, tr: str, size: int, duration: float, n: int) -> dict:
    """One measurement in fresh processes; returns the merged record."""
    local, remote = ('local_lat.py', 'remote_lat.py') if case == 'lat' else \
        ('local_thr.py', 'remote_thr.py')
    extra = {'pubsub': ['--pattern', 'pubsub'], 'curve': ['--curve']}.get(case, [])
    limit = duration * 3 + 30
    common = [str(size), str(COUNT), '--impl', impl, '--json', '--duration', str(duration),
              '--max-duration', str(limit)] + extra
    rec = {'case': case, 'transport': tr, 'size': size, 'impl': impl}
    py = sys.executable

    def tool(name: str) -> list:  # the raw ceiling plays every role of ceiling.py
        if impl == 'raw':
            return [py, os.path.join(HERE, 'ceiling.py'), name[:-len('.py')]]
        return [py, os.path.join(HERE, name)]
    procs, started = [], []
    t_end = time.monotonic() + limit + 10
    try:
        p = subprocess.Popen(tool(local) + [endpoint(tr, n)] + common,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             cwd=REPO)
        procs.append(p)
        started.append(p)
        line = _readline(p, limit)
        ready = json.loads(line) if line.startswith('{') else {}
        if 'ready' not in ready:
            try:
                _, err = p.communicate(timeout=5)
            except subprocess.TimeoutExpired:
                err = ''
            why = (err.strip().splitlines() or [line.strip() or 'no output'])[-1]
            rec['error'] = 'local did not start: %s' % why[:300]
            procs = []
        elif tr != 'inproc':
            sync = ['--sync', ready['sync']] if ready.get('sync') else []
            procs.append(subprocess.Popen(
                tool(remote) + [ready['ready']] + common + sync,
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO))
            started.append(procs[-1])
        # wait for both; if one fails, do not let the other wait for its watchdog
        while any(q.poll() is None for q in procs) and time.monotonic() < t_end:
            if any(q.returncode for q in procs if q.poll() is not None):
                break
            time.sleep(0.05)
        outs = []
        for q in procs:
            if q.poll() is None:
                q.kill()
                rec.setdefault('error', 'timeout' if time.monotonic() >= t_end else
                               'killed: its peer failed')
            out, err = q.communicate()
            res = _last_json(out)
            if q.returncode != 0 or res is None or 'error' in res:
                why = (res or {}).get('error') or (err.strip().splitlines() or ['?'])[-1]
                name = os.path.basename(q.args[1]) + (' ' + q.args[2] if impl == 'raw' else '')
                err_msg = '%s exit %s: %s' % (name, q.returncode, why[:300])
                if rec.get('error', '').startswith(('killed', 'timeout')) and q.returncode > 0:
                    rec['error'] = err_msg  # the real cause beats "killed"
                else:
                    rec.setdefault('error', err_msg)
            elif res:
                outs.append(res)
        if 'error' not in rec:
            for res in outs:  # local first: the receiver's numbers; remote adds the sender's
                for k, v in res.items():
                    if k not in ('tool', 'ready', 'sync'):
                        rec.setdefault(k, v)
    finally:
        for q in started:
            if q.poll() is None:
                q.kill()
                q.wait()
        if tr == 'ipc':
            path = endpoint(tr, n)[len('ipc://'):]
            for f in (path, path + '.sync'):
                if os.path.exists(f):
                    os.unlink(f)
    return rec


def code_state() -> dict:
    """The gzmq checkout being measured: commit, and a hash of gzmq/ as it is on disk (so
    that a change landing in the middle of a run shows)."""
    import hashlib
    h = hashlib.sha1()
    root = os.path.join(REPO, 'gzmq')
    for d, dirs, files in sorted(os.walk(root)):
        dirs.sort()
        for f in sorted(files):
            if f.endswith('.py'):
                h.update(os.path.relpath(os.path.join(d, f), root).encode())
                with open(os.path.join(d, f), 'rb') as fh:
                    h.update(fh.read())
    st = {'gzmq_tree': h.hexdigest()[:12]}
    try:
        st['commit'] = subprocess.run(['git', '-C', REPO, 'rev-parse', '--short', 'HEAD'],
                                      capture_output=True, text=True,
                                      timeout=10).stdout.strip() or '?'
        st['dirty'] = bool(subprocess.run(['git', '-C', REPO, 'status', '--porcelain', '--',
                                           'gzmq'], capture_output=True, text=True,
                                          timeout=10).stdout.strip())
    except (OSError, subprocess.SubprocessError):
        pass
    try:
        st['loadavg'] = round(os.getloadavg()[0], 2)
    except OSError:
        pass
    return st


def machine() -> dict:
    cpu = platform.processor() or '?'
    try:
        with open('/proc/cpuinfo') as f:
            m = re.search(r'^model name\s*:\s*(.+)$', f.read(), re.M)
            cpu = m.group(1).strip() if m else cpu
    except OSError:
        pass
    return {'kind': 'meta', 'date': time.strftime('%Y-%m-%d %H:%M %Z'), 'cpu': cpu,
            'cpus': os.cpu_count(), 'system': '%s %s' % (platform.system(), platform.release()),
            'python': '%s %s' % (platform.python_implementation(), platform.python_version())}


# --------------------------------------------------------------------- main ----

def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0],
                                 epilog=__doc__.split('\n', 1)[1],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--impls', default=','.join(IMPLS), help='default: %(default)s')
    ap.add_argument('--cases', default=','.join(CASES), help='default: %(default)s')
    ap.add_argument('--sizes', default=','.join(map(str, SIZES)),
                    help='PUSH/PULL message sizes, bytes (default: %(default)s)')
    ap.add_argument('--transports', default='tcp,ipc,inproc',
                    help='comma list of tcp,ipc,inproc (default: all three)')
    ap.add_argument('--rounds', type=int, default=None, help='default 5 (--quick: 3)')
    ap.add_argument('--duration', type=float, default=None,
                    help='seconds of sending per run (default 1.5; --quick: 0.4)')
    ap.add_argument('--fanout-subs', type=int, default=100, help='fanout: SUBs (default 100)')
    ap.add_argument('--router-peers', default=None,
                    help='router: values of N (default 10,1000,10000; --quick: 10,1000)')
    ap.add_argument('--router-messages', type=int, default=None,
                    help='router: round trips per timing (default 20000; --quick: 5000)')
    ap.add_argument('--idle-connections', type=int, default=None,
                    help='idle: connections (default 10000; --quick: 2000)')
    ap.add_argument('--quick', action='store_true', help='short runs, 3 rounds: ~5 minutes')
    ap.add_argument('--out', metavar='JSONL', help='write every result as a JSON line')
    ap.add_argument('--from', dest='from_', metavar='JSONL',
                    help='do not run: summarize / render a saved --out file')
    ap.add_argument('--markdown', metavar='PATH', help='write the performance page')
    ap.add_argument('--plot', metavar='PNG', help='plot PUSH/PULL throughput (matplotlib)')
    ap.add_argument('--readme', metavar='PATH', default=None,
                    help="rewrite this file's perf-table section (default: README.md when "
                         "--markdown is this repository's docs/performance.md; '' for none)")
    args = ap.parse_args(argv)

    if args.from_:
        with open(args.from_) as f:
            results = [json.loads(line) for line in f if line.startswith('{')]
    else:
        impls = [i for i in args.impls.split(',') if i]
        cases = [c for c in args.cases.split(',') if c]
        transports = [t for t in args.transports.split(',') if t]
        bad = [i for i in impls if i not in IMPLS] + [c for c in cases if c not in CASES] + \
            [t for t in transports if t not in ('tcp', 'ipc', 'inproc')]
        if bad:
            ap.error('unknown: %s' % ', '.join(bad))
        rounds = args.rounds or (3 if args.quick else 5)
        args.duration = args.duration or (0.4 if args.quick else 1.5)
        args.router_messages = args.router_messages or (5000 if args.quick else 20000)
        peers = [int(x) for x in (args.router_peers or (
            '10,1000' if args.quick else '10,1000,10000')).split(',') if x]
        idle = args.idle_connections or (2000 if args.quick else 10000)
        todo = plan(cases, transports, [int(s) for s in args.sizes.split(',') if s], peers,
                    idle, args.fanout_subs)
        meta = dict(machine(), duration=args.duration, rounds=rounds, impls=impls,
                    fanout_subs=args.fanout_subs, router_messages=args.router_messages,
                    start=code_state())
        results = [meta]
        out = open(args.out, 'w') if args.out else None
        total = sum(applies(i, k) for k in todo for i in impls) * rounds
        n, t0 = 0, time.monotonic()
        for k in todo:
            for rnd in range(1, rounds + 1):
                for impl in impls:
                    if not applies(impl, k):
                        continue
                    n += 1
                    r = measure(impl, k, args, n)
                    r.update(kind='run', round=rnd)
                    results.append(r)
                    if out:
                        out.write(json.dumps(r, sort_keys=True) + '\n')
                        out.flush()
                    el = time.monotonic() - t0
                    print('[%d/%d %3.0fs, ~%.0fs left] %-9s %-28s round %d: %s' % (
                        n, total, el, el / n * (total - n), LABEL[impl], report.case_label(k),
                        rnd, report.run_text(k, r)), file=sys.stderr, flush=True)
        meta['elapsed_s'] = round(time.monotonic() - t0, 1)
        meta['end'] = code_state()
        if meta['end'].get('gzmq_tree') != meta['start'].get('gzmq_tree'):
            print('warning: gzmq/ changed during the run (%s -> %s)' % (
                meta['start'].get('gzmq_tree'), meta['end'].get('gzmq_tree')), file=sys.stderr)
        if out:
            out.write(json.dumps(meta, sort_keys=True) + '\n')
            out.close()

    print(report.table(results))
    print()
    print(targets.targets_table(results))
    for e in report.errors_text(results):
        print('error:', e)
    plotted = None
    if args.plot:
        try:
            report.plot(results, args.plot)
            plotted = args.plot
        except ImportError as e:  # the numbers matter more than the picture
            print('no plot (%s): pip install matplotlib' % e, file=sys.stderr)
    if args.markdown:
        report.markdown(results, args.markdown, plotted)
        readme = args.readme
        if readme is None and os.path.abspath(args.markdown) == os.path.join(
                REPO, 'docs', 'performance.md'):
            readme = os.path.join(REPO, 'README.md')
        if readme:
            targets.readme(results, readme)
    return 0


if __name__ == '__main__':
    sys.exit(main())
