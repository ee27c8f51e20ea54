"""Prefect tasks for OCR: one task per chunk of pages; the engine stays loaded in the worker process."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from prefect import task

from dangan.catalog.sites import get_site
from dangan.ocr.engines.options import OcrOptions
from dangan.ocr.stage import build_document_pdfs, ocr_chunk
from dangan.storage.factory import open_store
from tasks.common import SLOT_LEASE_S, retry_transient_only, settings_from


def ocr_options(settings: dict[str, Any], engine: str | None, device: str | None) -> OcrOptions:
    """OCR options from settings, with per-run engine/device overrides (validated here, once)."""
    return OcrOptions.model_validate(settings_from(settings).ocr.engine_options(engine, device))


@task(
    name="ocr-chunk",
    retries=2,
    retry_delay_seconds=[5, 30],
    retry_jitter_factor=0.5,
    retry_condition_fn=retry_transient_only,
    task_run_name="ocr-chunk-{index}",
)
def ocr_chunk_task(
    settings: dict[str, Any],
    site: str,
    page_ids: list[int],
    engine: str | None = None,
    device: str | None = None,
    index: int = 0,
) -> dict[str, Any]:
    """OCR a chunk of pages; GPU chunks take a slot of the global ``ocr-gpu`` concurrency limit."""
    ref = get_site(settings_from(settings), site)
    options = ocr_options(settings, engine, device)
    store = open_store(ref.store_url)
    if options.device == "cuda":
        from prefect.concurrency.sync import concurrency

        with concurrency("ocr-gpu", occupy=1, strict=False, lease_duration=SLOT_LEASE_S):
            return asdict(ocr_chunk(ref.catalog_url, store, site, page_ids, options))
    return asdict(ocr_chunk(ref.catalog_url, store, site, page_ids, options))


@task(name="document-pdfs", retries=2, retry_delay_seconds=[5, 30], retry_condition_fn=retry_transient_only)
def document_pdfs_task(settings: dict[str, Any], site: str, document_ids: list[int]) -> dict[str, dict[int, str]]:
    """Searchable double-layer PDFs for documents whose pages all have OCR: ``{"built": ..., "failed": ...}``."""
    ref = get_site(settings_from(settings), site)
    built, failed = build_document_pdfs(ref.catalog_url, open_store(ref.store_url), site, document_ids)
    return {"built": built, "failed": failed}
