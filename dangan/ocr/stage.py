"""The OCR stage over the catalog: pick pages, recognize in batches, store results, build searchable PDFs.

Engines are loaded once per worker process (``engine_for``) and reused by every chunk that process runs.
A page is skipped when a good result exists for the same page (master SHA-256 + page index) and the same
engine + model identity; a failed page keeps its error and is tried again on the next run.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import threading
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from PIL import Image
from sqlalchemy import and_, exists, func, select, update

from dangan.catalog.db import session_scope
from dangan.catalog.models import Derivative, Document, Master, OcrResult, Page
from dangan.catalog.states import transition
from dangan.imaging.decode import DecodeLimits, iter_pages
from dangan.keys import document_pdf_key, ocr_key
from dangan.ocr.base import OcrEngine, PageResult
from dangan.ocr.options import OcrOptions
from dangan.ocr.registry import create_engine
from dangan.ocr.render import pdfa_conformance, searchable_pdf, to_hocr

log = logging.getLogger(__name__)
# What QA's derivative step writes for OCR (``[derive] binarize`` picks the second); the newest one is read.
OCR_INPUT_KINDS = ("ocr-gray", "ocr-binary")
READY = ("preprocessed", "ocr_done", "extracted", "validated", "needs_review")

_engines: dict[OcrOptions, OcrEngine] = {}
_engines_lock = threading.Lock()


def engine_for(options: OcrOptions) -> OcrEngine:
    """The process-wide engine for these options (models stay loaded for the worker's life)."""
    with _engines_lock:
        engine = _engines.get(options)
        if engine is None:
            engine = _engines[options] = create_engine(options)
        return engine


def model_digest(identity: dict[str, Any]) -> str:
    """A short stable digest of an engine's model identity (names + file checksums)."""
    blob = json.dumps({k: identity.get(k) for k in ("engine", "model", "model_sha256")}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()


def pages_needing_ocr(
    catalog_url: str,
    site: str,
    identity: dict[str, Any],
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
            OcrResult.engine == identity["engine"],
            OcrResult.model == identity["model"],
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


def load_page_image(catalog_url: str, store: Any, page_id: int) -> tuple[np.ndarray, str, float]:
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
    catalog_url: str, store: Any, site: str, page_ids: list[int], options: OcrOptions, *, batch_pages: int = 8
) -> OcrChunkSummary:
    """Recognize ``page_ids`` in batches; store JSON + hOCR objects, then ``ocr_result`` rows; pages → ocr_done."""
    engine = engine_for(options)
    summary = OcrChunkSummary()
    for start in range(0, len(page_ids), batch_pages):
        ids = page_ids[start : start + batch_pages]
        images: list[np.ndarray | None] = []
        sources: list[str | None] = []
        for pid in ids:
            try:
                img, key, _ = load_page_image(catalog_url, store, pid)
                images.append(img)
                sources.append(key)
            except Exception as exc:  # unreadable input → that page's result carries the reason
                if getattr(exc, "transient", False):
                    raise
                log.warning("page %s: cannot load OCR input: %s", pid, type(exc).__name__)
                images.append(None)
                sources.append(None)
        results = engine.recognize(images)
        for pid, result, src in zip(ids, results, sources, strict=True):
            _record(catalog_url, store, site, pid, result, src)
            summary.pages += 1
            summary.seconds += result.seconds
            summary.device = result.device
            if result.ok:
                summary.ok += 1
                summary.lines += len(result.lines)
            else:
                summary.failed[pid] = result.error or "OCR_PAGE_FAILED"
    return summary


def _record(catalog_url: str, store: Any, site: str, page_id: int, result: PageResult, source: str | None) -> None:
    identity = {"engine": result.engine, "model": result.model, "model_sha256": result.model_sha256}
    digest = model_digest(identity)
    doc = {**result.to_json(), "page_id": page_id, "image_key": source}
    data = json.dumps(doc, ensure_ascii=False, sort_keys=True).encode()
    json_key = ocr_key(site, page_id, result.engine, digest, ".json")
    # An earlier, different result for the same identity (e.g. a failed try) is kept under its own digest key.
    if store.exists(json_key) and store.stat(json_key).sha256 != hashlib.sha256(data).hexdigest():
        json_key = ocr_key(site, page_id, result.engine, hashlib.sha256(data).hexdigest(), ".json")
    store.put(json_key, data, sha256=hashlib.sha256(data).hexdigest(), content_type="application/json")
    if result.ok:
        hocr = to_hocr(result).encode()
        hkey = json_key.removesuffix(".json") + ".hocr"
        store.put(hkey, hocr, sha256=hashlib.sha256(hocr).hexdigest(), content_type="application/xhtml+xml")
    with session_scope(catalog_url) as s:
        # older results of other engines/models stay, no longer current (versioned, never deleted)
        s.execute(
            update(OcrResult)
            .where(OcrResult.page_id == page_id)
            .where((OcrResult.engine != result.engine) | (OcrResult.model != result.model))
            .values(is_current=False)
        )
        latest = s.scalars(
            select(OcrResult)
            .filter_by(page_id=page_id, engine=result.engine, model=result.model)
            .order_by(OcrResult.version.desc())
        ).first()
        text, lines = result.text(), [ln.to_json() for ln in result.lines]
        if latest is not None and (latest.text, latest.lines, latest.error) == (text, lines, result.error):
            row = latest  # the same reading again: no new version
        else:
            # a different reading (reprocessing, or a retry of a failed page) is a new version; the earlier
            # one stays, no longer current, with its own JSON object
            if latest is not None:
                latest.is_current = False
            row = OcrResult(
                page_id=page_id,
                engine=result.engine,
                model=result.model,
                version=latest.version + 1 if latest is not None else 1,
            )
        row.model_sha256, row.device, row.seconds = dict(result.model_sha256), result.device, result.seconds
        row.text, row.lines, row.error = text, lines, result.error
        row.object_key, row.is_current = json_key, True
        s.add(row)
        page = s.get(Page, page_id)
        if result.ok and page is not None and page.status == "preprocessed":
            transition(s, page, "ocr_done")


def build_document_pdf(catalog_url: str, store: Any, site: str, document_id: int) -> str | None:
    """Searchable PDF of a document from its pages' OCR inputs and current results; None if a page lacks OCR."""
    with session_scope(catalog_url) as s:
        doc = s.get(Document, document_id)
        if doc is None:
            return None
        page_ids = [p.id for p in doc.pages]
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
    parts = []
    for pid in page_ids:
        img, _, dpi = load_page_image(catalog_url, store, pid)
        buf = io.BytesIO()
        Image.fromarray(img).save(buf, "JPEG", quality=80)
        parts.append((buf.getvalue(), _result_of(rows[pid]), dpi))
    pdf = searchable_pdf(parts, title=f"dangan document {document_id}")
    conformance = pdfa_conformance(pdf)  # "PDF/A-2B" once validated, None for a plain PDF
    sha = hashlib.sha256(pdf).hexdigest()
    key = document_pdf_key(site, document_id, sha)
    store.put(key, pdf, sha256=sha, content_type="application/pdf", metadata={"document": str(document_id)})
    with session_scope(catalog_url) as s:
        if not s.scalars(
            select(Derivative).filter_by(page_id=page_ids[0], kind="document-pdf", params_hash=sha[:12])
        ).first():
            s.add(
                Derivative(
                    page_id=page_ids[0],
                    kind="document-pdf",
                    object_key=key,
                    sha256=sha,
                    size=len(pdf),
                    tool="dangan-ocr/reportlab+pikepdf",
                    params={"document_id": document_id, "pages": page_ids, "pdfa": conformance},
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


def search_text(catalog_url: str, site: str, query: str, limit: int = 50) -> list[dict[str, Any]]:
    """Pages whose current OCR text contains ``query`` (whitespace-insensitive: PP-OCR drops CJK spaces)."""
    from dangan.ocr.normalize import normalize_text

    needle = "".join(normalize_text(query).split())
    flat_col = func.replace(func.replace(func.replace(OcrResult.text, " ", ""), "\n", ""), "\t", "")
    escaped = needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    with session_scope(catalog_url) as s:
        rows = s.execute(
            select(OcrResult.page_id, OcrResult.text, Page.document_id, Master.original_name, Page.page_index)
            .join(Page, Page.id == OcrResult.page_id)
            .join(Master, Master.id == Page.master_id)
            .where(Page.site_code == site, OcrResult.is_current, OcrResult.error.is_(None))
            .where(flat_col.like(f"%{escaped}%", escape="\\"))
            .order_by(OcrResult.page_id)
            .limit(limit)
        ).all()
    hits = []
    for page_id, text, doc_id, name, index in rows:
        flat = "".join(text.split())
        pos = max(flat.find(needle), 0)
        hits.append(
            {
                "page_id": page_id,
                "document_id": doc_id,
                "file": name,
                "page": index + 1,
                "snippet": flat[max(0, pos - 15) : pos + len(needle) + 15],
            }
        )
    return hits
