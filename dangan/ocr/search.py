"""Full-text search over the current OCR text of a site's pages (whitespace-insensitive)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from dangan.catalog.db import session_scope
from dangan.catalog.models import Master, OcrResult, Page


def search_text(catalog_url: str, site: str, query: str, limit: int = 50) -> list[dict[str, Any]]:
    """Pages whose current OCR text contains ``query`` (whitespace-insensitive: PP-OCR drops CJK spaces)."""
    from dangan.ocr.engines.normalize import normalize_text

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
