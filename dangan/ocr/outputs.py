"""Which OCR outputs a set of documents still lacks: page results, searchable PDFs (read from the catalog).

A crash between writing OCR rows and building the PDFs (or a rerun that skipped pages already read) leaves
documents whose pages all have current OCR results but no searchable PDF made from them. The OCR flow
builds what this finds; 四性检测 and ``dangan status`` count it.

A document's PDF is current when a ``document-pdf`` derivative records the ids of the page results it was
made from (``params.ocr_results``) and they are the pages' current results; a PDF built before that was
recorded counts as current when it is not older than the newest of those results.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Select, select

from dangan.catalog.db import session_scope
from dangan.catalog.models import Derivative, Document, OcrResult, Page
from dangan.catalog.states import PageState
from dangan.storage.base import ObjectStore

#: Page statuses that say OCR was done: such a page without a current good result lost it.
OCR_DONE_STATUSES = (PageState.OCR_DONE, PageState.EXTRACTED, PageState.VALIDATED, PageState.NEEDS_REVIEW)
PDF_KIND = "document-pdf"


@dataclass
class OutputGaps:
    """OCR outputs of the documents in scope: counts and the ids concerned (plain values)."""

    documents: int = 0
    pages: int = 0
    ocr_results: int = 0
    #: pages without a current good OCR result that have not been through OCR yet (or failed it): pending
    ocr_pending: list[int] = field(default_factory=list)
    #: pages whose status says OCR was done, but without a current good result
    ocr_missing: list[int] = field(default_factory=list)
    searchable_pdfs: int = 0
    #: documents whose pages all have current OCR results and that have no searchable PDF at all
    pdf_missing: list[int] = field(default_factory=list)
    #: documents whose newest searchable PDF was made from other (older) OCR results than the current ones
    pdf_stale: list[int] = field(default_factory=list)
    #: documents still waiting for OCR of some page (no PDF expected yet)
    pdf_pending: list[int] = field(default_factory=list)
    #: catalogued OCR JSON / searchable PDF objects the store does not have (only when a store was given)
    objects_missing: list[str] = field(default_factory=list)

    @property
    def needs_pdf(self) -> list[int]:
        """Documents the OCR stage should build a searchable PDF for."""
        return sorted({*self.pdf_missing, *self.pdf_stale})

    def counts(self) -> dict[str, int]:
        """Counts for reports (ids never leave through here)."""
        return {
            "documents": self.documents,
            "pages": self.pages,
            "ocr_results": self.ocr_results,
            "ocr_pending": len(self.ocr_pending),
            "ocr_missing": len(self.ocr_missing),
            "searchable_pdfs": self.searchable_pdfs,
            "pdf_missing": len(self.pdf_missing),
            "pdf_stale": len(self.pdf_stale),
            "pdf_pending": len(self.pdf_pending),
            "objects_missing": len(self.objects_missing),
        }


def _utc(value: datetime | None) -> datetime | None:
    # SQLite hands back naive datetimes; the catalog stores UTC.
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


def _documents(
    site: str, batch_id: str | None, document_ids: list[int] | None, page_ids: list[int] | None
) -> Select[Any]:
    stmt = select(Document.id).where(Document.site_code == site)
    if batch_id:
        stmt = stmt.where(Document.batch_id == batch_id)
    if document_ids is not None:
        stmt = stmt.where(Document.id.in_(document_ids))
    if page_ids is not None:
        stmt = stmt.where(Document.id.in_(select(Page.document_id).where(Page.id.in_(page_ids))))
    return stmt


def output_gaps(
    catalog_url: str,
    site: str,
    *,
    batch_id: str | None = None,
    document_ids: list[int] | None = None,
    page_ids: list[int] | None = None,
    store: ObjectStore | None = None,
) -> OutputGaps:
    """OCR results and searchable PDFs missing for the documents of ``site`` in scope (all, a batch, ids, or
    the documents of ``page_ids``); with ``store``, catalogued OCR JSON and PDF objects are checked to exist."""
    docs = _documents(site, batch_id, document_ids, page_ids)
    with session_scope(catalog_url) as s:
        doc_ids = list(s.scalars(docs))
        pages = s.execute(
            select(Page.id, Page.document_id, Page.status).where(Page.document_id.in_(docs)).order_by(Page.id)
        ).all()
        in_scope = select(Page.id).where(Page.document_id.in_(docs))
        results = s.execute(
            select(OcrResult.id, OcrResult.page_id, OcrResult.created_at, OcrResult.object_key).where(
                OcrResult.page_id.in_(in_scope), OcrResult.is_current.is_(True), OcrResult.error.is_(None)
            )
        ).all()
        pdfs = s.execute(
            select(Derivative.params, Derivative.created_at, Derivative.object_key, Derivative.id).where(
                Derivative.kind == PDF_KIND, Derivative.page_id.in_(in_scope)
            )
        ).all()
    gaps = OutputGaps(documents=len(doc_ids), pages=len(pages), ocr_results=len(results))
    good = {page_id: (rid, _utc(created), key) for rid, page_id, created, key in results}
    by_doc: dict[int, list[int]] = defaultdict(list)
    for page_id, doc_id, status in pages:
        if doc_id is None:  # the query selects pages of documents; a page without one is not in scope
            continue
        by_doc[doc_id].append(page_id)
        if page_id not in good:
            (gaps.ocr_missing if status in OCR_DONE_STATUSES else gaps.ocr_pending).append(page_id)
    pdfs_of: dict[int, list[tuple[dict[str, Any], datetime | None, str, int]]] = defaultdict(list)
    for params, created, key, did in pdfs:
        if isinstance(params, dict) and params.get("document_id") is not None:
            pdfs_of[int(params["document_id"])].append((params, _utc(created), key, did))
    current_keys: list[str] = []
    for doc_id in sorted(doc_ids):
        page_list = by_doc.get(doc_id, [])
        if not page_list or any(p not in good for p in page_list):
            if page_list:
                gaps.pdf_pending.append(doc_id)
            continue
        made = pdfs_of.get(doc_id, [])
        if not made:
            gaps.pdf_missing.append(doc_id)
            continue
        result_ids = sorted(good[p][0] for p in page_list)
        newest = max((t for p in page_list if (t := good[p][1]) is not None), default=None)
        current = [m for m in made if _is_current(m[0], m[1], result_ids, newest)]
        if not current:
            gaps.pdf_stale.append(doc_id)
            continue
        gaps.searchable_pdfs += 1
        current_keys.append(max(current, key=lambda m: m[3])[2])
    if store is not None:
        keys = [k for p in sorted(good) if (k := good[p][2])] + current_keys
        gaps.objects_missing = [k for k in keys if not store.exists(k)]
    return gaps


def _is_current(
    params: dict[str, Any], created: datetime | None, result_ids: list[int], newest: datetime | None
) -> bool:
    made_from = params.get("ocr_results")
    if made_from is not None:
        return sorted(int(r) for r in made_from) == result_ids
    if params.get("pages") is not None and len(params["pages"]) != len(result_ids):
        return False  # made before a page joined or left the document
    return created is not None and (newest is None or created >= newest)


def documents_needing_pdf(
    catalog_url: str,
    site: str,
    *,
    batch_id: str | None = None,
    document_ids: list[int] | None = None,
    page_ids: list[int] | None = None,
) -> list[int]:
    """Documents in scope whose pages all have current OCR results but no current searchable PDF."""
    return output_gaps(catalog_url, site, batch_id=batch_id, document_ids=document_ids, page_ids=page_ids).needs_pdf
