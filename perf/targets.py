"""targets: issue 12's targets judged from one compare.py run, and the README's table.

``targets_table(results)`` is the page's "Targets" section: each target's median gzmq/pyzmq
ratio, met (✅), met by the ceiling rule (gzmq within 10% of a measured pure-Python ceiling
that itself stays under the target: "✅ (at the ceiling)"), missed (❌), or not measured in
this run (–). ``readme(results, path)`` rewrites a file's table between its perf-table
markers (README.md), leaving everything else in it as it was.
"""

from __future__ import annotations

import sys

from report import LABEL, LOWER, summarize

# ------------------------------------------------------------------ targets ----

#: issue 12's targets: (metric, target ratio gzmq/pyzmq, the cases that must all reach it)
TARGETS = (
    ('PUSH/PULL tcp and ipc 64 B msg/s', 0.9, (('thr', 'tcp', 64), ('thr', 'ipc', 64))),
    ('PUSH/PULL tcp and ipc 1 KiB', 1.0, (('thr', 'tcp', 1024), ('thr', 'ipc', 1024))),
    ('PUSH/PULL tcp and ipc 64 KiB', 1.0, (('thr', 'tcp', 65536), ('thr', 'ipc', 65536))),
    ('PUSH/PULL ipc 1 MiB', 1.0, (('thr', 'ipc', 1048576),)),
    ('REQ/REP round trip p50, tcp and ipc', 1.0, (('lat', 'tcp', 64), ('lat', 'ipc', 64))),
    ('PUB/SUB 64 B, 1 subscriber', 0.9, (('pubsub', 'tcp', 64), ('pubsub', 'ipc', 64))),
    ('PUB fan-out: 1 PUB, 100 SUBs over tcp, 64 B (delivered msg/s)', 1.0,
     (('fanout', 'tcp', 100),)),
    ('ROUTER with 1,000 DEALER peers, request/reply 64 B', 1.0, (('router', 'tcp', 1000),)),
    ('CURVE 1 KiB, tcp and ipc', 0.8, (('curve', 'tcp', 1024), ('curve', 'ipc', 1024))),
)
IDLE_TARGET = 10 * 1024  # bytes of RSS per idle tcp connection
FLAT_TARGET = 1.25  # ROUTER: cost at the most peers / at the fewest, or no steeper than libzmq
CEILING_SHARE = 0.9  # "gzmq within 10% of that ceiling"


def _versus(stats: dict, k: tuple, a: str, b: str) -> float | None:
    """How much better ``a`` is than ``b`` in case ``k``, from the medians (>1: a better)."""
    x, y = stats.get((k, a), {}).get('median'), stats.get((k, b), {}).get('median')
    if not x or not y:
        return None
    return y / x if k[0] in LOWER else x / y


def _target_part(k: tuple, target: float, stats: dict, ratios: dict) -> tuple:
    """(reached text, met, met only by the ceiling rule) of one case of a target."""
    where = k[1] if k[0] not in ('fanout', 'router') else ''
    rt = ratios.get((k, 'pyzmq'))
    if rt is None:
        return ('not measured' + (' ' + where if where else ''), False, False)
    text = '%.2f×%s' % (rt['median'], ' ' + where if where else '')
    if rt['median'] >= target:
        return (text, True, False)
    ceiling = _versus(stats, k, 'raw', 'pyzmq')
    share = ratios.get((k, 'raw'))
    if ceiling is None or share is None:
        return (text, False, False)
    text += ' (ceiling %.2f×, gzmq at %.2f of it)' % (ceiling, share['median'])
    by_ceiling = ceiling < target and share['median'] >= CEILING_SHARE
    return (text, by_ceiling, by_ceiling)


def targets(results: list) -> list:
    """Rows (metric, target, reached, mark) of issue 12's targets, from one run."""
    _, _, stats, ratios, _ = summarize(results)
    rows = []
    for metric, target, keys in TARGETS:
        parts = [_target_part(k, target, stats, ratios) for k in keys]
        met = all(p[1] for p in parts)
        mark = ('✅ (at the ceiling)' if any(p[2] for p in parts) else '✅') if met else '❌'
        if any(p[0].startswith('not measured') for p in parts):
            mark = '–'  # not in this run (--cases, --impls)
        rows.append((metric, '≥ %.1f× pyzmq' % target, ', '.join(p[0] for p in parts), mark))
        if keys[0][0] == 'lat':
            rows.append(_p99_row(stats))
        elif keys[0][0] == 'fanout':
            rows.append(_fanout_memory_row(stats))
        elif keys[0][0] == 'router':
            rows.append(_flatness_row(stats))
    rows.append(_idle_row(stats))
    return rows


def _p99_row(stats: dict) -> tuple:
    parts, met = [], True
    for tr in ('tcp', 'ipc'):
        g = stats.get((('lat', tr, 64), 'gzmq'), {}).get('rtt_p99_us')
        p = stats.get((('lat', tr, 64), 'pyzmq'), {}).get('rtt_p99_us')
        if g is None or p is None:
            return ('REQ/REP round trip p99', 'no worse than pyzmq\'s', 'not measured', '–')
        parts.append('%.0f vs %.0f µs %s' % (g, p, tr))
        met = met and g <= p
    return ('REQ/REP round trip p99 (medians of the runs\' p99)', 'no worse than pyzmq\'s',
            ', '.join(parts), '✅' if met else '❌')


def _fanout_memory_row(stats: dict) -> tuple:
    """The publisher's RSS growth: with stalled subscribers when the run has them (then its
    queues fill to SNDHWM for those and it must drop), else in the plain fan-out."""
    metric, target = 'PUB fan-out: publisher memory', 'bounded by SNDHWM'
    k = ('fanout-stalled', 'tcp', 100)
    if 'rss_growth_mib' not in stats.get((k, 'gzmq'), {}):
        k = ('fanout', 'tcp', 100)
    st = stats.get((k, 'gzmq'), {})
    if 'rss_growth_mib' not in st:
        return (metric, target, 'not measured', '–')
    bound = st.get('sndhwm', 1000) * st.get('subs', 100) * (64 + 64) / 2**20
    py = stats.get((k, 'pyzmq'), {}).get('rss_growth_mib')
    text = 'RSS +%.1f MiB while publishing%s (SNDHWM × SUBs × 128 B = %.1f MiB%s)' % (
        st['rss_growth_mib'], ', 10 SUBs stalled' if k[0] == 'fanout-stalled' else '', bound,
        '; pyzmq +%.1f MiB' % py if py is not None else '')
    return (metric, target, text, '✅' if st['rss_growth_mib'] <= bound else '❌')


def _flatness_row(stats: dict) -> tuple:
    metric, target = 'ROUTER: flat per-message cost, 10 to 10,000 peers', \
        'cost at 10,000 / at 10 ≤ %.2f (or no steeper than pyzmq)' % FLAT_TARGET

    def flat(impl: str):
        ns = sorted(k[2] for (k, i) in stats if k[0] == 'router' and i == impl
                    and 'median' in stats[(k, i)])
        if len(ns) < 2:
            return None, ns
        lo, hi = stats[(('router', 'tcp', ns[0]), impl)], stats[(('router', 'tcp', ns[-1]), impl)]
        return lo['median'] / hi['median'], ns  # msg/s: cost ratio is the inverse
    g, ns = flat('gzmq')
    if g is None:
        return (metric, target, 'not measured', '–')
    p, _ = flat('pyzmq')
    text = '%.2f (N = %s to %s)%s' % (g, format(ns[0], ','), format(ns[-1], ','),
                                       '; pyzmq %.2f' % p if p is not None else '')
    return (metric, target, text, '✅' if g <= max(FLAT_TARGET, p or 0) else '❌')


def _idle_row(stats: dict) -> tuple:
    metric, target = 'idle tcp connection RSS', '≤ 10 KiB'
    ks = sorted((k for (k, i) in stats if k[0] == 'idle' and i == 'gzmq'), key=lambda k: k[2])
    if not ks or 'median' not in stats[(ks[-1], 'gzmq')]:
        return (metric, target, 'not measured', '–')
    g = stats[(ks[-1], 'gzmq')]['median']
    p = stats.get((ks[-1], 'pyzmq'), {}).get('median')
    text = '%.1f KiB (%s connections%s)' % (g / 1024, format(ks[-1][2], ','),
                                            '; pyzmq %.1f KiB' % (p / 1024) if p else '')
    return (metric, target, text, '✅' if g <= IDLE_TARGET else '❌')


def targets_table(results: list) -> str:
    out = ['| metric | target | reached | |', '|---|---|---|---|']
    out += ['| %s |' % ' | '.join(row) for row in targets(results)]
    return '\n'.join(out)


# ------------------------------------------------------------------- README ----

README_BEGIN, README_END = '<!-- perf-table -->', '<!-- /perf-table -->'
README_ROWS = (
    ('PUSH/PULL 64 B msg/s', ('thr', 'tcp', 64)),
    ('PUSH/PULL 1 KiB msg/s', ('thr', 'tcp', 1024)),
    ('PUSH/PULL 64 KiB msg/s', ('thr', 'tcp', 65536)),
    ('PUSH/PULL 1 MiB MB/s', ('thr', 'tcp', 1048576)),
    ('inproc PUSH/PULL 64 B', ('thr', 'inproc', 64)),
    ('PUB/SUB 64 B', ('pubsub', 'tcp', 64)),
    ('PUB fan-out to 100 SUBs, 64 B (delivered)', ('fanout', 'tcp', 100)),
    ('ROUTER echo, 1,000 DEALER peers', ('router', 'tcp', 1000)),
    ('REQ/REP round-trip p50 (higher is faster)', ('lat', 'tcp', 64)),
    ('CURVE 1 KiB', ('curve', 'tcp', 1024)),
)


def _times(rt: dict | None) -> str:
    if not rt:
        return '-'
    v = rt['median']
    return ('%.2f×' if v < 1.95 else '%.1f×' if v < 10 else '%.0f×') % v


def readme_table(results: list) -> str:
    _, impls, stats, ratios, _ = summarize(results)
    bases = [b for b in ('pyzmq', 'green', 'raw') if b in impls]
    head = ['case (tcp unless named)'] + ['gzmq vs %s' % (
        'pure-Python ceiling' if b == 'raw' else LABEL[b]) for b in bases]
    out = ['| ' + ' | '.join(head) + ' |', '|' + '---|' * len(head)]
    for label, k in README_ROWS:
        if any(kk == k for kk, _ in stats):
            out.append('| %s | %s |' % (label, ' | '.join(_times(ratios.get((k, b)))
                                                        for b in bases)))
    meta = next((r for r in results if r.get('kind') == 'meta'), {})
    out.append('')
    idle = sorted(k for (k, i) in stats if k[0] == 'idle' and i == 'gzmq'
                  and 'median' in stats[(k, i)])
    if idle:
        k = idle[-1]
        theirs = stats.get((k, 'pyzmq'), {}).get('median')
        out.append('%s idle tcp connections to one ROUTER cost %.1f KiB of RSS each%s '
                   '(`perf/idle_connections.py`).' % (
                       format(k[2], ','), stats[(k, 'gzmq')]['median'] / 1024,
                       ' (pyzmq: %.1f KiB)' % (theirs / 1024) if theirs else ''))
    out.append('From one run of `perf/compare.py` on %s, gzmq commit %s.' % (
        meta.get('date', '?'), meta.get('start', {}).get('commit', '?')))
    return '\n'.join(out)


def readme(results: list, path: str) -> bool:
    """Rewrite the part of ``path`` between the perf-table markers; False (and a warning)
    when the file has no such markers."""
    with open(path, encoding='utf-8') as f:
        text = f.read()
    a, b = text.find(README_BEGIN), text.find(README_END)
    if a < 0 or b < a:
        print('%s: no %s ... %s markers, not rewritten' % (path, README_BEGIN, README_END),
              file=sys.stderr)
        return False
    text = text[:a + len(README_BEGIN)] + '\n' + readme_table(results) + '\n' + text[b:]
    with open(path, 'w', encoding='utf-8') as f:
        f.write(text)
    return True
