"""asyncio flavour of postwire: ``await postwire.aio.Client.connect(...)``; every method of
``postwire.Client`` is a coroutine here. The sessions run on postwire's own Rust runtime; the
event loop only waits for their results.

``postwire.aio.Server`` takes the options and hooks of ``postwire.Server``; its hooks (plain
functions, ``async def`` or anything returning an awaitable) run on the event loop that called
``await server.start()``, so they can use that loop's queues, database pools and clients.
``postwire.aio.Pool`` and ``postwire.aio.send_mail`` are ``postwire.Pool`` and
``postwire.send_mail`` as awaitables."""

from __future__ import annotations

from ._postwire import AioClient as Client

__all__ = ["Client"]

# Issue 13 (second Python pass): aio.Server, aio.Pool, aio.send_mail.
import asyncio as _asyncio  # noqa: E402
import contextvars as _contextvars  # noqa: E402
from types import TracebackType as _TracebackType  # noqa: E402
from typing import Any as _Any, Dict as _Dict, List as _List, Optional as _Optional  # noqa: E402
from typing import Tuple as _Tuple, Type as _Type  # noqa: E402

from ._postwire import AioPool as Pool  # noqa: E402
from ._postwire import _AioServer  # noqa: E402
from ._postwire import aio_send_mail as send_mail  # noqa: E402
from . import _hooks  # noqa: E402

# The server whose hooks run in this context (set in the context the hooks are called from).
_serving: "_contextvars.ContextVar[_Optional[Server]]" = _contextvars.ContextVar("postwire_aio_serving", default=None)


class Server:
    """An SMTP server whose hooks run on the caller's event loop. Same options as
    ``postwire.Server``; ``await start()`` / ``await stop()`` (or ``async with``) never block the
    loop."""

    def __init__(self, **options: _Any) -> None:
        self._core = _AioServer(**options)
        self._stopping: _Optional["_asyncio.Future[None]"] = None

    def listen(self, host: str = "127.0.0.1", port: int = 0) -> _Tuple[str, int]:
        """Bind ``host:port`` (port 0: ephemeral); the bound ``(host, port)``."""
        return self._core.listen(host, port)

    async def start(self) -> None:
        """Serve in the background; hooks run on the running loop."""
        # The loop calls the hooks in a copy of this context that names this server.
        ctx = _contextvars.copy_context()
        ctx.run(_serving.set, self)
        ctx.run(self._core._start, _asyncio.get_running_loop())

    async def stop(self) -> None:
        """Graceful stop (as ``postwire.Server.stop``), awaited without blocking the loop.
        Awaited by one of this server's own hooks it would wait for that hook: ``RuntimeError``
        (start it as a task of its own instead: ``asyncio.ensure_future(server.stop())``)."""
        if _serving.get() is self and (_hooks.first_steps or _asyncio.current_task() in _hooks.hook_tasks):
            raise RuntimeError(
                "await server.stop() inside one of the server's own hooks would wait for that hook forever: "
                "run it as a task of its own (asyncio.ensure_future(server.stop())) and return"
            )
        if self._stopping is None:
            self._stopping = _asyncio.ensure_future(self._stop())
        await _asyncio.shield(self._stopping)

    async def _stop(self) -> None:
        try:
            await self._core._stop()
        finally:
            self._core._close()

    async def serve_forever(self) -> None:
        """Start, then serve until the task is cancelled (then stop gracefully)."""
        await self.start()
        try:
            await _asyncio.get_running_loop().create_future()
        finally:
            await self.stop()

    @property
    def addresses(self) -> _List[_Tuple[str, int]]:
        return self._core.addresses

    @property
    def running(self) -> bool:
        return self._core.running

    @property
    def stats(self) -> _Dict[str, int]:
        return self._core.stats

    @property
    def hostname(self) -> str:
        return self._core.hostname

    async def __aenter__(self) -> "Server":
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: _Optional[_Type[BaseException]],
        exc: _Optional[BaseException],
        tb: _Optional[_TracebackType],
    ) -> None:
        await self.stop()

    def __repr__(self) -> str:
        addrs = ", ".join(f"{h}:{p}" for h, p in self.addresses)
        return f"<postwire.aio.Server {self.hostname} on [{addrs}]{' running' if self.running else ''}>"


__all__ += ["Server", "Pool", "send_mail"]

# --- MX routing, the queue, the relay check, the Received-trace analysis (issues 11 and 12) ---
from ._postwire import AioQueue as Queue
from ._postwire import aio_analyze_received as analyze_received
from ._postwire import aio_check_relay as check_relay
from ._postwire import aio_resolve_mx as resolve_mx

__all__ += ["Queue", "resolve_mx", "check_relay", "analyze_received"]
