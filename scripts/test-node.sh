#!/usr/bin/env bash
# make test-node: the Node binding as a user gets it.
#  1. `npm install` in this checkout: installs the build tools (package-lock.json) and builds the
#     addon through the `prepare` script (napi build, debug profile);
#  2. the generated index.d.ts / index.js must be the committed ones (stale: commit them);
#  3. `tsc --noEmit --strict` on tests/node/typed_usage.ts against that index.d.ts;
#  4. the node:test suite in tests/node against the checkout (peers: tests/peers/node, `make deps`;
#     the test DNS server postwire-testdns, built here, serving tests/dns/zone.json);
#  5. `npm pack`, then the tarball installed into a fresh project with cargo and rustc off the PATH
#     (no Rust toolchain), loaded with require() and import, and the README and process-lifetime
#     tests run again against that installed copy.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
work="$repo/.work/node"
say() { echo "test-node: $*"; }
die() { echo "test-node: $*" >&2; exit 1; }

command -v node >/dev/null && command -v npm >/dev/null || die "node and npm are needed (Node 20 or later)"
[ -d tests/peers/node/node_modules/smtp-server ] || die "the Node peers are missing: run \`make deps\`"

say "npm install (prepare: napi build --manifest-path bindings-node/Cargo.toml, debug)"
npm install --no-audit --no-fund --loglevel=error </dev/null

if git rev-parse --is-inside-work-tree >/dev/null 2>&1 && ! git diff --quiet -- index.d.ts index.js; then
  git --no-pager diff --stat -- index.d.ts index.js >&2
  die "index.d.ts / index.js differ from the committed ones: the build regenerated them, commit them"
fi
say "index.d.ts and index.js are the committed ones"

say "tsc --noEmit --strict tests/node/typed_usage.ts"
npx --no-install tsc -p tests/node/tsconfig.json

say "cargo build -p postwire-testdns (the DNS server of the route, queue and trace tests)"
cargo build --quiet -p postwire-testdns

say "node --test tests/node"
node --test --test-concurrency=2 tests/node/*.test.js

say "npm pack, then install the tarball without a Rust toolchain"
rm -rf "$work" && mkdir -p "$work/project"
tarball=$(npm pack --ignore-scripts --silent --pack-destination "$work")
# PATH without any directory that holds cargo or rustc.
norust=$(tr ':' '\n' <<<"$PATH" | while read -r d; do
  [ -n "$d" ] && [ ! -e "$d/cargo" ] && [ ! -e "$d/rustc" ] && printf '%s:' "$d"
done)
norust=${norust%:}
(
  cd "$work/project"
  export PATH="$norust"
  ! command -v cargo >/dev/null 2>&1 || die "cargo still on the PATH"
  printf '{ "name": "pack-test", "version": "0.0.0", "private": true }\n' >package.json
  npm install --no-audit --no-fund --loglevel=error "$work/$tarball" </dev/null
  node -e "const pw = require('postwire'); if (typeof pw.Client.connect !== 'function') process.exit(1)"
  node --input-type=module -e "import { Client, Server } from 'postwire'; if (typeof Client.connect !== 'function' || typeof Server !== 'function') process.exit(1)"
)
say "installed $(basename "$tarball"): require() and import both load it"
POSTWIRE_PACKAGE="$work/project/node_modules/postwire" \
  node --test tests/node/readme.test.js tests/node/lifecycle.test.js
say "passed"
