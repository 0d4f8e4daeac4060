#!/usr/bin/env bash
# The queue's crash test: numbered messages are submitted while the process owning the queue is
# killed with SIGKILL at random moments and restarted on the same spool; afterwards every message
# whose submit returned has reached the receiving server, every delivered message is whole, and
# nothing arrived that was never submitted (duplicates are allowed and counted).
#
#   bash scripts/crash_test.sh          # quick: 300 messages, 8 writers, 3 kills (also in make test)
#   bash scripts/crash_test.sh --long   # 2,000 messages, 20 writers, 20 kills
#
# The test lives in core/tests/queue_crash.rs and drives the queue API; once `serve --queue`
# exists it runs the same check through SMTP.
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ "${1:-}" == "--long" ]]; then
  export POSTWIRE_CRASH_LONG=1
elif [[ -n "${1:-}" ]]; then
  echo "usage: $0 [--long]" >&2
  exit 2
fi
exec cargo test -p postwire --test queue_crash -- --nocapture --test-threads=1
