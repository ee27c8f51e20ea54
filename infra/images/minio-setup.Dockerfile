# syntax=docker/dockerfile:1.7
# One-shot MinIO setup (infra/minio/setup.sh): bash + the mc binary. Recent mc images are FROM scratch (no
# shell), so the binary is copied into a small Debian image. Build context: infra/ (see compose.yaml).
ARG MC_IMAGE=quay.io/minio/mc:RELEASE.2025-08-13T08-35-41Z
FROM ${MC_IMAGE} AS mc

FROM debian:bookworm-slim
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/*
COPY --from=mc /usr/bin/mc /usr/local/bin/mc
COPY minio/setup.sh minio/policy-site.json.tmpl minio/lifecycle-site.json.tmpl /opt/dangan-minio/
USER 65534:65534
ENTRYPOINT ["bash", "/opt/dangan-minio/setup.sh"]
