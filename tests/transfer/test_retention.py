"""A master keeps its retention period when its archive moves to another county."""

from __future__ import annotations

import csv
from pathlib import Path

from sqlalchemy import select

from dangan.catalog.db import session_scope
from dangan.catalog.models import Master
from dangan.config import Settings
from dangan.ids import make_id
from dangan.ingest.batch import ingest_batch_local
from dangan.storage.factory import open_store
from dangan.transfer import run_transfer
from tests.ingest import badfiles
from tests.transfer.archive import DST, SRC
from tests.transfer.conftest import FAST


def test_masters_keep_retention_at_the_receiver(settings: Settings, sites, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from datetime import date

    src, dst = sites
    rid = make_id(SRC, date(1980, 5, 17), 12, "男")
    hot = tmp_path / "hot"
    badfiles.write(hot, "reg.png", badfiles.good_png())
    manifest = tmp_path / "manifest.csv"
    with open(manifest, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["file", "resident_id", "name", "dossier_category", "retention", "form_type", "expected_pages"])
        w.writerow(["reg.png", rid, "张三", "养老保险", "30", "registration", "1"])
    assert ingest_batch_local(settings, SRC, str(hot), str(manifest)).accepted_files == 1
    src_store, dst_store = open_store(src.store_url), open_store(dst.store_url)
    with session_scope(src.catalog_url) as s:
        key = s.scalars(select(Master.object_key)).one()
    until = src_store.stat(key).retain_until
    assert until is not None and until.year >= date.today().year + 29
    outcome = run_transfer(settings, rid, SRC, DST, retry=FAST)
    assert outcome.state == "done", outcome.reason_code
    with session_scope(dst.catalog_url) as s:
        dst_key = s.scalars(select(Master.object_key).where(Master.site_code == DST)).one()
    assert dst_store.stat(dst_key).retain_until == until
    assert dst_store.get(dst_key) == src_store.get(key)
