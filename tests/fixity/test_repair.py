"""Repair from a replica site, on a local store and on S3 (corruption by a raw client behind the store's back)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from sqlalchemy import select

from dangan.catalog.db import session_scope
from dangan.catalog.models import AuditEvent
from dangan.catalog.sites import add_site
from dangan.errors import ConfigError
from dangan.fixity import audit_registered_site, audit_site
from dangan.storage import LocalStore, ObjectStore
from dangan.storage.hashing import hash_stream
from dangan.storage.s3 import S3Store
from tests.fixity.conftest import REPLICA, SITE, Archive, add_replica, build_archive, corrupt_local, sha
from tests.fixtures_s3 import S3TestServer


def _rehash(store: ObjectStore, key: str) -> str:
    with store.open(key) as fh:
        return hash_stream(fh)[0]


def test_repair_from_replica_site_then_all_ok(archive: Archive, tmp_path: Path) -> None:
    replica = add_replica(archive, tmp_path)
    store = archive.store
    assert isinstance(store, LocalStore)
    corrupt_local(store, archive.masters[0])
    (store.root / archive.masters[1]).unlink()  # data gone, metadata left
    store.delete(archive.quarantine[0])  # gone entirely
    corrupt_local(store, archive.derivatives[0])
    report = audit_registered_site(archive.settings, SITE, repair_from=REPLICA)
    fixed = {archive.masters[0], archive.masters[1], archive.quarantine[0], archive.derivatives[0]}
    assert {f.key for f in report.repaired} == fixed == {f.key for f in report.findings}
    assert report.passed and report.counts()["repaired"] == 4 and report.counts()["failed"] == 0
    for key in fixed:
        assert store.get(key) == replica.get(key)
        assert _rehash(store, key) == store.stat(key).sha256
    assert store.stat(archive.masters[1]).retain_until is not None  # retention kept
    again = audit_site(archive.ref.catalog_url, store, SITE)
    assert again.passed and again.findings == [] and again.ok == len(archive.all_keys)
    with session_scope(archive.ref.catalog_url) as s:
        repaired = s.scalars(select(AuditEvent).where(AuditEvent.action == "fixity.repaired")).all()
    assert sorted(e.details["key"] for e in repaired) == sorted(fixed)
    assert {e.details["replica"] for e in repaired} == {replica.name}


def test_repair_refused_when_replica_cannot_supply_the_recorded_bytes(archive: Archive, tmp_path: Path) -> None:
    replica = add_replica(archive, tmp_path)
    store = archive.store
    assert isinstance(store, LocalStore)
    damaged, absent = archive.masters[0], archive.masters[1]
    for s in (store, replica):
        corrupt_local(s, damaged)  # the replica rotted too
    corrupt_local(store, absent)
    (replica.root / absent).unlink()
    (replica.root / ".meta" / f"{absent}.json").unlink()
    before = store.get(damaged)
    report = audit_registered_site(archive.settings, SITE, repair_from=REPLICA)
    assert {f.key: f.repair_error for f in report.failures} == {damaged: "REPLICA_DAMAGED", absent: "REPLICA_MISSING"}
    assert not report.passed and report.repaired == []
    assert store.get(damaged) == before  # nothing half-restored


def test_repair_from_must_be_another_site(archive: Archive) -> None:
    # A site sharing the store is a fine source now (its copies live under its own keys); the site itself is not.
    add_site(archive.settings, REPLICA, "同一存储", store_url=archive.ref.store_url)
    assert audit_registered_site(archive.settings, SITE, repair_from=REPLICA).passed
    with pytest.raises(ConfigError) as refused:
        audit_registered_site(archive.settings, SITE, repair_from=SITE)
    assert refused.value.code == "FIXITY_REPAIR_SOURCE_INVALID"


def test_s3_classification_and_repair(s3_server: S3TestServer, s3_bucket: str, tmp_path: Path) -> None:
    archive = build_archive(tmp_path, store_url=s3_server.url(s3_bucket, "archive", object_lock=True))
    store = archive.store
    assert isinstance(store, S3Store) and store.supports_retention()
    replica = add_replica(archive, tmp_path)
    raw = s3_server.minio_client()
    rotted, overwritten, deleted = archive.masters
    bad = b"not the scan any more"
    # Silent rot: bytes differ, the fixity metadata still says the original.
    raw.put_object(
        s3_bucket, f"archive/{rotted}", io.BytesIO(bad), len(bad), metadata={"sha256": store.stat(rotted).sha256}
    )
    # A raw overwrite without dangan's metadata, and a delete (a delete marker on top of the locked version).
    raw.put_object(s3_bucket, f"archive/{overwritten}", io.BytesIO(bad), len(bad))
    raw.remove_object(s3_bucket, f"archive/{deleted}")
    stray = b"master stored just before a crash"
    untracked = f"sites/{SITE}/masters/{sha(stray)[:2]}/{sha(stray)}.png"
    store.put(untracked, stray, sha256=sha(stray))

    report = audit_site(archive.ref.catalog_url, store, SITE)
    assert {f.key: str(f.status) for f in report.findings} == {
        rotted: "changed",
        overwritten: "changed",
        deleted: "missing",
        untracked: "untracked",
    }
    by_key = {f.key: f for f in report.findings}
    assert by_key[rotted].recorded == by_key[rotted].expected != by_key[rotted].found == sha(bad)
    assert by_key[overwritten].recorded is None and by_key[overwritten].found == sha(bad)

    fixed = audit_registered_site(archive.settings, SITE, repair_from=REPLICA)
    assert {f.key for f in fixed.repaired} == {rotted, overwritten, deleted}
    assert fixed.passed and [f.key for f in fixed.findings if not f.repaired] == [untracked]
    for key in archive.masters:
        info = store.stat(key)
        assert store.get(key) == replica.get(key) and info.sha256 == sha(replica.get(key))
        assert info.retain_until is not None  # object-lock retention re-applied
    final = audit_site(archive.ref.catalog_url, store, SITE)
    assert final.passed and [f.key for f in final.findings] == [untracked] and store.exists(untracked)
