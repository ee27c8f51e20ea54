#!/usr/bin/env bash
# README command 1: set up what the demo needs, then run the main job on the embedded default (sample scans →
# digitization flow → summary). Extra arguments go to `dangan demo` (e.g. --persons 5).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh demo  # the demo's needs only: no test extras, no Java, no torch
.venv/bin/dangan init
exec .venv/bin/dangan demo "$@"
