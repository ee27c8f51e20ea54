"""Prefect tasks for the fixity audit: plan, one task per chunk of keys, untracked objects, summary.

Retries: exponential backoff with jitter, for transient errors only (``StoreUnavailable``,
``CatalogUnavailable``); a damaged object is a finding, not an error, so it is never retried.
"""

from __future__ import annotations

from typing import Any

from prefect import task
from prefect.tasks import exponential_backoff

from dangan.fixity import (
    ChunkResult,
    RunPlan,
    audit_chunk,
    audit_untracked,
    finish_run,
    plan_run,
    repair_finder,
    site_stores,
)
from dangan.fixity.model import ObjectCheck
from tasks.common import SLOT_LEASE_S, retry_transient_only, settings_from

_RETRY: dict[str, Any] = {
    "retries": 3,
    "retry_delay_seconds": exponential_backoff(backoff_factor=2),
    "retry_jitter_factor": 0.5,
    "retry_condition_fn": retry_transient_only,
}


@task(name="fixity-plan", **_RETRY)
def plan_task(
    settings: dict[str, Any], site: str, sample_fraction: float, seed: int | None, chunk: int | None
) -> RunPlan:
    """Select the catalogued objects of ``site`` to re-hash, in chunks."""
    ref, _, _ = site_stores(settings_from(settings), site)
    return plan_run(ref.catalog_url, ref.code, sample_fraction=sample_fraction, seed=seed, chunk=chunk)


@task(name="fixity-chunk", task_run_name="fixity-chunk-{index}", **_RETRY)
def chunk_task(
    settings: dict[str, Any],
    site: str,
    keys: list[str],
    run_id: str,
    repair_from: str | None = None,
    index: int = 0,
    limits: bool = True,
    repair: bool = False,
) -> dict[str, Any]:
    """Re-hash (and, with ``repair`` or ``repair_from``, repair by content) one chunk, holding a
    ``storage-{site}`` slot when ``limits``; a ChunkResult dict."""
    cfg = settings_from(settings)
    ref, store, _ = site_stores(cfg, site, repair_from)
    finder = repair_finder(cfg, site, repair_from) if repair or repair_from else None

    def run() -> ChunkResult:
        return audit_chunk(
            ref.catalog_url,
            store,
            ref.code,
            keys,
            run_id=run_id,
            finder=finder,
            location=ref.store_url,
            actor=cfg.actor,
        )

    if not limits:
        return run().to_dict()
    from prefect.concurrency.sync import concurrency

    names = [f"storage-{site}"] + ([f"storage-{repair_from}"] if repair_from else [])
    with concurrency(names, occupy=1, strict=False, lease_duration=SLOT_LEASE_S):
        return run().to_dict()


@task(name="fixity-untracked", **_RETRY)
def untracked_task(settings: dict[str, Any], site: str, run_id: str) -> list[dict[str, Any]]:
    """Objects under the site's masters/derivatives that no catalog row references (reported, kept)."""
    cfg = settings_from(settings)
    ref, store, _ = site_stores(cfg, site)
    return [c.to_dict() for c in audit_untracked(ref.catalog_url, store, ref.code, run_id=run_id, actor=cfg.actor)]


@task(name="fixity-finish", **_RETRY)
def finish_task(
    settings: dict[str, Any], plan: RunPlan, results: list[dict[str, Any]], untracked: list[dict[str, Any]]
) -> dict[str, Any]:
    """Fold chunk results into the report and record the run's summary audit event."""
    cfg = settings_from(settings)
    ref, _, _ = site_stores(cfg, plan.site)
    report = finish_run(
        ref.catalog_url,
        plan,
        [ChunkResult.from_dict(r) for r in results],
        [ObjectCheck.from_dict(u) for u in untracked],
        actor=cfg.actor,
    )
    return report.to_dict()
