"""``python -m postwire serve | send``: the command line over the binding's own API.

Why not the core's Rust CLI (clap) through the extension, as before: that pulled clap into the
extension's dependency tree, and the Rust CLI installs its own `tracing` output while the
binding had already installed the forwarding to Python's ``logging`` — so ``--json-log`` and
``--quiet`` were ignored under Python. Here the options map onto ``postwire.Server`` /
``postwire.Client`` (whose names, defaults and checks are the core's), and the log goes through
``logging``, which ``--json-log`` and ``--quiet`` configure. Output and exit codes follow the
``postwire`` binary: 0 done, 1 the network or the server failed, 2 bad arguments or input.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
from typing import Any, Dict, List, Optional

from . import Client, Error, Server, compose, set_log_level


class _JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        fields = getattr(record, "postwire_fields", {})
        return json.dumps({**fields, "timestamp": self.formatTime(record), "level": record.levelname,
                           "target": record.name, "message": record.getMessage()})


class _TextFormatter(logging.Formatter):
    """The message, then the core's fields (``record.postwire_fields``) as ``name=value``."""

    def format(self, record: logging.LogRecord) -> str:
        fields = getattr(record, "postwire_fields", {})
        return super().format(record) + "".join(f" {k}={v}" for k, v in fields.items())


def _serve(a: argparse.Namespace) -> int:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_JsonFormatter() if a.json_log else _TextFormatter("%(asctime)s %(levelname)s %(message)s"))
    logging.getLogger("postwire").addHandler(handler)
    set_log_level("WARNING" if a.quiet else "INFO")
    opts: Dict[str, Any] = {k: v for k, v in {
        "hostname": a.hostname, "local_domains": a.local_domain, "relay_networks": a.relay_network,
        "tls_cert": a.tls_cert, "tls_key": a.tls_key, "max_message_size": a.max_message_size,
        "max_recipients": a.max_recipients, "max_connections": a.max_connections, "timeouts": a.timeout,
        "allow_insecure_auth": a.allow_insecure_auth or None, "allow_vrfy": a.allow_vrfy or None,
        "allow_expn": a.allow_expn or None, "strict": a.strict or None, "reverse_dns": a.reverse_dns or None,
    }.items() if v is not None}
    opts["delivery"] = "discard" if a.discard else f"maildir:{a.maildir}"
    if a.auth_user:
        if any(":" not in u for u in a.auth_user):
            print("postwire serve: --auth-user wants user:password", file=sys.stderr)
            return 2
        opts["auth"] = dict(u.split(":", 1) for u in a.auth_user)
    try:
        server = Server(**opts)
        for listen in a.listen:
            host, _, port = listen.rpartition(":")
            bound = server.listen(host.strip("[]"), int(port))
            print(f"postwire: listening on {bound[0]}:{bound[1]}", flush=True)
    except (Error, ValueError) as e:
        print(f"postwire serve: {e}", file=sys.stderr)
        return 2 if isinstance(e, ValueError) else 1
    # SIGTERM stops gracefully like Ctrl-C.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    logging.getLogger("postwire").info("postwire: serving")
    server.serve_forever()
    logging.getLogger("postwire").info("stopped: %s", server.stats)
    return 0


def _send(a: argparse.Namespace) -> int:
    host, port = a.server, None
    if host.startswith("["):
        host, _, rest = host[1:].partition("]")
        port = int(rest[1:]) if rest.startswith(":") else None
    elif host.count(":") == 1:
        host, _, p = host.partition(":")
        port = int(p)
    client: Optional[Client] = None
    result: Any = None
    error: Optional[Error] = None
    try:
        message = None
        if a.data is not None:
            message = sys.stdin.buffer.read() if a.data == "-" else open(a.data, "rb").read()
        opts: Dict[str, Any] = {"tls": a.tls, "hello_name": a.hello, "ca_file": a.ca_file,
                                "accept_invalid_certs": a.insecure, "allow_plaintext_auth": a.allow_plaintext_auth,
                                "tls_server_name": a.tls_server_name, "pipelining": not a.no_pipelining,
                                "chunking": not a.no_chunking, "timeout": a.timeout}
        client = Client.connect(host, port, **opts)
        if a.auth:
            user, _, password = a.auth.partition(":")
            client.login(user, password, a.auth_mechanism)
        if message is None:
            sender = a.from_ or f"MAILER-DAEMON@{client.hello_name}"
            message = compose(sender, a.to, a.subject, a.body)
        result = client.send(a.from_, a.to, message)
    except Error as e:
        error = e
    except OSError as e:
        print(f"postwire send: {e}", file=sys.stderr)
        return 2
    finally:
        if client is not None and not client.closed:
            try:
                client.quit()
            except Error:
                pass
    transcript: List[str] = client.transcript if client is not None else []
    if a.json:
        out: Dict[str, Any] = result.to_dict() if result is not None else {"error": {
            "kind": error.kind if error else None, "message": str(error),
            "reply": error.reply.to_dict() if error and error.reply else None}}
        out["transcript"] = transcript
        print(json.dumps(out, indent=2))
    else:
        for line in transcript:
            arrow = {"C: ": " -> ", "S: ": "<-  "}.get(line[:3], " ** ")
            print(arrow + line[3:])
        for rej in (result.rejected if result is not None else []):
            print(f"postwire send: recipient {rej.rcpt} refused: {rej.reply}", file=sys.stderr)
    if error is not None:
        print(f"postwire send: {error.kind}: {error}", file=sys.stderr)
        return 2 if error.kind in ("invalid_input", "io") else 1
    return 0


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="postwire", description="postwire: SMTP server and client from one core.")
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("serve", help="Run an SMTP server (Maildir delivery, relay policy, STARTTLS, AUTH).")
    s.add_argument("--listen", action="append", help="address to listen on, HOST:PORT (repeatable; default 127.0.0.1:2525)")
    s.add_argument("--hostname", help="our host name (banner, EHLO, Received \"by\")")
    s.add_argument("--local-domain", action="append", help="a domain we accept mail for (repeatable)")
    where = s.add_mutually_exclusive_group(required=True)
    where.add_argument("--maildir", help="store accepted mail in this Maildir")
    where.add_argument("--discard", action="store_true", help="accept and drop every message (benchmarks)")
    s.add_argument("--relay-network", action="append", help="a network allowed to relay, as CIDR (repeatable)")
    s.add_argument("--tls-cert", help="PEM certificate chain for STARTTLS")
    s.add_argument("--tls-key", help="PEM private key for STARTTLS")
    s.add_argument("--max-message-size", type=int, help="largest message in bytes (SIZE)")
    s.add_argument("--max-recipients", type=int, help="most recipients per message")
    s.add_argument("--max-connections", type=int, help="most simultaneous sessions")
    s.add_argument("--timeout", type=float, help="seconds to wait for a command or data (RFC 5321: 300)")
    s.add_argument("--auth-user", action="append", help="a user allowed to AUTH, as user:password (repeatable)")
    for flag, what in [("--allow-insecure-auth", "offer AUTH without TLS"), ("--allow-vrfy", "answer VRFY"),
                       ("--allow-expn", "answer EXPN"), ("--strict", "conformance mode"),
                       ("--reverse-dns", "look up clients' reverse-DNS names for the Received line"),
                       ("--json-log", "log as JSON lines"), ("--quiet", "log only warnings and errors")]:
        s.add_argument(flag, action="store_true", help=what)
    s.set_defaults(run=_serve)
    t = sub.add_parser("send", help="Send one message, printing the SMTP transcript (swaks-style).")
    t.add_argument("--server", "-s", required=True, help="HOST:PORT ([::1]:2525); port 25, or 465 with --tls implicit")
    t.add_argument("--from", "-f", dest="from_", required=True, help="envelope sender (\"\" for the null sender)")
    t.add_argument("--to", "-t", action="append", required=True, help="envelope recipient (repeatable)")
    t.add_argument("--tls", default=None, help="none, opportunistic, starttls, implicit")
    t.add_argument("--auth", help="authenticate as USER:PASSWORD")
    t.add_argument("--auth-mechanism", help="PLAIN, LOGIN or XOAUTH2")
    t.add_argument("--allow-plaintext-auth", action="store_true", help="allow AUTH without TLS")
    t.add_argument("--data", help="the message: a file, or - for standard input")
    t.add_argument("--subject", default="postwire test", help="subject of the built message")
    t.add_argument("--body", default="This is a test message sent by postwire.", help="body of the built message")
    t.add_argument("--hello", help="name for EHLO/HELO")
    t.add_argument("--ca-file", help="extra CA certificates (PEM) to trust")
    t.add_argument("--tls-server-name", help="name to verify the server certificate against")
    t.add_argument("--insecure", action="store_true", help="accept any server certificate (testing only)")
    t.add_argument("--timeout", type=float, help="seconds for each reply (the final one waits longer)")
    t.add_argument("--no-pipelining", action="store_true", help="do not use PIPELINING")
    t.add_argument("--no-chunking", action="store_true", help="do not use CHUNKING/BDAT")
    t.add_argument("--json", action="store_true", help="print the result and the transcript as JSON")
    t.set_defaults(run=_send)
    return p


def main(argv: Optional[List[str]] = None) -> int:
    a = _parser().parse_args(argv)
    if a.command == "serve" and not a.listen:
        a.listen = ["127.0.0.1:2525"]
    return int(a.run(a))


if __name__ == "__main__":
    sys.exit(main())
