#!/usr/bin/env bash
# Make sure the services the tests need are running. Under CI=true a missing
# service is an error: the PostgreSQL tests must run, never silently skip.
set -euo pipefail

pg_up() {
  "${PYTHON:-.venv/bin/python}" - <<'PY' >/dev/null 2>&1
import os, psycopg
url = os.environ.get("CHARTER_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"), connect_timeout=3).close()
PY
}

# Alertmanager: the notification tests post alerts to Debian's real binary (tests/integrations/test_notify_alertmanager.py).
ALERTMANAGER=/usr/bin/prometheus-alertmanager
if [ ! -x "$ALERTMANAGER" ] && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = "0" ]; then
  echo "Installing prometheus-alertmanager for the notification tests ..." >&2
  apt-get update -qq >/dev/null 2>&1 || true
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus-alertmanager >/dev/null || true
fi
if [ ! -x "$ALERTMANAGER" ]; then
  if [ "${CI:-}" = "true" ]; then
    echo "ERROR: $ALERTMANAGER is missing and could not be installed; the Alertmanager tests must run in CI." >&2
    exit 1
  fi
  echo "WARNING: $ALERTMANAGER is missing; the Alertmanager tests will be skipped (they fail under CI=true)." >&2
fi

# Chromium: the dashboard's browser tests drive Debian's build through Playwright (tests/browser/).
CHROMIUM=/usr/bin/chromium
if [ ! -x "$CHROMIUM" ] && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = "0" ]; then
  echo "Installing chromium for the browser tests ..." >&2
  apt-get update -qq >/dev/null 2>&1 || true
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null || true
fi
if [ ! -x "$CHROMIUM" ]; then
  if [ "${CI:-}" = "true" ]; then
    echo "ERROR: $CHROMIUM is missing and could not be installed; the browser tests must run in CI." >&2
    exit 1
  fi
  echo "WARNING: $CHROMIUM is missing; the browser tests will be skipped (they fail under CI=true)." >&2
fi

# Prometheus and promtool: tests/server/test_metrics.py checks deploy/prometheus with promtool and scrapes a
# running Charter with Debian's real prometheus.
PROMETHEUS=/usr/bin/prometheus
if [ ! -x "$PROMETHEUS" ] && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = "0" ]; then
  echo "Installing prometheus for the /metrics tests ..." >&2
  apt-get update -qq >/dev/null 2>&1 || true
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null || true
fi
if [ ! -x "$PROMETHEUS" ] || [ ! -x /usr/bin/promtool ]; then
  if [ "${CI:-}" = "true" ]; then
    echo "ERROR: $PROMETHEUS or /usr/bin/promtool is missing and could not be installed; the /metrics tests must run in CI." >&2
    exit 1
  fi
  echo "WARNING: $PROMETHEUS or /usr/bin/promtool is missing; the /metrics tests will be skipped (they fail under CI=true)." >&2
fi

if pg_up; then
  exit 0
fi
echo "PostgreSQL is not reachable; starting it ..." >&2
if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
  version=$(ls /etc/postgresql | sort -V | tail -n 1)
  pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  for _ in $(seq 1 30); do
    if pg_up; then
      echo "PostgreSQL $version started." >&2
      exit 0
    fi
    sleep 1
  done
fi
if [ "${CI:-}" = "true" ]; then
  echo "ERROR: PostgreSQL is not reachable at \${CHARTER_TEST_DATABASE_URL:-postgresql://postgres@127.0.0.1:5432/test} and could not be started; the PostgreSQL tests must run in CI." >&2
  exit 1
fi
echo "WARNING: PostgreSQL is not reachable; its tests will be skipped (they fail under CI=true)." >&2
