"""The digitization summary keeps this run's counts apart from the batch's totals (a rerun reads 0 pages)."""

from __future__ import annotations

import pytest

from cli import app as cli
from cli.support import console
from dangan.digitize import DigitizeReport
from dangan.ocr.summary import OcrReport


def _ocr(pages: int, ok: int) -> OcrReport:
    return OcrReport(engine="ppocr", model="m", devices=["cpu"] if pages else [], pages=pages, ok=ok,
                     failed={}, lines=7 * ok, documents_pdf=ok)


def test_a_rerun_summary_says_this_run_and_in_total(monkeypatch: pytest.MonkeyPatch) -> None:
    ingest = {"batch_id": "b" * 32, "site": "330106", "source": "hot", "files": 2, "accepted_files": 2, "pages": 3,
              "quarantined": [], "duplicates": [], "unaccounted": [], "outcomes": {"already": 2}, "qa_issues": {},
              "unlisted_files": [], "missing_files": [], "page_count_mismatches": [], "display_names": {}}
    report = DigitizeReport.model_validate(
        {"site": "330106", "ingest": ingest, "ocr": _ocr(0, 0), "reviews": {"started": 0},
         "validation": {"documents": 2, "validated": 2, "needs_review": 0, "reasons": {}},
         "four_properties": {"passed": True, "problems": 0}})
    monkeypatch.setattr(cli, "_batch_ocr", lambda r: _ocr(3, 3))
    with console.capture() as out:
        cli._print_digitize(report)
    text = out.get()
    assert "· in total" in text and "Outcomes of this run" in " ".join(text.split())
    rows = {line.split("│")[1].strip(): line for line in text.splitlines() if line.count("│") > 5}
    assert "this run" in rows and "in total" in rows
    assert " 0 " in rows["this run"] and " 3 " in rows["in total"]
