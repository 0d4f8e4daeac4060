"""asyncio flavour of postwire: ``await postwire.aio.Client.connect(...)``; every method of
``postwire.Client`` is a coroutine here. The sessions run on postwire's own Rust runtime; the
event loop only waits for their results."""

from __future__ import annotations

from ._postwire import AioClient as Client

__all__ = ["Client"]
