#!/usr/bin/env python3
"""compare: gzmq against pyzmq and zmq.green, alternating, in one run.

    python perf/compare.py                          # full run (tcp, ipc, inproc; 5 rounds): ~11 minutes on 2 vCPUs
    python perf/compare.py --quick                  # ~1 minute
    python perf/compare.py --out perf/last-run.jsonl --markdown docs/performance.md \\
                           --plot docs/throughput.png     # regenerate the docs
    python perf/compare.py --from perf/last-run.jsonl --markdown docs/performance.md \\
                           --plot docs/throughput.png     # re-render without running

For each case, for each round, every implementation runs once (A B C A B C ...), so slow
drifts of a shared machine hit all of them alike. Every run starts fresh processes running
the perf tools of this directory (tcp/ipc: local_* and remote_* in two processes; inproc: one
local_* process running both ends). The sender runs for --duration seconds (then sends the
end-of-test message), so every run lasts about the same time whatever the implementation's
speed.

Reported per case: the median over rounds with [min-max], and per-pair ratios: round k of
gzmq against round k of each other implementation, median [min-max] over the rounds.
Throughput ratio = gzmq msg/s / other msg/s; latency ratio = other p50 RTT / gzmq p50 RTT.
Either way >1 means gzmq is faster.

Cases (--cases): thr (PUSH/PULL at --sizes), lat (REQ/REP 64 B), pubsub (PUB/SUB 64 B, one
subscriber), curve (PUSH/PULL 1 KiB with CURVE). Each runs over every --transports entry
(curve: not over inproc).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import select
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
IMPLS = ('gzmq', 'pyzmq', 'green')
CASES = ('thr', 'lat', 'pubsub', 'curve')
SIZES = (64, 1024, 65536, 1048576)
LABEL = {'gzmq': 'gzmq', 'pyzmq': 'pyzmq', 'green': 'zmq.green'}
CASE_TITLE = {'thr': 'PUSH/PULL', 'lat': 'REQ/REP latency', 'pubsub': 'PUB/SUB',
              'curve': 'PUSH/PULL CURVE'}
COUNT = 10 ** 9  # the runs are bounded by --duration
KEEP_BEGIN, KEEP_END = '<!-- keep -->', '<!-- /keep -->'
KEEP_PLACEHOLDER = ('_To be written: profiles of the gzmq hot paths (send, recv, the writer, '
                    'the frame decoder, CURVE), what each costs per message, and which '
                    'changes would close the gap with pyzmq._')
REGEN = ('python perf/compare.py --out perf/last-run.jsonl --markdown docs/performance.md '
         '--plot docs/throughput.png')


# ------------------------------------------------------------------ running ----

def plan(cases, transports, sizes):
    out = []
    for case in cases:
        for tr in transports:
            if case == 'thr':
                out += [(case, tr, s) for s in sizes]
            elif case in ('lat', 'pubsub'):
                out.append((case, tr, 64))
            elif case == 'curve' and tr != 'inproc':
                out.append((case, tr, 1024))
    return out


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
    procs, started = [], []
    t_end = time.monotonic() + limit + 10
    try:
        p = subprocess.Popen([py, os.path.join(HERE, local), endpoint(tr, n)] + common,
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
                [py, os.path.join(HERE, remote), ready['ready']] + common + sync,
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
                err_msg = '%s exit %s: %s' % (os.path.basename(q.args[1]), q.returncode, why[:300])
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


# ---------------------------------------------------------------- summaries ----

def primary(r: dict) -> float:
    return r['rtt_p50_us'] if r['case'] == 'lat' else r['msgs_per_s']


def key(r: dict) -> tuple:
    return (r['case'], r['transport'], r['size'])


def size_label(n: int) -> str:
    if n >= 1 << 20 and n % (1 << 20) == 0:
        return '%d MiB' % (n >> 20)
    if n >= 1024 and n % 1024 == 0:
        return '%d KiB' % (n >> 10)
    return '%d B' % n


def case_label(k: tuple) -> str:
    return '%s %s %s' % (CASE_TITLE[k[0]], k[1], size_label(k[2]))


def fmt_rate(v: float) -> str:
    for div, suf in ((1e6, 'M'), (1e3, 'k')):
        if v >= div:
            return '%.3g%s' % (v / div, suf)
    return '%.3g' % v


def fmt_mb(v: float) -> str:
    return '%.1f' % v if v < 100 else '%.0f' % v


def summarize(results: list) -> tuple:
    """Returns (cases in order, impls in order, stats[(case, impl)], ratios[(case, base)])."""
    runs = [r for r in results if r.get('kind') == 'run']
    cases, impls, groups = [], [], {}
    for r in runs:
        k = key(r)
        if k not in cases:
            cases.append(k)
        if r['impl'] not in impls:
            impls.append(r['impl'])
        groups.setdefault((k, r['impl']), []).append(r)
    impls.sort(key=lambda i: IMPLS.index(i) if i in IMPLS else 99)
    stats = {}
    for (k, impl), rs in groups.items():
        ok = [r for r in rs if 'error' not in r]
        st = {'runs': len(rs), 'ok': len(ok), 'errors': [r['error'] for r in rs if 'error' in r]}
        if ok:
            vals = [primary(r) for r in ok]
            st.update(median=statistics.median(vals), min=min(vals), max=max(vals))
            for f in ('mb_per_s', 'drop_pct', 'rtt_p99_us', 'rtt_mean_us', 'latency_us'):
                fv = [r[f] for r in ok if f in r]
                if fv:
                    st[f] = statistics.median(fv)
        stats[(k, impl)] = st
    ratios = {}
    cand = 'gzmq' if 'gzmq' in impls else (impls[0] if impls else None)
    for k in cases:
        mine = {r['round']: r for r in groups.get((k, cand), []) if 'error' not in r}
        for base in impls:
            if base == cand:
                continue
            xs = []
            for r in groups.get((k, base), []):
                c = mine.get(r['round'])
                if c is None or 'error' in r or not primary(r) or not primary(c):
                    continue
                xs.append(primary(r) / primary(c) if k[0] == 'lat' else primary(c) / primary(r))
            if xs:
                ratios[(k, base)] = {'median': statistics.median(xs), 'min': min(xs),
                                     'max': max(xs), 'n': len(xs)}
    return cases, impls, stats, ratios, cand


def cell(k: tuple, st: dict, md: bool = False) -> str:
    if 'median' not in st:
        return 'error' if st.get('errors') else '-'
    n = '' if st['ok'] == st['runs'] else ' (%d/%d ok)' % (st['ok'], st['runs'])
    if k[0] == 'lat':
        return '%.0f µs [%.0f-%.0f]%s' % (st['median'], st['min'], st['max'], n)
    s = '%s msg/s %s MB/s [%s-%s]%s' % (fmt_rate(st['median']), fmt_mb(st.get('mb_per_s', 0)),
                                        fmt_rate(st['min']), fmt_rate(st['max']), n)
    if k[0] == 'pubsub' and 'drop_pct' in st:
        s += ' drop %.0f%%' % st['drop_pct']
    return s


def ratio_cell(rt: dict | None, md: bool = False) -> str:
    if not rt:
        return '-'
    v = '%.2f' % rt['median']
    return '%s%s%s [%.2f-%.2f]' % ('**' if md else '', v, '**' if md else '', rt['min'], rt['max'])


def table(results: list, md: bool = False) -> str:
    cases, impls, stats, ratios, cand = summarize(results)
    bases = [i for i in impls if i != cand]
    head = ['case'] + ['%s/%s' % (cand, LABEL.get(b, b)) for b in bases] + \
        [LABEL.get(i, i) for i in impls]
    rows = []
    for k in cases:
        rows.append([case_label(k)] + [ratio_cell(ratios.get((k, b)), md) for b in bases] +
                    [cell(k, stats.get((k, i), {}), md) for i in impls])
    if md:
        out = ['| ' + ' | '.join(head) + ' |', '|' + '---|' * len(head)]
        out += ['| ' + ' | '.join(r) + ' |' for r in rows]
        return '\n'.join(out)
    w = [max(len(r[i]) for r in rows + [head]) for i in range(len(head))]
    return '\n'.join('  '.join(c.ljust(w[i]) for i, c in enumerate(r)).rstrip()
                     for r in [head] + rows)


def errors_text(results: list) -> list:
    return ['%s %s round %s: %s' % (LABEL.get(r['impl'], r['impl']), case_label(key(r)),
                                     r.get('round'), r['error'])
            for r in results if r.get('kind') == 'run' and 'error' in r]


# ------------------------------------------------------------------- output ----

def plot(results: list, path: str) -> None:
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    cases, impls, stats, _, _ = summarize(results)
    thr = [k for k in cases if k[0] == 'thr']
    if not thr:
        print('no PUSH/PULL results: no plot', file=sys.stderr)
        return
    colors = {'gzmq': 'tab:blue', 'pyzmq': 'tab:orange', 'green': 'tab:green'}
    styles = {'tcp': '-', 'ipc': '--', 'inproc': ':'}
    markers = {'tcp': 'o', 'ipc': 's', 'inproc': '^'}
    transports = sorted({k[1] for k in thr}, key=lambda t: list(styles).index(t))
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.4))
    for ax, what in zip(axes, ('mb', 'msgs')):
        for impl in impls:
            for tr in transports:
                pts = []
                for k in sorted((k for k in thr if k[1] == tr), key=lambda k: k[2]):
                    st = stats.get((k, impl), {})
                    if 'median' not in st:
                        continue
                    scale = k[2] / 1e6 if what == 'mb' else 1.0
                    pts.append((k[2], st['median'] * scale, st['min'] * scale,
                                st['max'] * scale))
                if not pts:
                    continue
                xs, ys, lo, hi = zip(*pts)
                shift = 1.0 + 0.06 * (impls.index(impl) - (len(impls) - 1) / 2)
                xs = [x * shift for x in xs]  # side by side, so the bars do not overlap
                label = LABEL.get(impl, impl) + ('' if len(transports) == 1 else ' ' + tr)
                ax.errorbar(xs, ys, yerr=[[y - a for y, a in zip(ys, lo)],
                                          [b - y for y, b in zip(ys, hi)]],
                            color=colors.get(impl), linestyle=styles.get(tr, '-'),
                            marker=markers.get(tr, 'o'), capsize=3, label=label)
        ax.set_xscale('log', base=2)
        ax.set_yscale('log')
        sizes = sorted({k[2] for k in thr})
        ax.set_xticks(sizes)
        ax.set_xticklabels([size_label(s) for s in sizes])
        ax.set_xlabel('message size')
        ax.set_ylabel('MB/s (payload, 1e6 B/s)' if what == 'mb' else 'messages/s')
        ax.set_title('PUSH/PULL throughput, %s' % ('MB/s' if what == 'mb' else 'msg/s'))
        ax.grid(True, which='both', alpha=0.3)
        ax.legend(fontsize=8)
    meta = next((r for r in results if r.get('kind') == 'meta'), {})
    fig.suptitle('median of %d round(s), bars = min-max; %s vCPU, loopback (%s)' % (
        max((st['runs'] for st in stats.values()), default=0), meta.get('cpus', '?'),
        meta.get('date', '')), fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def read_keep(path: str) -> str:
    try:
        with open(path, encoding='utf-8') as f:
            text = f.read()
    except OSError:
        return KEEP_PLACEHOLDER
    a, b = text.find(KEEP_BEGIN), text.find(KEEP_END)
    if a < 0 or b < a:
        return KEEP_PLACEHOLDER
    return text[a + len(KEEP_BEGIN):b].strip('\n')


def load_text(meta: dict) -> str:
    a, b = meta.get('start', {}).get('loadavg'), meta.get('end', {}).get('loadavg')
    if a is None or b is None:
        return ''
    return ' 1-minute load average %.2f before, %.2f after (the run itself adds about 1).' % (
        a, b)


def code_text(meta: dict) -> str:
    a, b = meta.get('start', {}), meta.get('end', {})
    if not a:
        return '- gzmq checkout: not recorded.'
    s = '- gzmq checkout: commit %s%s (gzmq/ tree hash %s).' % (
        a.get('commit', '?'), ' with uncommitted changes in gzmq/' if a.get('dirty') else '',
        a.get('gzmq_tree'))
    if b and b.get('gzmq_tree') != a.get('gzmq_tree'):
        s += (' **gzmq/ changed during the run** (tree hash %s at the end, commit %s): '
              'the gzmq rounds did not all run the same code.' % (
                  b.get('gzmq_tree'), b.get('commit', '?')))
    return s


def duration_text(seconds) -> str:
    if not seconds:
        return 'a few minutes'
    if seconds < 90:
        return '%.0f s' % seconds
    return 'about %.0f minutes' % (seconds / 60)


def markdown(results: list, path: str, plot_path: str | None) -> None:
    meta = next((r for r in results if r.get('kind') == 'meta'), {})
    cases, impls, stats, ratios, cand = summarize(results)
    versions = {}
    for r in results:
        if r.get('kind') == 'run' and 'version' in r:
            versions.setdefault(r['impl'], r['version'])
    rounds = max((st['runs'] for st in stats.values()), default=0)
    keep = read_keep(path)
    img = ''
    if plot_path:
        rel = os.path.relpath(os.path.abspath(plot_path), os.path.dirname(os.path.abspath(path)))
        img = '![PUSH/PULL throughput by message size](%s)\n' % rel
    errs = errors_text(results)
    lines = [
        '# Performance',
        '',
        '<!-- Generated by perf/compare.py from one run; only the section between the keep '
        'markers is hand-written and survives regeneration. -->',
        '',
        'Regenerate this page (its numbers, table and plot) with one command from the '
        'repository root, in a venv with `pip install -e \'.[bench]\'` (pyzmq, gevent, '
        'matplotlib):',
        '',
        '```sh',
        REGEN,
        '```',
        '',
        'It took %s on the machine below; `--from perf/last-run.jsonl` re-renders from the '
        'saved results without running anything.' % duration_text(meta.get('elapsed_s')),
        '',
        '## Results',
        '',
        'Ratios are **gzmq speed relative to each other implementation** (>1: gzmq is '
        'faster): throughput msg/s of gzmq / msg/s of the other, latency p50 RTT of the other '
        '/ p50 RTT of gzmq. Each ratio is the median over rounds of the ratio within one round '
        '[min-max over rounds]. The absolute medians [min-max] are there for context: they '
        'depend on the machine and its load, the ratios much less.',
        '',
        table(results, md=True),
        '',
    ]
    if any(k[0] == 'pubsub' for k in cases):
        lines += ['PUB/SUB: the subscriber\'s receive rate; "drop" is the share of published '
                  'messages a slower subscriber lost at the high-water mark (PUB drops by '
                  'design), so a fast publisher with drops can still show a high rate.', '']
    if img:
        lines += [img]
    if errs:
        lines += ['Failed runs (left out of the medians and ratios):', '']
        lines += ['- ' + e for e in errs] + ['']
    lines += [
        '## Method',
        '',
        '- Machine: %s vCPU (%s), %s, %s; everything over loopback, one machine, nothing '
        'pinned. The machine is shared with other work, so single runs vary by tens of '
        'percent (see the [min-max] ranges): read the medians and the ratios, not one run.' % (meta.get('cpus', '?'), meta.get('cpu', '?'),
                             meta.get('system', '?'), meta.get('python', '?')),
        '- Run on %s; %d round%s, %.1f s of sending per run.%s' % (
            meta.get('date', '?'), rounds, '' if rounds == 1 else 's', meta.get('duration', 0),
            load_text(meta)),
        code_text(meta),
        '- Implementations: ' + '; '.join('%s = %s' % (LABEL.get(i, i), versions.get(i, '?'))
                                          for i in impls) + '. gzmq and zmq.green run '
        'inside gevent with the pyzmq API (`import gzmq as zmq` / `import zmq.green as zmq`); '
        'pyzmq is plain blocking pyzmq, i.e. libzmq\'s C++ I/O threads do the work.',
        '- Tools: `perf/local_thr.py` / `perf/remote_thr.py` (PUSH/PULL; PUB/SUB with '
        '`--pattern pubsub`; `--curve`) and `perf/local_lat.py` / `perf/remote_lat.py` '
        '(REQ/REP echo), the same protocol as libzmq\'s perf tools. tcp and ipc: the two ends '
        'are two fresh processes; inproc: one process (pyzmq: two threads; gzmq and zmq.green: '
        'two greenlets).',
        '- Alternation: for each case, for each round, each implementation runs once in turn '
        '(A B C A B C ...), so drifts in the machine\'s load hit them alike, and a ratio '
        'compares runs made seconds apart.',
        '- Throughput: the sender sends one message of the given size with the default '
        '(copying) `send()` for the run\'s duration, then an empty end-of-test message; the '
        'gevent senders yield to the hub (`gevent.sleep(0)`) once per ~100 kB batch. The '
        'receiver times from its first message to the last: msg/s, and MB/s of payload '
        '(1e6 B/s).',
        '- Latency: REQ/REP round trips of 64 B, each one timed with `perf_counter_ns` after '
        '20 untimed ones; the median (p50) RTT per run is what is compared (libzmq\'s '
        '"average latency" is half the mean RTT).',
        '- PUB/SUB: one subscriber binds, the publisher connects; they meet on a REQ/REP '
        'side channel first, so the slow-joiner window is not measured.',
        '- CURVE: PUSH/PULL 1 KiB with CURVE on both ends; the receiver is the server.',
        '- Medians over rounds, not means: one disturbed run moves a median little.',
        '',
        '## Where the time goes / what would close the gap',
        '',
        KEEP_BEGIN,
        keep,
        KEEP_END,
        '',
        '## Running the tools by hand',
        '',
        'Like libzmq\'s perf tools (two terminals, or `&`); `--impl gzmq|pyzmq|green` picks '
        'the implementation, `--help` lists the rest:',
        '',
        '```sh',
        'python perf/local_thr.py tcp://127.0.0.1:5555 64 1000000 --impl gzmq &',
        'python perf/remote_thr.py tcp://127.0.0.1:5555 64 1000000 --impl gzmq',
        '',
        'python perf/local_lat.py tcp://127.0.0.1:5556 64 10000 &',
        'python perf/remote_lat.py tcp://127.0.0.1:5556 64 10000',
        '',
        'python perf/local_thr.py inproc://thr 64 1000000 --impl green    # both ends here',
        'python perf/local_thr.py --pattern pubsub tcp://127.0.0.1:5557 64 1000000 &',
        'python perf/remote_thr.py --pattern pubsub tcp://127.0.0.1:5557 64 1000000',
        '',
        'python perf/compare.py --quick                       # about a minute',
        'python perf/compare.py --cases thr --sizes 64,1024 --transports tcp,ipc,inproc',
        '```',
        '',
    ]
    with open(path, 'w', encoding='utf-8') as f:
        f.write('\n'.join(lines))


# --------------------------------------------------------------------- main ----

def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0],
                                 epilog=__doc__.split('\n', 1)[1],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--impls', default=','.join(IMPLS), help='default: gzmq,pyzmq,green')
    ap.add_argument('--cases', default=','.join(CASES), help='default: thr,lat,pubsub,curve')
    ap.add_argument('--sizes', default=','.join(map(str, SIZES)),
                    help='PUSH/PULL message sizes, bytes (default: 64,1024,65536,1048576)')
    ap.add_argument('--transports', default='tcp,ipc,inproc',
                    help='comma list of tcp,ipc,inproc (default: all three)')
    ap.add_argument('--rounds', type=int, default=None, help='default 5 (--quick: 3)')
    ap.add_argument('--duration', type=float, default=None,
                    help='seconds of sending per run (default 1.5; --quick: 0.4)')
    ap.add_argument('--quick', action='store_true', help='short runs, 3 rounds: ~1 minute')
    ap.add_argument('--out', metavar='JSONL', help='write every result as a JSON line')
    ap.add_argument('--from', dest='from_', metavar='JSONL',
                    help='do not run: summarize / render a saved --out file')
    ap.add_argument('--markdown', metavar='PATH', help='write the performance page')
    ap.add_argument('--plot', metavar='PNG', help='plot PUSH/PULL throughput (matplotlib)')
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
        duration = args.duration or (0.4 if args.quick else 1.5)
        todo = plan(cases, transports, [int(s) for s in args.sizes.split(',') if s])
        meta = dict(machine(), duration=duration, rounds=rounds, impls=impls,
                    start=code_state())
        results = [meta]
        out = open(args.out, 'w') if args.out else None
        total, n, t0 = len(todo) * rounds * len(impls), 0, time.monotonic()
        for k in todo:
            for rnd in range(1, rounds + 1):
                for impl in impls:
                    n += 1
                    r = run_one(impl, k[0], k[1], k[2], duration, n)
                    r.update(kind='run', round=rnd)
                    results.append(r)
                    if out:
                        out.write(json.dumps(r, sort_keys=True) + '\n')
                        out.flush()
                    el = time.monotonic() - t0
                    desc = ('ERROR ' + r['error']) if 'error' in r else cell(k, dict(
                        r, runs=1, ok=1, median=primary(r), min=primary(r), max=primary(r)))
                    print('[%d/%d %3.0fs, ~%.0fs left] %-9s %-22s round %d: %s' % (
                        n, total, el, el / n * (total - n), LABEL[impl], case_label(k), rnd,
                        desc), file=sys.stderr, flush=True)
        meta['elapsed_s'] = round(time.monotonic() - t0, 1)
        meta['end'] = code_state()
        if meta['end'].get('gzmq_tree') != meta['start'].get('gzmq_tree'):
            print('warning: gzmq/ changed during the run (%s -> %s)' % (
                meta['start'].get('gzmq_tree'), meta['end'].get('gzmq_tree')), file=sys.stderr)
        if out:
            out.write(json.dumps(meta, sort_keys=True) + '\n')
            out.close()

    print(table(results))
    for e in errors_text(results):
        print('error:', e)
    if args.plot:
        plot(results, args.plot)
    if args.markdown:
        markdown(results, args.markdown, args.plot)
    return 0


if __name__ == '__main__':
    sys.exit(main())
