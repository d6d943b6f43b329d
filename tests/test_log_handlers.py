"""gzmq.log.handlers (PUBHandler, TopicLogger) and the ``python -m gzmq.log`` watcher.

Records go through a real PUB/SUB pair; the watcher runs as a subprocess against a
publisher in this process and must print exactly the records it was sent."""

from __future__ import annotations

import logging
import os
import subprocess
import sys

import gevent
import gevent.subprocess
import pytest

import gzmq as zmq
from gzmq.log import handlers
from gzmq.log.handlers import PUBHandler, TopicLogger

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def recv(sock, timeout=5.0):
    with gevent.Timeout(timeout, AssertionError("nothing arrived")):
        return sock.recv_multipart()


@pytest.fixture
def logger():
    log = logging.getLogger(f"gzmq-test-{id(object())}")
    log.setLevel(logging.DEBUG)
    log.propagate = False
    yield log
    for handler in list(log.handlers):
        log.removeHandler(handler)


@pytest.fixture
def pubsub(ctx):
    pub, sub = ctx.socket(zmq.PUB), ctx.socket(zmq.SUB)
    pub.bind("inproc://log")
    sub.connect("inproc://log")
    sub.subscribe(b"")
    return pub, sub


def test_topics_and_default_formats(logger, pubsub):
    pub, sub = pubsub
    handler = PUBHandler(pub)
    assert handler.ctx is pub.context
    logger.addHandler(handler)
    logger.info("plain info")
    assert recv(sub) == [b"INFO", b"plain info\n"]
    logger.warning("careful %d", 3)
    topic, text = recv(sub)
    assert topic == b"WARNING"
    assert text.startswith(b"WARNING test_log_handlers.py:") and text.endswith(b" - careful 3\n")
    handler.root_topic = "app"
    logger.debug("db.pool::lost %s", "one")
    topic, text = recv(sub)
    assert topic == b"app.DEBUG.db.pool" and text.endswith(b" - lost one\n")
    logger.error("failed")
    topic, text = recv(sub)
    assert topic == b"app.ERROR" and text.endswith(b" - failed - None\n")


def test_record_not_mutated_for_other_handlers(logger, pubsub):
    pub, sub = pubsub
    seen = []

    class Keep(logging.Handler):
        def emit(self, record):
            seen.append(record.getMessage())

    logger.addHandler(PUBHandler(pub))
    logger.addHandler(Keep())
    logger.info("sub::body")
    assert recv(sub) == [b"INFO.sub", b"body\n"]
    assert seen == ["sub::body"]


def test_root_topic_accepts_bytes_and_set_root_topic(pubsub):
    handler = PUBHandler(pubsub[0], root_topic=b"bytes-root")
    assert handler.root_topic == "bytes-root"
    handler.setRootTopic("other")
    assert handler.root_topic == "other"


def test_set_formatter_for_one_level_or_all(logger, pubsub):
    pub, sub = pubsub
    handler = PUBHandler(pub)
    logger.addHandler(handler)
    handler.setFormatter(logging.Formatter("<%(message)s>"), logging.INFO)
    logger.info("a")
    assert recv(sub) == [b"INFO", b"<a>"]
    handler.setFormatter(logging.Formatter("[%(levelname)s] %(message)s"))
    logger.info("b")
    logger.critical("c")
    assert recv(sub) == [b"INFO", b"[INFO] b"]
    assert recv(sub) == [b"CRITICAL", b"[CRITICAL] c"]


def test_custom_level_uses_nearest_lower_format(logger, pubsub):
    pub, sub = pubsub
    logger.addHandler(PUBHandler(pub))
    logger.log(25, "between info and warning")
    assert recv(sub) == [b"Level 25", b"between info and warning\n"]


def test_interface_binds_own_pub_in_given_or_new_context(ctx, logger):
    own = PUBHandler("inproc://own-log")
    try:
        assert own.ctx is not ctx and own.socket.type == zmq.PUB
    finally:
        own.socket.close(0)
        own.ctx.term()
    shared = PUBHandler("inproc://shared-log", ctx, root_topic="svc")
    assert shared.ctx is ctx
    sub = ctx.socket(zmq.SUB)
    sub.subscribe(b"svc.")
    sub.connect("inproc://shared-log")
    logger.addHandler(shared)
    logger.info("hello")
    assert recv(sub) == [b"svc.INFO", b"hello\n"]


def test_subscriber_filters_by_level_prefix(logger, pubsub):
    pub, _ = pubsub
    ctx = pub.context
    errors = ctx.socket(zmq.SUB)
    errors.subscribe(b"ERROR")
    errors.connect("inproc://log")
    logger.addHandler(PUBHandler(pub))
    logger.info("ignored")
    logger.error("kept")
    assert recv(errors)[0] == b"ERROR"
    assert errors.poll(50) == 0


def test_topic_logger(pubsub):
    pub, sub = pubsub
    log = TopicLogger("topic-logger-test")
    log.setLevel(logging.DEBUG)
    log.addHandler(PUBHandler(pub))
    log.info("net.tcp", "up %d", 2)
    assert recv(sub) == [b"INFO.net.tcp", b"up 2\n"]
    log.log(logging.WARNING, "disk", "full")
    topic, text = recv(sub)
    assert topic == b"WARNING.disk"
    assert b"test_log_handlers.py" in text  # the caller's line, not the wrapper's
    try:
        raise RuntimeError("bad")
    except RuntimeError:
        log.exception("job", "crashed")
    topic, text = recv(sub)
    assert topic == b"ERROR.job" and b"RuntimeError" in text
    log.critical("cpu", "hot")
    assert recv(sub)[0] == b"CRITICAL.cpu"
    if hasattr(logging.Logger, "warn"):
        log.warn("old", "style")
        assert recv(sub)[0] == b"WARNING.old"
    assert handlers.TOPIC_DELIM == "::"


def test_log_watcher_prints_what_a_handler_publishes(ctx, logger):
    """``python -m gzmq.log URL --topic app --count 2`` in a subprocess. The handler's socket
    is an XPUB, so the test knows when the watcher's subscription has arrived."""
    pub = ctx.socket(zmq.XPUB)
    port = pub.bind_to_random_port("tcp://127.0.0.1")
    handler = PUBHandler(pub, root_topic="app")
    other = PUBHandler(pub, root_topic="zzz")  # another root: filtered out by --topic
    env = dict(os.environ, PYTHONPATH=REPO)
    watcher = gevent.subprocess.Popen(
        [sys.executable, "-m", "gzmq.log", f"tcp://127.0.0.1:{port}", "--topic", "app",
         "--count", "2", "--separator", " : "],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True)
    try:
        assert recv(pub, 20) == [b"\x01app"]  # the watcher subscribed
        logger.addHandler(other)
        logger.info("not for the watcher")
        logger.removeHandler(other)
        logger.addHandler(handler)
        logger.info("db::first")
        logger.warning("second")
        out, err = watcher.communicate(timeout=20)
    finally:
        if watcher.poll() is None:
            watcher.kill()
    assert watcher.returncode == 0, err
    lines = out.splitlines()
    assert lines[0] == "app.INFO.db : first"
    assert lines[1].startswith("app.WARNING : WARNING test_log_handlers.py:")
    assert lines[1].endswith(" - second") and len(lines) == 2


def test_log_watcher_help_and_bad_url():
    env = dict(os.environ, PYTHONPATH=REPO)
    out = subprocess.run([sys.executable, "-m", "gzmq.log", "--help"], capture_output=True,
                         text=True, env=env, timeout=30)
    assert out.returncode == 0 and "--topic" in out.stdout and "--align" in out.stdout
    bad = subprocess.run([sys.executable, "-m", "gzmq.log", "nonsense://x", "--count", "1"],
                         capture_output=True, text=True, env=env, timeout=30)
    assert bad.returncode == 2 and "cannot connect" in bad.stderr


def test_watcher_formatting_align_and_timestamp():
    from gzmq.log.__main__ import _Aligner, build_parser, format_record
    opts = build_parser().parse_args(["tcp://x:1", "--align", "--separator", "|"])
    align = _Aligner()
    first = format_record(b"app.INFO", b"one\n", opts, {}, align)
    second = format_record(b"application.WARNING.db", b"two", opts, {}, align)
    third = format_record(b"app.INFO", b"three", opts, {}, align)
    assert first == "app.INFO|one"
    assert second == "application.WARNING.db|two"
    assert third == "app        .INFO   .  |three"
    stamped = build_parser().parse_args(["u", "--timestamp", "--dateformat", "T%Y"])
    assert format_record(b"INFO", b"x", stamped, {}).startswith("T20")
