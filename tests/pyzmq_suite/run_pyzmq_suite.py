#!/usr/bin/env python3
"""Run pyzmq's own test suite against gzmq, as a yardstick of drop-in compatibility.

    python tests/pyzmq_suite/run_pyzmq_suite.py [--git-dir DIR] [--tag v27.2.0]
        [--tests-dir DIR] [--only test_socket.py ...] [--test-timeout 30]
        [--module-timeout 300] [--total-timeout 1800] [--json FILE] [--keep]

Where the tests come from: pyzmq's tests live in ``tests/`` at the top of its repository (at
v27.2.0; ``zmq/tests/__init__.py`` there is only a legacy helper module for downstream code),
configured by the top-level ``pytest.ini`` (``--import-mode=importlib``, ``pythonpath =
tests``). This script exports exactly those two paths of the tag with ``git archive`` from a
bare pyzmq clone (``--git-dir``, default: the mirror the search tool's ``fetch`` made under
/work/.mirror) into a temporary directory; or it takes an existing export (``--tests-dir``,
the directory holding ``tests/`` and ``pytest.ini``). Nothing of pyzmq is copied into this
repository.

How they run: one pytest process per test module, under ``python -m gzmq.run --patch-all``
(gevent's ``patch_all()``, then ``import zmq`` is gzmq, in pytest and in every subprocess a
test starts). Each test is bounded by pytest-timeout (``--test-timeout``, thread method: under
patch_all its timer is a greenlet, so it fires whenever the hub runs) and each module process
by ``--module-timeout``; a watchdog in a real OS thread also ends the process when a test
runs ``--test-timeout`` + 10 s (the hub itself may be blocked); a test that hangs or kills its process is recorded as an error
("hung") and the module is run again without it, so one hang costs one test, not a module.
The whole run stops starting modules after ``--total-timeout`` seconds.

Harness stubs (a pytest plugin written next to the export, loaded with ``-p``): pyzmq's
``tests/conftest.py`` and ``tests/zmq_test_utils.py`` import modules gzmq does not have. So
that the suite can be collected at all, the plugin registers stand-ins *for the harness only*:
``zmq.asyncio`` (empty; every test that uses it is excluded below), ``zmq.sugar.context`` /
``zmq.sugar.socket`` / ``zmq.backend`` (``Context``/``Socket`` pointing at gzmq's, for the
harness's ``Context._instance`` reset and ``Socket.__module__`` check) and
``zmq.utils.jsonapi`` (``dumps``/``loads`` over the json module). Each stub is listed in the
output; a test that fails because gzmq lacks the real module still counts as a failure.

Excluded modules (they test something gzmq does not claim to be):

- test_asyncio.py, test_future.py, test_auth.py: zmq.asyncio / zmq._future, and the
  asyncio- and tornado-based authenticators (their tests are coroutines for pytest-asyncio);
- test_monitor.py: all its tests are coroutines with async fixtures (pytest-asyncio),
  parametrized over zmq.Context and zmq.asyncio.Context (gzmq's monitor has its own tests);
- test_ioloop.py, test_zmqstream.py: tornado's IOLoop and ZMQStream (zmq.eventloop);
- test_cffi_backend.py, test_cython.py, test_ext.py: pyzmq's CFFI and Cython backends and
  building Cython extensions against it (cython_ext.pyx);
- test_includes.py: libzmq build details (get_includes / get_library_dirs paths);
- test_mypy.py: type-checks pyzmq's stubs and examples with mypy;
- test_win32_shim.py: Windows only (zmq.utils.win32).

Output: a table per module (passed / failed / skipped / error; xfail counts as skipped), then
every failure and error with the first line of its message, then the failures grouped by
that message with numbers and addresses blanked, to see the causes.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from io import BytesIO
from typing import Any, Optional

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
DEFAULT_GIT_DIR = "/work/.mirror/zeromq+pyzmq/repo"
DEFAULT_TAG = "v27.2.0"

EXCLUDED = {
    "test_asyncio.py": "asyncio (zmq.asyncio)",
    "test_future.py": "asyncio futures (zmq._future)",
    "test_auth.py": "asyncio/tornado authenticators, pytest-asyncio coroutines",
    "test_monitor.py": "every test is a coroutine with async fixtures (pytest-asyncio), "
                       "parametrized over zmq.asyncio",
    "test_ioloop.py": "tornado (zmq.eventloop)",
    "test_zmqstream.py": "tornado (zmq.eventloop.zmqstream)",
    "test_cffi_backend.py": "pyzmq's CFFI backend",
    "test_cython.py": "pyzmq's Cython backend (cython_ext.pyx)",
    "test_ext.py": "building Cython extensions against pyzmq",
    "test_includes.py": "libzmq build details (get_includes)",
    "test_mypy.py": "mypy over pyzmq's stubs",
    "test_win32_shim.py": "Windows only",
}

PLUGIN_NAME = "gzmq_pyzmq_suite_plugin"
PLUGIN = r'''
"""Written by run_pyzmq_suite.py: harness stubs and a per-test result log (JSON lines)."""
import json, os, sys, types

RESULTS = os.environ["GZMQ_SUITE_RESULTS"]
STUBS = []


def _stub(name, **attributes):
    """``name`` if gzmq has it; else a stub, registered as zmq.x and gzmq.x and set as an
    attribute of its parent (the harness reads e.g. ``zmq.backend.Socket``)."""
    if name in sys.modules:
        return sys.modules[name]
    try:
        __import__(name)  # the real module wins if gzmq has it
        return sys.modules[name]
    except ImportError:
        pass
    module = types.ModuleType(name, "stub from run_pyzmq_suite.py: gzmq has no " + name)
    module.__dict__.update(attributes)
    parent, _, child = name.rpartition(".")
    sys.modules[name] = sys.modules["g" + name] = module
    if child != "asyncio":  # (an attribute would make zmq look asyncio-capable)
        setattr(sys.modules[parent], child, module)
    STUBS.append(name)
    return module


def _install():
    import json as _json
    import zmq
    _stub("zmq.asyncio")
    sugar = _stub("zmq.sugar")
    context = _stub("zmq.sugar.context", Context=zmq.Context)
    socket = _stub("zmq.sugar.socket", Socket=zmq.Socket)
    if "zmq.sugar" in STUBS:
        sugar.context, sugar.socket = context, socket
    _stub("zmq.backend", Socket=zmq.Socket, Context=zmq.Context)
    _stub("zmq.utils.jsonapi", dumps=lambda o, **kw: _json.dumps(o, **kw).encode("utf8"),
          loads=lambda s, **kw: _json.loads(s, **kw), jsonmod=_json)


_install()


def _write(record):
    with open(RESULTS, "a") as f:
        f.write(json.dumps(record) + "\n")


_write({"stubs": STUBS, "zmq": sys.modules["zmq"].__name__})


# A watchdog in a real OS thread: pytest-timeout's timer is a greenlet under patch_all and
# cannot fire while something blocks the hub itself; this one can. A test still running
# GZMQ_SUITE_HARD_TIMEOUT seconds after it started ends the process (the runner records it
# as hung and runs the module again without it).
_HARD = float(os.environ.get("GZMQ_SUITE_HARD_TIMEOUT", "60"))
_deadline = [None]


def _watchdog():
    import time as _time
    sleep = _original("time", "sleep")
    while True:
        sleep(0.5)
        deadline = _deadline[0]
        if deadline is not None and _time.monotonic() > deadline:
            os.write(2, b"\n*** run_pyzmq_suite watchdog: test still running, hub blocked? "
                        b"ending the process\n")
            os._exit(97)


def _original(module, name):
    from gevent import monkey
    return monkey.get_original(module, name)


_original("_thread", "start_new_thread")(_watchdog, ())


def pytest_runtest_logstart(nodeid, location):
    import time as _time
    _deadline[0] = _time.monotonic() + _HARD
    _write({"start": nodeid})


def pytest_runtest_logfinish(nodeid, location):
    _deadline[0] = None


def _message(report):
    crash = getattr(report.longrepr, "reprcrash", None)
    if crash is not None:
        return crash.message
    if isinstance(report.longrepr, tuple):  # skip: (file, line, reason)
        return str(report.longrepr[-1])
    return str(report.longrepr or "")


def pytest_runtest_logreport(report):
    outcome = None
    if report.when == "call":
        outcome = report.outcome
        if hasattr(report, "wasxfail"):
            outcome = "skipped" if report.skipped else "passed"
    elif report.failed:
        outcome = "error"
    elif report.skipped:  # skipped in setup
        outcome = "skipped"
    if outcome is not None:
        _write({"nodeid": report.nodeid, "phase": report.when, "outcome": outcome,
                "message": _message(report)[:2000] if outcome != "passed" else ""})


def pytest_collectreport(report):
    if report.failed:
        _write({"nodeid": report.nodeid or "<collection>", "phase": "collect",
                "outcome": "error", "message": _message(report)[:2000]})
'''


# --- getting the tests ---------------------------------------------------------------------

def export_tests(git_dir: str, tag: str, destination: str) -> None:
    """``git archive <tag> tests pytest.ini`` from ``git_dir``, unpacked into destination."""
    archive = subprocess.run(["git", "--git-dir", git_dir, "archive", "--format=tar", tag,
                              "tests", "pytest.ini"], capture_output=True, check=True)
    with tarfile.open(fileobj=BytesIO(archive.stdout)) as tar:
        tar.extractall(destination, filter="data")


# --- running -----------------------------------------------------------------------------------

def run_module(root: str, module: str, args: argparse.Namespace,
               deadline: float) -> tuple[dict[str, dict[str, str]], list[str], list[str]]:
    """Run one test module (again without any test that hung); return
    ({nodeid: {"outcome", "message"}}, hung test ids, harness stubs)."""
    results: dict[str, dict[str, str]] = {}
    hung: list[str] = []
    stubs: list[str] = []
    for _attempt in range(args.max_hangs + 1):
        log = os.path.join(root, f".results-{module}-{len(hung)}.jsonl")
        if os.path.exists(log):
            os.unlink(log)
        cmd = [sys.executable, "-m", "gzmq.run", "--patch-all", "-m", "pytest",
               os.path.join("tests", module), "-p", PLUGIN_NAME, "-p", "no:cacheprovider",
               "-q", "--no-header", "-rN", f"--timeout={args.test_timeout}",
               "--timeout-method=thread", "-W", "ignore::pytest.PytestConfigWarning"]
        for nodeid in hung:
            cmd += ["--deselect", nodeid]
        env = {k: v for k, v in os.environ.items() if k not in ("GZMQ_PATCH_ZMQ",)}
        env.update(PYTHONPATH=os.pathsep.join([REPO, root]), GZMQ_SUITE_RESULTS=log,
                   ZMQ_TEST_TIMEOUT=str(args.test_timeout * 2), PYTHONDONTWRITEBYTECODE="1",
                   GZMQ_SUITE_HARD_TIMEOUT=str(args.test_timeout + 10))
        budget = max(10.0, min(args.module_timeout, deadline - time.monotonic()))
        try:
            proc = subprocess.run(cmd, cwd=root, env=env, stdin=subprocess.DEVNULL,
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                  timeout=budget)
            killed = False
            output = proc.stdout.decode(errors="replace")
        except subprocess.TimeoutExpired as e:
            killed = True
            output = (e.stdout or b"").decode(errors="replace")
        started, finished = [], set()
        if os.path.exists(log):
            with open(log) as f:
                for line in f:
                    record = json.loads(line)
                    if "stubs" in record:
                        stubs = record["stubs"]
                    elif "start" in record:
                        started.append(record["start"])
                    else:
                        node = record["nodeid"]
                        previous = results.get(node)
                        # a test reports call then teardown: an error in teardown wins
                        if previous is None or record["outcome"] in ("failed", "error"):
                            results[node] = {"outcome": record["outcome"],
                                             "message": record["message"]}
                        finished.add(node)
        unfinished = [node for node in started if node not in finished]
        # every test pytest starts, it finishes: one left unfinished hung (pytest-timeout
        # ended the process) or killed the process
        if killed or unfinished:
            if not unfinished:
                results[f"tests/{module}::<module>"] = {
                    "outcome": "error", "message": "module process killed (timeout) "
                                                   "before any test started"}
                break
            node = unfinished[-1]
            why = ("hung: module timeout" if killed else
                   "hung or killed the process (pytest-timeout / crash)")
            tail = "\n".join(output.strip().splitlines()[-3:])
            results[node] = {"outcome": "error", "message": f"{why}; {tail[:300]}"}
            hung.append(node)
            if time.monotonic() > deadline:
                break
            continue
        if not started and not results:
            results[f"tests/{module}::<module>"] = {
                "outcome": "error", "message": "no tests ran: " + output.strip()[-500:]}
        break
    return results, hung, stubs


# --- reporting ---------------------------------------------------------------------------------

OUTCOMES = ("passed", "failed", "skipped", "error")


def signature(message: str) -> str:
    first = message.strip().splitlines()[0] if message.strip() else "(no message)"
    first = re.sub(r"0x[0-9a-f]+", "0x…", first)
    first = re.sub(r"\d+", "N", first)
    return first[:160]


def report(per_module: dict[str, dict[str, dict[str, str]]], stubs: list[str],
           skipped_modules: list[str]) -> str:
    lines = []
    width = max([len(m) for m in per_module] + [len("module"), len("TOTAL")])
    header = f"{'module':<{width}}  " + "  ".join(f"{o:>7}" for o in OUTCOMES)
    lines += [header, "-" * len(header)]
    totals = collections.Counter()
    for module in sorted(per_module):
        counts = collections.Counter(r["outcome"] for r in per_module[module].values())
        totals.update(counts)
        lines.append(f"{module:<{width}}  " + "  ".join(f"{counts[o]:>7}" for o in OUTCOMES))
    lines += ["-" * len(header),
              f"{'TOTAL':<{width}}  " + "  ".join(f"{totals[o]:>7}" for o in OUTCOMES), ""]
    lines.append("excluded modules: " + ", ".join(f"{m} ({EXCLUDED[m]})" for m in
                                                   sorted(EXCLUDED)))
    if skipped_modules:
        lines.append("not run (total timeout): " + ", ".join(skipped_modules))
    lines.append("harness stubs (gzmq lacks these modules): " + (", ".join(stubs) or "none"))
    lines += ["", "failures and errors:"]
    groups: dict[str, list[str]] = collections.defaultdict(list)
    for module in sorted(per_module):
        for node, result in sorted(per_module[module].items()):
            if result["outcome"] in ("failed", "error"):
                first = (result["message"].strip().splitlines() or [""])[0]
                lines.append(f"  {result['outcome'].upper():6} {node}: {first[:200]}")
                groups[signature(result["message"])].append(node)
    lines += ["", "grouped by message:"]
    for sig, nodes in sorted(groups.items(), key=lambda item: -len(item[1])):
        lines.append(f"  [{len(nodes)}] {sig}")
        for node in nodes[:6]:
            lines.append(f"        {node}")
        if len(nodes) > 6:
            lines.append(f"        ... and {len(nodes) - 6} more")
    return "\n".join(lines)


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--git-dir", default=DEFAULT_GIT_DIR,
                        help="a (bare) clone of pyzmq (default: %(default)s)")
    parser.add_argument("--tag", default=DEFAULT_TAG, help="default: %(default)s")
    parser.add_argument("--tests-dir", help="an existing export (holds tests/ and pytest.ini)")
    parser.add_argument("--only", nargs="*", default=None, metavar="MODULE",
                        help="run only these modules (file names, e.g. test_socket.py)")
    parser.add_argument("--test-timeout", type=int, default=30, metavar="S")
    parser.add_argument("--module-timeout", type=float, default=300.0, metavar="S")
    parser.add_argument("--total-timeout", type=float, default=1800.0, metavar="S")
    parser.add_argument("--max-hangs", type=int, default=5,
                        help="re-runs of a module after hung tests (default: %(default)s)")
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    parser.add_argument("--keep", action="store_true", help="keep the exported tests")
    args = parser.parse_args(argv)

    start = time.monotonic()
    deadline = start + args.total_timeout
    if args.tests_dir:
        root, temporary = os.path.abspath(args.tests_dir), None
    else:
        temporary = tempfile.mkdtemp(prefix="pyzmq-suite-")
        root = temporary
        export_tests(args.git_dir, args.tag, root)
    try:
        with open(os.path.join(root, PLUGIN_NAME + ".py"), "w") as f:
            f.write(PLUGIN)
        modules = sorted(name for name in os.listdir(os.path.join(root, "tests"))
                         if name.startswith("test_") and name.endswith(".py"))
        chosen = [m for m in modules if m not in EXCLUDED and (args.only is None or
                                                                m in args.only)]
        print(f"pyzmq {args.tag if not args.tests_dir else root}: {len(chosen)} modules to "
              f"run, {len(EXCLUDED)} excluded; tests from {root}", flush=True)
        per_module: dict[str, dict[str, dict[str, str]]] = {}
        stubs: list[str] = []
        not_run = []
        for module in chosen:
            if time.monotonic() > deadline:
                not_run.append(module)
                continue
            t0 = time.monotonic()
            results, hung, module_stubs = run_module(root, module, args, deadline)
            stubs = sorted(set(stubs) | set(module_stubs))
            per_module[module] = results
            counts = collections.Counter(r["outcome"] for r in results.values())
            print(f"  {module}: " + ", ".join(f"{counts[o]} {o}" for o in OUTCOMES) +
                  (f", hung: {len(hung)}" if hung else "") +
                  f" ({time.monotonic() - t0:.0f} s)", flush=True)
        text = report(per_module, stubs, not_run)
        print()
        print(text)
        print(f"\n(total {time.monotonic() - start:.0f} s)")
        if args.json:
            with open(args.json, "w") as f:
                json.dump({"tag": args.tag, "modules": per_module, "stubs": stubs,
                           "excluded": EXCLUDED, "not_run": not_run}, f, indent=1)
    finally:
        if temporary is not None and not args.keep:
            shutil.rmtree(temporary, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
