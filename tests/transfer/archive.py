"""Test archives built from catalog rows + small real PNG objects (faster than running ingest)."""

from __future__ import annotations

import hashlib
import io
import json
import random
from dataclasses import dataclass
from datetime import date
from typing import Any

from PIL import Image
from sqlalchemy import func, select

from dangan.catalog.db import session_scope
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
    Transfer,
)
from dangan.catalog.sites import SiteRef, add_site
from dangan.config import Settings
from dangan.ids import make_id
from dangan.keys import derivative_key, master_key
from dangan.pii import mask_id
from dangan.storage import ObjectStore, open_store

SRC, DST = "330106", "330108"
CATEGORIES = (("养老保险", "permanent"), ("医疗保险", "30"))


def resident(seq: int, region: str = SRC) -> str:
    """A valid GB 11643 resident ID."""
    return make_id(region, date(1970 + seq % 30, 1 + seq % 12, 1 + seq % 27), seq % 400, "男" if seq % 2 else "女")


def png(seed: int, width: int = 64, height: int = 48) -> bytes:
    """A small, unique, real PNG."""
    rng = random.Random(seed)
    img = Image.frombytes("L", (width, height), bytes(rng.randrange(256) for _ in range(width * height)))
    out = io.BytesIO()
    img.save(out, format="PNG", dpi=(300, 300))
    return out.getvalue()


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def register_sites(
    settings: Settings, *, src_store: str | None = None, dst_store: str | None = None, dst_catalog: str | None = None
) -> tuple[SiteRef, SiteRef]:
    """Two county sites; by default both in the home catalog, each with its own local folder store."""
    src = add_site(settings, SRC, "杭州市西湖区", store_url=src_store or str(settings.data_dir / "store-src"))
    dst = add_site(
        settings,
        DST,
        "杭州市滨江区",
        store_url=dst_store or str(settings.data_dir / "store-dst"),
        catalog_url=dst_catalog,
    )
    return src, dst


@dataclass
class Archive:
    resident_id: str
    masters: dict[str, bytes]  # object key -> bytes
    pages: int


def make_archive(
    site: SiteRef, seq: int, *, documents: int = 2, pages: int = 2, store: ObjectStore | None = None, size: int = 64
) -> Archive:
    """Insert a person with dossiers, documents, masters (one PNG each), pages, a derivative, OCR and fields."""
    store = store or open_store(site.store_url)
    rid = resident(seq)
    objects: dict[str, bytes] = {}
    with session_scope(site.catalog_url) as s:
        batch = ScanBatch(site_code=site.code, source=f"scanner/{seq}", source_key=f"k{seq}", status="complete")
        person = Person(site_code=site.code, resident_id=rid, resident_id_masked=mask_id(rid), name="张三")
        s.add_all([batch, person])
        s.flush()
        n = 0
        for d in range(documents):
            category, retention = CATEGORIES[d % len(CATEGORIES)]
            dossier = s.scalars(select(Dossier).filter_by(person_id=person.id, category=category)).first()
            if dossier is None:
                dossier = Dossier(person_id=person.id, category=category, retention=retention)
                s.add(dossier)
                s.flush()
            doc = Document(
                site_code=site.code,
                dossier_id=dossier.id,
                batch_id=batch.id,
                source_file=f"doc{d}.png",
                form_type="registration",
                doc_date="2020-01-01",
                page_count=pages,
            )
            s.add(doc)
            s.flush()
            for p in range(pages):
                n += 1
                data = png(seq * 1000 + n, size, size * 3 // 4)
                key = master_key(site.code, sha(data), ".png")
                store.put(key, data, sha256=sha(data), content_type="image/png")
                objects[key] = data
                master = Master(
                    site_code=site.code,
                    sha256=sha(data),
                    size=len(data),
                    format="png",
                    object_key=key,
                    original_name=f"scan-{d}-{p}.png",
                    batch_id=batch.id,
                )
                s.add(master)
                s.flush()
                page = Page(
                    site_code=site.code,
                    master_id=master.id,
                    document_id=doc.id,
                    seq=p + 1,
                    width=size,
                    height=size * 3 // 4,
                    dpi=300.0,
                    color_mode="gray",
                    status="ocr_done",
                )
                s.add(page)
                s.flush()
                deriv = png(seq * 1000 + n + 500, 32, 24)
                dkey = derivative_key(site.code, page.id, "ocr_input", "abc123", ".png")
                store.put(dkey, deriv, sha256=sha(deriv))
                objects[dkey] = deriv
                s.add(
                    Derivative(
                        page_id=page.id,
                        kind="ocr_input",
                        object_key=dkey,
                        sha256=sha(deriv),
                        size=len(deriv),
                        tool="test",
                        params={"deskew": True},
                        params_hash="abc123",
                    )
                )
                ocr_json = json.dumps({"page": page.id, "text": "参保人 张三"}, ensure_ascii=False).encode()
                okey = f"sites/{site.code}/ocr/{page.id}/ppocr.json"
                store.put(okey, ocr_json, sha256=sha(ocr_json))
                objects[okey] = ocr_json
                # the OCR stage writes an hOCR sibling for every page read without error (fixity expects it)
                hocr = f"<html><body><p class='ocr_par'>参保人 {page.id}</p></body></html>".encode()
                store.put(okey.removesuffix(".json") + ".hocr", hocr, sha256=sha(hocr))
                objects[okey.removesuffix(".json") + ".hocr"] = hocr
                digests = {"sha256": sha(ocr_json), "size": len(ocr_json), "hocr_sha256": sha(hocr)}
                digests["hocr_size"] = len(hocr)
                s.add(
                    OcrResult(
                        page_id=page.id,
                        engine="ppocr",
                        model="v5",
                        device="cpu",
                        text="参保人",
                        object_key=okey,
                        **{k: v for k, v in digests.items() if hasattr(OcrResult, k)},  # columns of migration 0008
                    )
                )
            s.add(FieldValue(document_id=doc.id, name="name", value="张三", confidence=0.98, box=[1, 2, 3, 4]))
    return Archive(rid, objects, documents * pages)


def row_counts(url: str, site: str) -> dict[str, int]:
    """Catalog rows of ``site`` (for exactly-once assertions)."""
    with session_scope(url) as s:
        pages = select(Page.id).where(Page.site_code == site)
        docs = select(Document.id).where(Document.site_code == site)

        def count(stmt: Any) -> int:
            return int(s.scalar(select(func.count()).select_from(stmt.subquery())) or 0)

        return {
            "persons": count(select(Person.id).where(Person.site_code == site)),
            "documents": count(docs),
            "masters": count(select(Master.id).where(Master.site_code == site)),
            "pages": count(pages),
            "derivatives": count(select(Derivative.id).where(Derivative.page_id.in_(pages))),
            "ocr": count(select(OcrResult.id).where(OcrResult.page_id.in_(pages))),
            "fields": count(select(FieldValue.id).where(FieldValue.document_id.in_(docs))),
            "transfers": count(select(Transfer.id)),
        }
