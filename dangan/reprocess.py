"""Reprocessing by selector: choose pages, snapshot what they say now, and report what changed after a rerun.

Previous results are never lost: OCR results of other engines/models stay as non-current rows, a same-model
rerun that reads differently gets its own JSON object (the old one stays in the store), and extracted fields
are versioned rows.

A new OCR reading is recorded as a version but becomes the page's current reading only when it is better by the
page's quality measures (:mod:`dangan.ocr.quality`) or when the operator forces it (audited); a preview reads
the pages and says what would change without recording anything.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import and_, exists, select, update

from dangan.catalog import audit as trail
from dangan.catalog.db import session_scope
from dangan.catalog.models import Document, FieldValue, Master, OcrResult, Page, QualityIssue
from dangan.catalog.states import PageState, transition
from dangan.extract.document import extract_document, lines_from_json
from dangan.extract.model import DocumentExtraction
from dangan.extract.vocab import Vocabulary, load_vocabulary
from dangan.ocr.engines.base import PageResult
from dangan.ocr.engines.options import OcrOptions
from dangan.ocr.feed import PageInputs, recognized
from dangan.ocr.quality import FORCED, ReadingQuality, Verdict, judge, measure
from dangan.ocr.record import record_page_quality, record_results, store_result
from dangan.ocr.stage import engine_for, load_page_image
from dangan.pii import mask_id, mask_name
from dangan.storage.base import ObjectStore

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


# --- a new OCR reading: measured against the current one, made current only when better -----------------------


@dataclass
class PageOutcome:
    """A page's new reading, how it compares with the current one, and what was (or would be) done with it."""

    page_id: int
    document_id: int | None
    current: ReadingQuality | None
    new: ReadingQuality
    verdict: Verdict
    result_id: int | None = None  # the new reading's ocr_result row (None in a preview)
    current_id: int | None = None

    def to_json(self) -> dict[str, Any]:
        """Plain JSON for reports, artifacts and the CLI (measures and masked change lines only)."""
        return {
            "page_id": self.page_id,
            "document_id": self.document_id,
            "code": self.verdict.code,
            "decision": self.verdict.label,
            "made_current": self.verdict.make_current,
            "current": self.current.to_json() if self.current else None,
            "new": self.new.to_json(),
            "current_score": self.verdict.current_score,
            "new_score": self.verdict.new_score,
            "changes": list(self.verdict.changes),
            "result_id": self.result_id,
            "current_result_id": self.current_id,
        }


@dataclass
class _Context:
    document_id: int | None
    index: int
    form_type: str | None
    doc_lines: list[list[dict[str, Any]]]  # current lines of every page of the document, in order
    current: OcrResult | None


def _contexts(catalog_url: str, page_ids: list[int]) -> dict[int, _Context]:
    """Per page: its document, position in it, the document's current readings, and its own current row."""
    out: dict[int, _Context] = {}
    with session_scope(catalog_url) as s:
        pages = {p.id: p for p in s.scalars(select(Page).where(Page.id.in_(page_ids)))}
        doc_ids = {p.document_id for p in pages.values() if p.document_id}
        doc_pages = {
            d.id: (d.form_type, [p.id for p in d.pages])
            for d in s.scalars(select(Document).where(Document.id.in_(doc_ids)))
        }
        all_ids = set(page_ids) | {pid for _, ids in doc_pages.values() for pid in ids}
        current = {
            r.page_id: r
            for r in s.scalars(
                select(OcrResult)
                .where(OcrResult.page_id.in_(all_ids), OcrResult.is_current, OcrResult.error.is_(None))
                .order_by(OcrResult.id)
            )
        }
        s.expunge_all()
    for pid in page_ids:
        page = pages.get(pid)
        if page is None:
            continue
        form, ids = doc_pages.get(page.document_id or -1, (None, [pid]))
        lines = [list(current[i].lines or []) if i in current else [] for i in ids]
        out[pid] = _Context(page.document_id, ids.index(pid) if pid in ids else 0, form, lines, current.get(pid))
    return out


def _extraction(ctx: _Context, lines: list[dict[str, Any]] | None, vocab: Vocabulary) -> DocumentExtraction | None:
    """The page's document extracted with ``lines`` at the page's place (``None``: its current lines)."""
    if ctx.document_id is None:
        return None
    pages = list(ctx.doc_lines)
    if lines is not None:
        pages[ctx.index] = lines
    return extract_document([lines_from_json(p) for p in pages], vocab=vocab, form_hint=ctx.form_type)


def judge_readings(
    catalog_url: str, results: dict[int, PageResult], *, force: bool = False, vocab: Vocabulary | None = None
) -> list[PageOutcome]:
    """Measure each page's new reading against its current one (see :mod:`dangan.ocr.quality`) and decide."""
    vocab = vocab or load_vocabulary()
    contexts = _contexts(catalog_url, sorted(results))
    out = []
    for pid, result in sorted(results.items()):
        ctx = contexts.get(pid)
        if ctx is None:
            continue
        new_lines = [ln.to_json() for ln in result.lines]
        new = measure(
            new_lines,
            engine=result.engine,
            model=result.model,
            extraction=_extraction(ctx, new_lines, vocab) if result.ok else None,
            page_index=ctx.index,
            error=result.error,
        )
        cur = None
        if ctx.current is not None:
            cur = measure(
                ctx.current.lines or [],
                engine=ctx.current.engine,
                model=ctx.current.model,
                extraction=_extraction(ctx, None, vocab),
                page_index=ctx.index,
            )
        same = ctx.current is not None and result.ok and ctx.current.text == result.text()
        verdict = judge(cur, new, same_text=same, force=force)
        out.append(
            PageOutcome(pid, ctx.document_id, cur, new, verdict, current_id=ctx.current.id if ctx.current else None)
        )
    return out


def read_pages(
    catalog_url: str, store: ObjectStore, page_ids: list[int], options: OcrOptions
) -> tuple[dict[int, PageResult], PageInputs]:
    """New readings of ``page_ids`` with the engine of ``options``; nothing is stored or recorded.

    Pages whose input could not be loaded for a transient reason are left out (``inputs.raise_transient``)."""
    engine = engine_for(options)
    inputs = PageInputs(lambda pid: load_page_image(catalog_url, store, pid))
    results = {pid: inputs.explain(pid, raw) for pid, raw in recognized(engine, page_ids, inputs, 16)}
    return {pid: r for pid, r in results.items() if pid not in inputs.transient_pages}, inputs


def apply_readings(
    catalog_url: str,
    store: ObjectStore,
    site: str,
    results: dict[int, PageResult],
    outcomes: list[PageOutcome],
    *,
    actor: str,
    sources: dict[int, str] | None = None,
) -> None:
    """Record every new reading as a non-current version, then make current those the verdict allows.

    Two transactions: the versions first, then the switch, so a crash between them leaves the old readings
    current (never a worse one). Each switch is audited with the actor (``outcome="forced"`` under ``--force``).
    """
    stored = [
        (
            o.page_id,
            results[o.page_id],
            store_result(store, site, o.page_id, results[o.page_id], (sources or {}).get(o.page_id)),
        )
        for o in outcomes
    ]
    ids = record_results(catalog_url, stored, make_current=False)
    for o in outcomes:
        o.result_id = ids.get(o.page_id)
    with session_scope(catalog_url) as s:
        for o in outcomes:
            if not o.verdict.make_current or o.result_id is None:
                continue
            s.execute(
                update(OcrResult)
                .where(OcrResult.page_id == o.page_id, OcrResult.is_current, OcrResult.id != o.result_id)
                .values(is_current=False)
                .execution_options(synchronize_session=False)
            )
            s.execute(update(OcrResult).where(OcrResult.id == o.result_id).values(is_current=True))
            page = s.get(Page, o.page_id)
            if page is not None and page.status == PageState.PREPROCESSED:
                transition(s, page, PageState.OCR_DONE)
            if page is not None:  # the page's OCR_* codes become the new current reading's
                record_page_quality(s, page, results[o.page_id], o.result_id)
            trail.record(
                s,
                actor=actor,
                action="ocr.reading.replace",
                entity_type="page",
                entity_id=str(o.page_id),
                site_code=site,
                outcome="forced" if o.verdict.code == FORCED else "ok",
                details={
                    "code": o.verdict.code,
                    "from": _row_ref(o.current, o.current_id, o.verdict.current_score),
                    "to": _row_ref(o.new, o.result_id, o.verdict.new_score),
                    "changes": [c for c in o.verdict.changes if ":" not in c],  # counts only, no field values
                },
            )


def _row_ref(q: ReadingQuality | None, row_id: int | None, score: float | None) -> dict[str, Any] | None:
    return None if q is None else {"ocr_result": row_id, "engine": q.engine, "model": q.model, "score": score}
