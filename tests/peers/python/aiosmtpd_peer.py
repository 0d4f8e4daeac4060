"""aiosmtpd as a test peer for the postwire client.

Listens on 127.0.0.1 (or --host, e.g. 127.0.0.33 for routing tests; ephemeral port unless --port), prints ``READY <port>`` on stdout, and
writes every accepted message to --dir as ``<n>.eml`` (the bytes as received, dot-unstuffed)
and ``<n>.json`` (envelope and ESMTP options) for byte-exact comparison by the Rust tests.

Switches reproduce the refusals the tests need: ``--refuse ADDR`` answers RFC 821's
``550 No such user here`` for that recipient, ``--max-rcpt N`` answers 452 past N recipients,
``--size N`` advertises SIZE N (552 above it), ``--tls-cert/--tls-key`` offer STARTTLS,
``--auth USER:PASS`` offers AUTH PLAIN/LOGIN (also without TLS).
"""

import argparse
import asyncio
import json
import os
import ssl
import sys

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword


class Handler:
    def __init__(self, out_dir, refuse, max_rcpt):
        self.out_dir = out_dir
        self.refuse = {a.lower() for a in refuse}
        self.max_rcpt = max_rcpt
        self.count = 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.lower() in self.refuse:
            return "550 No such user here"
        if self.max_rcpt and len(envelope.rcpt_tos) >= self.max_rcpt:
            return "452 4.5.3 Too many recipients"
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):
        self.count += 1
        n = self.count
        if self.out_dir:
            base = os.path.join(self.out_dir, f"{n:04d}")
            with open(base + ".eml.tmp", "wb") as f:
                f.write(envelope.original_content)
            meta = {
                "mail_from": envelope.mail_from,
                "rcpt_tos": envelope.rcpt_tos,
                "mail_options": envelope.mail_options,
                "rcpt_options": envelope.rcpt_options,
                "tls": session.ssl is not None,
                "auth": bool(session.authenticated),
            }
            with open(base + ".json", "w") as f:
                json.dump(meta, f)
            os.rename(base + ".eml.tmp", base + ".eml")
        return f"250 2.0.0 Ok: queued as AIO{n:06d}"


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--dir")
    p.add_argument("--refuse", action="append", default=[])
    p.add_argument("--max-rcpt", type=int, default=0)
    p.add_argument("--size", type=int, default=33554432)
    p.add_argument("--tls-cert")
    p.add_argument("--tls-key")
    p.add_argument("--auth")
    p.add_argument("--smtputf8", action="store_true")
    args = p.parse_args()

    handler = Handler(args.dir, args.refuse, args.max_rcpt)
    tls_context = None
    if args.tls_cert:
        tls_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls_context.load_cert_chain(args.tls_cert, args.tls_key)

    kwargs = {}
    if args.auth:
        user, password = args.auth.split(":", 1)

        def authenticator(server, session, envelope, mechanism, auth_data):
            ok = isinstance(auth_data, LoginPassword) and auth_data.login.decode() == user \
                and auth_data.password.decode() == password
            return AuthResult(success=ok, handled=False, auth_data=user if ok else None)

        kwargs.update(authenticator=authenticator, auth_require_tls=False)

    def factory():
        return SMTP(handler, data_size_limit=args.size, enable_SMTPUTF8=args.smtputf8,
                    hostname="aiosmtpd.test", tls_context=tls_context, **kwargs)

    async def serve():
        loop = asyncio.get_running_loop()
        server = await loop.create_server(factory, args.host, args.port)
        port = server.sockets[0].getsockname()[1]
        print(f"READY {port}", flush=True)
        # Exit when the test closes our stdin (or dies).
        await loop.run_in_executor(None, sys.stdin.read)
        server.close()

    asyncio.run(serve())


if __name__ == "__main__":
    main()
