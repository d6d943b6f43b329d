"""report: the tables, targets, page and plot of a compare.py run (its JSON lines).

Used by compare.py (``--markdown``, ``--plot``, ``--readme``; ``--from`` re-renders a saved
run); nothing here runs a benchmark. The performance page is generated but for the section
between the keep markers; targets.py adds issue 12's targets and the README's table.
"""

from __future__ import annotations

import os
import statistics
import sys

IMPLS = ('gzmq', 'pyzmq', 'green', 'raw')
LABEL = {'gzmq': 'gzmq', 'pyzmq': 'pyzmq', 'green': 'zmq.green', 'raw': 'ceiling'}
CASE_TITLE = {'thr': 'PUSH/PULL', 'lat': 'REQ/REP latency', 'pubsub': 'PUB/SUB',
              'curve': 'PUSH/PULL CURVE', 'fanout': 'PUB fan-out', 'router': 'ROUTER echo',
              'idle': 'idle connection RSS', 'fanout-stalled': 'PUB fan-out, stalled SUBs'}
KEEP_BEGIN, KEEP_END = '<!-- keep -->', '<!-- /keep -->'
KEEP_PLACEHOLDER = ('_To be written: profiles of the gzmq hot paths (send, recv, the writer, '
                    'the frame decoder, CURVE), what each costs per message, and which '
                    'changes would close the gap with pyzmq._')
REGEN = ('python perf/compare.py --out perf/last-run.jsonl --markdown docs/performance.md '
         '--plot docs/throughput.png')


# ---------------------------------------------------------------- summaries ----

#: cases where less is better: round-trip time, bytes per connection
LOWER = ('lat', 'idle')


def primary(r: dict) -> float:
    """The compared number of a run: p50 RTT (lat), bytes per connection (idle), else msg/s
    (fanout: delivered, summed over the subscribers; router: round trips)."""
    if r['case'] == 'lat':
        return r['rtt_p50_us']
    if r['case'] == 'idle':
        return r['bytes_per_connection']
    return r['msgs_per_s']


def key(r: dict) -> tuple:
    """(case, transport, size); in place of the size: the number of peers (router), of
    subscribers (fanout), of connections (idle)."""
    if r['case'] == 'router':
        return (r['case'], r['transport'], r['peers'])
    if r['case'].startswith('fanout'):
        return (r['case'], r['transport'], r['subs'])
    return (r['case'], r['transport'], r['size'])


def size_label(n: int) -> str:
    if n >= 1 << 20 and n % (1 << 20) == 0:
        return '%d MiB' % (n >> 20)
    if n >= 1024 and n % 1024 == 0:
        return '%d KiB' % (n >> 10)
    return '%d B' % n


def case_label(k: tuple) -> str:
    if k[0] == 'router':
        return 'ROUTER echo tcp 64 B, %s DEALERs' % format(k[2], ',')
    if k[0] == 'idle':
        return 'idle tcp connection RSS (%s)' % format(k[2], ',')
    if k[0] == 'fanout':
        return 'PUB fan-out tcp 64 B, %d SUBs' % k[2]
    if k[0] == 'fanout-stalled':
        return 'PUB fan-out tcp 64 B, %d SUBs, %d stalled' % (k[2], min(10, k[2] - 1))
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
            for f in ('mb_per_s', 'drop_pct', 'rtt_p99_us', 'rtt_mean_us', 'latency_us',
                      'send_msgs_per_s', 'per_sub_msgs_per_s', 'rss_growth_mib', 'us_per_msg',
                      'sndhwm', 'subs'):
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
                xs.append(primary(r) / primary(c) if k[0] in LOWER else primary(c) / primary(r))
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
    if k[0] == 'idle':
        return '%.1f KiB [%.1f-%.1f]%s' % (st['median'] / 1024, st['min'] / 1024,
                                           st['max'] / 1024, n)
    if k[0] == 'router':
        return '%s msg/s %.2f µs/msg [%s-%s]%s' % (fmt_rate(st['median']), 1e6 / st['median'],
                                                   fmt_rate(st['min']), fmt_rate(st['max']), n)
    if k[0] in ('fanout', 'fanout-stalled'):
        return '%s msg/s delivered [%s-%s], published %s msg/s, drop %.0f%%, RSS +%.1f MiB%s' % (
            fmt_rate(st['median']), fmt_rate(st['min']), fmt_rate(st['max']),
            fmt_rate(st.get('send_msgs_per_s', 0)), st.get('drop_pct', 0),
            st.get('rss_growth_mib', 0), n)
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


# ------------------------------------------------------------------- runs ----

def run_text(k: tuple, r: dict) -> str:
    """One run, for the progress lines."""
    if 'error' in r:
        return 'ERROR ' + r['error']
    v = primary(r)
    return cell(k, dict(r, runs=1, ok=1, median=v, min=v, max=v))


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
    import targets  # it builds on this module's summaries
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
    if 'raw' in impls:
        lines += ['The ceiling (`perf/ceiling.py`) is no ZeroMQ: raw gevent sockets doing the '
                  'same ZMTP handshake and framing with batched writes and nothing else (no '
                  'queues, no routing), the fastest a pure-Python data path can go on this '
                  'machine. gzmq/ceiling near 1 means gzmq is at that limit.', '']
    if any(k[0] in ('fanout', 'router', 'idle') for k in cases):
        lines += ['PUB fan-out: delivered msg/s, summed over the 100 subscribers (the compared '
                  'number), the publisher\'s own send rate, the share of deliveries dropped at '
                  'SNDHWM, and the publisher\'s RSS growth while publishing. ROUTER echo: '
                  'round trips per second through one ROUTER with N DEALER peers connected, '
                  '10 of them talking. Idle connection RSS: lower is better, so its ratio is '
                  'pyzmq\'s bytes / gzmq\'s.', '']
    if img:
        lines += [img]
    if errs:
        lines += ['Failed runs (left out of the medians and ratios):', '']
        lines += ['- ' + e for e in errs] + ['']
    lines += [
        '## Targets (issue 12)',
        '',
        'From this run: the median gzmq/pyzmq ratio over the rounds against each target. A '
        'target missed where the ceiling itself stays below it, with gzmq within 10% of the '
        'ceiling, counts as met ("at the ceiling"): pure Python cannot go further there.',
        '',
        targets.targets_table(results),
        '',
        '## Method',
        '',
        '- Machine: %s vCPU (%s), %s, %s; everything over loopback, one machine, nothing '
        'pinned. The machine is shared with other work, so single runs vary by tens of '
        'percent (see the [min-max] ranges): read the medians and the ratios, not one '
        'run.' % (meta.get('cpus', '?'), meta.get('cpu', '?'), meta.get('system', '?'),
                  meta.get('python', '?')),
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
        '- Ceiling (`perf/ceiling.py`, "raw"): the same tests (thr, lat, pubsub over tcp and '
        'ipc) by a gevent program with plain sockets: a real ZMTP 3.1 greeting and NULL '
        'handshake (it talks to libzmq too), one `sendall` per ~64 KiB batch of framed '
        'messages (large bodies written as they are), `recv_into` a reused 256 KiB buffer, '
        'one `bytes` per message received.',
        '- PUB fan-out (`perf/fanout.py`): the publisher is the implementation under test, in '
        'its own process; the 100 subscribers are one fixed load for every publisher: raw '
        'ZMTP connections in another process that read with `recv_into` and count whole '
        'frames with `bytes.count`, no Python work per message (their CPU use is recorded '
        'in the JSON lines). Probes until every subscriber has one, a go on a side channel '
        '(stdin), then %.1f s of publishing; RSS growth is the publisher\'s peak (VmHWM, '
        'reset at the start) minus its RSS at the start. With stalled SUBs, that many '
        'subscribers (4 KiB receive buffers) stop reading at the go, so the publisher\'s '
        'queues for them fill to SNDHWM and it must drop: the memory target reads that run; '
        'its rates and drops are those of the other subscribers.' % meta.get('duration', 0),
        '- ROUTER echo (`perf/router_peers.py`): the ROUTER (`recv_multipart` / '
        '`send_multipart`, default options) in its own process; the N peers are raw ZMTP '
        'DEALER connections in another process, all handshaken and each echoed once; then '
        '10 of them (spread over the N) keep 50 requests each in flight; µs per round trip '
        'is the median of 3 timings of %s round trips.' % format(
            meta.get('router_messages', 20000), ','),
        '- Idle connections (`perf/idle_connections.py`): N raw ZMTP DEALER connections '
        'handshake with a ROUTER and stay idle; the ROUTER process\'s RSS growth / N.',
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


