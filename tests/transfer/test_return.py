"""A → B → A: the returning archive is matched with the copy A kept, never registered twice."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from dangan.catalog.db import session_scope
from dangan.catalog.models import (
    AuditEvent,
    Derivative,
    Document,
    Dossier,
    FieldValue,
    Master,
    OcrResult,
    Page,
    Person,
    ScanBatch,
)
from dangan.catalog.sites import SiteRef
from dangan.config import Settings, TransferSettings
from dangan.keys import master_key
from dangan.storage import open_store
from dangan.transfer import run_transfer
from tests.transfer.archive import DST, SRC, make_archive, png, row_counts, sha
from tests.transfer.conftest import FAST


def _person(url: str, site: str, rid: str) -> Person:
    with session_scope(url) as s:
        person = s.scalars(select(Person).filter_by(site_code=site, resident_id=rid)).one()
        s.expunge(person)
        return person


def _scan_at(site: SiteRef, rid: str, seed: int) -> None:
    """B scans one more document for the person (a new master, page and field)."""
    store = open_store(site.store_url)
    data = png(seed)
    key = master_key(site.code, sha(data), ".png")
    store.put(key, data, sha256=sha(data), content_type="image/png")
    with session_scope(site.catalog_url) as s:
        person = s.scalars(select(Person).filter_by(site_code=site.code, resident_id=rid)).one()
        dossier = s.scalars(select(Dossier).filter_by(person_id=person.id)).first()
        batch = ScanBatch(site_code=site.code, source="scanner/b", source_key=f"b{seed}", status="complete")
        s.add(batch)
        s.flush()
        doc = Document(
            site_code=site.code, dossier_id=dossier.id, batch_id=batch.id, source_file="new.png", page_count=1
        )
        s.add(doc)
        s.flush()
        master = Master(
            site_code=site.code,
            sha256=sha(data),
            size=len(data),
            format="png",
            object_key=key,
            original_name="new.png",
            batch_id=batch.id,
        )
        s.add(master)
        s.flush()
        s.add(Page(site_code=site.code, master_id=master.id, document_id=doc.id, seq=1, width=64, height=48))
        s.add(FieldValue(document_id=doc.id, name="employer", value="滨江某公司", confidence=0.9, box=[0, 0, 1, 1]))


def _correct_field(site: SiteRef, rid: str, value: str) -> None:
    """A reviewer at ``site`` corrects the person's first name field: version 2 becomes current."""
    with session_scope(site.catalog_url) as s:
        docs = (
            select(Document.id)
            .join(Dossier)
            .join(Person)
            .where(Person.site_code == site.code, Person.resident_id == rid)
        )
        old = s.scalars(select(FieldValue).where(FieldValue.document_id.in_(docs), FieldValue.name == "name")).first()
        old.is_current = False
        s.add(FieldValue(document_id=old.document_id, name="name", value=value, confidence=1.0, box=old.box, version=2))


def test_returning_archive_adds_only_what_is_new(settings: Settings, sites: tuple[SiteRef, SiteRef]) -> None:
    src, dst = sites
    archive = make_archive(src, 51)
    assert run_transfer(settings, archive.resident_id, SRC, DST, retry=FAST).state == "done"
    kept = row_counts(src.catalog_url, SRC)
    _scan_at(dst, archive.resident_id, 51_900)
    _correct_field(dst, archive.resident_id, "张叁")
    back = run_transfer(settings, archive.resident_id, DST, SRC, retry=FAST)
    assert back.state == "done", back
    after = row_counts(src.catalog_url, SRC)
    new = {"documents": 1, "masters": 1, "pages": 1, "fields": 2, "transfers": 1}  # the scan and the correction
    assert after == {k: v + new.get(k, 0) for k, v in kept.items()}
    person = _person(src.catalog_url, SRC, archive.resident_id)
    assert (person.status, person.transferred_to) == ("active", None)
    left = _person(dst.catalog_url, DST, archive.resident_id)
    assert (left.status, left.transferred_to) == ("transferred_out", SRC)
    with session_scope(src.catalog_url) as s:
        docs = select(Document.id).join(Dossier).where(Dossier.person_id == person.id)
        current = s.scalars(
            select(FieldValue.value).where(
                FieldValue.document_id.in_(docs), FieldValue.name == "name", FieldValue.is_current
            )
        ).all()
        returned = s.scalars(select(AuditEvent).filter_by(action="person.returned", site_code=SRC)).one()
    assert sorted(current) == ["张三", "张叁"]  # the corrected document follows B's review, the other is unchanged
    assert returned.details["held_pages"] == archive.pages and returned.details["held_documents"] == 2


def test_returning_archive_restores_a_released_copy(settings: Settings, sites: tuple[SiteRef, SiteRef]) -> None:
    src, _ = sites
    archive = make_archive(src, 52)
    releasing = settings.model_copy(update={"transfer": TransferSettings(keep_source=False)})
    before = row_counts(src.catalog_url, SRC)
    assert run_transfer(releasing, archive.resident_id, SRC, DST, retry=FAST).state == "done"
    assert row_counts(src.catalog_url, SRC)["derivatives"] == before["derivatives"] - archive.pages  # released
    assert run_transfer(settings, archive.resident_id, DST, SRC, retry=FAST).state == "done"
    assert row_counts(src.catalog_url, SRC) == before | {"transfers": 2}
    store = open_store(src.store_url)
    with session_scope(src.catalog_url) as s:
        pages = select(Page.id).where(Page.site_code == SRC)
        derivatives = s.scalars(select(Derivative).where(Derivative.page_id.in_(pages))).all()
        ocr_keys = s.scalars(select(OcrResult.object_key).where(OcrResult.page_id.in_(pages))).all()
    assert len(derivatives) == archive.pages and all(store.exists(d.object_key) for d in derivatives)
    assert len(ocr_keys) == archive.pages and all(k and store.exists(k) for k in ocr_keys)


@pytest.mark.parametrize("diverged", ["field", "ocr"])
def test_a_diverged_kept_copy_is_refused_and_nothing_changes(
    settings: Settings, sites: tuple[SiteRef, SiteRef], diverged: str
) -> None:
    src, _ = sites
    archive = make_archive(src, 53)
    assert run_transfer(settings, archive.resident_id, SRC, DST, retry=FAST).state == "done"
    with session_scope(src.catalog_url) as s:  # someone edited the copy A kept, in place
        docs = select(Document.id).where(Document.site_code == SRC)
        if diverged == "field":
            s.scalars(select(FieldValue).where(FieldValue.document_id.in_(docs))).first().value = "李四"
        else:
            pages = select(Page.id).where(Page.site_code == SRC)
            s.scalars(select(OcrResult).where(OcrResult.page_id.in_(pages))).first().text = "改过的文字"
    kept = row_counts(src.catalog_url, SRC)
    back = run_transfer(settings, archive.resident_id, DST, SRC, retry=FAST)
    assert (back.state, back.reason_code) == ("failed", "TRANSFER_RECEIVER_CONFLICT")
    with session_scope(src.catalog_url) as s:
        failed = s.scalars(select(AuditEvent).filter_by(action="transfer.failed", entity_id=back.transfer_id)).one()
    message = failed.details["error"]["message"]
    assert "differ" in message and archive.resident_id not in message  # says why, person masked
    assert row_counts(src.catalog_url, SRC) == kept | {"transfers": kept["transfers"] + 1}
    assert _person(src.catalog_url, SRC, archive.resident_id).status == "transferred_out"
    assert _person(src.catalog_url, DST, archive.resident_id).status == "active"  # stays live where it is


def test_return_between_separate_catalogs(settings: Settings, catalog_url: str) -> None:
    """B on its own catalog (PostgreSQL when DANGAN_TEST_PG_URL is set): the return commits at A, B marks out."""
    from tests.transfer.archive import register_sites

    src, dst = register_sites(settings, dst_catalog=catalog_url)
    archive = make_archive(src, 54)
    assert run_transfer(settings, archive.resident_id, SRC, DST, retry=FAST).state == "done"
    kept = row_counts(src.catalog_url, SRC)
    _scan_at(dst, archive.resident_id, 54_900)
    assert run_transfer(settings, archive.resident_id, DST, SRC, retry=FAST).state == "done"
    after = row_counts(src.catalog_url, SRC)
    grown = {k: kept[k] + 1 for k in ("documents", "masters", "pages", "fields")}
    assert after == kept | grown | {"transfers": after["transfers"]}
    assert _person(src.catalog_url, SRC, archive.resident_id).status == "active"
    left = _person(dst.catalog_url, DST, archive.resident_id)
    assert (left.status, left.transferred_to) == ("transferred_out", SRC)


def test_conflicting_field_candidates_and_newer_states_come_back(
    settings: Settings, sites: tuple[SiteRef, SiteRef]
) -> None:
    """A CONFLICT field keeps several readings under one name and version: they match as a set. The document
    state B reached (validated after review) is the one A holds afterwards, and the audit counts the update."""
    src, dst = sites
    archive = make_archive(src, 55, documents=1)
    with session_scope(src.catalog_url) as s:
        doc = s.scalars(select(Document).where(Document.site_code == SRC)).one()
        kept = s.scalars(select(FieldValue).filter_by(document_id=doc.id)).one()
        s.add(FieldValue(document_id=doc.id, name="name", value="张山", confidence=0.6, box=kept.box,
                         source="candidate", flags=["CONFLICT"], is_current=False))  # fmt: skip
    assert run_transfer(settings, archive.resident_id, SRC, DST, retry=FAST).state == "done"
    with session_scope(dst.catalog_url) as s:  # B reviewed it, and filed it under another category
        moved = s.scalars(select(Document).where(Document.site_code == DST)).one()
        moved.status = "validated"
        other = Dossier(person_id=s.get(Dossier, moved.dossier_id).person_id, category="失业保险", retention="30")
        s.add(other)
        s.flush()
        moved.dossier_id = other.id
    assert run_transfer(settings, archive.resident_id, DST, SRC, retry=FAST).state == "done"
    with session_scope(src.catalog_url) as s:
        doc = s.scalars(select(Document).where(Document.site_code == SRC)).one()
        values = sorted(s.scalars(select(FieldValue.value).filter_by(document_id=doc.id)))
        returned = s.scalars(select(AuditEvent).filter_by(action="person.returned", site_code=SRC)).one()
        assert doc.status == "validated" and values == ["张三", "张山"]  # nothing doubled
        assert s.get(Dossier, doc.dossier_id).category == "失业保险"
    assert returned.details["updated"]["document.status"] == returned.details["updated"]["document.dossier"] == 1


@pytest.mark.parametrize("change", ["split", "derivative"])
def test_a_regrouped_or_rederived_kept_copy_is_refused(
    settings: Settings, sites: tuple[SiteRef, SiteRef], change: str
) -> None:
    """B split a document in two, or A's kept derivative is not the package's: refused, nothing changes."""
    src, dst = sites
    archive = make_archive(src, 56, documents=1, pages=2)
    assert run_transfer(settings, archive.resident_id, SRC, DST, retry=FAST).state == "done"
    if change == "split":
        with session_scope(dst.catalog_url) as s:
            doc = s.scalars(select(Document).where(Document.site_code == DST)).one()
            part = Document(
                site_code=DST, dossier_id=doc.dossier_id, batch_id=doc.batch_id, source_file="part2.png", page_count=1
            )
            doc.page_count = 1
            s.add(part)
            s.flush()
            moved = s.scalars(select(Page).filter_by(document_id=doc.id).order_by(Page.seq.desc())).first()
            moved.document_id, moved.seq = part.id, 1  # a consistent split: it passes 四性检测 at A
    else:
        with session_scope(src.catalog_url) as s:
            pages = select(Page.id).where(Page.site_code == SRC)
            s.scalars(select(Derivative).where(Derivative.page_id.in_(pages))).first().sha256 = "0" * 64
    kept = row_counts(src.catalog_url, SRC)
    back = run_transfer(settings, archive.resident_id, DST, SRC, retry=FAST)
    assert (back.state, back.reason_code) == ("failed", "TRANSFER_RECEIVER_CONFLICT")
    assert row_counts(src.catalog_url, SRC) == kept | {"transfers": kept["transfers"] + 1}
    assert _person(src.catalog_url, SRC, archive.resident_id).status == "transferred_out"
