"""Running pyzmq / zmq.green programs unmodified: ``python -m gzmq.run``, ``gzmq.monkey``
(in-process, with gevent's patch_all, via gevent's plugin entry point, and in subprocesses),
plus the small compatibility modules gzmq.utils.strtypes and gzmq.ssh.tunnel.

Every aliasing test runs in a subprocess (pyzmq is installed here and the rest of the suite
uses it as the libzmq oracle, so this process must keep its real ``zmq``)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
import warnings

import gevent.subprocess
import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHIM = os.path.join(REPO, "gzmq", "cli", "_zmq_shim")
LIMIT = 60


def run(args, env=None, cwd=REPO, timeout=LIMIT, code=None):
    """Run ``python <args>`` (cooperatively, bounded); return the CompletedProcess."""
    base = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "GZMQ_PATCH_ZMQ")}
    base["PYTHONPATH"] = REPO
    base.update(env or {})
    cmd = [sys.executable, *args]
    if code is not None:
        cmd += ["-c", textwrap.dedent(code)]
    return gevent.subprocess.run(cmd, cwd=cwd, env=base, capture_output=True, text=True,
                                 timeout=timeout)


def ok(proc):
    assert proc.returncode == 0, f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


# --- the example, end to end ---------------------------------------------------------------

def test_green_legacy_app_runs_unmodified_on_gzmq():
    out = ok(run(["-m", "gzmq.run", "examples/green_legacy_app.py"]))
    lines = out.splitlines()
    marker = "zmq.__name__=gzmq.green Context.__module__=gzmq.context"
    assert f"parent: {marker}" in lines
    assert f"subprocess: {marker}" in lines  # the child process was aliased too
    assert "subprocess: ok 5 answers" in lines
    assert lines[-1] == "green_legacy_app: ok"
    assert any(line.startswith("parent: 20 answers checked, workers did 25 jobs") for line
               in lines)


# --- python -m gzmq.run ----------------------------------------------------------------------

ALL_MODULES = ["zmq", "zmq.green", "zmq.devices", "zmq.log.handlers", "zmq.utils.monitor",
               "zmq.auth", "zmq.auth.thread", "zmq.constants", "zmq.error", "zmq.decorators",
               "zmq.utils.strtypes", "zmq.ssh.tunnel", "zmq.utils.z85", "zmq.auth.certs",
               "zmq.curve_keygen", "zmq.log"]


def test_every_listed_submodule_is_the_gzmq_module():
    code = f"""
        import importlib, sys
        for name in {ALL_MODULES!r}:
            module = importlib.import_module(name)
            assert module is importlib.import_module("g" + name), name
            assert module.__name__ == "g" + name and module.__spec__.name == "g" + name, name
        import zmq, zmq.green
        assert zmq.Context is zmq.green.Context and zmq.Context.__module__ == "gzmq.context"
        from zmq.devices import ThreadDevice
        from zmq.log.handlers import PUBHandler
        from zmq.utils.monitor import recv_monitor_message
        from zmq.auth.thread import ThreadAuthenticator
        for missing in ("zmq.eventloop", "zmq.asyncio", "zmq.green.eventloop"):
            try:
                importlib.import_module(missing)
            except ModuleNotFoundError as e:
                assert e.name == missing, e.name
            else:
                raise AssertionError(missing + " should be absent")
        assert "pyzmq" not in repr(sys.modules.get("zmq"))
        print("all aliased")
        """
    assert ok(run(["-m", "gzmq.run", "-c", textwrap.dedent(code)])).strip() == "all aliased"


def test_run_passes_argv_exit_status_and_tracebacks(tmp_path):
    script = tmp_path / "app.py"
    script.write_text(textwrap.dedent("""
        import sys, zmq
        print(zmq.__name__, sys.argv)
        if sys.argv[1] == "fail":
            raise RuntimeError("boom")
        sys.exit(int(sys.argv[2]))
        """))
    proc = run(["-m", "gzmq.run", str(script), "exit", "3"])
    assert proc.returncode == 3
    assert proc.stdout.strip() == f"gzmq [{str(script)!r}, 'exit', '3']"
    proc = run(["-m", "gzmq.run", str(script), "fail"])
    assert proc.returncode == 1 and "RuntimeError: boom" in proc.stderr
    proc = run(["-m", "gzmq.run", str(tmp_path / "missing.py")])
    assert proc.returncode == 2 and "can't open file" in proc.stderr
    proc = run(["-m", "gzmq.run", "--bogus", str(script)])
    assert proc.returncode == 2 and "unknown option" in proc.stderr
    proc = run(["-m", "gzmq.run"])
    assert proc.returncode == 2 and "usage:" in proc.stderr
    assert "--patch-all" in ok(run(["-m", "gzmq.run", "--help"]))


def test_run_module_mode(tmp_path):
    pkg = tmp_path / "legacyapp"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "__main__.py").write_text("import sys, zmq.green as zmq\n"
                                     "print(zmq.__name__, sys.argv[1:])\n")
    out = ok(run(["-m", "gzmq.run", "-m", "legacyapp", "x"], cwd=str(tmp_path)))
    assert out.strip() == "gzmq.green ['x']"


def test_subprocesses_get_the_alias_from_a_checkout_in_another_directory(tmp_path):
    """gzmq found only through the current directory (a checkout, no PYTHONPATH): the child,
    started elsewhere, still gets gzmq, because gzmq.run exports the checkout's path too."""
    code = f"""
        import subprocess, sys
        out = subprocess.run([sys.executable, "-c", "import zmq; print(zmq.__name__)"],
                             cwd={str(tmp_path)!r}, capture_output=True, text=True, timeout=30)
        print("child:", out.stdout.strip(), out.stderr.strip())
        """
    out = ok(run(["-m", "gzmq.run", "-c", textwrap.dedent(code)], env={"PYTHONPATH": ""}))
    assert out.strip() == "child: gzmq"


def test_no_subprocesses_and_opt_out_give_children_the_real_zmq():
    child = "import zmq; print(zmq.__name__, 'site-packages' in zmq.__file__)"
    code = f"""
        import os, subprocess, sys
        import zmq
        env = dict(os.environ)
        env["GZMQ_PATCH_ZMQ"] = "0"
        for e in (None, env):
            out = subprocess.run([sys.executable, "-c", {child!r}], env=e,
                                 capture_output=True, text=True, timeout=30)
            print(zmq.__name__, "->", out.stdout.strip() or out.stderr)
        """
    lines = ok(run(["-m", "gzmq.run", "-c", textwrap.dedent(code)])).splitlines()
    assert lines == ["gzmq -> gzmq False", "gzmq -> zmq True"]
    lines = ok(run(["-m", "gzmq.run", "--no-subprocesses", "-c",
                    textwrap.dedent(code)])).splitlines()
    assert lines[0] == "gzmq -> zmq True"


def test_multiprocessing_spawn_child_is_aliased(tmp_path):
    script = tmp_path / "spawner.py"
    script.write_text(textwrap.dedent("""
        import multiprocessing as mp
        import zmq

        def child(q):
            import zmq
            q.put(zmq.__name__)

        if __name__ == "__main__":
            ctx = mp.get_context("spawn")
            q = ctx.Queue()
            p = ctx.Process(target=child, args=(q,))
            p.start()
            print("parent", zmq.__name__, "child", q.get(timeout=30))
            p.join(30)
        """))
    out = ok(run(["-m", "gzmq.run", str(script)]))
    assert out.strip() == "parent gzmq child gzmq"


def test_stand_in_steps_aside_when_gzmq_cannot_be_imported():
    """Another interpreter (simulated: gzmq made unimportable) gets the real pyzmq."""
    code = """
        import sys, importlib.abc
        class NoGzmq(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path=None, target=None):
                if name == "gzmq" or name.startswith("gzmq."):
                    raise ModuleNotFoundError("no gzmq here", name=name)
        sys.meta_path.insert(0, NoGzmq())
        import zmq, zmq.green
        print(zmq.__name__, hasattr(zmq, "__gzmq_shim__"), zmq.green.Context.__module__)
        print(any("_zmq_shim" in p for p in sys.path))
        """
    out = ok(run([], env={"PYTHONPATH": SHIM, "GZMQ_PATCH_ZMQ": "1"}, code=code))
    assert out.splitlines() == ["zmq False zmq.green.core", "False"]


# --- gzmq.monkey in-process ------------------------------------------------------------------

def test_patch_zmq_with_patch_all_in_either_order_threads_are_greenlets():
    template = """
        from gevent import monkey
        import gzmq.monkey
        {first}
        {second}
        import threading, zmq
        ctx = zmq.Context()
        rep, req = ctx.socket(zmq.REP), ctx.socket(zmq.REQ)
        port = rep.bind_to_random_port("tcp://127.0.0.1")
        req.connect(f"tcp://127.0.0.1:{{port}}")
        def serve():
            for _ in range(3):
                rep.send(rep.recv().upper())
        t = threading.Thread(target=serve)
        t.start()
        got = []
        for word in (b"a", b"b", b"c"):
            req.send(word)
            got.append(req.recv())
        t.join(5)
        print(zmq.__name__, got, monkey.is_module_patched("threading"), gzmq.monkey.is_zmq_patched())
        ctx.destroy(linger=0)
        """
    for first, second in (("monkey.patch_all()", "gzmq.monkey.patch_zmq()"),
                          ("gzmq.monkey.patch_zmq()", "monkey.patch_all()")):
        out = ok(run([], code=template.format(first=first, second=second)))
        assert out.strip() == "gzmq [b'A', b'B', b'C'] True True", (first, out)


def test_patch_zmq_after_pyzmq_was_imported_warns_and_later_imports_get_gzmq():
    code = """
        import warnings
        import zmq as early
        import zmq.green
        import gzmq.monkey
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            gzmq.monkey.patch_zmq()
            gzmq.monkey.patch_zmq()  # idempotent: no second warning
        import zmq, zmq.green
        print(early.__name__, zmq.__name__, zmq.green.__name__)
        print([str(w.category.__name__) for w in caught])
        """
    out = ok(run([], code=code)).splitlines()
    assert out == ["zmq gzmq gzmq.green", "['RuntimeWarning']"]


def test_patch_zmq_in_fresh_process_has_no_warning_and_submodules_alias():
    code = """
        import warnings
        warnings.simplefilter("error")
        import gzmq.devices  # a gzmq submodule imported before patching
        import gzmq.monkey
        gzmq.monkey.patch_zmq()
        import zmq.devices, zmq.green
        print(zmq.devices is gzmq.devices, zmq.green.device is zmq.device)
        """
    assert ok(run([], code=code)).split() == ["True", "True"]


def test_export_to_subprocesses_environment(tmp_path):
    from gzmq import monkey
    env = monkey.export_to_subprocesses({"PYTHONPATH": os.pathsep.join(["/a", "/b"])})
    parts = env["PYTHONPATH"].split(os.pathsep)
    assert env[monkey.ENV_FLAG] == "1"
    assert parts[0] == monkey.shim_directory() == SHIM
    assert parts[-2:] == ["/a", "/b"]
    again = monkey.export_to_subprocesses(dict(env))
    assert again["PYTHONPATH"] == env["PYTHONPATH"]  # idempotent, no duplicates


def test_gevent_plugin_entry_point(tmp_path):
    """The entry point given for setup.cfg, installed as a dist-info on the path: patch_all()
    aliases zmq only when asked (patch_all(gzmq=True) or GZMQ_PATCH_ZMQ=1)."""
    dist = tmp_path / "gzmq_plugin_probe-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: gzmq-plugin-probe\n"
                                   "Version: 1.0\n")
    (dist / "entry_points.txt").write_text(
        "[gevent.plugins.monkey.did_patch_builtins]\n"
        "gzmq = gzmq.monkey:_gevent_did_patch_builtins\n")
    path = os.pathsep.join([str(tmp_path), REPO])
    code = """
        import sys
        from gevent import monkey
        monkey.patch_all(**eval(sys.argv[1]))
        import zmq
        print(zmq.__name__)
        """
    assert ok(run(["-c", textwrap.dedent(code), "{'gzmq': True}"],
                  env={"PYTHONPATH": path})).strip() == "gzmq"
    assert ok(run(["-c", textwrap.dedent(code), "{}"],
                  env={"PYTHONPATH": path})).strip() == "zmq"
    assert ok(run(["-c", textwrap.dedent(code), "{}"],
                  env={"PYTHONPATH": path, "GZMQ_PATCH_ZMQ": "1"})).strip() == "gzmq"


# --- gzmq.utils.strtypes ---------------------------------------------------------------------

def test_strtypes():
    from gzmq.utils import strtypes
    assert strtypes.bytes is bytes and strtypes.unicode is str and strtypes.basestring == (str,)
    with pytest.warns(DeprecationWarning):
        assert strtypes.cast_bytes("é") == "é".encode()
    with pytest.warns(DeprecationWarning):
        assert strtypes.cast_bytes("é", "latin-1") == b"\xe9"
    with pytest.warns(DeprecationWarning):
        assert strtypes.cast_unicode(b"\xc3\xa9") == "é"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        assert strtypes.b(b"x") == b"x" and strtypes.u("y") == "y"
        assert strtypes.asbytes is strtypes.cast_bytes
        with pytest.raises(TypeError):
            strtypes.cast_bytes(3)
        with pytest.raises(TypeError):
            strtypes.cast_unicode(None)
        assert strtypes.cast_unicode(b"\xff", errors="replace") == "\ufffd"


# --- gzmq.ssh.tunnel -------------------------------------------------------------------------

def test_select_random_ports_are_distinct_and_free():
    from gzmq.ssh.tunnel import select_random_ports
    ports = select_random_ports(5)
    assert len(set(ports)) == 5
    for port in ports:
        with socket.socket() as probe:
            probe.bind(("", port))


def test_tunnel_api_without_pexpect_or_paramiko(monkeypatch):
    from gzmq.ssh import tunnel
    monkeypatch.setattr(tunnel, "pexpect", None)
    monkeypatch.setattr(tunnel, "paramiko", None)
    assert set(tunnel.__all__) == {"tunnel_connection", "ssh_tunnel", "openssh_tunnel",
                                   "paramiko_tunnel", "try_passwordless_ssh"}
    with pytest.raises(ImportError, match="pexpect unavailable, use paramiko_tunnel"):
        tunnel.openssh_tunnel(1, 2, "host")
    with pytest.raises(ImportError, match="pexpect unavailable, use paramiko"):
        tunnel.try_passwordless_ssh("host", None, paramiko=False)
    with pytest.raises(ImportError, match="Paramiko not available"):
        tunnel.paramiko_tunnel(1, 2, "host")
    with pytest.raises(ImportError, match="Paramiko unavailable"):
        tunnel.try_passwordless_ssh("host", None, paramiko=True)
    with pytest.raises(ImportError):
        tunnel.open_tunnel("tcp://10.0.0.1:5555", "host", paramiko=True)
    with pytest.raises(ValueError, match="only tcp"):
        tunnel.open_tunnel("ipc:///tmp/x", "host")
    assert issubclass(tunnel.SSHException, Exception)


def test_tunnel_without_the_ssh_command(monkeypatch):
    from gzmq.ssh import tunnel
    monkeypatch.setattr(tunnel, "pexpect", object())  # pexpect "installed"
    monkeypatch.setenv("PATH", "")
    with pytest.raises(FileNotFoundError, match="'ssh' is not on PATH"):
        tunnel.openssh_tunnel(1, 2, "host")
    with pytest.raises(FileNotFoundError):
        tunnel.try_passwordless_ssh("host", None, paramiko=False)


def test_split_server():
    from gzmq.ssh.tunnel import _split_server
    assert _split_server("alice@example.org:2222") == ("alice", "example.org", 2222)
    user, host, port = _split_server("example.org")
    assert host == "example.org" and port == 22 and user


def test_python_dash_m_on_zmq_modules_runs_the_gzmq_ones():
    """``python -m zmq.curve_keygen`` / ``python -m zmq.log`` in an aliased subprocess."""
    code = """
        import json, subprocess, sys
        keys = subprocess.run([sys.executable, "-m", "zmq.curve_keygen", "--json"],
                              capture_output=True, text=True, timeout=30)
        print(sorted(json.loads(keys.stdout)))
        log = subprocess.run([sys.executable, "-m", "zmq.log", "--help"],
                             capture_output=True, text=True, timeout=30)
        print(log.returncode, log.stdout.split()[1:4])
        """
    lines = ok(run(["-m", "gzmq.run", "-c", textwrap.dedent(code)])).splitlines()
    assert lines == ["['public', 'secret']", "0 ['python', '-m', 'gzmq.log']"]
