#!/usr/bin/env python3
"""Runs the C test programs (built by scripts/test-c.sh) against real peers on loopback and checks
what the peers stored:

  null, vectors, errors, api   self-contained programs (every error kind, the NULL test, the shared
                               vectors, compose/send_mail/pool/log against a C server in-process)
  client_sink                  the C client into Postfix's smtp-sink; its dump files are checked
  client_aiosmtpd              the C client into aiosmtpd refusing two recipients; its store checked
  server                       the C server with hooks taking mail from smtplib and swaks; the
                               replies, the Maildir and the server's counters are checked
  mx                           resolve_mx against postwire-testdns (tests/dns/zone.json)
  send_mx                      send_mail by MX into aiosmtpd and smtp-sink on 127.0.0.3x
  queue                        the queue: 5xx -> one DSN at the sender's aiosmtpd, <> -> none,
                               4xx (smtp-sink) -> deferred; what every server stored is checked
  relay                        check_relay: our C server closed and open, aiosmtpd accept-all
  trace                        analyze_received vectors and the 181-header Received corpus

  run.py BIN_DIR [--wrap "valgrind ..."] [--label NAME] [--only CASE,...]

Every program runs under a time limit; a peer that does not start in time fails the case. Ends
with one line 'N passed, N failed'.
"""

import argparse
import email
import json
import os
import shlex
import shutil
import smtplib
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PYTHON = ROOT / ".venv" / "bin" / "python"


class Fail(Exception):
    pass


def check(cond, what):
    if not cond:
        raise Fail(what)


class Runner:
    def __init__(self, bin_dir, wrap, label):
        self.bin_dir = Path(bin_dir)
        self.wrap = shlex.split(wrap) if wrap else []
        self.label = label
        # valgrind runs programs 20-50x slower.
        self.limit = 600 if self.wrap else 120

    def cmd(self, name, *args):
        return self.wrap + [str(self.bin_dir / name), *map(str, args)]

    def run(self, name, *args):
        p = subprocess.run(self.cmd(name, *args), capture_output=True, text=True, timeout=self.limit)
        if p.returncode != 0:
            raise Fail(f"{name} exited {p.returncode}\n{p.stdout}{p.stderr}")
        return p.stdout


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_listening(port, proc, seconds=20):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return True
        except OSError:
            time.sleep(0.05)
    return False


def wait_files(directory, n, seconds=20):
    deadline = time.monotonic() + seconds
    files = []
    while time.monotonic() < deadline:
        files = sorted(p for p in Path(directory).rglob("*") if p.is_file())
        if len(files) >= n:
            break
        time.sleep(0.05)
    return files


def stop(proc):
    if proc.poll() is None:
        proc.kill()
    proc.wait(timeout=10)


TESTDNS = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target")) / "debug" / "postwire-testdns"


def start_testdns():
    """postwire-testdns on 127.0.0.1 serving tests/dns/zone.json (the Rust suite's zone)."""
    check(TESTDNS.exists(), f"{TESTDNS} is missing: cargo build -p postwire-testdns")
    proc = subprocess.Popen([str(TESTDNS), "--zone", str(ROOT / "tests/dns/zone.json")],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    check(line.startswith("READY "), f"postwire-testdns did not start: {line!r}")
    return proc, f"127.0.0.1:{int(line.split()[1])}"


def port_free_on(hosts):
    """A TCP port free on every one of `hosts` (delivery uses one port for every exchanger)."""
    for _ in range(100):
        port = free_port()
        try:
            for h in hosts:
                with socket.socket() as s:
                    s.bind((h, port))
            return port
        except OSError:
            continue
    raise Fail(f"no port free on all of {hosts}")


def wait_on(host, port, proc, seconds=20):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            with socket.create_connection((host, port), timeout=1):
                return True
        except OSError:
            time.sleep(0.05)
    return False


def start_sink(d, host, port, *flags):
    sink = shutil.which("smtp-sink") or "/usr/sbin/smtp-sink"
    check(os.path.exists(sink), "Postfix smtp-sink is missing: run `make deps`")
    os.chmod(d, 0o777)  # smtp-sink drops to nobody when run as root
    user = ["-u", "nobody"] if os.geteuid() == 0 else []
    proc = subprocess.Popen([sink, *user, *flags, "-d", f"{d}/%H%M%S.", f"{host}:{port}", "100"],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    check(wait_on(host, port, proc), f"smtp-sink on {host}:{port} did not start")
    return proc


def stored(d):
    """aiosmtpd_peer's store: [(meta, message bytes)] in arrival order."""
    out = []
    for eml in sorted(Path(d).glob("*.eml"), key=lambda p: int(p.stem)):
        out.append((json.loads(eml.with_suffix(".json").read_text()), eml.read_bytes()))
    return out


def case_mx(r):
    dns, ns = start_testdns()
    try:
        r.run("test_mta", "mx", ns)
    finally:
        dns.stdin.close()
        stop(dns)


def case_send_mx(r):
    dns, ns = start_testdns()
    procs = [dns]
    with tempfile.TemporaryDirectory() as dest, tempfile.TemporaryDirectory() as backup, \
            tempfile.TemporaryDirectory() as other:
        try:
            port = port_free_on(["127.0.0.31", "127.0.0.32", "127.0.0.33", "127.0.0.34"])
            p, _ = start_aiosmtpd(dest, "--host", "127.0.0.33", "--port", str(port))
            procs.append(p)
            p, _ = start_aiosmtpd(backup, "--host", "127.0.0.32", "--port", str(port))
            procs.append(p)
            procs.append(start_sink(other, "127.0.0.34", port))
            r.run("test_mta", "send", ns, port)
            got = stored(dest)
            # Both dest.test recipients in one transaction (and the guarded second send: nothing).
            check([m["rcpt_tos"] for m, _ in got] == [["a@dest.test", "b@dest.test"]], f"dest.test got {got}")
            check(b"routed by MX" in got[0][1], "the message arrived")
            got = stored(backup)
            check([m["rcpt_tos"] for m, _ in got] == [["d@backup.test"]], f"the backup MX got {got}")
            files = wait_files(other, 1)
            check(len(files) == 1 and "routed by MX" in files[0].read_text(errors="replace"),
                  f"smtp-sink on other.test stored {len(files)}")
        finally:
            for p in procs:
                if p.stdin:
                    p.stdin.close()
                stop(p)


def case_queue(r):
    dns, ns = start_testdns()
    procs = [dns]
    with tempfile.TemporaryDirectory() as dest, tempfile.TemporaryDirectory() as sender, \
            tempfile.TemporaryDirectory() as other, tempfile.TemporaryDirectory() as spool:
        try:
            port = port_free_on(["127.0.0.33", "127.0.0.34", "127.0.0.35"])
            p, _ = start_aiosmtpd(dest, "--host", "127.0.0.33", "--port", str(port), "--refuse", "bad@dest.test",
                                  "--refuse", "bad2@dest.test", "--refuse", "bad3@dest.test")
            procs.append(p)
            p, _ = start_aiosmtpd(sender, "--host", "127.0.0.35", "--port", str(port))
            procs.append(p)
            procs.append(start_sink(other, "127.0.0.34", port, "-r", "RCPT"))
            r.run("test_mta", "queue", ns, port, Path(spool) / "q")
            got = stored(dest)
            check(sorted(m["rcpt_tos"][0] for m, _ in got) == ["good@dest.test", "more@dest.test"],
                  f"dest.test got {[m for m, _ in got]}")
            notices = stored(sender)
            # Exactly one DSN, from <>, for bad@ only (not for <>'s bad2@, not NOTIFY=NEVER's bad3@).
            check(len(notices) == 1, f"{len(notices)} notices at the sender's server: {[m for m, _ in notices]}")
            meta, text = notices[0]
            check(meta["mail_from"] in ("", "<>") and meta["rcpt_tos"] == ["s@sender.test"], f"notice envelope {meta}")
            for want in [b"Final-Recipient: rfc822; bad@dest.test", b"Original-Recipient: rfc822; alias@dest.test",
                         b"Action: failed", b"Original-Envelope-Id: ENV-C-1"]:
                check(want in text, f"{want!r} missing in the DSN:\n{text.decode(errors='replace')}")
            check(b"bad2@dest.test" not in text and b"bad3@dest.test" not in text, "one DSN, for bad@ only")
            check(wait_files(other, 1, seconds=0.5) == [], "smtp-sink stored nothing (4xx)")
        finally:
            for p in procs:
                if p.stdin:
                    p.stdin.close()
                stop(p)


def case_relay(r):
    with tempfile.TemporaryDirectory() as d:
        proc, port = start_aiosmtpd(d)
        try:
            r.run("test_mta", "relay", port)
            check(stored(d) == [], "the relay check sent no message content to aiosmtpd")
        finally:
            proc.stdin.close()
            stop(proc)


def case_trace(r):
    r.run("test_mta", "trace", ROOT / "tests" / "vectors")


def case_null(r):
    r.run("test_null")


def case_vectors(r):
    r.run("test_vectors", ROOT / "tests" / "vectors")


def case_errors(r):
    r.run("test_errors")


def case_api(r):
    r.run("test_api")


def case_client_sink(r):
    sink = shutil.which("smtp-sink") or "/usr/sbin/smtp-sink"
    check(os.path.exists(sink), "Postfix smtp-sink is missing: run `make deps`")
    with tempfile.TemporaryDirectory() as d:
        os.chmod(d, 0o777)  # smtp-sink drops to nobody when run as root
        port = free_port()
        user = ["-u", "nobody"] if os.geteuid() == 0 else []
        proc = subprocess.Popen([sink, *user, "-d", f"{d}/%H%M%S.", f"127.0.0.1:{port}", "100"],
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
        try:
            check(wait_listening(port, proc), "smtp-sink did not start")
            r.run("test_client", "sink", port)
            files = wait_files(d, 3)
            check(len(files) == 3, f"smtp-sink stored {len(files)} messages, want 3")
            bodies = [f.read_text(errors="replace") for f in files]
            for i in range(3):
                # Dot-stuffed by the client, unstuffed by the server: the lines arrive as written.
                want = f"Subject: c message {i}\n\n.dot line {i}\n..\nend\n"
                check(sum(want in b for b in bodies) == 1, f"message {i} stored once: {bodies!r}")
        finally:
            stop(proc)


def start_aiosmtpd(d, *args):
    check(PYTHON.exists(), f"{PYTHON} is missing: run `make deps`")
    proc = subprocess.Popen([str(PYTHON), str(ROOT / "tests/peers/python/aiosmtpd_peer.py"), "--dir", d, *args],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    check(line.startswith("READY "), f"aiosmtpd did not start: {line!r}")
    return proc, int(line.split()[1])


def case_client_aiosmtpd(r):
    with tempfile.TemporaryDirectory() as d:
        proc, port = start_aiosmtpd(d, "--refuse", "nobody@example.test", "--refuse", "nobody2@example.test")
        try:
            r.run("test_client", "aiosmtpd", port)
            stored = wait_files(d, 2)
            emls = [f for f in stored if f.suffix == ".eml"]
            check(len(emls) == 1, f"aiosmtpd stored {len(emls)} messages, want 1")
            meta = json.loads(emls[0].with_suffix(".json").read_text())
            check(meta["rcpt_tos"] == ["one@example.test", "two@example.test"], f"envelope {meta}")
            check(meta["mail_from"] == "a@example.test", f"sender {meta}")
            msg = email.message_from_bytes(emls[0].read_bytes())
            check(msg["Subject"] == "refusal test", f"stored message {msg}")
        finally:
            proc.stdin.close()
            stop(proc)


def case_server(r):
    swaks = shutil.which("swaks")
    check(swaks is not None, "swaks is missing: run `make deps`")
    with tempfile.TemporaryDirectory() as d:
        maildir = Path(d) / "Maildir"
        proc = subprocess.Popen(r.cmd("test_server", maildir), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        try:
            line = proc.stdout.readline()
            check(line.startswith("READY "), f"test_server did not start: {line!r}")
            port = int(line.split()[1])
            timeout = 120 if r.wrap else 20
            with smtplib.SMTP("127.0.0.1", port, timeout=timeout) as s:
                refused = s.sendmail("a@example.org", ["ok1@example.test", "refused@example.test"],
                                     b"Subject: from smtplib\r\n\r\nhello\r\n")
                check(list(refused) == ["refused@example.test"], f"smtplib refusals {refused}")
                code, text = refused["refused@example.test"]
                check(code == 550 and text.startswith(b"5.1.1 no such user"), f"refusal {code} {text}")
                try:
                    s.sendmail("a@example.org", ["ok1@example.test"], b"X-Test-Answer: 451\r\n\r\nlater\r\n")
                    raise Fail("the 451 message was accepted")
                except smtplib.SMTPDataError as e:
                    check(e.smtp_code == 451 and e.smtp_error.startswith(b"4.3.2"), f"451 answer {e}")
            sw = subprocess.run([swaks, "--server", f"127.0.0.1:{port}", "--from", "b@example.org", "--to",
                                 "ok2@example.test", "--header", "Subject: from swaks", "--body", "swaks body",
                                 "--timeout", str(timeout)], capture_output=True, text=True, timeout=timeout + 30)
            check(sw.returncode == 0, f"swaks failed:\n{sw.stdout}{sw.stderr}")
            sw = subprocess.run([swaks, "--server", f"127.0.0.1:{port}", "--from", "b@example.org", "--to",
                                 "refused@example.test", "--timeout", str(timeout)],
                                capture_output=True, text=True, timeout=timeout + 30)
            check(sw.returncode != 0 and "550 5.1.1 no such user here" in sw.stdout, f"swaks refusal:\n{sw.stdout}")
            out, err = proc.communicate(timeout=r.limit)
            check(proc.returncode == 0, f"test_server exited {proc.returncode}\n{out}{err}")
            stats = dict(kv.split("=") for kv in out.split("STATS ", 1)[1].splitlines()[0].split())
            check(stats["accepted"] == "2" and stats["rejected"] == "1" and stats["rcpt_rejected"] == "2",
                  f"server counters {stats}")
            check(stats["size_params"] == "2", f"smtplib's SIZE reached on_mail_from twice: {stats}")
            stored = sorted((maildir / "new").iterdir())
            check(len(stored) == 2, f"Maildir holds {len(stored)} messages, want 2")
            subjects = sorted(email.message_from_bytes(p.read_bytes())["Subject"] for p in stored)
            check(subjects == ["from smtplib", "from swaks"], f"stored subjects {subjects}")
            for p in stored:
                # Maildir's Return-Path and Delivered-To, then our Received line, then the message.
                head = p.read_bytes().split(b"\r\n\r\n", 1)[0]
                names = [h.split(b":", 1)[0] for h in head.split(b"\r\n") if h[:1] not in (b" ", b"\t")]
                check(names[:3] == [b"Return-Path", b"Delivered-To", b"Received"], f"headers of {p.name}: {names}")
        finally:
            stop(proc)


CASES = {
    "null": case_null,
    "vectors": case_vectors,
    "errors": case_errors,
    "api": case_api,
    "client_sink": case_client_sink,
    "client_aiosmtpd": case_client_aiosmtpd,
    "server": case_server,
    "mx": case_mx,
    "send_mx": case_send_mx,
    "queue": case_queue,
    "relay": case_relay,
    "trace": case_trace,
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("bin_dir")
    ap.add_argument("--wrap", default="")
    ap.add_argument("--label", default="plain")
    ap.add_argument("--only", default="")
    a = ap.parse_args()
    r = Runner(a.bin_dir, a.wrap, a.label)
    names = [n for n in a.only.split(",") if n] or list(CASES)
    passed = failed = 0
    for name in names:
        t = time.monotonic()
        try:
            CASES[name](r)
            passed += 1
            print(f"ok   {a.label}/{name} ({time.monotonic() - t:.1f}s)", flush=True)
        except (Fail, subprocess.TimeoutExpired, OSError, smtplib.SMTPException) as e:
            failed += 1
            print(f"FAIL {a.label}/{name}: {e}", flush=True)
    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
