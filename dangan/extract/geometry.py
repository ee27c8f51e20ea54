"""Page geometry for label anchoring: OCR lines as boxes in a deskewed frame, rows, and source boxes.

Boxes stay in the OCR input image's coordinates for output; comparisons (same row, right of, below) use the
box rotated by the page's residual skew so that a 2-5° tilt does not move a value into the next row.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from dangan.extract.model import Box
from dangan.ocr.engines.base import OcrLine, Quad
from dangan.ocr.engines.layout import estimate_skew
from dangan.ocr.engines.normalize import normalize_text


@dataclass(frozen=True)
class Item:
    """An OCR line on a page: normalized text, confidence, original quad and deskewed bounds."""

    text: str
    confidence: float
    quad: Quad
    x0: float
    y0: float
    x1: float
    y1: float
    page: int

    @property
    def height(self) -> float:
        return max(self.y1 - self.y0, 1.0)

    @property
    def cx(self) -> float:
        return (self.x0 + self.x1) / 2

    @property
    def cy(self) -> float:
        return (self.y0 + self.y1) / 2


def page_items(lines: Sequence[OcrLine], page: int) -> list[Item]:
    """The non-empty lines of one page as items in the page's deskewed frame."""
    theta = math.radians(estimate_skew(lines))
    cos, sin = math.cos(theta), math.sin(theta)
    items = []
    for line in lines:
        text = normalize_text(line.text)
        if not text or not line.box:
            continue
        xs = [x * cos + y * sin for x, y in line.box]
        ys = [-x * sin + y * cos for x, y in line.box]
        items.append(Item(text, float(line.confidence), tuple(line.box), min(xs), min(ys), max(xs), max(ys), page))
    return items


def vertical_overlap(a: Item, b: Item) -> float:
    """Shared height of two items as a fraction of the smaller one."""
    shared = min(a.y1, b.y1) - max(a.y0, b.y0)
    return max(shared, 0.0) / min(a.height, b.height)


def horizontal_overlap(a: Item, b: Item) -> float:
    """Shared width of two items as a fraction of the narrower one."""
    shared = min(a.x1, b.x1) - max(a.x0, b.x0)
    return max(shared, 0.0) / max(min(a.x1 - a.x0, b.x1 - b.x0), 1.0)


def same_row(a: Item, b: Item) -> bool:
    """True when two items sit on one text row."""
    return vertical_overlap(a, b) >= 0.5


def rows(items: Iterable[Item]) -> list[list[Item]]:
    """Items grouped into rows (top → bottom), each row left → right."""
    out: list[list[Item]] = []
    for item in sorted(items, key=lambda i: i.cy):
        row = out[-1] if out else None
        if row is not None and any(same_row(item, other) for other in row):
            row.append(item)
        else:
            out.append([item])
    return [sorted(row, key=lambda i: i.x0) for row in out]


def _lerp(p: tuple[float, float], q: tuple[float, float], t: float) -> list[float]:
    return [round(p[0] + (q[0] - p[0]) * t, 2), round(p[1] + (q[1] - p[1]) * t, 2)]


def sub_box(item: Item, start: int, end: int) -> Box:
    """Approximate box of characters ``[start, end)`` of ``item.text`` (characters taken as equally wide)."""
    n = max(len(item.text), 1)
    t0, t1 = max(0, start) / n, min(n, end) / n
    tl, tr, br, bl = item.quad[:4]
    return [_lerp(tl, tr, t0), _lerp(tl, tr, t1), _lerp(bl, br, t1), _lerp(bl, br, t0)]


def quad_box(item: Item) -> Box:
    """The item's own quad as a JSON box."""
    return [[round(float(x), 2), round(float(y), 2)] for x, y in item.quad[:4]]


def union_box(boxes: Iterable[Box]) -> Box | None:
    """Axis-aligned envelope of several boxes (None for none)."""
    pts = [p for box in boxes for p in box]
    if not pts:
        return None
    x0, y0 = min(p[0] for p in pts), min(p[1] for p in pts)
    x1, y1 = max(p[0] for p in pts), max(p[1] for p in pts)
    return [[x0, y0], [x1, y0], [x1, y1], [x0, y1]]
