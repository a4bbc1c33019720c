#!/usr/bin/env bash
# Installs the system packages the test suite needs, when missing. Idempotent.
# - Java (PySpark local mode, parity harness)
# - PostgreSQL (loop store tests; section below)
# Later issues add Debian's chromium (browser tests) here.
set -euo pipefail
need=()
command -v java >/dev/null 2>&1 || need+=(openjdk-17-jre-headless)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then echo "Error: missing ${need[*]}; install them (apt-get install -y ${need[*]}) and retry." >&2; exit 1; fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${need[@]}" >/dev/null
fi

# ---- PostgreSQL (loop store tests) -------------------------------------------------------
# A dedicated cluster "levier_test" on 127.0.0.1:${LEVIER_TEST_PG_PORT:-54329}, trust auth for
# loopback only; tests connect to $PG_URL below (override with LEVIER_TEST_PG_URL). Idempotent:
# when the server already answers, this section does nothing.
PG_PORT="${LEVIER_TEST_PG_PORT:-54329}"
# PG_URL="postgresql+psycopg://postgres@127.0.0.1:${PG_PORT}/postgres" (tests/loop/conftest.py)
pg_ready() { command -v pg_isready >/dev/null 2>&1 && pg_isready -q -h 127.0.0.1 -p "$PG_PORT"; }
if ! pg_ready; then
  if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
    if [ "$(id -u)" != 0 ]; then echo "Error: PostgreSQL is missing; install it (apt-get install -y postgresql) and retry." >&2; exit 1; fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq postgresql >/dev/null
  fi
  PG_BIN="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)"
  PG_VER="$(basename "$(dirname "$PG_BIN")")"
  if [ "$(id -u)" = 0 ]; then
    if ! pg_lsclusters -h 2>/dev/null | awk '{print $1" "$2}' | grep -qx "$PG_VER levier_test"; then
      pg_createcluster -q -p "$PG_PORT" "$PG_VER" levier_test -- --auth-local=trust --auth-host=trust >/dev/null
      conf="/etc/postgresql/$PG_VER/levier_test"
      echo "listen_addresses = '127.0.0.1'" >> "$conf/postgresql.conf"
      echo "fsync = off" >> "$conf/postgresql.conf"
      printf 'local all all trust\nhost all all 127.0.0.1/32 trust\n' > "$conf/pg_hba.conf"
    fi
    pg_ctlcluster "$PG_VER" levier_test start >/dev/null 2>&1 || pg_ctlcluster "$PG_VER" levier_test restart
  else
    data="${XDG_CACHE_HOME:-$HOME/.cache}/levier-test-pg"
    if [ ! -f "$data/PG_VERSION" ]; then
      "$PG_BIN/initdb" -D "$data" -U postgres --auth=trust >/dev/null
    fi
    "$PG_BIN/pg_ctl" -D "$data" -l "$data/server.log" -o "-p $PG_PORT -k /tmp -c listen_addresses=127.0.0.1 -c fsync=off" -w start >/dev/null
  fi
  for _ in $(seq 1 30); do pg_ready && break; sleep 0.5; done
  pg_ready || { echo "Error: PostgreSQL did not start on 127.0.0.1:$PG_PORT." >&2; exit 1; }
fi
# ---- end PostgreSQL ----------------------------------------------------------------------

# ---- Chromium (browser tests of the web app) ---------------------------------------------
# Debian's chromium at /usr/bin/chromium, driven by Playwright's Python package; never a
# downloaded browser. Idempotent: does nothing when it is already installed.
if [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" != 0 ]; then echo "Error: /usr/bin/chromium is missing; install it (apt-get install -y chromium) and retry." >&2; exit 1; fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq chromium >/dev/null
fi
# ---- end Chromium ------------------------------------------------------------------------
