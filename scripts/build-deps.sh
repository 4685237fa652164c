#!/usr/bin/env bash
# Headers for the optional native fast pass of ledger verification (src/charter/_chainscan.c):
# SQLite and OpenSSL, the libraries Python's own sqlite3 and hashlib use. Without them Charter
# still installs and verifies in pure Python; under CI=true their absence is an error, because
# the native path must be tested.
set -euo pipefail

have_headers() {
  [ -f /usr/include/sqlite3.h ] && [ -f /usr/include/openssl/evp.h ]
}

if have_headers; then
  exit 0
fi
if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = "0" ]; then
  echo "Installing libsqlite3-dev and libssl-dev for the native verifier ..." >&2
  apt-get update -qq >/dev/null 2>&1 || true
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libsqlite3-dev libssl-dev >/dev/null
fi
if have_headers; then
  exit 0
fi
if [ "${CI:-}" = "true" ]; then
  echo "ERROR: sqlite3.h and openssl/evp.h are needed to build charter._chainscan in CI." >&2
  exit 1
fi
echo "WARNING: no SQLite/OpenSSL headers: charter._chainscan will not build; verification runs in pure Python." >&2
