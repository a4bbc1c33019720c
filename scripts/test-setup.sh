#!/usr/bin/env bash
# Installs the system packages the test suite needs, when missing. Idempotent.
# - Java (PySpark local mode, parity harness)
# Later issues add Debian's chromium (browser tests) and PostgreSQL (store tests) here.
set -euo pipefail
need=()
command -v java >/dev/null 2>&1 || need+=(openjdk-17-jre-headless)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then echo "Error: missing ${need[*]}; install them (apt-get install -y ${need[*]}) and retry." >&2; exit 1; fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${need[@]}" >/dev/null
fi
