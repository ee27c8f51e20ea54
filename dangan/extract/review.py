"""Human review: what a reviewer sees for a flagged document, and recording their corrections.

Shared by the ``dangan review`` terminal command and the Prefect review flow. A correction is a new field
version with ``source="corrected"`` plus an audit event naming the actor; the document is then validated
again. Nothing is changed without a person: ``accept=True`` lets the reviewer confirm remaining reasons
(e.g. a genuine 15-digit legacy ID), recorded as such.

A field read with two different values (``CONFLICT``, reason ``FIELD_CONFLICT``) is shown with every reading
(masked, with its page); the reviewer settles it by entering the right value, even when that is the value
already shown: the corrected row carries no flags, so validation then judges the value alone.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from dangan.catalog.audit import record
from dangan.catalog.db import session_scope
from dangan.catalog.models import Derivative, Document, FieldValue, Page
from dangan.catalog.states import DocumentState, PageState, can_transition, transition
from dangan.catalog.validation_models import ValidationResult
from dangan.extract.errors import CorrectionRejected, DocumentNotFound
from dangan.extract.fields import CONFLICT
from dangan.extract.model import CONTRIBUTION_COLUMNS
from dangan.extract.normalize import normalize_value
from dangan.extract.store import CONTRIBUTION_PREFIX, CORRECTED, FORM_TYPE_FIELD, candidate_rows, current_fields
from dangan.extract.vocab import load_vocabulary
from dangan.pii import mask_id, mask_name
from dangan.quality.rules import QualityRules
from dangan.storage.base import ObjectStore

_AMOUNT_COLUMNS = ("base", "employer", "personal", "total")


def _kinds() -> dict[str, str]:
    vocab = load_vocabulary()
    kinds = {name: spec.kind for name, spec in vocab.fields.items() if spec.kind != "month_range"}
    kinds.update({into: "month" for spec in vocab.fields.values() for into in spec.into})
    return kinds


def shown(name: str, value: str | None) -> str | None:
    """A value as it may appear in logs and audit details (IDs and names masked)."""
    if value is None:
        return None
    if name == "id_number":
        return mask_id(value)
    if name == "name":
        return mask_name(value)
    return value


def _flagged(reasons: list[dict[str, Any]]) -> dict[str, list[str]]:
    """Field name → reason codes; contribution reasons point at ``contributions.N`` rows."""
    out: dict[str, list[str]] = {}
    for reason in reasons:
        rows = reason.get("details", {}).get("rows")
        names = [f"{CONTRIBUTION_PREFIX}{r}" for r in rows] if rows else reason.get("fields") or ["(document)"]
        for name in names:
            out.setdefault(name, []).append(reason["code"])
    return out


def _image(
    session: Any, page_id: int | None, store: ObjectStore | None, link: Callable[[str], str] | None = None
) -> str | None:
    """A link to the page's OCR derivative: ``link(key)`` (the project's authenticated route), else the store's
    own URL (a local path or a pre-signed S3 URL: for the terminal only, never for Prefect)."""
    if page_id is None or (store is None and link is None):
        return None
    derivative = session.scalars(
        select(Derivative).where(Derivative.page_id == page_id, Derivative.kind.like("ocr%")).order_by(Derivative.id)
    ).first()
    if derivative is None:
        return None
    if link is not None:
        return link(derivative.object_key)
    if store is None:
        return None
    try:
        return str(store.presigned_get_url(derivative.object_key))
    except Exception:  # a missing object must not block review; the reviewer sees "no image"
        return None


def _page_seq(session: Any, page_id: int | None) -> int | None:
    page = session.get(Page, page_id) if page_id is not None else None
    return page.seq if page is not None else None


def _readings(session: Any, current: FieldValue, candidates: list[FieldValue]) -> list[str]:
    """Every reading of a conflicting field as a reviewer may see it: masked value and page number."""
    return [
        f"{shown(fv.name, fv.value)} (page {_page_seq(session, fv.page_id) or '?'})" for fv in (current, *candidates)
    ]


def review_items(
    catalog_url: str,
    document_id: int,
    *,
    store: ObjectStore | None = None,
    image_link: Callable[[str], str] | None = None,
) -> dict[str, Any]:
    """The document's current fields with the reasons that flag them, and page image links with boxes.

    Each field item carries its extraction ``flags``; a conflicting field also its other ``candidates``
    (value, confidence, box, page, image: values as stored, mask them to display), and the ``FIELD_CONFLICT``
    reason's ``details.readings`` lists every reading masked with its page, ready to display."""
    with session_scope(catalog_url) as s:
        doc = s.get(Document, int(document_id))
        if doc is None:
            raise DocumentNotFound(f"document {document_id} not found", document_id=document_id)
        result = s.scalars(
            select(ValidationResult)
            .where(ValidationResult.document_id == doc.id, ValidationResult.is_current.is_(True))
            .order_by(ValidationResult.id.desc())
        ).first()
        reasons = list(result.reasons) if result else []
        flagged = _flagged(reasons)
        fields = current_fields(s, doc.id)
        items = []
        readings: dict[str, list[str]] = {}
        for name in sorted(set(fields) | {n for n in flagged if not n.startswith("(")}):
            fv = fields.get(name)
            candidates = candidate_rows(s, fv) if fv is not None else []
            if fv is not None and candidates:
                readings[name] = _readings(s, fv, candidates)
            items.append(
                {
                    "name": name,
                    "value": fv.value if fv else None,
                    "confidence": fv.confidence if fv else None,
                    "box": fv.box if fv else None,
                    "page_id": fv.page_id if fv else None,
                    "source": fv.source if fv else None,
                    "flags": list(fv.flags or []) if fv else [],
                    "candidates": [
                        {
                            "value": c.value,
                            "confidence": c.confidence,
                            "box": c.box,
                            "page_id": c.page_id,
                            "image": _image(s, c.page_id, store, image_link),
                        }
                        for c in candidates
                    ],
                    "reasons": flagged.get(name, []),
                    "image": _image(s, fv.page_id if fv else None, store, image_link),
                }
            )
        reasons = [_with_readings(r, readings) for r in reasons]
        return {
            "document_id": doc.id,
            "site": doc.site_code,
            "status": doc.status,
            "form_type": doc.form_type,
            "source_file": doc.source_file,
            "reasons": reasons,
            "findings": list(result.findings) if result else [],
            "fields": items,
            "data_docs": result.data_docs if result else None,
        }


def _with_readings(reason: dict[str, Any], readings: dict[str, list[str]]) -> dict[str, Any]:
    """A ``FIELD_CONFLICT`` reason with the masked readings of its fields added to its details (for display
    only: the stored validation result keeps codes and field names, never values)."""
    shown_readings = {name: readings[name] for name in reason.get("fields") or [] if name in readings}
    if reason.get("code") != "FIELD_CONFLICT" or not shown_readings:
        return reason
    return {**reason, "details": {**(reason.get("details") or {}), "readings": shown_readings}}


def _corrected_value(name: str, value: str | None, current: FieldValue | None, kinds: dict[str, str]) -> str | None:
    if name == FORM_TYPE_FIELD:
        if value not in load_vocabulary().forms:
            raise CorrectionRejected(f"unknown form type {value!r}", field=name)
        return value
    if name.startswith(CONTRIBUTION_PREFIX):
        parts = name.split(".")
        if current is None or len(parts) != 3 or parts[2] not in CONTRIBUTION_COLUMNS:
            raise CorrectionRejected(f"unknown contribution cell {name!r}", field=name)
        kind = "month" if parts[2] == "period" else "amount" if parts[2] in _AMOUNT_COLUMNS else "compact"
        row = json.loads(current.value or "{}")
        row[parts[2]] = normalize_value(kind, value).value
        return json.dumps(row, ensure_ascii=False)
    if name not in kinds:
        raise CorrectionRejected(f"unknown field {name!r}", field=name)
    return normalize_value(kinds[name], value).value


def apply_corrections(
    catalog_url: str,
    document_id: int,
    corrections: Mapping[str, str | None],
    actor: str,
    *,
    accept: bool = False,
    rules: QualityRules | None = None,
    docs_dir: Path | None = None,
) -> dict[str, Any]:
    """Record a reviewer's corrections (field → new value; ``contributions.N.COLUMN`` for a table cell),
    validate the document again and return ``{"document_id", "changed", "status", "reasons", "accepted"}``.

    Values are normalized like extracted ones (an unparseable value is stored as typed and validation
    flags it again). With ``accept``, a document that still fails is marked validated by ``actor``.
    """
    from dangan.quality.store import validate_documents

    if not actor:
        raise CorrectionRejected("a correction needs the reviewer's name (actor)")
    kinds = _kinds()
    changed: list[str] = []
    with session_scope(catalog_url) as s:
        doc = s.get(Document, int(document_id))
        if doc is None:
            raise DocumentNotFound(f"document {document_id} not found", document_id=document_id)
        site = doc.site_code
        fields = current_fields(s, doc.id)
        version = (s.scalar(select(func.max(FieldValue.version)).where(FieldValue.document_id == doc.id)) or 0) + 1
        pending: dict[str, str | None] = {}
        for name, raw in corrections.items():  # cells of one contribution row accumulate into one new row
            row_name = ".".join(name.split(".")[:2]) if name.startswith(CONTRIBUTION_PREFIX) else name
            current = fields.get(row_name)
            base = current
            if row_name in pending and current is not None:
                base = FieldValue(name=row_name, value=pending[row_name])
            pending[row_name] = _corrected_value(name, raw, base, kinds)
        for row_name, value in pending.items():
            current = fields.get(row_name)
            conflict = current is not None and CONFLICT in (current.flags or [])
            if current is not None and current.value == value and not conflict:
                continue  # confirming a conflicting value is a decision: it is recorded like a change
            if current is not None:
                current.is_current = False
            s.add(
                FieldValue(
                    document_id=doc.id,
                    page_id=current.page_id if current else None,
                    name=row_name,
                    value=value,
                    confidence=1.0,
                    box=current.box if current else None,
                    flags=[],
                    source=CORRECTED,
                    version=version,
                )
            )
            record(
                s,
                actor=actor,
                action="field.corrected",
                entity_type="document",
                entity_id=str(doc.id),
                site_code=site,
                details={
                    "field": row_name,
                    "from": shown(row_name, current.value if current else None),
                    "to": shown(row_name, value),
                    "version": version,
                    **({"resolved": CONFLICT} if conflict else {}),
                },
            )
            changed.append(row_name)
            if row_name == FORM_TYPE_FIELD:
                doc.form_type = str(value)
    summary = validate_documents(catalog_url, site, [int(document_id)], rules=rules, docs_dir=docs_dir, actor=actor)
    status = DocumentState.VALIDATED if int(document_id) in summary["validated"] else DocumentState.NEEDS_REVIEW
    reasons = summary["reasons"].get(int(document_id), [])
    accepted = False
    if accept and status == DocumentState.NEEDS_REVIEW:
        with session_scope(catalog_url) as s:
            doc = s.get(Document, int(document_id))
            assert doc is not None
            for page in doc.pages:
                if can_transition("page", page.status, PageState.VALIDATED):
                    transition(s, page, PageState.VALIDATED)
            transition(s, doc, DocumentState.VALIDATED, actor=actor, details={"accepted_reasons": reasons})
            result = s.scalars(
                select(ValidationResult)
                .where(ValidationResult.document_id == doc.id, ValidationResult.is_current.is_(True))
                .order_by(ValidationResult.id.desc())
            ).first()
            if result is not None:
                result.status, result.actor = "accepted", actor
        status, accepted = DocumentState.VALIDATED, True
    return {
        "document_id": int(document_id),
        "changed": changed,
        "status": status,
        "reasons": reasons,
        "accepted": accepted,
    }


RESCAN_CODE = "REVIEW_RESCAN"


def request_rescan(catalog_url: str, document_id: int, actor: str, reason: str) -> dict[str, Any]:
    """A reviewer rejects a document's pages (unreadable, wrong document, a page missing): the document moves to
    ``rescan`` and every page gets a ``REVIEW_RESCAN`` quality issue, so ``dangan reprocess --qa-code
    REVIEW_RESCAN`` finds them after the paper is scanned again. Returns the outcome like
    :func:`apply_corrections`."""
    from dangan.catalog.models import QualityIssue

    if not actor:
        raise CorrectionRejected("a rejection needs the reviewer's name (actor)")
    if not reason.strip():
        raise CorrectionRejected("say why the pages must be scanned again (reason)")
    with session_scope(catalog_url) as s:
        doc = s.get(Document, int(document_id))
        if doc is None:
            raise DocumentNotFound(f"document {document_id} not found", document_id=document_id)
        for page in doc.pages:
            issue = s.scalars(select(QualityIssue).filter_by(page_id=page.id, code=RESCAN_CODE)).first()
            if issue is None:
                s.add(
                    QualityIssue(
                        page_id=page.id,
                        code=RESCAN_CODE,
                        severity="error",
                        message=f"rejected in review by {actor}: {reason}",
                        details={"reviewer": actor},
                    )
                )
        transition(s, doc, DocumentState.RESCAN, actor=actor, details={"reason": reason, "pages": len(doc.pages)})
    return {
        "document_id": int(document_id),
        "changed": [],
        "status": DocumentState.RESCAN,
        "reasons": [RESCAN_CODE],
        "accepted": False,
    }
