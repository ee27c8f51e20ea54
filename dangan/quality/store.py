"""Validation against the catalog: current fields in, per-document results and statuses out.

Documents that pass move to ``validated``; documents with reasons move to ``needs_review`` (pages too).
Nothing is corrected here. The GX run happens outside any transaction; results are written per document.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from dangan.catalog.db import session_scope
from dangan.catalog.fields import CONTRIBUTION_PREFIX, FORM_TYPE_FIELD, contribution_rows, current_fields
from dangan.catalog.models import Document, FieldValue
from dangan.catalog.states import can_transition, transition
from dangan.catalog.validation_models import ValidationResult
from dangan.ocr.record import ocr_review_reason
from dangan.quality.records import RecordInput
from dangan.quality.rules import QualityRules


def record_input(session: Session, doc: Document) -> tuple[RecordInput, int] | None:
    """The document as validation sees it and its current field version (None when never extracted)."""
    fields = current_fields(session, doc.id)
    if not fields:
        return None
    plain = {
        name: {"value": fv.value, "confidence": fv.confidence, "flags": list(fv.flags or [])}
        for name, fv in fields.items()
        if not name.startswith(CONTRIBUTION_PREFIX) and name != FORM_TYPE_FIELD
    }
    form = fields.get(FORM_TYPE_FIELD)
    person = doc.dossier.person if doc.dossier is not None else None
    rec = RecordInput(
        record_id=str(doc.id),
        form_type=(form.value if form is not None and form.value else doc.form_type) or "unknown",
        fields=plain,
        contributions=contribution_rows(fields),
        doc_date=doc.doc_date,
        person_key=str(person.id) if person is not None else None,
        registered_id=person.resident_id if person is not None else None,
        registered_name=person.name if person is not None else None,
    )
    return rec, max(fv.version for fv in fields.values())


def current_result(session: Session, document_id: int) -> ValidationResult | None:
    """The document's current validation result, if it was validated."""
    return session.scalars(
        select(ValidationResult)
        .where(ValidationResult.document_id == document_id, ValidationResult.is_current.is_(True))
        .order_by(ValidationResult.id.desc())
        .limit(1)
    ).first()


def validate_documents(
    catalog_url: str,
    site: str,
    document_ids: Iterable[int],
    *,
    rules: QualityRules | None = None,
    docs_dir: Path | None = None,
    actor: str | None = None,
) -> dict[str, Any]:
    """Run the expectation suites on the current fields of ``document_ids`` and store one result each.

    Returns ``{"run_id", "suite", "data_docs", "validated": [ids], "needs_review": [ids], "skipped": [...],
    "reasons": {id: [codes]}, "findings": {id: [codes]}}``.
    """
    from dangan.quality.runner import validate_records  # GX import: only when validating

    ids = [int(i) for i in document_ids]
    inputs: dict[int, tuple[RecordInput, int]] = {}
    skipped: list[dict[str, Any]] = []
    with session_scope(catalog_url) as s:
        for doc_id in ids:
            doc = s.get(Document, doc_id)
            got = record_input(s, doc) if doc is not None and doc.site_code == site else None
            if got is None:
                skipped.append({"document_id": doc_id, "skipped": "NOT_FOUND" if doc is None else "NOT_EXTRACTED"})
            else:
                inputs[doc_id] = got
    summary: dict[str, Any] = {
        "validated": [],
        "needs_review": [],
        "skipped": skipped,
        "reasons": {},
        "findings": {},
    }
    if not inputs:
        return summary | {"run_id": None, "suite": None, "data_docs": None}
    run = validate_records([rec for rec, _ in inputs.values()], rules, docs_dir=docs_dir)
    for doc_id, (rec, version) in inputs.items():
        outcome = run.outcomes[rec.record_id]
        with session_scope(catalog_url) as s:
            doc = s.get(Document, doc_id)
            assert doc is not None
            ocr_reason = ocr_review_reason(s, [p.id for p in doc.pages])  # a page read unreliably: a person looks
            if ocr_reason is not None and not any(r["code"] == ocr_reason["code"] for r in outcome.reasons):
                outcome.reasons.append(ocr_reason)  # type: ignore[arg-type]
            if not can_transition("document", doc.status, outcome.status):
                skipped.append({"document_id": doc_id, "skipped": f"STATUS_{doc.status.upper()}"})
                continue
            s.execute(
                update(ValidationResult)
                .where(ValidationResult.document_id == doc_id, ValidationResult.is_current.is_(True))
                .values(is_current=False)
            )
            s.add(
                ValidationResult(
                    document_id=doc_id,
                    site_code=site,
                    run_id=run.run_id,
                    suite=run.suite,
                    status="passed" if outcome.passed else "failed",
                    reasons=outcome.reasons,
                    findings=outcome.findings,
                    fields_version=version,
                    data_docs=run.data_docs,
                    actor=actor,
                )
            )
            for page in doc.pages:
                if can_transition("page", page.status, outcome.status):
                    transition(s, page, outcome.status)
            transition(s, doc, outcome.status, actor=actor, details={"run_id": run.run_id} if actor else None)
        summary[outcome.status].append(doc_id)
        summary["reasons"][doc_id] = [r["code"] for r in outcome.reasons]
        summary["findings"][doc_id] = [r["code"] for r in outcome.findings]
    return summary | {"run_id": run.run_id, "suite": run.suite, "data_docs": run.data_docs}


def field_history(session: Session, document_id: int, name: str) -> list[FieldValue]:
    """Every stored version of one field, oldest first (what changed, when, from which source)."""
    return list(
        session.scalars(
            select(FieldValue)
            .where(FieldValue.document_id == document_id, FieldValue.name == name)
            .order_by(FieldValue.version, FieldValue.id)
        )
    )
