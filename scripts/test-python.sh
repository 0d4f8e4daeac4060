#!/usr/bin/env bash
# make test-python: install postwire into a FRESH venv from this checkout exactly as a user
# would (`pip install .`, maturin as the PEP 517 backend), run the pytest suite in tests/python
# against that installed copy; then build a wheel with maturin and install it into a second fresh
# venv for an import smoke test. Debug builds (MATURIN_PEP517_ARGS="--profile dev") keep it
# fast; the cargo target dir is shared with the Rust build.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
py=${PYTHON:-$(command -v python3)} || { echo "python3 not found" >&2; exit 1; }
work="$repo/.work"
say() { echo "test-python: $*"; }
pipq() { "$1/bin/python" -m pip install --quiet --disable-pip-version-check "${@:2}"; }

# The extension depends on the core without its command line: no clap in its dependency tree.
if cargo tree -p postwire-python -e normal -i clap >/dev/null 2>&1; then
  echo "test-python: clap is in the Python extension's dependency tree (core's cli feature leaked)" >&2
  exit 1
fi
say "no clap in the extension's dependency tree"

rm -rf "$work/venv-test" "$work/venv-wheel" "$work/wheels"
mkdir -p "$work"
say "fresh venv $work/venv-test ($("$py" --version 2>&1))"
"$py" -m venv "$work/venv-test"
pipq "$work/venv-test" -r tests/python/requirements.txt
say "pip install . (maturin, --profile dev)"
MATURIN_PEP517_ARGS="--profile dev" pipq "$work/venv-test" .
# The MTA tests resolve against the test DNS server (tests/dns/zone.json), run as a process.
say "cargo build -p postwire-testdns"
cargo build --quiet -p postwire-testdns
say "pytest tests/python"
# Run from the tests directory so that only the installed package can be imported.
(cd tests/python && "$work/venv-test/bin/python" -m pytest -q -p no:cacheprovider .)

say "maturin build --profile dev -o .work/wheels"
"$work/venv-test/bin/maturin" build --quiet --profile dev -o "$work/wheels"
"$py" -m venv "$work/venv-wheel"
pipq "$work/venv-wheel" "$work"/wheels/postwire-*.whl
"$work/venv-wheel/bin/python" - <<'PY'
import postwire, postwire.aio, postwire.errors
s = postwire.Server(hostname="mx.example.test")
host, port = s.listen("127.0.0.1", 0)
s.start()
with postwire.Client.connect(host, port, tls="none") as c:
    assert c.noop().code == 250
s.stop()
assert issubclass(postwire.TimeoutError, TimeoutError)
print("wheel smoke test: postwire", postwire.__version__, "ok")
PY
say "passed"
