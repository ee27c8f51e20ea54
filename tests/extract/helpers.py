"""Test helpers: "perfect OCR" pages from sample ground truth, and records built from extractions."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from dangan.extract import DocumentExtraction, extract_document
from dangan.ocr import OcrLine
from dangan.ocr.engines.base import quad_from_bbox
from dangan.quality.records import RecordInput


def truth_pages(truth: dict[str, Any], confidence: float = 0.99) -> list[list[OcrLine]]:
    """OCR lines exactly as the sample renderer drew them (text + box per item), one list per page."""
    return [
        [OcrLine(b["text"], confidence, quad_from_bbox(*b["bbox"])) for b in page["boxes"]] for page in truth["pages"]
    ]


def load_truths(batch_dir: Path) -> dict[str, dict[str, Any]]:
    """Ground truth of every document file of a sample batch, by file name (bad files left out)."""
    out = {}
    for path in sorted((batch_dir / "ground_truth").glob("*.json")):
        truth = json.loads(path.read_text(encoding="utf-8"))
        if truth["pages"] and not truth.get("defect"):
            out[truth["file"]] = truth
    return out


def record_of(record_id: str, ex: DocumentExtraction, person_key: str | None = None, **kw: Any) -> RecordInput:
    """A validation record from an extraction (what the catalog path builds from stored fields)."""
    fields = {
        name: {"value": f.value, "confidence": f.confidence, "flags": list(f.flags)} for name, f in ex.fields.items()
    }
    rows = [row.to_json() for row in ex.contributions]
    return RecordInput(record_id, ex.form_type, fields, rows, person_key=person_key, **kw)


def truth_records(truths: dict[str, dict[str, Any]]) -> list[RecordInput]:
    """Records of every sample document, extracted from perfect-OCR pages, keyed by person (p01, p02...)."""
    return [record_of(name, extract_document(truth_pages(t)), person_key=name[:3]) for name, t in truths.items()]
