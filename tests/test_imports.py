"""gzmq's modules import each other without cycles and without patching each other.

- The import graph of gzmq's own modules, read from their source, has no cycle. Imports at
  module level count, and so do imports inside functions (a lazy import only hides a cycle
  until the function runs), except the few in ``LAZY_CYCLES``, each with the reason it stays.
  Importing ``gzmq.a.b`` also runs ``gzmq/a/__init__.py``, so it counts as importing ``gzmq.a``
  too (unless the importer is inside ``gzmq.a``, which is then being imported already).
- No module assigns to an attribute of something it imported, at import time (as ``poll.py``
  once set ``Socket._poller_class``): who imports whom must not change what a class does.
- Every module imports in a fresh interpreter, whatever was imported before it, in a few
  random orders (seeded; the failing seed is in the assertion message).
"""

from __future__ import annotations

import ast
import os
import random
import subprocess
import sys
from pathlib import Path
from typing import Iterator, Optional

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "gzmq"

#: (importer, imported) lazy imports that close a cycle, and why each stays lazy
LAZY_CYCLES = {
    ("gzmq.socket", "gzmq.context"):
        "Socket(None, type) uses Context.instance(), as pyzmq allows; the Context makes "
        "sockets (Context._socket_class is pyzmq's hook), so one of the two must be lazy",
    ("gzmq.context", "gzmq.threaded"):
        "Context() returns a ThreadedContext (a subclass) in io_mode 'thread', so Context "
        "must name its own subclass when it is instantiated",
}

#: modules that are not meant to be imported as gzmq.x (the stand-in ``zmq`` package that
#: gzmq.monkey puts on a subprocess's PYTHONPATH replaces itself when imported)
NOT_IMPORTABLE = ("gzmq.cli._zmq_shim.zmq",)


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def is_package(name: str) -> bool:
    return MODULES[name].name == "__init__.py"


def _resolve(importer: str, level: int, module: Optional[str]) -> str:
    """The absolute name of ``from <level dots><module> import ...`` in ``importer``."""
    if level == 0:
        return module or ""
    base = importer.split(".")
    if not is_package(importer):
        base.pop()
    base = base[: len(base) - (level - 1)]
    return ".".join(base + ([module] if module else []))


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(tree: ast.AST, lazy: bool = False) -> Iterator[tuple[ast.stmt, bool]]:
    """Every import statement, and whether it runs only when a function is called."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and _is_type_checking(node):
            continue  # never runs
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node, lazy
        inner = lazy or isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
        yield from _imports(node, inner)


def _targets(importer: str, node: ast.stmt) -> Iterator[str]:
    """The gzmq modules an import statement imports (with the packages it runs on the way)."""
    names: list[str] = []
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    elif isinstance(node, ast.ImportFrom):
        base = _resolve(importer, node.level, node.module)
        names = [base]
        names += [f"{base}.{alias.name}" for alias in node.names
                  if f"{base}.{alias.name}" in MODULES]  # ``from . import inproc``
    for name in names:
        if name != "gzmq" and not name.startswith("gzmq."):
            continue
        parts = name.split(".")
        for end in range(2, len(parts) + 1):  # gzmq.a, gzmq.a.b, ...: each __init__ runs
            prefix = ".".join(parts[:end])
            if prefix in MODULES and not (importer + ".").startswith(prefix + "."):
                yield prefix


def import_graph() -> dict[str, dict[str, bool]]:
    """{importer: {imported: lazy?}}; an edge is lazy only if every import of it is."""
    graph: dict[str, dict[str, bool]] = {name: {} for name in MODULES}
    for name, path in MODULES.items():
        tree = ast.parse(path.read_text(), str(path))
        for node, lazy in _imports(tree):
            for target in _targets(name, node):
                if target != name:
                    graph[name][target] = graph[name].get(target, True) and lazy
    return graph


def cycles(graph: dict[str, dict[str, bool]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_graph_is_read_right() -> None:
    """The parser sees what these modules import, so an empty result below means something."""
    graph = import_graph()
    assert graph["gzmq.socket"]["gzmq.options"] is False
    assert graph["gzmq.socket"]["gzmq.context"] is True  # lazy, in Socket.__init__
    assert "gzmq.transports" in graph["gzmq.context"]  # via ``from .transports import ...``
    assert "gzmq.transports.inproc" in graph["gzmq.transports"]  # ``from . import inproc``
    assert "gzmq.transports" not in graph["gzmq.transports.tcp"]  # its own package
    assert graph["gzmq.zmtp.connection"]["gzmq.zmtp.codec"] is False
    assert not any(target.startswith("gzmq") for target in graph["gzmq.constants"])


def test_no_import_cycles() -> None:
    graph = import_graph()
    for importer, target in LAZY_CYCLES:
        assert graph[importer].get(target) is True, \
            f"{importer} -> {target} is listed in LAZY_CYCLES but is not a lazy import"
        del graph[importer][target]
    assert cycles(graph) == []


def test_allowed_lazy_imports_do_close_a_cycle() -> None:
    """An entry of LAZY_CYCLES that no longer closes a cycle should go (and its import move
    to the top of its module)."""
    for importer, target in LAZY_CYCLES:
        graph = import_graph()
        others = {edge for edge in LAZY_CYCLES if edge != (importer, target)}
        for a, b in others:
            del graph[a][b]
        assert any(importer in c and target in c for c in cycles(graph)), (importer, target)


def _imported_names(tree: ast.Module) -> set[str]:
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.Import):
            names.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            names.update(alias.asname or alias.name for alias in node.names)
    return names


def _module_level(tree: ast.Module) -> Iterator[ast.AST]:
    """Statements that run at import: not those inside functions."""
    todo: list[ast.AST] = list(tree.body)
    while todo:
        node = todo.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        yield node
        for field in ("body", "orelse", "finalbody", "handlers"):
            todo.extend(getattr(node, field, None) or [])


def test_no_module_patches_what_it_imports() -> None:
    offences = []
    for name, path in MODULES.items():
        tree = ast.parse(path.read_text(), str(path))
        imported = _imported_names(tree)
        for node in _module_level(tree):
            targets: list[ast.expr] = []
            if isinstance(node, ast.Assign):
                targets = node.targets
            elif isinstance(node, (ast.AugAssign, ast.AnnAssign)):
                targets = [node.target]
            for target in targets:
                while isinstance(target, (ast.Attribute, ast.Subscript)):
                    target = target.value
                    if isinstance(target, ast.Name) and target.id in imported:
                        offences.append(f"{name}:{target.lineno}: {ast.unparse(node)[:80]}")
    assert offences == []


def _import_orders(seed: int) -> list[str]:
    names = [n for n in MODULES if not n.startswith(NOT_IMPORTABLE)]
    random.Random(seed).shuffle(names)
    return names


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_every_module_imports_in_any_order(seed: int) -> None:
    order = _import_orders(seed)
    script = ("import importlib, sys\n"
              f"for name in {order!r}:\n"
              "    importlib.import_module(name)\n")
    env = dict(os.environ, GZMQ_PATCH_ZMQ="")
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, f"seed {seed}: {result.stderr[-2000:]}"


@pytest.mark.parametrize("name", ["gzmq.poll", "gzmq.options", "gzmq.transports.stream",
                                  "gzmq.transports.tcp", "gzmq.transports.inproc",
                                  "gzmq.monitor", "gzmq.utils.monitor", "gzmq.socket",
                                  "gzmq.context", "gzmq.routing"])
def test_core_module_imports_first(name: str) -> None:
    """The modules whose import order once mattered import cleanly on their own, first."""
    result = subprocess.run(
        [sys.executable, "-c", f"import {name}, gzmq; assert gzmq.Socket._poller_class is "
                               "gzmq.Poller"],
        cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr[-2000:]
