#!/usr/bin/env bash
# Python binding benchmark (issue 4, "Performance"): builds a RELEASE wheel with maturin,
# installs it with aiosmtpd/aiosmtplib into .work/venv-bench, and runs bench/python_bench.py
# (server with a Python hook vs aiosmtpd vs smtp-sink under smtp-source; postwire.Client vs
# smtplib; postwire.aio.Client vs aiosmtplib). Prints a markdown table, also written to
# bench/results/python.md (not committed). Knobs: BENCH_MSGS, BENCH_TIMEOUT, BENCH_ONLY=aio (only
# the postwire.aio.Server rows: async def hook counting, vs aiosmtpd and smtp-sink).
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
py=${PYTHON:-$(command -v python3)}
smtp_source=$(command -v smtp-source || echo /usr/sbin/smtp-source)
smtp_sink=$(command -v smtp-sink || echo /usr/sbin/smtp-sink)
[ -x "$smtp_source" ] && [ -x "$smtp_sink" ] || { echo "smtp-source/smtp-sink not found: run \`make deps\`" >&2; exit 1; }
venv="$repo/.work/venv-bench"
rm -rf "$venv" "$repo/.work/wheels-release"
"$py" -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check maturin==1.16.0 aiosmtpd==1.4.6 aiosmtplib==5.1.3
echo "python_bench: maturin build --release" >&2
"$venv/bin/maturin" build --quiet --release -o "$repo/.work/wheels-release"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check "$repo"/.work/wheels-release/postwire-*.whl
mkdir -p bench/results
"$venv/bin/python" bench/python_bench.py "$smtp_source" "$smtp_sink" | tee bench/results/python.md
