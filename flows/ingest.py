"""Flow ``ingest_batch``: scanner output → masters, pages, QA metrics, derivatives in the catalog.

Chunks run as tasks in this flow run (default), or, with ``fan_out=True``, as child flow runs of the
``ingest-chunk/ingest-chunk`` deployment that any worker of its pool picks up (scale-out across machines).
Either way the batch report is computed from the catalog, so a chunk's worker needs no result storage.
"""

from __future__ import annotations

import os
import socket
import time
from typing import Any

from prefect import flow, get_run_logger
from prefect.artifacts import (
    create_markdown_artifact,
    create_progress_artifact,
    create_table_artifact,
    update_progress_artifact,
)
from pydantic import BaseModel

from dangan.catalog.sites import get_site
from dangan.config import Settings
from dangan.ingest import batch
from dangan.ingest.chunk_plan import chunk_names, record_chunk_plan
from dangan.ingest.report import IngestReport
from dangan.reports import ingest_markdown, outcome_rows
from flows.events import emit_domain_event
from flows.params import SiteCode, settings_for
from flows.runners import default_task_runner
from tasks.ingest import close_batch_task, ingest_chunk_task, open_batch_task

CHUNK_DEPLOYMENT = "ingest-chunk/ingest-chunk"


class ChunkRun(BaseModel):
    """What one ``ingest-chunk`` flow run did, and where (scale-out is visible in the run's result)."""

    files: int
    worker: str
    pid: int


@flow(name="ingest-batch", log_prints=False, task_runner=default_task_runner())
def ingest_batch(
    source: str,
    site: SiteCode,
    manifest: str | None = None,
    operator: str | None = None,
    chunk_size: int | None = None,
    fan_out: bool = False,
    config: str | None = None,
) -> IngestReport:
    """Ingest a scanner hot folder or S3 inbox prefix into ``site``; returns the batch report.

    ``config``: where the settings are (see :func:`flows.params.settings_for`)."""
    cfg = settings_for(config)
    logger = get_run_logger()
    plan = open_batch_task(cfg, site, source, manifest, operator)
    chunks = plan.chunks(chunk_size or cfg.ingest.chunk_size)
    logger.info("batch %s: %d files in %d chunks", plan.batch_id[:12], len(plan.files), len(chunks))
    progress: Any = create_progress_artifact(0.0, key=f"ingest-progress-{site}", description="chunks ingested")
    if fan_out:
        _run_chunks_on_workers(cfg, config, site, plan, chunks, progress)
    else:
        futures = [
            ingest_chunk_task.submit(cfg, site, plan.batch_id, source, manifest, names, index=i)
            for i, names in enumerate(chunks)
        ]
        for done, future in enumerate(futures, start=1):  # submission order; chunks run concurrently
            future.result()
            update_progress_artifact(progress, 100.0 * done / max(len(futures), 1))
    report = close_batch_task(cfg, plan)
    update_progress_artifact(progress, 100.0)
    shown = report.masker()  # file names can hold a person's name or ID
    for q in report.quarantined:
        emit_domain_event("dangan.page.quarantined", site, shown(q.file), {"code": q.code})
    create_table_artifact(
        outcome_rows(report), key=f"ingest-files-{site}", description="Files not simply accepted, and why"
    )
    evidence = batch.evidence_links(cfg, site, plan.batch_id)
    create_markdown_artifact(
        ingest_markdown(report, evidence),
        key=f"ingest-summary-{site}",
        description=f"Ingest batch {plan.batch_id[:12]}",
    )
    return report


def _run_chunks_on_workers(
    cfg: Settings, config: str | None, site: str, plan: batch.BatchPlan, chunks: list[list[str]], progress: Any
) -> None:
    """Submit one child flow run per chunk and wait until all are final (failures show up as unaccounted).

    Each child gets the same ``config`` reference: a worker of the pool loads the settings it names."""
    from prefect.client.orchestration import get_client
    from prefect.deployments import run_deployment

    logger = get_run_logger()
    # file names stay in the catalog: Prefect shows run parameters in its dashboard
    token = record_chunk_plan(get_site(cfg, site).catalog_url, plan.batch_id, chunks)
    runs: list[Any] = [
        run_deployment(
            CHUNK_DEPLOYMENT,
            parameters={
                "site": site,
                "batch_id": plan.batch_id,
                "source": plan.source,
                "manifest": plan.manifest,
                "plan": token,
                "chunk": i,
                "config": config,
            },
            timeout=0,
            as_subflow=True,
            flow_run_name=f"ingest-chunk-{plan.batch_id[:8]}-{i}",
        )
        for i in range(len(chunks))
    ]
    pending = {r.id for r in runs}
    with get_client(sync_client=True) as client:
        while pending:
            for run_id in list(pending):
                state = client.read_flow_run(run_id).state
                if state is not None and state.is_final():
                    pending.discard(run_id)
                    if not state.is_completed():
                        logger.warning("chunk run %s ended %s; its files will show as unaccounted", run_id, state.name)
            update_progress_artifact(progress, 100.0 * (len(runs) - len(pending)) / max(len(runs), 1))
            if pending:
                time.sleep(1.0)


@flow(name="ingest-chunk")
def ingest_chunk_flow(
    site: SiteCode,
    batch_id: str,
    source: str,
    manifest: str | None,
    plan: str,
    chunk: int,
    config: str | None = None,
) -> ChunkRun:
    """Chunk ``chunk`` of plan ``plan`` of a batch, as its own flow run (picked up by any worker of the pool)."""
    cfg = settings_for(config)
    names = chunk_names(get_site(cfg, site).catalog_url, batch_id, plan, chunk)
    outcomes = batch.run_chunk(cfg, site, batch_id, source, manifest, names)
    worker = os.environ.get("DANGAN_WORKER_NAME", socket.gethostname())
    record_chunk(cfg, site, batch_id, worker, len(outcomes))
    return ChunkRun(files=len(outcomes), worker=worker, pid=os.getpid())


def record_chunk(cfg: Settings, site: str, batch_id: str, worker: str, files: int) -> None:
    """Audit which worker processed a chunk (scale-out is visible in the catalog, not only in Prefect)."""
    from dangan.catalog.audit import record
    from dangan.catalog.db import session_scope
    from dangan.catalog.sites import get_site

    with session_scope(get_site(cfg, site).catalog_url) as s:
        record(
            s,
            actor=worker,
            action="ingest.chunk",
            entity_type="scan_batch",
            entity_id=batch_id,
            site_code=site,
            details={"files": files, "pid": os.getpid()},
        )
