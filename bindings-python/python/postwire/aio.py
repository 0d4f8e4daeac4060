"""asyncio flavour of postwire: ``await postwire.aio.Client.connect(...)``; every method of
``postwire.Client`` is a coroutine here. The sessions run on postwire's own Rust runtime; the
event loop only waits for their results."""

from __future__ import annotations

from ._postwire import AioClient as Client

__all__ = ["Client"]

# --- MX routing, the queue, the relay check, the Received-trace analysis (issues 11 and 12) ---
from ._postwire import AioQueue as Queue
from ._postwire import aio_analyze_received as analyze_received
from ._postwire import aio_check_relay as check_relay
from ._postwire import aio_resolve_mx as resolve_mx

__all__ += ["Queue", "resolve_mx", "check_relay", "analyze_received"]
