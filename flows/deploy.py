"""``dangan deploy``: work pools, global concurrency limits, automations, then the deployments in prefect.yaml."""

from __future__ import annotations

import contextlib
import copy
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from dangan.errors import ConfigError

REPO = Path(__file__).resolve().parents[1]
PREFECT_FILE = REPO / "deployments" / "prefect.yaml"
AUTOMATIONS_FILE = REPO / "deployments" / "automations.yaml"
POOLS = {"dangan-cpu": {}, "dangan-gpu": {"DANGAN_OCR__DEVICE": "cuda"}}


def pool_template(env: dict[str, str]) -> dict[str, Any]:
    """The process worker's job template with dangan's defaults in its environment."""
    from prefect.workers.process import ProcessWorker

    template = copy.deepcopy(ProcessWorker.get_default_base_job_template())
    props = template["variables"]["properties"]
    props["env"]["default"] = {"PREFECT_SERVER_ANALYTICS_ENABLED": "false", "DO_NOT_TRACK": "1", **env}
    return template


def ensure_pools(cpu_limit: int | None, gpu_limit: int | None) -> list[str]:
    """Create or update the CPU and GPU process work pools."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import WorkPoolCreate

    limits = {"dangan-cpu": cpu_limit, "dangan-gpu": gpu_limit}
    with get_client(sync_client=True) as client:
        for name, env in POOLS.items():
            client.create_work_pool(
                WorkPoolCreate(
                    name=name,
                    type="process",
                    base_job_template=pool_template(env),
                    concurrency_limit=limits[name],
                    description=f"dangan {'GPU' if 'gpu' in name else 'CPU'} workers",
                ),
                overwrite=True,
            )
    return list(POOLS)


def ensure_limits(sites: list[str], gpus: int, storage_per_site: int) -> dict[str, int]:
    """Global concurrency limits by name: ``ocr-gpu`` (one slot per GPU) and ``storage-{site}``."""
    from prefect.client.orchestration import get_client

    wanted = {"ocr-gpu": gpus, **{f"storage-{s}": storage_per_site for s in sites}}
    with get_client(sync_client=True) as client:
        for name, limit in wanted.items():
            client.upsert_global_concurrency_limit_by_name(name, limit)
    return wanted


def ensure_automations(block_name: str) -> list[str]:
    """Automations from deployments/automations.yaml, notifying through an existing notification block."""
    from prefect.automations import Automation
    from prefect.blocks.core import Block
    from prefect.events.actions import SendNotification
    from prefect.events.schemas.automations import EventTrigger, Posture

    if "/" not in block_name:
        raise ConfigError(
            f"notification block {block_name!r} must be named with its type",
            hint="Give it as BLOCK_TYPE/NAME, e.g. custom-webhook/dangan-ops (see `prefect block ls`).",
        )
    block: Any = Block.load(block_name)
    spec = yaml.safe_load(AUTOMATIONS_FILE.read_text(encoding="utf-8"))["automations"]
    created = []
    for item in spec:
        with contextlib.suppress(Exception):  # not there yet
            existing: Any = Automation.read(name=item["name"])
            existing.delete()
        Automation(
            name=item["name"],
            description=item["description"],
            trigger=EventTrigger(expect={item["event"]}, posture=Posture.Reactive, threshold=1),
            actions=[
                SendNotification(block_document_id=block._block_document_id, subject=item["subject"], body=item["body"])
            ],
        ).create()
        created.append(item["name"])
    return created


def deploy(names: list[str] | None = None, app_dir: Path = REPO) -> subprocess.CompletedProcess[str]:
    """Run ``prefect deploy`` on deployments/prefect.yaml (all, or the named ones) from the repository root."""
    cmd = [sys.executable, "-m", "prefect", "--no-prompt", "deploy", "--prefect-file", str(PREFECT_FILE)]
    cmd += [arg for n in names for arg in ("--name", n)] if names else ["--all"]
    env = {**os.environ, "DANGAN_APP_DIR": str(app_dir)}
    return subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, check=False)


def deployment_names() -> list[str]:
    return [d["name"] for d in yaml.safe_load(PREFECT_FILE.read_text(encoding="utf-8"))["deployments"]]
