"""OCR JSON/hOCR objects are verified against digests in the catalog, not only the store's own metadata."""

from __future__ import annotations

import json

from sqlalchemy import select, update

from dangan.catalog.db import session_scope
from dangan.catalog.models import AuditEvent, OcrResult
from dangan.fixity import audit_site
from dangan.fixity.adopt import ADOPT_MISMATCH, adopt_ocr_digests
from dangan.storage import LocalStore
from tests.fixity.conftest import SITE, Archive, sha


def _rewrite_with_sidecar(store: LocalStore, key: str, data: bytes) -> None:
    """Replace an object and its metadata sidecar consistently (what a store-level attacker or bug can do)."""
    path = store.root / key
    path.chmod(0o644)
    path.write_bytes(data)
    meta_path = store.root / ".meta" / f"{key}.json"
    meta = json.loads(meta_path.read_text())
    meta["sha256"] = sha(data)
    meta["size"] = len(data)
    meta_path.write_text(json.dumps(meta))


def test_rewritten_ocr_json_and_sidecar_fail_fixity(archive: Archive) -> None:
    store = archive.store
    assert isinstance(store, LocalStore)
    json_key, hocr_key = archive.ocr
    forged = json.dumps({"lines": [{"text": "伪造的内容"}]}, ensure_ascii=False).encode()
    _rewrite_with_sidecar(store, json_key, forged)
    assert store.stat(json_key).sha256 == sha(forged)  # the store alone now vouches for the forgery

    report = audit_site(archive.ref.catalog_url, store, SITE)

    assert not report.passed
    [finding] = report.failures
    assert (finding.key, finding.kind, str(finding.status)) == (json_key, "ocr", "changed")
    assert finding.code == "STORE_CHECKSUM_MISMATCH" and finding.found == sha(forged) != finding.expected
    assert finding.to_dict()["code"] == "STORE_CHECKSUM_MISMATCH"
    assert hocr_key in report.checked_keys


def test_rows_without_digest_are_unverifiable_until_adopted(archive: Archive) -> None:
    store = archive.store
    assert isinstance(store, LocalStore)
    json_key, hocr_key = archive.ocr
    with session_scope(archive.ref.catalog_url) as s:  # a row written before migration 0008
        s.execute(update(OcrResult).values(sha256=None, size=None, hocr_sha256=None, hocr_size=None))

    report = audit_site(archive.ref.catalog_url, store, SITE)
    assert {f.key: (str(f.status), f.code) for f in report.findings} == {
        json_key: ("unverifiable", "FIXITY_DIGEST_UNRECORDED"),
        hocr_key: ("unverifiable", "FIXITY_DIGEST_UNRECORDED"),
    }
    assert report.passed and report.counts()["unverifiable"] == 2  # reported, not a failure

    # the hOCR bytes no longer match the store's record: its digest is not adopted
    (store.root / hocr_key).chmod(0o644)
    (store.root / hocr_key).write_bytes(b"<html>rewritten</html>")
    adopted = adopt_ocr_digests(archive.ref.catalog_url, store, SITE, actor="auditor")
    assert adopted.adopted == [json_key] and adopted.refused == {hocr_key: ADOPT_MISMATCH}
    with session_scope(archive.ref.catalog_url) as s:
        row = s.scalars(select(OcrResult)).one()
        assert (row.sha256, row.size) == (sha(store.get(json_key)), len(store.get(json_key)))
        assert row.hocr_sha256 is None
        events = list(s.scalars(select(AuditEvent).where(AuditEvent.action == "fixity.adopted")))
    assert [e.details["key"] for e in events] == [json_key] and events[0].actor == "auditor"

    again = audit_site(archive.ref.catalog_url, store, SITE)
    assert {f.key: str(f.status) for f in again.findings} == {hocr_key: "unverifiable"}
