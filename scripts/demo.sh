#!/usr/bin/env bash
# `make demo`: postwire's server end to end on loopback, in five steps a newcomer can watch.
#   1. build `postwire`; 2. start `postwire serve` on a free 127.0.0.1 port with a Maildir;
#   3. deliver a message (swaks, or Python's smtplib when swaks is absent) and show the stored
#   file with our Received line; 4. show a relay attempt refused with 550 5.7.1;
#   5. stop the server with SIGTERM (graceful stop).
# DEMO_CLIENT=smtplib uses Python's smtplib even when swaks is there.
# Exits 0 only when every step behaved as expected. Everything lives in a temporary directory
# that is removed at exit, together with the server if it is still running.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
# shellcheck source=scripts/lib.sh
. scripts/lib.sh
target_dir=${CARGO_TARGET_DIR:-$repo/target}
bin="$target_dir/debug/postwire"

work=$(mktemp -d "${TMPDIR:-/tmp}/postwire-demo.XXXXXX")
maildir="$work/Maildir"
log="$work/server.log"
server_pid=

cleanup() {
  kill_now "$server_pid"
  rm -rf "$work"
}
trap cleanup EXIT

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
fail() {
  printf '\ndemo FAILED: %s\n' "$*" >&2
  if [ -s "$log" ]; then printf -- '--- server output ---\n' >&2; cat "$log" >&2; fi
  exit 1
}

step "1. build postwire (debug)"
cargo build -p postwire --bin postwire
[ -x "$bin" ] || fail "no binary at $bin"

step "2. start postwire serve on loopback"
port=$(free_port)
cmd=("$bin" serve --listen "127.0.0.1:$port" --hostname mx.demo.test --local-domain demo.test
  --maildir "$maildir")
echo "\$ ${cmd[*]}"
"${cmd[@]}" >"$log" 2>&1 &
server_pid=$!

# Ready when it prints its listening line or the kernel shows the port listening. Bounded: 10 s.
ready=0
for _ in $(seq 1 100); do
  kill -0 "$server_pid" 2>/dev/null || fail "postwire serve exited before listening"
  if grep -q "listening on 127.0.0.1:$port" "$log" 2>/dev/null || port_listening "$port"; then
    ready=1
    break
  fi
  sleep 0.1
done
[ "$ready" = 1 ] || fail "postwire serve did not listen on 127.0.0.1:$port within 10 s"
sed 's/^/  server| /' "$log"
shown=$(wc -l <"$log")

# send TO: runs one SMTP transaction from alice@example.org to TO, prints the transcript,
# and returns the client's verdict (0 = accepted).
send() {
  local to=$1
  if [ "${DEMO_CLIENT:-swaks}" = swaks ] && command -v swaks >/dev/null 2>&1; then
    echo "\$ swaks --server 127.0.0.1:$port --from alice@example.org --to $to"
    swaks --server "127.0.0.1:$port" --from alice@example.org --to "$to" \
      --helo client.example.org --header "Subject: postwire demo" \
      --body "Hello Bob, this message went through postwire." </dev/null
  else
    echo "(using Python's smtplib)"
    python3 - "$port" "$to" <<'PY'
import smtplib, sys
port, to = int(sys.argv[1]), sys.argv[2]
msg = ("From: alice@example.org\r\nTo: %s\r\nSubject: postwire demo\r\n\r\n"
       "Hello Bob, this message went through postwire.\r\n" % to)
with smtplib.SMTP("127.0.0.1", port, local_hostname="client.example.org", timeout=30) as s:
    s.set_debuglevel(1)
    try:
        s.sendmail("alice@example.org", [to], msg)
    except smtplib.SMTPRecipientsRefused as e:
        for rcpt, (code, text) in e.recipients.items():
            print("<** %d %s" % (code, text.decode(errors="replace")))
        sys.exit(1)
PY
  fi
}

step "3. deliver a message to bob@demo.test"
send bob@demo.test || fail "the message to bob@demo.test was not accepted"

mapfile -t stored < <(find "$maildir" -path '*/new/*' -type f 2>/dev/null | sort)
[ "${#stored[@]}" -eq 1 ] || fail "expected 1 file in a new/ folder under $maildir, found ${#stored[@]}"
step "   stored: ${stored[0]#"$work"/}"
sed 's/^/  | /' "${stored[0]}"
# Our Received line is the top one: `Received: from <helo> (...) by mx.demo.test with ... id ...`.
first_received=$(grep -m1 -A1 '^Received:' "${stored[0]}" | tr -d '\r' | tr '\n' ' ')
case "$first_received" in
  *"from client.example.org"*"by mx.demo.test"*) ;;
  *) fail "the top Received line is not postwire's: $first_received" ;;
esac
grep -q 'went through postwire' "${stored[0]}" || fail "the stored file lacks the message body"

step "4. relay attempt to victim@elsewhere.example (must be refused)"
set +e
relay_out=$(send victim@elsewhere.example 2>&1)
relay_rc=$?
set -e
printf '%s\n' "$relay_out"
[ "$relay_rc" -ne 0 ] || fail "the relay attempt was accepted"
grep -q '550 5\.7\.1' <<<"$relay_out" || fail "the relay attempt was not answered 550 5.7.1"
mapfile -t stored_after < <(find "$maildir" -path '*/new/*' -type f 2>/dev/null)
[ "${#stored_after[@]}" -eq 1 ] || fail "the refused relay attempt stored something"

step "5. stop the server (SIGTERM, graceful)"
kill -TERM "$server_pid"
wait_gone "$server_pid" 100 || fail "postwire serve still running 10 s after SIGTERM"
set +e
wait "$server_pid"
status=$?
set -e
server_pid=
tail -n +"$((shown + 1))" "$log" | sed 's/^/  server| /'  # what it logged since it started
[ "$status" -eq 0 ] || fail "postwire serve exited with status $status after SIGTERM"

printf '\ndemo OK: delivered to the Maildir with our Received line, relaying refused, clean stop.\n'
