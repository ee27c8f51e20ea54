"""The OCR stage over the catalog: pick pages, recognize in batches, store results, build searchable PDFs.

Engines are loaded once per worker process (``engine_for``) and reused by every chunk that process runs.
A page is skipped when a good result exists for the same page (master SHA-256 + page index) and the same
engine + model identity; a failed page keeps its error and is tried again on the next run.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import logging
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
from PIL import Image
from sqlalchemy import and_, exists, select

from dangan.catalog.db import session_scope
from dangan.catalog.models import Derivative, Document, Master, OcrResult, Page
from dangan.catalog.states import PageState
from dangan.errors import DanganError, TransientError
from dangan.imaging.decode import DecodeLimits, iter_pages
from dangan.keys import document_pdf_key
from dangan.ocr.engines.base import EngineIdentity, OcrEngine, PageResult
from dangan.ocr.engines.options import OcrOptions
from dangan.ocr.engines.registry import create_engine
from dangan.ocr.feed import PageInputs, recognized
from dangan.ocr.orientation import rotate_upright
from dangan.ocr.output.render import pdfa_conformance, searchable_pdf
from dangan.ocr.record import StoredResult, record_results, store_result
from dangan.storage.base import ObjectStore

log = logging.getLogger(__name__)
# What QA's derivative step writes for OCR (``[derive] binarize`` picks the second); the newest one is read.
OCR_INPUT_KINDS = ("ocr-gray", "ocr-binary")
READY = (PageState.PREPROCESSED, PageState.OCR_DONE, PageState.EXTRACTED, PageState.VALIDATED, PageState.NEEDS_REVIEW)

_engines: dict[str, OcrEngine] = {}  # keyed by the options' JSON: OcrOptions with pinned digests (a dict) is unhashable
_engines_lock = threading.Lock()


def engine_for(options: OcrOptions) -> OcrEngine:
    """The process-wide engine for these options (models stay loaded for the worker's life)."""
    key = options.model_dump_json()
    with _engines_lock:
        engine = _engines.get(key)
        if engine is not None and getattr(engine, "healthy", True) is False:  # its GPU failed mid-run
            # dropped, not closed: a chunk on another thread may still be finishing with it (its worker threads
            # end when the executor is garbage-collected)
            log.warning("OCR: rebuilding the %s engine after a device failure", options.engine)
            engine = None
        if engine is None:
            engine = _engines[key] = create_engine(options)
        return engine


def pages_needing_ocr(
    catalog_url: str,
    site: str,
    identity: EngineIdentity,
    *,
    batch_id: str | None = None,
    document_ids: list[int] | None = None,
    page_ids: list[int] | None = None,
    force: bool = False,
) -> list[int]:
    """Page ids of ``site`` without a good result for this engine + model (all matching pages if ``force``)."""
    done = exists().where(
        and_(
            OcrResult.page_id == Page.id,
            OcrResult.engine == identity.engine,
            OcrResult.model == identity.model,
            OcrResult.error.is_(None),
        )
    )
    stmt = select(Page.id).where(Page.site_code == site, Page.status.in_(READY))
    if not force:
        stmt = stmt.where(~done)
    if batch_id:
        stmt = stmt.where(Page.master_id.in_(select(Master.id).where(Master.batch_id == batch_id)))
    if document_ids is not None:
        stmt = stmt.where(Page.document_id.in_(document_ids))
    if page_ids is not None:
        stmt = stmt.where(Page.id.in_(page_ids))
    with session_scope(catalog_url) as s:
        return list(s.scalars(stmt.order_by(Page.id)))


@dataclass
class OcrChunkSummary:
    pages: int = 0
    ok: int = 0
    failed: dict[int, str] = field(default_factory=dict)
    seconds: float = 0.0
    lines: int = 0
    device: str = ""


def load_page_image(catalog_url: str, store: ObjectStore, page_id: int) -> tuple[np.ndarray, str, float]:
    """The OCR input of a page (its newest OCR derivative, else the decoded master) + object key + dpi."""
    with session_scope(catalog_url) as s:
        deriv = s.scalars(
            select(Derivative)
            .where(Derivative.page_id == page_id, Derivative.kind.in_(OCR_INPUT_KINDS))
            .order_by(Derivative.id.desc())
        ).first()
        page = s.get(Page, page_id)
        assert page is not None
        master_key, index, dpi = page.master.object_key, page.page_index, float(page.dpi or 300)
        deriv_key = deriv.object_key if deriv else None
    if deriv_key:
        with Image.open(io.BytesIO(store.get(deriv_key))) as im:
            return np.asarray(im.convert("L")), deriv_key, float(im.info.get("dpi", (dpi,))[0] or dpi)
    for decoded in iter_pages(store.get(master_key), limits=DecodeLimits()):
        if decoded.index == index:
            img = decoded.image if decoded.image.ndim == 2 else decoded.image[..., ::-1]  # BGR → RGB
            return np.ascontiguousarray(img), master_key, dpi
    raise LookupError(f"page {index} not found in master {master_key}")


def ocr_chunk(
    catalog_url: str, store: ObjectStore, site: str, page_ids: list[int], options: OcrOptions, *, batch_pages: int = 16
) -> OcrChunkSummary:
    """Recognize ``page_ids``; store JSON + hOCR objects, then ``ocr_result`` rows; pages → ocr_done.

    Pages are loaded ahead of recognition (``feed``); objects are written by a small thread pool while the
    engine goes on, and catalog rows are written ``batch_pages`` at a time in one transaction.
    """
    engine = engine_for(options)
    summary = OcrChunkSummary()
    inputs = PageInputs(lambda pid: load_page_image(catalog_url, store, pid))
    pending: list[tuple[int, PageResult, Future[StoredResult]]] = []
    with ThreadPoolExecutor(max_workers=4, thread_name_prefix="ocr-write") as writers:
        try:
            for pid, raw in recognized(engine, page_ids, inputs, batch_pages):
                result = inputs.explain(pid, raw)
                key = writers.submit(store_result, store, site, pid, result, inputs.sources.get(pid))
                pending.append((pid, result, key))
                if len(pending) >= batch_pages:
                    _flush(catalog_url, pending, summary, inputs.transient_pages)
        except BaseException:
            # recognition stopped (e.g. the GPU was lost): record what was read, so a retry need not redo it
            with contextlib.suppress(Exception):
                _flush(catalog_url, pending, summary, inputs.transient_pages)
            raise
        _flush(catalog_url, pending, summary, inputs.transient_pages)
    inputs.raise_transient()  # after the readable pages are recorded
    return summary


def _flush(
    catalog_url: str,
    pending: list[tuple[int, PageResult, Future[StoredResult]]],
    summary: OcrChunkSummary,
    retry_later: set[int],
) -> None:
    done = [(pid, result, key.result()) for pid, result, key in pending]
    pending.clear()
    record_results(catalog_url, [d for d in done if d[0] not in retry_later])  # transient: no failed version
    for pid, result, _ in done:
        summary.pages += 1
        summary.seconds += result.seconds
        summary.device = result.device
        if result.ok:
            summary.ok += 1
            summary.lines += len(result.lines)
        else:
            summary.failed[pid] = result.error or "OCR_PAGE_FAILED"


def build_document_pdfs(
    catalog_url: str, store: ObjectStore, site: str, document_ids: list[int]
) -> tuple[dict[int, str], dict[int, str]]:
    """Searchable PDFs of ``document_ids``: ``({document: object key}, {document: why it was not built})``.

    One document whose page cannot be loaded or rendered does not stop the others (transient errors are raised).
    Documents with a page still lacking OCR are in neither dict.
    """
    built: dict[int, str] = {}
    failed: dict[int, str] = {}
    for document_id in document_ids:
        try:
            key = build_document_pdf(catalog_url, store, site, document_id)
        except Exception as exc:
            if isinstance(exc, TransientError):
                raise
            log.warning("document %s: searchable PDF not built: %s", document_id, type(exc).__name__)
            code = exc.code if isinstance(exc, DanganError) else "OCR_PDF_FAILED"
            failed[document_id] = f"{code}: {type(exc).__name__}"
            continue
        if key is not None:
            built[document_id] = key
    return built, failed


def build_document_pdf(catalog_url: str, store: ObjectStore, site: str, document_id: int) -> str | None:
    """Searchable PDF of a document from its pages' OCR inputs and current results; None if a page lacks OCR."""
    with session_scope(catalog_url) as s:
        doc = s.get(Document, document_id)
        if doc is None:
            return None
        page_ids = [p.id for p in doc.pages]
        # pages the engine turned upright for OCR: their text boxes are of the upright page, so is the PDF's image
        turns = {p.id: int(((p.metrics or {}).get("ocr") or {}).get("orientation") or 0) for p in doc.pages}
        rows = {
            r.page_id: r
            for r in s.scalars(
                select(OcrResult).where(
                    OcrResult.page_id.in_(page_ids), OcrResult.is_current, OcrResult.error.is_(None)
                )
            )
        }
    if not page_ids or set(rows) != set(page_ids):
        return None
    made_from = sorted(r.id for r in rows.values())  # lets a rerun tell a current PDF from a stale one
    parts = []
    for pid in page_ids:
        img, _, dpi = load_page_image(catalog_url, store, pid)
        img = rotate_upright(img, turns[pid])
        buf = io.BytesIO()
        Image.fromarray(img).save(buf, "JPEG", quality=80)
        parts.append((buf.getvalue(), _result_of(rows[pid]), dpi))
    pdf = searchable_pdf(parts, title=f"dangan document {document_id}")
    conformance = pdfa_conformance(pdf)  # "PDF/A-2B" once validated, None for a plain PDF
    sha = hashlib.sha256(pdf).hexdigest()
    key = document_pdf_key(site, document_id, sha)
    store.put(key, pdf, sha256=sha, content_type="application/pdf", metadata={"document": str(document_id)})
    with session_scope(catalog_url) as s:
        same = s.scalars(
            select(Derivative).filter_by(page_id=page_ids[0], kind="document-pdf", params_hash=sha[:12])
        ).first()
        if same is not None:  # the same bytes from newer results (e.g. only confidences changed)
            same.params = {**(same.params or {}), "ocr_results": made_from}
        else:
            s.add(
                Derivative(
                    page_id=page_ids[0],
                    kind="document-pdf",
                    object_key=key,
                    sha256=sha,
                    size=len(pdf),
                    tool="dangan-ocr/reportlab+pikepdf",
                    params={
                        "document_id": document_id,
                        "pages": page_ids,
                        "pdfa": conformance,
                        "ocr_results": made_from,
                    },
                    params_hash=sha[:12],
                )
            )
    return key


def _result_of(row: OcrResult) -> PageResult:
    return PageResult.from_json(
        {
            "engine": row.engine,
            "model": row.model,
            "model_sha256": row.model_sha256,
            "device": row.device,
            "seconds": row.seconds or 0.0,
            "width": 0,
            "height": 0,
            "lines": row.lines,
        }
    )
