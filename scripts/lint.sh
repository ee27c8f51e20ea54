#!/usr/bin/env bash
# The gates the code is held to (run by scripts/test.sh before the suite): ruff with the rules chosen in
# pyproject.toml, and mypy on every package (dangan, cli, flows, tasks: [tool.mypy] files). Both must be clean.
set -uo pipefail
cd "$(dirname "$0")/.."
rc=0
echo "lint: ruff check" >&2
.venv/bin/ruff check . || rc=1
echo "lint: mypy (dangan cli flows tasks)" >&2
.venv/bin/mypy || rc=1
if [ "$rc" -ne 0 ]; then
  echo "lint gates failed: fix the findings above (ruff check --fix fixes many) / 检查未通过：请按上面的提示修正" >&2
fi
exit "$rc"
