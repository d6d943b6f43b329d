"""``@context()`` and ``@socket(type)``: a Context or Socket for the length of one call.

As pyzmq's ``zmq.decorators``. The object is created when the decorated function is called,
passed to it, and closed (the socket) or destroyed (the context) when it returns or raises::

    @context()
    @socket(zmq.PUSH)
    def work(ctx, push):
        ...

Where the object goes: with a name (``@socket('push', zmq.PUSH)`` or ``name='push'``) it is
passed as that keyword argument (TypeError if the caller passed it too); without one it is
appended to the positional arguments. ``@socket`` makes its socket from the Context found in
the call: the keyword argument named ``context_name`` (default ``'context'``) if it is a
Context, else the first positional Context, else ``Context.instance()``.
"""

from __future__ import annotations

from functools import wraps
from typing import Any, Callable, Optional, TypeVar

__all__ = ("context", "socket")

F = TypeVar("F", bound=Callable[..., Any])


class _Decorator:
    """Make ``factory(*args, **kwargs)`` per call, as a context manager around the call."""

    def __init__(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        self.name, self.args, self.kwargs = self._split_name(args, dict(kwargs))

    @staticmethod
    def _split_name(args: tuple[Any, ...], kwargs: dict[str, Any]
                    ) -> tuple[Optional[str], tuple[Any, ...], dict[str, Any]]:
        if isinstance(kwargs.get("name"), str):
            return kwargs.pop("name"), args, kwargs
        if args and isinstance(args[0], str):
            return args[0], args[1:], kwargs
        return None, args, kwargs

    def factory(self, call_args: tuple[Any, ...], call_kwargs: dict[str, Any]
                ) -> Callable[..., Any]:
        raise NotImplementedError

    def __call__(self, func: F) -> F:
        @wraps(func)
        def wrapper(*call_args: Any, **call_kwargs: Any) -> Any:
            make = self.factory(call_args, call_kwargs)
            with make(*self.args, **self.kwargs) as made:
                if self.name is None:
                    call_args = call_args + (made,)
                elif self.name in call_kwargs:
                    raise TypeError(f"{func.__name__}() got multiple values for argument "
                                    f"'{self.name}'")
                else:
                    call_kwargs[self.name] = made
                return func(*call_args, **call_kwargs)

        return wrapper  # type: ignore[return-value]


class _ContextDecorator(_Decorator):
    def factory(self, call_args: tuple[Any, ...], call_kwargs: dict[str, Any]
                ) -> Callable[..., Any]:
        from .context import Context
        return Context


class _SocketDecorator(_Decorator):
    def __init__(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        super().__init__(args, kwargs)
        self.context_name = self.kwargs.pop("context_name", "context")

    def factory(self, call_args: tuple[Any, ...], call_kwargs: dict[str, Any]
                ) -> Callable[..., Any]:
        from .context import Context
        candidate = call_kwargs.get(self.context_name)
        if isinstance(candidate, Context):
            return candidate.socket
        for arg in call_args:
            if isinstance(arg, Context):
                return arg.socket
        return Context.instance().socket


def context(*args: Any, **kwargs: Any) -> Callable[[F], F]:
    """Give the decorated function a new Context (``Context(*args, **kwargs)``), destroyed
    when it returns. ``name``: pass it as this keyword argument."""
    return _ContextDecorator(args, kwargs)


def socket(*args: Any, **kwargs: Any) -> Callable[[F], F]:
    """Give the decorated function a new socket (``ctx.socket(*args, **kwargs)``), closed
    when it returns. ``name``: pass it as this keyword argument; ``context_name``: the
    keyword argument to take the Context from."""
    return _SocketDecorator(args, kwargs)
