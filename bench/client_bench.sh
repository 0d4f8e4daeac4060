#!/usr/bin/env bash
# Client benchmark (issue 3, "Performance"): MESSAGES x SIZE-byte messages to Postfix's smtp-sink
# on loopback, sent by
#   - postwire's Rust client: one session (a bare Client, and a ClientHandle as the bindings
#     hold it), and a pool of 10 (core/examples/client_bench.rs)
#   - Postfix smtp-source: -s 1 -d and -s 10 -d (the reference at each concurrency)
#   - Python smtplib: one reused session            (bench/smtplib_send.py)
#   - Python aiosmtplib: 10 concurrent sessions     (bench/aiosmtplib_send.py)
#   - nodemailer pooled transport, maxConnections 10 (bench/nodemailer_send.js)
# Each client runs under /usr/bin/time against a fresh smtp-sink; msg/s = messages / wall time of
# the client process, CPU µs/msg = (user + system CPU of the client process) / messages. The
# ratio compares each client with smtp-source at the same concurrency (msg/s: higher is better;
# CPU: lower is better). Loopback only; every run is bounded by `timeout`.
#
# Usage: bench/client_bench.sh            (env: MESSAGES=20000 SIZE=1024 RUN_TIMEOUT=600)
# Needs: /usr/sbin/smtp-sink, /usr/sbin/smtp-source, /usr/bin/time, .venv with aiosmtplib,
# tests/peers/node/node_modules/nodemailer (`make deps`), cargo.
set -u
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
# shellcheck source=scripts/lib.sh
. "$ROOT/scripts/lib.sh"
MESSAGES="${MESSAGES:-20000}"
SIZE="${SIZE:-1024}"
RUN_TIMEOUT="${RUN_TIMEOUT:-600}"
PY="$ROOT/.venv/bin/python"
WORK="$(mktemp -d)"
SINK_PID=""
cleanup() { [ -n "$SINK_PID" ] && kill "$SINK_PID" 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT

for tool in /usr/sbin/smtp-sink /usr/sbin/smtp-source /usr/bin/time; do
  [ -x "$tool" ] || { echo "missing $tool — run \`make deps\`" >&2; exit 1; }
done

echo "building the Rust bench client (release)…" >&2
(cd "$ROOT" && cargo build --release --example client_bench -q) || { echo "cargo build failed" >&2; exit 1; }
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
RUST_BENCH="$TARGET/release/examples/client_bench"


start_sink() {
  local user=()
  [ "$(id -u)" = 0 ] && user=(-u nobody)
  for _ in 1 2 3 4 5; do
    PORT="$(free_port)"
    /usr/sbin/smtp-sink "${user[@]}" "127.0.0.1:$PORT" 1000 >/dev/null 2>&1 &
    SINK_PID=$!
    for _ in $(seq 1 100); do   # up to 5 s
      if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then return 0; fi
      kill -0 "$SINK_PID" 2>/dev/null || break
      sleep 0.05
    done
    kill "$SINK_PID" 2>/dev/null; wait "$SINK_PID" 2>/dev/null; SINK_PID=""
  done
  echo "smtp-sink did not start" >&2; exit 1
}

stop_sink() { kill "$SINK_PID" 2>/dev/null; wait "$SINK_PID" 2>/dev/null; SINK_PID=""; }

declare -A RATE CPU
ORDER=()
# run NAME CMD... ; CMD may use $PORT via the literal word PORT
run() {
  local name="$1"; shift
  start_sink
  local args=()
  for a in "$@"; do args+=("${a//@PORT@/$PORT}"); done
  if timeout "$RUN_TIMEOUT" /usr/bin/time -f "%e %U %S" -o "$WORK/time" "${args[@]}" >"$WORK/out" 2>"$WORK/err"; then
    read -r wall user sys <"$WORK/time"
    RATE[$name]="$(python3 -c "print(f'{$MESSAGES/max($wall,0.001):.0f}')")"
    CPU[$name]="$(python3 -c "print(f'{($user+$sys)*1e6/$MESSAGES:.1f}')")"
  else
    RATE[$name]="failed"; CPU[$name]="-"
    echo "== $name failed:" >&2; tail -5 "$WORK/err" >&2
  fi
  ORDER+=("$name")
  stop_sink
  echo "$name: ${RATE[$name]} msg/s, ${CPU[$name]} µs CPU/msg" >&2
}

SRC=(/usr/sbin/smtp-source -m "$MESSAGES" -l "$SIZE" -f bench@example.org -t sink@example.net -M bench.test)
run "smtp-source -s 1 -d"  "${SRC[@]}" -s 1 -d "127.0.0.1:@PORT@"
run "smtp-source -s 10 -d" "${SRC[@]}" -s 10 -d "127.0.0.1:@PORT@"
run "postwire Rust, 1 session" "$RUST_BENCH" --port @PORT@ --messages "$MESSAGES" --size "$SIZE" --sessions 1
run "postwire Rust, 1 session, ClientHandle" "$RUST_BENCH" --port @PORT@ --messages "$MESSAGES" --size "$SIZE" --sessions 1 --handle
run "postwire Rust, pool of 10" "$RUST_BENCH" --port @PORT@ --messages "$MESSAGES" --size "$SIZE" --sessions 10
if [ -x "$PY" ] && "$PY" -c 'import aiosmtplib' 2>/dev/null; then
  run "Python smtplib, 1 session" "$PY" "$ROOT/bench/smtplib_send.py" @PORT@ "$MESSAGES" "$SIZE"
  run "Python aiosmtplib, 10 concurrent" "$PY" "$ROOT/bench/aiosmtplib_send.py" @PORT@ "$MESSAGES" "$SIZE" 10
else
  echo "aiosmtplib missing in $PY — run \`make deps\`; Python rows skipped" >&2
fi
if [ -d "$ROOT/tests/peers/node/node_modules/nodemailer" ]; then
  run "nodemailer pool, 10" node "$ROOT/bench/nodemailer_send.js" @PORT@ "$MESSAGES" "$SIZE" 10
else
  echo "nodemailer missing — run \`make deps\`; Node row skipped" >&2
fi

ratio() { # value reference higher_is_better
  python3 - "$1" "$2" <<'PY'
import sys
try:
    a, b = float(sys.argv[1]), float(sys.argv[2])
    print(f"{a/b:.2f}")
except Exception:
    print("-")
PY
}

echo
echo "$MESSAGES × $SIZE B to smtp-sink on 127.0.0.1, $(nproc) CPUs (client and sink share them)"
echo
echo "| client | msg/s | client CPU µs/msg | msg/s ÷ smtp-source | CPU ÷ smtp-source |"
echo "|---|---:|---:|---:|---:|"
for name in "${ORDER[@]}"; do
  case "$name" in
    *"-s 10"*|*"pool"*|*"10 concurrent"*) ref="smtp-source -s 10 -d" ;;
    *) ref="smtp-source -s 1 -d" ;;
  esac
  echo "| $name | ${RATE[$name]} | ${CPU[$name]} | $(ratio "${RATE[$name]}" "${RATE[$ref]}") | $(ratio "${CPU[$name]}" "${CPU[$ref]}") |"
done
