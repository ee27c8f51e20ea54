"""Writing OCR results: a JSON (+ hOCR) object per page, then the catalog rows of a batch in one transaction.

Results are versioned, never overwritten: another engine or model, or a different reading by the same one,
is a new row and the earlier one stays, no longer current. A failed read never displaces a good one: it is
kept (with its error, for the record and the retry) but the page's good current result stays current.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from dangan.catalog.db import session_scope
from dangan.catalog.models import OcrResult, Page
from dangan.catalog.states import transition
from dangan.keys import ocr_key
from dangan.ocr.engines.base import PageResult
from dangan.ocr.output.render import to_hocr
from dangan.storage.base import ObjectStore


def model_digest(identity: dict[str, Any]) -> str:
    """A short stable digest of an engine's model identity (names + file checksums)."""
    blob = json.dumps({k: identity.get(k) for k in ("engine", "model", "model_sha256")}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()


@dataclass(frozen=True)
class StoredResult:
    """Where a page's result objects were put and their digests (recorded on the row: fixity checks them)."""

    key: str
    sha256: str
    size: int
    hocr_sha256: str | None = None
    hocr_size: int | None = None


def store_result(store: ObjectStore, site: str, page_id: int, result: PageResult, source: str | None) -> StoredResult:
    """Put the page's result JSON (and hOCR when it succeeded); returns the JSON key and both digests."""
    identity = {"engine": result.engine, "model": result.model, "model_sha256": result.model_sha256}
    doc = {**result.to_json(), "page_id": page_id, "image_key": source}
    data = json.dumps(doc, ensure_ascii=False, sort_keys=True).encode()
    sha = hashlib.sha256(data).hexdigest()
    json_key = ocr_key(site, page_id, result.engine, model_digest(identity), ".json")
    # An earlier, different result for the same identity (e.g. a failed try) is kept under its own digest key.
    if store.exists(json_key) and store.stat(json_key).sha256 != sha:
        json_key = ocr_key(site, page_id, result.engine, sha, ".json")
    store.put(json_key, data, sha256=sha, content_type="application/json")
    if not result.ok:
        return StoredResult(json_key, sha, len(data))
    hocr = to_hocr(result).encode()
    hkey = json_key.removesuffix(".json") + ".hocr"
    hsha = hashlib.sha256(hocr).hexdigest()
    store.put(hkey, hocr, sha256=hsha, content_type="application/xhtml+xml")
    return StoredResult(json_key, sha, len(data), hsha, len(hocr))


def record_results(
    catalog_url: str, items: list[tuple[int, PageResult, StoredResult]], *, make_current: bool = True
) -> dict[int, int]:
    """Catalog rows for ``(page id, result, stored objects)`` items, in one transaction; good pages → ``ocr_done``.

    With ``make_current=False`` (reprocessing: a new reading must first prove better) each result is recorded
    as a non-current version and nothing else changes. Returns ``{page id: ocr_result id}``.
    """
    with session_scope(catalog_url) as s:
        return {page_id: _record_row(s, page_id, result, stored, make_current) for page_id, result, stored in items}


def _record_row(s: Session, page_id: int, result: PageResult, stored: StoredResult, make_current: bool = True) -> int:
    has_good = s.scalar(
        select(OcrResult.id).where(OcrResult.page_id == page_id, OcrResult.is_current, OcrResult.error.is_(None))
    )
    current = make_current and (result.ok or has_good is None)
    if current:  # every earlier result stays, no longer current (one current result per page, whatever engine)
        s.execute(
            update(OcrResult)
            .where(OcrResult.page_id == page_id, OcrResult.is_current)
            .values(is_current=False)
            .execution_options(synchronize_session="fetch")
        )
    latest = s.scalars(
        select(OcrResult)
        .filter_by(page_id=page_id, engine=result.engine, model=result.model)
        .order_by(OcrResult.version.desc())
    ).first()
    text, lines = result.text(), [ln.to_json() for ln in result.lines]
    if latest is not None and (latest.text, latest.lines, latest.error) == (text, lines, result.error):
        row = latest  # the same reading again: no new version
    else:
        version = latest.version + 1 if latest is not None else 1
        row = OcrResult(page_id=page_id, engine=result.engine, model=result.model, version=version)
    row.model_sha256, row.device, row.seconds = dict(result.model_sha256), result.device, result.seconds
    row.text, row.lines, row.error = text, lines, result.error
    # the same reading as the current row, recorded without making it current: it stays current
    row.object_key, row.is_current = stored.key, current or (row is latest and latest.is_current)
    row.sha256, row.size = stored.sha256, stored.size
    row.hocr_sha256, row.hocr_size = stored.hocr_sha256, stored.hocr_size
    s.add(row)
    s.flush()  # the next page's queries see this row
    page = s.get(Page, page_id)
    if row.is_current and result.ok and page is not None and page.status == "preprocessed":
        transition(s, page, "ocr_done")
    return row.id
