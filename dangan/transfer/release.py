"""Releasing the source's copy after a finished transfer (``keep_source=False``; the default keeps it).

What can be released: derivative objects and OCR objects of the transferred person, and the package
skeleton at the source. Masters stay: stores refuse to delete them (protected prefix and retention,
``DeleteRefused``), so their rows and the page/document rows describing them stay too. Rows are cleared
before their objects are deleted, so no row ever points at nothing.
"""

from __future__ import annotations

from sqlalchemy import delete, select, update

from dangan.catalog.audit import record
from dangan.catalog.db import session_scope
from dangan.catalog.models import Derivative, Document, Dossier, OcrResult, Page, Person
from dangan.catalog.sites import SiteRef
from dangan.errors import ObjectNotFound
from dangan.keys import package_prefix
from dangan.storage import ObjectStore
from dangan.transfer.rows import event_details
from dangan.transfer.snapshot import hocr_key


def release_source_copy(src: SiteRef, store: ObjectStore, resident_id: str, transfer_id: str, actor: str) -> int:
    """Delete the releasable objects of a transferred-out person at ``src``; returns how many were deleted."""
    earlier = event_details(src.catalog_url, transfer_id, "transfer.source_released")
    with session_scope(src.catalog_url) as s:
        person = s.scalars(select(Person).filter_by(site_code=src.code, resident_id=resident_id)).one()
        if person.status != "transferred_out":
            return 0
        docs = select(Document.id).where(
            Document.dossier_id.in_(select(Dossier.id).where(Dossier.person_id == person.id))
        )
        pages = select(Page.id).where(Page.document_id.in_(docs))
        keys = list(s.scalars(select(Derivative.object_key).where(Derivative.page_id.in_(pages))))
        ocr = select(OcrResult.object_key, OcrResult.error).where(
            OcrResult.page_id.in_(pages), OcrResult.object_key.is_not(None)
        )
        for key, error in s.execute(ocr):  # the JSON object and its hOCR sibling
            keys += [k for k in (key, hocr_key(key, error)) if k]
        if not keys and earlier:  # an interrupted release: rows were cleared, objects may remain
            keys = list(earlier.get("keys", []))
        s.execute(delete(Derivative).where(Derivative.page_id.in_(pages)))
        s.execute(update(OcrResult).where(OcrResult.page_id.in_(pages)).values(object_key=None))
        record(
            s,
            actor=actor,
            action="transfer.source_released",
            entity_type="transfer",
            entity_id=transfer_id,
            site_code=src.code,
            details={"objects": len(keys), "keys": keys, "masters_kept": True},
        )
    keys += [o.key for o in store.list(package_prefix(src.code, transfer_id))]
    deleted = 0
    for key in keys:
        try:
            store.delete(key)
            deleted += 1
        except ObjectNotFound:
            continue  # released by an earlier, interrupted run
    return deleted
