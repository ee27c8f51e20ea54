"""What OCR did for a batch, read back from the catalog (for OCR that ran in another flow run or process)."""

from __future__ import annotations

from collections import Counter
from typing import Any

from sqlalchemy import select

from dangan.catalog.db import session_scope
from dangan.catalog.models import Derivative, Document, OcrResult, Page


def batch_ocr_summary(catalog_url: str, batch_id: str) -> dict[str, Any]:
    """Totals of the current OCR results of a batch's pages, shaped like the ``ocr_pages`` flow's return value.

    ``failed`` maps page id → error for pages whose current result failed or that have no result at all.
    """
    with session_scope(catalog_url) as s:
        page_ids = list(
            s.scalars(
                select(Page.id).join(Document, Page.document_id == Document.id).where(Document.batch_id == batch_id)
            )
        )
        results = list(
            s.scalars(select(OcrResult).where(OcrResult.page_id.in_(page_ids), OcrResult.is_current.is_(True)))
        )
        doc_ids = [str(d) for d in s.scalars(select(Document.id).where(Document.batch_id == batch_id))]
        pdf_docs = {
            str(params.get("document_id"))
            for params in s.scalars(
                select(Derivative.params).where(
                    Derivative.kind == "document-pdf",
                    Derivative.page_id.in_(page_ids),  # keyed on a document's first page
                )
            )
            if isinstance(params, dict)
        }
    by_page = {r.page_id: r for r in results}
    failed = {str(pid): "no OCR result" for pid in page_ids if pid not in by_page}
    failed |= {str(r.page_id): r.error for r in results if r.error}
    ok = [r for r in results if not r.error]
    identity = Counter((r.engine, r.model) for r in results).most_common(1)
    engine, model = identity[0][0] if identity else ("-", "-")
    return {
        "pages": len(page_ids),
        "ok": len(ok),
        "failed": failed,
        "seconds": round(sum(r.seconds or 0.0 for r in results), 3),
        "lines": sum(len(r.lines or []) for r in ok),
        "devices": sorted({r.device for r in results}),
        "engine": engine,
        "model": model,
        "documents_pdf": len(pdf_docs.intersection(doc_ids)),
    }
