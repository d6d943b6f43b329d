"""Make ``import zmq`` mean gzmq: run pyzmq / ``zmq.green`` programs unmodified.

``patch_zmq()`` installs an import hook (a ``sys.meta_path`` finder) that answers every
``zmq`` and ``zmq.<sub>`` import with the gzmq module of the same name: ``zmq`` is ``gzmq``,
``zmq.green`` is ``gzmq.green``, ``zmq.devices`` is ``gzmq.devices`` and so on, the very same
module objects, so ``zmq.Context is gzmq.Context``. A submodule gzmq does not have (say
``zmq.asyncio``) fails to import with ModuleNotFoundError, as a missing module would; it is
never taken from pyzmq, even when pyzmq is installed.

Call it before the program imports zmq. If pyzmq was imported already, ``patch_zmq`` warns
(RuntimeWarning) and drops pyzmq's modules from ``sys.modules``, so that *later* imports get
gzmq; references the program already holds keep pointing at pyzmq.

It composes with ``gevent.monkey.patch_all()`` in either order: gzmq needs no patching to be
cooperative, and patch_all is only needed for code that blocks in the standard library (real
threads, ``time.sleep``). With gzmq's gevent plugin installed (the entry point
``gevent.plugins.monkey.did_patch_builtins = gzmq = gzmq.monkey:_gevent_did_patch_builtins``),
``gevent.monkey.patch_all(gzmq=True)``, or ``patch_all()`` with ``GZMQ_PATCH_ZMQ=1`` in the
environment, also calls ``patch_zmq()``.

Subprocesses: ``patch_zmq(subprocesses=True)`` (what ``python -m gzmq.run`` does) also sets
``GZMQ_PATCH_ZMQ=1`` and puts a directory holding a stand-in ``zmq`` package first on
``PYTHONPATH``. Any Python process started from then on, with the inherited environment, that
imports zmq gets that stand-in, which calls ``patch_zmq()`` and hands back gzmq. An
interpreter that cannot import gzmq, or a child whose environment has
``GZMQ_PATCH_ZMQ`` emptied or ``0``, gets the real zmq instead (the stand-in steps aside). No
``sitecustomize`` or ``.pth`` file is involved, and nothing happens until zmq is imported.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import os
import site
import sys
import sysconfig
import warnings
from types import ModuleType
from typing import Any, Optional, Sequence

__all__ = ["patch_zmq", "is_zmq_patched", "export_to_subprocesses", "ENV_FLAG",
           "shim_directory"]

#: the environment variable that asks for zmq → gzmq (in subprocesses, and for the plugin)
ENV_FLAG = "GZMQ_PATCH_ZMQ"
_ALIAS = "zmq"
_TARGET = "gzmq"


def _flag_set(value: Optional[str]) -> bool:
    return value is not None and value.strip() not in ("", "0", "false", "no", "off")


def _is_alias_name(fullname: str) -> bool:
    return fullname == _ALIAS or fullname.startswith(_ALIAS + ".")


class _AliasLoader(importlib.abc.Loader):
    """Hands the import system an already-imported gzmq module instead of a new one."""

    def __init__(self, module: ModuleType) -> None:
        self.module = module
        self.spec = module.__spec__

    def create_module(self, spec: Any) -> ModuleType:
        return self.module

    def exec_module(self, module: ModuleType) -> None:
        # the import system stamped the alias's spec on the module: give gzmq's back (its
        # spec must keep naming gzmq.x, for pickle, reload, -m and importlib.resources)
        module.__spec__ = self.spec

    # for runpy: ``python -m zmq.curve_keygen`` runs gzmq/curve_keygen.py as __main__
    def get_code(self, fullname: str) -> Any:
        return self.spec.loader.get_code(self.spec.name)

    def get_source(self, fullname: str) -> Any:
        return self.spec.loader.get_source(self.spec.name)

    def is_package(self, fullname: str) -> bool:
        return hasattr(self.module, "__path__")


class _ZmqAliasFinder(importlib.abc.MetaPathFinder):
    """``zmq[.x]`` → the module ``gzmq[.x]``."""

    def find_spec(self, fullname: str, path: Optional[Sequence[str]] = None,
                  target: Optional[ModuleType] = None) -> Any:
        if not _is_alias_name(fullname):
            return None
        real_name = "g" + fullname
        try:
            module = importlib.import_module(real_name)
        except ModuleNotFoundError as e:
            missing = e.name or ""
            if real_name == missing or real_name.startswith(missing + "."):
                raise ModuleNotFoundError(
                    f"No module named {fullname!r} (zmq is gzmq here, and gzmq has no "
                    f"{real_name!r})", name=fullname) from None
            raise  # something gzmq.x itself needs is missing: say what
        return importlib.util.spec_from_loader(fullname, _AliasLoader(module),
                                               is_package=hasattr(module, "__path__"))

    def __repr__(self) -> str:
        return "<gzmq.monkey zmq alias finder>"


_FINDER = _ZmqAliasFinder()


def is_zmq_patched() -> bool:
    """Whether ``import zmq`` gives gzmq in this process."""
    return any(isinstance(finder, _ZmqAliasFinder) for finder in sys.meta_path)


def _drop_loaded_pyzmq() -> None:
    loaded = [name for name in sys.modules if _is_alias_name(name)]
    stand_in = sys.modules.get(_ALIAS)
    if stand_in is not None and getattr(stand_in, "__gzmq_shim__", False):
        del sys.modules[_ALIAS]  # our own stand-in, mid-import: not pyzmq
        loaded.remove(_ALIAS)
    foreign = [name for name in loaded
               if not getattr(sys.modules[name], "__name__", "").startswith(_TARGET)]
    if foreign:
        warnings.warn(
            "gzmq.monkey.patch_zmq(): pyzmq was imported before zmq was patched; from now on "
            "'import zmq' gives gzmq, but objects taken from pyzmq before keep using it. "
            "Call patch_zmq() (or run under 'python -m gzmq.run') before importing zmq.",
            RuntimeWarning, stacklevel=3)
        for name in foreign:
            del sys.modules[name]


def patch_zmq(subprocesses: bool = False) -> None:
    """Make ``import zmq`` (and every ``zmq.x``) import gzmq; idempotent.

    ``subprocesses=True`` also exports the aliasing to Python processes started from now
    on (see ``export_to_subprocesses``)."""
    if not is_zmq_patched():
        _drop_loaded_pyzmq()
        gzmq = importlib.import_module(_TARGET)
        sys.meta_path.insert(0, _FINDER)
        sys.modules[_ALIAS] = gzmq
        # gzmq submodules imported already are zmq.x already (import finds them directly)
        for name, module in list(sys.modules.items()):
            if name.startswith(_TARGET + ".") and module is not None:
                sys.modules.setdefault(name[1:], module)
    if subprocesses:
        export_to_subprocesses()


def shim_directory() -> str:
    """The directory whose ``zmq`` package stands in for pyzmq in subprocesses."""
    return os.path.join(os.path.dirname(os.path.abspath(__file__)), "cli", "_zmq_shim")


def _default_import_dirs() -> set[str]:
    """Where this interpreter finds installed packages without any PYTHONPATH."""
    dirs = set(site.getsitepackages()) if hasattr(site, "getsitepackages") else set()
    if site.ENABLE_USER_SITE:
        dirs.add(site.getusersitepackages())
    for key in ("purelib", "platlib"):
        dirs.add(sysconfig.get_paths()[key])
    return {os.path.realpath(d) for d in dirs}


def export_to_subprocesses(environ: Optional[dict[str, str]] = None) -> dict[str, str]:
    """Set up ``environ`` (default ``os.environ``) so that Python subprocesses get zmq → gzmq:
    ``GZMQ_PATCH_ZMQ=1``, the stand-in's directory first on ``PYTHONPATH``, and gzmq's own
    parent directory too when gzmq does not come from site-packages (a checkout)."""
    env = os.environ if environ is None else environ
    env[ENV_FLAG] = "1"
    entries = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    wanted = [shim_directory()]
    package_parent = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    if os.path.realpath(package_parent) not in _default_import_dirs():
        wanted.append(package_parent)
    entries = wanted + [p for p in entries if p not in wanted]
    env["PYTHONPATH"] = os.pathsep.join(entries)
    if environ is None:
        # multiprocessing's spawn and forkserver children take this process's sys.path, not
        # PYTHONPATH: the stand-in must be there too, ahead of site-packages (after
        # sys.path[0], the program's own directory). Here it is inert: the finder comes first.
        shim = shim_directory()
        if shim not in sys.path:
            sys.path.insert(1 if sys.path else 0, shim)
    return env


def _gevent_did_patch_builtins(event: Any) -> None:
    """gevent plugin (entry point ``gevent.plugins.monkey.did_patch_builtins``): alias zmq
    when asked by ``patch_all(gzmq=True)`` or ``GZMQ_PATCH_ZMQ=1``."""
    kwargs = getattr(event, "patch_all_kwargs", None) or {}
    if kwargs.get("gzmq") or _flag_set(os.environ.get(ENV_FLAG)):
        patch_zmq()
