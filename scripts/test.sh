#!/usr/bin/env bash
# README command 2: run the whole test suite (catalog tests on SQLite and, when PostgreSQL can be started
# here, on PostgreSQL too). Extra arguments go to pytest. pytest's "no tests collected" (exit 5) is a failure.
# Without arguments, the optional `paddle` OCR engine's tests run in .venv-paddle (scripts/paddle-venv.sh);
# set DANGAN_TEST_PADDLE=0 to leave them to skip in .venv instead.
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

check() {  # pytest's exit code, with "no tests collected" turned into a failure
  if [ "$1" -eq 5 ]; then
    echo "pytest collected no tests: failing" >&2
    return 1
  fi
  return "$1"
}

PADDLE_TESTS=tests/ocr/test_paddle.py
if [ $# -eq 0 ]; then  # the whole suite: the lint gates (ruff, mypy) first, their failure fails the run
  bash scripts/lint.sh || lint_rc=$?
fi
if [ $# -eq 0 ] && [ "${DANGAN_TEST_PADDLE:-1}" = 1 ]; then
  bash scripts/paddle-venv.sh || { echo "could not set up .venv-paddle: failing" >&2; exit 1; }
  .venv/bin/pytest --ignore="$PADDLE_TESTS"
  check $? || main_rc=$?
  .venv-paddle/bin/pytest -p no:cacheprovider "$PADDLE_TESTS"
  check $? || paddle_rc=$?
  exit $(( ${lint_rc:-0} != 0 || ${main_rc:-0} != 0 || ${paddle_rc:-0} != 0 ))
fi
.venv/bin/pytest "$@"
check $? || exit $?
exit $(( ${lint_rc:-0} != 0 ))
