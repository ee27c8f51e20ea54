"""Catalog writes of a commit: register a verified archive at the receiver, mark the person at the source.

Both run inside the caller's transaction (the one that also moves the transfer row under its lock), so a
commit is all-or-nothing. ``Person`` is unique per site + resident ID: a second registration of the same
person at the receiver fails in the database even if every other guard were bypassed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from dangan.catalog.audit import record
from dangan.catalog.models import (
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
from dangan.catalog.states import transition
from dangan.pii import mask_id
from dangan.transfer.archive import ArchivePackage
from dangan.transfer.cleanup import release_adopted
from dangan.transfer.errors import TransferReceiverConflict
from dangan.transfer.merge import ReturnPlan, adopt_state, plan_return, settle_currency


def _dt(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _batch(session: Session, site: str, transfer_id: str, source_batch: str, from_site: str, actor: str) -> str:
    """One receiver batch per (transfer, source batch): keeps ``document(batch_id, source_file)`` unique."""
    batch_id = hashlib.sha256(f"{transfer_id}:{source_batch}".encode()).hexdigest()[:32]
    if session.get(ScanBatch, batch_id) is None:
        session.add(
            ScanBatch(
                id=batch_id,
                site_code=site,
                source=f"transfer {transfer_id} from {from_site} (batch {source_batch})",
                source_key=batch_id,
                operator=actor,
                status="complete",
            )
        )
        session.flush()  # no ORM relationship orders this insert before its documents
    return batch_id


def register_archive(
    session: Session,
    *,
    site: str,
    transfer_id: str,
    package: ArchivePackage,
    key_for: Callable[[str], str],
    actor: str,
) -> dict[str, int | dict[str, int]]:
    """Insert person, dossiers, documents, masters, pages, derivatives, OCR results and fields at ``site``.

    Object keys are the receiver's (``key_for(bag path)``). Returns row counts. A person who left this site
    earlier comes back: what was kept here is matched, not registered twice (``dangan.transfer.merge``). Raises
    :class:`TransferReceiverConflict` when the receiver already holds the person (active), a page of a master
    for someone else, or a kept copy that diverged from the returning one.
    """
    catalog, ocr, fields = package.catalog, package.ocr, package.fields
    p = catalog.person
    rid = p.resident_id
    from_site = catalog.source_site
    held = session.scalars(select(Person).filter_by(site_code=site, resident_id=rid)).first()
    back: ReturnPlan | None = None
    if held is not None and held.status == "transferred_out":
        back = plan_return(session, site, held, package)
        transition(
            session,
            held,
            "active",
            actor=actor,
            site_code=site,
            details={"transfer_id": transfer_id, "returned_from": from_site},
        )
        held.transferred_to, held.name = None, held.name or p.name
        person = held
    elif held is not None:
        raise TransferReceiverConflict(f"site {site} already holds person {mask_id(rid)}", site=site)
    else:
        person = Person(site_code=site, resident_id=rid, resident_id_masked=mask_id(rid), name=p.name)
        session.add(person)
        session.flush()
    ids: dict[str, int] = dict(back.ids) if back else {}
    batches: dict[str, str] = {}

    def batch(ref: str) -> str:
        if ref not in batches:
            batches[ref] = _batch(session, site, transfer_id, ref, from_site, actor)
        return batches[ref]

    for d in catalog.dossiers:
        if d.ref in ids:  # returning: the dossier of that category kept here
            continue
        row = Dossier(person_id=person.id, category=d.category, retention=d.retention)
        session.add(row)
        session.flush()
        ids[d.ref] = row.id
    for doc_entry in catalog.documents:
        if doc_entry.ref in ids:
            continue
        doc = Document(
            site_code=site,
            dossier_id=ids[doc_entry.dossier],
            batch_id=batch(doc_entry.batch),
            source_file=doc_entry.source_file,
            form_type=doc_entry.form_type,
            doc_date=doc_entry.doc_date,
            expected_pages=doc_entry.expected_pages,
            page_count=doc_entry.page_count,
            status=doc_entry.status,
        )
        session.add(doc)
        session.flush()
        ids[doc_entry.ref] = doc.id
    for m in catalog.masters:
        master = session.scalars(select(Master).filter_by(site_code=site, sha256=m.sha256)).first()
        if master is None:  # a master already at the receiver (same bytes) is shared, like ingest de-duplication
            master = Master(
                site_code=site,
                sha256=m.sha256,
                size=m.size,
                format=m.format,
                object_key=key_for(m.path),
                original_name=m.original_name,
                page_count=m.page_count,
                batch_id=batch(m.batch),
                retain_until=_dt(m.retain_until),
            )
            session.add(master)
            session.flush()
        ids[m.ref] = master.id
    for pg in catalog.pages:
        if pg.ref in ids:
            continue
        taken = session.scalars(select(Page).filter_by(master_id=ids[pg.master], page_index=pg.page_index)).first()
        if taken is not None:
            raise TransferReceiverConflict(
                f"site {site} already holds page {pg.page_index} of a transferred master", site=site
            )
        page = Page(
            site_code=site,
            master_id=ids[pg.master],
            page_index=pg.page_index,
            document_id=ids[pg.document],
            seq=pg.seq,
            width=pg.width,
            height=pg.height,
            dpi=pg.dpi,
            color_mode=pg.color_mode,
            status=pg.status,
            metrics=dict(pg.metrics),
        )
        session.add(page)
        session.flush()
        ids[pg.ref] = page.id
    for i, v in enumerate(catalog.derivatives):
        if back and i in back.derivatives_held:
            continue  # kept here (a released one is not, and comes back)
        session.add(
            Derivative(
                page_id=ids[v.page],
                kind=v.kind,
                object_key=key_for(v.path),
                sha256=v.sha256,
                size=v.size,
                tool=v.tool,
                params=dict(v.params),
                params_hash=v.params_hash,
            )
        )
    for i, o in enumerate(ocr):
        kept = back.ocr_matches.get(i) if back else None
        if kept is not None:  # same reading (plan_return checked): restore a released object, follow currency
            if kept.object_key is None and o.path:
                kept.object_key = key_for(o.path)
            kept.is_current = o.is_current
            continue
        session.add(
            OcrResult(
                page_id=ids[o.page],
                engine=o.engine,
                model=o.model,
                version=o.version,
                model_sha256=dict(o.model_sha256),
                device=o.device,
                text=o.text,
                lines=list(o.lines),
                seconds=o.seconds,
                error=o.error,
                object_key=key_for(o.path) if o.path else None,
                is_current=o.is_current,
                # digests of the JSON and hOCR objects (verified in the bag): fixity checks objects against them
                sha256=o.sha256,
                size=o.size,
                hocr_sha256=o.hocr_sha256,
                hocr_size=o.hocr_size,
            )
        )
    for i, f in enumerate(fields):
        kept_field = back.field_matches.get(i) if back else None
        if kept_field is not None:
            kept_field.is_current = f.is_current
            continue
        session.add(
            FieldValue(
                document_id=ids[f.document],
                page_id=ids[f.page] if f.page else None,
                name=f.name,
                value=f.value,
                confidence=f.confidence,
                box=list(f.box) if f.box is not None else None,
                source=f.source,
                flags=list(f.flags),
                version=f.version,
                is_current=f.is_current,
            )
        )
    session.flush()
    # masters a failed attempt left here were quarantined (dangan.transfer.cleanup): now they are registered
    master_keys = [key_for(m.path) for m in catalog.masters]
    release_adopted(session, site, master_keys, actor=actor, transfer_id=transfer_id)
    if back:
        adopt_state(session, package, back, ids)
        settle_currency(session, back, package)
    counts: dict[str, int | dict[str, int]] = {**package.counts(), **(back.counts() if back else {})}
    record(
        session,
        actor=actor,
        action="person.returned" if back else "person.received",
        entity_type="person",
        entity_id=str(person.id),
        site_code=site,
        details={"transfer_id": transfer_id, "from_site": from_site, "person": mask_id(rid), **counts},
    )
    return counts


def mark_transferred_out(
    session: Session, *, site: str, resident_id: str, to_site: str, transfer_id: str, actor: str
) -> bool:
    """Source side of a commit: ``transferred_out`` with a pointer to the destination. False if absent."""
    person = session.scalars(select(Person).filter_by(site_code=site, resident_id=resident_id)).first()
    if person is None:
        return False
    transition(
        session,
        person,
        "transferred_out",
        actor=actor,
        site_code=site,
        details={"transfer_id": transfer_id, "to": to_site},
    )
    person.transferred_to = to_site
    return True
