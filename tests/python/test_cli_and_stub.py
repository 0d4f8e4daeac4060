"""`python -m postwire` runs the CLI; the type stub matches the extension module."""

from __future__ import annotations

import subprocess
import sys

from conftest import ROOT, need


def test_python_m_postwire_help():
    r = subprocess.run([sys.executable, "-m", "postwire", "--help"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "serve" in r.stdout and "send" in r.stdout


def test_python_m_postwire_bad_usage_exit_code():
    r = subprocess.run([sys.executable, "-m", "postwire", "no-such-command"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "no-such-command" in r.stderr


def test_stub_matches_module():
    need("mypy")
    r = subprocess.run(
        [sys.executable, "-m", "mypy.stubtest", "postwire._postwire", "--ignore-missing-stub"],
        capture_output=True, text=True, timeout=600,
    )
    assert r.returncode == 0, r.stdout + r.stderr


def test_typed_usage_passes_mypy():
    need("mypy")
    r = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", str(ROOT / "tests" / "python" / "typed_usage.py")],
        capture_output=True, text=True, timeout=600,
    )
    assert r.returncode == 0, r.stdout + r.stderr
