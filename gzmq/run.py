"""``python -m gzmq.run [options] (script.py | -m module | -c code) [args...]``

Runs a program written for pyzmq or ``zmq.green``, unmodified, on gzmq: before the program
starts, ``gzmq.monkey.patch_zmq(subprocesses=True)`` makes ``import zmq``, ``import
zmq.green`` and their submodules import gzmq, in this process and in every Python subprocess
it starts (through ``GZMQ_PATCH_ZMQ`` and ``PYTHONPATH``; see gzmq.monkey).

Options (before the program):

  --patch-all        call ``gevent.monkey.patch_all()`` first, for programs that block in
                     the standard library (OS threads, time.sleep, queue.Queue); programs
                     written for zmq.green usually do this themselves
  --no-subprocesses  alias zmq in this process only; children get the real zmq
  -h, --help         this text

The program sees ``sys.argv`` as if it had been started directly; its exit status is this
command's exit status.
"""

from __future__ import annotations

import os
import runpy
import sys
import types
from typing import Optional, Sequence

__all__ = ["main", "run_program"]

USAGE = ("usage: python -m gzmq.run [--patch-all] [--no-subprocesses] "
         "(script.py | -m module | -c code) [args...]")


class _UsageError(Exception):
    pass


def _parse(argv: list[str]) -> tuple[dict[str, bool], str, str, list[str]]:
    """→ (options, kind ('path'|'module'|'code'), target, program arguments)."""
    options = {"patch_all": False, "subprocesses": True}
    index = 0
    while index < len(argv):
        arg = argv[index]
        if arg in ("-h", "--help"):
            raise SystemExit(_help())
        if arg == "--patch-all":
            options["patch_all"] = True
        elif arg == "--no-subprocesses":
            options["subprocesses"] = False
        elif arg in ("-m", "-c"):
            if index + 1 >= len(argv):
                raise _UsageError(f"argument expected for the {arg} option")
            kind = "module" if arg == "-m" else "code"
            return options, kind, argv[index + 1], argv[index + 2:]
        elif arg == "--":
            index += 1
            break
        elif arg.startswith("-"):
            raise _UsageError(f"unknown option {arg!r}")
        else:
            break
        index += 1
    if index >= len(argv):
        raise _UsageError("no program to run")
    return options, "path", argv[index], argv[index + 1:]


def _help() -> int:
    print(USAGE + "\n\n" + (__doc__ or "").strip().split("\n\n", 1)[1])
    return 0


def run_program(kind: str, target: str, args: Sequence[str]) -> None:
    """Run the program as ``python script.py``/``-m module``/``-c code`` would, as __main__."""
    if kind == "path":
        sys.argv = [target, *args]
        sys.path[0] = os.path.dirname(os.path.abspath(target))
        runpy.run_path(target, run_name="__main__")
    elif kind == "module":
        sys.argv = [target, *args]  # runpy puts the module's path in argv[0]
        sys.path[0] = os.getcwd()
        runpy.run_module(target, run_name="__main__", alter_sys=True)
    else:
        sys.argv = ["-c", *args]
        sys.path[0] = ""
        main_module = types.ModuleType("__main__")
        main_module.__dict__["__builtins__"] = __builtins__
        sys.modules["__main__"] = main_module  # (this module's own globals stay as they are)
        exec(compile(target, "<string>", "exec"), main_module.__dict__)


def main(argv: Optional[Sequence[str]] = None) -> int:
    try:
        options, kind, target, args = _parse(list(sys.argv[1:] if argv is None else argv))
    except _UsageError as e:
        print(f"{USAGE}\npython -m gzmq.run: error: {e}", file=sys.stderr)
        return 2
    if kind == "path" and not os.path.exists(target):
        print(f"python -m gzmq.run: can't open file {target!r}: no such file", file=sys.stderr)
        return 2
    if options["patch_all"]:
        from gevent import monkey
        monkey.patch_all()
    from .monkey import patch_zmq
    patch_zmq(subprocesses=options["subprocesses"])
    run_program(kind, target, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
