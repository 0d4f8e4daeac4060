"""Benchmark sinks with the same trivial Python handler (append the message to a list).

Usage: python_sink.py postwire|aiosmtpd PORT   (127.0.0.1:PORT; prints "ready" once listening,
runs until SIGTERM/SIGINT, then prints how many messages the handler saw).
"""

import asyncio
import signal
import sys

kept = []


def run_postwire(port):
    import postwire

    def on_message(session, envelope, data):
        kept.append(data)

    server = postwire.Server(hostname="mx.bench.test", local_domains=["bench.test"],
                             on_message=on_message, max_connections=1000)
    server.listen("127.0.0.1", port)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    print("ready", flush=True)
    server.serve_forever()  # returns on SIGINT/SIGTERM (KeyboardInterrupt)


def run_aiosmtpd(port):
    from aiosmtpd.smtp import SMTP

    class Keep:
        async def handle_DATA(self, server, session, envelope):
            kept.append(envelope.content)
            return "250 OK"

    async def main():
        loop = asyncio.get_running_loop()
        handler = Keep()
        server = await loop.create_server(lambda: SMTP(handler, hostname="mx.bench.test"), "127.0.0.1", port, backlog=1024)
        stop = loop.create_future()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set_result, None)
        print("ready", flush=True)
        await stop
        server.close()

    asyncio.run(main())


if __name__ == "__main__":
    {"postwire": run_postwire, "aiosmtpd": run_aiosmtpd}[sys.argv[1]](int(sys.argv[2]))
    print(f"kept={len(kept)}", flush=True)
