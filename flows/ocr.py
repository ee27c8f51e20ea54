"""Flow ``ocr_pages``: OCR every selected page that lacks a result for the configured engine + model."""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger
from prefect.artifacts import (
    create_markdown_artifact,
    create_progress_artifact,
    create_table_artifact,
    update_progress_artifact,
)
from sqlalchemy import select

from dangan.catalog.db import session_scope
from dangan.catalog.models import Page
from dangan.catalog.sites import get_site
from dangan.faults import fault_point
from dangan.ocr.outputs import documents_needing_pdf
from dangan.ocr.stage import OcrChunkSummary, engine_for, pages_needing_ocr
from dangan.ocr.summary import OcrReport
from dangan.reports import ocr_markdown
from flows.params import PageSelector, SiteCode, settings_for
from flows.runners import default_task_runner
from tasks.ocr import document_pdfs_task, ocr_chunk_task, ocr_options


@flow(name="ocr-pages", task_runner=default_task_runner())
def ocr_pages(
    site: SiteCode,
    selector: PageSelector | None = None,
    engine: str | None = None,
    device: str | None = None,
    force: bool = False,
    config: str | None = None,
) -> OcrReport:
    """OCR pages of ``site`` chosen by ``selector`` (``batch_id``, ``document_ids``, ``page_ids``; none: all).

    ``config``: where the settings are (see :func:`flows.params.settings_for`)."""
    cfg = settings_for(config)
    ref = get_site(cfg, site)
    logger = get_run_logger()
    options = ocr_options(cfg, engine, device)
    loaded = engine_for(options)  # loads the models once here, to learn their identity
    identity = loaded.identity()
    device_reason = str(getattr(loaded, "device_reason", "") or "")
    sel = selector or PageSelector()
    page_ids = pages_needing_ocr(
        ref.catalog_url,
        site,
        identity,
        batch_id=sel.batch_id,
        document_ids=sel.document_ids,
        page_ids=sel.page_ids,
        force=force,
    )
    size = cfg.ocr.chunk_size
    chunks = [page_ids[i : i + size] for i in range(0, len(page_ids), size)]
    logger.info(
        "OCR %d pages with %s (%s) on %s (%s) in %d chunks",
        len(page_ids),
        identity.engine,
        identity.model,
        identity.device,
        device_reason or "engine default",
        len(chunks),
    )
    if page_ids and _fell_back_to_cpu(options.device, identity.device):
        logger.warning("OCR runs on CPU: %s", device_reason or "no usable GPU")
    progress: Any = create_progress_artifact(0.0, key=f"ocr-progress-{site}", description="pages recognized")
    futures = [
        ocr_chunk_task.submit(cfg, site, ids, options, index=i)
        for i, ids in enumerate(chunks)
    ]
    parts: list[OcrChunkSummary] = []
    for done, future in enumerate(futures, start=1):
        parts.append(future.result())
        update_progress_artifact(progress, 100.0 * done / max(len(futures), 1))
    with session_scope(ref.catalog_url) as s:
        doc_ids = sorted({d for d in s.scalars(select(Page.document_id).where(Page.id.in_(page_ids))) if d})
    # and documents read by an earlier run that never got their PDF (killed before it, or skipped pages)
    behind = documents_needing_pdf(
        ref.catalog_url,
        site,
        batch_id=sel.batch_id,
        document_ids=sel.document_ids,
        page_ids=sel.page_ids,
    )
    if set(behind) - set(doc_ids):
        logger.info("searchable PDFs missing or stale for %d documents read earlier", len(set(behind) - set(doc_ids)))
    doc_ids = sorted({*doc_ids, *behind})
    fault_point("ocr-recorded")  # kill tests: rows written, no PDF built
    pdfs = document_pdfs_task(cfg, site, doc_ids) if doc_ids else {"built": {}, "failed": {}}
    update_progress_artifact(progress, 100.0)
    report = OcrReport.from_chunks(
        parts,
        engine=identity.engine,
        model=identity.model,
        device_reason=device_reason,
        pdfs_built=len(pdfs["built"]),
        pdf_failed=pdfs["failed"],
    )
    create_markdown_artifact(ocr_markdown(site, report), key=f"ocr-summary-{site}", description="OCR summary")
    create_table_artifact(
        [{"page_id": pid, "reason": reason} for pid, reason in sorted(report.failed.items())]
        or [{"page_id": "—", "reason": f"all {report.pages} pages recognized"}],
        key=f"ocr-failures-{site}",
        description="Pages whose OCR failed (retried on the next run)",
    )

    return report


def _fell_back_to_cpu(requested: str, used: str) -> bool:
    """Worth a warning: CUDA was asked for, or ``auto`` found an NVIDIA device it could not use. ``auto`` on a
    host without one runs on CPU as expected (the info line above says so), not a fallback."""
    from dangan.ocr.engines.gpu.device import nvidia_device_present

    return used == "cpu" and (requested == "cuda" or (requested == "auto" and nvidia_device_present()))

