"""Helpers of the hook dispatch (called by the extension)."""

from __future__ import annotations

from typing import Any, Awaitable


async def await_it(awaitable: Awaitable[Any]) -> Any:
    """A coroutine for any awaitable (``asyncio.run_coroutine_threadsafe`` takes coroutines)."""
    return await awaitable
