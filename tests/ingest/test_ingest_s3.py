"""Ingest on the S3 backend: an S3 inbox prefix as source, masters stored with object-lock retention."""

from __future__ import annotations

import hashlib

from sqlalchemy import select

from dangan.catalog.db import session_scope
from dangan.catalog.models import Master, QuarantineItem
from dangan.catalog.sites import add_site
from dangan.config import load_settings
from dangan.ingest.batch import ingest_batch_local
from dangan.storage.factory import open_store
from tests.ingest import badfiles


def test_s3_inbox_to_s3_archive_with_retention(s3_server, s3_bucket, tmp_path) -> None:  # type: ignore[no-untyped-def]
    settings = load_settings(data_dir=tmp_path / "data")
    archive_url = s3_server.url(s3_bucket, "archive", object_lock=True)
    ref = add_site(settings, "330106", "西湖区", store_url=archive_url)
    inbox_url = s3_server.url(s3_bucket + "-inbox", "scanner-7/2026-11-27")
    inbox = open_store(inbox_url)
    files = {"p1/a.png": badfiles.good_png(), "p1/b.tif": badfiles.multipage_tiff(2), "p2/zero.tif": b""}
    for key, data in files.items():
        inbox.put(key, data, sha256=hashlib.sha256(data).hexdigest())
    report = ingest_batch_local(settings, "330106", inbox_url)
    assert report.files == 3 and report.accepted_files == 2 and report.pages == 3
    assert [(q.file, q.code) for q in report.quarantined] == [("p2/zero.tif", "INGEST_EMPTY_FILE")]
    archive = open_store(ref.store_url)
    assert archive.supports_retention()
    with session_scope(ref.catalog_url) as s:
        masters = s.scalars(select(Master)).all()
        assert {m.original_name for m in masters} == {"p1/a.png", "p1/b.tif"}
        for m in masters:
            info = archive.stat(m.object_key)
            assert info.sha256 == m.sha256 and archive.get(m.object_key) == files[m.original_name]
            assert info.retain_until is not None and info.retain_until.year >= m.created_at.year + 29
        assert s.scalars(select(QuarantineItem)).one().object_key is not None
    again = ingest_batch_local(settings, "330106", inbox_url)
    assert again.outcomes == {"already": 2, "quarantined": 1}
