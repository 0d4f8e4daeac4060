"""Pure-Python value classes the extension returns."""

from __future__ import annotations

from typing import Any, Dict, Optional


class Capabilities(Dict[str, str]):
    """The server's EHLO keywords → parameters (``""`` when none). Lookups ignore case, as EHLO
    keywords do: ``caps["size"]``, ``"pipelining" in caps``, ``caps.get("Auth")``."""

    def __init__(self, items: Any = ()) -> None:
        super().__init__({str(k).upper(): v for k, v in dict(items).items()})

    def __getitem__(self, key: str) -> str:
        return super().__getitem__(key.upper() if isinstance(key, str) else key)

    def __contains__(self, key: object) -> bool:
        return super().__contains__(key.upper() if isinstance(key, str) else key)

    def get(self, key: str, default: Optional[Any] = None) -> Any:
        return super().get(key.upper() if isinstance(key, str) else key, default)

    def __reduce__(self) -> Any:
        return (Capabilities, (dict(self),))
