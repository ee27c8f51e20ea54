"""Fixity fixtures: a site with real ingested objects (masters, derivatives, quarantine, OCR JSON/hOCR)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import select

from dangan.catalog.db import session_scope
from dangan.catalog.models import Derivative, Master, OcrResult, Page, QuarantineItem
from dangan.catalog.sites import SiteRef, add_site
from dangan.config import Settings, load_settings
from dangan.ingest.batch import ingest_batch_local
from dangan.keys import ocr_key
from dangan.storage import LocalStore, ObjectStore, open_store
from tests.ingest import badfiles

SITE, REPLICA = "330106", "330108"


@dataclass
class Archive:
    """An ingested site: its settings, ref, store, and the catalogued keys by kind."""

    settings: Settings
    ref: SiteRef
    store: ObjectStore
    masters: list[str]
    derivatives: list[str]
    quarantine: list[str]
    ocr: list[str]  # JSON, then its hOCR

    @property
    def all_keys(self) -> list[str]:
        return sorted(self.masters + self.derivatives + self.quarantine + self.ocr)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def build_archive(tmp_path: Path, store_url: str | None = None) -> Archive:
    """Ingest three scans and one unreadable file, and record an OCR result for the first page."""
    settings = load_settings(data_dir=tmp_path / "data", actor="auditor")
    ref = add_site(settings, SITE, "西湖区", store_url=store_url or str(tmp_path / "store-a"))
    hot = tmp_path / "hot"
    hot.mkdir()
    for i, shade in enumerate((0, 40, 80)):
        (hot / f"p{i}.png").write_bytes(badfiles.good_png(text_shade=shade, size=(300, 400)))
    (hot / "broken.png").write_bytes(b"not an image at all " * 20)
    report = ingest_batch_local(settings, SITE, str(hot))
    assert report.accepted_files == 3 and len(report.quarantined) == 1
    store = open_store(ref.store_url)
    with session_scope(ref.catalog_url) as s:
        masters = sorted(s.scalars(select(Master.object_key)))
        derivatives = sorted(s.scalars(select(Derivative.object_key)))
        quarantine = sorted(k for k in s.scalars(select(QuarantineItem.object_key)) if k)
        page_id = s.scalars(select(Page.id).order_by(Page.id)).first()
    assert page_id is not None and len(masters) == 3 and derivatives and len(quarantine) == 1
    ocr = _ocr_result(ref, store, page_id)
    return Archive(settings, ref, store, masters, derivatives, quarantine, ocr)


def _ocr_result(ref: SiteRef, store: ObjectStore, page_id: int) -> list[str]:
    """An OCR row plus its JSON/hOCR objects as the OCR stage writes them (SHA-256 in the store and the row)."""
    doc = json.dumps({"page_id": page_id, "lines": [{"text": "参保登记表"}]}, ensure_ascii=False).encode()
    key = ocr_key(SITE, page_id, "test", "0" * 64, ".json")
    store.put(key, doc, sha256=sha(doc), content_type="application/json")
    hocr = b"<html><body><p class='ocr_par'>x</p></body></html>"
    hkey = key.removesuffix(".json") + ".hocr"
    store.put(hkey, hocr, sha256=sha(hocr), content_type="application/xhtml+xml")
    with session_scope(ref.catalog_url) as s:
        s.add(
            OcrResult(
                page_id=page_id,
                engine="test",
                model="m1",
                device="cpu",
                object_key=key,
                sha256=sha(doc),
                size=len(doc),
                hocr_sha256=sha(hocr),
                hocr_size=len(hocr),
            )
        )
    return [key, hkey]


def add_replica(archive: Archive, tmp_path: Path) -> LocalStore:
    """Register the replica site with its own store holding copies of every object of the archive."""
    ref = add_site(archive.settings, REPLICA, "备份", store_url=str(tmp_path / "store-b"))
    replica = open_store(ref.store_url)
    assert isinstance(replica, LocalStore)
    for info in archive.store.list(f"sites/{SITE}/"):
        archive.store.copy(info.key, info.key, dst_store=replica)
    return replica


def corrupt_local(store: LocalStore, key: str) -> None:
    """Flip one byte of the stored file behind the store's back (disk rot)."""
    path = store.root / key
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.chmod(0o644)
    path.write_bytes(bytes(data))


@pytest.fixture
def archive(tmp_path: Path) -> Archive:
    return build_archive(tmp_path)
