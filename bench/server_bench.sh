#!/usr/bin/env bash
# Server benchmark (issue 2, "Performance"): Postfix's smtp-source drives four SMTP servers on
# loopback, one run per row, and each figure is also given as a ratio to Postfix's smtp-sink,
# the ceiling on this machine.
#
#   servers   postwire serve --discard --quiet (release build), postwire-log (the same with
#             default logging: one info line per message, to a file), smtp-sink, aiosmtpd (handler
#             returning 250, bench/aiosmtpd_sink.py), Node smtp-server (onData draining the
#             stream, no greeting delay, bench/smtp_server_sink.js)
#   rows      1 KiB and 100 KiB messages x 1, 10 and 100 parallel sessions x a new session per
#             message, or many messages per session (smtp-source -d)
#   figures   msg/s (messages / wall time of smtp-source), server CPU us per message
#             (utime+stime from /proc/PID/stat, measured from ready to done), peak RSS of the
#             server (VmHWM from /proc/PID/status)
#
# Every run is bounded in count (BENCH_MSGS_1K, default 20000; BENCH_MSGS_100K, default 2000)
# and time (BENCH_TIMEOUT seconds, default 120; a run cut short is marked and measured on the
# messages it completed). Each server is started fresh for each row (own port, own peak RSS).
# Output: a markdown table on stdout and in bench/results/server.md (not committed).
#
# Knobs: BENCH_SERVERS="postwire smtp-sink aiosmtpd smtp-server" (which ones, in that order;
# add postwire-log to measure default logging beside --quiet in the same run: its note gives the
# ratio to postwire's --quiet rate, e.g.
#   BENCH_SERVERS="smtp-sink postwire postwire-log" BENCH_MODES=reuse bash bench/server_bench.sh),
# BENCH_SIZES="1024 102400", BENCH_SESSIONS="1 10 100", BENCH_MODES="new reuse",
# POSTWIRE_ARGS="--threads 1" (extra arguments for `postwire serve`).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
# shellcheck source=scripts/lib.sh
. scripts/lib.sh

servers=${BENCH_SERVERS:-postwire smtp-sink aiosmtpd smtp-server}
sizes=${BENCH_SIZES:-1024 102400}
sessions_list=${BENCH_SESSIONS:-1 10 100}
modes=${BENCH_MODES:-new reuse}
msgs_1k=${BENCH_MSGS_1K:-20000}
msgs_100k=${BENCH_MSGS_100K:-2000}
time_limit=${BENCH_TIMEOUT:-120}

target_dir=${CARGO_TARGET_DIR:-$repo/target}
postwire_bin="$target_dir/release/postwire"
smtp_source=$(command -v smtp-source || echo /usr/sbin/smtp-source)
smtp_sink=$(command -v smtp-sink || echo /usr/sbin/smtp-sink)
venv_python="$repo/.venv/bin/python"
clk_tck=$(getconf CLK_TCK)

say() { printf 'server_bench: %s\n' "$*" >&2; }
die() { printf 'server_bench: ERROR: %s\n' "$*" >&2; exit 1; }

[ -x "$smtp_source" ] || die "smtp-source not found: run \`make deps\`"
work=$(mktemp -d "${TMPDIR:-/tmp}/postwire-bench.XXXXXX")
server_pid=
cleanup() {
  kill_now "$server_pid"
  rm -rf "$work"
}
trap cleanup EXIT

# --- the servers -----------------------------------------------------------------------------
available=()
for s in $servers; do
  case "$s" in
    postwire|postwire-log)
      if [ -x "$postwire_bin" ] && [ -n "${built_postwire:-}" ]; then available+=("$s"); continue; fi
      say "building postwire (release)"
      if cargo build --release -p postwire --bin postwire >&2; then available+=("$s"); built_postwire=1
      else say "postwire did not build: its rows are left out"; fi ;;
    smtp-sink)
      [ -x "$smtp_sink" ] && available+=(smtp-sink) || say "smtp-sink not found (make deps): left out" ;;
    aiosmtpd)
      "$venv_python" -c 'import aiosmtpd' 2>/dev/null && available+=(aiosmtpd) ||
        say "aiosmtpd not installed (make deps): left out" ;;
    smtp-server)
      node -e "require(require.resolve('smtp-server', {paths: ['$repo/tests/peers/node']}))" 2>/dev/null &&
        available+=(smtp-server) || say "smtp-server not installed (make deps): left out" ;;
    *) die "unknown server '$s' in BENCH_SERVERS" ;;
  esac
done
[ ${#available[@]} -gt 0 ] || die "no server to measure"

# start_server NAME PORT: starts it in the background (server_pid), waits until it listens.
start_server() {
  local name=$1 port=$2 cmd
  case "$name" in
    postwire|postwire-log)
      cmd=("$postwire_bin" serve --listen "127.0.0.1:$port" --hostname mx.bench.test
      --local-domain bench.test --discard --max-connections 1000 ${POSTWIRE_ARGS:-})
      [ "$name" = postwire ] && cmd+=(--quiet) ;;
    smtp-sink)
      cmd=("$smtp_sink")
      [ "$(id -u)" -eq 0 ] && cmd+=(-u nobody)  # required when run as root
      cmd+=("127.0.0.1:$port" 1024) ;;
    aiosmtpd) cmd=("$venv_python" bench/aiosmtpd_sink.py "$port") ;;
    smtp-server) cmd=(node bench/smtp_server_sink.js "$port") ;;
  esac
  "${cmd[@]}" >"$work/$name.log" 2>&1 </dev/null &
  server_pid=$!
  for _ in $(seq 1 200); do
    if ! kill -0 "$server_pid" 2>/dev/null; then
      server_pid=
      say "$name exited at start: $(tail -n 3 "$work/$name.log" | tr '\n' ' ')"
      return 1
    fi
    port_listening "$port" && return 0
    sleep 0.05
  done
  say "$name did not listen on 127.0.0.1:$port within 10 s"
  return 1
}

stop_server() {
  [ -n "$server_pid" ] || return 0
  kill -TERM "$server_pid" 2>/dev/null || true
  wait_gone "$server_pid" 50 || kill -KILL "$server_pid" 2>/dev/null || true
  wait "$server_pid" 2>/dev/null || true
  server_pid=
}

cpu_ticks() {  # utime + stime of process $1 (fields 14 and 15 of /proc/PID/stat)
  sed 's/.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'
}
peak_rss_kib() { awk '/^VmHWM:/ {print $2}' "/proc/$1/status"; }
now() { date +%s.%N; }

# run_one NAME SIZE SESSIONS MODE COUNT: sets r_msgs, r_secs, r_ticks, r_rss (KiB) and r_note;
# r_msgs is "fail" (and r_note says why) when nothing could be measured.
run_one() {
  local name=$1 size=$2 sessions=$3 mode=$4 count=$5 port t0 t1 c0 c1 rss rc done_msgs
  r_msgs=fail r_secs=0 r_ticks=0 r_rss=0 r_note=""
  port=$(free_port)
  start_server "$name" "$port" || { r_note="did not start"; return; }
  local args=(-c -s "$sessions" -m "$count" -l "$size" -M client.bench.test
    -f sender@client.bench.test -t rcpt@bench.test)
  [ "$mode" = reuse ] && args+=(-d)
  c0=$(cpu_ticks "$server_pid")
  t0=$(now)
  set +e
  timeout "$time_limit" "$smtp_source" "${args[@]}" "127.0.0.1:$port" >"$work/source.out" 2>"$work/source.err"
  rc=$?
  set -e
  t1=$(now)
  if kill -0 "$server_pid" 2>/dev/null; then
    c1=$(cpu_ticks "$server_pid")
    rss=$(peak_rss_kib "$server_pid")
  else
    stop_server
    r_note="server died"
    return
  fi
  stop_server
  # smtp-source -c prints a running count of completed DATA commands, separated by CR.
  done_msgs=$(tr '\r' '\n' <"$work/source.out" | grep -E '^[0-9]+$' | tail -n 1)
  done_msgs=${done_msgs:-0}
  if [ "$rc" -eq 124 ]; then r_note="timed out after ${time_limit}s"
  elif [ "$rc" -ne 0 ]; then
    say "$name: smtp-source exited $rc: $(tr '\n' ' ' <"$work/source.err" | cut -c1-200)"
    r_note="smtp-source error after $done_msgs messages"
  fi
  [ "$done_msgs" -gt 0 ] || { r_note=${r_note:-no message completed}; return; }
  r_msgs=$done_msgs
  r_secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.6f", b - a}')
  r_ticks=$((c1 - c0))
  r_rss=$rss
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b == "" || b + 0 == 0) print "-"; else printf "%.2f", a / b }'; }

# --- the runs --------------------------------------------------------------------------------
out_dir="$repo/bench/results"
mkdir -p "$out_dir"
table="$work/table.md"
{
  echo "# postwire server benchmark"
  echo
  echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, load average at start $(cut -d' ' -f1-3 /proc/loadavg)."
  echo "Client: Postfix smtp-source on loopback; each server started fresh per row; one run per row."
  echo "Ratios are to smtp-sink in the same row (msg/s: higher is better; CPU and RSS: lower is better)."
  echo "Target for postwire: msg/s >= 0.9x smtp-sink on every row, peak RSS <= 2x."
  echo
  echo "| size | sessions | mode | server | messages | msg/s | x sink | CPU us/msg | x sink | peak RSS MiB | x sink | note |"
  echo "|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|---|"
} >"$table"

for size in $sizes; do
  if [ "$size" -ge 10240 ]; then count=$msgs_100k; else count=$msgs_1k; fi
  size_label=$(awk -v s="$size" 'BEGIN { if (s % 1024 == 0) printf "%d KiB", s / 1024; else printf "%d B", s }')
  for sessions in $sessions_list; do
    for mode in $modes; do
      case "$mode" in
        new) mode_label="session/msg" ;;
        reuse) mode_label="reused (-d)" ;;
        *) die "unknown mode '$mode' in BENCH_MODES (new, reuse)" ;;
      esac
      sink_rate="" sink_cpu="" sink_rss="" quiet_rate=""
      # smtp-sink first so the others have a ceiling to be compared with.
      ordered=()
      for s in "${available[@]}"; do [ "$s" = smtp-sink ] && ordered+=("$s"); done
      for s in "${available[@]}"; do [ "$s" = smtp-sink ] || ordered+=("$s"); done
      for name in "${ordered[@]}"; do
        say "$size_label, $sessions session(s), $mode_label: $name ($count messages)"
        run_one "$name" "$size" "$sessions" "$mode" "$count"
        msgs=$r_msgs secs=$r_secs ticks=$r_ticks rss=$r_rss note=$r_note
        if [ "$msgs" = fail ]; then
          echo "| $size_label | $sessions | $mode_label | $name | - | - | - | - | - | - | - | failed: $note |" >>"$table"
          continue
        fi
        rate=$(awk -v m="$msgs" -v s="$secs" 'BEGIN {printf "%.0f", m / s}')
        cpu=$(awk -v t="$ticks" -v hz="$clk_tck" -v m="$msgs" 'BEGIN {printf "%.1f", t * 1e6 / hz / m}')
        rss_mib=$(awk -v k="$rss" 'BEGIN {printf "%.1f", k / 1024}')
        if [ "$name" = smtp-sink ]; then sink_rate=$rate sink_cpu=$cpu sink_rss=$rss_mib; fi
        if [ "$name" = postwire ]; then quiet_rate=$rate; fi
        r_rate=$(ratio "$rate" "$sink_rate")
        r_cpu=$(ratio "$cpu" "$sink_cpu")
        r_rss=$(ratio "$rss_mib" "$sink_rss")
        if [ "$name" = postwire ] && [ "$r_rate" != - ] && [ "$r_rss" != - ]; then
          verdict=$(awk -v r="$r_rate" -v m="$r_rss" 'BEGIN { print (r >= 0.9 && m <= 2) ? "target met" : "target missed" }')
          note=${note:+$note, }$verdict
        fi
        if [ "$name" = postwire-log ] && [ -n "$quiet_rate" ]; then
          note=${note:+$note, }"$(ratio "$rate" "$quiet_rate")x of --quiet"
        fi
        echo "| $size_label | $sessions | $mode_label | $name | $msgs | $rate | $r_rate | $cpu | $r_cpu | $rss_mib | $r_rss | $note |" >>"$table"
      done
    done
  done
done

{
  echo
  echo "Command: \`bench/server_bench.sh\` (BENCH_MSGS_1K=$msgs_1k BENCH_MSGS_100K=$msgs_100k BENCH_TIMEOUT=$time_limit);"
  echo "smtp-source -c -s SESSIONS -m MESSAGES -l SIZE [-d] -M client.bench.test -f sender@client.bench.test -t rcpt@bench.test 127.0.0.1:PORT."
  echo "CPU is user+system time of the server process at ${clk_tck} Hz tick resolution."
  echo "Load average at the end: $(cut -d' ' -f1-3 /proc/loadavg) (other work on the machine moves the"
  echo "latency-bound rows, 1 session above all, by tens of percent from run to run)."
} >>"$table"
cp "$table" "$out_dir/server.md"
cat "$table"
say "written to bench/results/server.md"
