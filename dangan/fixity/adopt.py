"""Adopt the digests of OCR objects catalogued without one (rows from before migration 0008).

The migration could not hash objects (it has no store), so such rows are reported ``unverifiable``. Adopting
records the SHA-256 and size of the bytes stored now, but only where they agree with the SHA-256 the store
recorded when the object was written: an object whose bytes and metadata disagree (or that has no recorded
SHA-256, or is gone) is refused with a code and stays unverifiable, for a person to look at. Each adopted
object gets a ``fixity.adopted`` audit event.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import or_, select

from dangan.catalog.audit import record
from dangan.catalog.db import session_scope
from dangan.catalog.models import OcrResult, Page
from dangan.errors import ObjectNotFound
from dangan.fixity.audit import object_entity_id
from dangan.fixity.plan import HOCR, JSON
from dangan.storage.base import ObjectStore
from dangan.storage.hashing import hash_stream

#: Why a digest was not adopted (stable codes).
ADOPT_MISSING = "STORE_NOT_FOUND"
ADOPT_NO_RECORD = "FIXITY_ADOPT_NO_STORE_DIGEST"
ADOPT_MISMATCH = "STORE_CHECKSUM_MISMATCH"


@dataclass
class AdoptReport:
    """Keys whose digest was recorded now, and the refused ones with their code."""

    site: str
    adopted: list[str] = field(default_factory=list)
    refused: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"site": self.site, "adopted": list(self.adopted), "refused": dict(self.refused)}


def _digest(store: ObjectStore, key: str) -> tuple[str, int] | str:
    """``(sha256, size)`` of the stored bytes when the store's own record agrees, else a refusal code."""
    try:
        info = store.stat(key)
        with store.open(key) as fh:
            found, size = hash_stream(fh)
    except ObjectNotFound:
        return ADOPT_MISSING
    if info.sha256 is None:
        return ADOPT_NO_RECORD
    if info.sha256 != found:
        return ADOPT_MISMATCH
    return found, size


def adopt_ocr_digests(catalog_url: str, store: ObjectStore, site: str, *, actor: str = "fixity-adopt") -> AdoptReport:
    """Record the SHA-256 and size of every OCR JSON/hOCR object of ``site`` whose row has none."""
    report = AdoptReport(site)
    lacking = (
        select(OcrResult.id, OcrResult.object_key, OcrResult.error, OcrResult.sha256, OcrResult.hocr_sha256)
        .join(Page, Page.id == OcrResult.page_id)
        .where(Page.site_code == site, OcrResult.object_key.is_not(None))
        .where(or_(OcrResult.sha256.is_(None), OcrResult.error.is_(None) & OcrResult.hocr_sha256.is_(None)))
        .order_by(OcrResult.id)
    )
    with session_scope(catalog_url) as s:
        rows = s.execute(lacking).all()
    for row_id, key_or_none, error, sha, hocr_sha in rows:
        json_key = str(key_or_none)  # the query selects rows with an object key
        updates: dict[str, Any] = {}
        if sha is None:
            got = _digest(store, json_key)
            if isinstance(got, str):
                report.refused[json_key] = got
            else:
                updates["sha256"], updates["size"] = got
                report.adopted.append(json_key)
        # the stage writes an hOCR sibling only for a page read without error
        if error is None and hocr_sha is None and json_key.endswith(JSON):
            hkey = hkey_of(json_key)
            got = _digest(store, hkey)
            if isinstance(got, str):
                report.refused[hkey] = got
            else:
                updates["hocr_sha256"], updates["hocr_size"] = got
                report.adopted.append(hkey)
        if not updates:
            continue
        with session_scope(catalog_url) as s:
            ocr_row = s.get(OcrResult, row_id)
            assert ocr_row is not None
            for name, value in updates.items():
                setattr(ocr_row, name, value)
            for key, digest in ((json_key, updates.get("sha256")), (hkey_of(json_key), updates.get("hocr_sha256"))):
                if digest is not None:
                    record(
                        s,
                        actor=actor,
                        action="fixity.adopted",
                        entity_type="object",
                        entity_id=object_entity_id(key),
                        site_code=site,
                        details={"key": key, "kind": "ocr", "sha256": digest, "ocr_result": row_id},
                    )
    return report


def hkey_of(json_key: str) -> str:
    """The hOCR sibling of an OCR JSON key."""
    return json_key.removesuffix(JSON) + HOCR
