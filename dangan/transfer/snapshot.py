"""A person's archive read from the catalog as plain JSON-able data: the package's metadata payload.

Rows are referenced by local refs (``d12``, ``doc7``, ``m3``, ``p40``) built from the source ids, so the
receiver can rebuild the graph with its own ids. Every binary object gets a bag path derived only from
hashes, ids and sanitized tokens (never from user-supplied names) and keeps its source key for the copy.
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import PurePosixPath
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from dangan.catalog.models import Derivative, Document, Dossier, FieldValue, Master, OcrResult, Page, Person
from dangan.keys import EXT_BY_FORMAT
from dangan.pii import mask_id
from dangan.transfer.errors import TransferPersonNotFound

FORMAT = "dangan-archive/1"
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


def snapshot(session: Session, site: str, resident_id: str) -> dict[str, Any]:
    """``{"catalog": …, "ocr": […], "fields": […]}`` for one person at ``site`` (deterministic order)."""
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
    catalog: dict[str, Any] = {
        "format": FORMAT,
        "source_site": site,
        "person": {
            "resident_id": person.resident_id,
            "resident_id_masked": person.resident_id_masked or mask_id(person.resident_id),
            "name": person.name,
        },
        "dossiers": [{"ref": f"d{d.id}", "category": d.category, "retention": d.retention} for d in dossiers],
        "documents": [
            {
                "ref": f"doc{d.id}",
                "dossier": f"d{d.dossier_id}",
                "batch": d.batch_id,
                "source_file": d.source_file,
                "form_type": d.form_type,
                "doc_date": d.doc_date,
                "expected_pages": d.expected_pages,
                "page_count": d.page_count,
                "status": d.status,
            }
            for d in documents
        ],
        "masters": [
            {
                "ref": f"m{m.id}",
                "sha256": m.sha256,
                "size": m.size,
                "format": m.format,
                "path": f"data/masters/{m.sha256}{EXT_BY_FORMAT.get(m.format) or _ext(m.object_key)}",
                "source_key": m.object_key,
                "original_name": m.original_name,
                "page_count": m.page_count,
                "batch": m.batch_id,
                "retain_until": _iso(m.retain_until),
            }
            for m in masters
        ],
        "pages": [
            {
                "ref": f"p{p.id}",
                "master": f"m{p.master_id}",
                "page_index": p.page_index,
                "document": f"doc{p.document_id}",
                "seq": p.seq,
                "width": p.width,
                "height": p.height,
                "dpi": p.dpi,
                "color_mode": p.color_mode,
                "status": p.status,
                "metrics": p.metrics,
            }
            for p in pages
        ],
        "derivatives": [
            {
                "ref": f"v{v.id}",
                "page": f"p{v.page_id}",
                "kind": v.kind,
                "path": f"data/derivatives/p{v.page_id}/{token(v.kind)}-{token(v.params_hash, 16)}-{v.id}"
                f"{_ext(v.object_key)}",
                "source_key": v.object_key,
                "sha256": v.sha256,
                "size": v.size,
                "tool": v.tool,
                "params": v.params,
                "params_hash": v.params_hash,
            }
            for v in derivatives
        ],
    }
    ocr_rows = [
        {
            **_ocr_objects(o.page_id, o.id, o.engine, o.object_key, o.error),
            **{k: getattr(o, k, None) for k in OCR_DIGESTS},
            "page": f"p{o.page_id}",
            "engine": o.engine,
            "model": o.model,
            "version": o.version,
            "model_sha256": o.model_sha256,
            "device": o.device,
            "text": o.text,
            "lines": o.lines,
            "seconds": o.seconds,
            "error": o.error,
            "is_current": o.is_current,
        }
        for o in ocr
    ]
    field_rows = [
        {
            "document": f"doc{f.document_id}",
            "page": f"p{f.page_id}" if f.page_id is not None else None,
            "name": f.name,
            "value": f.value,
            "confidence": f.confidence,
            "box": f.box,
            "source": f.source,
            "flags": list(f.flags or []),  # a conflict travels with the archive, still to be reviewed
            "version": f.version,
            "is_current": f.is_current,
        }
        for f in fields
    ]
    return {"catalog": catalog, "ocr": ocr_rows, "fields": field_rows}


#: Digest columns of an OCR row (JSON object and its hOCR sibling); carried when the catalog records them.
OCR_DIGESTS = ("sha256", "size", "hocr_sha256", "hocr_size")
JSON, HOCR = ".json", ".hocr"


def hocr_key(json_key: str | None, error: str | None) -> str | None:
    """The hOCR object the OCR stage writes next to a page's result JSON (only for a page read without error).

    The receiver's fixity audit expects it wherever the catalog has such a row, so it travels in the package."""
    if json_key is None or error is not None or not json_key.endswith(JSON):
        return None
    return json_key.removesuffix(JSON) + HOCR


def _ocr_objects(page_id: int, ocr_id: int, engine: str, key: str | None, error: str | None) -> dict[str, Any]:
    if not key:
        return {"path": None, "source_key": None}
    path = f"data/ocr/p{page_id}/{token(engine)}-{ocr_id}{_ext(key, JSON)}"
    out: dict[str, Any] = {"path": path, "source_key": key}
    if (hocr := hocr_key(key, error)) is not None and path.endswith(JSON):
        out |= {"hocr_path": path.removesuffix(JSON) + HOCR, "hocr_source_key": hocr}
    return out


def binary_entries(snap: dict[str, Any]) -> list[tuple[str, str, str | None, int | None]]:
    """``(bag path, source key, catalogued sha256, catalogued size)`` of every binary payload object: masters,
    derivatives, each OCR result's JSON and its hOCR sibling (every object the receiver's rows will name)."""
    cat = snap["catalog"]
    out = [(m["path"], m["source_key"], m["sha256"], m["size"]) for m in cat["masters"]]
    out += [(v["path"], v["source_key"], v["sha256"], v["size"]) for v in cat["derivatives"]]
    out += [(o["path"], o["source_key"], o.get("sha256"), o.get("size")) for o in snap["ocr"] if o["path"]]
    out += [
        (o["hocr_path"], o["hocr_source_key"], o.get("hocr_sha256"), o.get("hocr_size"))
        for o in snap["ocr"]
        if o.get("hocr_path")
    ]
    return out


def object_sources(catalog: dict[str, Any], ocr: list[dict[str, Any]]) -> dict[str, str]:
    """``{bag path: source key}`` of every binary payload object of a stored package's metadata."""
    sources = {m["path"]: m["source_key"] for m in catalog["masters"]}
    sources |= {v["path"]: v["source_key"] for v in catalog["derivatives"]}
    sources |= {o["path"]: o["source_key"] for o in ocr if o.get("path")}
    sources |= {o["hocr_path"]: o["hocr_source_key"] for o in ocr if o.get("hocr_path")}
    return sources


def counts(snap: dict[str, Any]) -> dict[str, int]:
    """Row counts of a snapshot (written to bag-info and the receipt)."""
    cat = snap["catalog"]
    return {
        "dossiers": len(cat["dossiers"]),
        "documents": len(cat["documents"]),
        "masters": len(cat["masters"]),
        "pages": len(cat["pages"]),
        "derivatives": len(cat["derivatives"]),
        "ocr_results": len(snap["ocr"]),
        "fields": len(snap["fields"]),
    }
