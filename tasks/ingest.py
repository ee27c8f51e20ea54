"""Prefect tasks for scanning ingest: one task per chunk of files, never per page."""

from __future__ import annotations

from typing import Any

from prefect import task

from dangan.ingest import batch
from tasks.common import TRANSIENT_RETRY, retry_transient_only, settings_from


@task(name="ingest-open-batch", retries=2, retry_delay_seconds=[2, 10], retry_condition_fn=retry_transient_only)
def open_batch_task(
    settings: dict[str, Any], site: str, source: str, manifest: str | None, operator: str | None
) -> batch.BatchPlan:
    """List and reconcile the batch; reopens the same batch when the source was seen before."""
    return batch.open_batch(settings_from(settings), site, source, manifest, operator)


@task(
    name="ingest-chunk",
    **TRANSIENT_RETRY,
    task_run_name="ingest-chunk-{index}",
)
def ingest_chunk_task(
    settings: dict[str, Any],
    site: str,
    batch_id: str,
    source: str,
    manifest: str | None,
    names: list[str],
    index: int = 0,
) -> int:
    """Ingest a chunk of files; safe to retry (finished files are recognized by SHA-256 in the catalog)."""
    return len(batch.run_chunk(settings_from(settings), site, batch_id, source, manifest, names))


@task(name="ingest-close-batch", retries=2, retry_delay_seconds=[2, 10], retry_condition_fn=retry_transient_only)
def close_batch_task(settings: dict[str, Any], plan: batch.BatchPlan) -> dict[str, Any]:
    """Account for every file from the catalog and store the batch report."""
    return batch.close_batch(settings_from(settings), plan)
