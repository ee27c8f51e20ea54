# syntax=docker/dockerfile:1.7
# dangan GPU worker: PP-OCR on CUDA (onnxruntime-gpu; torch via the `gpu` extra), Tesseract as fallback.
# Build context: the repository root (ignore rules in cuda.Dockerfile.dockerignore, read by BuildKit):
#   docker build -f infra/images/cuda.Dockerfile -t dangan/worker-cuda:0.1.0 .
# Runs on hosts with the NVIDIA driver and the NVIDIA container toolkit (compose: --profile gpu).
ARG CUDA_IMAGE=nvidia/cuda:12.4.1-cudnn-runtime-ubuntu22.04
FROM ${CUDA_IMAGE}

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# Ubuntu 22.04 ships Python 3.11 in universe (python3.11, python3.11-venv); same OCR packages as the CPU image.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      python3.11 python3.11-venv \
      tesseract-ocr tesseract-ocr-chi-sim fonts-noto-cjk fonts-wqy-zenhei poppler-utils \
      ca-certificates tini \
 && rm -rf /var/lib/apt/lists/*

RUN groupadd --system --gid 1001 dangan \
 && useradd --system --uid 1001 --gid 1001 --home-dir /home/dangan --create-home --shell /usr/sbin/nologin dangan

WORKDIR /opt/dangan/app
COPY pyproject.toml README.md ./
COPY dangan ./dangan
COPY tasks ./tasks
COPY flows ./flows
# onnxruntime and onnxruntime-gpu install the same module: swap the CPU build for the CUDA 12 one.
ARG ONNXRUNTIME_GPU_SPEC="onnxruntime-gpu>=1.19"
RUN python3.11 -m venv /opt/dangan/venv \
 && /opt/dangan/venv/bin/pip install --upgrade pip \
 && /opt/dangan/venv/bin/pip install ".[gpu]" \
 && /opt/dangan/venv/bin/pip uninstall -y onnxruntime \
 && /opt/dangan/venv/bin/pip install "$ONNXRUNTIME_GPU_SPEC" \
 && rm -rf build ./*.egg-info \
 && /opt/dangan/venv/bin/python -c "import dangan, flows.cli, tasks; import rapidocr, onnxruntime, cv2, pytesseract; \
assert 'CUDAExecutionProvider' in onnxruntime.get_available_providers(), onnxruntime.get_available_providers()"

ENV PATH=/opt/dangan/venv/bin:$PATH \
    DANGAN_DATA_DIR=/var/lib/dangan \
    PREFECT_HOME=/var/lib/dangan/prefect \
    PREFECT_SERVER_ANALYTICS_ENABLED=false \
    DO_NOT_TRACK=1 \
    DANGAN_OCR__DEVICE=cuda \
    NVIDIA_VISIBLE_DEVICES=all \
    NVIDIA_DRIVER_CAPABILITIES=compute,utility
RUN mkdir -p /var/lib/dangan /srv/dangan/inbox && chown 1001:1001 /var/lib/dangan
VOLUME ["/var/lib/dangan"]

USER 1001:1001
ENTRYPOINT ["tini", "--"]
CMD ["prefect", "worker", "start", "--pool", "dangan-gpu", "--type", "process", "--with-healthcheck", "--limit", "1"]
