# syntax=docker/dockerfile:1.7
# dangan CPU worker: Tesseract (chi_sim) + PP-OCR on onnxruntime (CPU), run as a Prefect process worker.
# Build context: the repository root (ignore rules in cpu.Dockerfile.dockerignore, read by BuildKit):
#   docker build -f infra/images/cpu.Dockerfile -t dangan/worker-cpu:0.1.0 .
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# OCR engine, CJK fonts (for rendered text layers / 双层PDF) and PDF tools; tini reaps flow-run subprocesses.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      tesseract-ocr tesseract-ocr-chi-sim fonts-noto-cjk fonts-wqy-zenhei poppler-utils \
      ca-certificates tini \
 && rm -rf /var/lib/apt/lists/*

# uid/gid 1001: the same user the official prefect-worker Helm chart runs as.
RUN groupadd --system --gid 1001 dangan \
 && useradd --system --uid 1001 --gid 1001 --home-dir /home/dangan --create-home --shell /usr/sbin/nologin dangan

# Dependencies first (cached while only the code changes), then the code.
WORKDIR /opt/dangan/app
COPY pyproject.toml README.md ./
COPY dangan ./dangan
COPY tasks ./tasks
COPY flows ./flows
RUN python -m venv /opt/dangan/venv \
 && /opt/dangan/venv/bin/pip install --upgrade pip \
 && /opt/dangan/venv/bin/pip install . \
 && rm -rf build ./*.egg-info \
 && /opt/dangan/venv/bin/python -c "import dangan, flows.cli, tasks; import rapidocr, onnxruntime, cv2, pytesseract"

# Flow code is also kept here: deployments use it as their working directory (set_working_directory step).
ENV PATH=/opt/dangan/venv/bin:$PATH \
    DANGAN_DATA_DIR=/var/lib/dangan \
    PREFECT_HOME=/var/lib/dangan/prefect \
    PREFECT_SERVER_ANALYTICS_ENABLED=false \
    DO_NOT_TRACK=1 \
    DANGAN_OCR__DEVICE=cpu
RUN mkdir -p /var/lib/dangan /srv/dangan/inbox && chown 1001:1001 /var/lib/dangan
VOLUME ["/var/lib/dangan"]

USER 1001:1001
ENTRYPOINT ["tini", "--"]
CMD ["prefect", "worker", "start", "--pool", "dangan-cpu", "--type", "process", "--with-healthcheck"]
