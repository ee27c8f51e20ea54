#!/usr/bin/env bash
# README command 2: run the whole test suite (catalog tests on SQLite and, when PostgreSQL can be started
# here, on PostgreSQL too). Extra arguments go to pytest. pytest's "no tests collected" (exit 5) is a failure.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh || exit 1
if [ -z "${DANGAN_TEST_PG_URL:-}" ]; then
  if [ "$(id -u)" -eq 0 ] && url=$(bash scripts/postgres-test-db.sh); then
    export DANGAN_TEST_PG_URL="$url"
  else
    echo "PostgreSQL not started (needs root or DANGAN_TEST_PG_URL): PostgreSQL catalog tests will skip" >&2
  fi
fi
.venv/bin/pytest "$@"
rc=$?
if [ $rc -eq 5 ]; then
  echo "pytest collected no tests: failing" >&2
  exit 1
fi
exit $rc
