"""Prefect tasks for the fixity audit: plan, one task per chunk of keys, untracked objects, summary.

Retries: :data:`dangan.retry.STORE` (plan and summary: ``CATALOG``), for transient errors only
(``StoreUnavailable``, ``CatalogUnavailable``); a damaged object is a finding, not an error, so it is never retried.
"""

from __future__ import annotations

from prefect import task

from dangan.config import Settings
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
from dangan.fixity.model import FixityReport, ObjectCheck
from dangan.retry import CATALOG, STORE
from tasks.common import SLOT_LEASE_S, task_retries


@task(name="fixity-plan", **task_retries(CATALOG))
def plan_task(settings: Settings, site: str, sample_fraction: float, seed: int | None, chunk: int | None) -> RunPlan:
    """Select the catalogued objects of ``site`` to re-hash, in chunks."""
    ref, _, _ = site_stores(settings, site)
    return plan_run(ref.catalog_url, ref.code, sample_fraction=sample_fraction, seed=seed, chunk=chunk)


@task(name="fixity-chunk", task_run_name="fixity-chunk-{index}", **task_retries(STORE))
def chunk_task(
    settings: Settings,
    site: str,
    keys: list[str],
    run_id: str,
    repair_from: str | None = None,
    index: int = 0,
    limits: bool = True,
    repair: bool = False,
) -> ChunkResult:
    """Re-hash (and, with ``repair`` or ``repair_from``, repair by content) one chunk, holding a
    ``storage-{site}`` slot when ``limits``."""
    ref, store, _ = site_stores(settings, site, repair_from)
    finder = repair_finder(settings, site, repair_from) if repair or repair_from else None

    def run() -> ChunkResult:
        return audit_chunk(
            ref.catalog_url,
            store,
            ref.code,
            keys,
            run_id=run_id,
            finder=finder,
            location=ref.store_url,
            actor=settings.actor,
        )

    if not limits:
        return run()
    from prefect.concurrency.sync import concurrency

    names = [f"storage-{site}"] + ([f"storage-{repair_from}"] if repair_from else [])
    with concurrency(names, occupy=1, strict=False, lease_duration=SLOT_LEASE_S):
        return run()


@task(name="fixity-untracked", **task_retries(STORE))
def untracked_task(settings: Settings, site: str, run_id: str) -> list[ObjectCheck]:
    """Objects under the site's masters/derivatives that no catalog row references (reported, kept)."""
    ref, store, _ = site_stores(settings, site)
    return list(audit_untracked(ref.catalog_url, store, ref.code, run_id=run_id, actor=settings.actor))


@task(name="fixity-finish", **task_retries(CATALOG))
def finish_task(
    settings: Settings, plan: RunPlan, results: list[ChunkResult], untracked: list[ObjectCheck]
) -> FixityReport:
    """Fold chunk results into the report and record the run's summary audit event."""
    ref, _, _ = site_stores(settings, plan.site)
    return finish_run(ref.catalog_url, plan, results, untracked, actor=settings.actor)
