"""Prefect tasks for scanning ingest: one task per chunk of files, never per page."""

from __future__ import annotations

from prefect import task

from dangan.config import Settings
from dangan.ingest import batch
from dangan.retry import CATALOG, STORE
from tasks.common import task_retries


@task(name="ingest-open-batch", **task_retries(CATALOG))
def open_batch_task(
    settings: Settings, site: str, source: str, manifest: str | None, operator: str | None
) -> batch.BatchPlan:
    """List and reconcile the batch; reopens the same batch when the source was seen before."""
    return batch.open_batch(settings, site, source, manifest, operator)


@task(name="ingest-chunk", task_run_name="ingest-chunk-{index}", **task_retries(STORE))
def ingest_chunk_task(
    settings: Settings,
    site: str,
    batch_id: str,
    source: str,
    manifest: str | None,
    names: list[str],
    index: int = 0,
) -> int:
    """Ingest a chunk of files; safe to retry (finished files are recognized by SHA-256 in the catalog)."""
    return len(batch.run_chunk(settings, site, batch_id, source, manifest, names))


@task(name="ingest-close-batch", **task_retries(CATALOG))
def close_batch_task(settings: Settings, plan: batch.BatchPlan) -> batch.IngestReport:
    """Account for every file from the catalog and store the batch report."""
    return batch.close_batch(settings, plan)
