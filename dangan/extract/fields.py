"""Label-anchored field extraction: find printed labels, then the value right of or below each one.

A label is an OCR line whose text is a vocabulary label (``姓名``), possibly with a colon and the value in the
same line (``姓名：钟燕``). A bare label takes the text to its right in the same row, up to the next label
(ruled label/value tables), or else the text just below it in the same column. The first non-empty reading
of a field is its value; a different value for the same field elsewhere in the document adds a ``CONFLICT``
flag and is kept in ``alternatives`` (validation sends such a document to review: nothing is decided here).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from dangan.catalog.fields import CONFLICT as CONFLICT
from dangan.extract.geometry import Item, horizontal_overlap, quad_box, same_row, sub_box, union_box
from dangan.extract.model import Box, ExtractedField
from dangan.extract.normalize import Normalized, normalize_month_range, normalize_value
from dangan.extract.vocab import FieldSpec, Vocabulary, label_key

_LABEL_COLON = re.compile(r"(\S+?)\s*[：:]")


@dataclass(frozen=True)
class Anchor:
    """A label found on a page; ``inline`` is the value printed after it in the same line, if any."""

    field: str
    label: str
    item: Item
    inline: str | None = None
    inline_box: Box | None = None


def _edit1(a: str, b: str) -> bool:
    """True when ``a`` and ``b`` differ by at most one substitution, insertion or deletion."""
    if abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        return sum(x != y for x, y in zip(a, b, strict=True)) <= 1
    short, long_ = sorted((a, b), key=len)
    return any(long_[:i] + long_[i + 1 :] == short for i in range(len(long_)))


def _lookup(key: str, index: dict[str, str]) -> tuple[str, str] | None:
    if key in index:
        return index[key], key
    if len(key) >= 4:  # one misread character in a long label (补缴 → 补激) still anchors; short ones must match
        for label, name in index.items():
            if len(label) >= 4 and _edit1(key, label):
                return name, label
    return None


def anchors_in(item: Item, index: dict[str, str]) -> list[Anchor]:
    """Labels in one OCR line: the whole line, or every ``label：value`` pair in it (lines OCR merged)."""
    whole = _lookup(label_key(item.text), index)
    if whole:
        return [Anchor(whole[0], whole[1], item)]
    found: list[tuple[int, int, str, str]] = []  # (label start, value start, field, label)
    for match in _LABEL_COLON.finditer(item.text):
        hit = _lookup(label_key(match.group(1)), index)
        if hit and (match.start() == 0 or item.text[match.start() - 1].isspace() or found):
            found.append((match.start(), match.end(), *hit))
    if not found:
        first = item.text.split(None, 1)
        hit = _lookup(label_key(first[0]), index) if len(first) == 2 else None
        if hit:  # "姓名 钟燕": a label cell and its value read as one line
            start = len(item.text) - len(first[1])
            return [Anchor(hit[0], hit[1], item, first[1], sub_box(item, start, len(item.text)))]
        return []
    out = []
    for n, (_, value_start, name, label) in enumerate(found):
        value_end = found[n + 1][0] if n + 1 < len(found) else len(item.text)
        value = item.text[value_start:value_end].strip()
        out.append(Anchor(name, label, item, value, sub_box(item, value_start, value_end)))
    return out


def is_label(item: Item, all_labels: frozenset[str]) -> bool:
    """True when the line is a label (alone or followed by a colon), i.e. it ends the value before it."""
    key = label_key(item.text)
    if key in all_labels:
        return True
    match = _LABEL_COLON.match(item.text)
    return bool(match and label_key(match.group(1)) in all_labels)


def _value_items(anchor: Anchor, page: Sequence[Item], all_labels: frozenset[str]) -> list[Item]:
    a = anchor.item
    right = sorted(
        (i for i in page if i is not a and same_row(a, i) and i.x0 >= a.x1 - 0.3 * a.height),
        key=lambda i: i.x0,
    )
    picked: list[Item] = []
    for item in right:
        if is_label(item, all_labels):
            break
        if picked and item.x0 - picked[-1].x1 > 2.0 * a.height:
            break
        picked.append(item)
    if picked:
        return picked
    below = [
        i
        for i in page
        if i is not a and horizontal_overlap(a, i) >= 0.5 and 0 <= i.y0 - a.y1 + 0.2 * a.height <= 2.7 * a.height
    ]
    below.sort(key=lambda i: i.y0)
    if below and not is_label(below[0], all_labels):
        return [below[0]]
    return []


def _read(anchor: Anchor, page: Sequence[Item], all_labels: frozenset[str]) -> tuple[str, float, Box | None]:
    if anchor.inline is not None:
        return anchor.inline, anchor.item.confidence, anchor.inline_box
    items = _value_items(anchor, page, all_labels)
    if not items:
        return "", 0.0, None
    text = " ".join(i.text for i in items)
    return text, min(i.confidence for i in items), union_box(quad_box(i) for i in items)


def _make(spec: FieldSpec, anchor: Anchor, raw: str, conf: float, box: Box | None) -> list[ExtractedField]:
    page = anchor.item.page
    if spec.kind == "month_range":
        first, last = normalize_month_range(raw)
        return [
            ExtractedField(name, n.value, raw, conf, box, page, anchor.label, n.flags)
            for name, n in zip(spec.into, (first, last), strict=True)
        ]
    norm: Normalized = normalize_value(spec.kind, raw)
    return [ExtractedField(spec.name, norm.value, raw, conf, box, page, anchor.label, norm.flags)]


def extract_fields(
    pages: Sequence[Sequence[Item]], vocab: Vocabulary, field_names: Sequence[str]
) -> dict[str, ExtractedField]:
    """Fields ``field_names`` read from a document's pages (items as from :func:`page_items`)."""
    index = vocab.label_index(tuple(field_names))
    all_labels = vocab.all_labels()
    out: dict[str, ExtractedField] = {}
    for page in pages:
        for item in sorted(page, key=lambda i: (i.cy, i.x0)):
            for anchor in anchors_in(item, index):
                raw, conf, box = _read(anchor, page, all_labels)
                for found in _make(vocab.fields[anchor.field], anchor, raw, conf, box):
                    _merge(out, found)
    return out


def _merge(out: dict[str, ExtractedField], found: ExtractedField) -> None:
    current = out.get(found.name)
    if current is None or (current.value is None and found.value is not None):
        if current is not None:
            found.flags = tuple(dict.fromkeys(found.flags + tuple(f for f in current.flags if f == CONFLICT)))
            found.alternatives = current.alternatives
        out[found.name] = found
    elif found.value is not None and found.value != current.value:
        if CONFLICT not in current.flags:
            current.flags = (*current.flags, CONFLICT)
        if all(alt.value != found.value for alt in current.alternatives):
            current.alternatives.append(found)
