"""The result values of MX routing, the queue, the relay check and the Received-trace analysis
(``Route``, ``QueueEntry``, ``RunStats``, ``RelayReport``, ``TraceAnalysis`` … of the API
contract) as frozen dataclasses: attributes, ``repr``, ``==``, pickling and ``to_dict()``.

The extension builds them from the core's JSON shape of each result (the shape ``--json`` of the
CLI prints, ``postwire::host::mta::to_value``) through ``_from_core``; nothing here computes
anything, it only names the fields.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime, timezone
from typing import Any, Callable, Dict, List, Mapping, Optional, Type, TypeVar

from ._postwire import Reply

__all__ = [
    "Route",
    "MxHost",
    "RouteStep",
    "QueueEntry",
    "QueueRecipient",
    "RunStats",
    "RelayReport",
    "RelayTest",
    "RelayProbe",
    "TraceAnalysis",
    "Hop",
    "Finding",
    "ReceivedLine",
]


def _plain(v: Any) -> Any:
    if isinstance(v, Reply):
        return v.to_dict()
    if dataclasses.is_dataclass(v) and not isinstance(v, type):
        return {f.name: _plain(getattr(v, f.name)) for f in dataclasses.fields(v)}
    if isinstance(v, list):
        return [_plain(x) for x in v]
    return v


class _Value:
    """`to_dict()`: the fields as plain values (a `Reply` as its own `to_dict()`)."""

    def to_dict(self) -> Dict[str, Any]:
        out: Dict[str, Any] = _plain(self)
        return out


def _known(cls: Any, d: Mapping[str, Any]) -> Dict[str, Any]:
    """The fields of `d` that `cls` has: a field the core adds later does not break an older
    package (it shows up here once named)."""
    names = {f.name for f in dataclasses.fields(cls)}
    return {k: v for k, v in d.items() if k in names}


_T = TypeVar("_T")


def _make(cls: Type[_T], d: Mapping[str, Any], **fields: Any) -> _T:
    """`cls` from the fields of `d` it has (`_known`), `fields` (the converted ones) over them."""
    return cls(**{**_known(cls, d), **fields})


def _reply(d: Optional[Mapping[str, Any]]) -> Optional[Reply]:
    """A core reply (`{code, enhanced, lines}` or a stored `{code, enhanced, text}`)."""
    if d is None:
        return None
    text = d["text"] if "text" in d else "\n".join(d.get("lines") or [])
    return Reply(d["code"], text, d.get("enhanced"))


# --- MX routing -------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class RouteStep(_Value):
    """One line of a route's explanation: `kind` is "query", "answer", "skip" or "note"."""

    kind: str
    detail: str

    def __str__(self) -> str:
        return f"{self.kind:<6} {self.detail}"


@dataclasses.dataclass(frozen=True)
class MxHost(_Value):
    """One exchanger: `preference` (0 for an implicit MX), `exchange`, its `addresses` (A then
    AAAA) and `cname` when the exchange name is itself a CNAME (tolerated, flagged)."""

    preference: int
    exchange: str
    addresses: List[str]
    cname: Optional[str] = None


@dataclasses.dataclass(frozen=True)
class Route(_Value):
    """Where mail for `domain` goes: exchangers best first, the CNAME chain followed, and the
    explanation of each query, answer and skipped candidate."""

    domain: str
    canonical: str
    cname_chain: List[str]
    hosts: List[MxHost]
    implicit: bool
    null_mx: bool
    explanation: List[RouteStep]

    @classmethod
    def _from(cls, d: Mapping[str, Any]) -> "Route":
        return _make(
            cls,
            d,
            cname_chain=list(d["cname_chain"]),
            hosts=[_make(MxHost, h, addresses=list(h["addresses"])) for h in d["hosts"]],
            explanation=[_make(RouteStep, s) for s in d["explanation"]],
        )


# --- Queue ------------------------------------------------------------------------------------


def _time(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc)


@dataclasses.dataclass(frozen=True)
class QueueRecipient(_Value):
    """One recipient of a queued message: `status` is "pending", "delivered", "failed" or
    "expired"; `last_reply` the reply that decided something for it."""

    rcpt: str
    status: str
    attempts: int
    last_reply: Optional[Reply]
    last_detail: Optional[str]
    remote_host: Optional[str]
    notify: Optional[str]
    orcpt: Optional[str]
    notified: bool
    remote_dsn: bool


@dataclasses.dataclass(frozen=True)
class QueueEntry(_Value):
    """A queued message: id, envelope, size, attempts, next try and per-recipient state.
    Times are Unix milliseconds (`created_ms`, `next_try_ms`; `created`/`next_try` as UTC
    datetimes); `mail_from` "" is the null sender."""

    id: str
    mail_from: str
    recipients: List[QueueRecipient]
    attempts: int
    next_try_ms: int
    created_ms: int
    size: int
    envid: Optional[str]
    ret: Optional[str]

    @property
    def next_try(self) -> datetime:
        return _time(self.next_try_ms)

    @property
    def created(self) -> datetime:
        return _time(self.created_ms)

    @classmethod
    def _from(cls, d: Mapping[str, Any]) -> "QueueEntry":
        recipients = [_make(QueueRecipient, r, last_reply=_reply(r.get("last_reply")))
                      for r in d["recipients"]]
        return _make(cls, d, recipients=recipients)


@dataclasses.dataclass(frozen=True)
class RunStats(_Value):
    """What one queue run did: entries attempted, recipients delivered / deferred / failed
    (bounced), notices queued."""

    entries: int
    delivered: int
    deferred: int
    failed: int
    notices: int


# --- Relay check ------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class RelayTest(_Value):
    """One probe: the MAIL/RCPT arguments as sent, the `verdict` ("relayed", "refused",
    "deferred", "auth_required", "error"), the deciding `reply`, and the swaks-style
    `transcript`. A `control` probe (external → the server's own domain) never makes a report
    open."""

    name: str
    mail_from: str
    rcpt_to: str
    verdict: str
    reply: Optional[Reply]
    transcript: List[str]
    tricks: List[str]
    control: bool
    error: Optional[str]


@dataclasses.dataclass(frozen=True)
class RelayProbe(_Value):
    """One probe of the matrix (`relay_probes`): its name, the MAIL/RCPT arguments as sent, the
    address tricks it uses, and whether it is the `control` (external → internal)."""

    name: str
    mail_from: str
    rcpt_to: str
    tricks: List[str]
    control: bool


@dataclasses.dataclass(frozen=True)
class RelayReport(_Value):
    """The relay check: `open` with the `evidence` (names of the probes that relayed),
    `inconclusive` when only 4xx answers and errors came, every probe in `results`."""

    open: bool
    inconclusive: bool
    results: List[RelayTest]
    evidence: List[str]
    server_name: Optional[str]
    connections: int

    @classmethod
    def _from(cls, d: Mapping[str, Any]) -> "RelayReport":
        results = [_make(RelayTest, t, reply=_reply(t.get("reply"))) for t in d["results"]]
        return _make(cls, d, results=results)


# --- Received-trace analysis ------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class ReceivedLine(_Value):
    """The grammar's fields of one `Received:` value (`from_` and `for_`: `from`/`for` are
    Python keywords), with its `defects`."""

    from_: Optional[str] = None
    from_ip: Optional[str] = None
    from_iprev: Optional[str] = None
    by: Optional[str] = None
    for_: Optional[str] = None
    with_: Optional[str] = None
    with_word: Optional[str] = None
    tls_version: Optional[str] = None
    tls_cipher: Optional[str] = None
    id: Optional[str] = None
    ident: Optional[str] = None
    helo: Optional[str] = None
    helo_cmd: Optional[str] = None
    via: Optional[str] = None
    date: Optional[str] = None
    timestamp: Optional[int] = None
    defects: List[str] = dataclasses.field(default_factory=list)

    @classmethod
    def _from(cls, d: Mapping[str, Any]) -> "ReceivedLine":
        keyword = {"from": "from_", "with": "with_", "for": "for_"}
        return cls(**_known(cls, {keyword.get(k, k): v for k, v in d.items()}))


@dataclasses.dataclass(frozen=True)
class Hop(_Value):
    """One relay step, oldest first: what `by_host` wrote about the host that handed it the
    message; `delay` is seconds since the previous dated hop (negative: older than it)."""

    from_helo: Optional[str]
    from_rdns: Optional[str]
    from_ip: Optional[str]
    by_host: Optional[str]
    with_protocol: Optional[str]
    tls: bool
    id: Optional[str]
    for_addr: Optional[str]
    date: Optional[str]
    delay: Optional[float]
    raw: str
    defects: List[str]
    tls_version: Optional[str]
    tls_cipher: Optional[str]
    timestamp: Optional[int]
    resolved_rdns: Optional[str]
    fcrdns: Optional[bool]
    line: ReceivedLine

    @classmethod
    def _from(cls, d: Mapping[str, Any]) -> "Hop":
        return _make(cls, d, line=ReceivedLine._from(d["line"]))


@dataclasses.dataclass(frozen=True)
class Finding(_Value):
    """Something odd in the trace: `kind` (`chain_break`, `helo_mismatch`, `after_trusted`,
    `date_order`, `private_ip_in_public_path`, `unparsable` …), the `hop` index (None for the
    whole trace), `severity` ("low", "medium", "high"; `suspicious` is any medium or high),
    `detail` and `evidence`."""

    kind: str
    hop: Optional[int]
    severity: str
    detail: str
    evidence: List[str]


@dataclasses.dataclass(frozen=True)
class TraceAnalysis(_Value):
    """The `Received:` trace of a message: hops in path order (oldest first), findings, and
    `suspicious` summing them up."""

    hops: List[Hop]
    findings: List[Finding]
    suspicious: bool

    @classmethod
    def _from(cls, d: Mapping[str, Any]) -> "TraceAnalysis":
        return cls(
            hops=[Hop._from(h) for h in d["hops"]],
            findings=[Finding(**_known(Finding, f)) for f in d["findings"]],
            suspicious=d["suspicious"],
        )


_BUILD: Dict[str, Callable[[Any], Any]] = {
    "route": Route._from,
    "queue_entries": lambda d: [QueueEntry._from(e) for e in d],
    "run_stats": lambda d: RunStats(**_known(RunStats, d)),
    "relay_report": RelayReport._from,
    "relay_probes": lambda d: [RelayProbe(**_known(RelayProbe, p)) for p in d],
    "trace_analysis": TraceAnalysis._from,
    "received_line": ReceivedLine._from,
}


def _from_core(kind: str, value: Any) -> Any:
    """The result object of `kind` from the core's JSON shape (called by the extension)."""
    return _BUILD[kind](value)
