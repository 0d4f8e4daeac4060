#!/usr/bin/env bash
# The crash test of relay mode over SMTP: `postwire serve --queue` runs as a child process, N
# connections send numbered messages into it while it is killed with SIGKILL at random moments
# and restarted on the same spool; afterwards every message that got a 250 has reached the
# receiving server, every delivered message is whole, and none arrived whose end of data was
# never sent (duplicates, and messages whose 250 was lost to a kill, are allowed and counted).
#
#   bash scripts/crash_test.sh          # quick: 300 messages, 8 connections, 3 kills (also in make test)
#   bash scripts/crash_test.sh --long   # 2,000 messages, 20 connections, 20 kills
#
# The test lives in core/tests/queue_crash.rs.
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ "${1:-}" == "--long" ]]; then
  export POSTWIRE_CRASH_LONG=1
elif [[ -n "${1:-}" ]]; then
  echo "usage: $0 [--long]" >&2
  exit 2
fi
exec cargo test -p postwire --test queue_crash -- --nocapture --test-threads=1
