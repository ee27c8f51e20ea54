"""Scanning ingest end to end on real stores and catalogs: every file accepted or quarantined, exactly once."""

from __future__ import annotations

import csv
import hashlib
import os
import unicodedata
from pathlib import Path

import pytest
from sqlalchemy import func, select

from dangan.catalog.db import session_scope
from dangan.catalog.models import Derivative, Document, Master, Page, QualityIssue, QuarantineItem, ScanBatch
from dangan.ingest.batch import ingest_batch_local, open_batch, run_chunk
from dangan.storage.factory import open_store
from tests.ingest import badfiles

SITE = "330106"


def _source(batch: Path) -> tuple[str, str]:
    scans = batch / "scans"
    return str(scans if scans.is_dir() else batch), str(batch / "manifest.csv")


def _manifest_rows(batch: Path) -> list[dict[str, str]]:
    with open(batch / "manifest.csv", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _counts(url: str) -> dict[str, int]:
    with session_scope(url) as s:
        return {
            m.__tablename__: s.scalar(select(func.count()).select_from(m)) or 0
            for m in (Master, Page, Derivative, QuarantineItem, Document)
        }


def test_sample_batch_every_file_accounted(batch_copy: Path, site_settings) -> None:  # type: ignore[no-untyped-def]
    settings, ref = site_settings
    source, manifest = _source(batch_copy)
    report = ingest_batch_local(settings, SITE, source, manifest)
    rows = _manifest_rows(batch_copy)
    assert report.files == len(rows)
    assert report.unaccounted == []
    assert report.missing_files == [] and report.unlisted_files == []
    codes = {q.code for q in report.quarantined}
    assert {"INGEST_EMPTY_FILE", "INGEST_CORRUPT_IMAGE", "INGEST_UNSUPPORTED_FORMAT"} <= codes
    assert report.accepted_files + len(report.quarantined) == len(rows)
    assert "QA_BLANK_PAGE" in report.qa_issues  # the blank page is flagged, not dropped
    assert "QA_SKEW" in report.qa_issues  # one sample page is skewed beyond 3 degrees
    store = open_store(ref.store_url)
    with session_scope(ref.catalog_url) as s:
        masters = s.scalars(select(Master)).all()
        assert len(masters) == report.accepted_files
        for m in masters:  # masters byte-for-byte unchanged
            original = Path(source, m.original_name).read_bytes()
            assert hashlib.sha256(original).hexdigest() == m.sha256
            assert store.get(m.object_key) == original
            assert store.stat(m.object_key).sha256 == m.sha256
        pages = s.scalars(select(Page)).all()
        assert len(pages) == report.pages
        assert all(p.status == "preprocessed" for p in pages)
        assert all({"blur", "skew_deg", "blank_score"} <= set(p.metrics) for p in pages)
        derivs = s.scalars(select(Derivative)).all()
        assert {d.page_id for d in derivs} == {p.id for p in pages}
        for d in derivs:
            assert store.stat(d.object_key).sha256 == d.sha256
        for q in s.scalars(select(QuarantineItem)).all():  # original bytes kept in quarantine
            if q.object_key:
                assert store.get(q.object_key) == Path(source, q.source_file).read_bytes()
        docs = s.scalars(select(Document).where(Document.dossier_id.is_not(None))).all()
        assert docs, "documents are linked to persons' dossiers from the manifest"
        batch = s.scalars(select(ScanBatch)).one()
        assert batch.status == "complete" and batch.counts["files"] == len(rows)


def test_reingest_is_idempotent_and_duplicates_reported(batch_copy: Path, site_settings, tmp_path) -> None:  # type: ignore[no-untyped-def]
    settings, ref = site_settings
    source, manifest = _source(batch_copy)
    first = ingest_batch_local(settings, SITE, source, manifest)
    before = _counts(ref.catalog_url)
    again = ingest_batch_local(settings, SITE, source, manifest)
    assert _counts(ref.catalog_url) == before
    assert again.outcomes.get("accepted", 0) == 0
    assert again.accepted_files == first.accepted_files and again.unaccounted == []
    # the same bytes delivered again in another folder: reported as duplicates, nothing new registered
    other = tmp_path / "redelivery"
    accepted = sorted({o for o in (Path(source).rglob("*")) if o.is_file()})
    name = next(p for p in accepted if p.suffix.lower() in {".png", ".jpg"} and p.stat().st_size > 1000)
    badfiles.write(other, "again" + name.suffix, name.read_bytes())
    dup = ingest_batch_local(settings, SITE, str(other))
    assert dup.outcomes == {"duplicate": 1}
    assert dup.duplicates[0].duplicate_of == name.relative_to(source).as_posix()
    assert _counts(ref.catalog_url) == before


def test_bad_inputs_quarantined_with_codes_and_bytes_kept(tmp_path: Path, site_settings) -> None:  # type: ignore[no-untyped-def]
    settings, ref = site_settings
    settings.ingest.max_pdf_pages = 3
    settings.ingest.max_pixels = 50_000_000
    src = tmp_path / "hot"
    tiff = badfiles.multipage_tiff(3)
    jpg = badfiles.jpeg()
    files = {
        "ok.png": badfiles.good_png(),
        "ok-multi.tif": tiff,
        "zero.tif": b"",
        "truncated.tif": tiff[: len(tiff) // 2],
        "truncated.jpg": jpg[: int(len(jpg) * 0.4)],
        "not-an-image.png": "这不是图像 just text\n".encode() * 20,
        "animation.gif": badfiles.gif(),
        "bomb.png": badfiles.png_bomb(),
        "locked.pdf": badfiles.encrypted_pdf(),
        "broken.pdf": b"%PDF-1.4\n1 0 obj << /Type /Catalog >> garbage without xref",
        "huge.pdf": badfiles.pdf(5),
        "scan.jpg.exe": b"MZ\x90\x00" + b"\x00" * 200,
        unicodedata.normalize("NFC", "表é.png"): badfiles.good_png(10),
        unicodedata.normalize("NFD", "表é.png"): badfiles.good_png(20),
    }
    for name, data in files.items():
        badfiles.write(src, name, data)
    os.symlink("/etc/hostname", src / "escape.png")
    report = ingest_batch_local(settings, SITE, str(src))
    got = {q.file: q.code for q in report.quarantined}
    assert got == {
        "zero.tif": "INGEST_EMPTY_FILE",
        "truncated.tif": "INGEST_CORRUPT_IMAGE",
        "truncated.jpg": "INGEST_CORRUPT_IMAGE",
        "not-an-image.png": "INGEST_UNSUPPORTED_FORMAT",
        "animation.gif": "INGEST_UNSUPPORTED_FORMAT",
        "bomb.png": "INGEST_PIXEL_LIMIT",
        "locked.pdf": "INGEST_PDF_ENCRYPTED",
        "broken.pdf": "INGEST_PDF_MALFORMED",
        "huge.pdf": "INGEST_PDF_PAGE_LIMIT",
        "scan.jpg.exe": "INGEST_UNSUPPORTED_FORMAT",
        "escape.png": "PATH_UNSAFE",
        "表é.png#1": "INGEST_NAME_COLLISION",
        "表é.png#2": "INGEST_NAME_COLLISION",
    }
    assert report.accepted_files == 2 and report.pages == 4 and report.unaccounted == []
    store = open_store(ref.store_url)
    with session_scope(ref.catalog_url) as s:
        items = {q.source_file: q for q in s.scalars(select(QuarantineItem))}
    assert items["escape.png"].object_key is None  # never read through a link leaving the folder
    for name in ("truncated.tif", "bomb.png", "locked.pdf", "huge.pdf"):
        assert store.get(items[name].object_key) == files[name]
        assert (items[name].message and items[name].details.get("hint") is not None) or name == "truncated.tif"
    assert "/etc/hostname" not in str(report)


def test_manifest_reconciled_both_ways(batch_copy: Path, site_settings) -> None:  # type: ignore[no-untyped-def]
    settings, _ = site_settings
    source, manifest = _source(batch_copy)
    rows = _manifest_rows(batch_copy)
    multi = next(r for r in rows if int(r["expected_pages"] or 1) > 1 and r["file"].endswith(".tif"))
    missing = next(r for r in rows if r is not multi and r["form_type"] != "unknown")
    Path(source, missing["file"]).unlink()
    badfiles.write(Path(source), "stray/extra.png", badfiles.good_png())
    with open(manifest, "w", encoding="utf-8", newline="") as f:  # operator miscounted one document's pages
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        for r in rows:
            w.writerow({**r, "expected_pages": "9"} if r is multi else r)
    report = ingest_batch_local(settings, SITE, source, manifest)
    assert report.missing_files == [missing["file"]]
    assert report.unlisted_files == ["stray/extra.png"]
    assert {"file": "stray/extra.png", "code": "INGEST_NOT_IN_MANIFEST"} in [
        {"file": q.file, "code": q.code} for q in report.quarantined
    ]
    assert [m.file for m in report.page_count_mismatches] == [multi["file"]]
    assert report.page_count_mismatches[0].expected == 9


def test_crash_after_object_before_row_is_adopted(tmp_path: Path, site_settings, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Object stored, process dies before the catalog row: the re-run adopts it (no duplicate, no gap)."""
    settings, ref = site_settings
    src = tmp_path / "hot"
    badfiles.write(src, "a.png", badfiles.good_png())
    badfiles.write(src, "b.tif", badfiles.multipage_tiff(2))
    from dangan.ingest import pipeline

    real = pipeline.session_scope
    calls = {"n": 0}

    def crash_on_register(url: str):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 2:  # 1: duplicate lookup; 2: the registering transaction
            raise KeyboardInterrupt("simulated crash after the master object was stored")
        return real(url)

    monkeypatch.setattr(pipeline, "session_scope", crash_on_register)
    plan = open_batch(settings, SITE, str(src))
    with pytest.raises(KeyboardInterrupt):
        run_chunk(settings, SITE, plan.batch_id, str(src), None, plan.files)
    monkeypatch.setattr(pipeline, "session_scope", real)
    store = open_store(ref.store_url)
    assert any("/masters/" in o.key for o in store.list("sites/"))  # the orphan object exists
    assert _counts(ref.catalog_url)["master"] == 0
    report = ingest_batch_local(settings, SITE, str(src))
    assert report.accepted_files == 2 and report.pages == 3 and report.unaccounted == []
    assert _counts(ref.catalog_url)["master"] == 2


def test_resume_completes_missing_derivatives(tmp_path: Path, site_settings) -> None:  # type: ignore[no-untyped-def]
    settings, ref = site_settings
    src = tmp_path / "hot"
    badfiles.write(src, "a.tif", badfiles.multipage_tiff(2))
    settings.ingest.make_derivatives = False  # as if the worker died before the derivative step
    ingest_batch_local(settings, SITE, str(src))
    assert _counts(ref.catalog_url)["derivative"] == 0
    settings.ingest.make_derivatives = True
    report = ingest_batch_local(settings, SITE, str(src))
    assert report.outcomes == {"resumed": 1}
    assert _counts(ref.catalog_url)["derivative"] == 2
    with session_scope(ref.catalog_url) as s:
        assert set(s.scalars(select(Page.status))) == {"preprocessed"}


def test_qa_issues_recorded_per_page(tmp_path: Path, site_settings) -> None:  # type: ignore[no-untyped-def]
    settings, ref = site_settings
    src = tmp_path / "hot"
    badfiles.write(src, "low-dpi.png", badfiles.good_png(size=(300, 400), dpi=150))
    report = ingest_batch_local(settings, SITE, str(src))
    assert "QA_LOW_DPI" in report.qa_issues
    with session_scope(ref.catalog_url) as s:
        issue = s.scalars(select(QualityIssue).filter_by(code="QA_LOW_DPI")).one()
        assert issue.severity == "error"


def test_evidence_links_for_quarantine_and_qa_failures(tmp_path: Path, site_settings) -> None:  # type: ignore[no-untyped-def]
    from dangan.ingest.batch import evidence_links
    from dangan.reports import ingest_markdown

    settings, ref = site_settings
    src = tmp_path / "hot"
    badfiles.write(src, "low-dpi.png", badfiles.good_png(size=(300, 400), dpi=150))
    badfiles.write(src, "zero.tif", b"")
    report = ingest_batch_local(settings, SITE, str(src))
    ev = evidence_links(settings, SITE, report.batch_id)
    store = open_store(ref.store_url)
    assert list(ev.quarantine) == ["zero.tif"]  # even a 0-byte delivery is kept, as delivered
    assert store.get(ev.quarantine["zero.tif"]) == b""

    [page] = ev.qa_pages
    assert page.file == "low-dpi.png" and "QA_LOW_DPI" in page.codes
    assert store.get(page.key) == (src / "low-dpi.png").read_bytes()
    md = ingest_markdown(report, ev)  # object keys, never a file:// path nor a pre-signed URL (artifacts)
    assert f"`{page.key}`" in md and "QA_LOW_DPI" in md and "file://" not in md
    link = ev.links[page.key]  # served by `dangan serve`, with an expiring token
    assert link.startswith(settings.web.base_url + "/objects/") and "?t=" in link and f"({link})" in md


def test_quarantine_log_masks_ids_in_file_names(tmp_path: Path, site_settings, caplog) -> None:  # type: ignore[no-untyped-def]
    import logging

    settings, _ = site_settings
    src = tmp_path / "hot"
    badfiles.write(src, "11010519491231002X.png", b"not an image at all" * 5)
    with caplog.at_level(logging.INFO, logger="dangan.ingest.pipeline"):
        ingest_batch_local(settings, SITE, str(src))
    assert "110105********002X" in caplog.text and "11010519491231002X" not in caplog.text
