"""Prefect tasks for OCR: one task per chunk of pages; the engine stays loaded in the worker process."""

from __future__ import annotations

from prefect import task

from dangan.catalog.sites import get_site
from dangan.config import Settings
from dangan.ocr.engines.options import OcrOptions
from dangan.ocr.stage import OcrChunkSummary, build_document_pdfs, ocr_chunk
from dangan.retry import OCR
from dangan.storage.factory import open_store
from tasks.common import SLOT_LEASE_S, task_retries


def ocr_options(settings: Settings, engine: str | None, device: str | None) -> OcrOptions:
    """OCR options from settings, with per-run engine/device overrides (validated here, once)."""
    return OcrOptions.model_validate(settings.ocr.engine_options(engine, device))


@task(name="ocr-chunk", task_run_name="ocr-chunk-{index}", **task_retries(OCR))
def ocr_chunk_task(
    settings: Settings, site: str, page_ids: list[int], options: OcrOptions, index: int = 0
) -> OcrChunkSummary:
    """OCR a chunk of pages; GPU chunks take a slot of the global ``ocr-gpu`` concurrency limit."""
    ref = get_site(settings, site)
    store = open_store(ref.store_url)
    if options.device == "cuda":
        from prefect.concurrency.sync import concurrency

        with concurrency("ocr-gpu", occupy=1, strict=False, lease_duration=SLOT_LEASE_S):
            return ocr_chunk(ref.catalog_url, store, site, page_ids, options)
    return ocr_chunk(ref.catalog_url, store, site, page_ids, options)


@task(name="document-pdfs", **task_retries(OCR))
def document_pdfs_task(settings: Settings, site: str, document_ids: list[int]) -> dict[str, dict[int, str]]:
    """Searchable double-layer PDFs for documents whose pages all have OCR: ``{"built": ..., "failed": ...}``."""
    ref = get_site(settings, site)
    built, failed = build_document_pdfs(ref.catalog_url, open_store(ref.store_url), site, document_ids)
    return {"built": built, "failed": failed}
