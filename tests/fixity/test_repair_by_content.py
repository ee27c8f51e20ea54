"""Repair by content (another county's copy, a replica store) and scheduled replication with its own audit.

Archives come from the transfer test fixtures (catalog rows + small real PNG masters); corruption is done behind
the store's back (disk rot on a folder store, a raw client on S3).
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from dangan.catalog.db import session_scope
from dangan.catalog.models import AuditEvent
from dangan.catalog.replica_models import Replica
from dangan.config import Settings, load_settings
from dangan.errors import DanganError
from dangan.fixity import audit_registered_site, repair_finder
from dangan.fixity.locate import restore_object
from dangan.fixity.plan import resolve_targets
from dangan.replication import audit_replicas, replicate_site
from dangan.storage import LocalStore, ObjectStore, open_store
from dangan.transfer import run_transfer
from tests.fixity.conftest import corrupt_local
from tests.fixtures_s3 import S3TestServer
from tests.transfer.archive import DST, SRC, make_archive, register_sites, sha
from tests.transfer.conftest import FAST


def with_replica(settings: Settings, url: str, **target: Any) -> Settings:
    """The same data folder (same site registry) with one replica target ``offsite``."""
    return load_settings(
        data_dir=settings.data_dir, actor="auditor", replication={"targets": {"offsite": {"url": url, **target}}}
    )


def masters_of(archive: Any) -> list[str]:
    return sorted(k for k in archive.masters if "/masters/" in k)


def repaired_events(url: str) -> list[dict[str, Any]]:
    with session_scope(url) as s:
        return [e.details for e in s.scalars(select(AuditEvent).where(AuditEvent.action == "fixity.repaired"))]


def rot_s3(server: S3TestServer, store: ObjectStore, bucket: str, prefix: str, key: str) -> None:
    """Silent rot on S3: other bytes under the same key, the fixity metadata still saying the original."""
    bad = b"not the scan any more"
    server.minio_client().put_object(
        bucket, f"{prefix}/{key}", io.BytesIO(bad), len(bad), metadata={"sha256": str(store.stat(key).sha256)}
    )


def test_master_repaired_from_the_county_it_was_transferred_to(settings: Settings) -> None:
    src, _ = register_sites(settings)  # the transfer tests' two counties, each with its own folder store
    archive = make_archive(src, 1)
    assert run_transfer(settings, archive.resident_id, SRC, DST, retry=FAST).state == "done"
    store = open_store(src.store_url)
    assert isinstance(store, LocalStore)
    damaged = masters_of(archive)[0]
    corrupt_local(store, damaged)
    (store.root / masters_of(archive)[1]).unlink()  # gone, metadata left

    report = audit_registered_site(settings, SRC, repair=True)

    assert {f.key for f in report.repaired} == set(masters_of(archive)[:2]) and report.passed
    for key in masters_of(archive)[:2]:
        assert store.get(key) == archive.masters[key]
    events = {e["key"]: e for e in repaired_events(src.catalog_url)}
    digest = sha(archive.masters[damaged])
    assert events[damaged]["source"] == f"site:{DST}" and events[damaged]["sha256"] == digest
    # found by content under the receiving county's own key, which the damaged site never uses
    assert events[damaged]["from_key"] == damaged.replace(f"sites/{SRC}/", f"sites/{DST}/")
    assert events[damaged]["sm3"]  # verified with SM3 too (this OpenSSL has it)


@pytest.mark.parametrize("backend", ["local", "s3"])
def test_master_repaired_from_a_replica_store(
    settings: Settings, tmp_path: Path, backend: str, request: pytest.FixtureRequest
) -> None:
    if backend == "s3":
        s3: S3TestServer = request.getfixturevalue("s3_server")
        bucket = request.getfixturevalue("s3_bucket")
        src, _ = register_sites(settings, src_store=s3.url(bucket, "archive", object_lock=True))
        cfg = with_replica(settings, s3.url(f"{bucket}-replica", "copy"))
    else:
        src, _ = register_sites(settings)
        cfg = with_replica(settings, str(tmp_path / "replica"))
    archive = make_archive(src, 2, documents=1)
    first = replicate_site(cfg, SRC)
    assert [(t.target, t.copied, t.failed) for t in first] == [("offsite", 2, [])]
    store = open_store(src.store_url)
    damaged = masters_of(archive)[0]
    if isinstance(store, LocalStore):
        corrupt_local(store, damaged)
    else:
        rot_s3(s3, store, bucket, "archive", damaged)
    targets = resolve_targets(src.catalog_url, SRC, [damaged])
    assert targets[0].sm3  # the replica's SM3 joins the catalog's expectation

    report = audit_registered_site(cfg, SRC, repair=True)

    assert [f.key for f in report.repaired] == [damaged] and report.passed
    assert store.get(damaged) == archive.masters[damaged]
    (event,) = repaired_events(src.catalog_url)
    assert event["source"] == "replica:offsite" and event["from_key"] == damaged
    assert event["sha256"] == sha(archive.masters[damaged]) == store.stat(damaged).sha256


def test_no_verified_copy_anywhere_is_refused_and_nothing_is_written(settings: Settings, tmp_path: Path) -> None:
    src, _ = register_sites(settings)
    cfg = with_replica(settings, str(tmp_path / "replica"))
    archive = make_archive(src, 3, documents=1, pages=1)
    replicate_site(cfg, SRC)
    (damaged,) = masters_of(archive)
    store, replica = open_store(src.store_url), open_store(str(tmp_path / "replica"))
    assert isinstance(store, LocalStore) and isinstance(replica, LocalStore)
    corrupt_local(store, damaged)
    corrupt_local(replica, damaged)  # the only other copy rotted too
    before, replica_before = store.get(damaged), replica.get(damaged)

    report = audit_registered_site(cfg, SRC, repair=True)
    assert [(f.key, f.repair_error) for f in report.failures] == [(damaged, "REPLICA_DAMAGED")]
    target = resolve_targets(src.catalog_url, SRC, [damaged])[0]
    with pytest.raises(DanganError) as refused:
        restore_object(store, src.store_url, target, repair_finder(cfg, SRC))
    assert refused.value.code == "FIXITY_NO_VERIFIED_COPY" and refused.value.hint
    assert store.get(damaged) == before and replica.get(damaged) == replica_before  # nothing written
    assert repaired_events(src.catalog_url) == []


def test_replication_is_idempotent_and_its_audit_finds_a_damaged_replica(settings: Settings, tmp_path: Path) -> None:
    src, _ = register_sites(settings)
    cfg = with_replica(settings, str(tmp_path / "replica"))
    archive = make_archive(src, 4, documents=1)
    keys = masters_of(archive)
    assert [(t.copied, t.already) for t in replicate_site(cfg, SRC)] == [(2, 0)]
    assert [(t.copied, t.recopied, t.already) for t in replicate_site(cfg, SRC)] == [(0, 0, 2)]  # copies nothing
    replica = open_store(str(tmp_path / "replica"))
    assert isinstance(replica, LocalStore)
    assert all(replica.get(k) == archive.masters[k] for k in keys)

    corrupt_local(replica, keys[0])
    (audit,) = audit_replicas(cfg, SRC)
    assert (audit.damaged, audit.missing, audit.already) == (1, 0, 1)
    assert audit.failed == [{"key": keys[0], "code": "REPLICA_DAMAGED"}]
    with session_scope(src.catalog_url) as s:
        rows = {r.object_key: r.status for r in s.scalars(select(Replica))}
        found = s.scalars(select(AuditEvent.action).where(AuditEvent.action.like("replication.%"))).all()
    assert rows == {keys[0]: "damaged", keys[1]: "ok"} and "replication.damaged" in found

    assert [(t.copied, t.recopied) for t in replicate_site(cfg, SRC)] == [(0, 1)]  # brought back
    assert replica.get(keys[0]) == archive.masters[keys[0]]
    assert [(t.damaged, t.already) for t in audit_replicas(cfg, SRC)] == [(0, 2)]


def test_a_damaged_master_is_never_replicated_and_an_unmounted_medium_is_refused(
    settings: Settings, tmp_path: Path
) -> None:
    src, _ = register_sites(settings)
    archive = make_archive(src, 5, documents=1, pages=1)
    (key,) = masters_of(archive)
    store = open_store(src.store_url)
    assert isinstance(store, LocalStore)
    corrupt_local(store, key)
    cfg = with_replica(settings, str(tmp_path / "replica"))
    (out,) = replicate_site(cfg, SRC)
    assert out.copied == 0 and out.failed == [{"key": key, "code": "REPLICATION_SOURCE_DAMAGED"}]
    assert not open_store(str(tmp_path / "replica")).exists(key)
    usb = with_replica(settings, str(tmp_path / "not-mounted"), removable=True)
    with pytest.raises(DanganError) as refused:
        replicate_site(usb, SRC)
    assert refused.value.code == "REPLICATION_TARGET_UNAVAILABLE" and not (tmp_path / "not-mounted").exists()
