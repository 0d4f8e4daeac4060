"""Benchmark sinks with the same trivial Python handler (append the message to a list), and the
asyncio pair with an `async def` handler that counts (postwire.aio.Server vs aiosmtpd).

Usage: python_sink.py postwire|aiosmtpd|postwire-aio|aiosmtpd-count PORT   (127.0.0.1:PORT; prints "ready" once listening,
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


async def _until_signal():
    loop = asyncio.get_running_loop()
    stop = loop.create_future()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set_result, None)
    print("ready", flush=True)
    await stop


def run_postwire_aio(port):
    import postwire.aio

    async def on_message(session, envelope, data):
        kept.append(None)

    async def main():
        server = postwire.aio.Server(hostname="mx.bench.test", local_domains=["bench.test"],
                                     on_message=on_message, max_connections=1000)
        server.listen("127.0.0.1", port)
        async with server:
            await _until_signal()

    asyncio.run(main())


def run_aiosmtpd_count(port):
    from aiosmtpd.smtp import SMTP

    class Count:
        async def handle_DATA(self, server, session, envelope):
            kept.append(None)
            return "250 OK"

    async def main():
        loop = asyncio.get_running_loop()
        handler = Count()
        server = await loop.create_server(lambda: SMTP(handler, hostname="mx.bench.test"), "127.0.0.1", port, backlog=1024)
        await _until_signal()
        server.close()

    asyncio.run(main())


if __name__ == "__main__":
    {"postwire": run_postwire, "aiosmtpd": run_aiosmtpd, "postwire-aio": run_postwire_aio,
     "aiosmtpd-count": run_aiosmtpd_count}[sys.argv[1]](int(sys.argv[2]))
    print(f"kept={len(kept)}", flush=True)
