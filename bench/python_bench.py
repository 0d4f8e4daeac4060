"""Python binding benchmark (issue 4): one run, msg/s and ratios; markdown on stdout.

1. Server: smtp-source (1 KiB messages, -s 10 / -s 100, a session per message or many per
   session with -d) against postwire.Server with a Python on_message appending to a list,
   aiosmtpd with the same handler, and Postfix smtp-sink (the ceiling).
2. Client, one session, N messages into smtp-sink: postwire.Client vs smtplib.
3. Client, 10 concurrent sessions, N messages in all into smtp-sink: postwire.aio.Client vs
   aiosmtplib.
4. asyncio server: smtp-source as in 1 against postwire.aio.Server with an `async def`
   on_message that counts, aiosmtpd with the same handler, and smtp-sink.

Usage: python_bench.py SMTP_SOURCE SMTP_SINK   (run by bench/python_bench.sh in the bench venv)
Knobs: BENCH_MSGS (default 20000), BENCH_TIMEOUT (seconds per run, default 120),
BENCH_ONLY=aio (only the asyncio server rows), BENCH_REPEAT (rounds per server row, default 3).

Why rounds: on the shared 2-core VM this was written on, one server's rate on one row moved by
10-30 % (once 2x) between runs minutes apart, with about 20 % of the machine's time stolen by its
host. Each server row therefore runs every server once per round, the order rotated each round so
none always runs first or right after the slowest; a cell is the median of its rounds, a ratio is
the ratio of medians, and the range beside it is the lowest and highest ratio within one round.
"""

import asyncio
import os
import signal
import smtplib
import socket
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
N = int(os.environ.get("BENCH_MSGS", "20000"))
LIMIT = float(os.environ.get("BENCH_TIMEOUT", "120"))
ROUNDS = max(1, int(os.environ.get("BENCH_REPEAT", "3")))
SOURCE, SINK = sys.argv[1], sys.argv[2]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, proc):
    for _ in range(400):
        if proc.poll() is not None:
            raise SystemExit(f"server exited early: {proc.args}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.025)
    raise SystemExit(f"server did not listen: {proc.args}")


def start(name, port):
    if name == "smtp-sink":
        cmd = [SINK] + (["-u", "nobody"] if os.geteuid() == 0 else []) + [f"127.0.0.1:{port}", "1024"]
    else:
        cmd = [sys.executable, os.path.join(HERE, "python_sink.py"), name, str(port)]
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True)
    wait_port(port, p)
    return p


def stop(p):
    p.send_signal(signal.SIGTERM)
    try:
        out, _ = p.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        p.kill()
        out, _ = p.communicate()
    return out


def run_source(port, sessions, reuse):
    args = [SOURCE, "-c", "-s", str(sessions), "-m", str(N), "-l", "1024"] + (["-d"] if reuse else [])
    args += ["-M", "client.bench.test", "-f", "sender@client.bench.test", "-t", "rcpt@bench.test", f"127.0.0.1:{port}"]
    t0 = time.perf_counter()
    r = subprocess.run(args, capture_output=True, text=True, timeout=LIMIT)
    dt = time.perf_counter() - t0
    if r.returncode != 0:
        raise SystemExit(f"smtp-source failed: {r.stderr[:300]}")
    return N / dt


def message(size=1024):
    m = b"From: bench@example.org\r\nTo: sink@bench.test\r\nSubject: bench\r\n\r\n"
    while len(m) + 64 <= size:
        m += b"x" * 62 + b"\r\n"
    return m


def server_rows(names=("postwire", "aiosmtpd", "smtp-sink")):
    """Rows of (sessions, reuse, {name: [rate of each round]})."""
    rows = []
    for reuse in (False, True):
        for sessions in (10, 100):
            rates = {name: [] for name in names}
            for round_ in range(ROUNDS):
                shift = round_ % len(names)
                for name in names[shift:] + names[:shift]:
                    rates[name].append(one_server_run(name, sessions, reuse))
            rows.append((sessions, reuse, rates))
    return rows


def one_server_run(name, sessions, reuse):
    port = free_port()
    p = start(name, port)
    try:
        rate = run_source(port, sessions, reuse)
    finally:
        out = stop(p)
    if name != "smtp-sink" and f"kept={N}" not in out:
        raise SystemExit(f"{name}: handler did not see {N} messages: {out[-300:]}")
    return rate


def median(xs):
    xs = sorted(xs)
    mid = len(xs) // 2
    return xs[mid] if len(xs) % 2 else (xs[mid - 1] + xs[mid]) / 2


def ratio(r, a, b, digits):
    """Median of a over median of b, and the range of the ratios within one round."""
    text = f"{median(r[a]) / median(r[b]):.{digits}f}"
    per_round = [x / y for x, y in zip(r[a], r[b])]
    if len(per_round) > 1:
        text += f" ({min(per_round):.{digits}f}–{max(per_round):.{digits}f})"
    return text


def server_table(title, rows, ours, theirs):
    """Markdown rows from server_rows() results keyed by the names shown."""
    out = [f"### {title} ({N} x 1 KiB, smtp-source; median of {ROUNDS} rounds)\n"]
    out.append(f"| sessions | mode | {ours} msg/s | {theirs} msg/s | smtp-sink msg/s | {ours} / smtp-sink | {ours} / {theirs} |")
    out.append("|---|---|---|---|---|---|---|")
    for sessions, reuse, r in rows:
        out.append(
            f"| {sessions} | {'-d (many per session)' if reuse else 'one per session'} | {median(r[ours]):.0f} "
            f"| {median(r[theirs]):.0f} | {median(r['smtp-sink']):.0f} | {ratio(r, ours, 'smtp-sink', 2)} "
            f"| {ratio(r, ours, theirs, 1)} |"
        )
    return out


def renamed(rows, names):
    return [(sessions, reuse, {names[k]: v for k, v in r.items()}) for sessions, reuse, r in rows]


def client_sync(port, which):
    import postwire

    msg = message()
    rcpts = ["sink@bench.test"]
    t0 = time.perf_counter()
    if which == "postwire":
        with postwire.Client.connect("127.0.0.1", port, tls="none", hello_name="bench.test", record_transcript=False) as c:
            for _ in range(N):
                c.send("bench@example.org", rcpts, msg)
    else:
        s = smtplib.SMTP("127.0.0.1", port, local_hostname="bench.test", timeout=30)
        s.ehlo()
        for _ in range(N):
            s.sendmail("bench@example.org", rcpts, msg)
        s.quit()
    return N / (time.perf_counter() - t0)


def client_async(port, which, sessions=10):
    import aiosmtplib
    import postwire.aio

    msg = message()
    per = N // sessions

    async def one_postwire():
        c = await postwire.aio.Client.connect("127.0.0.1", port, tls="none", hello_name="bench.test", record_transcript=False)
        for _ in range(per):
            await c.send("bench@example.org", ["sink@bench.test"], msg)
        await c.quit()

    async def one_aiosmtplib():
        c = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, local_hostname="bench.test", start_tls=False, use_tls=False)
        await c.connect()
        for _ in range(per):
            await c.sendmail("bench@example.org", ["sink@bench.test"], msg)
        await c.quit()

    one = one_postwire if which == "postwire" else one_aiosmtplib

    async def main():
        await asyncio.gather(*(one() for _ in range(sessions)))

    t0 = time.perf_counter()
    asyncio.run(main())
    return per * sessions / (time.perf_counter() - t0)


def client_rows():
    port = free_port()
    sink = start("smtp-sink", port)
    try:
        sync = {w: client_sync(port, w) for w in ("postwire", "smtplib")}
        aio = {w: client_async(port, w) for w in ("postwire", "aiosmtplib")}
    finally:
        stop(sink)
    return sync, aio


def aio_table(rows):
    names = {"postwire-aio": "postwire.aio.Server", "aiosmtpd-count": "aiosmtpd", "smtp-sink": "smtp-sink"}
    return server_table("Python asyncio server: `async def` on_message counting", renamed(rows, names),
                        "postwire.aio.Server", "aiosmtpd")


def main():
    print(f"python_bench: {N} messages of 1 KiB per run, {os.cpu_count()} CPUs, Python {sys.version.split()[0]}", file=sys.stderr)
    aio_rows = server_rows(("postwire-aio", "aiosmtpd-count", "smtp-sink"))
    if os.environ.get("BENCH_ONLY") == "aio":
        print("\n".join(aio_table(aio_rows)))
        return
    rows = server_rows()
    sync, aio = client_rows()
    names = {"postwire": "postwire.Server", "aiosmtpd": "aiosmtpd", "smtp-sink": "smtp-sink"}
    out = server_table("Python server: Python `on_message` appending to a list", renamed(rows, names),
                       "postwire.Server", "aiosmtpd")
    out.append(f"\n### Python clients into smtp-sink ({N} x 1 KiB)\n")
    out.append("| client | msg/s | ratio |")
    out.append("|---|---|---|")
    out.append(f"| postwire.Client, 1 session | {sync['postwire']:.0f} | {sync['postwire'] / sync['smtplib']:.2f}x smtplib |")
    out.append(f"| smtplib, 1 session | {sync['smtplib']:.0f} | 1 |")
    out.append(f"| postwire.aio.Client, 10 sessions | {aio['postwire']:.0f} | {aio['postwire'] / aio['aiosmtplib']:.2f}x aiosmtplib |")
    out.append(f"| aiosmtplib, 10 sessions | {aio['aiosmtplib']:.0f} | 1 |")
    out.append("")
    out.extend(aio_table(aio_rows))
    print("\n".join(out))


if __name__ == "__main__":
    main()
