"""Catalog path on SQLite and PostgreSQL: migration, extract → versioned fields, validate → statuses and
results, corrections by a reviewer (audited), export with masked IDs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import inspect, select

from dangan.catalog.db import get_engine, session_scope
from dangan.catalog.models import AuditEvent, Document, FieldValue, Page
from dangan.catalog.schema import alembic_config, current_revision, upgrade
from dangan.catalog.validation_models import ValidationResult
from dangan.extract.errors import CorrectionRejected
from dangan.extract.export import iter_records
from dangan.extract.review import apply_corrections, review_items
from dangan.extract.store import current_fields, extract_documents
from dangan.ocr import OcrLine
from dangan.quality.store import field_history, validate_documents
from tests.extract.catalog import seed
from tests.extract.helpers import truth_pages

SITE = "330106"


def test_migration_0002_up_and_down(catalog_url: str) -> None:
    cfg = alembic_config(catalog_url)
    command.upgrade(cfg, "0002")
    assert current_revision(catalog_url) == "0002"
    assert "validation_result" in inspect(get_engine(catalog_url)).get_table_names()
    command.downgrade(cfg, "0001")
    assert current_revision(catalog_url) == "0001"
    assert "validation_result" not in inspect(get_engine(catalog_url)).get_table_names()
    upgrade(catalog_url)  # to head (later revisions build on 0002)
    assert "validation_result" in inspect(get_engine(catalog_url)).get_table_names()


def _corrupt_id(pages: list[list[OcrLine]], rid: str) -> tuple[list[list[OcrLine]], str]:
    wrong = rid[:15] + str((int(rid[15]) + 2) % 10) + rid[16:]
    return [[OcrLine(ln.text.replace(rid, wrong), ln.confidence, ln.box) for ln in page] for page in pages], wrong


def _docs(truths: dict[str, dict[str, Any]]) -> tuple[dict[str, Any], str, str]:
    docs = {name: (t, truth_pages(t)) for name, t in truths.items() if name[:3] in ("p01", "p02")}
    bad = next(n for n in docs if n.startswith("p02_registration"))
    truth, pages = docs[bad]
    corrupted, wrong = _corrupt_id(pages, truth["fields"]["id_number"])
    docs[bad] = (truth, corrupted)
    return docs, bad, wrong


def test_extract_validate_review_export(catalog_url: str, truth_batch, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _, truths = truth_batch
    docs, bad, wrong = _docs(truths)
    ids = seed(catalog_url, SITE, docs)
    right = truths[bad]["fields"]["id_number"]

    first = extract_documents(catalog_url, SITE, ids.values())
    assert sorted(e["document_id"] for e in first["extracted"]) == sorted(ids.values()) and not first["skipped"]
    again = extract_documents(catalog_url, SITE, [ids[bad]])  # reprocessing: a new version, the old one kept
    assert again["extracted"][0]["version"] == 2
    with session_scope(catalog_url) as s:
        assert {d.status for d in s.scalars(select(Document))} == {"extracted"}
        assert {p.status for p in s.scalars(select(Page))} == {"extracted"}
        fields = current_fields(s, ids[bad])
        assert fields["id_number"].value == wrong and fields["id_number"].version == 2
        assert [f.is_current for f in field_history(s, ids[bad], "id_number")] == [False, True]
        assert fields["id_number"].box and fields["id_number"].page_id is not None

    docs_dir = tmp_path / "docs"
    summary = validate_documents(catalog_url, SITE, ids.values(), docs_dir=docs_dir)
    assert summary["needs_review"] == [ids[bad]]
    assert sorted(summary["validated"]) == sorted(i for n, i in ids.items() if n != bad)
    assert set(summary["reasons"][ids[bad]]) == {"ID_CHECK_DIGIT", "IDENTITY_MISMATCH"}
    assert summary["data_docs"] == str(docs_dir / "index.html") and (docs_dir / "index.html").is_file()
    with session_scope(catalog_url) as s:
        doc = s.get(Document, ids[bad])
        assert doc is not None and doc.status == "needs_review" and {p.status for p in doc.pages} == {"needs_review"}
        result = s.scalars(select(ValidationResult).where(ValidationResult.document_id == ids[bad])).one()
        assert result.status == "failed" and result.is_current and result.fields_version == 2
        assert right not in str(result.reasons) and wrong not in str(result.reasons)  # codes, never values

    view = review_items(catalog_url, ids[bad])
    flagged = {f["name"]: f["reasons"] for f in view["fields"] if f["reasons"]}
    assert flagged == {"id_number": ["ID_CHECK_DIGIT", "IDENTITY_MISMATCH"], "name": ["IDENTITY_MISMATCH"]}

    outcome = apply_corrections(
        catalog_url, ids[bad], {"id_number": f" {right} "}, actor="reviewer1", docs_dir=docs_dir
    )
    assert outcome == {
        "document_id": ids[bad],
        "changed": ["id_number"],
        "status": "validated",
        "reasons": [],
        "accepted": False,
    }
    with session_scope(catalog_url) as s:
        fv = current_fields(s, ids[bad])["id_number"]
        assert (fv.value, fv.source, fv.version) == (right, "corrected", 3)
        events = list(s.scalars(select(AuditEvent).where(AuditEvent.entity_id == str(ids[bad]))))
        corrected = [e for e in events if e.action == "field.corrected"]
        assert [(e.actor, e.details["field"]) for e in corrected] == [("reviewer1", "id_number")]
        assert right not in str(corrected[0].details) and corrected[0].details["to"].startswith(right[:6])
        assert any(e.action == "document.validated" and e.actor == "reviewer1" for e in events)
        assert s.get(Document, ids[bad]).status == "validated"  # type: ignore[union-attr]

    extract_documents(catalog_url, SITE, [ids[bad]])  # re-extraction keeps the reviewer's value
    with session_scope(catalog_url) as s:
        fv = current_fields(s, ids[bad])["id_number"]
        assert (fv.value, fv.source, fv.version) == (right, "corrected", 4)
        assert s.scalars(select(FieldValue).where(FieldValue.document_id == ids[bad], FieldValue.is_current)).all()

    masked = {r["source_file"]: r for r in iter_records(catalog_url, SITE)}
    full = {r["source_file"]: r for r in iter_records(catalog_url, SITE, full_ids=True)}
    assert set(masked) == set(ids)
    some = next(n for n in ids if n != bad)
    assert full[some]["fields"]["id_number"] == truths[some]["fields"]["id_number"]
    assert (
        masked[some]["fields"]["id_number"]
        == truths[some]["fields"]["id_number"][:6] + "********" + truths[some]["fields"]["id_number"][-4:]
    )
    statement = next(n for n in ids if "statement" in n)
    assert full[statement]["contributions"] == truths[statement]["contributions"]
    assert masked[some]["validation"]["status"] == "passed"


def test_accepting_a_legacy_id_is_recorded(catalog_url: str, truth_batch) -> None:  # type: ignore[no-untyped-def]
    _, truths = truth_batch
    name = next(n for n in truths if n.startswith("p01_transfer"))
    truth = truths[name]
    rid = truth["fields"]["id_number"]
    legacy = rid[:6] + rid[8:17]
    pages = [[OcrLine(ln.text.replace(rid, legacy), ln.confidence, ln.box) for ln in p] for p in truth_pages(truth)]
    ids = seed(catalog_url, SITE, {name: (truth, pages)}, registered={"p01": (legacy, truth["fields"]["name"])})
    extract_documents(catalog_url, SITE, ids.values())
    summary = validate_documents(catalog_url, SITE, ids.values())
    assert summary["reasons"][ids[name]] == ["ID_LEGACY_15"]
    outcome = apply_corrections(catalog_url, ids[name], {}, actor="reviewer2", accept=True)
    assert (outcome["status"], outcome["accepted"], outcome["changed"]) == ("validated", True, [])
    with session_scope(catalog_url) as s:
        result = s.scalars(select(ValidationResult).where(ValidationResult.is_current)).one()
        assert (result.status, result.actor) == ("accepted", "reviewer2")
        event = s.scalars(select(AuditEvent).where(AuditEvent.action == "document.validated")).one()
        assert event.details["accepted_reasons"] == ["ID_LEGACY_15"]


def test_documents_without_ocr_are_skipped(catalog_url: str, truth_batch) -> None:  # type: ignore[no-untyped-def]
    _, truths = truth_batch
    name = next(iter(truths))
    ids = seed(catalog_url, SITE, {name: (truths[name], truth_pages(truths[name]))})
    with session_scope(catalog_url) as s:
        for page in s.scalars(select(Page)):
            page.status = "preprocessed"
    got = extract_documents(catalog_url, SITE, [ids[name], 99999])
    assert got == {
        "extracted": [],
        "skipped": [
            {"document_id": ids[name], "skipped": "NOT_READY"},
            {"document_id": 99999, "skipped": "NOT_FOUND"},
        ],
    }
    assert validate_documents(catalog_url, SITE, [ids[name]])["skipped"] == [
        {"document_id": ids[name], "skipped": "NOT_EXTRACTED"}
    ]


def test_corrections_are_checked_and_cells_accumulate(catalog_url: str, truth_batch) -> None:  # type: ignore[no-untyped-def]
    _, truths = truth_batch
    name = next(n for n in truths if "statement" in n)
    ids = seed(catalog_url, SITE, {name: (truths[name], truth_pages(truths[name]))})
    extract_documents(catalog_url, SITE, ids.values())
    for bad in ({"no_such_field": "1"}, {"contributions.99.total": "1.00"}, {"form_type": "letter"}):
        with pytest.raises(CorrectionRejected):
            apply_corrections(catalog_url, ids[name], bad, actor="r")
    with pytest.raises(CorrectionRejected):
        apply_corrections(catalog_url, ids[name], {"name": "x"}, actor="")
    row = truths[name]["contributions"][1]
    out = apply_corrections(
        catalog_url, ids[name], {"contributions.1.total": "9,999.00", "contributions.1.flag": "补缴"}, actor="r"
    )
    assert out["changed"] == ["contributions.1"] and out["status"] == "needs_review"
    assert set(out["reasons"]) == {"TOTAL_MISMATCH", "AMOUNT_SUM_MISMATCH"}
    with session_scope(catalog_url) as s:
        stored = json.loads(current_fields(s, ids[name])["contributions.1"].value or "{}")
    assert stored == {**row, "total": "9999.00", "flag": "补缴"}
