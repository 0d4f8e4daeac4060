"""Helpers of the hook dispatch (called by the extension)."""

from __future__ import annotations

import asyncio
import contextvars
import sys
import types
import weakref
from typing import Any, Awaitable, Generator, Tuple

# `create_task(context=...)` is 3.11+: before it, coroutines are not stepped eagerly.
_EAGER = sys.version_info >= (3, 11)

# What `aio.Server.stop()` needs to refuse a stop that would wait for the hook calling it: the
# tasks that carry a hook's answer, and whether a hook's first step is running now.
hook_tasks: "weakref.WeakSet[asyncio.Future[Any]]" = weakref.WeakSet()
first_steps = 0


async def await_it(awaitable: Awaitable[Any]) -> Any:
    """A coroutine for any awaitable (``asyncio.run_coroutine_threadsafe`` takes coroutines)."""
    return await awaitable


def start(awaitable: Awaitable[Any], loop: asyncio.AbstractEventLoop) -> Tuple[bool, Any]:
    """Start an awaitable hook result on ``loop`` (its thread): ``(True, value)`` when a
    coroutine finished in its first step (a hook that never really waits — no task, no extra
    loop turn), else ``(False, future)``. Like Python 3.12's eager tasks, the first step runs
    at once, in a context of its own that the rest of the coroutine keeps."""
    global first_steps
    if _EAGER and type(awaitable) is types.CoroutineType:
        ctx = contextvars.copy_context()
        first_steps += 1
        try:
            yielded = ctx.run(awaitable.send, None)
        except StopIteration as done:
            return True, done.value
        finally:
            first_steps -= 1
        task: "asyncio.Future[Any]" = loop.create_task(_resume(awaitable, yielded), context=ctx)  # type: ignore[call-arg,unused-ignore]
    else:
        task = asyncio.ensure_future(awaitable, loop=loop)
    hook_tasks.add(task)
    return False, task


class _Rest:
    """The rest of a coroutine whose first step already ran and yielded ``yielded``."""

    def __init__(self, coro: Any, yielded: Any) -> None:
        self.coro, self.yielded = coro, yielded

    def __await__(self) -> Generator[Any, Any, Any]:
        coro, yielded = self.coro, self.yielded
        while True:
            try:
                sent = yield yielded
            except GeneratorExit:
                coro.close()
                raise
            except BaseException as e:  # noqa: B902 - thrown in by the task (cancellation too)
                try:
                    yielded = coro.throw(e)
                except StopIteration as done:
                    return done.value
            else:
                try:
                    yielded = coro.send(sent)
                except StopIteration as done:
                    return done.value


async def _resume(coro: Any, yielded: Any) -> Any:
    return await _Rest(coro, yielded)
