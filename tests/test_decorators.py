"""gzmq.decorators: @context() and @socket(...) as pyzmq's, with real messages through the
objects they provide, and the cleanup they promise (closed / destroyed after the call)."""

from __future__ import annotations

import gevent
import pytest

import gzmq as zmq
from gzmq.decorators import context, socket


def test_context_is_appended_and_destroyed_after_the_call():
    seen = []

    @context()
    def work(ctx):
        assert isinstance(ctx, zmq.Context) and not ctx.closed
        seen.append(ctx)
        return "result"

    assert work() == "result"
    assert seen[0].closed


def test_context_by_name_and_keyword_clash():
    @context("ctx")
    def work(a, ctx=None):
        return a, ctx

    a, ctx = work(1)
    assert a == 1 and isinstance(ctx, zmq.Context) and ctx.closed

    @context(name="ctx")
    def other(ctx):
        return ctx

    assert isinstance(other(), zmq.Context)
    with pytest.raises(TypeError, match="multiple values for argument 'ctx'"):
        work(1, ctx="mine")


def test_context_arguments_go_to_the_constructor():
    @context(io_threads=2)
    def work(ctx):
        return ctx.io_threads

    assert work() == 2


def test_socket_pair_talk_and_are_closed_afterwards():
    made = []

    @context()
    @socket(zmq.PUSH)
    @socket(zmq.PULL)
    def work(ctx, push, pull):
        made.extend([push, pull])
        assert push.context is ctx and pull.context is ctx
        pull.bind("inproc://decorated")
        push.connect("inproc://decorated")
        push.send(b"through the decorators")
        return pull.recv()

    assert work() == b"through the decorators"
    assert all(s.closed for s in made)
    assert [s.type for s in made] == [zmq.PUSH, zmq.PULL]


def test_socket_takes_the_context_keyword_or_first_positional(ctx):
    @socket("sock", zmq.PUB)
    def by_keyword(context=None, sock=None):
        return sock

    assert by_keyword(context=ctx).context is ctx

    @socket(zmq.SUB, name="sub", context_name="c")
    def by_custom_name(c, sub):
        return sub

    assert by_custom_name(c=ctx).context is ctx

    @socket(zmq.REQ)
    def positional(x, y, s):
        return x, s

    _, s = positional(1, ctx)
    assert s.context is ctx and s.type == zmq.REQ and s.closed


def test_socket_without_a_context_uses_the_instance():
    @socket(zmq.DEALER)
    def work(s):
        return s.context

    assert work() is zmq.Context.instance()


def test_socket_closed_even_when_the_function_raises(ctx):
    holder = []

    @socket(zmq.PUSH)
    def work(context, s):
        holder.append(s)
        raise ValueError("boom")

    with pytest.raises(ValueError):
        work(ctx)
    assert holder[0].closed


def test_decorated_functions_run_concurrently_in_greenlets():
    @context()
    @socket("rep", zmq.REP)
    @socket("req", zmq.REQ)
    def roundtrip(n, ctx=None, rep=None, req=None):
        rep.bind(f"inproc://rt-{n}")
        req.connect(f"inproc://rt-{n}")
        req.send(b"%d" % n)
        rep.send(rep.recv() * 2)
        gevent.sleep(0.01)
        return req.recv()

    jobs = [gevent.spawn(roundtrip, n) for n in range(5)]
    gevent.joinall(jobs, timeout=5, raise_error=True)
    assert [j.value for j in jobs] == [b"%d%d" % (n, n) for n in range(5)]
    assert roundtrip.__name__ == "roundtrip"  # functools.wraps
