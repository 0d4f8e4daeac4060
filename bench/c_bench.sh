#!/usr/bin/env bash
# C binding benchmark (issue 10, "Performance"), release builds, one run per row:
#
#   server  Postfix smtp-source (1 KiB messages; -s 10 and -s 100; a session per message, or
#           many per session with -d) against examples/c/serve (a C on_message hook counting
#           messages), `postwire serve --discard` (pure Rust) and smtp-sink. Target: the C
#           callback path within 10 % of pure Rust on every row (ratio column >= 0.90).
#   client  examples/c/send sending BENCH_CLIENT_MSGS (20,000) x 1 KiB over one session into
#           smtp-sink, beside `smtp-source -s 1 -d` with the same messages. Target: at least as
#           fast (ratio >= 1.00).
#
# Knobs: BENCH_MSGS (server rows, default 20000), BENCH_CLIENT_MSGS (20000), BENCH_SESSIONS
# ("10 100"), BENCH_MODES ("new reuse"), BENCH_TIMEOUT (seconds per run, 120). Output: a
# markdown table on stdout and in bench/results/c.md (not committed). Not a test: asserts nothing.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
# shellcheck source=scripts/lib.sh
. scripts/lib.sh

msgs=${BENCH_MSGS:-20000}
client_msgs=${BENCH_CLIENT_MSGS:-20000}
sessions_list=${BENCH_SESSIONS:-10 100}
modes=${BENCH_MODES:-new reuse}
time_limit=${BENCH_TIMEOUT:-120}
target=${CARGO_TARGET_DIR:-$repo/target}
smtp_source=$(command -v smtp-source || echo /usr/sbin/smtp-source)
smtp_sink=$(command -v smtp-sink || echo /usr/sbin/smtp-sink)
say() { printf 'c_bench: %s\n' "$*" >&2; }
die() { printf 'c_bench: ERROR: %s\n' "$*" >&2; exit 1; }
[ -x "$smtp_source" ] && [ -x "$smtp_sink" ] || die "smtp-source/smtp-sink not found: run \`make deps\`"

say "building libpostwire and postwire (release)"
cargo build -q --release -p postwire-c
cargo build -q --release -p postwire --bin postwire
work=$(mktemp -d "${TMPDIR:-/tmp}/postwire-c-bench.XXXXXX")
server_pid=
cleanup() { kill_now "$server_pid"; rm -rf "$work"; }
trap cleanup EXIT
for ex in serve send; do
  cc -O2 -std=c11 -Iinclude "examples/c/$ex.c" -o "$work/$ex" -L"$target/release" -lpostwire \
    -Wl,-rpath,"$target/release" -lpthread
done
sink_cmd() { local u=(); [ "$(id -u)" -eq 0 ] && u=(-u nobody); echo "$smtp_sink ${u[*]} 127.0.0.1:$1 1024"; }

start() {  # start NAME PORT
  local name=$1 port=$2
  case "$name" in
    c-hook) "$work/serve" 127.0.0.1 "$port" >"$work/serve.out" 2>&1 </dev/null & ;;
    postwire) "$target/release/postwire" serve --listen "127.0.0.1:$port" --hostname mx.bench.test \
      --local-domain bench.test --discard --quiet --max-connections 1000 >/dev/null 2>&1 </dev/null & ;;
    smtp-sink) $(sink_cmd "$port") >/dev/null 2>&1 </dev/null & ;;
  esac
  server_pid=$!
  for _ in $(seq 1 200); do port_listening "$port" && return 0; sleep 0.05; done
  die "$name did not listen on $port"
}
stop() {
  kill -TERM "$server_pid" 2>/dev/null || true
  wait_gone "$server_pid" 100 || kill -KILL "$server_pid" 2>/dev/null || true
  wait "$server_pid" 2>/dev/null || true
  server_pid=
}
rate() {  # rate COUNT T0 T1
  awk -v n="$1" -v a="$2" -v b="$3" 'BEGIN { printf "%.0f", n / (b - a) }'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 == 0) print "-"; else printf "%.2f", a / b }'; }

out="$work/table.md"
{
  echo "# postwire C binding benchmark"
  echo
  echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, load average at start $(cut -d' ' -f1-3 /proc/loadavg)."
  echo
  echo "## Server: C on_message hook (examples/c/serve) vs pure Rust (postwire serve --discard), $msgs x 1 KiB"
  echo
  echo "| smtp-source | C hook msg/s | postwire serve msg/s | smtp-sink msg/s | C / Rust | C / sink |"
  echo "|---|---:|---:|---:|---:|---:|"
} >"$out"
for sessions in $sessions_list; do
  for mode in $modes; do
    args=(-s "$sessions" -m "$msgs" -l 1024 -M client.bench.test -f a@client.bench.test -t b@bench.test)
    label="-s $sessions"
    [ "$mode" = reuse ] && { args+=(-d); label="$label -d"; }
    declare -A r=()
    for name in smtp-sink postwire c-hook; do
      port=$(free_port)
      start "$name" "$port"
      say "$label: $name"
      t0=$(date +%s.%N)
      timeout "$time_limit" "$smtp_source" "${args[@]}" "127.0.0.1:$port" >/dev/null 2>&1 || say "$name: smtp-source failed or timed out"
      t1=$(date +%s.%N)
      stop
      r[$name]=$(rate "$msgs" "$t0" "$t1")
      if [ "$name" = c-hook ] && ! grep -q "^received $msgs messages" "$work/serve.out"; then
        say "the C hook counted: $(cat "$work/serve.out")"
      fi
    done
    echo "| \`$label\` | ${r[c-hook]} | ${r[postwire]} | ${r[smtp-sink]} | $(ratio "${r[c-hook]}" "${r[postwire]}") | $(ratio "${r[c-hook]}" "${r[smtp-sink]}") |" >>"$out"
  done
done

{
  echo
  echo "## Client: $client_msgs x 1 KiB over one session into smtp-sink"
  echo
  echo "| client | msg/s | vs smtp-source -s 1 -d |"
  echo "|---|---:|---:|"
} >>"$out"
port=$(free_port)
start smtp-sink "$port"
say "client: smtp-source -s 1 -d"
t0=$(date +%s.%N)
"$smtp_source" -s 1 -d -m "$client_msgs" -l 1024 -M client.bench.test -f a@client.bench.test -t b@bench.test \
  "127.0.0.1:$port" >/dev/null 2>&1 || say "smtp-source failed"
t1=$(date +%s.%N)
source_rate=$(rate "$client_msgs" "$t0" "$t1")
say "client: examples/c/send"
t0=$(date +%s.%N)
"$work/send" 127.0.0.1 "$port" a@client.bench.test b@bench.test "$client_msgs" 1024 >"$work/send.out" 2>&1 ||
  say "send failed: $(cat "$work/send.out")"
t1=$(date +%s.%N)
stop
c_rate=$(rate "$client_msgs" "$t0" "$t1")
{
  echo "| \`smtp-source -s 1 -d\` | $source_rate | 1.00 |"
  echo "| C client (examples/c/send), 1 session | $c_rate | $(ratio "$c_rate" "$source_rate") |"
} >>"$out"
mkdir -p bench/results
cp "$out" bench/results/c.md
cat "$out"
