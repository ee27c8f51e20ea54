"""A person's archive read from the catalog as an :class:`~dangan.transfer.archive.ArchivePackage`: the package's
metadata payload.

Rows are referenced by local refs (``d12``, ``doc7``, ``m3``, ``p40``) built from the source ids, so the
receiver can rebuild the graph with its own ids. Every binary object gets a bag path derived only from
hashes, ids and sanitized tokens (never from user-supplied names) and keeps its source key for the copy.
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import PurePosixPath

from sqlalchemy import select
from sqlalchemy.orm import Session

from dangan.catalog.models import Derivative, Document, Dossier, FieldValue, Master, OcrResult, Page, Person
from dangan.keys import EXT_BY_FORMAT
from dangan.pii import mask_id
from dangan.transfer.archive import (
    FORMAT,
    VERSION,
    ArchiveCatalog,
    ArchivePackage,
    DerivativeEntry,
    DocumentEntry,
    DossierEntry,
    FieldEntry,
    MasterEntry,
    OcrEntry,
    PageEntry,
    PersonEntry,
)
from dangan.transfer.errors import TransferPersonNotFound

_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")


def token(value: str, limit: int = 60) -> str:
    """A path-safe token: ASCII letters, digits, ``_.-`` only, never ``.``/``..``."""
    text = _UNSAFE.sub("_", value)[:limit].strip(".") or "_"
    return text


def _ext(key: str | None, default: str = ".bin") -> str:
    suffix = PurePosixPath(key or "").suffix.lower()
    return suffix if re.fullmatch(r"\.[a-z0-9]{1,8}", suffix) else default


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def find_person(session: Session, site: str, resident_id: str) -> Person:
    """The person row at ``site`` or :class:`TransferPersonNotFound` (message masked)."""
    person = session.scalars(select(Person).filter_by(site_code=site, resident_id=resident_id)).first()
    if person is None:
        raise TransferPersonNotFound(f"no person {mask_id(resident_id)} at site {site}", site=site)
    return person


def snapshot(session: Session, site: str, resident_id: str) -> ArchivePackage:
    """The package metadata of one person at ``site``: catalog, OCR results and fields (deterministic order)."""
    person = find_person(session, site, resident_id)
    dossiers = list(session.scalars(select(Dossier).filter_by(person_id=person.id).order_by(Dossier.id)))
    dossier_ids = [d.id for d in dossiers]
    documents = list(
        session.scalars(select(Document).where(Document.dossier_id.in_(dossier_ids)).order_by(Document.id))
    )
    doc_ids = [d.id for d in documents]
    pages = list(session.scalars(select(Page).where(Page.document_id.in_(doc_ids)).order_by(Page.id)))
    page_ids = [p.id for p in pages]
    masters = list(
        session.scalars(select(Master).where(Master.id.in_({p.master_id for p in pages})).order_by(Master.id))
    )
    derivatives = session.scalars(select(Derivative).where(Derivative.page_id.in_(page_ids)).order_by(Derivative.id))
    ocr = session.scalars(select(OcrResult).where(OcrResult.page_id.in_(page_ids)).order_by(OcrResult.id))
    fields = session.scalars(select(FieldValue).where(FieldValue.document_id.in_(doc_ids)).order_by(FieldValue.id))
    catalog = ArchiveCatalog(
        format=FORMAT,
        version=VERSION,
        source_site=site,
        person=PersonEntry(
            resident_id=person.resident_id,
            resident_id_masked=person.resident_id_masked or mask_id(person.resident_id),
            name=person.name,
        ),
        dossiers=[DossierEntry(ref=f"d{d.id}", category=d.category, retention=d.retention) for d in dossiers],
        documents=[
            DocumentEntry(
                ref=f"doc{d.id}",
                dossier=f"d{d.dossier_id}",
                batch=d.batch_id,
                source_file=d.source_file,
                form_type=d.form_type,
                doc_date=d.doc_date,
                expected_pages=d.expected_pages,
                page_count=d.page_count,
                status=d.status,
            )
            for d in documents
        ],
        masters=[
            MasterEntry(
                ref=f"m{m.id}",
                sha256=m.sha256,
                size=m.size,
                format=m.format,
                path=f"data/masters/{m.sha256}{EXT_BY_FORMAT.get(m.format) or _ext(m.object_key)}",
                source_key=m.object_key,
                original_name=m.original_name,
                page_count=m.page_count,
                batch=m.batch_id,
                retain_until=_iso(m.retain_until),
            )
            for m in masters
        ],
        pages=[
            PageEntry(
                ref=f"p{p.id}",
                master=f"m{p.master_id}",
                page_index=p.page_index,
                document=f"doc{p.document_id}",
                seq=p.seq,
                width=p.width,
                height=p.height,
                dpi=p.dpi,
                color_mode=p.color_mode,
                status=p.status,
                metrics=p.metrics or {},
            )
            for p in pages
        ],
        derivatives=[
            DerivativeEntry(
                ref=f"v{v.id}",
                page=f"p{v.page_id}",
                kind=v.kind,
                path=f"data/derivatives/p{v.page_id}/{token(v.kind)}-{token(v.params_hash, 16)}-{v.id}"
                f"{_ext(v.object_key)}",
                source_key=v.object_key,
                sha256=v.sha256,
                size=v.size,
                tool=v.tool,
                params=v.params or {},
                params_hash=v.params_hash,
            )
            for v in derivatives
        ],
    )
    ocr_rows = [
        OcrEntry(
            **_ocr_objects(o.page_id, o.id, o.engine, o.object_key, o.error),
            page=f"p{o.page_id}",
            engine=o.engine,
            model=o.model,
            version=o.version,
            model_sha256=o.model_sha256 or {},
            device=o.device,
            text=o.text,
            lines=o.lines or [],
            seconds=o.seconds,
            error=o.error,
            is_current=o.is_current,
            sha256=o.sha256,
            size=o.size,
            hocr_sha256=o.hocr_sha256,
            hocr_size=o.hocr_size,
        )
        for o in ocr
    ]
    field_rows = [
        FieldEntry(
            document=f"doc{f.document_id}",
            page=f"p{f.page_id}" if f.page_id is not None else None,
            name=f.name,
            value=f.value,
            confidence=f.confidence,
            box=f.box,
            source=f.source,
            flags=[str(flag) for flag in f.flags or []],  # a conflict travels with the archive, still to be reviewed
            version=f.version,
            is_current=f.is_current,
        )
        for f in fields
    ]
    return ArchivePackage(catalog=catalog, ocr=ocr_rows, fields=field_rows)


JSON, HOCR = ".json", ".hocr"


def hocr_key(json_key: str | None, error: str | None) -> str | None:
    """The hOCR object the OCR stage writes next to a page's result JSON (only for a page read without error).

    The receiver's fixity audit expects it wherever the catalog has such a row, so it travels in the package."""
    if json_key is None or error is not None or not json_key.endswith(JSON):
        return None
    return json_key.removesuffix(JSON) + HOCR


def _ocr_objects(page_id: int, ocr_id: int, engine: str, key: str | None, error: str | None) -> dict[str, str | None]:
    """Bag paths and source keys of an OCR result's JSON object and its hOCR sibling (``None`` where absent)."""
    out: dict[str, str | None] = {"path": None, "source_key": None, "hocr_path": None, "hocr_source_key": None}
    if not key:
        return out
    path = f"data/ocr/p{page_id}/{token(engine)}-{ocr_id}{_ext(key, JSON)}"
    out |= {"path": path, "source_key": key}
    if (hocr := hocr_key(key, error)) is not None and path.endswith(JSON):
        out |= {"hocr_path": path.removesuffix(JSON) + HOCR, "hocr_source_key": hocr}
    return out
