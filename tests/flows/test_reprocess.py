"""Reprocessing: selectors, forced rerun with another model, previous results kept, changes reported."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

from PIL import Image
from sqlalchemy import select

from dangan.catalog.db import session_scope
from dangan.catalog.models import OcrResult, Page
from dangan.catalog.sites import add_site
from dangan.config import load_settings
from dangan.ingest.batch import ingest_batch_local
from dangan.ocr import OcrOptions
from dangan.ocr.stage import ocr_chunk
from dangan.reprocess import Selector, select_pages
from dangan.storage.factory import open_store
from flows.params import config_ref
from tests.ingest import badfiles
from tests.ocr.pages import form_page

SITE = "330106"


def _setup(tmp_path: Path):  # type: ignore[no-untyped-def]
    settings = load_settings(data_dir=tmp_path / "data")
    ref = add_site(settings, SITE, "西湖区")
    src = tmp_path / "hot"
    src.mkdir()
    Image.fromarray(form_page()).save(src / "form.png", dpi=(300, 300))
    badfiles.write(src, "low.png", badfiles.good_png(size=(300, 400), dpi=150))
    report = ingest_batch_local(settings, SITE, str(src))
    return settings, ref, report


def test_selectors(tmp_path: Path) -> None:
    _settings, ref, report = _setup(tmp_path)
    url = ref.catalog_url
    everything = select_pages(url, SITE, Selector())
    assert len(everything) == 2
    assert select_pages(url, SITE, Selector(batch_id=report.batch_id)) == everything
    low = select_pages(url, SITE, Selector(qa_codes=["QA_LOW_DPI"]))
    assert len(low) == 1
    today = date.today()
    assert select_pages(url, SITE, Selector(ingested_from=today, ingested_to=today)) == everything
    assert select_pages(url, SITE, Selector(ingested_to=today - timedelta(days=1))) == []
    assert select_pages(url, SITE, Selector(page_status=["ocr_done"])) == []
    store = open_store(ref.store_url)
    ocr_chunk(url, store, SITE, low, OcrOptions(engine="null"))
    with session_scope(url) as s:
        null_model = s.scalars(select(OcrResult.model)).one()
    assert select_pages(url, SITE, Selector(ocr_model_not=null_model)) == [p for p in everything if p not in low]


def test_reprocess_flow_reruns_with_new_model_and_reports(prefect_harness, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from flows.reprocess import reprocess

    settings, ref, _ = _setup(tmp_path)
    store = open_store(ref.store_url)
    pages = select_pages(ref.catalog_url, SITE, Selector())
    ocr_chunk(ref.catalog_url, store, SITE, pages, OcrOptions(engine="null"))  # an "old model" with no text
    with session_scope(ref.catalog_url) as s:
        old_model = s.scalars(select(OcrResult.model)).first()
    report = reprocess(
        site=SITE,
        selector={"ocr_model_not": "PP-OCRv6 something newer"},
        stages=["ocr"],
        engine="ppocr",
        device="cpu",
        config=config_ref(settings),
    )
    assert report["selected_pages"] == 2
    assert len(report["ocr_changed_pages"]) >= 1
    assert any(m.startswith("ppocr ") for m in report["ocr_models"])
    # the new model replaces a reading only where it reads better: the form page; where both read nothing
    # the old reading stays current (the new one is kept as a non-current version, and reported)
    replaced = set(report["replaced"])
    assert replaced and replaced <= set(pages)
    assert {k["page_id"] for k in report["kept_current"]} == set(pages) - replaced
    with session_scope(ref.catalog_url) as s:
        rows = s.scalars(select(OcrResult)).all()
        current = {r.page_id: r.engine for r in rows if r.is_current}
        assert current == {p: "ppocr" if p in replaced else "null" for p in pages}
        assert {(r.page_id, r.engine) for r in rows} == {(p, e) for p in pages for e in ("null", "ppocr")}
        assert {r.model for r in rows if r.engine == "null"} == {old_model}  # previous results kept
        assert {p.status for p in s.scalars(select(Page))} == {"ocr_done"}
