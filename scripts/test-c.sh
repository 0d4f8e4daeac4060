#!/usr/bin/env bash
# make test-c: the C binding as a C programmer gets it.
#   1. libpostwire (debug) is built; include/postwire.h is regenerated (`make c-header`, the
#      pinned cbindgen) and must not differ from the committed one (git diff --exit-code).
#   2. The test programs of tests/c — and the NULL test generated from the header — are compiled
#      with -Wall -Wextra -Werror against the committed header, twice: plain and with
#      AddressSanitizer.
#   3. tests/c/run.py runs every program against its peers (and postwire-testdns, the DNS server
#      of every suite, for MX routing and the queue) three times: plain, under valgrind
#      memcheck (0 errors, 0 definite leaks) and the ASan build.
#   4. `make install PREFIX=<tmp>`; the examples build with `cc $(pkg-config --cflags --libs
#      postwire)` and examples/c/send delivers to examples/c/serve.
# Build output goes to .work/c (ignored by git).
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
# shellcheck source=scripts/lib.sh
. scripts/lib.sh
say() { echo "test-c: $*"; }
die() { echo "test-c: ERROR: $*" >&2; exit 1; }
python="$repo/.venv/bin/python"
[ -x "$python" ] || die ".venv is missing: run \`make deps\`"
command -v valgrind >/dev/null || die "valgrind is missing: run \`make deps\`"
pkg-config --exists jansson || die "jansson (libjansson-dev) is missing: run \`make deps\`"

target=${CARGO_TARGET_DIR:-$repo/target}
libdir="$target/debug"
work="$repo/.work/c"
rm -rf "$work"
mkdir -p "$work/plain" "$work/asan"

say "cargo build -p postwire-c -p postwire-testdns"
cargo build -q -p postwire-c -p postwire-testdns
say "regenerating include/postwire.h (make c-header)"
make -s c-header >/dev/null
git diff --exit-code -- include/postwire.h ||
  die "include/postwire.h differs from what the code generates: run \`make c-header\` and commit it"

python3 tests/c/gen_null_test.py include/postwire.h >"$work/test_null.c"
cflags=(-std=c11 -g -Wall -Wextra -Werror -Iinclude -Itests/c)
libs=(-L"$libdir" -lpostwire -Wl,-rpath,"$libdir" -lpthread)
build() {  # build OUT_DIR EXTRA_FLAGS...
  local out=$1; shift
  for src in tests/c/test_*.c "$work/test_null.c"; do
    local name extra=()
    name=$(basename "$src" .c)
    case "$name" in test_vectors | test_mta) extra=($(pkg-config --cflags --libs jansson)) ;; esac
    cc "${cflags[@]}" "$@" "$src" -o "$out/$name" "${libs[@]}" "${extra[@]}"
  done
}
say "compiling tests/c with -Wall -Wextra -Werror (plain and -fsanitize=address)"
build "$work/plain"
build "$work/asan" -fsanitize=address -fno-omit-frame-pointer

status=0
"$python" tests/c/run.py "$work/plain" --label plain || status=1
"$python" tests/c/run.py "$work/plain" --label valgrind \
  --wrap "valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite --show-leak-kinds=definite" ||
  status=1
ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 "$python" tests/c/run.py "$work/asan" --label asan || status=1

say "make install PREFIX=$work/prefix; examples with pkg-config"
make -s install PREFIX="$work/prefix" >/dev/null
export PKG_CONFIG_PATH="$work/prefix/lib/pkgconfig"
for ex in send serve; do
  # shellcheck disable=SC2046  # pkg-config's output is meant to be split
  cc examples/c/$ex.c $(pkg-config --cflags --libs postwire) -o "$work/$ex" || die "examples/c/$ex.c did not build"
done
port=$(free_port)
LD_LIBRARY_PATH="$work/prefix/lib" "$work/serve" 127.0.0.1 "$port" >"$work/serve.out" 2>&1 &
serve_pid=$!
trap 'kill_now "$serve_pid"' EXIT
for _ in $(seq 1 100); do port_listening "$port" && break; sleep 0.1; done
if LD_LIBRARY_PATH="$work/prefix/lib" "$work/send" 127.0.0.1 "$port" me@example.org you@example.test 3 >"$work/send.out" 2>&1 &&
  grep -q "^sent 3 messages" "$work/send.out"; then
  kill -TERM "$serve_pid"
  wait_gone "$serve_pid" 100 || die "examples/c/serve did not stop on SIGTERM"
  if grep -q "^received 3 messages" "$work/serve.out"; then
    echo "ok   examples: send delivered 3 messages to serve (installed library, pkg-config)"
  else
    echo "FAIL examples: serve printed: $(cat "$work/serve.out")"; status=1
  fi
else
  echo "FAIL examples: send printed: $(cat "$work/send.out")"; status=1
fi
[ "$status" -eq 0 ] || die "the C suite failed (see FAIL lines above)"
say "passed"
