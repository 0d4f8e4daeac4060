#!/usr/bin/env bash
# Node binding benchmark (issue 9, "Performance"): builds the RELEASE addon (`npm run build`,
# napi build --release) and runs bench/node_bench.js — postwire.Server with a counting JS
# onMessage vs smtp-server vs smtp-sink under smtp-source (-s 10/100, with and without -d), and
# postwire Client (10 sessions) / Pool (10) vs nodemailer's pool (maxConnections 10), N x 1 KiB
# into smtp-sink. Prints a markdown table, also written to bench/results/node.md (not
# committed). Knobs: BENCH_MSGS (default 20000), BENCH_TIMEOUT (seconds per run, default 180).
# A benchmark, not a test: it asserts nothing; run it on a quiet machine.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
smtp_source=$(command -v smtp-source || echo /usr/sbin/smtp-source)
smtp_sink=$(command -v smtp-sink || echo /usr/sbin/smtp-sink)
[ -x "$smtp_source" ] && [ -x "$smtp_sink" ] || { echo "smtp-source/smtp-sink not found: run \`make deps\`" >&2; exit 1; }
[ -d tests/peers/node/node_modules/nodemailer ] || { echo "Node peers missing: run \`make deps\`" >&2; exit 1; }
[ -d node_modules/@napi-rs/cli ] || npm install --ignore-scripts --no-audit --no-fund --loglevel=error </dev/null
echo "node_bench: npm run build (napi build --release)" >&2
npm run --silent build >&2
mkdir -p bench/results
node bench/node_bench.js "$smtp_source" "$smtp_sink" | tee bench/results/node.md
