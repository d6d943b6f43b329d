"""Bounded waits and receive helpers for tests/draft."""
from __future__ import annotations

from typing import Any, Callable

import gevent

import gzmq

#: bound on every "this must happen" wait (seconds)
WAIT = 5.0


def until(check: Callable[[], Any], timeout: float = WAIT, step: Callable[[], Any] = lambda: None,
          interval: float = 0.01) -> Any:
    """Call ``step`` then ``check`` until ``check`` returns something truthy (bounded)."""
    with gevent.Timeout(timeout, AssertionError(f"not within {timeout} s: {check}")):
        while True:
            step()
            result = check()
            if result:
                return result
            gevent.sleep(interval)


def try_recv(sock: Any, copy: bool = False) -> Any:
    try:
        return sock.recv(gzmq.NOBLOCK, copy=copy)
    except gzmq.Again:
        return None


def drain(sock: Any, quiet: float = 0.15) -> int:
    """Receive and discard until nothing has come for ``quiet`` seconds; how many came."""
    count = 0
    with gevent.Timeout(WAIT, AssertionError("never quiet")):
        while sock.poll(int(quiet * 1000)):
            sock.recv(gzmq.NOBLOCK)
            count += 1
    return count
