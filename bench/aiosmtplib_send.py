"""Benchmark helper: send N messages of SIZE bytes with aiosmtplib over K concurrent sessions
(each session reused for its share of the messages).

Usage: aiosmtplib_send.py PORT N SIZE K   (host 127.0.0.1). Exits non-zero if any send fails.
"""
import asyncio
import sys

import aiosmtplib

from smtplib_send import message


async def worker(port, count, msg):
    c = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, local_hostname="bench.test",
                        timeout=30, start_tls=False, use_tls=False)
    await c.connect()
    for _ in range(count):
        errors, _ = await c.sendmail("bench@example.org", ["sink@example.net"], msg)
        if errors:
            raise RuntimeError(f"refused: {errors}")
    await c.quit()
    return count


async def main():
    port, n, size, k = (int(a) for a in sys.argv[1:5])
    msg = message(size)
    shares = [n // k + (1 if i < n % k else 0) for i in range(k)]
    done = await asyncio.gather(*(worker(port, s, msg) for s in shares))
    print(f"sent={sum(done)}")


if __name__ == "__main__":
    asyncio.run(main())
