"""The ingest report model: the JSON keys operators' scripts read stay as they were, names are masked in output,
and the copy kept on the batch reads back into the same model."""

from __future__ import annotations

from dangan.ingest.report import IngestReport
from dangan.reports import ingest_markdown, ingest_reconciliation, outcome_rows

KEYS = {
    "batch_id", "site", "source", "files", "accepted_files", "pages", "outcomes", "duplicates", "quarantined",
    "qa_issues", "page_count_mismatches", "unlisted_files", "missing_files", "manifest_problems", "unaccounted",
}  # fmt: skip


def _report() -> IngestReport:
    return IngestReport.model_validate(
        {
            "batch_id": "b" * 32, "site": "330106", "source": "folder /scans/张三", "files": 3, "accepted_files": 1,
            "pages": 2, "outcomes": {"accepted": 1, "quarantined": 1, "duplicate": 1},
            "duplicates": [{"file": "张三_2.png", "duplicate_of": "张三_1.png"}],
            "quarantined": [{"file": "张三_3.tif", "code": "INGEST_EMPTY_FILE", "message": "张三_3.tif is empty"}],
            "page_count_mismatches": [{"file": "张三_1.png", "expected": 2, "found": 1}],
            "missing_files": ["张三_4.png"],
            "manifest_problems": [{"line": 3, "code": "MANIFEST_BAD_FILE", "column": "file", "file": "张三_5.png"}],
            "display_names": {"folder /scans/张三": "folder /scans/张*", "张三_1.png": "张*_1.png",
                              "张三_2.png": "张*_2.png", "张三_3.tif": "张*_3.tif", "张三_4.png": "张*_4.png",
                              "张三_5.png": "张*_5.png"},
        }
    )  # fmt: skip


def test_json_keeps_its_keys_and_masks_names() -> None:
    out = _report().public_dict()
    assert set(out) == KEYS  # display_names stays out
    text = str(out)
    assert "张三" not in text and "张*_3.tif" in text and out["source"] == "folder /scans/张*"
    assert out["quarantined"] == [
        {"file": "张*_3.tif", "code": "INGEST_EMPTY_FILE", "message": "张*_3.tif is empty", "object_key": None}
    ]


def test_stored_copy_reads_back_and_every_surface_masks() -> None:
    report = _report()
    assert IngestReport.model_validate(report.model_dump(mode="json")) == report
    assert ("page count", "张三_1.png: expected 2, found 1") in ingest_reconciliation(report)
    md = ingest_markdown(report)
    rows = str(outcome_rows(report))
    assert "张三" not in md and "张三" not in rows
    assert "MANIFEST_BAD_FILE" in md and "listed, not delivered" in md and "张*_2.png" in rows
