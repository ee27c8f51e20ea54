#!/usr/bin/env bash
# Install what dangan needs on a fresh Debian/Ubuntu machine: system packages (when missing), a virtualenv in
# .venv and the package. Idempotent; quick when everything is already there.
#   bash scripts/bootstrap.sh        what the tests need (scripts/test.sh, CI): the dev extra, the Java PDFBox
#                                    packages for the PDF/A cross-check and, when at hand, the CPU torch build
#   bash scripts/bootstrap.sh demo   what `dangan demo` needs (scripts/demo.sh): the package alone, no Java,
#                                    no torch; a later test set-up adds the rest to the same .venv
set -euo pipefail
cd "$(dirname "$0")/.."
MODE=${1:-test}
case "$MODE" in
  test|demo) ;;
  *) echo "usage: bash scripts/bootstrap.sh [test|demo]" >&2; exit 2 ;;
esac
APT_PACKAGES=(tesseract-ocr tesseract-ocr-chi-sim fonts-noto-cjk fonts-wqy-zenhei poppler-utils)
if [ "$MODE" = test ]; then
  APT_PACKAGES+=(libpdfbox2-java libactivation-java libjaxb-api-java)  # PDF/A cross-check in the tests
  APT_PACKAGES+=(chromium)  # headless render of the served Data Docs (tests/web)
fi
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing system packages: ${missing[*]}" >&2
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
if [ ! -x .venv/bin/uv ]; then
  .venv/bin/pip install -q --upgrade pip uv
fi
stamp=.venv/.dangan-installed  # the test set-up (a superset of the demo's)
if [ "$MODE" = demo ]; then
  demo_stamp=.venv/.dangan-installed-demo
  if { [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; } \
      && { [ ! -f "$demo_stamp" ] || [ pyproject.toml -nt "$demo_stamp" ]; }; then
    echo "installing dangan and its dependencies into .venv" >&2
    .venv/bin/uv pip install -q --python .venv/bin/python -e .
    touch "$demo_stamp"
  fi  # else the tests' or the demo's set-up is there: the tests' holds everything the demo needs
  # uv installs without bytecode: each command would compile Prefect, GX, ... again where .pyc files cannot be
  # written (PYTHONDONTWRITEBYTECODE, a read-only .venv): a no-op rerun took minutes instead of seconds
  compiled=.venv/.dangan-compiled
  if [ ! -f "$compiled" ] || [ pyproject.toml -nt "$compiled" ]; then
    echo "compiling Python bytecode once, so that every later command starts faster" >&2
    .venv/bin/python -m compileall -q -j 0 .venv/lib dangan flows tasks >/dev/null || true
    touch "$compiled"
  fi
  exit 0
fi
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  echo "installing dangan and its dependencies into .venv" >&2
  .venv/bin/uv pip install -q --python .venv/bin/python -e '.[dev]'
  touch "$stamp"
fi
# The torch OCR backend's tests run on CPU tensors when a CPU build of torch is at hand (these machines keep
# one on disk). Elsewhere `pip install '.[gpu]'` brings it; without it those tests skip and say so.
if ! .venv/bin/python -c "import torch, onnx, importlib.util as u; assert u.find_spec('onnx2torch')" >/dev/null 2>&1; then
  wheel=$(ls /opt/wheels/torch-*+cpu-cp3*-manylinux*_x86_64.whl 2>/dev/null | head -n 1 || true)
  if [ -n "$wheel" ]; then
    echo "installing the CPU build of torch for the GPU-path tests: $wheel" >&2
    # onnx brings its own small dependencies; onnx2torch without its own, which would pull a CUDA torch build
    .venv/bin/pip install -q "$wheel" && .venv/bin/pip install -q 'onnx>=1.16' \
      && .venv/bin/pip install -q --no-deps 'onnx2torch==1.5.15' \
      || echo "torch test extras not installed; those tests will skip" >&2

  fi
fi
