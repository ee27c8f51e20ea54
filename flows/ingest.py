"""Flow ``ingest_batch``: scanner output → masters, pages, QA metrics, derivatives in the catalog."""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact, create_progress_artifact, update_progress_artifact

from dangan.config import load_settings
from dangan.reports import ingest_markdown
from flows.events import emit_domain_event
from tasks.common import settings_payload
from tasks.ingest import close_batch_task, ingest_chunk_task, open_batch_task


@flow(name="ingest-batch", log_prints=False)
def ingest_batch(
    source: str,
    site: str,
    manifest: str | None = None,
    operator: str | None = None,
    chunk_size: int | None = None,
    settings: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Ingest a scanner hot folder or S3 inbox prefix into ``site``; returns the batch report."""
    cfg = load_settings(**(settings or {}))
    payload = settings_payload(cfg)
    logger = get_run_logger()
    plan = open_batch_task(payload, site, source, manifest, operator)
    chunks = plan.chunks(chunk_size or cfg.ingest.chunk_size)
    logger.info("batch %s: %d files in %d chunks", plan.batch_id[:12], len(plan.files), len(chunks))
    progress = create_progress_artifact(0.0, key=f"ingest-progress-{site}", description="files ingested")
    futures = [
        ingest_chunk_task.submit(payload, site, plan.batch_id, source, manifest, names, index=i)
        for i, names in enumerate(chunks)
    ]
    outcomes: list[dict[str, Any]] = []
    for done, future in enumerate(futures, start=1):  # submission order; chunks run concurrently
        outcomes.extend(future.result())
        update_progress_artifact(progress, 100.0 * done / max(len(futures), 1))
    report = close_batch_task(payload, plan, outcomes)
    update_progress_artifact(progress, 100.0)
    for q in report["quarantined"]:
        emit_domain_event("dangan.page.quarantined", site, q["file"], {"code": q["code"]})
    create_markdown_artifact(
        ingest_markdown(report), key=f"ingest-summary-{site}", description=f"Ingest batch {plan.batch_id[:12]}"
    )
    return report
