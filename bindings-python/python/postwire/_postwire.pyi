"""Type stub of the extension module ``postwire._postwire`` (checked by mypy.stubtest)."""

import email.message
import os
from typing import Any, Awaitable, Callable, Dict, List, Mapping, Optional, Sequence, Tuple, Union

from typing_extensions import Self, final

from ._values import Capabilities
from .errors import Error

__version__: str

_Path = Union[str, "os.PathLike[str]"]
_Message = Union[bytes, bytearray, str]
_Rcpts = Union[str, Sequence[str]]
_HookReply = Union[None, Tuple[int, str], "Reply"]
_Dsn = Mapping[str, Union[str, bool, Sequence[str]]]
_EsmtpOptions = Union[Sequence[str], Mapping[str, Optional[str]]]
_EmailMessage = email.message.Message

@final
class Reply:
    """An SMTP reply."""

    def __new__(cls, code: int, text: str = "", enhanced: Optional[str] = None) -> Self: ...
    @property
    def code(self) -> int: ...
    @property
    def enhanced(self) -> Optional[str]: ...
    @property
    def lines(self) -> List[str]: ...
    @property
    def text(self) -> str: ...
    @property
    def is_positive(self) -> bool: ...
    @property
    def is_transient(self) -> bool: ...
    @property
    def is_permanent(self) -> bool: ...
    def to_dict(self) -> Dict[str, Any]: ...
    def __reduce__(self) -> Tuple[Any, Tuple[int, str, Optional[str]]]: ...
    def __eq__(self, value: object, /) -> bool: ...
    def __hash__(self) -> int: ...

@final
class RejectedRecipient:
    def __new__(cls, rcpt: str, reply: Reply) -> Self: ...
    def __reduce__(self) -> Tuple[Any, Tuple[str, Reply]]: ...
    def __eq__(self, value: object, /) -> bool: ...
    def __hash__(self) -> int: ...
    @property
    def rcpt(self) -> str: ...
    @property
    def reply(self) -> Reply: ...
    def to_dict(self) -> Dict[str, Any]: ...

@final
class SendResult:
    @property
    def accepted(self) -> List[str]: ...
    @property
    def rejected(self) -> List[RejectedRecipient]: ...
    @property
    def reply(self) -> Reply: ...
    @property
    def queue_id(self) -> Optional[str]: ...
    @property
    def timings(self) -> Dict[str, Optional[float]]: ...
    def to_dict(self) -> Dict[str, Any]: ...

@final
class RecipientResult:
    @property
    def rcpt(self) -> str: ...
    @property
    def ok(self) -> bool: ...
    @property
    def reply(self) -> Optional[Reply]: ...
    @property
    def error(self) -> Optional[Error]: ...
    def to_dict(self) -> Dict[str, Any]: ...

@final
class Session:
    @property
    def id(self) -> str: ...
    @property
    def peer(self) -> Tuple[str, int]: ...
    @property
    def peer_ip(self) -> str: ...
    @property
    def peer_port(self) -> int: ...
    @property
    def local(self) -> Tuple[str, int]: ...
    @property
    def helo(self) -> Optional[str]: ...
    @property
    def tls(self) -> bool: ...
    @property
    def authenticated_user(self) -> Optional[str]: ...
    def to_dict(self) -> Dict[str, Any]: ...

@final
class Envelope:
    @property
    def mail_from(self) -> str: ...
    @property
    def rcpt_to(self) -> List[str]: ...
    @property
    def mail_params(self) -> Dict[str, Optional[str]]: ...
    @property
    def rcpt_params(self) -> List[Dict[str, Optional[str]]]: ...
    def to_dict(self) -> Dict[str, Any]: ...

@final
class Server:
    def __new__(
        cls,
        *,
        hostname: Optional[str] = None,
        local_domains: Sequence[str] = ...,
        relay_networks: Sequence[str] = ...,
        relay_authenticated: bool = True,
        max_message_size: Optional[int] = ...,
        max_recipients: int = 100,
        max_connections: int = 1000,
        timeouts: Union[None, float, Mapping[str, float]] = None,
        tls_cert: Optional[_Path] = None,
        tls_key: Optional[_Path] = None,
        auth: Union[None, Callable[[str, str], Union[bool, Awaitable[bool]]], Mapping[str, str]] = None,
        allow_vrfy: bool = False,
        allow_expn: bool = False,
        delivery: Optional[str] = None,
        on_connect: Optional[Callable[[Session], Union[_HookReply, Awaitable[_HookReply]]]] = None,
        on_mail_from: Optional[Callable[[Session, str, Dict[str, Optional[str]]], Union[_HookReply, Awaitable[_HookReply]]]] = None,
        on_rcpt_to: Optional[Callable[[Session, str, Dict[str, Optional[str]]], Union[_HookReply, Awaitable[_HookReply]]]] = None,
        on_message: Optional[Callable[[Session, Envelope, bytes], Union[_HookReply, Awaitable[_HookReply]]]] = None,
        strict: bool = False,
        allow_insecure_auth: bool = False,
        reverse_dns: bool = False,
        max_errors: int = 20,
        shutdown_grace: float = 30.0,
        max_buffered_bytes: int = ...,
        max_command_line: int = ...,
        max_line_length: int = ...,
        bare_line_policy: str = ...,
        hook_timeout: float = ...,
        hook_workers: int = ...,
        max_connections_per_ip: int = ...,
        connection_limit_exceptions: Sequence[str] = ...,
        min_data_rate: int = ...,
        max_junk_commands: int = ...,
        advertise_dsn: bool = False,
        maildir_layout: str = ...,
        queue_smarthost: Optional[str] = None,
        queue_port: int = 25,
        nameservers: Optional[Sequence[str]] = None,
        allow_loopback: bool = False,
        local_maildir: Optional[_Path] = None,
        queue_retry: Optional[Sequence[float]] = None,
        queue_max_age: Optional[float] = None,
    ) -> Self: ...
    def listen(self, host: str = "127.0.0.1", port: int = 0) -> Tuple[str, int]: ...
    @property
    def addresses(self) -> List[Tuple[str, int]]: ...
    def start(self) -> None: ...
    def serve_forever(self) -> None: ...
    def stop(self) -> None: ...
    @property
    def running(self) -> bool: ...
    @property
    def stats(self) -> Dict[str, int]: ...
    @property
    def hostname(self) -> str: ...
    def __enter__(self) -> Self: ...
    def __exit__(self, *_args: object) -> None: ...

@final
class Client:
    @classmethod
    def connect(
        cls,
        host: str,
        port: Optional[int] = None,
        *,
        tls: str = "opportunistic",
        hello_name: Optional[str] = None,
        timeout: float = 30.0,
        data_timeout: float = 600.0,
        timeouts: Union[None, float, Mapping[str, float]] = None,
        ca_file: Optional[_Path] = None,
        accept_invalid_certs: bool = False,
        allow_plaintext_auth: bool = False,
        pipelining: bool = True,
        chunking: bool = True,
        tls_server_name: Optional[str] = None,
        record_transcript: bool = True,
    ) -> "Client": ...
    @property
    def capabilities(self) -> Capabilities: ...
    def has_extn(self, name: str) -> bool: ...
    @property
    def banner(self) -> Reply: ...
    @property
    def tls(self) -> bool: ...
    @property
    def hello_name(self) -> str: ...
    @property
    def authenticated_user(self) -> Optional[str]: ...
    @property
    def transcript(self) -> List[str]: ...
    @property
    def closed(self) -> bool: ...
    def login(self, user: str, password: str, mechanism: Optional[str] = None) -> Reply: ...
    def send(
        self,
        mail_from: str,
        rcpt_to: _Rcpts,
        message: _Message,
        *,
        dsn: Optional[_Dsn] = None,
        mail_options: Optional[_EsmtpOptions] = None,
        rcpt_options: Optional[_EsmtpOptions] = None,
    ) -> SendResult: ...
    def send_message(
        self,
        msg: _EmailMessage,
        from_addr: Optional[str] = None,
        to_addrs: Optional[_Rcpts] = None,
        *,
        dsn: Optional[_Dsn] = None,
        mail_options: Optional[_EsmtpOptions] = None,
        rcpt_options: Optional[_EsmtpOptions] = None,
    ) -> SendResult: ...
    def verify(self, address: str) -> Reply: ...
    def expand(self, name: str) -> Reply: ...
    def help(self, topic: Optional[str] = None) -> Reply: ...
    def noop(self) -> Reply: ...
    def reset(self) -> Reply: ...
    def quit(self) -> Reply: ...
    def __enter__(self) -> Self: ...
    def __exit__(self, *_args: object) -> None: ...

@final
class AioClient:
    @classmethod
    def connect(
        cls,
        host: str,
        port: Optional[int] = None,
        *,
        tls: str = "opportunistic",
        hello_name: Optional[str] = None,
        timeout: float = 30.0,
        data_timeout: float = 600.0,
        timeouts: Union[None, float, Mapping[str, float]] = None,
        ca_file: Optional[_Path] = None,
        accept_invalid_certs: bool = False,
        allow_plaintext_auth: bool = False,
        pipelining: bool = True,
        chunking: bool = True,
        tls_server_name: Optional[str] = None,
        record_transcript: bool = True,
    ) -> Awaitable["AioClient"]: ...
    @property
    def capabilities(self) -> Capabilities: ...
    def has_extn(self, name: str) -> bool: ...
    @property
    def banner(self) -> Reply: ...
    @property
    def tls(self) -> bool: ...
    @property
    def hello_name(self) -> str: ...
    @property
    def authenticated_user(self) -> Optional[str]: ...
    @property
    def transcript(self) -> List[str]: ...
    @property
    def closed(self) -> bool: ...
    def login(self, user: str, password: str, mechanism: Optional[str] = None) -> Awaitable[Reply]: ...
    def send(
        self,
        mail_from: str,
        rcpt_to: _Rcpts,
        message: _Message,
        *,
        dsn: Optional[_Dsn] = None,
        mail_options: Optional[_EsmtpOptions] = None,
        rcpt_options: Optional[_EsmtpOptions] = None,
    ) -> Awaitable[SendResult]: ...
    def send_message(
        self,
        msg: _EmailMessage,
        from_addr: Optional[str] = None,
        to_addrs: Optional[_Rcpts] = None,
        *,
        dsn: Optional[_Dsn] = None,
        mail_options: Optional[_EsmtpOptions] = None,
        rcpt_options: Optional[_EsmtpOptions] = None,
    ) -> Awaitable[SendResult]: ...
    def verify(self, address: str) -> Awaitable[Reply]: ...
    def expand(self, name: str) -> Awaitable[Reply]: ...
    def help(self, topic: Optional[str] = None) -> Awaitable[Reply]: ...
    def noop(self) -> Awaitable[Reply]: ...
    def reset(self) -> Awaitable[Reply]: ...
    def quit(self) -> Awaitable[Reply]: ...
    def __aenter__(self) -> Awaitable[Self]: ...
    def __aexit__(self, *_args: object) -> Awaitable[None]: ...

def compose(
    from_: str,
    to: _Rcpts,
    subject: str,
    text: str,
    *,
    html: Optional[str] = None,
    cc: Optional[_Rcpts] = None,
    bcc: Optional[_Rcpts] = None,
    headers: Union[None, Mapping[str, str], Sequence[Tuple[str, str]]] = None,
    attachments: Optional[Sequence[Union[Tuple[str, str, bytes], Mapping[str, Any]]]] = None,
    date: Optional[int] = None,
    message_id: Optional[str] = None,
) -> bytes: ...
def send_mail(
    mail_from: str,
    rcpt_to: _Rcpts,
    message: _Message,
    *,
    smarthost: Optional[str] = None,
    port: int = 25,
    tls: str = "opportunistic",
    credentials: Optional[Tuple[str, str]] = None,
    timeout: float = 30.0,
    data_timeout: float = 600.0,
    timeouts: Union[None, float, Mapping[str, float]] = None,
    hello_name: Optional[str] = None,
    nameservers: Optional[Sequence[str]] = None,
    allow_loopback: bool = False,
    ca_file: Optional[_Path] = None,
    accept_invalid_certs: bool = False,
    allow_plaintext_auth: bool = False,
) -> List[RecipientResult]: ...
def set_log_level(level: Union[int, str]) -> None: ...
def parse_reply(wire: bytes, max_line: int = 4096, max_lines: int = 128) -> Optional[Tuple[Reply, int]]: ...
def parse_command(line: bytes, strict: bool = False, smtputf8: bool = False) -> Union[Dict[str, Any], Reply]: ...
def parse_address(text: str, kind: str = "path", strict: bool = False, smtputf8: bool = False) -> Dict[str, Any]: ...
def _shutdown() -> None: ...

# Issue 13 (second Python pass).
_Destination = Mapping[str, Any]

@final
class Pool:
    def __new__(
        cls,
        *,
        max_connections: int = ...,
        max_per_destination: int = ...,
        idle_timeout: float = ...,
        max_lifetime: float = ...,
        max_retries: int = ...,
        health_check_after: float = ...,
        max_messages_per_connection: int = ...,
    ) -> Self: ...
    def send(
        self,
        destination: _Destination,
        mail_from: str,
        rcpt_to: _Rcpts,
        message: _Message,
        *,
        dsn: Optional[_Dsn] = None,
        mail_options: Optional[_EsmtpOptions] = None,
        rcpt_options: Optional[_EsmtpOptions] = None,
    ) -> SendResult: ...
    @property
    def stats(self) -> Dict[str, int]: ...
    @property
    def closed(self) -> bool: ...
    def close(self) -> None: ...
    def __enter__(self) -> Self: ...
    def __exit__(self, *_args: object) -> None: ...

@final
class AioPool:
    def __new__(
        cls,
        *,
        max_connections: int = ...,
        max_per_destination: int = ...,
        idle_timeout: float = ...,
        max_lifetime: float = ...,
        max_retries: int = ...,
        health_check_after: float = ...,
        max_messages_per_connection: int = ...,
    ) -> Self: ...
    def send(
        self,
        destination: _Destination,
        mail_from: str,
        rcpt_to: _Rcpts,
        message: _Message,
        *,
        dsn: Optional[_Dsn] = None,
        mail_options: Optional[_EsmtpOptions] = None,
        rcpt_options: Optional[_EsmtpOptions] = None,
    ) -> Awaitable[SendResult]: ...
    @property
    def stats(self) -> Dict[str, int]: ...
    @property
    def closed(self) -> bool: ...
    def close(self) -> Awaitable[None]: ...
    def __aenter__(self) -> Awaitable[Self]: ...
    def __aexit__(self, *_args: object) -> Awaitable[None]: ...

@final
class _AioServer:
    def __new__(cls, **options: Any) -> Self: ...
    def listen(self, host: str = "127.0.0.1", port: int = 0) -> Tuple[str, int]: ...
    @property
    def addresses(self) -> List[Tuple[str, int]]: ...
    def _start(self, event_loop: Any) -> None: ...
    def _stop(self) -> Awaitable[None]: ...
    def _close(self) -> None: ...
    @property
    def running(self) -> bool: ...
    @property
    def stats(self) -> Dict[str, int]: ...
    @property
    def hostname(self) -> str: ...

def aio_send_mail(
    mail_from: str,
    rcpt_to: _Rcpts,
    message: _Message,
    *,
    smarthost: Optional[str] = None,
    port: int = 25,
    tls: str = "opportunistic",
    credentials: Optional[Tuple[str, str]] = None,
    timeout: float = 30.0,
    data_timeout: float = 600.0,
    timeouts: Union[None, float, Mapping[str, float]] = None,
    hello_name: Optional[str] = None,
    nameservers: Optional[Sequence[str]] = None,
    allow_loopback: bool = False,
    ca_file: Optional[_Path] = None,
    accept_invalid_certs: bool = False,
    allow_plaintext_auth: bool = False,
) -> Awaitable[List[RecipientResult]]: ...
def refresh_levels() -> None: ...


# --- MX routing, the queue, the relay check, the Received-trace analysis (issues 11 and 12) ---
import email.message
import pathlib

from ._mta import QueueEntry, ReceivedLine, RelayProbe, RelayReport, Route, RunStats, TraceAnalysis

_TraceMessage = Union[bytes, bytearray, str, "email.message.Message"]
_EnvelopeRcpts = Union[str, Sequence[Union[str, Mapping[str, Optional[str]]]]]

def resolve_mx(
    domain: str,
    *,
    nameservers: Optional[Sequence[str]] = None,
    seed: Optional[int] = None,
    own_hostnames: Optional[Sequence[str]] = None,
    max_cname_chain: Optional[int] = None,
    max_hosts: Optional[int] = None,
    query_timeout: Optional[float] = None,
) -> Route: ...
def aio_resolve_mx(
    domain: str,
    *,
    nameservers: Optional[Sequence[str]] = None,
    seed: Optional[int] = None,
    own_hostnames: Optional[Sequence[str]] = None,
    max_cname_chain: Optional[int] = None,
    max_hosts: Optional[int] = None,
    query_timeout: Optional[float] = None,
) -> Awaitable[Route]: ...
def check_relay(
    host: str,
    port: int = 25,
    *,
    helo: Optional[str] = None,
    probe_domain: str = "relay-probe.invalid",
    timeout: float = 30.0,
    tests: Union[str, Sequence[str]] = "all",
    from_user: Optional[str] = None,
    to_user: Optional[str] = None,
    server_ip: Optional[str] = None,
    internal_domain: Optional[str] = None,
    send_data: bool = False,
    errors_per_connection: Optional[int] = None,
    tls: Optional[str] = None,
) -> RelayReport: ...
def relay_probes(
    ip: str,
    *,
    banner_name: Optional[str] = None,
    ehlo_name: Optional[str] = None,
    domain: str = "relay-probe.invalid",
    from_user: str = "antispam",
    to_user: str = "relaytest",
    internal_domain: Optional[str] = None,
) -> List[RelayProbe]: ...
def relay_verdict(reply: Reply) -> str: ...
def relay_summary(verdicts: Sequence[str]) -> Dict[str, bool]: ...
def aio_check_relay(
    host: str,
    port: int = 25,
    *,
    helo: Optional[str] = None,
    probe_domain: str = "relay-probe.invalid",
    timeout: float = 30.0,
    tests: Union[str, Sequence[str]] = "all",
    from_user: Optional[str] = None,
    to_user: Optional[str] = None,
    server_ip: Optional[str] = None,
    internal_domain: Optional[str] = None,
    send_data: bool = False,
    errors_per_connection: Optional[int] = None,
    tls: Optional[str] = None,
) -> Awaitable[RelayReport]: ...
def analyze_received(
    message: _TraceMessage,
    *,
    trusted_hosts: Sequence[str] = (),
    resolve: bool = False,
    nameservers: Optional[Sequence[str]] = None,
    now: Optional[int] = None,
) -> TraceAnalysis: ...
def aio_analyze_received(
    message: _TraceMessage,
    *,
    trusted_hosts: Sequence[str] = (),
    resolve: bool = False,
    nameservers: Optional[Sequence[str]] = None,
    now: Optional[int] = None,
) -> Awaitable[TraceAnalysis]: ...
def parse_received(value: Union[bytes, bytearray, str]) -> ReceivedLine: ...
@final
class Queue:
    def __new__(
        cls,
        spool_dir: _Path,
        *,
        nameservers: Optional[Sequence[str]] = None,
        smarthost: Optional[str] = None,
        port: int = 25,
        allow_loopback: bool = False,
        retry: Optional[Sequence[float]] = None,
        max_age: Optional[float] = None,
        hostname: Optional[str] = None,
        concurrency: Optional[int] = None,
        per_destination: Optional[int] = None,
        tls: Optional[str] = None,
        timeout: Optional[float] = None,
        hello_name: Optional[str] = None,
        credentials: Optional[Tuple[str, str]] = None,
        allow_plaintext_auth: bool = False,
        poll_interval: Optional[float] = None,
    ) -> Self: ...
    @property
    def spool_dir(self) -> "pathlib.Path": ...
    def submit(
        self,
        envelope: Optional[Mapping[str, Any]] = None,
        message: Optional[_TraceMessage] = None,
        *,
        mail_from: str = ...,
        rcpt_to: _EnvelopeRcpts = ...,
        envid: Optional[str] = None,
        ret: Optional[str] = None,
    ) -> str: ...
    def list(self) -> List[QueueEntry]: ...
    def run(self) -> RunStats: ...
    def flush(self) -> RunStats: ...
    def start(self) -> None: ...
    def stop(self) -> None: ...
    def __enter__(self) -> Self: ...
    def __exit__(self, *_args: object) -> None: ...

@final
class AioQueue:
    def __new__(
        cls,
        spool_dir: _Path,
        *,
        nameservers: Optional[Sequence[str]] = None,
        smarthost: Optional[str] = None,
        port: int = 25,
        allow_loopback: bool = False,
        retry: Optional[Sequence[float]] = None,
        max_age: Optional[float] = None,
        hostname: Optional[str] = None,
        concurrency: Optional[int] = None,
        per_destination: Optional[int] = None,
        tls: Optional[str] = None,
        timeout: Optional[float] = None,
        hello_name: Optional[str] = None,
        credentials: Optional[Tuple[str, str]] = None,
        allow_plaintext_auth: bool = False,
        poll_interval: Optional[float] = None,
    ) -> Self: ...
    @property
    def spool_dir(self) -> "pathlib.Path": ...
    def submit(
        self,
        envelope: Optional[Mapping[str, Any]] = None,
        message: Optional[_TraceMessage] = None,
        *,
        mail_from: str = ...,
        rcpt_to: _EnvelopeRcpts = ...,
        envid: Optional[str] = None,
        ret: Optional[str] = None,
    ) -> Awaitable[str]: ...
    def list(self) -> Awaitable[List[QueueEntry]]: ...
    def run(self) -> Awaitable[RunStats]: ...
    def flush(self) -> Awaitable[RunStats]: ...
    def start(self) -> None: ...
    def stop(self) -> Awaitable[None]: ...
    def __aenter__(self) -> Awaitable[Self]: ...
    def __aexit__(self, *_args: object) -> Awaitable[None]: ...
