#!/usr/bin/env bash
# Installs every peer that postwire's tests, demo and benchmarks talk to, so that a fresh machine
# needs nothing done by hand: `make deps` (and so `make test`) runs this.
#
#   Debian packages  postfix (smtp-source/smtp-sink, and a private instance the queue benchmark starts with its own configuration; the system daemon is never configured, and stopped),
#                    swaks with the Perl modules it needs for TLS and AUTH (Net::SSLeay,
#                    IO::Socket::SSL, Authen::SASL), time (GNU /usr/bin/time), nmap with its
#                    smtp-open-relay script (the relay checker is compared with it), openssl
#                    (the client's TLS tests make self-signed certificates with `req -x509`, the
#                    Node suite signs a server certificate with a test CA of its own); for the C
#                    suite: valgrind (memcheck), libjansson-dev (the C vector test reads JSON),
#                    pkg-config, gcc (and its AddressSanitizer runtime, libasan)
#   Python           <repo>/.venv from tests/peers/requirements.txt (aiosmtpd, aiosmtplib, pytest)
#   Node             tests/peers/node/node_modules from its package-lock.json (smtp-server, nodemailer)
#
# Idempotent and quick when everything is already there: apt is only touched when a tool is missing,
# and the venv / node_modules are only rebuilt when their pinned requirement files change (a hash
# stamp is kept beside them). Runs unattended (no stdin, CI=true) as root, or through sudo.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
started=$(date +%s)
did=()

say() { printf 'install-deps: %s\n' "$*"; }
die() { printf 'install-deps: ERROR: %s\n' "$*" >&2; exit 1; }

if [ "$(id -u)" -eq 0 ]; then
  as_root=()
elif command -v sudo >/dev/null 2>&1; then
  as_root=(sudo -n)
else
  as_root=()
fi

# --- Debian packages -------------------------------------------------------------------------
# Decided by what each tool can do, not by whether its binary exists: swaks without Net::SSLeay
# runs fine but cannot speak TLS, and the suites need that (a binary check passed on such a
# machine and `make test` failed later).
swaks_can() { local s; s=$(swaks --support 2>&1) && grep -q "^=== $1 supported" <<<"$s"; }
missing=()
command -v smtp-source >/dev/null 2>&1 || [ -x /usr/sbin/smtp-source ] || missing+=(postfix)
command -v swaks >/dev/null 2>&1 || missing+=(swaks)
swaks_can "TLS" || missing+=(libnet-ssleay-perl libio-socket-ssl-perl)
swaks_can "AUTH DIGEST-MD5" || missing+=(libauthen-sasl-perl)
[ -x /usr/bin/time ] || missing+=(time)
# The relay checker's agreement test runs nmap's smtp-open-relay script, not just nmap.
nmap_relay_script() { nmap --script-help smtp-open-relay 2>/dev/null | grep -q "^smtp-open-relay"; }
nmap_relay_script || missing+=(nmap)
# The client tests make certificates the way admins do (`req -x509 … -addext subjectAltName=…`,
# OpenSSL 1.1.1 or later); check that it can, not only that a binary exists.
openssl_can_x509() {
  local d rc
  d=$(mktemp -d) || return 1
  openssl req -x509 -newkey rsa:2048 -nodes -days 1 -keyout "$d/k.pem" -out "$d/c.pem" \
    -subj /CN=install-deps -addext subjectAltName=DNS:localhost >/dev/null 2>&1 && [ -s "$d/c.pem" ]
  rc=$?
  rm -rf "$d"
  return $rc
}
openssl_can_x509 || missing+=(openssl)
# The Node suite signs a server certificate with a test CA of its own (tests/node/helpers.js).
openssl_can_sign() { openssl req -help 2>&1 | grep -q -- "-addext" && openssl x509 -help 2>&1 | grep -q -- "-extfile"; }
openssl_can_sign || missing+=(openssl)
# The C suite: each decided by what it must do (compile, link, sanitize, trace), not by a binary.
c_can() {  # c_can FLAGS...: a tiny C program compiles, links with FLAGS and runs
  local d; d=$(mktemp -d)
  printf '#include <stdio.h>\nint main(void){puts("ok");return 0;}\n' >"$d/t.c"
  cc "$d/t.c" -o "$d/t" "$@" >/dev/null 2>&1 && "$d/t" >/dev/null 2>&1; local rc=$?
  rm -rf "$d"; return $rc
}
jansson_ok() {
  local d; d=$(mktemp -d)
  printf '#include <jansson.h>\nint main(void){json_t *j=json_loads("[1]",0,NULL);int ok=json_is_array(j);json_decref(j);return !ok;}\n' >"$d/t.c"
  # shellcheck disable=SC2046
  cc "$d/t.c" -o "$d/t" $(pkg-config --cflags --libs jansson 2>/dev/null) >/dev/null 2>&1 && "$d/t"; local rc=$?
  rm -rf "$d"; return $rc
}
command -v cc >/dev/null 2>&1 || missing+=(gcc libc6-dev)
command -v pkg-config >/dev/null 2>&1 || missing+=(pkg-config)
valgrind -q --error-exitcode=9 true >/dev/null 2>&1 || missing+=(valgrind)
jansson_ok || missing+=(libjansson-dev)
c_can -fsanitize=address || missing+=(libasan8)

if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ] && [ ${#as_root[@]} -eq 0 ]; then
    die "missing Debian packages (${missing[*]}) and not root: run this script as root"
  fi
  command -v apt-get >/dev/null 2>&1 || die "missing ${missing[*]} and no apt-get on this machine"
  say "installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # Postfix is wanted for its test tools only: preseed "No configuration" so no main.cf is written
  # and no MTA is set up, and forbid service starts for the duration of the install.
  echo "postfix postfix/main_mailer_type select No configuration" | "${as_root[@]}" debconf-set-selections
  policy=/usr/sbin/policy-rc.d
  policy_added=0
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' | "${as_root[@]}" tee "$policy" >/dev/null
    "${as_root[@]}" chmod 755 "$policy"
    policy_added=1
  fi
  restore_policy() { if [ "$policy_added" = 1 ]; then "${as_root[@]}" rm -f "$policy"; policy_added=0; fi; }
  trap restore_policy EXIT
  "${as_root[@]}" apt-get update -qq </dev/null
  "${as_root[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" </dev/null >/dev/null
  restore_policy
  trap - EXIT
  did+=("apt: ${missing[*]}")
fi

# Whatever installed Postfix, its daemon must not be left holding port 25 (tests and benches need a
# quiet machine, and nothing here should accept real mail).
if command -v postfix >/dev/null 2>&1 && "${as_root[@]}" postfix status >/dev/null 2>&1; then
  say "stopping a running Postfix daemon"
  "${as_root[@]}" postfix stop >/dev/null 2>&1 || true
  did+=("stopped postfix daemon")
fi

# --- Python peers ----------------------------------------------------------------------------
req="$repo/tests/peers/requirements.txt"
venv="$repo/.venv"
req_hash=$(sha256sum "$req" | cut -d' ' -f1)
if [ ! -x "$venv/bin/python" ] || [ "$(cat "$venv/.postwire-requirements" 2>/dev/null)" != "$req_hash" ]; then
  py=$(command -v python3) || die "python3 not found"
  say "creating $venv from $(basename "$req") with $("$py" --version 2>&1)"
  [ -x "$venv/bin/python" ] || "$py" -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$req"
  echo "$req_hash" >"$venv/.postwire-requirements"
  did+=("python venv: $(grep -Ev '^\s*(#|$)' "$req" | tr '\n' ' ')")
fi

# --- Node peers ------------------------------------------------------------------------------
nodedir="$repo/tests/peers/node"
command -v node >/dev/null 2>&1 || die "node not found (Node.js 20 or later is needed for the Node peers)"
command -v npm >/dev/null 2>&1 || die "npm not found"
lock_hash=$(cat "$nodedir/package.json" "$nodedir/package-lock.json" | sha256sum | cut -d' ' -f1)
if [ "$(cat "$nodedir/node_modules/.postwire-lock" 2>/dev/null)" != "$lock_hash" ]; then
  say "installing Node peers in tests/peers/node (npm ci)"
  (cd "$nodedir" && npm ci --no-audit --no-fund --loglevel=error </dev/null)
  echo "$lock_hash" >"$nodedir/node_modules/.postwire-lock"
  did+=("npm ci: smtp-server nodemailer")
fi

# --- Verify ----------------------------------------------------------------------------------
fail=0
check() {
  local what=$1; shift
  if "$@" >/dev/null 2>&1; then say "ok: $what"; else say "MISSING: $what"; fail=1; fi
}
check "smtp-source" test -x "$(command -v smtp-source || echo /usr/sbin/smtp-source)"
check "smtp-sink" test -x "$(command -v smtp-sink || echo /usr/sbin/smtp-sink)"
check "swaks" swaks --version
check "swaks speaks TLS" swaks_can "TLS"
check "swaks has Authen::SASL" swaks_can "AUTH DIGEST-MD5"
check "smtp-sink runs" bash -c 'out=$("$(command -v smtp-sink || echo /usr/sbin/smtp-sink)" 2>&1); grep -q usage <<<"$out"'
check "/usr/bin/time" test -x /usr/bin/time
check "cc compiles and links C" c_can
check "cc -fsanitize=address (ASan runtime)" c_can -fsanitize=address
check "valgrind memcheck runs a program" valgrind -q --error-exitcode=9 true
check "jansson (libjansson-dev) via pkg-config" jansson_ok
check "nmap with the smtp-open-relay script" nmap_relay_script
check "openssl makes self-signed certificates (req -x509 -addext)" openssl_can_x509
check "openssl signs certificates with extensions" openssl_can_sign
check "python aiosmtpd, aiosmtplib, pytest" "$venv/bin/python" -c "import aiosmtpd, aiosmtplib, pytest"
check "node smtp-server, nodemailer" node -e "require('$nodedir/node_modules/smtp-server'); require('$nodedir/node_modules/nodemailer')"
if (exec 3<>/dev/tcp/127.0.0.1/25) 2>/dev/null; then
  say "WARNING: something is listening on 127.0.0.1:25 (not started by this script)"
fi

if [ ${#did[@]} -eq 0 ]; then
  say "nothing to do, everything already installed ($(($(date +%s) - started))s)"
else
  for d in "${did[@]}"; do say "did: $d"; done
  say "done in $(($(date +%s) - started))s"
fi
[ "$fail" -eq 0 ] || die "some peers are missing (see above)"
