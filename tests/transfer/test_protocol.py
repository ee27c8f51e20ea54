"""The transfer protocol on real catalogs and stores: happy path, idempotency, concurrency, permanent faults."""

from __future__ import annotations

import hashlib
import io
import os
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from dangan.catalog.db import session_scope
from dangan.catalog.models import AuditEvent, Master, Page, Person, Transfer
from dangan.catalog.sites import SiteRef
from dangan.config import Settings
from dangan.storage import LocalStore, ObjectStore, open_store
from dangan.transfer import request_transfer, run_step, run_transfer, verify_receipt
from dangan.transfer.errors import ReceiptInvalid, TransferPersonNotFound, TransferSameSite
from dangan.transfer.keys import Trust, key_path
from dangan.transfer.protocol import default_opener, receipt_key
from tests.transfer.archive import DST, SRC, make_archive, resident, row_counts, sha
from tests.transfer.conftest import FAST


def actions(url: str, transfer_id: str) -> list[str]:
    with session_scope(url) as s:
        return list(
            s.scalars(select(AuditEvent.action).where(AuditEvent.entity_id == transfer_id).order_by(AuditEvent.id))
        )


def snapshot_store(store: ObjectStore) -> dict[str, str]:
    """Every object and the SHA-256 of its actual bytes."""
    return {o.key: hashlib.sha256(store.get(o.key)).hexdigest() for o in store.list("")}


def assert_arrived(settings: Settings, src: SiteRef, dst: SiteRef, archive: Any, out: Any) -> None:
    """Invariants after a transfer: files present with matching hashes, rows once, receipt valid."""
    assert out.state == "done", out
    dst_store = open_store(dst.store_url)
    with session_scope(dst.catalog_url) as s:
        masters = list(s.scalars(select(Master).where(Master.site_code == DST)))
        for m in masters:
            assert hashlib.sha256(dst_store.get(m.object_key)).hexdigest() == m.sha256
        person = s.scalars(select(Person).filter_by(site_code=DST, resident_id=archive.resident_id)).one()
        assert person.status == "active"
    assert {m.sha256 for m in masters} >= {sha(b) for k, b in archive.masters.items() if "/masters/" in k}
    assert row_counts(dst.catalog_url, DST) == row_counts(src.catalog_url, SRC) | {
        "transfers": row_counts(dst.catalog_url, DST)["transfers"]
    }
    with session_scope(src.catalog_url) as s:
        source_person = s.scalars(select(Person).filter_by(site_code=SRC, resident_id=archive.resident_id)).one()
        assert (source_person.status, source_person.transferred_to) == ("transferred_out", DST)
    verify_receipt(out.receipt, Trust(settings))
    stored = open_store(src.store_url).get(receipt_key(SRC, out.transfer_id))
    assert stored == dst_store.get(receipt_key(DST, out.transfer_id))


def test_transfer_end_to_end(settings: Settings, sites: tuple[SiteRef, SiteRef]) -> None:
    src, dst = sites
    archive = make_archive(src, 1)
    src_store = open_store(src.store_url)
    before = {k: v for k, v in snapshot_store(src_store).items() if "/packages/" not in k}
    out = run_transfer(settings, archive.resident_id, SRC, DST, retry=FAST)
    assert_arrived(settings, src, dst, archive, out)
    assert out.receipt["counts"] == {
        "dossiers": 2, "documents": 2, "masters": 4, "pages": 4, "derivatives": 4, "ocr_results": 4, "fields": 2,
    }  # fmt: skip
    assert out.receipt["checks"] == {"authenticity": True, "integrity": True, "usability": True, "security": True}
    assert set(out.receipt["manifest"]["algorithms"]) >= {"sha256"}
    after = snapshot_store(src_store)
    assert all(after[k] == v for k, v in before.items())  # source objects untouched
    trail = actions(src.catalog_url, out.transfer_id)
    assert trail[:1] == ["transfer.requested"]
    for state in ("packaged", "copied", "verified", "committed", "done"):
        assert trail.count(f"transfer.{state}") == 1, trail
    tampered = {**out.receipt, "to_site": "330100"}
    with pytest.raises(ReceiptInvalid):
        verify_receipt(tampered, Trust(settings))
    assert archive.resident_id not in str(out.receipt)  # masked only
    assert oct(key_path(settings, DST).stat().st_mode & 0o777) == "0o600"


def test_same_request_twice_and_concurrently_is_one_transfer(
    settings: Settings, sites: tuple[SiteRef, SiteRef]
) -> None:
    src, dst = sites
    archive = make_archive(src, 2)
    results: list[Any] = []
    errors: list[BaseException] = []

    def go() -> None:
        try:
            results.append(run_transfer(settings, archive.resident_id, SRC, DST, retry=FAST))
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=go) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with session_scope(src.catalog_url) as s:  # on failure, say why the transfer failed
        why = [(t.state, t.reason_code) for t in s.scalars(select(Transfer))]
    assert not errors, (errors, why)
    assert len({r.transfer_id for r in results}) == 1
    again = run_transfer(settings, archive.resident_id, SRC, DST, retry=FAST)  # delivered again, later
    assert again.transfer_id == results[0].transfer_id and again.state == "done"
    assert_arrived(settings, src, dst, archive, again)
    assert row_counts(src.catalog_url, SRC)["transfers"] == 1
    assert actions(src.catalog_url, again.transfer_id).count("transfer.committed") == 1


def test_request_refusals(settings: Settings, sites: tuple[SiteRef, SiteRef]) -> None:
    with pytest.raises(TransferPersonNotFound) as info:
        request_transfer(settings, resident(99), SRC, DST)
    assert resident(99) not in str(info.value)
    with pytest.raises(TransferSameSite):
        request_transfer(settings, resident(99), SRC, SRC)


class CorruptingStore:
    """Wraps a store; bytes read from one key arrive with one byte flipped (corruption in transit)."""

    def __init__(self, inner: ObjectStore, key: str) -> None:
        self.inner, self.key, self.name = inner, key, inner.name

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    @contextmanager
    def open(self, key: str) -> Any:
        with self.inner.open(key) as fh:
            data = fh.read()
        if key == self.key:
            data = data[:-20] + bytes([data[-20] ^ 0xFF]) + data[-19:]
        yield io.BytesIO(data)

    def copy(self, src_key: str, dst_key: str, *, dst_store: Any = None) -> Any:
        from dangan.storage import stream_copy

        return stream_copy(self, src_key, dst_store, dst_key)  # type: ignore[arg-type]


def test_corruption_in_transit_fails_permanently(settings: Settings, sites: tuple[SiteRef, SiteRef]) -> None:
    src, dst = sites
    archive = make_archive(src, 3)
    tid = request_transfer(settings, archive.resident_id, SRC, DST)
    assert run_step(settings, SRC, tid) == "packaged"  # honest source read while packaging
    victim = sorted(k for k in archive.masters if "/masters/" in k)[1]
    opens: list[str] = []

    def opener(ref: SiteRef) -> Any:
        store = default_opener(ref)
        if ref.code == SRC:
            opens.append(ref.code)
            return CorruptingStore(store, victim)
        return store

    from dangan.transfer.driver import context, drive

    state = drive(lambda: context(settings, SRC, tid, opener=opener, actor="test"), FAST)
    # no retry of a permanent error: one copy, then the cleanup reads the source's manifest for what it copied
    assert state == "failed" and len(opens) == 2
    with session_scope(src.catalog_url) as s:
        row = s.get(Transfer, tid)
        assert row is not None and row.reason_code == "STORE_CHECKSUM_MISMATCH"
        event = s.scalars(select(AuditEvent).filter_by(entity_id=tid, action="transfer.failed")).one()
        assert event.outcome == "failed" and victim.split("/")[-1][:12] in str(event.details)
        assert s.scalars(select(Person).filter_by(site_code=SRC)).one().status == "active"
    assert row_counts(dst.catalog_url, DST)["persons"] == 0
    assert not open_store(dst.store_url).exists(victim.replace(SRC, DST, 1))


def test_tampering_at_receiver_fails_verification(settings: Settings, sites: tuple[SiteRef, SiteRef]) -> None:
    src, dst = sites
    archive = make_archive(src, 4)
    tid = request_transfer(settings, archive.resident_id, SRC, DST)
    assert run_step(settings, SRC, tid) == "packaged"
    assert run_step(settings, SRC, tid) == "copied"
    store = open_store(dst.store_url)
    assert isinstance(store, LocalStore)
    victim = next(o.key for o in store.list(f"sites/{DST}/masters/"))
    path = store.root / victim
    os.chmod(path, 0o644)
    path.write_bytes(path.read_bytes()[:-30])  # truncated at rest
    assert run_step(settings, SRC, tid) == "failed"
    with session_scope(src.catalog_url) as s:
        assert s.get(Transfer, tid).reason_code == "TRANSFER_VERIFY_FAILED"  # type: ignore[union-attr]
        event = s.scalars(select(AuditEvent).filter_by(entity_id=tid, action="transfer.failed")).one()
    named = event.details["error"]["details"]["files"]
    assert named == [f"data/masters/{Path(victim).name}"]
    codes = {p["code"] for p in event.details["error"]["details"]["problems"]}
    assert {"CHECKSUM_MISMATCH", "SIZE_MISMATCH", "DECODE_FAILED"} <= codes
    assert row_counts(dst.catalog_url, DST)["persons"] == 0
    # a new request after the failure is a new transfer (the failed one stays as the record)
    assert request_transfer(settings, archive.resident_id, SRC, DST) != tid


def test_separate_catalog_and_s3_destination(
    settings: Settings, catalog_url: str, s3_server: Any, s3_bucket: str
) -> None:
    from tests.transfer.archive import register_sites

    src, dst = register_sites(settings, dst_store=s3_server.url(s3_bucket, "dangan"), dst_catalog=catalog_url)
    archive = make_archive(src, 5)
    out = run_transfer(settings, archive.resident_id, SRC, DST, retry=FAST)
    assert_arrived(settings, src, dst, archive, out)
    with session_scope(catalog_url) as s:
        mirror = s.get(Transfer, out.transfer_id)
        assert mirror is not None and mirror.state == "done" and mirror.receipt == out.receipt
    assert "transfer.committed" in actions(catalog_url, out.transfer_id)


def test_release_source_copy_keeps_masters(settings: Settings, sites: tuple[SiteRef, SiteRef]) -> None:
    src, dst = sites
    archive = make_archive(src, 9)
    out = run_transfer(settings, archive.resident_id, SRC, DST, retry=FAST, keep_source=False)
    assert out.state == "done"
    store = open_store(src.store_url)
    left = {o.key for o in store.list(f"sites/{SRC}/")}
    masters = {k for k in archive.masters if "/masters/" in k}
    assert masters <= left  # protected originals stay at the source
    assert not (set(archive.masters) - masters) & left  # derivatives and OCR objects released
    assert not any("/packages/" in k for k in left)
    counts = row_counts(src.catalog_url, SRC)
    assert (counts["derivatives"], counts["masters"], counts["pages"]) == (0, 4, 4)
    assert row_counts(dst.catalog_url, DST)["derivatives"] == 4
    assert "transfer.source_released" in actions(src.catalog_url, out.transfer_id)


def test_one_open_transfer_per_person_and_source(
    settings: Settings, sites: tuple[SiteRef, SiteRef], third_site: SiteRef
) -> None:
    """A second destination while the first transfer is open is refused; the archive is never live twice."""
    from dangan.transfer.errors import TransferAlreadyOpen, TransferPersonNotActive

    src, _ = sites
    archive = make_archive(src, 40)
    first = request_transfer(settings, archive.resident_id, SRC, DST)
    with pytest.raises(TransferAlreadyOpen) as info:
        request_transfer(settings, archive.resident_id, SRC, third_site.code)
    assert info.value.details["transfer_id"] == first and archive.resident_id not in str(info.value)
    assert run_transfer(settings, archive.resident_id, SRC, DST, retry=FAST).state == "done"
    with pytest.raises(TransferPersonNotActive):  # it left: a later request elsewhere is refused as well
        request_transfer(settings, archive.resident_id, SRC, third_site.code)
    with session_scope(src.catalog_url) as s:  # one catalog holds all three sites here
        live = s.scalars(select(Person.site_code).filter_by(resident_id=archive.resident_id, status="active")).all()
    assert live == [DST]


def test_offline_bag_after_an_online_transfer_elsewhere_is_not_committed(
    settings: Settings, sites: tuple[SiteRef, SiteRef], third_site: SiteRef, tmp_path: Path
) -> None:
    """A bag exported without a destination, imported after the person already moved online: refused."""
    from dangan.transfer import export_package, import_package

    src, _ = sites
    archive = make_archive(src, 41)
    bag_dir = Path(export_package(settings, archive.resident_id, SRC, tmp_path / "usb")["path"])
    assert run_transfer(settings, archive.resident_id, SRC, DST, retry=FAST).state == "done"
    out = import_package(settings, bag_dir, third_site.code, retry=FAST)
    assert (out.state, out.reason_code) == ("failed", "TRANSFER_PERSON_NOT_ACTIVE")
    with session_scope(src.catalog_url) as s:  # one catalog holds all three sites here
        live = s.scalars(select(Person.site_code).filter_by(resident_id=archive.resident_id, status="active")).all()
        source = s.scalars(select(Person).filter_by(site_code=SRC, resident_id=archive.resident_id)).one()
        assert source.transferred_to == DST  # the pointer was not moved to the third site
    assert live == [DST]


def test_field_flags_travel_with_the_archive(settings: Settings, sites: tuple[SiteRef, SiteRef]) -> None:
    """A field still in conflict arrives flagged: the receiver's validation sends it to review as well."""
    from dangan.catalog.models import Document, FieldValue

    src, dst = sites
    archive = make_archive(src, 43, documents=1)
    with session_scope(src.catalog_url) as s:
        person_docs = select(Document.id).join(Page, Page.document_id == Document.id).where(Page.site_code == SRC)
        row = s.scalars(select(FieldValue).where(FieldValue.document_id.in_(person_docs))).first()
        assert row is not None
        row.flags = ["CONFLICT"]
    assert run_transfer(settings, archive.resident_id, SRC, DST, retry=FAST).state == "done"
    with session_scope(dst.catalog_url) as s:
        arrived = s.scalars(
            select(FieldValue.flags)
            .join(Document, Document.id == FieldValue.document_id)
            .where(Document.site_code == DST, FieldValue.name == "name")
        ).all()
    assert ["CONFLICT"] in arrived


def test_release_follows_the_setting(settings: Settings, sites: tuple[SiteRef, SiteRef]) -> None:
    """``transfer.keep_source = false`` releases the source copy without any option (migrations use this)."""
    from dangan.config import TransferSettings

    src, _ = sites
    archive = make_archive(src, 44)
    releasing = settings.model_copy(update={"transfer": TransferSettings(keep_source=False)})
    out = run_transfer(releasing, archive.resident_id, SRC, DST, retry=FAST)
    assert out.state == "done" and "transfer.source_released" in actions(src.catalog_url, out.transfer_id)
    kept = run_transfer(settings, make_archive(src, 45).resident_id, SRC, DST, retry=FAST)
    assert "transfer.source_released" not in actions(src.catalog_url, kept.transfer_id)  # default: kept
