"""One document's OCR lines (per page) → form type, fields and contribution rows."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from dangan.extract.classify import UNKNOWN, classify
from dangan.extract.fields import extract_fields
from dangan.extract.geometry import page_items
from dangan.extract.model import DocumentExtraction
from dangan.extract.table import extract_table
from dangan.extract.vocab import Vocabulary, load_vocabulary
from dangan.ocr.engines.base import OcrLine, PageResult


def lines_from_json(lines: Sequence[dict[str, Any]]) -> list[OcrLine]:
    """OCR lines from their stored JSON form (``ocr_result.lines``: ``[{"text", "confidence", "box"}]``)."""
    return [
        OcrLine(str(d["text"]), float(d.get("confidence", 0.0)), tuple((float(x), float(y)) for x, y in d["box"]))
        for d in lines
        if d.get("box")
    ]


def extract_document(
    pages: Sequence[Sequence[OcrLine] | PageResult],
    *,
    vocab: Vocabulary | None = None,
    form_hint: str | None = None,
) -> DocumentExtraction:
    """Classify and extract one document; ``form_hint`` (e.g. the manifest's form type) is used only when
    the OCR evidence is too weak to decide."""
    vocab = vocab or load_vocabulary()
    items = [page_items(p.lines if isinstance(p, PageResult) else p, number) for number, p in enumerate(pages)]
    form_type, score = classify(items, vocab)
    if form_type == UNKNOWN and form_hint in vocab.forms:
        form_type = str(form_hint)
    if form_type == UNKNOWN:
        return DocumentExtraction(UNKNOWN, score, {}, [], len(items))
    form = vocab.forms[form_type]
    fields = extract_fields(items, vocab, form.fields)
    rows = extract_table(items, vocab.tables[form.table], vocab.all_labels()) if form.table else []
    return DocumentExtraction(form_type, score, fields, rows, len(items))


def doc_date_of(extraction: DocumentExtraction, vocab: Vocabulary | None = None) -> str | None:
    """The document's own date (the form's ``date_field``), when it was read."""
    vocab = vocab or load_vocabulary()
    form = vocab.forms.get(extraction.form_type)
    found = extraction.fields.get(form.date_field) if form and form.date_field else None
    return found.value if found else None
