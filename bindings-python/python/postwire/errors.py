"""postwire's exceptions: one base class, one subclass per error kind of the API contract.

Every exception has ``.kind`` (``"timeout"``, ``"rejected"``, ...), ``.reply`` (the
``postwire.Reply`` the server answered with, or None) and ``.rejected`` (when every recipient
was refused: one ``RejectedRecipient`` per refusal, as smtplib's
``SMTPRecipientsRefused.recipients``; else empty). ``TimeoutError`` is also the builtin
``TimeoutError``, ``ConnectError`` a builtin ``ConnectionError`` (as aiosmtplib's),
``IoError`` an ``OSError`` (smtplib's exceptions are ``OSError``s) and ``InvalidInputError`` a
``ValueError``, so generic handlers work. Every error pickles with its kind, reply and
rejected list (it crosses ``concurrent.futures`` process pools and ``multiprocessing``).

``TimeoutError`` is not in ``__all__``: ``from postwire import *`` (or ``from postwire.errors
import *``) must not shadow the builtin ``TimeoutError``; use ``postwire.TimeoutError``.
"""

from __future__ import annotations

import builtins
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Sequence, Type

if TYPE_CHECKING:  # pragma: no cover
    from ._postwire import RejectedRecipient, Reply

__all__ = [
    "Error",
    "ConnectError",
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
    rejected: List["RejectedRecipient"]

    def __init__(
        self,
        message: str = "",
        *,
        kind: Optional[str] = None,
        reply: Optional["Reply"] = None,
        rejected: Sequence["RejectedRecipient"] = (),
    ) -> None:
        super().__init__(message)
        self.message = message
        if kind is not None:
            self.kind = kind
        self.reply = reply
        self.rejected = list(rejected)

    def __reduce__(self) -> Any:  # keep kind, reply and rejected through pickling (multiprocessing)
        return (_rebuild, (type(self), self.message, self.kind, self.reply, self.rejected))


def _rebuild(cls: Type[Error], message: str, kind: str, reply: Any, rejected: Any) -> Error:
    return cls(message, kind=kind, reply=reply, rejected=rejected)


class ConnectError(Error, builtins.ConnectionError):
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


class IoError(Error, builtins.OSError):
    """Local I/O (spool, maildir, certificate files) failed."""

    kind = "io"


_BY_KIND: Dict[str, Type[Error]] = {
    c.kind: c
    for c in (ConnectError, TimeoutError, TlsError, AuthError, ProtocolError, RejectedError,
              TransientError, DnsError, InvalidInputError, IoError)
}


def _from_core(kind: str, message: str, reply: Optional["Reply"] = None,
               rejected: Sequence["RejectedRecipient"] = ()) -> Error:
    """The exception for a core error (called by the extension): the class of its kind."""
    return _BY_KIND.get(kind, Error)(message, kind=kind, reply=reply, rejected=rejected)
