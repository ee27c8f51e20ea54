"""In-document conflicts: one field read with two values is kept (both readings), validated as FIELD_CONFLICT,
settled only by a reviewer; the ``field.flags`` column's migration (0005) up and down."""

from __future__ import annotations

from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, select

from dangan.catalog.db import get_engine, session_scope
from dangan.catalog.models import AuditEvent, Base, Document, FieldValue, Page
from dangan.catalog.schema import alembic_config, current_revision, upgrade
from dangan.catalog.validation_models import ValidationResult
from dangan.extract import extract_document
from dangan.extract.fields import CONFLICT
from dangan.extract.review import apply_corrections, review_items
from dangan.extract.store import CANDIDATE, current_fields, extract_documents
from dangan.ocr import OcrLine
from dangan.pii import mask_id
from dangan.quality.runner import validate_records
from dangan.quality.store import validate_documents
from flows.review import review_markdown
from tests.extract.catalog import seed
from tests.extract.helpers import record_of, truth_pages

SITE = "330106"


def _two_ids(truths: dict[str, dict[str, Any]], first_matches: bool) -> tuple[str, dict[str, Any], Any, str, str]:
    """A two-page statement of p01 whose second page prints a resident ID too: p02's valid ID (a page of
    another person's statement filed into this document), or, swapped, p02's on page 1 and p01's on page 2."""
    name = next(n for n, t in truths.items() if n.startswith("p01_account_statement") and len(t["pages"]) == 2)
    truth = truths[name]
    right = truth["fields"]["id_number"]
    other = next(t["fields"]["id_number"] for n, t in truths.items() if n.startswith("p02_registration"))
    first, second = (right, other) if first_matches else (other, right)
    pages = truth_pages(truth)
    pages[0] = [OcrLine(ln.text.replace(right, first), ln.confidence, ln.box) for ln in pages[0]]
    swap = next(i for i, ln in enumerate(pages[1]) if ln.text.startswith("个人编号"))  # same place on the page
    line = pages[1][swap]
    pages[1][swap] = OcrLine(f"身份证号码：{second}", line.confidence, line.box)
    assert first in " ".join(ln.text for ln in pages[0]) and second not in " ".join(ln.text for ln in pages[0])
    return name, truth, pages, right, other


def test_extraction_keeps_both_readings(truth_batch) -> None:  # type: ignore[no-untyped-def]
    _, truths = truth_batch
    _, _, pages, right, other = _two_ids(truths, first_matches=True)
    ex = extract_document(pages)
    found = ex.fields["id_number"]
    assert (found.value, found.page, CONFLICT in found.flags) == (right, 0, True)
    assert [(alt.value, alt.page) for alt in found.alternatives] == [(other, 1)]
    assert ex.to_json()["fields"]["id_number"]["alternatives"][0]["value"] == other
    assert all(not f.alternatives and CONFLICT not in f.flags for n, f in ex.fields.items() if n != "id_number")
    # The same field read twice with the same value is no conflict.
    ex_same = extract_document(truth_pages(truths[next(n for n in truths if n.startswith("p01_account"))]))
    assert all(CONFLICT not in f.flags for f in ex_same.fields.values())


def test_conflict_fails_validation_without_the_catalog(truth_batch) -> None:  # type: ignore[no-untyped-def]
    _, truths = truth_batch
    name, truth, pages, right, _ = _two_ids(truths, first_matches=True)
    rec = record_of(name, extract_document(pages), person_key="p01", registered_id=right)
    rec.registered_name = truth["fields"]["name"]
    outcome = validate_records([rec]).outcomes[name]
    assert (outcome.status, [(r["code"], r["fields"]) for r in outcome.reasons]) == (
        "needs_review",
        [("FIELD_CONFLICT", ["id_number"])],
    )


@pytest.mark.parametrize("first_matches", [True, False], ids=["first-matches-manifest", "second-matches-manifest"])
def test_conflicting_ids_go_to_review_until_a_reviewer_decides(
    catalog_url: str,
    truth_batch,  # type: ignore[no-untyped-def]
    first_matches: bool,
) -> None:
    _, truths = truth_batch
    name, truth, pages, right, other = _two_ids(truths, first_matches)
    ids = seed(catalog_url, SITE, {name: (truth, pages)})  # registered with the document's real ID (right)
    doc_id = ids[name]
    first = extract_documents(catalog_url, SITE, [doc_id])
    assert first["extracted"][0]["conflicts"] == ["id_number"]
    shown_first, shown_second = (right, other) if first_matches else (other, right)
    with session_scope(catalog_url) as s:
        fv = current_fields(s, doc_id)["id_number"]
        assert (fv.value, fv.flags, fv.source) == (shown_first, [CONFLICT], "extracted")
        assert all(f.flags == [] for n, f in current_fields(s, doc_id).items() if n not in ("id_number",))
        (candidate,) = s.scalars(select(FieldValue).where(FieldValue.source == CANDIDATE)).all()
        page2 = s.scalars(select(Page).where(Page.document_id == doc_id, Page.page_index == 1)).one()
        assert (candidate.value, candidate.is_current, candidate.version) == (shown_second, False, fv.version)
        assert (candidate.page_id, candidate.flags, candidate.box is not None) == (page2.id, [CONFLICT], True)

    summary = validate_documents(catalog_url, SITE, [doc_id])
    assert summary["needs_review"] == [doc_id] and summary["validated"] == []
    expected = {"FIELD_CONFLICT"} if first_matches else {"FIELD_CONFLICT", "IDENTITY_MISMATCH"}
    assert set(summary["reasons"][doc_id]) == expected
    with session_scope(catalog_url) as s:
        doc = s.get(Document, doc_id)
        assert doc is not None and doc.status == "needs_review"
        result = s.scalars(select(ValidationResult).where(ValidationResult.is_current)).one()
        reason = next(r for r in result.reasons if r["code"] == "FIELD_CONFLICT")
        assert reason["fields"] == ["id_number"] and reason["severity"] == "critical"
        assert right not in str(result.reasons) and other not in str(result.reasons)  # codes, never values

    view = review_items(catalog_url, doc_id)
    item = next(i for i in view["fields"] if i["name"] == "id_number")
    assert "FIELD_CONFLICT" in item["reasons"] and item["flags"] == [CONFLICT]
    assert [c["value"] for c in item["candidates"]] == [shown_second]
    readings = next(r for r in view["reasons"] if r["code"] == "FIELD_CONFLICT")["details"]["readings"]
    assert readings == {"id_number": [f"{mask_id(shown_first)} (page 1)", f"{mask_id(shown_second)} (page 2)"]}
    description = review_markdown(view)  # what the Prefect review form shows
    assert mask_id(right) in description and mask_id(other) in description
    assert right not in description and other not in description

    # The reviewer settles it, even by confirming the value already shown: no flag on a corrected value.
    outcome = apply_corrections(catalog_url, doc_id, {"id_number": right}, actor="reviewer4")
    assert outcome == {
        "document_id": doc_id,
        "changed": ["id_number"],
        "status": "validated",
        "reasons": [],
        "accepted": False,
    }
    with session_scope(catalog_url) as s:
        fv = current_fields(s, doc_id)["id_number"]
        assert (fv.value, fv.flags, fv.source) == (right, [], "corrected")
        event = s.scalars(select(AuditEvent).where(AuditEvent.action == "field.corrected")).one()
        assert (event.actor, event.details["resolved"], event.details["to"]) == ("reviewer4", CONFLICT, mask_id(right))
        assert right not in str(event.details) and other not in str(event.details)
    assert review_items(catalog_url, doc_id)["status"] == "validated"

    # Re-extraction (reprocessing) keeps the reviewer's decision; validation still passes.
    again = extract_documents(catalog_url, SITE, [doc_id])
    assert again["extracted"][0]["conflicts"] == ["id_number"]  # the pages still disagree ...
    with session_scope(catalog_url) as s:
        fv = current_fields(s, doc_id)["id_number"]
        assert (fv.value, fv.flags, fv.source) == (right, [], "corrected")  # ... but a person decided
    assert validate_documents(catalog_url, SITE, [doc_id])["validated"] == [doc_id]


def test_pressing_enter_does_not_clear_a_conflict(catalog_url: str, truth_batch) -> None:  # type: ignore[no-untyped-def]
    _, truths = truth_batch
    name, truth, pages, _, _ = _two_ids(truths, first_matches=True)
    doc_id = seed(catalog_url, SITE, {name: (truth, pages)})[name]
    extract_documents(catalog_url, SITE, [doc_id])
    validate_documents(catalog_url, SITE, [doc_id])
    outcome = apply_corrections(catalog_url, doc_id, {}, actor="reviewer5")
    assert (outcome["status"], outcome["changed"], outcome["reasons"]) == ("needs_review", [], ["FIELD_CONFLICT"])


def _in_field_table(obj: Any, name: str | None, kind: str, reflected: bool, compare_to: Any) -> bool:
    table = obj if kind == "table" else getattr(obj, "table", None)
    return getattr(table, "name", None) == "field"


def test_migration_0005_field_flags_up_and_down(catalog_url: str, truth_batch) -> None:  # type: ignore[no-untyped-def]
    _, truths = truth_batch
    name, truth, pages, _, _ = _two_ids(truths, first_matches=True)
    doc_id = seed(catalog_url, SITE, {name: (truth, pages)})[name]  # at head
    extract_documents(catalog_url, SITE, [doc_id])
    cfg = alembic_config(catalog_url)

    def columns() -> set[str]:
        return {c["name"] for c in inspect(get_engine(catalog_url)).get_columns("field")}

    assert "flags" in columns()
    with get_engine(catalog_url).connect() as conn:  # the model and the migrations agree on the field table
        ctx = MigrationContext.configure(conn, opts={"include_object": _in_field_table})
        assert compare_metadata(ctx, Base.metadata) == []
    with session_scope(catalog_url) as s:
        rows = s.scalar(select(FieldValue.id).where(FieldValue.document_id == doc_id).limit(1))
        assert rows is not None

    command.downgrade(cfg, "0004")
    assert current_revision(catalog_url) == "0004" and "flags" not in columns()
    with get_engine(catalog_url).connect() as conn:
        kept = conn.exec_driver_sql("SELECT count(*) FROM field").scalar()
    assert kept and kept > 0  # values survive the downgrade; only the flags go

    command.upgrade(cfg, "0005")
    assert current_revision(catalog_url) == "0005" and "flags" in columns()
    with session_scope(catalog_url) as s:  # rows stored before 0005 read as unflagged
        assert {tuple(fv.flags) for fv in s.scalars(select(FieldValue))} == {()}
        s.add(FieldValue(document_id=doc_id, name="note", value="x", flags=[CONFLICT]))
    with session_scope(catalog_url) as s:
        assert s.scalars(select(FieldValue).where(FieldValue.name == "note")).one().flags == [CONFLICT]
    upgrade(catalog_url)  # to head (later revisions build on 0005)
    assert "flags" in columns()
