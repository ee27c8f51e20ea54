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
from dangan.catalog.models import OcrResult, Page, QualityIssue
from dangan.catalog.states import PageState, transition
from dangan.keys import ocr_key
from dangan.ocr.engines.base import PageResult
from dangan.ocr.output.render import to_hocr
from dangan.ocr.quality import PAGE_CODES, page_quality
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
    quality = page_quality(result)
    doc = {**result.to_json(), "page_id": page_id, "image_key": source, "quality": quality and quality.to_json()}
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
    if row.is_current and result.ok and page is not None and page.status == PageState.PREPROCESSED:
        transition(s, page, PageState.OCR_DONE)
    if row.is_current and result.ok and page is not None:
        record_page_quality(s, page, result, row.id)
    return row.id


def record_page_quality(s: Session, page: Page, result: PageResult, result_id: int) -> list[str]:
    """Record the current reading's orientation and quality on the page and make its ``OCR_*`` quality issues
    those of this reading (earlier readings' codes go; ``dangan reprocess --qa-code OCR_LOW_CONFIDENCE`` finds the
    rest). ``page.metrics["ocr"]`` keeps the angle the OCR input was turned by (the searchable PDF turns its page
    image the same way) and the measures. Returns the codes."""
    quality = page_quality(result)
    codes = list(quality.codes) if quality else []
    page.metrics = {
        **(page.metrics or {}),
        "ocr": {
            "ocr_result": result_id,
            "orientation": result.orientation,
            "orientation_confidence": result.orientation_confidence,
            "quality": quality.to_json() if quality else None,
        },
    }
    earlier = select(QualityIssue).where(QualityIssue.page_id == page.id, QualityIssue.code.in_(PAGE_CODES))
    for issue in list(s.scalars(earlier)):
        if issue.code not in codes:
            s.delete(issue)
    for code in codes:
        assert quality is not None
        issue = s.scalars(select(QualityIssue).filter_by(page_id=page.id, code=code)).first() or QualityIssue(
            page_id=page.id, code=code, severity="warning", message=""
        )
        s.add(issue)
        issue.message, issue.details = quality.message(code), {**quality.to_json(), "ocr_result": result_id}
    s.flush()
    return codes


OCR_PAGE_QUALITY = "OCR_PAGE_QUALITY"  # validation reason: a page of the document carries an OCR_* quality code


def ocr_review_reason(s: Session, page_ids: list[int]) -> dict[str, Any] | None:
    """A blocking validation reason when any of ``page_ids`` carries an ``OCR_*`` quality code (the document then
    goes to review: its text may be misread even when every field checks out), else None."""
    rows = s.execute(
        select(QualityIssue.page_id, QualityIssue.code)
        .where(QualityIssue.page_id.in_(page_ids), QualityIssue.code.in_(PAGE_CODES))
        .order_by(QualityIssue.page_id, QualityIssue.code)
    ).all()
    if not rows:
        return None
    codes = sorted({code for _, code in rows})
    return {
        "code": OCR_PAGE_QUALITY,
        "fields": [],
        "severity": "warning",
        "expectation": "ocr_page_quality",
        "message": f"OCR of a page is unreliable ({', '.join(codes)}): check the text against the page image "
        "(页面识别质量存疑)",
        "details": {"pages": sorted({pid for pid, _ in rows}), "codes": codes},
    }
