"""``PUBHandler``: send ``logging`` records out on a PUB socket; ``TopicLogger``.

Each record becomes a two-frame message ``[topic, text]``. The topic is
``<root_topic>.<LEVEL>[.<subtopic>]`` (the root part only when set), so a SUB socket can pick
levels or subsystems by prefix: ``root.ERROR``, ``root.INFO.db``. A subtopic comes from the
message itself: ``log.info("db.pool::connection lost")`` publishes ``connection lost`` on
``<root>.INFO.db.pool``; ``TopicLogger.info("db.pool", "connection lost")`` does the same.

The text is formatted per level (by default INFO is just the message; the other levels
add level, file and line). PUB never blocks, so logging from any greenlet is safe: with no
subscriber, or one too slow to keep up, records are dropped, as PUB drops at its HWM.

``python -m gzmq.log tcp://host:port`` subscribes to such a handler and prints the records.
"""

from __future__ import annotations

import copy
import logging
from typing import Any, Optional, Union

__all__ = ["PUBHandler", "TopicLogger", "TOPIC_DELIM"]

#: separates a subtopic from the message in a log call's ``msg``
TOPIC_DELIM = "::"

_DETAILED = "%(levelname)s %(filename)s:%(lineno)d - %(message)s\n"


def _default_formatters() -> dict[int, Optional[logging.Formatter]]:
    return {
        logging.DEBUG: logging.Formatter(_DETAILED),
        logging.INFO: logging.Formatter("%(message)s\n"),
        logging.WARNING: logging.Formatter(_DETAILED),
        logging.ERROR: logging.Formatter(
            "%(levelname)s %(filename)s:%(lineno)d - %(message)s - %(exc_info)s\n"),
        logging.CRITICAL: logging.Formatter(_DETAILED),
    }


class PUBHandler(logging.Handler):
    """A logging handler that publishes records on a PUB socket.

    ``interface_or_socket``: a socket (a PUB, already bound or connected; its context
    becomes ``ctx``) or an address, which the handler binds a new PUB socket to, in
    ``context`` or else a new Context. ``root_topic`` starts every topic.
    """

    def __init__(self, interface_or_socket: Union[str, Any], context: Any = None,
                 root_topic: str = "") -> None:
        logging.Handler.__init__(self)
        from ..context import Context
        from ..socket import Socket
        from ..constants import PUB
        self.root_topic = root_topic
        self.formatters = _default_formatters()
        if isinstance(interface_or_socket, Socket):
            self.socket = interface_or_socket
            self.ctx = self.socket.context
        else:
            self.ctx = context or Context()
            self.socket = self.ctx.socket(PUB)
            self.socket.bind(interface_or_socket)

    @property
    def root_topic(self) -> str:
        return self._root_topic

    @root_topic.setter
    def root_topic(self, value: Union[str, bytes]) -> None:
        self.setRootTopic(value)

    def setRootTopic(self, root_topic: Union[str, bytes]) -> None:
        """The first part of every topic ('' for none: topics then start with the level).
        A subscriber must subscribe to a prefix of it (or to everything) to hear anything."""
        if isinstance(root_topic, bytes):
            root_topic = root_topic.decode("utf8")
        self._root_topic = root_topic

    def setFormatter(self, fmt: Optional[logging.Formatter],  # type: ignore[override]
                     level: int = logging.NOTSET) -> None:
        """Use ``fmt`` for ``level``, or for every level when none is given."""
        if level == logging.NOTSET:
            for known in list(self.formatters):
                self.formatters[known] = fmt
        else:
            self.formatters[level] = fmt

    def format(self, record: logging.LogRecord) -> str:
        """Format with the formatter of the record's level (the nearest lower known level
        for a custom one)."""
        formatter = self.formatters.get(record.levelno)
        if formatter is None and record.levelno not in self.formatters:
            lower = [level for level in self.formatters if level <= record.levelno]
            formatter = self.formatters[max(lower)] if lower else None
        return (formatter or logging.Formatter()).format(record)

    def emit(self, record: logging.LogRecord) -> None:
        """Publish ``[topic, formatted text]``."""
        subtopic = ""
        text = str(record.msg)
        if TOPIC_DELIM in text:
            subtopic, message = text.split(TOPIC_DELIM, 1)
            record = copy.copy(record)  # the record goes on to other handlers unchanged
            record.msg = message
        try:
            payload = self.format(record).encode("utf8")
        except Exception:  # noqa: BLE001 - logging's contract: report, never raise
            self.handleError(record)
            return
        parts = [part for part in (self.root_topic, record.levelname, subtopic) if part]
        topic = ".".join(parts).encode("utf8", "replace")
        self.socket.send_multipart([topic, payload])


class TopicLogger(logging.Logger):
    """A Logger whose methods take a topic before the message:
    ``logger.info('db.pool', 'lost %d connections', n)`` logs
    ``'db.pool::lost %d connections'``, which a PUBHandler publishes under that subtopic."""

    def log(self, level: int, topic: str, msg: str, *args: Any,  # type: ignore[override]
            **kwargs: Any) -> None:
        kwargs["stacklevel"] = kwargs.get("stacklevel", 1) + 1  # the caller's line
        logging.Logger.log(self, level, f"{topic}{TOPIC_DELIM}{msg}", *args, **kwargs)


def _with_topic(name: str) -> Any:
    # Logger.exception and Logger.warn call self.error / self.warning, which here take a
    # topic: so they go to the plain Logger's error / warning directly
    plain = getattr(logging.Logger, {"exception": "error", "warn": "warning"}.get(name, name))

    def method(self: logging.Logger, topic: str, msg: str, *args: Any, **kwargs: Any) -> Any:
        if name == "exception":
            kwargs.setdefault("exc_info", True)
        kwargs["stacklevel"] = kwargs.get("stacklevel", 1) + 1  # the caller's line
        return plain(self, f"{topic}{TOPIC_DELIM}{msg}", *args, **kwargs)

    method.__name__ = name
    method.__doc__ = f"``{name}(topic, msg, *args, **kwargs)``: Logger.{name} under ``topic``."
    return method


for _name in ("debug", "info", "warn", "warning", "error", "exception", "critical", "fatal"):
    if hasattr(logging.Logger, _name):  # Logger.warn is gone in Python 3.13
        setattr(TopicLogger, _name, _with_topic(_name))
del _name
