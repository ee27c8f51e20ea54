#!/usr/bin/env bash
# A virtualenv of its own for the optional `paddle` OCR engine (PaddleOCR's pipeline): paddlex brings
# opencv-contrib-python, which shares the cv2 package with the headless OpenCV in .venv, so the two never mix
# there. Needs .venv (scripts/bootstrap.sh) for uv. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv-paddle/bin/python ]; then
  "${PYTHON:-python3}" -m venv .venv-paddle
fi
stamp=.venv-paddle/.dangan-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  echo "installing dangan with the paddle extra into .venv-paddle" >&2
  .venv/bin/uv pip install -q --python .venv-paddle/bin/python -e '.[dev,paddle]'
  touch "$stamp"
fi
.venv-paddle/bin/python -c "import paddleocr" >/dev/null
