"""The catalog OCR stage: selection, skip-done, per-page failures, versioned results, searchable PDFs, search."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from sqlalchemy import select

from dangan.catalog.db import session_scope
from dangan.catalog.models import Derivative, OcrResult, Page
from dangan.catalog.sites import add_site
from dangan.config import load_settings
from dangan.ingest.batch import ingest_batch_local
from dangan.ocr import OcrOptions
from dangan.ocr.engines.base import EngineIdentity
from dangan.ocr.engines.options import FaultSpec
from dangan.ocr.search import search_text
from dangan.ocr.stage import (
    build_document_pdf,
    engine_for,
    load_page_image,
    ocr_chunk,
    pages_needing_ocr,
)
from dangan.storage.factory import open_store
from tests.ocr.pages import form_page

SITE = "330106"


@pytest.fixture
def ingested(tmp_path: Path):  # type: ignore[no-untyped-def]
    """Two single-page documents and one two-page TIFF, ingested with derivatives."""
    settings = load_settings(data_dir=tmp_path / "data")
    ref = add_site(settings, SITE, "西湖区")
    src = tmp_path / "hot"
    src.mkdir()
    img = Image.fromarray(form_page())
    img.save(src / "a.png", dpi=(300, 300))
    Image.fromarray(form_page(("单位名称 杭州西湖精密机械有限公司", "缴费年月 2020-01"))).save(
        src / "b.png", dpi=(300, 300)
    )
    img.save(src / "c.tif", save_all=True, append_images=[img.rotate(180)], dpi=(300, 300))
    ingest_batch_local(settings, SITE, str(src))
    return settings, ref, open_store(ref.store_url)


def test_ocr_chunk_fills_catalog_and_skips_done(ingested) -> None:  # type: ignore[no-untyped-def]
    _, ref, store = ingested
    options = OcrOptions(engine="ppocr", device="cpu")
    identity = engine_for(options).identity()
    todo = pages_needing_ocr(ref.catalog_url, SITE, identity)
    assert len(todo) == 4
    summary = ocr_chunk(ref.catalog_url, store, SITE, todo, options)
    assert summary.ok == 4 and summary.device == "cpu"
    assert pages_needing_ocr(ref.catalog_url, SITE, identity) == []  # same engine + model: nothing to do
    with session_scope(ref.catalog_url) as s:
        rows = s.scalars(select(OcrResult).order_by(OcrResult.page_id)).all()
        assert all(r.is_current and r.error is None and r.model_sha256 for r in rows)
        assert "11010519491231002X" in "".join(rows[0].text.split())
        assert {p.status for p in s.scalars(select(Page))} == {"ocr_done"}
        json_obj = store.get(rows[0].object_key)
    assert b'"image_key"' in json_obj
    assert store.exists(rows[0].object_key.removesuffix(".json") + ".hocr")


def test_failed_page_recorded_and_retried_next_run(ingested) -> None:  # type: ignore[no-untyped-def]
    _, ref, store = ingested
    faulty = OcrOptions(engine="fault", fault=FaultSpec(fail_on_pages=frozenset({1})))
    identity = engine_for(faulty).identity()
    todo = pages_needing_ocr(ref.catalog_url, SITE, identity)
    summary = ocr_chunk(ref.catalog_url, store, SITE, todo, faulty)
    assert len(summary.failed) == 1 and summary.ok == 3  # one bad page never sinks the chunk
    failed_id = next(iter(summary.failed))
    with session_scope(ref.catalog_url) as s:
        assert s.get(Page, failed_id).status == "preprocessed"
        assert s.scalars(select(OcrResult).filter_by(page_id=failed_id)).one().error.startswith("OCR_FAULT")
    assert pages_needing_ocr(ref.catalog_url, SITE, identity) == [failed_id]


def test_new_engine_result_versions_the_old_one(ingested) -> None:  # type: ignore[no-untyped-def]
    _, ref, store = ingested
    page = pages_needing_ocr(ref.catalog_url, SITE, EngineIdentity("x", "y"))[:1]
    ocr_chunk(ref.catalog_url, store, SITE, page, OcrOptions(engine="null"))
    ocr_chunk(ref.catalog_url, store, SITE, page, OcrOptions(engine="ppocr", device="cpu"))
    with session_scope(ref.catalog_url) as s:
        rows = {r.engine: r.is_current for r in s.scalars(select(OcrResult).filter_by(page_id=page[0]))}
    assert rows == {"null": False, "ppocr": True}


def test_unreadable_derivative_gives_page_error_not_crash(ingested) -> None:  # type: ignore[no-untyped-def]
    _, ref, store = ingested
    with session_scope(ref.catalog_url) as s:
        deriv = s.scalars(select(Derivative).order_by(Derivative.id)).first()
        deriv.object_key = "sites/330106/derivatives/missing.png"  # points at nothing
        victim = deriv.page_id
    options = OcrOptions(engine="null")
    others = [p for p in pages_needing_ocr(ref.catalog_url, SITE, EngineIdentity("x", "y")) if p != victim]
    summary = ocr_chunk(ref.catalog_url, store, SITE, [victim, *others], options)
    assert list(summary.failed) == [victim] and summary.ok == len(others)  # the chunk goes on
    assert summary.failed[victim].startswith("OCR_INPUT_UNREADABLE: ObjectNotFound")  # why, not just "empty"
    with session_scope(ref.catalog_url) as s:
        assert s.scalars(select(OcrResult.error).filter_by(page_id=victim)).one() == summary.failed[victim]


def test_a_failed_rerun_keeps_the_good_result_current(ingested) -> None:  # type: ignore[no-untyped-def]
    """Reprocessing that cannot read a page records the failure as a version, but search and PDFs keep the
    earlier good reading."""
    _, ref, store = ingested
    ppocr = OcrOptions(engine="ppocr", device="cpu")
    page = pages_needing_ocr(ref.catalog_url, SITE, engine_for(ppocr).identity())[:1]
    ocr_chunk(ref.catalog_url, store, SITE, page, ppocr)
    keys = {}
    with session_scope(ref.catalog_url) as s:
        for deriv in s.scalars(select(Derivative).filter_by(page_id=page[0])):
            keys[deriv.id], deriv.object_key = deriv.object_key, "sites/330106/derivatives/gone.png"
    for options in (ppocr, OcrOptions(engine="null")):  # same engine again, then another engine
        summary = ocr_chunk(ref.catalog_url, store, SITE, page, options)
        assert summary.failed[page[0]].startswith("OCR_INPUT_UNREADABLE")
    with session_scope(ref.catalog_url) as s:
        rows = s.scalars(select(OcrResult).filter_by(page_id=page[0]).order_by(OcrResult.id)).all()
        assert [(r.engine, r.error is None, r.is_current) for r in rows] == [
            ("ppocr", True, True),
            ("ppocr", False, False),
            ("null", False, False),
        ]
    assert "11010519491231002X" in "".join(h["snippet"] for h in search_text(ref.catalog_url, SITE, "1101051949"))
    with session_scope(ref.catalog_url) as s:  # the input is back: a good rerun is the one current result
        for deriv in s.scalars(select(Derivative).filter_by(page_id=page[0])):
            deriv.object_key = keys[deriv.id]
    assert ocr_chunk(ref.catalog_url, store, SITE, page, ppocr).ok == 1
    with session_scope(ref.catalog_url) as s:
        current = s.scalars(select(OcrResult.version).filter_by(page_id=page[0], is_current=True)).all()
    assert current == [3]  # v1 good, v2 failed, v3 good: only v3 current, never two


def test_pinned_model_digests_in_the_options_work_in_the_stage(ingested) -> None:  # type: ignore[no-untyped-def]
    """Options with ``expected_model_sha256`` (a dict) key the per-process engine cache too."""
    from dangan.ocr.engines.models import find_model_files, sha256_file

    _, ref, store = ingested
    det = find_model_files().det
    options = OcrOptions(engine="ppocr", device="cpu", expected_model_sha256={det.name: sha256_file(det)})
    page = pages_needing_ocr(ref.catalog_url, SITE, engine_for(options).identity())[:1]
    assert ocr_chunk(ref.catalog_url, store, SITE, page, options).ok == 1
    assert engine_for(options) is engine_for(options.model_copy())  # one engine per distinct options


def test_one_bad_document_does_not_stop_the_other_pdfs(ingested) -> None:  # type: ignore[no-untyped-def]
    from dangan.ocr.stage import build_document_pdfs

    _, ref, store = ingested
    options = OcrOptions(engine="null")
    ocr_chunk(
        ref.catalog_url, store, SITE, pages_needing_ocr(ref.catalog_url, SITE, EngineIdentity("x", "y")), options
    )
    with session_scope(ref.catalog_url) as s:
        docs = sorted({d for d in s.scalars(select(Page.document_id)) if d})
        victim = s.scalars(select(Page).filter_by(document_id=docs[0])).first()
        for deriv in s.scalars(select(Derivative).filter_by(page_id=victim.id)):
            deriv.object_key = "sites/330106/derivatives/gone.png"
    built, failed = build_document_pdfs(ref.catalog_url, store, SITE, docs)
    assert set(built) == set(docs[1:]) and all(store.exists(k) for k in built.values())
    assert list(failed) == [docs[0]] and "ObjectNotFound" in failed[docs[0]]


def test_a_transient_load_failure_retries_the_chunk_without_a_failed_version(ingested) -> None:  # type: ignore[no-untyped-def]
    from dangan.errors import StoreUnavailable

    _, ref, store = ingested
    todo = pages_needing_ocr(ref.catalog_url, SITE, EngineIdentity("x", "y"))
    with session_scope(ref.catalog_url) as s:
        flaky = {d.object_key for d in s.scalars(select(Derivative).filter_by(page_id=todo[1]))}

    class FlakyStore:  # the store is unreachable for one page's input, once
        def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
            return getattr(store, name)

        def get(self, key: str) -> bytes:
            if key in flaky:
                flaky.discard(key)
                raise StoreUnavailable("connection reset")
            return store.get(key)

    with pytest.raises(StoreUnavailable):
        ocr_chunk(ref.catalog_url, FlakyStore(), SITE, todo, OcrOptions(engine="null"))
    with session_scope(ref.catalog_url) as s:
        recorded = set(s.scalars(select(OcrResult.page_id)))
    assert recorded == set(todo) - {todo[1]}  # the others are done; no failed version for the flaky page
    summary = ocr_chunk(ref.catalog_url, FlakyStore(), SITE, todo, OcrOptions(engine="null"))  # the retry
    assert summary.ok == len(todo) and not summary.failed


def test_searchable_pdf_and_search(ingested) -> None:  # type: ignore[no-untyped-def]
    _, ref, store = ingested
    options = OcrOptions(engine="ppocr", device="cpu")
    ocr_chunk(
        ref.catalog_url, store, SITE, pages_needing_ocr(ref.catalog_url, SITE, engine_for(options).identity()), options
    )
    with session_scope(ref.catalog_url) as s:
        doc_id = s.scalars(select(Page.document_id).order_by(Page.id)).first()
    key = build_document_pdf(ref.catalog_url, store, SITE, doc_id)
    assert key is not None
    text = subprocess.run(["pdftotext", "-", "-"], input=store.get(key), capture_output=True, check=True).stdout
    assert "公民身份号码" in "".join(text.decode().split())
    with session_scope(ref.catalog_url) as s:
        pdf_row = s.scalars(select(Derivative).filter_by(kind="document-pdf", object_key=key)).one()
        assert pdf_row.params["pdfa"] == "PDF/A-2B"  # validated archival PDF, recorded with the derivative
    hits = search_text(ref.catalog_url, SITE, "西湖 精密")
    assert [h["file"] for h in hits] == ["b.png"]
    assert search_text(ref.catalog_url, SITE, "100%_不存在") == []


def test_batch_summary_read_back_from_the_catalog(ingested) -> None:  # type: ignore[no-untyped-def]
    """What ``digitize`` reports when OCR ran on another pool: counted from the catalog, missing pages failed."""
    from dangan.catalog.models import Document
    from dangan.ocr.summary import batch_ocr_summary

    _, ref, store = ingested
    options = OcrOptions(engine="null")
    todo = pages_needing_ocr(ref.catalog_url, SITE, engine_for(options).identity())
    ocr_chunk(ref.catalog_url, store, SITE, todo[:3], options)  # the fourth page never got OCR
    with session_scope(ref.catalog_url) as s:
        batch_id = s.scalars(select(Document.batch_id)).first()
    summary = batch_ocr_summary(ref.catalog_url, batch_id)
    assert (summary.pages, summary.ok, summary.engine) == (4, 3, "null")
    assert summary.failed == {str(todo[3]): "no OCR result"}
    assert summary.devices == ["cpu"] and summary.documents_pdf == 0


def test_a_rerun_that_reads_differently_adds_a_version(ingested) -> None:  # type: ignore[no-untyped-def]
    """Same engine + model: a failed try then a good read are two versions; the same read again adds none."""
    _, ref, store = ingested
    page = pages_needing_ocr(ref.catalog_url, SITE, EngineIdentity("x", "y"))[:1]
    failing = OcrOptions(engine="fault", fault=FaultSpec(fail_on_pages=frozenset({0})))
    ocr_chunk(ref.catalog_url, store, SITE, page, failing)
    ocr_chunk(ref.catalog_url, store, SITE, page, failing)  # the page index moved on: this time it reads
    ppocr = OcrOptions(engine="ppocr", device="cpu")
    ocr_chunk(ref.catalog_url, store, SITE, page, ppocr)
    ocr_chunk(ref.catalog_url, store, SITE, page, ppocr)  # the same reading again (deterministic model)
    with session_scope(ref.catalog_url) as s:
        rows = s.scalars(select(OcrResult).filter_by(page_id=page[0]).order_by(OcrResult.id)).all()
        got = [(r.engine, r.version, r.is_current, bool(r.error)) for r in rows]
        fault_keys = [r.object_key for r in rows if r.engine == "fault"]
    assert got == [("fault", 1, False, True), ("fault", 2, False, False), ("ppocr", 1, True, False)], got
    assert all(store.exists(k) for k in fault_keys) and len(set(fault_keys)) == 2  # each version keeps its JSON


def test_binarized_derivative_is_the_ocr_input(tmp_path: Path) -> None:
    """With ``[derive] binarize`` QA writes ``ocr-binary`` derivatives; OCR reads those, not the master."""
    settings = load_settings(data_dir=tmp_path / "data", derive={"binarize": True})
    ref = add_site(settings, SITE, "西湖区")
    src = tmp_path / "hot"
    src.mkdir()
    Image.fromarray(form_page()).save(src / "a.png", dpi=(300, 300))
    ingest_batch_local(settings, SITE, str(src))
    store = open_store(ref.store_url)
    with session_scope(ref.catalog_url) as s:
        deriv = s.scalars(select(Derivative).filter_by(kind="ocr-binary")).one()
        page_id, deriv_key = deriv.page_id, deriv.object_key
    image, key, _ = load_page_image(ref.catalog_url, store, page_id)
    assert key == deriv_key and set(np.unique(image)) <= {0, 255}  # the Sauvola output, two levels
    summary = ocr_chunk(ref.catalog_url, store, SITE, [page_id], OcrOptions(engine="ppocr", device="cpu"))
    assert summary.ok == 1
    with session_scope(ref.catalog_url) as s:
        assert "11010519491231002X" in "".join(s.scalars(select(OcrResult.text)).one().split())
