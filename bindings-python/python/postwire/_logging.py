"""Level changes in ``logging`` reach the core at once (called by the package at import).

``Logger.setLevel``, ``logging.basicConfig(level=...)`` and ``logging.disable`` all clear the
logging manager's level cache; wrapping that one method tells the core the new effective levels
of the ``postwire.*`` loggers, so it never builds (nor takes the GIL for) an event that no
logger would take, and needs no refresh call when the application changes a level.
"""

from __future__ import annotations

import logging
from typing import Any, Callable


def watch(refresh: Callable[[], None]) -> None:
    manager: Any = logging.Logger.manager
    original = manager._clear_cache
    if getattr(original, "_postwire_refresh", None) is not None:
        return

    def _clear_cache() -> None:
        original()
        refresh()

    _clear_cache._postwire_refresh = refresh  # type: ignore[attr-defined]
    manager._clear_cache = _clear_cache
