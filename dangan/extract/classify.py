"""Form-type classification from OCR text and layout, with evidence from the label vocabulary.

Evidence per form: a title (3 points; 2 more when it is among the first rows of the first page, where titles
are printed), each keyword label present (1 point), and the form's table header (2 points). The best form
wins when it has at least ``MIN_SCORE`` points and beats the runner-up; otherwise the type is ``unknown``.
"""

from __future__ import annotations

from collections.abc import Sequence

from dangan.extract.geometry import Item, rows
from dangan.extract.vocab import Vocabulary, label_key

UNKNOWN = "unknown"
MIN_SCORE = 3.0
TITLE_ROWS = 3


def _keys(item: Item) -> set[str]:
    """Label keys an item may carry: its whole text, and the part before a colon."""
    key = label_key(item.text)
    keys = {key}
    for colon in "：:":
        if colon in item.text:
            keys.add(label_key(item.text.split(colon, 1)[0]))
    return keys


def _has_header(page_rows: list[list[Item]], columns: dict[str, tuple[str, ...]], need: int) -> bool:
    for row in page_rows:
        found = {col for item in row for col, labels in columns.items() if label_key(item.text) in labels}
        if len(found) >= need:
            return True
    return False


def score_forms(pages: Sequence[Sequence[Item]], vocab: Vocabulary) -> dict[str, float]:
    """Points per form type for a document's pages (items as from :func:`page_items`)."""
    all_items = [item for page in pages for item in page]
    compact = ["".join(item.text.split()) for item in all_items]
    keys = set().union(*(_keys(item) for item in all_items)) if all_items else set()
    first_rows = rows(pages[0]) if pages else []
    top = {id(item) for row in first_rows[:TITLE_ROWS] for item in row}
    page_rows = [rows(page) for page in pages]
    scores: dict[str, float] = {}
    for name, form in vocab.forms.items():
        score = 0.0
        title_hits = [i for i, text in enumerate(compact) if any(t in text for t in form.titles)]
        if title_hits:
            score += 3.0 + (2.0 if any(id(all_items[i]) in top for i in title_hits) else 0.0)
        score += sum(1.0 for kw in form.keywords if label_key(kw) in keys)
        if form.table:
            table = vocab.tables[form.table]
            if any(_has_header(pr, table.columns, table.min_header_columns) for pr in page_rows):
                score += 2.0
        scores[name] = score
    return scores


def classify(pages: Sequence[Sequence[Item]], vocab: Vocabulary) -> tuple[str, float]:
    """``(form type, score)``; ``("unknown", score)`` when the evidence is too weak or tied."""
    scores = score_forms(pages, vocab)
    if not scores:
        return UNKNOWN, 0.0
    ranked = sorted(scores.items(), key=lambda kv: kv[1], reverse=True)
    best, best_score = ranked[0]
    runner_up = ranked[1][1] if len(ranked) > 1 else 0.0
    if best_score < MIN_SCORE or best_score <= runner_up:
        return UNKNOWN, best_score
    return best, best_score
