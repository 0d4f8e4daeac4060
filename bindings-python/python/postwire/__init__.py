"""postwire: SMTP client and server from one Rust core.

Send::

    with postwire.Client.connect("mx.example.test", 25) as c:
        c.send("me@example.org", ["you@example.test"], message)

Receive::

    server = postwire.Server(hostname="mx.example.test", local_domains=["example.test"],
                             on_message=lambda session, envelope, data: None)
    server.listen("127.0.0.1", 2525)
    server.serve_forever()

The core's log events go to child loggers of ``logging.getLogger("postwire")``
(``postwire.server``, ``postwire.client``, ``postwire.pool``, …) with the core's fields as record
attributes; a level set through ``logging`` takes effect at once.
"""

from __future__ import annotations

import atexit as _atexit

from . import errors
from ._postwire import (
    Client,
    Envelope,
    RecipientResult,
    RejectedRecipient,
    Reply,
    SendResult,
    Server,
    Session,
    __version__,
    compose,
    send_mail,
    set_log_level,
)
from .errors import (
    AuthError,
    ConnectError,
    DnsError,
    Error,
    InvalidInputError,
    IoError,
    ProtocolError,
    RejectedError,
    TimeoutError,
    TlsError,
    TransientError,
)
from . import aio
from . import _postwire as _ext

_atexit.register(_ext._shutdown)

__all__ = [
    "Client",
    "Server",
    "Reply",
    "SendResult",
    "RejectedRecipient",
    "RecipientResult",
    "Envelope",
    "Session",
    "compose",
    "send_mail",
    "set_log_level",
    "aio",
    "errors",
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
    "__version__",
]

# Issue 13 (second Python pass): pools, case-insensitive capabilities, logging levels that follow
# `logging` without a refresh. (`TimeoutError` stays an attribute but is not in `__all__`: a star
# import must not shadow the builtin.)
from ._postwire import Pool  # noqa: E402
from ._values import Capabilities  # noqa: E402
from . import _logging  # noqa: E402

_logging.watch(_ext.refresh_levels)

__all__ += ["Pool", "Capabilities"]

# --- MX routing, the queue, the relay check, the Received-trace analysis (issues 11 and 12) ---
from ._postwire import (
    Queue,
    analyze_received,
    check_relay,
    parse_received,
    relay_probes,
    relay_summary,
    relay_verdict,
    resolve_mx,
)
from ._mta import (
    Finding,
    Hop,
    MxHost,
    QueueEntry,
    QueueRecipient,
    ReceivedLine,
    RelayProbe,
    RelayReport,
    RelayTest,
    Route,
    RouteStep,
    RunStats,
    TraceAnalysis,
)

__all__ += [
    "resolve_mx",
    "Route",
    "MxHost",
    "RouteStep",
    "Queue",
    "QueueEntry",
    "QueueRecipient",
    "RunStats",
    "check_relay",
    "RelayReport",
    "RelayTest",
    "relay_probes",
    "relay_verdict",
    "relay_summary",
    "RelayProbe",
    "analyze_received",
    "parse_received",
    "TraceAnalysis",
    "Hop",
    "Finding",
    "ReceivedLine",
]
