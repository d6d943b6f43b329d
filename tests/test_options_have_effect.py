"""No option is accepted and silently ignored: each row of gzmq's option table is read
somewhere in gzmq (outside the table), or is one that has no effect in libzmq 4.3.5 on Linux
either (listed here with the reason). An option gzmq does not implement has no row, or refuses
the values it cannot honour, and is EINVAL like an unknown option."""
from __future__ import annotations

import pathlib
import re

from gzmq.options import TABLE

ROOT = pathlib.Path(__file__).resolve().parent.parent / "gzmq"

#: rows that change nothing in libzmq 4.3.5 on Linux either
NO_EFFECT_IN_LIBZMQ = {
    "affinity": "which I/O thread serves a connection: gzmq has one hub (or one I/O thread)",
    "out_batch_size": "a batching size, not behaviour",
    "loopback_fastpath": "Windows only (SIO_LOOPBACK_FAST_PATH)",
    "ipv4only": "the inverse of IPV6, which is read",
    "thread_safe": "read-only: whether the socket type is thread-safe",
}


def test_every_option_is_read_or_has_no_effect_in_libzmq():
    source = "\n".join(path.read_text() for path in ROOT.rglob("*.py")
                       if path.name != "options.py" or path.parent != ROOT)
    unread = sorted(row.attr for row in TABLE.values()
                    if not re.search(r"\.%s\b" % re.escape(row.attr), source)
                    and row.attr not in NO_EFFECT_IN_LIBZMQ)
    assert unread == [], "accepted but never read: implement them or make them EINVAL"
