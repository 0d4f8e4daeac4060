"""postwire's exceptions: one base class, one subclass per error kind of the API contract.

Every exception has ``.kind`` (``"timeout"``, ``"rejected"``, ...) and ``.reply`` (the
``postwire.Reply`` the server answered with, or None). ``TimeoutError`` is also the builtin
``TimeoutError`` and ``InvalidInputError`` also a ``ValueError``, so generic handlers work.
"""

from __future__ import annotations

import builtins
from typing import TYPE_CHECKING, Optional

if TYPE_CHECKING:  # pragma: no cover
    from ._postwire import Reply

__all__ = [
    "Error",
    "ConnectError",
    "TimeoutError",
    "TlsError",
    "AuthError",
    "ProtocolError",
    "RejectedError",
    "TransientError",
    "DnsError",
    "InvalidInputError",
    "IoError",
]


class Error(Exception):
    """Base class of every postwire error."""

    kind: str = "error"
    reply: Optional["Reply"]

    def __init__(self, message: str = "", *, kind: Optional[str] = None, reply: Optional["Reply"] = None) -> None:
        super().__init__(message)
        self.message = message
        if kind is not None:
            self.kind = kind
        self.reply = reply

    def __reduce__(self):  # keep kind and reply through pickling (multiprocessing)
        return (_rebuild, (type(self), self.message, self.kind, self.reply))


def _rebuild(cls, message, kind, reply):
    return cls(message, kind=kind, reply=reply)


class ConnectError(Error):
    """TCP connect failed or was refused."""

    kind = "connect"


class TimeoutError(Error, builtins.TimeoutError):  # noqa: A001 - the API's name
    """An RFC 5321 timeout or the caller's timeout expired."""

    kind = "timeout"


class TlsError(Error):
    """TLS handshake or certificate failure, or STARTTLS refused when required."""

    kind = "tls"


class AuthError(Error):
    """Authentication rejected."""

    kind = "auth"


class ProtocolError(Error):
    """The peer broke the protocol (bad reply syntax, unexpected close)."""

    kind = "protocol"


class RejectedError(Error):
    """Permanent 5xx refusal of the whole transaction (``.reply`` attached)."""

    kind = "rejected"


class TransientError(Error):
    """4xx refusal (``.reply`` attached): retry later."""

    kind = "transient"


class DnsError(Error):
    """Name resolution failed."""

    kind = "dns"


class InvalidInputError(Error, ValueError):
    """A bad argument: malformed address, CR/LF in an address, bad option."""

    kind = "invalid_input"


class IoError(Error):
    """Local I/O (spool, maildir, certificate files) failed."""

    kind = "io"
