"""Prefect task for reprocessing OCR: read a chunk of pages anew, judge each reading against the current one."""

from __future__ import annotations

import contextlib
from typing import Any

from prefect import task

from dangan.catalog.sites import get_site
from dangan.config import Settings
from dangan.ocr.engines.options import OcrOptions
from dangan.reprocess import apply_readings, judge_readings, read_pages
from dangan.retry import OCR
from dangan.storage.factory import open_store
from tasks.common import SLOT_LEASE_S, task_retries


@task(name="reprocess-ocr-chunk", task_run_name="reprocess-ocr-chunk-{index}", **task_retries(OCR))
def reprocess_ocr_chunk_task(
    settings: Settings,
    site: str,
    page_ids: list[int],
    options: OcrOptions,
    *,
    preview: bool = False,
    force: bool = False,
    index: int = 0,
) -> list[dict[str, Any]]:
    """New readings of ``page_ids``, each judged against the page's current one (``PageOutcome.to_json``).

    A preview records nothing; otherwise every reading is recorded as a version and made current only when the
    verdict allows (better by the margin, or ``force``; audited with the settings' actor).
    """
    ref = get_site(settings, site)
    store = open_store(ref.store_url)
    slot: Any = contextlib.nullcontext()
    if options.device == "cuda":
        from prefect.concurrency.sync import concurrency

        slot = concurrency("ocr-gpu", occupy=1, strict=False, lease_duration=SLOT_LEASE_S)
    with slot:
        results, inputs = read_pages(ref.catalog_url, store, page_ids, options)
    outcomes = judge_readings(ref.catalog_url, results, force=force)
    if not preview:
        apply_readings(ref.catalog_url, store, site, results, outcomes, actor=settings.actor, sources=inputs.sources)
    inputs.raise_transient()  # after the readable pages are judged (and recorded): the retry redoes the rest
    return [o.to_json() for o in outcomes]
