"""Prefect task for reprocessing OCR: read a chunk of pages anew, judge each reading against the current one."""

from __future__ import annotations

import contextlib
from typing import Any

from prefect import task

from dangan.catalog.sites import get_site
from dangan.reprocess import apply_readings, judge_readings, read_pages
from dangan.storage.factory import open_store
from tasks.common import SLOT_LEASE_S, retry_transient_only, settings_from
from tasks.ocr import ocr_options


@task(
    name="reprocess-ocr-chunk",
    retries=2,
    retry_delay_seconds=[5, 30],
    retry_jitter_factor=0.5,
    retry_condition_fn=retry_transient_only,
    task_run_name="reprocess-ocr-chunk-{index}",
)
def reprocess_ocr_chunk_task(
    settings: dict[str, Any],
    site: str,
    page_ids: list[int],
    engine: str | None = None,
    device: str | None = None,
    *,
    preview: bool = False,
    force: bool = False,
    index: int = 0,
) -> list[dict[str, Any]]:
    """New readings of ``page_ids``, each judged against the page's current one (``PageOutcome.to_json``).

    A preview records nothing; otherwise every reading is recorded as a version and made current only when the
    verdict allows (better by the margin, or ``force``; audited with the settings' actor).
    """
    cfg = settings_from(settings)
    ref = get_site(cfg, site)
    options = ocr_options(settings, engine, device)
    store = open_store(ref.store_url)
    slot: Any = contextlib.nullcontext()
    if options.device == "cuda":
        from prefect.concurrency.sync import concurrency

        slot = concurrency("ocr-gpu", occupy=1, strict=False, lease_duration=SLOT_LEASE_S)
    with slot:
        results, inputs = read_pages(ref.catalog_url, store, page_ids, options)
    outcomes = judge_readings(ref.catalog_url, results, force=force)
    if not preview:
        apply_readings(ref.catalog_url, store, site, results, outcomes, actor=cfg.actor, sources=inputs.sources)
    inputs.raise_transient()  # after the readable pages are judged (and recorded): the retry redoes the rest
    return [o.to_json() for o in outcomes]
