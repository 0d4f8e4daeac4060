#!/usr/bin/env bash
# Queue benchmark (issue 11, "Performance"): what durability costs at accept time, and how fast
# the queue relays end to end. A benchmark, not a test: it asserts nothing, prints a markdown
# table and writes it to bench/results/queue.md (not committed).
#
#   accept   smtp-source -s 50 -m BENCH_MSGS (default 10000) 1 KiB messages into
#            postwire serve --queue DIR (durable: appended to a segment and fsynced before
#              the 250; its smarthost is a closed port, so the runner's attempt is refused at
#              once and the entry stays queued — but each attempt also writes the entry's
#              state file, fsynced, which this row pays for beside accepting)
#            postwire serve --maildir DIR
#            postwire serve --discard
#            Target: --queue within 2x of --discard (its msg/s at least half of discard's).
#   relay    smtp-source -> serve --queue (smarthost: smtp-sink) -> smtp-sink: wall time until
#            smtp-sink has counted every message, msg/s end to end.
#
# Runs are bounded by BENCH_TIMEOUT seconds (default 120). Without `serve --queue` (an older
# binary) the queue rows say "not available" and the others still run.
#
# Postfix's own queue is the anchor: a private instance (its own config, queue and data
# directories under the bench's temporary directory, smtpd on a loopback port, logging to a file,
# nothing in /etc touched) started with `master -c DIR`, measured the same two ways: accept with a
# relayhost on a closed port, and relay into smtp-sink. It needs root (master drops privileges to
# the postfix user) and the postfix package (`make deps`); otherwise its rows say why not.
# Knobs: BENCH_MSGS, BENCH_SESSIONS (default 50), BENCH_SIZE (default 1024), POSTWIRE_ARGS,
# POSTWIRE_BIN (a postwire binary to use instead of building the release one: sanity runs only).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
# shellcheck source=scripts/lib.sh
. scripts/lib.sh

msgs=${BENCH_MSGS:-10000}
sessions=${BENCH_SESSIONS:-50}
size=${BENCH_SIZE:-1024}
time_limit=${BENCH_TIMEOUT:-120}
target_dir=${CARGO_TARGET_DIR:-$repo/target}
postwire_bin=${POSTWIRE_BIN:-$target_dir/release/postwire}
smtp_source=$(command -v smtp-source || echo /usr/sbin/smtp-source)
smtp_sink=$(command -v smtp-sink || echo /usr/sbin/smtp-sink)

say() { printf 'queue_bench: %s\n' "$*" >&2; }
die() { printf 'queue_bench: ERROR: %s\n' "$*" >&2; exit 1; }
now() { date +%s.%N; }

[ -x "$smtp_source" ] && [ -x "$smtp_sink" ] || die "smtp-source/smtp-sink not found: run \`make deps\`"
if [ -z "${POSTWIRE_BIN:-}" ]; then
  say "building postwire (release)"
  cargo build --release -p postwire --bin postwire >&2
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/postwire-qbench.XXXXXX")
chmod 777 "$work"
server_pid= sink_pid= pf_pid=
cleanup() { kill_now "$server_pid"; kill_now "$sink_pid"; stop_postfix; rm -rf "$work"; }
trap cleanup EXIT

has_queue=false
"$postwire_bin" serve --help 2>/dev/null | grep -q -- '--queue' && has_queue=true

# wait_listening PID PORT NAME
wait_listening() {
  for _ in $(seq 1 200); do
    kill -0 "$1" 2>/dev/null || { say "$3 exited at start"; return 1; }
    port_listening "$2" && return 0
    sleep 0.05
  done
  say "$3 did not listen on $2"; return 1
}

start_sink() {  # start_sink PORT: smtp-sink counting messages (-c) into $work/sink.out
  local cmd=("$smtp_sink" -c)
  [ "$(id -u)" -eq 0 ] && cmd+=(-u nobody)
  "${cmd[@]}" "127.0.0.1:$1" 1024 >"$work/sink.out" 2>&1 </dev/null &
  sink_pid=$!
  wait_listening "$sink_pid" "$1" smtp-sink
}

sink_count() { tr '\r' '\n' <"$work/sink.out" | grep -oE 'mesg=[0-9]+' | tail -n 1 | cut -d= -f2; }

# start_postwire PORT MODE [SINKPORT]: MODE is queue, maildir or discard
start_postwire() {
  local port=$1 mode=$2 args=(serve --listen "127.0.0.1:$port" --hostname mx.bench.test
    --local-domain bench.test --relay-network 127.0.0.0/8 --quiet --max-connections 1000)
  case "$mode" in
    queue) args+=(--queue "$work/spool-$port" --queue-smarthost "127.0.0.1:${3:-$(free_port)}") ;;
    maildir) args+=(--maildir "$work/maildir-$port") ;;
    discard) args+=(--discard) ;;
  esac
  # shellcheck disable=SC2086
  "$postwire_bin" "${args[@]}" ${POSTWIRE_ARGS:-} >"$work/postwire.log" 2>&1 </dev/null &
  server_pid=$!
  wait_listening "$server_pid" "$port" "postwire serve --$mode"
}

# source_rate PORT RCPT NAME: msg/s of smtp-source sending $msgs to RCPT at 127.0.0.1:PORT
# (or "fail")
source_rate() {
  local t0 t1 rc
  t0=$(now)
  set +e
  timeout "$time_limit" "$smtp_source" -s "$sessions" -m "$msgs" -l "$size" -M client.bench.test \
    -f sender@client.bench.test -t "$2" "127.0.0.1:$1" >/dev/null 2>"$work/source.err"
  rc=$?
  set -e
  t1=$(now)
  [ "$rc" -eq 0 ] || { say "$3: smtp-source exited $rc"; echo fail; return; }
  awk -v n="$msgs" -v a="$t0" -v b="$t1" 'BEGIN {printf "%.0f", n / (b - a)}'
}

# sink_rate T0 NAME: msg/s from T0 until smtp-sink has counted $msgs (or "fail")
sink_rate() {
  local t1 got=0 deadline=$((SECONDS + time_limit))
  while [ "$SECONDS" -lt "$deadline" ]; do
    got=$(sink_count); got=${got:-0}
    [ "$got" -ge "$msgs" ] && break
    sleep 0.2
  done
  t1=$(now)
  [ "$got" -ge "$msgs" ] || { say "$2: smtp-sink counted $got of $msgs"; echo fail; return; }
  awk -v n="$msgs" -v a="$1" -v b="$t1" 'BEGIN {printf "%.0f", n / (b - a)}'
}

# accept MODE: prints msg/s of smtp-source into serve --MODE (or "fail")
accept() {
  local port rate
  port=$(free_port)
  start_postwire "$port" "$1" || { echo fail; return; }
  rate=$(source_rate "$port" rcpt@bench.test "$1")
  kill_now "$server_pid"; server_pid=
  echo "$rate"
}

# relay: msg/s from the first message sent to the last one counted by smtp-sink
relay() {
  local port sport t0 rate
  sport=$(free_port); start_sink "$sport" || { echo fail; return; }
  port=$(free_port); start_postwire "$port" queue "$sport" || { echo fail; return; }
  t0=$(now)
  source_rate "$port" rcpt@remote.bench.test relay >/dev/null
  rate=$(sink_rate "$t0" relay)
  kill_now "$server_pid"; server_pid=; kill_now "$sink_pid"; sink_pid=
  echo "$rate"
}

# --- Postfix, the anchor -------------------------------------------------------------------
postfix_daemons=/usr/lib/postfix/sbin
# start_postfix PORT RELAYPORT: a private Postfix instance under $work/postfix-PORT whose smtpd
# listens on 127.0.0.1:PORT and relays everything for bench.test to [127.0.0.1]:RELAYPORT.
start_postfix() {
  local port=$1 relay=$2 d="$work/postfix-$1"
  mkdir -p "$d/conf"
  cat >"$d/conf/main.cf" <<EOF
compatibility_level = 3.6
config_directory = $d/conf
queue_directory = $d/queue
data_directory = $d/data
daemon_directory = $postfix_daemons
command_directory = $(dirname "$(command -v postconf)")
meta_directory = /etc/postfix
shlib_directory = /usr/lib/postfix
mail_owner = postfix
setgid_group = postdrop
myhostname = mx.bench.test
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
relay_domains = bench.test
relayhost = [127.0.0.1]:$relay
smtpd_recipient_restrictions = permit_mynetworks, reject_unauth_destination
alias_maps =
alias_database =
smtputf8_enable = no
maillog_file = $d/maillog
maillog_file_prefixes = $work
EOF
  cat >"$d/conf/master.cf" <<EOF
127.0.0.1:$port inet n - n - - smtpd
cleanup   unix n - n - 0 cleanup
qmgr      unix n - n 300 1 qmgr
rewrite   unix - - n - - trivial-rewrite
bounce    unix - - n - 0 bounce
defer     unix - - n - 0 bounce
trace     unix - - n - 0 bounce
verify    unix - - n - 1 verify
flush     unix n - n 1000? 0 flush
proxymap  unix - - n - - proxymap
smtp      unix - - n - - smtp
relay     unix - - n - - smtp
error     unix - - n - - error
retry     unix - - n - - error
discard   unix - - n - - discard
anvil     unix - - n - 1 anvil
scache    unix - - n - 1 scache
postlog   unix-dgram n - n - 1 postlogd
EOF
  "$postfix_daemons/post-install" "config_directory=$d/conf" "queue_directory=$d/queue" \
    "data_directory=$d/data" "daemon_directory=$postfix_daemons" meta_directory=/etc/postfix \
    "command_directory=$(dirname "$(command -v postconf)")" create-missing >"$d/install.log" 2>&1 ||
    { say "postfix: post-install failed: $(tail -n 1 "$d/install.log")"; return 1; }
  # Its own process group: stopping it stops every daemon it started.
  setsid "$postfix_daemons/master" -c "$d/conf" -d >"$d/master.out" 2>&1 </dev/null &
  pf_pid=$!
  wait_listening "$pf_pid" "$port" "postfix master" ||
    { say "postfix: $(tail -n 2 "$d/maillog" 2>/dev/null)"; stop_postfix; return 1; }
}

# stop_postfix: master and every daemon of its group, at most 10 s for a clean stop
stop_postfix() {
  [ -n "${pf_pid:-}" ] || return 0
  kill -TERM -- "-$pf_pid" 2>/dev/null || true
  for _ in $(seq 1 100); do kill -0 "$pf_pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL -- "-$pf_pid" 2>/dev/null || true
  wait "$pf_pid" 2>/dev/null || true
  pf_pid=
}

# postfix_why_not: empty when a private Postfix can run here, else why it cannot
postfix_why_not() {
  [ "$(id -u)" -eq 0 ] || { echo "not measured: needs root"; return; }
  { [ -x "$postfix_daemons/master" ] && [ -x "$postfix_daemons/post-install" ] && command -v postconf >/dev/null; } ||
    { echo "not measured: postfix not installed"; return; }
  { id postfix >/dev/null 2>&1 && getent group postdrop >/dev/null; } || { echo "not measured: no postfix user"; return; }
}

# postfix_accept: msg/s of smtp-source into Postfix (relayhost a closed port: mail stays queued)
postfix_accept() {
  local port rate
  port=$(free_port)
  start_postfix "$port" "$(free_port)" || { echo fail; return; }
  rate=$(source_rate "$port" rcpt@bench.test postfix)
  stop_postfix
  echo "$rate"
}

# postfix_relay: msg/s from the first message sent to Postfix to the last one smtp-sink counted
postfix_relay() {
  local port sport t0 rate
  sport=$(free_port); start_sink "$sport" || { echo fail; return; }
  port=$(free_port); start_postfix "$port" "$sport" || { kill_now "$sink_pid"; sink_pid=; echo fail; return; }
  t0=$(now)
  source_rate "$port" rcpt@bench.test "postfix relay" >/dev/null
  rate=$(sink_rate "$t0" "postfix relay")
  stop_postfix; kill_now "$sink_pid"; sink_pid=
  echo "$rate"
}

discard=$(accept discard)
maildir=$(accept maildir)
if $has_queue; then queue=$(accept queue); relayed=$(relay); else queue="not available"; relayed="not available"; fi
why=$(postfix_why_not)
if [ -z "$why" ]; then pf_accept=$(postfix_accept); pf_relay=$(postfix_relay); else pf_accept=$why; pf_relay=$why; fi
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a !~ /^[0-9]+$/ || b + 0 == 0) print "-"; else printf "%.2f", a / b }'; }

mkdir -p bench/results
{
  echo "# postwire queue benchmark"
  echo
  echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg);"
  echo "smtp-source -s $sessions -m $msgs -l $size on loopback, one run per row."
  echo
  echo "| run | msg/s | vs --discard |"
  echo "|---|---:|---:|"
  echo "| serve --discard (accept) | $discard | 1.00 |"
  echo "| serve --maildir (accept) | $maildir | $(ratio "$maildir" "$discard") |"
  echo "| serve --queue (accept, durable) | $queue | $(ratio "$queue" "$discard") |"
  echo "| relay: smtp-source → serve --queue → smtp-sink (end to end) | $relayed | $(ratio "$relayed" "$discard") |"
  echo "| Postfix 3 (private instance): accept into its queue | $pf_accept | $(ratio "$pf_accept" "$discard") |"
  echo "| Postfix 3: relay smtp-source → Postfix → smtp-sink (end to end) | $pf_relay | $(ratio "$pf_relay" "$discard") |"
  echo
  echo "Target: serve --queue at least 0.50 of --discard (durable within 2x)."
  echo "serve --queue / Postfix accept: $(ratio "$queue" "$pf_accept"); relay: $(ratio "$relayed" "$pf_relay")."
} | tee bench/results/queue.md
