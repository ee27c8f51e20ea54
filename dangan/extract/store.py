"""Extraction against the catalog: current OCR results of a document's pages in, versioned field rows out.

Each document is one transaction, so a crash loses at most the document in hand and a rerun redoes it.
Every run writes a new field version and keeps the previous rows (``is_current`` false). Values a person
corrected are carried into the new version: re-extraction never silently undoes a review.

Extraction flags are stored with each row (``FieldValue.flags``; codes, never values). A field read with two
different values in one document keeps the first as its current row, flagged ``CONFLICT``, and every other
reading as a non-current ``source="candidate"`` row of the same version (with its page and box), so a
reviewer sees all of them; validation sends the document to review (``FIELD_CONFLICT``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Literal, TypedDict, final

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from dangan.catalog.db import session_scope
from dangan.catalog.fields import CONFLICT
from dangan.catalog.fields import CONTRIBUTION_PREFIX as CONTRIBUTION_PREFIX
from dangan.catalog.fields import FORM_TYPE_FIELD as FORM_TYPE_FIELD
from dangan.catalog.fields import contribution_rows as contribution_rows
from dangan.catalog.fields import current_fields as current_fields
from dangan.catalog.models import Document, FieldValue, OcrResult, Page
from dangan.catalog.states import DocumentState, PageState, can_transition, transition
from dangan.extract.document import doc_date_of, extract_document, lines_from_json
from dangan.extract.model import DocumentExtraction
from dangan.extract.vocab import Vocabulary, load_vocabulary

CORRECTED = "corrected"
CANDIDATE = "candidate"


def candidate_rows(session: Session, current: FieldValue) -> list[FieldValue]:
    """The other readings stored with a ``CONFLICT``-flagged field row (same document, name and version)."""
    if CONFLICT not in (current.flags or []):
        return []
    return list(
        session.scalars(
            select(FieldValue)
            .where(
                FieldValue.document_id == current.document_id,
                FieldValue.name == current.name,
                FieldValue.version == current.version,
                FieldValue.source == CANDIDATE,
            )
            .order_by(FieldValue.id)
        )
    )


def _current_ocr(session: Session, page_id: int) -> OcrResult | None:
    return session.scalars(
        select(OcrResult)
        .where(OcrResult.page_id == page_id, OcrResult.is_current.is_(True), OcrResult.error.is_(None))
        .order_by(OcrResult.created_at.desc(), OcrResult.id.desc())
        .limit(1)
    ).first()


def _field_rows(doc: Document, pages: list[Page], ex: DocumentExtraction, version: int) -> list[FieldValue]:
    def page_id(index: int) -> int | None:
        return pages[index].id if 0 <= index < len(pages) else None

    rows = [
        FieldValue(
            document_id=doc.id,
            page_id=page_id(0),
            name=FORM_TYPE_FIELD,
            value=ex.form_type,
            confidence=min(1.0, ex.form_score / 10),
            box=None,
            flags=[],
            source="extracted",
            version=version,
        )
    ]
    for name, f in sorted(ex.fields.items()):
        rows.append(
            FieldValue(
                document_id=doc.id,
                page_id=page_id(f.page),
                name=name,
                value=f.value,
                confidence=f.confidence,
                box=f.box,
                flags=list(f.flags),
                source="extracted",
                version=version,
            )
        )
    for i, row in enumerate(ex.contributions):
        value = json.dumps(
            {k: v for k, v in row.to_json().items() if k not in ("confidence", "box", "page", "flags")},
            ensure_ascii=False,
        )
        rows.append(
            FieldValue(
                document_id=doc.id,
                page_id=page_id(row.page),
                name=f"{CONTRIBUTION_PREFIX}{i}",
                value=value,
                confidence=row.confidence,
                box=row.box,
                flags=[f"{column}:{flag}" for column, flags in sorted(row.flags.items()) for flag in flags],
                source="extracted",
                version=version,
            )
        )
    return rows


def _candidate_rows(doc: Document, pages: list[Page], ex: DocumentExtraction, version: int) -> list[FieldValue]:
    """Every other reading of a conflicting field, kept (non-current) beside the field's current row."""
    return [
        FieldValue(
            document_id=doc.id,
            page_id=pages[alt.page].id if 0 <= alt.page < len(pages) else None,
            name=name,
            value=alt.value,
            confidence=alt.confidence,
            box=alt.box,
            flags=list(dict.fromkeys((CONFLICT, *alt.flags))),
            source=CANDIDATE,
            version=version,
            is_current=False,
        )
        for name, f in sorted(ex.fields.items())
        for alt in f.alternatives
    ]


SkipReason = Literal["NO_PAGES", "NOT_READY", "OCR_MISSING", "NOT_FOUND"]


@final  # final: ``"skipped" in outcome`` tells the two apart
class ExtractedDocument(TypedDict):
    """A document ``extract_documents`` extracted: the new field version and what it holds."""

    document_id: int
    form_type: str
    version: int
    fields: int
    contributions: int
    conflicts: list[str]


@final
class SkippedDocument(TypedDict):
    """A document ``extract_documents`` left alone, and why."""

    document_id: int
    skipped: SkipReason


class ExtractionSummary(TypedDict):
    """What ``extract_documents`` did, document by document."""

    extracted: list[ExtractedDocument]
    skipped: list[SkippedDocument]


def _extract_one(s: Session, doc: Document, vocab: Vocabulary) -> ExtractedDocument | SkippedDocument:
    pages = list(doc.pages)
    if not pages:
        return SkippedDocument(document_id=doc.id, skipped="NO_PAGES")
    if not all(can_transition("page", p.status, PageState.EXTRACTED) for p in pages) or not can_transition(
        "document", doc.status, DocumentState.EXTRACTED
    ):
        return SkippedDocument(document_id=doc.id, skipped="NOT_READY")
    results = [_current_ocr(s, p.id) for p in pages]
    if any(r is None for r in results):
        return SkippedDocument(document_id=doc.id, skipped="OCR_MISSING")
    ex = extract_document(
        [lines_from_json(r.lines or []) for r in results if r is not None],
        vocab=vocab,
        form_hint=doc.form_type,
    )
    before = current_fields(s, doc.id)
    version = (s.scalar(select(func.max(FieldValue.version)).where(FieldValue.document_id == doc.id)) or 0) + 1
    s.execute(
        update(FieldValue)
        .where(FieldValue.document_id == doc.id, FieldValue.is_current.is_(True))
        .values(is_current=False)
    )
    rows = {row.name: row for row in _field_rows(doc, pages, ex, version)}
    for name, old in before.items():  # a person's correction outlives re-extraction
        if old.source == CORRECTED:
            rows[name] = FieldValue(
                document_id=doc.id,
                page_id=old.page_id,
                name=name,
                value=old.value,
                confidence=old.confidence,
                box=old.box,
                flags=[],
                source=CORRECTED,
                version=version,
            )
    s.add_all(rows.values())
    s.add_all(_candidate_rows(doc, pages, ex, version))
    if doc.form_type in (None, "", "unknown") and ex.form_type != "unknown":
        doc.form_type = ex.form_type
    if not doc.doc_date and (found := doc_date_of(ex, vocab)):
        doc.doc_date = found
    for page in pages:
        transition(s, page, PageState.EXTRACTED)
    transition(s, doc, DocumentState.EXTRACTED)
    return ExtractedDocument(
        document_id=doc.id,
        form_type=ex.form_type,
        version=version,
        fields=len(ex.fields),
        contributions=len(ex.contributions),
        conflicts=sorted(name for name, f in ex.fields.items() if CONFLICT in f.flags),
    )


def extract_documents(
    catalog_url: str, site: str, document_ids: Iterable[int], *, vocab: Vocabulary | None = None
) -> ExtractionSummary:
    """Extract fields of ``document_ids`` (of ``site``) from their pages' current OCR results.

    Returns ``{"extracted": [{document_id, form_type, version, fields, contributions, conflicts}], "skipped":
    [{document_id, skipped: NO_PAGES|NOT_READY|OCR_MISSING|NOT_FOUND}]}``.
    """
    vocab = vocab or load_vocabulary()
    summary = ExtractionSummary(extracted=[], skipped=[])
    for document_id in document_ids:
        with session_scope(catalog_url) as s:
            doc = s.get(Document, int(document_id))
            if doc is None or doc.site_code != site:
                summary["skipped"].append(SkippedDocument(document_id=int(document_id), skipped="NOT_FOUND"))
                continue
            outcome = _extract_one(s, doc, vocab)
        if "skipped" in outcome:
            summary["skipped"].append(outcome)
        else:
            summary["extracted"].append(outcome)
    return summary
