"""Static checks of ``infra/``: no container engine here, so parse everything and check what a real start needs.

Compose file, Dockerfiles and their ignore files, Kubernetes manifests, Helm values, the example env files
and the README are read as text/YAML; every file they reference must exist and no secret may be committed.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import yaml

from dangan.catalog.db import has_literal_password
from tests.infra.dockerfiles import Instruction, dockerignore_excludes, parse_dockerfile

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra"
SERVICES = {"postgres", "minio", "minio-setup", "prefect-server", "worker-cpu", "worker-gpu"}
SECRET_NAME = re.compile(r"PASSWORD|SECRET|_KEY|TOKEN|AUTH", re.IGNORECASE)
# `${VAR}`, or `$${VAR}` (compose passes `${VAR}` on for dangan to expand when it connects)
REFERENCE = re.compile(r"^\$?\$\{[A-Z][A-Z0-9_]*(?::?[-?][^}]*)?\}$")
URL_PASSWORD = re.compile(r"://[^:/@\s]+:(\$\{[^}]*\}|[^@\s]*)@")
VARIABLE = re.compile(r"\$\{([A-Z][A-Z0-9_]*)(:?[-?])?")
OCR_APT = {"tesseract-ocr", "tesseract-ocr-chi-sim", "fonts-noto-cjk", "fonts-wqy-zenhei", "poppler-utils"}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data = yaml.safe_load((INFRA / "compose.yaml").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def _services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return compose["services"]


def _env_example(name: str) -> dict[str, tuple[str, bool]]:
    """``{VAR: (value, commented)}`` from an example env file (``#VAR=value`` counts as commented)."""
    found: dict[str, tuple[str, bool]] = {}
    for line in (INFRA / name).read_text(encoding="utf-8").splitlines():
        m = re.match(r"^(#)?([A-Z][A-Z0-9_]*)=(.*)$", line.strip())
        if m:
            found[m.group(2)] = (m.group(3), m.group(1) is not None)
    return found


# --- compose ---------------------------------------------------------------------------------------------
def test_compose_has_every_service_with_the_expected_images_and_commands(compose: dict[str, Any]) -> None:
    services = _services(compose)
    assert set(services) == SERVICES
    assert compose["name"] == "dangan"
    assert "postgres:16" in services["postgres"]["image"]
    assert "quay.io/minio/minio" in services["minio"]["image"]
    assert "--console-address" in services["minio"]["command"]
    server = services["prefect-server"]
    assert "prefecthq/prefect:3-python3.11" in server["image"]
    assert server["command"][:5] == ["prefect", "server", "start", "--host", "0.0.0.0"]
    db_url = server["environment"]["PREFECT_API_DATABASE_CONNECTION_URL"]
    assert db_url.startswith("postgresql+asyncpg://prefect:") and db_url.endswith("@postgres:5432/prefect")
    for name, pool in (("worker-cpu", "dangan-cpu"), ("worker-gpu", "dangan-gpu")):
        command = services[name]["command"]
        assert command[:3] == ["prefect", "worker", "start"]
        assert command[command.index("--pool") + 1] == pool
        assert command[command.index("--type") + 1] == "process"
        env = services[name]["environment"]
        assert env["PREFECT_API_URL"] == "http://prefect-server:4200/api"
        assert env["DANGAN_CATALOG_URL"].startswith("postgresql+psycopg://dangan:")
        # compose turns `$$` into `$`: the worker sees a `${VAR}` reference, never the password itself
        assert not has_literal_password(env["DANGAN_CATALOG_URL"].replace("$$", "$")), env["DANGAN_CATALOG_URL"]
        assert "DANGAN_DB_PASSWORD" in env
        assert services[name]["depends_on"]["minio-setup"]["condition"] == "service_completed_successfully"


def test_compose_healthchecks_and_start_order(compose: dict[str, Any]) -> None:
    services = _services(compose)
    for name in ("postgres", "minio", "prefect-server", "worker-cpu", "worker-gpu"):
        test = services[name]["healthcheck"]["test"]
        assert test[0] in ("CMD", "CMD-SHELL") and len(test) > 1, name
    assert services["prefect-server"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert services["minio-setup"]["depends_on"]["minio"]["condition"] == "service_healthy"
    assert services["minio-setup"]["restart"] == "no"


def test_gpu_worker_reserves_an_nvidia_device_and_is_opt_in(compose: dict[str, Any]) -> None:
    gpu, cpu = _services(compose)["worker-gpu"], _services(compose)["worker-cpu"]
    assert gpu["profiles"] == ["gpu"]
    assert "profiles" not in cpu  # the CPU worker starts with a plain `up`
    devices = gpu["deploy"]["resources"]["reservations"]["devices"]
    assert any(d["driver"] == "nvidia" and "gpu" in d["capabilities"] for d in devices)
    assert gpu["environment"]["DANGAN_OCR__DEVICE"] == "cuda"
    assert gpu["build"]["dockerfile"] == "infra/images/cuda.Dockerfile"
    assert cpu["build"]["dockerfile"] == "infra/images/cpu.Dockerfile"


def test_compose_build_contexts_dockerfiles_and_mounts_exist(compose: dict[str, Any]) -> None:
    for name, service in _services(compose).items():
        if "build" in service:
            context = (INFRA / service["build"]["context"]).resolve()
            assert context.is_dir(), name
            assert (context / service["build"]["dockerfile"]).is_file(), name
        for env_file in service.get("env_file", []):
            assert (INFRA / f"{env_file}.example").is_file(), f"{name}: {env_file} has no committed example"
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith((".", "/")) and not source.startswith("${"):
                if source.startswith("."):
                    assert (INFRA / source).exists(), f"{name}: bind mount {source} missing"
            else:
                assert source in compose["volumes"] or source.startswith("${"), f"{name}: volume {source}"
    workers = [_services(compose)[w]["build"]["context"] for w in ("worker-cpu", "worker-gpu")]
    assert {(INFRA / c).resolve() for c in workers} == {ROOT}


def test_compose_holds_no_literal_secrets(compose: dict[str, Any]) -> None:
    checked = 0
    for name, service in _services(compose).items():
        for key, value in (service.get("environment") or {}).items():
            text = str(value)
            if SECRET_NAME.search(key):
                assert REFERENCE.match(text), f"{name}.{key} must be a ${{...}} reference, not a literal"
                checked += 1
            for password in URL_PASSWORD.findall(text):
                assert REFERENCE.match(password), f"{name}.{key}: password in URL must be a reference"
                checked += 1
    assert checked >= 8  # 5 password variables + 3 database URLs


def test_every_compose_variable_is_in_the_env_example(compose: dict[str, Any]) -> None:
    lines = (INFRA / "compose.yaml").read_text(encoding="utf-8").splitlines()
    text = "\n".join(line for line in lines if not line.lstrip().startswith("#"))
    example = _env_example(".env.example")
    used = {(m.group(1), m.group(2) or "") for m in VARIABLE.finditer(text)}
    assert len(used) > 10
    for var, operator in used:
        assert var in example, f"{var} missing from infra/.env.example"
        if operator.endswith("?"):  # required: must be set, so it is present (uncommented) in the example
            assert not example[var][1], f"{var} is required but commented out in .env.example"
    for var, (value, commented) in example.items():
        if SECRET_NAME.search(var) and not commented:
            assert value.startswith("CHANGE_ME"), f"{var} in .env.example must be a placeholder"


def test_site_credentials_example_covers_every_example_site() -> None:
    sites = _env_example(".env.example")["DANGAN_SITES"][0].split()
    assert sites and all(re.fullmatch(r"\d{6}", s) for s in sites)
    creds = _env_example("site-credentials.env.example")
    for code in sites:
        assert creds[f"DANGAN_S3_ACCESS_KEY_{code}"][0] == f"dangan-{code}"
        assert creds[f"DANGAN_S3_SECRET_KEY_{code}"][0].startswith("CHANGE_ME")


def test_real_env_files_are_ignored_and_not_tracked() -> None:
    ignore = (INFRA / ".gitignore").read_text(encoding="utf-8").split()
    assert {".env", "site-credentials.env", "k8s/secret.yaml"} <= set(ignore)
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("git not available")
    paths = ["infra/.env", "infra/site-credentials.env", "infra/k8s/secret.yaml"]
    ignored = subprocess.run(["git", "check-ignore", *paths], cwd=ROOT, capture_output=True, text=True)
    assert ignored.stdout.split() == paths
    tracked = subprocess.run(["git", "ls-files", *paths], cwd=ROOT, capture_output=True, text=True)
    assert tracked.stdout.strip() == ""


# --- images ----------------------------------------------------------------------------------------------
def _copy_sources(instructions: list[Instruction]) -> list[str]:
    sources: list[str] = []
    for ins in instructions:
        if ins.keyword == "COPY" and not any(a.startswith("--from=") for a in ins.args):
            sources.extend(a for a in ins.args[:-1] if not a.startswith("--"))
    return sources


@pytest.mark.parametrize(
    ("dockerfile", "context", "base"),
    [
        ("cpu.Dockerfile", ROOT, "python:3.11-slim-bookworm"),
        ("cuda.Dockerfile", ROOT, "nvidia/cuda:12."),
        ("minio-setup.Dockerfile", INFRA, "debian:bookworm-slim"),
    ],
)
def test_dockerfile_copies_only_existing_unignored_files(dockerfile: str, context: Path, base: str) -> None:
    path = INFRA / "images" / dockerfile
    instructions = parse_dockerfile(path.read_text(encoding="utf-8"))
    assert instructions[-1].keyword in ("CMD", "ENTRYPOINT")
    assert instructions_base(instructions).startswith(base)
    users = [ins.args[0] for ins in instructions if ins.keyword == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0"), "image must end as a non-root user"
    ignore = (INFRA / "images" / f"{dockerfile}.dockerignore").read_text(encoding="utf-8")
    sources = _copy_sources(instructions)
    assert sources
    for source in sources:
        if any(ch in source for ch in "*?["):
            continue  # optional globs (README.m[d]) may match nothing
        assert (context / source).exists(), f"{dockerfile}: COPY source {source} missing"
        assert not dockerignore_excludes(ignore, source), f"{dockerfile}: {source} is excluded from the context"
        if (context / source).is_dir():
            sample = next(p for p in (context / source).rglob("*.*") if "__pycache__" not in p.parts)
            assert not dockerignore_excludes(ignore, str(PurePosixPath(sample.relative_to(context).as_posix())))
    for secret in (".env", "site-credentials.env", "infra/.env", "infra/site-credentials.env", ".git/config"):
        assert dockerignore_excludes(ignore, secret), f"{dockerfile}: {secret} would reach the builder"


def instructions_base(instructions: list[Instruction]) -> str:
    """The final stage's base image, with ``${ARG}`` replaced by the ARG's default."""
    defaults = {}
    for ins in instructions:
        if ins.keyword == "ARG" and "=" in ins.args[0]:
            key, value = ins.args[0].split("=", 1)
            defaults[key] = value.strip('"')
    base = [ins.args[0] for ins in instructions if ins.keyword == "FROM"][-1]
    return re.sub(r"\$\{(\w+)\}", lambda m: defaults[m.group(1)], base)


@pytest.mark.parametrize(("dockerfile", "install"), [("cpu.Dockerfile", "install ."), ("cuda.Dockerfile", '".[gpu]"')])
def test_worker_images_install_the_package_and_ocr_packages(dockerfile: str, install: str) -> None:
    instructions = parse_dockerfile((INFRA / "images" / dockerfile).read_text(encoding="utf-8"))
    copied = set(_copy_sources(instructions))
    assert {"pyproject.toml", "dangan", "tasks", "flows"} <= copied
    runs = " ".join(" ".join(ins.args) for ins in instructions if ins.keyword == "RUN")
    assert set(runs.split()) >= OCR_APT, "apt packages missing"
    assert install in runs
    ignore = (INFRA / "images" / f"{dockerfile}.dockerignore").read_text(encoding="utf-8")
    for excluded in (".venv/bin/python", ".dangan/catalog.db", "tests/conftest.py", "dangan/__pycache__/x.pyc"):
        assert dockerignore_excludes(ignore, excluded), f"{excluded} should not be sent to the builder"


# --- kubernetes and helm ---------------------------------------------------------------------------------
def _k8s_docs() -> dict[str, list[dict[str, Any]]]:
    docs = {}
    for path in sorted((INFRA / "k8s").glob("*.yaml")):
        docs[path.name] = [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d]
    return docs


def test_k8s_manifests_parse_and_reference_existing_objects() -> None:
    docs = _k8s_docs()
    kustomization = docs["kustomization.yaml"][0]
    for resource in kustomization["resources"]:
        assert (INFRA / "k8s" / resource).is_file(), resource
    assert "secret.example.yaml" not in kustomization["resources"]  # placeholders must not be applied
    kinds = {d["metadata"]["name"]: d["kind"] for docs_ in docs.values() for d in docs_ if "metadata" in d}
    assert kinds["dangan-worker-cpu"] == kinds["dangan-worker-gpu"] == "Deployment"
    assert kinds["dangan-settings"] == "ConfigMap" and kinds["dangan-secrets"] == "Secret"
    for name in ("worker-cpu.yaml", "worker-gpu.yaml"):
        pod = docs[name][0]["spec"]["template"]["spec"]
        container = pod["containers"][0]
        refs = {next(iter(r.values()))["name"] for r in container["envFrom"]}
        assert refs == {"dangan-settings", "dangan-secrets"}
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert {m["mountPath"] for m in container["volumeMounts"]} >= {"/var/lib/dangan", "/tmp"}
    gpu_pod = docs["worker-gpu.yaml"][0]["spec"]["template"]["spec"]
    gpu = gpu_pod["containers"][0]
    assert gpu["resources"]["limits"]["nvidia.com/gpu"] == 1
    assert gpu["args"][gpu["args"].index("--pool") + 1] == "dangan-gpu"
    assert {"name": "DANGAN_OCR__DEVICE", "value": "cuda"} in gpu["env"]
    assert gpu_pod["nodeSelector"] and any(t["key"] == "nvidia.com/gpu" for t in gpu_pod["tolerations"])


def test_k8s_secret_template_holds_only_placeholders() -> None:
    secrets = [d for docs in _k8s_docs().values() for d in docs if d.get("kind") == "Secret"]
    assert secrets
    for secret in secrets:
        assert "data" not in secret  # base64 data would hide a real value from review
        for key, value in secret["stringData"].items():
            if "://" in value:
                assert not has_literal_password(value), f"{key} must name its password's variable"
            elif SECRET_NAME.search(key) and "ACCESS_KEY" not in key:
                assert "CHANGE_ME" in value, f"{key} must be a placeholder"


# Keys of the official prefect-worker chart's values.schema.json that these values files may use.
HELM_WORKER_KEYS = {
    "image",
    "config",
    "apiConfig",
    "serverApiConfig",
    "livenessProbe",
    "resources",
    "podSecurityContext",
    "containerSecurityContext",
    "extraEnvVarsCM",
    "extraEnvVarsSecret",
    "extraEnvVars",
    "extraVolumes",
    "extraVolumeMounts",
    "nodeSelector",
    "tolerations",
    "replicaCount",
}


@pytest.mark.parametrize(("name", "pool"), [("worker-cpu", "dangan-cpu"), ("worker-gpu", "dangan-gpu")])
def test_helm_values_fit_the_prefect_worker_chart(name: str, pool: str) -> None:
    values = yaml.safe_load((INFRA / "helm" / f"{name}.values.yaml").read_text(encoding="utf-8"))
    worker = values["worker"]
    assert set(worker) <= HELM_WORKER_KEYS, set(worker) - HELM_WORKER_KEYS
    assert set(values) <= {"fullnameOverride", "worker", "role", "rolebinding", "serviceAccount"}
    assert worker["config"]["workPool"] == pool and worker["config"]["type"] == "process"
    assert worker["apiConfig"] == "server" and worker["serverApiConfig"]["apiUrl"].endswith("/api")
    assert worker["extraEnvVarsCM"] == "dangan-settings" and worker["extraEnvVarsSecret"] == "dangan-secrets"
    assert ("nvidia.com/gpu" in worker["resources"]["limits"]) == (name == "worker-gpu")


# --- scripts and docs ------------------------------------------------------------------------------------
@pytest.mark.parametrize("script", ["minio/setup.sh", "postgres/init-databases.sh"])
def test_shell_scripts_parse_and_pass_shellcheck(script: str) -> None:
    path = INFRA / script
    assert path.read_text(encoding="utf-8").startswith("#!/usr/bin/env bash\n")
    result = subprocess.run(["bash", "-n", str(path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    if shutil.which("shellcheck"):
        lint = subprocess.run(["shellcheck", str(path)], capture_output=True, text=True)
        assert lint.returncode == 0, lint.stdout


def test_readme_store_urls_use_known_options_and_credential_references() -> None:
    from dangan.storage.factory import _S3_OPTIONS

    readme = (INFRA / "README.md").read_text(encoding="utf-8")
    for command in ("docker compose -f infra/compose.yaml up -d", "--profile gpu", "dangan init", "dangan deploy"):
        assert command in readme
    for word in ("COMPLIANCE", "GOVERNANCE", "localhost:4200", "kubectl apply -k infra/k8s", "helm install"):
        assert word in readme
    urls = re.findall(r"'(s3://[^']+)'", readme)
    assert len(urls) >= 2
    creds = _env_example("site-credentials.env.example")
    for url in urls:
        parts = urlsplit(url)
        query = {k: v[0] for k, v in parse_qs(parts.query, strict_parsing=True).items()}
        assert set(query) <= set(_S3_OPTIONS) | {"access_key_env", "secret_key_env"}
        assert query["endpoint"] == "minio:9000" and query["object_lock"] == "true"
        assert {query["access_key_env"], query["secret_key_env"]} <= set(creds)
        assert parts.netloc == f"dangan-{query['access_key_env'].rsplit('_', 1)[1]}"
