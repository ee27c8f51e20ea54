"""Reprocessing by selector: choose pages, snapshot what they say now, and report what changed after a rerun.

Previous results are never lost: OCR results of other engines/models stay as non-current rows, a same-model
rerun that reads differently gets its own JSON object (the old one stays in the store), and extracted fields
are versioned rows.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import and_, exists, select

from dangan.catalog.db import session_scope
from dangan.catalog.models import Document, FieldValue, Master, OcrResult, Page, QualityIssue
from dangan.pii import mask_id, mask_name

MASKED_FIELDS = {"id_number": mask_id, "name": mask_name}


class Selector(BaseModel):
    """Which pages to reprocess; every given criterion must hold (AND)."""

    model_config = ConfigDict(extra="forbid")

    batch_id: str | None = None
    document_ids: list[int] | None = None
    page_ids: list[int] | None = None
    ingested_from: date | None = Field(None, description="pages ingested on or after this day (UTC)")
    ingested_to: date | None = Field(None, description="pages ingested on or before this day (UTC)")
    qa_codes: list[str] | None = Field(None, description="pages with any of these quality-issue codes")
    page_status: list[str] | None = None
    validation_status: list[str] | None = Field(None, description="document status: needs_review, validated…")
    ocr_model_not: str | None = Field(None, description="pages whose current OCR model differs from this one")


def select_pages(catalog_url: str, site: str, selector: Selector) -> list[int]:
    """Page ids of ``site`` matching ``selector``, in id order."""
    stmt = select(Page.id).where(Page.site_code == site)
    if selector.batch_id:
        stmt = stmt.where(Page.master_id.in_(select(Master.id).where(Master.batch_id == selector.batch_id)))
    if selector.document_ids is not None:
        stmt = stmt.where(Page.document_id.in_(selector.document_ids))
    if selector.page_ids is not None:
        stmt = stmt.where(Page.id.in_(selector.page_ids))
    if selector.ingested_from:
        stmt = stmt.where(Page.created_at >= datetime.combine(selector.ingested_from, time.min, UTC))
    if selector.ingested_to:
        stmt = stmt.where(Page.created_at <= datetime.combine(selector.ingested_to, time.max, UTC))
    if selector.qa_codes:
        stmt = stmt.where(Page.id.in_(select(QualityIssue.page_id).where(QualityIssue.code.in_(selector.qa_codes))))
    if selector.page_status:
        stmt = stmt.where(Page.status.in_(selector.page_status))
    if selector.validation_status:
        stmt = stmt.where(
            Page.document_id.in_(select(Document.id).where(Document.status.in_(selector.validation_status)))
        )
    if selector.ocr_model_not:
        current_same = exists().where(
            and_(OcrResult.page_id == Page.id, OcrResult.is_current, OcrResult.model == selector.ocr_model_not)
        )
        stmt = stmt.where(~current_same)
    with session_scope(catalog_url) as s:
        return list(s.scalars(stmt.order_by(Page.id)))


def snapshot(catalog_url: str, page_ids: list[int]) -> dict[str, Any]:
    """Current OCR text per page and current field values per document (to compare after a rerun)."""
    with session_scope(catalog_url) as s:
        ocr = {
            r.page_id: {"text": r.text, "engine": r.engine, "model": r.model}
            for r in s.scalars(select(OcrResult).where(OcrResult.page_id.in_(page_ids), OcrResult.is_current))
        }
        doc_ids = sorted({d for d in s.scalars(select(Page.document_id).where(Page.id.in_(page_ids))) if d})
        fields: dict[int, dict[str, str | None]] = {d: {} for d in doc_ids}
        for f in s.scalars(select(FieldValue).where(FieldValue.document_id.in_(doc_ids), FieldValue.is_current)):
            fields[f.document_id][f.name] = f.value
        status = dict(s.execute(select(Document.id, Document.status).where(Document.id.in_(doc_ids))).all())
    return {"ocr": ocr, "fields": fields, "document_status": status, "document_ids": doc_ids}


def _show(name: str, value: str | None) -> str | None:
    return MASKED_FIELDS[name](value) if value and name in MASKED_FIELDS else value


def diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """What changed between two snapshots; personal values are masked."""
    ocr_changed = sorted(
        pid
        for pid, now in after["ocr"].items()
        if pid not in before["ocr"] or "".join(before["ocr"][pid]["text"].split()) != "".join(now["text"].split())
    )
    models = sorted({(v["engine"], v["model"]) for v in after["ocr"].values()})
    changes = []
    for doc_id in after["document_ids"]:
        old, new = before["fields"].get(doc_id, {}), after["fields"].get(doc_id, {})
        for name in sorted(set(old) | set(new)):
            if old.get(name) != new.get(name):
                changes.append(
                    {
                        "document_id": doc_id,
                        "field": name,
                        "before": _show(name, old.get(name)),
                        "after": _show(name, new.get(name)),
                    }
                )
    status_changes = [
        {"document_id": d, "before": before["document_status"].get(d), "after": s}
        for d, s in after["document_status"].items()
        if before["document_status"].get(d) != s
    ]
    return {
        "pages": len(after["ocr"]) or len(before["ocr"]),
        "ocr_changed_pages": ocr_changed,
        "ocr_models": [f"{e} {m}" for e, m in models],
        "field_changes": changes,
        "status_changes": status_changes,
    }
