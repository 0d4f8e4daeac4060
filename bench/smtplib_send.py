"""Benchmark helper: send N messages of SIZE bytes over ONE reused smtplib session.

Usage: smtplib_send.py PORT N SIZE   (host 127.0.0.1). Exits non-zero if any send fails.
"""
import smtplib
import sys


def message(size):
    m = b"From: bench@example.org\r\nTo: sink@example.net\r\nSubject: bench\r\n\r\n"
    while len(m) + 64 <= size:
        m += b"x" * 62 + b"\r\n"
    m += b"y" * max(0, size - len(m) - 2) + b"\r\n"
    return m


def main():
    port, n, size = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    msg = message(size)
    s = smtplib.SMTP("127.0.0.1", port, local_hostname="bench.test", timeout=30)
    s.ehlo()
    for _ in range(n):
        refused = s.sendmail("bench@example.org", ["sink@example.net"], msg)
        if refused:
            sys.exit(f"refused: {refused}")
    s.quit()
    print(f"sent={n}")


if __name__ == "__main__":
    main()
