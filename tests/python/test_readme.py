"""The README's Python quick start runs as written."""

from __future__ import annotations

import re

from conftest import ROOT


def python_blocks():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("\n## Python\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", section, flags=re.S)


def test_readme_quick_start_runs(capsys):
    blocks = python_blocks()
    assert blocks, "README.md has no ```python block under ## Python"
    for code in blocks:
        exec(compile(code, "README.md", "exec"), {"__name__": "readme"})
    assert "250 ['you@example.test']" in capsys.readouterr().out
