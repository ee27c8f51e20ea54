"""Batch-level 四性检测 (DA/T 70-2018): a clean batch passes; each kind of damage is named precisely."""

from __future__ import annotations

import csv
from pathlib import Path

from sqlalchemy import select

from dangan.catalog.db import session_scope
from dangan.catalog.models import Master, Page
from dangan.fourprops import check_batch, markdown, store_report
from dangan.ingest.batch import ingest_batch_local
from dangan.storage.factory import open_store
from tests.ingest import badfiles

SITE = "330106"


def _batch(tmp_path: Path, site_settings, with_manifest: bool = False):  # type: ignore[no-untyped-def]
    settings, ref = site_settings
    src = tmp_path / "hot"
    badfiles.write(src, "a.png", badfiles.good_png())
    badfiles.write(src, "b.tif", badfiles.multipage_tiff(3))
    manifest = None
    if with_manifest:
        manifest = tmp_path / "manifest.csv"
        with open(manifest, "w", newline="", encoding="utf-8") as f:
            w = csv.writer(f)
            w.writerow(["file", "expected_pages"])
            w.writerows([["a.png", 1], ["b.tif", 3], ["never-came.png", 1]])
    report = ingest_batch_local(settings, SITE, str(src), str(manifest) if manifest else None)
    return ref, open_store(ref.store_url), report.batch_id


def test_clean_batch_passes_and_report_is_stored(tmp_path: Path, site_settings) -> None:  # type: ignore[no-untyped-def]
    ref, store, batch_id = _batch(tmp_path, site_settings)
    report = check_batch(ref.catalog_url, store, SITE, batch_id)
    assert report.passed, report.problems
    assert (report.masters, report.documents) == (2, 2)
    key = store_report(store, report)
    assert b'"passed": true' in store.get(key)
    assert "真实性" in markdown(report.to_dict())


def test_damage_is_named(tmp_path: Path, site_settings) -> None:  # type: ignore[no-untyped-def]
    ref, store, batch_id = _batch(tmp_path, site_settings, with_manifest=True)
    with session_scope(ref.catalog_url) as s:
        png = s.scalars(select(Master).filter_by(original_name="a.png")).one()
        tif = s.scalars(select(Master).filter_by(original_name="b.tif")).one()
        middle = s.scalars(select(Page).filter_by(master_id=tif.id, page_index=1)).one()
        middle.seq = 7  # a gap in the document's page numbering
    path = Path(ref.store_url) / png.object_key  # bit rot in the local store
    data = bytearray(path.read_bytes())
    data[-20] ^= 0xFF
    path.write_bytes(bytes(data))
    report = check_batch(ref.catalog_url, store, SITE, batch_id)
    got = {(p.property, p.code, p.file) for p in report.problems}
    assert ("authenticity", "CHECKSUM_MISMATCH", "a.png") in got
    assert ("integrity", "PAGE_GAP", "b.tif") in got
    assert ("integrity", "MANIFEST_ITEM_MISSING", "never-came.png") in got
    assert not report.passed
    props = report.to_dict()["properties"]
    assert props["security"]["passed"] and not props["integrity"]["passed"]
