"""Seed a catalog with documents whose pages are OCR-done, as the digitization flow leaves them."""

from __future__ import annotations

import hashlib
from typing import Any

from dangan.catalog.db import session_scope
from dangan.catalog.models import Document, Dossier, Master, OcrResult, Page, Person, ScanBatch, Site
from dangan.catalog.schema import upgrade
from dangan.ocr import OcrLine
from dangan.pii import mask_id


def seed(
    url: str,
    site: str,
    docs: dict[str, tuple[dict[str, Any], list[list[OcrLine]]]],
    *,
    registered: dict[str, tuple[str, str]] | None = None,
) -> dict[str, int]:
    """Insert one document per ``name → (truth, pages of OCR lines)``; persons are keyed by the ``pNN`` prefix
    with the (id, name) of ``registered`` or the truth's own fields. Returns name → document id."""
    upgrade(url)
    ids: dict[str, int] = {}
    with session_scope(url) as s:
        if s.get(Site, site) is None:
            s.add(Site(code=site, name="测试区"))
            s.flush()
        batch = ScanBatch(site_code=site, source="/scans", source_key="k" * 64)
        s.add(batch)
        s.flush()
        persons: dict[str, Person] = {}
        for name, (truth, pages) in docs.items():
            key = name[:3]
            if key not in persons:
                rid, pname = (registered or {}).get(key) or (
                    truth["fields"]["id_number"],
                    truth["fields"]["name"],
                )
                persons[key] = Person(site_code=site, resident_id=rid, resident_id_masked=mask_id(rid), name=pname)
                s.add(persons[key])
                s.flush()
            dossier = Dossier(person_id=persons[key].id, category=f"养老保险-{name}")
            s.add(dossier)
            s.flush()
            doc = Document(
                site_code=site,
                dossier_id=dossier.id,
                batch_id=batch.id,
                source_file=name,
                form_type=truth["form_type"],
                page_count=len(pages),
                status="registered",
            )
            s.add(doc)
            s.flush()
            sha = hashlib.sha256(name.encode()).hexdigest()
            master = Master(
                site_code=site,
                sha256=sha,
                size=1,
                format="tiff",
                object_key=f"m/{sha}",
                original_name=name,
                page_count=len(pages),
                batch_id=batch.id,
            )
            s.add(master)
            s.flush()
            for index, lines in enumerate(pages):
                page = Page(
                    site_code=site,
                    master_id=master.id,
                    page_index=index,
                    document_id=doc.id,
                    seq=index + 1,
                    status="ocr_done",
                )
                s.add(page)
                s.flush()
                s.add(
                    OcrResult(
                        page_id=page.id,
                        engine="truth",
                        model="samples",
                        device="cpu",
                        text="\n".join(ln.text for ln in lines),
                        lines=[ln.to_json() for ln in lines],
                    )
                )
            ids[name] = doc.id
    return ids
