"""Reprocessing keeps a good OCR reading unless the new one is better (issue 13.8): preview, kept, forced, better.

The page is a real ingested account statement (sample generator); its readings come from scripted engines
registered for the test: ``script-good`` returns every line the renderer drew (as a good PP-OCR reading does),
``script-poor`` only the top of the page at low confidence (what a weaker engine made of it: half the table).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from dangan.catalog.db import session_scope
from dangan.catalog.models import AuditEvent, Document, OcrResult, Page
from dangan.catalog.sites import add_site
from dangan.config import Settings, load_settings
from dangan.ingest.batch import ingest_batch_local
from dangan.ocr import OcrLine, OcrOptions
from dangan.ocr.engines.base import EngineCapabilities, EngineIdentity, PageResult, image_size
from dangan.ocr.engines.registry import _entries, register_engine
from dangan.ocr.quality import FORCED, KEPT, REPLACED, judge, measure
from dangan.ocr.stage import ocr_chunk
from dangan.storage.factory import open_store
from flows.params import config_ref
from tests.extract.helpers import load_truths, truth_pages

SITE = "330106"
STATEMENT = "p01_account_statement.tif"
CUT_Y = 900  # the poor reading stops here: 5 of the page's 12 contribution rows


class ScriptedEngine:
    """Returns the same lines for every page it is given (the test reads one page at a time)."""

    capabilities = EngineCapabilities(batched=True, gpu=False, languages=(), line_boxes=True, orientation=False)

    def __init__(self, name: str, lines: list[OcrLine]) -> None:
        self.name = name
        self.lines = lines
        self._id = EngineIdentity(name, f"{name} test model", {}, "cpu")

    def identity(self) -> EngineIdentity:
        return self._id

    def recognize(self, images: Sequence[np.ndarray | None]) -> list[PageResult]:
        return [self._id.page(list(self.lines), 0.01, *image_size(im)) for im in images]


def _lines(truth: dict[str, Any], *, poor: bool) -> list[OcrLine]:
    page = truth_pages(truth, confidence=0.95)[0]
    if not poor:
        return page
    return [OcrLine(ln.text, 0.62, ln.box) for ln in page if ln.box[0][1] < CUT_Y]


@pytest.fixture
def statement(tmp_path: Path) -> Iterator[tuple[Settings, Any, int]]:
    """An ingested sample batch; yields (settings, site, page id of the statement's first page)."""
    from dangan.samples import generate_samples

    batch = generate_samples(tmp_path / "s", 1, seed=11, site=SITE, degrade=False, bad_files=False, dpi=(200,))
    truth = load_truths(tmp_path / "s")[STATEMENT]
    for name, poor in (("script-good", False), ("script-poor", True)):
        engine = ScriptedEngine(name, _lines(truth, poor=poor))
        register_engine(name, lambda _options, e=engine: e)  # type: ignore[misc]
    settings = load_settings(data_dir=tmp_path / "data")
    ref = add_site(settings, SITE, "西湖区")
    ingest_batch_local(settings, SITE, str(batch.scans_dir), str(batch.manifest_path))
    with session_scope(ref.catalog_url) as s:
        doc = s.scalars(select(Document).where(Document.source_file.like(f"%{STATEMENT}"))).one()
        page_id = s.scalars(select(Page.id).where(Page.document_id == doc.id).order_by(Page.seq)).first()
    assert page_id is not None
    yield settings, ref, page_id
    for name in ("script-good", "script-poor"):
        _entries.pop(name, None)


def _read(ref: Any, page_id: int, engine: str) -> None:
    ocr_chunk(ref.catalog_url, open_store(ref.store_url), SITE, [page_id], OcrOptions(engine=engine))


def _rows(ref: Any, page_id: int) -> list[OcrResult]:
    with session_scope(ref.catalog_url) as s:
        rows = list(s.scalars(select(OcrResult).where(OcrResult.page_id == page_id).order_by(OcrResult.id)))
        s.expunge_all()
    return rows


def _current(ref: Any, page_id: int) -> str:
    (row,) = [r for r in _rows(ref, page_id) if r.is_current]
    return row.engine


def _flow(settings: Settings, page_id: int, engine: str, **kw: Any) -> dict[str, Any]:
    from flows.reprocess import reprocess

    return reprocess(
        site=SITE,
        selector={"page_ids": [page_id]},
        stages=["ocr"],
        engine=engine,
        config=config_ref(settings),
        **kw,
    )


def test_worse_reading_is_kept_off_and_force_replaces_with_audit(prefect_harness, statement) -> None:  # type: ignore[no-untyped-def]
    settings, ref, page_id = statement
    _read(ref, page_id, "script-good")
    assert _current(ref, page_id) == "script-good"

    report = _flow(settings, page_id, "script-poor")
    (page,) = report["pages_judged"]
    assert page["code"] == KEPT and not page["made_current"]
    assert page["current"]["rows"] == 12 and page["new"]["rows"] == 5
    assert page["new_score"] < page["current_score"]
    assert "contribution rows 12 → 5" in page["changes"]
    assert report["kept_current"] == [{"page_id": page_id, "code": KEPT, "reason": "kept: worse"}]
    assert report["ocr_changed_pages"] == []
    rows = _rows(ref, page_id)
    assert [(r.engine, r.is_current) for r in rows] == [("script-good", True), ("script-poor", False)]  # recorded

    forced = _flow(settings, page_id, "script-poor", force=True)
    assert forced["pages_judged"][0]["code"] == FORCED
    assert _current(ref, page_id) == "script-poor"
    assert len(_rows(ref, page_id)) == 2  # the same poor reading again: no third version
    with session_scope(ref.catalog_url) as s:
        (event,) = s.scalars(select(AuditEvent).where(AuditEvent.action == "ocr.reading.replace")).all()
        assert (event.actor, event.outcome, event.entity_id) == (settings.actor, "forced", str(page_id))
        assert event.details["code"] == FORCED
        assert (event.details["from"]["engine"], event.details["to"]["engine"]) == ("script-good", "script-poor")


def test_better_reading_replaces(prefect_harness, statement) -> None:  # type: ignore[no-untyped-def]
    settings, ref, page_id = statement
    _read(ref, page_id, "script-poor")
    report = _flow(settings, page_id, "script-good")
    (page,) = report["pages_judged"]
    assert page["code"] == REPLACED and page["made_current"]
    assert "contribution rows 5 → 12" in page["changes"]
    assert report["ocr_changed_pages"] == [page_id]
    assert [(r.engine, r.is_current) for r in _rows(ref, page_id)] == [("script-poor", False), ("script-good", True)]
    with session_scope(ref.catalog_url) as s:
        (event,) = s.scalars(select(AuditEvent).where(AuditEvent.action == "ocr.reading.replace")).all()
        assert (event.outcome, event.details["code"]) == ("ok", REPLACED)


def test_cli_preview_shows_the_drop_and_records_nothing(prefect_harness, statement, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from cli import support as cli_support
    from cli.app import app

    settings, ref, page_id = statement
    _read(ref, page_id, "script-good")
    before = [(r.id, r.is_current) for r in _rows(ref, page_id)]
    monkeypatch.setattr(cli_support.console, "width", 250)  # one table row per page line, not wrapped
    base = ["--data-dir", str(settings.data_dir), "reprocess", "--site", SITE, "--page", str(page_id)]
    out = CliRunner().invoke(app, [*base, "--engine", "script-poor", "--preview"], catch_exceptions=False)
    assert out.exit_code == 0, out.output
    assert "Preview — nothing recorded" in out.output
    assert "script-good → script-poor" in out.output
    assert "contribution rows 12 → 5" in out.output
    assert "kept: worse (REPROCESS_KEPT_CURRENT)" in out.output
    assert "0 pages would replace their current reading · 1 kept (REPROCESS_KEPT_CURRENT)" in out.output
    assert [(r.id, r.is_current) for r in _rows(ref, page_id)] == before  # nothing recorded
    as_json = CliRunner().invoke(app, [*base, "--engine", "script-good", "--preview", "--json"])
    page = json.loads(as_json.output)["pages_judged"][0]
    assert page["code"] == "REPROCESS_SAME_READING" and page["changes"] == []


def test_preview_masks_personal_field_changes() -> None:
    """A name or ID read differently is shown masked, never with more characters shown than hidden."""
    from dangan.extract.model import DocumentExtraction, ExtractedField

    def ex(name: str, rid: str) -> DocumentExtraction:
        fields = {
            "name": ExtractedField("name", name, name, 0.9, None, 0),
            "id_number": ExtractedField("id_number", rid, rid, 0.9, None, 0),
        }
        return DocumentExtraction("registration", 5.0, fields, [], 1)

    line = [{"text": "x", "confidence": 0.9, "box": [[0, 0], [1, 0], [1, 1], [0, 1]]}]
    cur = measure(line, engine="a", model="a", extraction=ex("钟燕", "33010619821207002X"))
    new = measure(line, engine="b", model="b", extraction=ex("钟艳", "330106198212070021"))
    text = " ".join(judge(cur, new).changes)
    assert "name: 钟* → 钟*" in text
    assert "id_number: 330106************ → 330106************" in text
    assert "燕" not in text and "艳" not in text and "002" not in text


def test_rule_margin_ties_and_failures() -> None:
    """Equal readings keep the current one; a failed new reading never replaces, not even forced."""
    from dangan.ocr.quality import FAILED, REPLACE_MARGIN, score_pair

    def lines(n: int, conf: float) -> list[dict[str, Any]]:
        return [
            {"text": f"第{i}行 内容", "confidence": conf, "box": [[0, i], [9, i], [9, i + 1], [0, i + 1]]}
            for i in range(n)
        ]

    cur = measure(lines(20, 0.90), engine="a", model="a")
    assert judge(cur, measure(lines(20, 0.90), engine="b", model="b")).code == KEPT  # a tie is no reason to switch
    slightly = measure(lines(20, 0.92), engine="b", model="b")
    a, b = score_pair(cur, slightly)
    assert 0 < b - a < REPLACE_MARGIN and judge(cur, slightly).code == KEPT  # within the margin
    assert judge(cur, measure(lines(20, 0.99), engine="b", model="b")).code == REPLACED
    failed = measure([], engine="b", model="b", error="OCR_PAGE_FAILED: boom")
    verdict = judge(cur, failed, force=True)
    assert (verdict.code, verdict.make_current) == (FAILED, False)
