"""Benchmark sink on aiosmtpd (the pinned peer in tests/peers/requirements.txt).

Accepts every message with a trivial handler returning 250 and keeps nothing, so
bench/server_bench.sh measures the SMTP engine itself.
Usage: .venv/bin/python bench/aiosmtpd_sink.py PORT   (listens on 127.0.0.1:PORT until SIGTERM)
"""

import asyncio
import signal
import sys

try:
    from aiosmtpd.smtp import SMTP
except ImportError:
    sys.exit("aiosmtpd is not installed: run `make deps`")


class Discard:
    """The trivial handler: every message is accepted and dropped."""

    async def handle_DATA(self, server, session, envelope):
        return "250 OK"


async def main(port: int) -> None:
    loop = asyncio.get_running_loop()
    handler = Discard()
    # A fixed hostname keeps aiosmtpd from resolving the machine's name.
    server = await loop.create_server(
        lambda: SMTP(handler, hostname="sink.bench.test", ident="aiosmtpd sink"),
        host="127.0.0.1",
        port=port,
    )
    print(f"aiosmtpd sink: listening on 127.0.0.1:{port}", flush=True)
    stop = loop.create_future()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set_result, None)
    await stop
    server.close()


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: aiosmtpd_sink.py PORT")
    asyncio.run(main(int(sys.argv[1])))
