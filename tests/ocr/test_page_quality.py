"""Honest OCR quality per page: measures and OCR_* codes on results, quality issues in the catalog, reprocessing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from sqlalchemy import select

from dangan.catalog.db import session_scope
from dangan.catalog.models import Master, Page, QualityIssue
from dangan.catalog.sites import add_site
from dangan.config import load_settings
from dangan.ingest.batch import ingest_batch_local
from dangan.ocr import OcrOptions
from dangan.ocr.engines.base import OcrLine, PageResult, quad_from_bbox
from dangan.ocr.quality import (
    OCR_LOW_CONFIDENCE,
    OCR_NO_TEXT,
    OCR_ORIENTATION_UNCERTAIN,
    OCR_SUSPECT,
    page_quality,
)
from dangan.ocr.record import OCR_PAGE_QUALITY, ocr_review_reason
from dangan.ocr.stage import engine_for, ocr_chunk, pages_needing_ocr
from dangan.reprocess import Selector, select_pages
from dangan.storage.factory import open_store
from tests.ocr.pages import form_page

SITE = "330106"


def _page(confs: list[float], *, detected: int | None = None, orient: float | None = 0.99) -> PageResult:
    lines = [
        OcrLine(f"缴费基数 {i}5,380.00", c, quad_from_bbox(10, 10 + 40 * i, 400, 40 + 40 * i))
        for i, c in enumerate(confs)
    ]
    return PageResult(
        lines, "ppocr", "m", {}, "cpu", 0.1, 1000, 1400, orientation_confidence=orient,
        detected_lines=len(lines) if detected is None else detected,
    )  # fmt: skip


def test_a_clean_reading_has_measures_and_no_code():
    q = page_quality(_page([0.99, 0.98, 1.0, 0.97]))
    assert q is not None and q.codes == ()
    assert q.lines == 4 and q.chars > 40 and q.mean_confidence > 0.97 and q.low_share == 0.0
    assert 0.0 < q.coverage < 0.1 and q.orientation_confidence == 0.99
    assert set(q.to_json()) >= {"mean_confidence", "p10_confidence", "low_share", "chars", "coverage", "codes"}


@pytest.mark.parametrize(
    ("page", "code"),
    [
        (_page([]), OCR_NO_TEXT),
        (_page([0.7, 0.72, 0.95, 0.68]), OCR_LOW_CONFIDENCE),
        (_page([0.99, 0.98], orient=0.55), OCR_ORIENTATION_UNCERTAIN),
        (_page([0.99, 0.98, 0.97], detected=20), OCR_SUSPECT),
    ],
)
def test_codes(page, code):
    q = page_quality(page)
    assert q is not None and code in q.codes and q.message(code)


def test_a_failed_page_has_no_quality_its_error_says_it():
    assert page_quality(PageResult([], "ppocr", "m", {}, "cpu", 0.0, 0, 0, error="OCR_EMPTY_IMAGE: none")) is None


@pytest.fixture
def ingested(tmp_path: Path):  # type: ignore[no-untyped-def]
    """An upright form, the same form fed upside down, and a blank page, ingested with derivatives."""
    settings = load_settings(data_dir=tmp_path / "data")
    ref = add_site(settings, SITE, "西湖区")
    src = tmp_path / "hot"
    src.mkdir()
    Image.fromarray(form_page()).save(src / "a_upright.png", dpi=(300, 300))
    Image.fromarray(np.ascontiguousarray(form_page()[::-1, ::-1])).save(src / "b_upside_down.png", dpi=(300, 300))
    Image.new("L", (1100, 330), 255).save(src / "c_blank.png", dpi=(300, 300))
    ingest_batch_local(settings, SITE, str(src))
    return ref, open_store(ref.store_url)


def _codes(db: str) -> dict[str, set[str]]:
    with session_scope(db) as s:
        rows = s.execute(
            select(Master.original_name, QualityIssue.code)
            .join(Page, Page.master_id == Master.id)
            .join(QualityIssue, QualityIssue.page_id == Page.id)
            .where(QualityIssue.code.like("OCR_%"))
        ).all()
    out: dict[str, set[str]] = {}
    for name, code in rows:
        out.setdefault(Path(name).name, set()).add(code)
    return out


def test_flagged_pages_get_issues_reprocess_finds_them_and_a_good_reading_clears_them(ingested):
    ref, store = ingested
    off = OcrOptions(engine="ppocr", device="cpu", page_orientation=False)  # the "handling off" run
    todo = pages_needing_ocr(ref.catalog_url, SITE, engine_for(off).identity())
    assert ocr_chunk(ref.catalog_url, store, SITE, todo, off).ok == 3
    codes = _codes(ref.catalog_url)
    assert "a_upright.png" not in codes
    assert OCR_LOW_CONFIDENCE in codes["b_upside_down.png"] and codes["c_blank.png"] == {OCR_NO_TEXT}
    flagged = select_pages(ref.catalog_url, SITE, Selector(qa_codes=[OCR_LOW_CONFIDENCE]))
    assert len(flagged) == 1
    with session_scope(ref.catalog_url) as s:
        reason = ocr_review_reason(s, flagged)
        assert reason is not None and reason["code"] == OCR_PAGE_QUALITY and reason["details"]["pages"] == flagged
        upright, _, blank = todo  # ingested in name order
        assert ocr_review_reason(s, [upright]) is None
        blank_reason = ocr_review_reason(s, [blank])
        assert blank_reason is not None and blank_reason["details"]["codes"] == [OCR_NO_TEXT]
    # read again with orientation on: the upside-down page is turned, read right, and its codes go
    on = OcrOptions(engine="ppocr", device="cpu")
    assert ocr_chunk(ref.catalog_url, store, SITE, flagged, on).ok == 1
    assert "b_upside_down.png" not in _codes(ref.catalog_url)
    with session_scope(ref.catalog_url) as s:
        page = s.get(Page, flagged[0])
        assert page is not None and page.metrics["ocr"]["orientation"] == 180
        assert page.metrics["ocr"]["quality"]["codes"] == []
